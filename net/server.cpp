#include "net/server.hpp"

#include "common/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

namespace arca::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto k_as_tuple = asio::as_tuple(asio::use_awaitable);
// String literals inside coroutines trip GCC 12 ("array used as initializer"): keep them here.
constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view k_crlf = "\r\n";
constexpr std::string_view k_last_chunk = "0\r\n\r\n";

std::string to_hex_size(size_t n) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + 20, n, 16);
  *p++ = '\r';
  *p++ = '\n';
  return std::string(buf, p);
}


std::string_view Request::header(std::string_view name) const {
  for (auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view status_text(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {

std::atomic<uint64_t> g_request_ids{0};
std::atomic<uint64_t> g_connection_ids{0};

// Per-connection state the server can reach for shutdown.
struct Connection {
  beast::tcp_stream stream;
  // Set by the session between reading a request and finishing its response. Written and
  // read on the connection's strand (shutdown checks it there), so no lock is needed.
  std::atomic<bool> busy{false};
  explicit Connection(tcp::socket&& s) : stream(std::move(s)) {}
};

class SessionExchange final : public Exchange {
 public:
  SessionExchange(beast::tcp_stream& stream, Request& request, bool keep_alive,
                  std::chrono::milliseconds io_timeout)
      : stream_(stream), request_(request), keep_alive_(keep_alive), io_timeout_(io_timeout) {}

  const Request& request() const override { return request_; }
  bool started() const override { return started_; }
  bool keep_alive() const { return keep_alive_ && !aborted_ && complete_; }
  bool complete() const { return complete_; }
  void set_keep_alive(bool v) { keep_alive_ = keep_alive_ && v; }

  asio::awaitable<void> respond(unsigned status, Headers headers, std::string body) override {
    co_await respond_view(status, headers, body);
  }

  asio::awaitable<void> respond_shared(unsigned status, Headers headers,
                                       std::shared_ptr<const std::string> body) override {
    co_await respond_view(status, headers, *body);
  }

  unsigned status() const override { return status_; }
  uint64_t bytes_sent() const { return bytes_; }

  asio::awaitable<void> respond_view(unsigned status, const Headers& headers, std::string_view body) {
    if (started_) co_return;
    started_ = true;
    status_ = status;
    std::string head = head_text(status, headers, body.size(), false);
    const size_t body_size = request_.is_head() || status == 304 ? 0 : body.size();
    bytes_ += body_size;
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body.data(), body_size)};
    stream_.expires_after(io_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, k_as_tuple);
    if (ec) {
      aborted_ = true;
      co_return;
    }
    complete_ = true;
  }

  asio::awaitable<Result<void>> start(unsigned status, Headers headers,
                                      std::optional<uint64_t> content_length) override {
    if (started_) co_return make_error(Errc::internal, "response already started");
    started_ = true;
    status_ = status;
    chunked_ = !content_length.has_value() && !request_.is_head();
    std::string head = head_text(status, headers, content_length.value_or(0), !content_length);
    stream_.expires_after(io_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head), k_as_tuple);
    if (ec) {
      aborted_ = true;
      co_return make_error(Errc::cancelled, "client write failed: " + ec.message());
    }
    co_return Result<void>();
  }

  asio::awaitable<Result<void>> write(std::string_view bytes) override {
    if (aborted_) co_return make_error(Errc::cancelled, "connection closed");
    if (request_.is_head() || bytes.empty()) co_return Result<void>();
    bytes_ += bytes.size();
    stream_.expires_after(io_timeout_);
    boost::system::error_code ec;
    if (chunked_) {
      std::string size_line = to_hex_size(bytes.size());
      std::array<asio::const_buffer, 3> buffers{asio::buffer(size_line),
                                                asio::buffer(bytes.data(), bytes.size()),
                                                asio::buffer(k_crlf.data(), k_crlf.size())};
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, buffers, k_as_tuple);
    } else {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), k_as_tuple);
    }
    if (ec) {
      aborted_ = true;
      co_return make_error(Errc::cancelled, "client write failed: " + ec.message());
    }
    co_return Result<void>();
  }

  asio::awaitable<Result<void>> finish() override {
    if (aborted_) co_return make_error(Errc::cancelled, "connection closed");
    if (chunked_) {
      stream_.expires_after(io_timeout_);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(k_last_chunk.data(), k_last_chunk.size()), k_as_tuple);
      if (ec) {
        aborted_ = true;
        co_return make_error(Errc::cancelled, "client write failed: " + ec.message());
      }
    }
    complete_ = true;
    co_return Result<void>();
  }

  void abort() override {
    aborted_ = true;
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  std::string head_text(unsigned status, const Headers& headers, uint64_t length, bool chunked) {
    std::string h;
    h.reserve(256);
    h += "HTTP/1.1 ";
    h += std::to_string(status);
    h += ' ';
    h += status_text(status);
    h += "\r\n";
    bool has_type = false;
    for (auto& [k, v] : headers) {
      if (iequals(k, "content-type")) has_type = true;
      h += k;
      h += ": ";
      h += v;
      h += "\r\n";
    }
    if (!has_type && status != 304 && status != 204) h += "Content-Type: application/octet-stream\r\n";
    if (chunked) {
      h += "Transfer-Encoding: chunked\r\n";
    } else if (status != 304 && status != 204) {
      h += "Content-Length: ";
      h += std::to_string(length);
      h += "\r\n";
    }
    if (!keep_alive_) h += "Connection: close\r\n";
    h += "\r\n";
    return h;
  }

  beast::tcp_stream& stream_;
  Request& request_;
  bool keep_alive_;
  std::chrono::milliseconds io_timeout_;
  bool started_ = false;
  bool chunked_ = false;
  bool aborted_ = false;
  bool complete_ = false;
  unsigned status_ = 0;
  uint64_t bytes_ = 0;
};

