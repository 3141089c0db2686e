#pragma once
// Single flight for coroutines: concurrent callers with the same key share one computation
// and all receive its (copyable) result. Include only from .cpp files.
//
//   auto [flight, leader] = flights.join(key);
//   if (!leader) co_return co_await flights.wait(flight);
//   T value = co_await compute();
//   flights.complete(key, flight, value);
//
// (No std::function or lambda is passed through a co_await: GCC 12 destroys non-trivial lambda
// captures of temporaries in co_await expressions twice.)
//
// Thread-safety: safe from coroutines on any executor.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace arca::net {

template <class T>
class Flights {
 public:
  struct Flight {
    std::mutex mutex;
    std::optional<T> value;
    std::vector<std::pair<std::shared_ptr<boost::asio::steady_timer>, boost::asio::any_io_executor>>
        waiters;
  };
  using FlightPtr = std::shared_ptr<Flight>;

  // Returns the flight for key and whether the caller leads it (must then call complete()).
  std::pair<FlightPtr, bool> join(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& slot = flights_[key];
    if (slot) return {slot, false};
    slot = std::make_shared<Flight>();
    return {slot, true};
  }

  // Publishes the leader's result to every waiter and ends the flight.
  void complete(const std::string& key, const FlightPtr& flight, const T& value) {
    {
      std::lock_guard lock(mutex_);
      auto it = flights_.find(key);
      if (it != flights_.end() && it->second == flight) flights_.erase(it);
    }
    std::lock_guard lock(flight->mutex);
    flight->value = value;
    for (auto& [timer, ex] : flight->waiters) {
      boost::asio::post(ex, [t = timer] { t->cancel(); });
    }
    flight->waiters.clear();
  }

  // Waits for the leader's result.
  static boost::asio::awaitable<T> wait(FlightPtr flight) {
    auto executor = co_await boost::asio::this_coro::executor;
    for (;;) {
      std::shared_ptr<boost::asio::steady_timer> timer;
      {
        std::lock_guard lock(flight->mutex);
        if (flight->value) co_return *flight->value;
        timer = std::make_shared<boost::asio::steady_timer>(
            executor, boost::asio::steady_timer::time_point::max());
        flight->waiters.emplace_back(timer, executor);
      }
      co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, FlightPtr> flights_;
};

}  // namespace arca::net
