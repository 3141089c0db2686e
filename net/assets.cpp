#include "net/assets.hpp"

#include "common/flights.hpp"
#include "common/log.hpp"
#include "net/blocking.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

namespace arca::net {

namespace asio = boost::asio;

std::string json_error(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

unsigned status_for(const Error& error) {
  switch (error.code) {
    case Errc::not_found: return 404;
    case Errc::invalid_argument: return 400;
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::forbidden: return 403;
    case Errc::unauthorized: return 401;
    case Errc::upstream_timeout: return 504;
    case Errc::upstream_error:
    case Errc::upstream_unreachable:
    case Errc::digest_mismatch:
    case Errc::truncated: return 502;
    case Errc::unavailable: return 503;
    default: return 500;
  }
}

struct Fill {
  enum class State { connecting, streaming, done, failed };

  std::mutex mutex;
  State state = State::connecting;
  Error error;
  std::optional<uint64_t> content_length;
  uint64_t received = 0;
  uint64_t flushed = 0;   // bytes [0, flushed) are in the store under blob_id
  std::string tail;       // bytes [flushed, received)
  cache::BlobId blob_id = 0;
  uint32_t chunk_size = 0;
  std::optional<cache::BlobRecord> record;  // once done: where the bytes are for good
  Waiters waiters;  // readers waiting for more bytes or the end; guarded by mutex
};

AssetService::AssetService(asio::io_context& ioc, asio::thread_pool& pool, cache::Store& store,
                           UpstreamClient& client, const config::Config& config, Metrics& metrics)
    : ioc_(ioc), pool_(pool), store_(store), client_(client), config_(config), metrics_(metrics),
      fills_(std::make_unique<FlightTable<Fill>>()),
      hot_(config.cache.memory_cache_bytes / 4) {}

namespace {
// Blobs up to this size are sent in one write and kept in the hot cache.
constexpr uint64_t k_small_blob_bytes = 1024 * 1024;
}  // namespace

AssetService::~AssetService() = default;

asio::awaitable<void> AssetService::discard(std::unique_ptr<cache::BlobWriter> writer) {
  // The writer's destructor deletes its chunks: a blocking store call. The lambda captures a
  // raw pointer because GCC 12 destroys non-trivial captures of a lambda temporary twice when
  // it appears inside a co_await expression.
  cache::BlobWriter* raw = writer.release();
  co_await offload(pool_, [raw] {
    delete raw;
    return 0;
  });
}

asio::awaitable<Result<std::optional<cache::BlobRecord>>> AssetService::find_blob(const Sha256& sha256) {
  co_return store_.find_blob(sha256);
}

asio::awaitable<void> AssetService::serve_blob(Exchange& exchange, cache::BlobRecord record,
                                               Headers headers) {
  headers.emplace_back("ETag", "\"" + to_hex(record.digests.sha256) + "\"");
  if (record.size <= k_small_blob_bytes) {
    const std::string key = std::to_string(record.id);
    std::shared_ptr<const std::string> bytes;
    {
      std::lock_guard lock(hot_mutex_);
      if (auto* hit = hot_.find(key)) bytes = *hit;
    }
    if (!bytes) {
      Result<std::string> all = make_error(Errc::internal, "unread");
      if (record.size <= store_.chunk_size()) {
        all = store_.read_all(record);  // one point read
      } else {
        all = co_await offload(pool_, [this, &record] { return store_.read_all(record); });
      }
      if (!all) {
        ARCA_LOG_ERROR("[R{}] reading stored blob {}: {}", exchange.request().id,
                       to_hex(record.digests.sha256), all.error().message);
        Headers error_headers{{"Content-Type", "application/json"}};
        co_await exchange.respond(500, std::move(error_headers), json_error("stored asset unreadable"));
        co_return;
      }
      bytes = std::make_shared<const std::string>(std::move(*all));
      std::lock_guard lock(hot_mutex_);
      hot_.put(key, bytes, bytes->size() + 128);
    }
    if (!exchange.request().is_head()) metrics_.bytes_served += bytes->size();
    co_await exchange.respond_shared(200, std::move(headers), std::move(bytes));
    co_return;
  }
  auto started = co_await exchange.start(200, std::move(headers), record.size);
  if (!started) co_return;
  if (exchange.request().is_head()) {
    co_await exchange.finish();
    co_return;
  }
  const uint32_t count = record.chunk_count();
  for (uint32_t i = 0; i < count; ++i) {
    // Small blobs are read inline (one point read); larger chunks on the blocking pool.
    Result<std::string> chunk = make_error(Errc::internal, "unread");
    if (record.size <= 256 * 1024) {
      chunk = store_.read_chunk(record.id, i);
    } else {
      chunk = co_await offload(pool_, [this, id = record.id, i] { return store_.read_chunk(id, i); });
    }
    if (!chunk) {
      ARCA_LOG_ERROR("[R{}] reading stored blob {} chunk {}: {}", exchange.request().id,
                     to_hex(record.digests.sha256), i, chunk.error().message);
      exchange.abort();
      co_return;
    }
    auto w = co_await exchange.write(*chunk);
    if (!w) co_return;
    metrics_.bytes_served += chunk->size();
  }
  co_await exchange.finish();
}

std::shared_ptr<Fill> AssetService::join(FillSpec&& spec, bool& started) {
  // A fill leaves the table only after its commit, so when none is in flight a request that
  // missed the index before the commit finds the bytes now instead of fetching them again.
  auto stored = [&spec]() -> std::shared_ptr<Fill> {
    if (!spec.find_stored) return nullptr;
    auto record = spec.find_stored();
    if (!record) return nullptr;
    auto done = std::make_shared<Fill>();
    done->chunk_size = record->chunk_size;
    done->state = Fill::State::done;
    done->content_length = record->size;
    done->received = record->size;
    done->flushed = record->size;
    done->blob_id = record->id;
    done->record = *record;
    return done;
  };
  auto [fill, leader] = fills_->join(spec.key, stored);
  started = leader;
  if (!leader) return fill;
  fill->chunk_size = store_.chunk_size();
  asio::co_spawn(asio::make_strand(ioc_), run_fill(fill, std::move(spec)),
                 [](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       ARCA_LOG_ERROR("fill failed with an exception: {}", ex.what());
                     }
                   }
                 });
  return fill;
}

