#pragma once
// The one single-flight mechanism: concurrent coroutines that need the same thing join one
// flight; its leader does the work, the others wait and are woken. Every kind of flight in arca
// is built from these parts:
//
//   Waiters       coroutines waiting for a change another coroutine makes
//   FlightTable   at most one flight per key (the flight's own state is the caller's type)
//   Flights<T>    a keyed flight whose (copyable) result every waiter receives: upstream
//                 documents, merged views, Maven checksums, NuGet registrations
//   FlightGate    one unkeyed flight, numbered: token refreshes, credential lookups,
//                 CodeArtifact endpoint lookups
//
// Asset fills (net/assets.cpp) keep a FlightTable of fills whose state grows as bytes arrive,
// and wake their readers with Waiters.
//
// Usage (Flights):
//   auto [flight, leader] = flights.join(key);
//   if (!leader) co_return co_await flights.wait(flight);
//   T value = co_await compute();
//   flights.complete(key, flight, value);
//
// No std::function or lambda is passed through a co_await (GCC 12 destroys non-trivial lambda
// captures of temporaries in co_await expressions twice: ARCHITECTURE "Compiler pitfalls").
// Include only from .cpp files (Asio).
//
// Thread-safety: safe from coroutines on any executor. A waiter is woken on its own executor
// (a strand in arca), so waking never races its wait.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace arca {

class Waiters {
 public:
  using Timer = boost::asio::steady_timer;

  // Registers a waiter on `executor`; await the returned timer with wait() after unlocking.
  // Prereq: the mutex guarding the awaited state is held.
  std::shared_ptr<Timer> add(const boost::asio::any_io_executor& executor) {
    auto timer = std::make_shared<Timer>(executor, Timer::time_point::max());
    timers_.push_back(timer);
    return timer;
  }

  // Wakes every registered waiter. The timer is expired rather than cancelled, so a waiter
  // woken before it reached wait() returns at once. Prereq: the same mutex is held.
  void wake_all() {
    for (auto& timer : timers_) {
      boost::asio::post(timer->get_executor(),
                        [t = timer] { t->expires_at(Timer::time_point::min()); });
    }
    timers_.clear();
  }

  static boost::asio::awaitable<void> wait(std::shared_ptr<Timer> timer) {
    co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  std::vector<std::shared_ptr<Timer>> timers_;
};

template <class Flight>
class FlightTable {
 public:
  using Ptr = std::shared_ptr<Flight>;

  // The flight for `key` and whether the caller leads it (a new one: the caller must end() it).
  std::pair<Ptr, bool> join(const std::string& key) {
    return join(key, [] { return Ptr(); });
  }
  // As join(), but when no flight runs, `finished()` (called under the table's lock) may return
  // a flight that is already over instead (the thing is there now); the caller then does not
  // lead. Null from it starts a flight.
  template <class Finished>
  std::pair<Ptr, bool> join(const std::string& key, Finished&& finished) {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end()) return {it->second, false};
    if (Ptr done = finished()) return {std::move(done), false};
    auto flight = std::make_shared<Flight>();
    flights_.emplace(key, flight);
    return {std::move(flight), true};
  }

  // Ends `flight`: later join()s start a new one.
  void end(const std::string& key, const Ptr& flight) {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, Ptr> flights_;
};

template <class T>
class Flights {
 public:
  struct Flight {
    std::mutex mutex;
    std::optional<T> value;
    Waiters waiters;
  };
  using FlightPtr = std::shared_ptr<Flight>;

  // Returns the flight for key and whether the caller leads it (must then call complete()).
  std::pair<FlightPtr, bool> join(const std::string& key) { return table_.join(key); }

  // Publishes the leader's result to every waiter and ends the flight.
  void complete(const std::string& key, const FlightPtr& flight, const T& value) {
    table_.end(key, flight);
    std::lock_guard lock(flight->mutex);
    flight->value = value;
    flight->waiters.wake_all();
  }

  // Waits for the leader's result.
  static boost::asio::awaitable<T> wait(FlightPtr flight) {
    auto executor = co_await boost::asio::this_coro::executor;
    for (;;) {
      std::shared_ptr<Waiters::Timer> timer;
      {
        std::lock_guard lock(flight->mutex);
        if (flight->value) co_return *flight->value;
        timer = flight->waiters.add(executor);
      }
      co_await Waiters::wait(std::move(timer));
    }
  }

 private:
  FlightTable<Flight> table_;
};

// One unkeyed flight at a time: the first caller to try_lead() runs it, the others wait() until
// the leader calls finish(). Each flight has a number (generation()), so a waiter can tell
// whether a flight ran while it waited. A waiter that comes after finish() returns at once.
class FlightGate {
 public:
  // True if the caller became the leader (no flight was running). Prereq: a leader always
  // calls finish().
  bool try_lead() {
    std::lock_guard lock(mutex_);
    if (running_) return false;
    running_ = true;
    ++generation_;
    return true;
  }

  // Waits for the running flight (if any) to finish.
  boost::asio::awaitable<void> wait() {
    auto executor = co_await boost::asio::this_coro::executor;
    std::shared_ptr<Waiters::Timer> timer;
    {
      std::lock_guard lock(mutex_);
      if (running_) timer = waiters_.add(executor);
    }
    if (timer) co_await Waiters::wait(std::move(timer));
  }

  void finish() {
    std::lock_guard lock(mutex_);
    running_ = false;
    waiters_.wake_all();
  }

  uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }

 private:
  mutable std::mutex mutex_;
  bool running_ = false;
  uint64_t generation_ = 0;
  Waiters waiters_;
};

}  // namespace arca
