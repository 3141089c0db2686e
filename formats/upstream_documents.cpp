#include "formats/upstream_documents.hpp"

#include "common/compress.hpp"
#include "common/log.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "common/flights.hpp"
#include "net/http_util.hpp"
#include "net/lru.hpp"

#include <algorithm>
#include <mutex>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;

namespace {
// How long a stale copy served after an upstream failure stays in memory (at most the TTL).
constexpr int64_t k_failure_backoff_ms = 5'000;
}  // namespace

struct UpstreamDocuments::Impl {
  Context& ctx;
  DocumentTraits traits;
  std::mutex mutex;  // guards docs
  LruMap<UpstreamDocument> docs;
  Flights<Result<UpstreamDocument>> flights;

  Impl(Context& c, DocumentTraits t, uint64_t budget)
      : ctx(c), traits(std::move(t)), docs(budget) {}

  // A stored entry as a document; an empty body records "not found".
  Result<UpstreamDocument> materialize(const cache::MetaEntry& e, int64_t fresh_until) const {
    UpstreamDocument d;
    d.found = !e.body.empty();
    d.fresh_until_ms = fresh_until;
    if (!d.found) return d;
    if (traits.parse_stored) {
      auto parsed = traits.parse_stored(e.body);
      if (!parsed) return parsed.error();
      d.parsed = std::move(*parsed);
    } else {
      d.body = e.body;
    }
    return d;
  }

  void remember(const std::string& key, const UpstreamDocument& d, size_t stored_bytes) {
    if (!traits.memory) return;
    std::lock_guard lock(mutex);
    docs.put(key, d, stored_bytes * traits.memory_cost_factor + key.size() + 256);
  }

  asio::awaitable<Result<UpstreamDocument>> get(const config::ExternalConnectionConfig* ec,
                                                DocumentRequest request) {
    const std::string key = ec->name + '\x1f' + request.key;
    if (traits.memory) {
      std::lock_guard lock(mutex);
      if (auto* d = docs.find(key); d && d->fresh_until_ms > now_unix_ms()) {
        ++ctx.metrics.metadata_hits;
        co_return *d;
      }
    }
    auto [flight, leader] = flights.join(key);
    if (!leader) co_return co_await flights.wait(flight);
    Result<UpstreamDocument> result = co_await fetch(ec, request, key);
    flights.complete(key, flight, result);
    co_return result;
  }

  Result<UpstreamDocument> serve_stale(const config::ExternalConnectionConfig* ec,
                                       const DocumentRequest& request, const std::string& key,
                                       const std::optional<cache::MetaEntry>& entry, int64_t now,
                                       int64_t ttl_ms, const Error& why) {
    ++ctx.metrics.upstream_errors;
    if (entry) {
      auto d = materialize(
          *entry, now + std::min<int64_t>(k_failure_backoff_ms, std::max<int64_t>(ttl_ms, 1000)));
      if (d) {
        ++ctx.metrics.metadata_stale_served;
        ARCA_LOG_WARN("{}: serving the cached {} ({})", ec->name, request.what, why.message);
        remember(key, *d, entry->body.size());
        return d;
      }
    }
    ARCA_LOG_WARN("{}: {} unavailable: {}", ec->name, request.what, why.message);
    return why;
  }