asio::awaitable<void> AssetService::run_fill(std::shared_ptr<Fill> fill, FillSpec spec) {
  const std::string key = spec.key;
  auto fail = [&](Error error) {
    // Leave the flight map first, so a request arriving after a client saw this failure
    // starts a fresh fill instead of joining the failed one.
    fills_->end(key, fill);
    ++metrics_.asset_fills_failed;
    if (error.code == Errc::digest_mismatch) ++metrics_.digest_mismatches;
    ARCA_LOG_WARN("fill of {} failed: {}", log::redact_url(spec.request.url), error.message);
    std::lock_guard lock(fill->mutex);
    fill->state = Fill::State::failed;
    fill->error = std::move(error);
    fill->waiters.wake_all();
  };
  if (!spec.sha512 && !spec.sha1 && !spec.sha256 && !spec.allow_unverified) {
    fail(make_error(Errc::upstream_error, "the upstream declares no digest for this asset"));
    fills_->end(key, fill);
    co_return;
  }
  ++metrics_.upstream_requests;
  auto response = co_await client_.send(spec.request, config_.upstream.max_asset_bytes);
  if (!response) {
    ++metrics_.upstream_errors;
    fail(response.error());
    fills_->end(key, fill);
    co_return;
  }
  auto& resp = **response;
  const unsigned status = resp.head().status;
  if (status != 200) {
    ++metrics_.upstream_errors;
    fail(status == 404 || status == 410
             ? make_error(Errc::not_found, "not found upstream")
             : make_error(Errc::upstream_error, "upstream answered " + std::to_string(status)));
    fills_->end(key, fill);
    co_return;
  }
  auto writer_result = co_await offload(pool_, [this] { return store_.begin_blob(); });
  if (!writer_result) {
    fail(writer_result.error());
    fills_->end(key, fill);
    co_return;
  }
  std::unique_ptr<cache::BlobWriter> writer = std::move(*writer_result);
  {
    std::lock_guard lock(fill->mutex);
    fill->content_length = resp.head().content_length;
    fill->blob_id = writer->id();
    fill->state = Fill::State::streaming;
    fill->waiters.wake_all();
  }
  std::vector<char> buffer(64 * 1024);
  const uint32_t chunk_size = fill->chunk_size;
  for (;;) {
    auto n = co_await resp.read(std::span(buffer.data(), buffer.size()));
    if (!n) {
      ++metrics_.upstream_errors;
      fail(n.error());
      break;
    }
    if (*n == 0) break;
    metrics_.bytes_fetched += *n;
    std::string chunk;
    {
      std::lock_guard lock(fill->mutex);
      fill->tail.append(buffer.data(), *n);
      fill->received += *n;
      if (fill->tail.size() >= chunk_size) chunk = fill->tail.substr(0, chunk_size);
      fill->waiters.wake_all();
    }
    if (!chunk.empty()) {
      auto appended = co_await offload(pool_, [w = writer.get(), &chunk] { return w->append(chunk); });
      if (!appended) {
        fail(appended.error());
        break;
      }
      std::lock_guard lock(fill->mutex);
      fill->tail.erase(0, chunk_size);
      fill->flushed += chunk_size;
    }
  }
  bool failed;
  {
    std::lock_guard lock(fill->mutex);
    failed = fill->state == Fill::State::failed;
  }
  if (failed) {
    co_await discard(std::move(writer));
    fills_->end(key, fill);
    co_return;
  }
  std::string rest;
  {
    std::lock_guard lock(fill->mutex);
    rest = fill->tail;
  }
  auto finished = co_await offload(pool_, [w = writer.get(), &rest]() -> Result<cache::BlobRecord> {
    ARCA_TRY_VOID(w->append(rest));
    return w->finish();
  });
  if (!finished) {
    fail(finished.error());
    co_await discard(std::move(writer));
    fills_->end(key, fill);
    co_return;
  }
  const cache::BlobRecord& record = *finished;
  std::string mismatch;
  if (spec.sha512 && *spec.sha512 != record.digests.sha512) mismatch = "sha512";
  else if (spec.sha1 && *spec.sha1 != record.digests.sha1) mismatch = "sha1";
  else if (spec.sha256 && *spec.sha256 != record.digests.sha256) mismatch = "sha256";
  if (!mismatch.empty()) {
    fail(make_error(Errc::digest_mismatch,
                    "the upstream's bytes do not match the declared " + mismatch + " digest"));
    co_await discard(std::move(writer));
    fills_->end(key, fill);
    co_return;
  }
  auto committed = co_await offload(pool_, [this, w = writer.get(), &spec, &record]()
                                               -> Result<std::optional<cache::BlobRecord>> {
    cache::Batch batch;
    batch.add_blob(*w);
    if (spec.on_commit) spec.on_commit(batch, record);
    ARCA_TRY_VOID(store_.commit(std::move(batch)));
    return store_.find_blob(record.digests.sha256);
  });
  if (!committed || !*committed) {
    fail(committed ? make_error(Errc::io_error, "committed blob not found")
                   : committed.error());
    fills_->end(key, fill);
    co_return;
  }
  ++metrics_.asset_fills_ok;
  {
    std::lock_guard lock(fill->mutex);
    fill->record = **committed;
    fill->state = Fill::State::done;
    fill->waiters.wake_all();
  }
  fills_->end(key, fill);
  writer.reset();  // committed: nothing to discard
}

