#pragma once
// The seams auth/ needs to talk to AWS without depending on net/ (STYLE.md §2): a minimal
// buffered HTTP client interface, a wall clock, and the process environment. net/ adapts its
// UpstreamClient to HttpFetcher (net/aws_fetcher.hpp); tests use fakes.
//
// Thread-safety: HttpFetcher implementations must allow concurrent fetch() calls. FlightGate is
// internally synchronized.

#include "auth/sigv4.hpp"
#include "common/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::auth {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  HeaderList headers;
  std::string body;
  // A link-local metadata endpoint (IMDS, the ECS agent): as in the AWS SDKs, about a second
  // to answer and never through HTTP(S)_PROXY.
  bool metadata = false;
};

struct HttpResponse {
  unsigned status = 0;
  HeaderList headers;
  std::string body;
};

// A buffered HTTP exchange. Non-2xx statuses are responses, not errors; errors are transport
// failures (unreachable, timeout, too large).
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  [[nodiscard]] virtual boost::asio::awaitable<Result<HttpResponse>> fetch(HttpRequest request) = 0;
};

// Wall-clock time source; injected so refresh timing is tested without sleeping.
using Clock = std::function<std::chrono::system_clock::time_point()>;
inline Clock system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

// Environment variable lookup; injected so tests never touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Reads the process environment (getenv); an empty value counts as unset.
EnvLookup process_env();

// Case-insensitive header lookup; nullopt when absent.
std::optional<std::string> find_header(const HeaderList& headers, std::string_view name);

namespace detail {

// Joins concurrent callers of one operation: the first caller to try_lead() runs it, the others
// co_await wait() until the leader calls finish(). No callable crosses a co_await (ARCHITECTURE
// "Compiler pitfalls"). A waiter that registers after finish() returns at once.
class FlightGate {
 public:
  // True if the caller became the leader (no flight was running). Prereq: a leader always
  // calls finish().
  bool try_lead() {
    std::lock_guard lock(mu_);
    if (running_) {
      return false;
    }
    running_ = true;
    ++generation_;
    return true;
  }

  // Waits for the running flight (if any) to finish.
  boost::asio::awaitable<void> wait() {
    auto ex = co_await boost::asio::this_coro::executor;
    auto timer = std::make_shared<boost::asio::steady_timer>(
        ex, boost::asio::steady_timer::time_point::max());
    bool must_wait = false;
    {
      std::lock_guard lock(mu_);
      if (running_) {
        waiters_.push_back(timer);
        must_wait = true;
      }
    }
    if (must_wait) {
      co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  }

  void finish() {
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
    {
      std::lock_guard lock(mu_);
      running_ = false;
      waiters.swap(waiters_);
    }
    for (auto& t : waiters) {
      // On the waiter's own executor; expires_at (not cancel) so that a waiter which has not
      // reached async_wait yet still returns at once.
      boost::asio::post(t->get_executor(),
                        [t] { t->expires_at(boost::asio::steady_timer::time_point::min()); });
    }
  }

  uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }

 private:
  mutable std::mutex mu_;
  bool running_ = false;
  uint64_t generation_ = 0;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace detail
}  // namespace arca::auth
