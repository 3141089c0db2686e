#pragma once
// Stand-ins for the AWS endpoints the credential providers and the token manager call: a fake
// HttpFetcher routing requests to a handler, a map-backed environment, a settable clock, and a
// helper that runs one coroutine to completion.

#include "auth/http_fetcher.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace arca::test {

class FakeFetcher final : public auth::HttpFetcher {
 public:
  using Handler = std::function<Result<auth::HttpResponse>(const auth::HttpRequest&)>;
  Handler handler;
  std::vector<auth::HttpRequest> requests;
  int yields = 0;  // times to yield to the executor before answering (lets callers pile up)

  boost::asio::awaitable<Result<auth::HttpResponse>> fetch(auth::HttpRequest request) override {
    {
      std::lock_guard lock(mu);
      requests.push_back(request);
    }
    for (int i = 0; i < yields; ++i) {
      auto ex = co_await boost::asio::this_coro::executor;
      co_await boost::asio::post(ex, boost::asio::use_awaitable);
    }
    if (!handler) {
      co_return make_error(Errc::upstream_unreachable, "no stand-in");
    }
    std::lock_guard lock(mu);
    co_return handler(request);
  }
  std::mutex mu;  // fetch() may run on several threads
};

inline auth::HttpResponse respond(unsigned status, std::string body) {
  auth::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

struct FakeEnv {
  std::map<std::string, std::string, std::less<>> vars;
  auth::EnvLookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end() || it->second.empty()) {
        return std::nullopt;
      }
      return it->second;
    };
  }
};

struct FakeClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(1'800'000'000);
  auth::Clock clock() const {
    return [this] { return now; };
  }
};

inline std::string url_path(const std::string& url) {
  return std::string(boost::urls::parse_uri(url)->encoded_path());
}
inline std::string url_query(const std::string& url) {
  return std::string(boost::urls::parse_uri(url)->encoded_query());
}

template <class T>
T run_sync(boost::asio::awaitable<T> aw) {
  boost::asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) {
      out.emplace(std::move(v));
    }
  });
  ioc.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*out);
}

}  // namespace arca::test
