#pragma once
// The HTTP/1.1 listener: keep-alive, TCP_NODELAY, prompt 100 Continue, header and body limits,
// idle and I/O timeouts, graceful shutdown. Each connection is one coroutine on its own strand.
//
// Thread-safety: construct, listen() and start() from one thread before running the
// io_context; shutdown() may be called from any thread.

#include "config/config.hpp"
#include "net/http.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace arca::net {

class Handler {
 public:
  virtual ~Handler() = default;
  // The largest body accepted for this request; called once its header has been read.
  virtual uint64_t body_limit(const Request& request) const = 0;
  // Answers the request. Must respond (or start/finish, or abort) exactly once.
  virtual boost::asio::awaitable<void> handle(Exchange& exchange) = 0;
};

class Server {
 public:
  // `handler` must outlive the server.
  Server(boost::asio::io_context& ioc, const config::ListenerConfig& config, Handler& handler);
  ~Server();

  // Binds and listens. Returns the bound port. Throws std::runtime_error with a clear message
  // (address in use, permission denied, bad address).
  uint16_t listen();
  // Starts accepting (call after listen()).
  void start();
  // Stops accepting; idle connections close at once, busy ones after their current response;
  // after the grace period every connection is closed. `done` runs (on an I/O thread) when
  // the last connection has closed.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace arca::net
