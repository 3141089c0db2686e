#pragma once
// The request/response seam between the listener (Beast) and the handlers. No Beast types
// here, so handlers compile without Beast templates.
//
// Thread-safety: an Exchange belongs to one connection's coroutine; use it only from there.

#include "common/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // "GET", "PUT", ...
  std::string target;   // raw request target, percent-encoded
  std::string path;     // target up to '?', still percent-encoded
  std::string query;    // after '?', without it
  Headers headers;
  std::string body;
  std::string remote_address;
  uint64_t id = 0;       // per-process request number, for log lines
  uint64_t connection = 0;

  // First value of a header (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
  bool is_head() const { return method == "HEAD"; }
};

bool iequals(std::string_view a, std::string_view b);
std::string_view status_text(unsigned status);

// One request's response channel. Either respond() once, or start() + write()* + finish().
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;

  // A whole response in one write. For HEAD the body is not sent (its length is).
  virtual boost::asio::awaitable<void> respond(unsigned status, Headers headers,
                                               std::string body) = 0;
  // The same with a shared, immutable body (cached documents are sent without a copy).
  virtual boost::asio::awaitable<void> respond_shared(
      unsigned status, Headers headers, std::shared_ptr<const std::string> body) = 0;

  // Streaming: sends the status line and headers. With a content length the body must be
  // exactly that long; without one it is sent chunked. For HEAD, write() is a no-op.
  virtual boost::asio::awaitable<Result<void>> start(unsigned status, Headers headers,
                                                     std::optional<uint64_t> content_length) = 0;
  virtual boost::asio::awaitable<Result<void>> write(std::string_view bytes) = 0;
  // Completes a streamed body (the last chunk for chunked bodies).
  virtual boost::asio::awaitable<Result<void>> finish() = 0;
  // Closes the connection without completing the response, so the client cannot take a
  // partial body for a complete one.
  virtual void abort() = 0;

  virtual bool started() const = 0;
  // The status sent (0 before the response starts), for logs and metrics.
  virtual unsigned status() const = 0;
};

}  // namespace arca::net