std::string error_json(std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  out += "\"}";
  return out;
}

// Why a request's Transfer-Encoding makes its framing unusable, or nullopt when it has none or
// exactly `chunked`. RFC 9112 §6.1: when chunked is not the final coding of a request, its body
// length cannot be determined and the server must answer 400 and close; Beast would treat such a
// request as bodyless and parse its body as the next request (a smuggling precondition). Other
// codings before a final chunked (gzip, chunked) are refused the same way: arca decodes none, and
// an HTTP/1.0 message with Transfer-Encoding has faulty framing (§6.1 again).
std::optional<std::string> transfer_encoding_problem(const http::fields& fields, unsigned version) {
  auto [begin, end] = fields.equal_range(http::field::transfer_encoding);
  if (begin == end) return std::nullopt;
  if (version < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  size_t codings = 0;
  bool chunked_only = true;
  for (auto it = begin; it != end; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      auto ows = [](char c) { return c == ' ' || c == '\t'; };
      while (!coding.empty() && ows(coding.front())) coding.remove_prefix(1);
      while (!coding.empty() && ows(coding.back())) coding.remove_suffix(1);
      if (coding.empty()) continue;  // empty list elements are ignored (RFC 9110 §5.6.1)
      ++codings;
      if (!iequals(coding, "chunked")) chunked_only = false;
    }
  }
  if (codings == 1 && chunked_only) return std::nullopt;
  return "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)";
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& ioc;
  config::ListenerConfig config;
  Handler& handler;
  tcp::acceptor acceptor;
  std::mutex mutex;
  std::set<std::shared_ptr<Connection>> connections;
  std::atomic<bool> draining{false};
  std::function<void()> on_drained;
  std::unique_ptr<asio::steady_timer> grace_timer;

  Impl(asio::io_context& i, const config::ListenerConfig& c, Handler& h)
      : ioc(i), config(c), handler(h), acceptor(asio::make_strand(i)) {}

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), k_as_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        ARCA_LOG_WARN("accept failed: {}", ec.message());
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto conn = std::make_shared<Connection>(std::move(socket));
      {
        std::lock_guard lock(mutex);
        if (draining) continue;
        connections.insert(conn);
      }
      auto ex = conn->stream.get_executor();
      asio::co_spawn(ex, session(conn), [self = shared_from_this(), conn](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            ARCA_LOG_ERROR("connection failed: {}", ex.what());
          }
        }
        self->release(conn);
      });
    }
  }

  void release(const std::shared_ptr<Connection>& conn) {
    std::function<void()> done;
    {
      std::lock_guard lock(mutex);
      connections.erase(conn);
      if (draining && connections.empty() && on_drained) done = std::move(on_drained);
    }
    if (done) {
      if (grace_timer) grace_timer->cancel();
      done();
    }
  }

  // Returns false once the server is draining (the connection must close after this).
  bool set_busy(Connection& conn, bool busy) {
    conn.busy.store(busy, std::memory_order_relaxed);
    return !draining.load(std::memory_order_acquire);
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> conn) {
    auto& stream = conn->stream;
    beast::flat_buffer buffer;
    uint64_t connection_id = ++g_connection_ids;
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    const uint64_t max_body = std::max(config.body_limit_bytes, config.publish_body_limit_bytes);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(config.header_limit_bytes));
      parser.body_limit(max_body);
      stream.expires_after(config.idle_timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, k_as_tuple);
      if (ec) {
        if (ec == http::error::header_limit) {
          co_await write_simple(stream, 431, "request header too large");
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
                   ec != asio::error::operation_aborted && ec != asio::error::connection_reset &&
                   ec != asio::error::eof && ec != asio::error::bad_descriptor) {
          co_await write_simple(stream, 400, "malformed request: " + ec.message());
        }
        break;
      }
      if (auto problem = transfer_encoding_problem(parser.get().base(), parser.get().version())) {
        // Answered before anything else, and the connection closes: its remaining bytes cannot
        // be framed.
        co_await write_simple(stream, 400, std::move(*problem));
        break;
      }
      const auto started_at = std::chrono::steady_clock::now();
      if (!set_busy(*conn, true)) {
        // Draining: answer nothing new on this connection.
        co_await write_simple(stream, 503, "shutting down");
        break;
      }
      auto& msg = parser.get();
      Request request;
      request.method = std::string(msg.method_string());
      request.target = std::string(msg.target());
      auto q = request.target.find('?');
      request.path = request.target.substr(0, q);
      if (q != std::string::npos) request.query = request.target.substr(q + 1);
      for (auto& field : msg) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.remote_address = remote;
      request.id = ++g_request_ids;
      request.connection = connection_id;

      const uint64_t limit = handler.body_limit(request);
      if (auto len = parser.content_length(); len && *len > limit) {
        co_await write_simple(stream, 413,
                              "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                                  std::to_string(limit) + " bytes");
        break;
      }
      parser.body_limit(limit);
      if (!parser.is_done()) {
        if (iequals(request.header("expect"), "100-continue")) {
          stream.expires_after(config.io_timeout);
          auto [wec, wn] = co_await asio::async_write(
              stream, asio::buffer(k_continue.data(), k_continue.size()), k_as_tuple);
          if (wec) break;
        }
        stream.expires_after(config.io_timeout);
        auto [rec, rn] = co_await http::async_read(stream, buffer, parser, k_as_tuple);
        if (rec) {
          if (rec == http::error::body_limit) {
            co_await write_simple(stream, 413,
                                  "request body exceeds the limit of " + std::to_string(limit) + " bytes");
          } else if (rec == beast::error::timeout) {
            co_await write_simple(stream, 408, "timed out reading the request body");
          } else if (rec != asio::error::eof && rec != http::error::end_of_stream) {
            co_await write_simple(stream, 400, "malformed request body: " + rec.message());
          }
          break;
        }
      }
      request.body = std::move(msg.body());
      const bool keep_alive = msg.keep_alive();

      SessionExchange exchange(stream, request, keep_alive, config.io_timeout);
      if (draining.load(std::memory_order_acquire)) exchange.set_keep_alive(false);
      try {
        co_await handler.handle(exchange);
      } catch (const std::exception& e) {
        ARCA_LOG_ERROR("[C{}][R{}] handler failed: {}", connection_id, request.id, e.what());
        if (exchange.started()) exchange.abort();
      }
      if (!exchange.started()) {
        Headers headers{{"Content-Type", "application/json"}};
        co_await exchange.respond(500, std::move(headers), error_json("no response"));
      }
      // The access line (its arguments are not free: check the level first).
      if (spdlog::should_log(spdlog::level::info))
      ARCA_LOG_INFO("[C{}][R{}] {} {} {} {} {}B {}ms", connection_id, request.id, remote,
                    request.method, log::redact_url(request.target), exchange.status(),
                    exchange.bytes_sent(),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started_at)
                        .count());
      bool accepting = set_busy(*conn, false);
      if (!exchange.keep_alive() || !accepting) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
  }

  asio::awaitable<void> write_simple(beast::tcp_stream& stream, unsigned status, std::string message) {
    std::string body = error_json(message);
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_text(status)) +
                       "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
    stream.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(stream, buffers, k_as_tuple);
  }
};

