#pragma once
// A recording net::Exchange for handler tests without sockets: the request is given, the
// response (status, headers, body, streamed or whole) is kept for assertions.

#include "net/http.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <string>

namespace arca::test {

class FakeExchange final : public net::Exchange {
 public:
  explicit FakeExchange(net::Request request) : request_(std::move(request)) {
    if (request_.remote_address.empty()) request_.remote_address = "127.0.0.1";
    if (request_.path.empty()) {
      auto q = request_.target.find('?');
      request_.path = request_.target.substr(0, q);
      if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
    }
  }

  const net::Request& request() const override { return request_; }

  boost::asio::awaitable<void> respond(unsigned status, net::Headers headers,
                                       std::string body) override {
    status_ = status;
    headers_ = std::move(headers);
    if (!request_.is_head()) body_ = std::move(body);
    finished_ = true;
    co_return;
  }
  boost::asio::awaitable<void> respond_shared(
      unsigned status, net::Headers headers, std::shared_ptr<const std::string> body) override {
    co_await respond(status, std::move(headers), *body);
  }
  boost::asio::awaitable<Result<void>> start(unsigned status, net::Headers headers,
                                             std::optional<uint64_t>) override {
    status_ = status;
    headers_ = std::move(headers);
    co_return Result<void>();
  }
  boost::asio::awaitable<Result<void>> write(std::string_view bytes) override {
    if (!request_.is_head()) body_.append(bytes);
    co_return Result<void>();
  }
  boost::asio::awaitable<Result<void>> finish() override {
    finished_ = true;
    co_return Result<void>();
  }
  void abort() override { aborted_ = true; }
  bool started() const override { return status_ != 0; }
  unsigned status() const override { return status_; }

  const std::string& body() const { return body_; }
  bool finished() const { return finished_; }
  bool aborted() const { return aborted_; }
  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers_) {
      if (net::iequals(k, name)) return v;
    }
    return {};
  }

 private:
  net::Request request_;
  unsigned status_ = 0;
  net::Headers headers_;
  std::string body_;
  bool finished_ = false;
  bool aborted_ = false;
};

// Runs `task` on `ioc` until it and everything it started are done; rethrows its exception.
template <class Awaitable>
void run(boost::asio::io_context& ioc, Awaitable task) {
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e) { error = e; });
  ioc.restart();
  ioc.run();
  if (error) std::rethrow_exception(error);
}

}  // namespace arca::test