asio::awaitable<void> AssetService::fetch_and_serve(Exchange& exchange, FillSpec spec,
                                                    Headers headers) {
  bool started_fill = false;
  auto fill = join(std::move(spec), started_fill);
  if (started_fill) ++metrics_.asset_misses;
  else ++metrics_.asset_coalesced;

  auto executor = co_await asio::this_coro::executor;
  uint64_t offset = 0;
  bool started = false;
  for (;;) {
    std::shared_ptr<asio::steady_timer> waiter;
    std::string data;
    std::optional<std::pair<cache::BlobId, uint32_t>> chunk_to_read;
    uint64_t take_from_chunk = 0;
    bool done = false;
    {
      std::unique_lock lock(fill->mutex);
      if (fill->state == Fill::State::failed) {
        Error error = fill->error;
        lock.unlock();
        if (!started) {
          Headers error_headers{{"Content-Type", "application/json"}};
          co_await exchange.respond(status_for(error), std::move(error_headers),
                                    json_error(error.message));
        } else {
          exchange.abort();
        }
        co_return;
      }
      if (fill->state != Fill::State::connecting && !started) {
        auto length = fill->content_length;
        lock.unlock();
        auto s = co_await exchange.start(200, headers, length);
        if (!s) co_return;
        started = true;
        if (exchange.request().is_head()) {
          co_await exchange.finish();
          co_return;
        }
        continue;
      }
      if (fill->state != Fill::State::connecting) {
        const bool complete = fill->state == Fill::State::done;
        // Hold back the last byte until the digest is verified.
        const uint64_t releasable = complete ? fill->received
                                             : (fill->received > 0 ? fill->received - 1 : 0);
        if (offset < releasable) {
          if (offset < fill->flushed) {
            const cache::BlobId id = complete ? fill->record->id : fill->blob_id;
            const uint32_t index = static_cast<uint32_t>(offset / fill->chunk_size);
            chunk_to_read = std::make_pair(id, index);
            take_from_chunk = std::min<uint64_t>(releasable, uint64_t(index + 1) * fill->chunk_size);
          } else {
            data = fill->tail.substr(offset - fill->flushed, releasable - offset);
          }
        } else if (complete) {
          done = true;
        }
      }
      if (data.empty() && !chunk_to_read && !done) {
        waiter = fill->waiters.add(executor);
      }
    }
    if (done) {
      co_await exchange.finish();
      co_return;
    }
    if (waiter) {
      co_await Waiters::wait(std::move(waiter));
      continue;
    }
    if (chunk_to_read) {
      auto [id, index] = *chunk_to_read;
      auto chunk = co_await offload(pool_, [this, id = id, index = index] {
        return store_.read_chunk(id, index);
      });
      if (!chunk) {
        // The fill's chunks may have been replaced by an identical stored blob at commit:
        // look again (the next pass reads from the committed record).
        std::shared_ptr<asio::steady_timer> retry;
        {
          std::lock_guard lock(fill->mutex);
          if (fill->state == Fill::State::done && fill->record->id != id) continue;
          if (fill->state == Fill::State::failed) continue;
          if (fill->state == Fill::State::streaming) {
            // The commit is replacing the fill's chunks with an identical stored blob.
            retry = fill->waiters.add(executor);
          }
        }
        if (retry) {
          co_await Waiters::wait(std::move(retry));
          continue;
        }
        ARCA_LOG_ERROR("[R{}] reading fill chunk: {}", exchange.request().id, chunk.error().message);
        exchange.abort();
        co_return;
      }
      const uint64_t chunk_start = uint64_t(index) * fill->chunk_size;
      const uint64_t from = offset - chunk_start;
      const uint64_t to = std::min<uint64_t>(take_from_chunk - chunk_start, chunk->size());
      if (to <= from) {
        exchange.abort();
        co_return;
      }
      data = chunk->substr(from, to - from);
    }
    auto w = co_await exchange.write(data);
    if (!w) co_return;
    offset += data.size();
    metrics_.bytes_served += data.size();
  }
}

}  // namespace arca::net