Server::Server(asio::io_context& ioc, const config::ListenerConfig& config, Handler& handler)
    : impl_(std::make_shared<Impl>(ioc, config, handler)) {}

Server::~Server() = default;

uint16_t Server::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->config.host == "localhost" ? "127.0.0.1" : impl_->config.host, ec);
  if (ec) throw std::runtime_error("listen: '" + impl_->config.host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->config.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) throw std::runtime_error("listen: cannot open socket: " + ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("listen: cannot bind " + impl_->config.host + ":" +
                             std::to_string(impl_->config.port) + ": " + ec.message());
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("listen: " + ec.message());
  return acceptor.local_endpoint().port();
}

void Server::start() {
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        ARCA_LOG_ERROR("accept loop failed: {}", ex.what());
      }
    }
  });
}

void Server::shutdown(std::function<void()> done) {
  auto impl = impl_;
  asio::dispatch(impl->acceptor.get_executor(), [impl, done = std::move(done)]() mutable {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> all;
    bool empty;
    {
      std::lock_guard lock(impl->mutex);
      impl->draining.store(true, std::memory_order_release);
      empty = impl->connections.empty();
      if (!empty) impl->on_drained = done;
      all.assign(impl->connections.begin(), impl->connections.end());
    }
    if (empty) {
      done();
      return;
    }
    // Idle connections (waiting for a request) close now; busy ones finish their response
    // and then see `draining`. Checked on the connection's strand, where `busy` changes.
    for (auto& c : all) {
      asio::post(c->stream.get_executor(), [c] {
        if (!c->busy.load(std::memory_order_relaxed)) c->stream.cancel();
      });
    }
    impl->grace_timer = std::make_unique<asio::steady_timer>(impl->acceptor.get_executor());
    impl->grace_timer->expires_after(impl->config.shutdown_grace);
    impl->grace_timer->async_wait([impl](boost::system::error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<Connection>> all;
      {
        std::lock_guard lock(impl->mutex);
        all.assign(impl->connections.begin(), impl->connections.end());
      }
      ARCA_LOG_WARN("shutdown grace period over: closing {} connection(s)", all.size());
      for (auto& c : all) {
        asio::post(c->stream.get_executor(), [c] {
          boost::system::error_code ignored;
          c->stream.socket().close(ignored);
        });
      }
    });
  });
}

}  // namespace arca::net
