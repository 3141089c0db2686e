// The one single-flight mechanism (common/flights.hpp): many coroutines on two threads, each on
// its own strand as arca's connections are, join flights; each flight's work runs once and
// every waiter is woken with its result.

#include "common/flights.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

namespace {

namespace asio = boost::asio;

struct Counters {
  std::atomic<int> computed{0};
  std::atomic<int> finished{0};
  std::atomic<int> wrong{0};
};

asio::awaitable<void> ask(arca::Flights<int>& flights, asio::steady_timer::duration work,
                          std::string key, int expected, Counters& c) {
  auto [flight, leader] = flights.join(key);
  int value = 0;
  if (leader) {
    ++c.computed;
    asio::steady_timer timer(co_await asio::this_coro::executor, work);
    co_await timer.async_wait(asio::use_awaitable);
    value = expected;
    flights.complete(key, flight, value);
  } else {
    value = co_await arca::Flights<int>::wait(flight);
  }
  if (value != expected) ++c.wrong;
  ++c.finished;
}

asio::awaitable<void> pass_gate(arca::FlightGate& gate, Counters& c) {
  const uint64_t seen = gate.generation();
  if (gate.try_lead()) {
    ++c.computed;
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
    gate.finish();
  } else {
    co_await gate.wait();
    if (gate.generation() == seen && seen == 0) ++c.wrong;  // woken before any flight ran
  }
  ++c.finished;
}

void run_on_two_threads(asio::io_context& ioc) {
  std::thread other([&] { ioc.run(); });
  ioc.run();
  other.join();
}

}  // namespace

TEST_SUITE("common::flights") {
  TEST_CASE("Flights: one computation per key; every waiter gets its result") {
    asio::io_context ioc;
    arca::Flights<int> flights;
    Counters c;
    for (int i = 0; i < 200; ++i) {
      const int k = i % 4;
      asio::co_spawn(asio::make_strand(ioc),
                     ask(flights, std::chrono::milliseconds(30), "key" + std::to_string(k), k, c),
                     asio::detached);
    }
    run_on_two_threads(ioc);
    CHECK(c.finished == 200);
    CHECK(c.wrong == 0);
    CHECK(c.computed == 4);
    // The flights ended: the next caller leads a new one.
    auto [flight, leader] = flights.join("key1");
    CHECK(leader);
    flights.complete("key1", flight, 1);
  }

  TEST_CASE("FlightGate: one leader at a time; waiters return when it finishes") {
    asio::io_context ioc;
    arca::FlightGate gate;
    Counters c;
    for (int i = 0; i < 50; ++i) asio::co_spawn(asio::make_strand(ioc), pass_gate(gate, c), asio::detached);
    run_on_two_threads(ioc);
    CHECK(c.finished == 50);
    CHECK(c.wrong == 0);
    CHECK(c.computed >= 1);
    CHECK(c.computed < 50);
    CHECK(gate.generation() == static_cast<uint64_t>(c.computed.load()));
  }

  TEST_CASE("FlightTable: a finished flight offered instead of starting one") {
    struct State { int n = 0; };
    arca::FlightTable<State> table;
    auto done = std::make_shared<State>();
    done->n = 7;
    auto [a, lead_a] = table.join("x", [&] { return done; });
    CHECK_FALSE(lead_a);
    CHECK(a->n == 7);
    auto [b, lead_b] = table.join("x");
    CHECK(lead_b);
    auto [c, lead_c] = table.join("x", [&] { return done; });  // b runs: joined, not replaced
    CHECK_FALSE(lead_c);
    CHECK(c == b);
    table.end("x", b);
    CHECK(table.join("x").second);
  }
}