  asio::awaitable<Result<UpstreamDocument>> fetch(const config::ExternalConnectionConfig* ec,
                                                  DocumentRequest request, std::string key) {
    const int64_t ttl_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(ec->metadata_ttl).count();
    const std::string meta_key = traits.meta_prefix + '\x1f' + key;
    auto cached =
        co_await offload(ctx.pool, [this, &meta_key] { return ctx.store.get_meta(meta_key); });
    std::optional<cache::MetaEntry> entry;
    if (cached && *cached) entry = std::move(**cached);
    const int64_t now = now_unix_ms();
    if (entry && entry->fetched_unix_ms + ttl_ms > now) {
      // Parsing a stored document (a 10 MB packument) runs on the blocking pool.
      auto d = co_await offload(ctx.pool, [this, &entry, ttl_ms] {
        return materialize(*entry, entry->fetched_unix_ms + ttl_ms);
      });
      if (d) {
        ++ctx.metrics.metadata_hits;
        remember(key, *d, entry->body.size());
        co_return d;
      }
    }
    UpstreamRequest req;
    Result<BufferedResponse> response = make_error(Errc::internal, "");
    bool have_url = true;
    if (traits.format.empty()) {
      req.url = request.url;
    } else {
      auto base = co_await upstream_base_url(ctx.codeartifact, *ec, traits.format);
      if (base) {
        req.url = *base + request.url;
      } else {
        response = base.error();
        have_url = false;
      }
    }
    if (!traits.accept.empty()) req.headers.emplace_back("Accept", traits.accept);
    if (traits.gzip) req.headers.emplace_back("Accept-Encoding", "gzip");
    if (entry && !entry->body.empty()) {
      if (!entry->etag.empty() && entry->etag != "-")
        req.headers.emplace_back("If-None-Match", entry->etag);
      if (!entry->last_modified.empty())
        req.headers.emplace_back("If-Modified-Since", entry->last_modified);
    }
    const std::string request_url = req.url;
    if (have_url) {
      ++ctx.metrics.upstream_requests;
      response = co_await ctx.client.fetch(std::move(req), traits.max_bytes);
    }
    if (!response) {
      Error e = response.error();
      if (e.code == Errc::too_large && !traits.too_large_message.empty()) {
        e.message = traits.too_large_message;
      }
      co_return co_await offload(
          ctx.pool, [&] { return serve_stale(ec, request, key, entry, now, ttl_ms, e); });
    }
    const unsigned status = response->head.status;
    if (status == 304 && entry) {
      ++ctx.metrics.metadata_revalidated;
      entry->fetched_unix_ms = now;
      co_await offload(ctx.pool,
                       [this, &meta_key, &entry] { return ctx.store.put_meta(meta_key, *entry); });
      auto d = co_await offload(ctx.pool, [this, &entry, now, ttl_ms] {
        return materialize(*entry, now + ttl_ms);
      });
      if (d) remember(key, *d, entry->body.size());
      co_return d;
    }
    if (status == 404 || status == 410) {
      if (traits.persist_absent) {
        cache::MetaEntry missing;
        missing.etag = "-";
        missing.fetched_unix_ms = now;
        co_await offload(ctx.pool, [this, &meta_key, &missing] {
          return ctx.store.put_meta(meta_key, missing);
        });
      }
      UpstreamDocument d;
      d.fresh_until_ms = now + ttl_ms;
      remember(key, d, 0);
      co_return d;
    }
    if (status != 200) {
      Error e = make_error(Errc::upstream_error, "upstream answered " + std::to_string(status));
      co_return co_await offload(
          ctx.pool, [&] { return serve_stale(ec, request, key, entry, now, ttl_ms, e); });
    }
    std::string body = std::move(response->body);
    // Inflating and parsing a large document (a 10 MB packument) runs on the blocking pool, so
    // the I/O threads keep serving everything else meanwhile.
    const ResponseHead* head = &response->head;
    auto parsed = co_await offload(
        ctx.pool, [this, &body, head, &request_url, &request]() -> Result<std::shared_ptr<const void>> {
          if (traits.gzip && iequals(head->header("content-encoding"), "gzip")) {
            auto inflated = gzip_decompress(body, traits.max_bytes);
            if (!inflated) return make_error(Errc::upstream_error, "bad gzip from upstream");
            body = std::move(*inflated);
          }
          if (!traits.parse_response) return std::shared_ptr<const void>();
          return traits.parse_response(body, *head, request_url, request.key);
        });
    if (!parsed) {
      const Error e = parsed.error();
      co_return co_await offload(
          ctx.pool, [&] { return serve_stale(ec, request, key, entry, now, ttl_ms, e); });
    }
    ++ctx.metrics.metadata_fetches;
    cache::MetaEntry fresh;
    fresh.body = std::move(body);
    fresh.etag = std::string(response->head.header("etag"));
    fresh.last_modified = std::string(response->head.header("last-modified"));
    fresh.fetched_unix_ms = now;
    co_await offload(ctx.pool,
                     [this, &meta_key, &fresh] { return ctx.store.put_meta(meta_key, fresh); });
    UpstreamDocument d;
    d.found = !fresh.body.empty();
    d.fresh_until_ms = now + ttl_ms;
    d.parsed = std::move(*parsed);
    if (!traits.parse_stored) d.body = fresh.body;
    remember(key, d, fresh.body.size());
    co_return d;
  }
};

UpstreamDocuments::UpstreamDocuments(Context& context, DocumentTraits traits,
                                     uint64_t memory_budget_bytes)
    : impl_(std::make_unique<Impl>(context, std::move(traits), memory_budget_bytes)) {}

UpstreamDocuments::~UpstreamDocuments() = default;

asio::awaitable<Result<UpstreamDocument>> UpstreamDocuments::get(
    const config::ExternalConnectionConfig* connection, DocumentRequest request) {
  return impl_->get(connection, std::move(request));
}

}  // namespace arca::formats
