#pragma once
// Serving asset bytes: from the store, or from an upstream through a single-flight fill.
//
// A fill streams upstream bytes into a BlobWriter while every waiting client (the first one
// included) reads them: chunks already written come from the store, the rest from the fill's
// in-memory tail (< one chunk). Until the digest is verified the last byte is held back, so a
// mismatch or truncation cuts every client's connection before its response is complete;
// nothing is committed, and the next request tries the upstream again.
//
// Thread-safety: AssetService is safe to use from any coroutine; fills synchronise with a
// mutex and wake waiters on their own executors.

#include "cache/store.hpp"
#include "common/digest.hpp"
#include "config/config.hpp"
#include "net/http.hpp"
#include "net/lru.hpp"
#include "net/metrics.hpp"
#include "net/upstream_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace arca {
template <class Flight>
class FlightTable;
}  // namespace arca

namespace arca::net {

struct FillSpec {
  // Single-flight key: concurrent requests with the same key share one upstream fetch.
  std::string key;
  UpstreamRequest request;
  // Declared digests; at least one must be set, or the fill is refused (502), unless
  // allow_unverified is set.
  std::optional<Sha512> sha512;
  std::optional<Sha1> sha1;
  std::optional<Sha256> sha256;
  // Accepts the bytes as fetched when no digest is declared (Maven upstreams that publish no
  // checksum files, such as Debian's /usr/share/maven-repo). They are still stored by content.
  bool allow_unverified = false;
  // Optional: looks the asset up in the index (a point read). Called under the fill map's lock
  // when no fill is in flight, to close the window between another fill's commit and its
  // leaving the map.
  std::function<std::optional<cache::BlobRecord>()> find_stored;
  // Adds index entries to the commit batch once the bytes are verified.
  std::function<void(cache::Batch&, const cache::BlobRecord&)> on_commit;
};

struct Fill;

class AssetService {
 public:
  AssetService(boost::asio::io_context& ioc, boost::asio::thread_pool& pool, cache::Store& store,
               UpstreamClient& client, const config::Config& config, Metrics& metrics);
  ~AssetService();

  // Sends a stored blob with status 200 and `headers` (Content-Length and ETag added).
  boost::asio::awaitable<void> serve_blob(Exchange& exchange, cache::BlobRecord record,
                                          Headers headers);
  // Joins the fill for spec.key (starting it if none is running) and streams it.
  boost::asio::awaitable<void> fetch_and_serve(Exchange& exchange, FillSpec spec, Headers headers);

  // Blocking store lookups, run on the pool.
  boost::asio::awaitable<Result<std::optional<cache::BlobRecord>>> find_blob(const Sha256& sha256);

  boost::asio::thread_pool& pool() { return pool_; }

 private:
  std::shared_ptr<Fill> join(FillSpec&& spec, bool& started);
  boost::asio::awaitable<void> run_fill(std::shared_ptr<Fill> fill, FillSpec spec);
  boost::asio::awaitable<void> discard(std::unique_ptr<cache::BlobWriter> writer);

  boost::asio::io_context& ioc_;
  boost::asio::thread_pool& pool_;
  cache::Store& store_;
  UpstreamClient& client_;
  const config::Config& config_;
  Metrics& metrics_;
  std::unique_ptr<FlightTable<Fill>> fills_;  // one fill in flight per key (common/flights.hpp)
  // Recently served small blobs by blob id, so warm hits cost no store read and one write.
  std::mutex hot_mutex_;
  LruMap<std::shared_ptr<const std::string>> hot_;
};

// The npm-style JSON error body used by non-protocol-specific errors.
std::string json_error(std::string_view message);
// HTTP status for an error (not_found 404, timeouts 504, upstream failures 502, ...).
unsigned status_for(const Error& error);

}  // namespace arca::net
