#pragma once
// In-process loopback servers for the UpstreamClient tests: an HTTP(S) origin whose answers
// are raw bytes chosen per request, and an HTTP proxy that tunnels CONNECT and answers
// absolute-form requests itself. Each runs its own io_context on its own thread, bound to
// 127.0.0.1 on a port the OS picks.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace arca::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

inline constexpr auto test_tuple = asio::as_tuple(asio::use_awaitable);

// Runs `handler` on a fresh io_context-owned thread until destruction.
class ServerThread {
 public:
  ServerThread() : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  ~ServerThread() { stop(); }

  void stop() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }

 protected:
  // Accepts connections and runs on_connection for each.
  void start() {
    asio::co_spawn(ioc_, accept_loop(), [](std::exception_ptr) {});
    thread_ = std::thread([this] { ioc_.run(); });
  }
  virtual asio::awaitable<void> on_connection(tcp::socket socket) = 0;

  asio::io_context ioc_;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(test_tuple);
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(ioc_, on_connection(std::move(socket)), [](std::exception_ptr) {});
    }
  }

  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
};

// What the origin does with one request.
struct Reply {
  std::string raw{};   // bytes written back verbatim
  bool close = false;  // close the connection after writing
  bool hang = false;   // write nothing and keep the connection open
  // Write raw, then keep the connection open without further bytes.
  bool hang_after_write = false;
};

struct SeenRequest {
  std::string method;
  std::string target;
  std::string host;
  std::string authorization;
  std::string user_agent;
  std::string body;
};

inline std::string ok(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

inline std::string redirect(unsigned status, std::string_view location) {
  return "HTTP/1.1 " + std::to_string(status) + " Moved\r\nLocation: " + std::string(location) +
         "\r\nContent-Length: 5\r\n\r\nmoved";
}

class OriginServer : public ServerThread {
 public:
  using Responder = std::function<Reply(const http::request<http::string_body>&)>;

  // Plain HTTP when tls is null; otherwise TLS with that server context.
  explicit OriginServer(Responder responder, std::shared_ptr<asio::ssl::context> tls = nullptr)
      : responder_(std::move(responder)), tls_(std::move(tls)) {
    start();
  }
  ~OriginServer() { stop(); }

  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 protected:
  asio::awaitable<void> on_connection(tcp::socket socket) override {
    if (!tls_) {
      co_await serve(socket);
      co_return;
    }
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, test_tuple);
    if (ec) co_return;
    co_await serve(stream);
  }

 private:
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, test_tuple);
      if (ec) co_return;
      {
        std::lock_guard lock(mutex_);
        seen_.push_back({std::string(req.method_string()), std::string(req.target()),
                         std::string(req[http::field::host]),
                         std::string(req[http::field::authorization]),
                         std::string(req[http::field::user_agent]), req.body()});
      }
      Reply reply = responder_(req);
      if (req.method() == http::verb::head) {
        // A response to HEAD carries the headers only.
        reply.raw = reply.raw.substr(0, reply.raw.find("\r\n\r\n") + 4);
      }
      if (!reply.hang) {
        auto [wec, written] = co_await asio::async_write(stream, asio::buffer(reply.raw), test_tuple);
        if (wec) co_return;
      }
      if (reply.hang || reply.hang_after_write) {
        asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(1));
        co_await forever.async_wait(test_tuple);
        co_return;
      }
      if (reply.close) co_return;  // the socket closes when the frame ends
    }
  }

  Responder responder_;
  std::shared_ptr<asio::ssl::context> tls_;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

// A forward proxy: CONNECT host:port opens a byte tunnel; any other request (absolute-form)
// is answered by the proxy itself with 200 "proxied".
class ProxyServer : public ServerThread {
 public:
  ProxyServer() { start(); }
  ~ProxyServer() { stop(); }

  int connects() const { return connects_.load(); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 protected:
  asio::awaitable<void> on_connection(tcp::socket socket) override {
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    auto [ec, n] = co_await http::async_read_header(socket, buffer, parser, test_tuple);
    if (ec) co_return;
    const auto& req = parser.get();
    {
      std::lock_guard lock(mutex_);
      seen_.push_back({std::string(req.method_string()), std::string(req.target()),
                       std::string(req[http::field::host]),
                       std::string(req[http::field::proxy_authorization]),
                       std::string(req[http::field::user_agent]), {}});
    }
    if (req.method() != http::verb::connect) {
      std::string answer = ok("proxied", "Connection: close\r\n");
      co_await asio::async_write(socket, asio::buffer(answer), test_tuple);
      co_return;
    }
    ++connects_;
    const std::string target(req.target());
    const auto colon = target.rfind(':');
    auto executor = co_await asio::this_coro::executor;
    auto upstream = std::make_shared<tcp::socket>(executor);
    auto [cec] = co_await upstream->async_connect(
        tcp::endpoint(asio::ip::make_address(target.substr(0, colon)),
                      static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))),
        test_tuple);
    if (cec) {
      std::string answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(answer), test_tuple);
      co_return;
    }
    std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(established), test_tuple);
    auto downstream = std::make_shared<tcp::socket>(std::move(socket));
    asio::co_spawn(executor, pipe(upstream, downstream), [](std::exception_ptr) {});
    co_await pipe(downstream, upstream);
  }

 private:
  static asio::awaitable<void> pipe(std::shared_ptr<tcp::socket> from,
                                   std::shared_ptr<tcp::socket> to) {
    std::array<char, 16 * 1024> data{};
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(asio::buffer(data), test_tuple);
      if (ec) {
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
      auto [wec, written] = co_await asio::async_write(*to, asio::buffer(data.data(), n), test_tuple);
      if (wec) co_return;
    }
  }

  std::atomic<int> connects_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

}  // namespace arca::test
