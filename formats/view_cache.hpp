#pragma once
// Merged views (per domain, repository and package) kept while they are valid: built for the
// current Context::generation and not past their fresh_until_ms; one build per key at a time.
// View must have `uint64_t generation` and `int64_t fresh_until_ms`. Include only from .cpp
// files (it includes common/flights.hpp).
//
//   if (auto v = views.find(key, generation)) co_return *v;
//   auto [flight, leader] = views.join(key);
//   if (!leader) co_return co_await views.wait(flight);
//   Result<Ptr> result = co_await build(...);   // calls views.put(key, view, cost) when cacheable
//   views.complete(key, flight, result);
//
// Thread-safety: safe from coroutines on any executor.

#include "common/error.hpp"
#include "common/flights.hpp"
#include "net/lru.hpp"
#include "repo/records.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace arca::formats {

using repo::now_unix_ms;

template <class View>
class ViewCache {
 public:
  using Ptr = std::shared_ptr<View>;
  using Flight = typename Flights<Result<Ptr>>::FlightPtr;

  explicit ViewCache(uint64_t budget_bytes) : views_(budget_bytes) {}

  // The cached view of `key` when built for `generation` and still fresh.
  std::optional<Ptr> find(const std::string& key, uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (auto* v = views_.find(key);
        v && (*v)->generation == generation && (*v)->fresh_until_ms > now_unix_ms()) {
      return *v;
    }
    return std::nullopt;
  }

  void put(const std::string& key, Ptr view, uint64_t cost) {
    std::lock_guard lock(mutex_);
    views_.put(key, std::move(view), cost);
  }

  std::pair<Flight, bool> join(const std::string& key) { return flights_.join(key); }
  static boost::asio::awaitable<Result<Ptr>> wait(Flight flight) {
    return Flights<Result<Ptr>>::wait(std::move(flight));
  }
  void complete(const std::string& key, const Flight& flight, const Result<Ptr>& result) {
    flights_.complete(key, flight, result);
  }

 private:
  std::mutex mutex_;
  net::LruMap<Ptr> views_;
  Flights<Result<Ptr>> flights_;
};

}  // namespace arca::formats
