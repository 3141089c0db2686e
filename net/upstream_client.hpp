#pragma once
// HTTP/1.1 client for upstream registries: plain TCP or TLS (OpenSSL, certificates verified
// against the system store plus an optional extra CA file, SNI, host name verification),
// a pool of idle keep-alive connections per (scheme, host, port), connect and read timeouts,
// bounded redirects for GET/HEAD, and HTTP(S)_PROXY / NO_PROXY (CONNECT tunnel for https,
// absolute-form requests for http).
//
// Thread-safety: an UpstreamClient may be used from coroutines on any executor of its
// io_context; the pool is guarded by a mutex. An UpstreamResponse belongs to one coroutine.
// Secrets: URLs are logged only through log::redact_url; header values never.

#include "common/error.hpp"
#include "config/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct UpstreamRequest {
  std::string method = "GET";
  // Absolute http:// or https:// URL; may carry userinfo (sent as Basic auth, never logged).
  // An Authorization entry in `headers` takes precedence over the userinfo.
  std::string url;
  // e.g. Accept, If-None-Match, Authorization. Host and User-Agent given here replace the
  // defaults; Content-Length and Transfer-Encoding are ignored (computed from `body`).
  Headers headers;
  std::string body;
  // false: the client's authorizer is not asked (the authorizer's own requests: STS, IMDS,
  // CodeArtifact's /v1/ API, which are signed instead).
  bool authorize = true;
  // true: never through HTTP(S)_PROXY (link-local metadata endpoints, as the AWS SDKs do).
  bool direct = false;
  // Replaces the configured connect and read timeouts for this request (metadata endpoints
  // answer within a second or not at all).
  std::optional<std::chrono::milliseconds> timeout;
};

struct ResponseHead {
  unsigned status = 0;
  Headers headers;
  // From Content-Length; nullopt for chunked or close-delimited bodies. For HEAD it is the
  // length the body would have had.
  std::optional<uint64_t> content_length;
  // The URL that answered, after redirects (carries userinfo if the request URL did: redact
  // it before logging).
  std::string url;

  // First value of a header (case-insensitive name), or empty.
  std::string_view header(std::string_view name) const;
};

// A response whose body is read incrementally. Destroying it before the body is fully read
// closes the connection instead of returning it to the pool.
class UpstreamResponse {
 public:
  virtual ~UpstreamResponse() = default;
  virtual const ResponseHead& head() const = 0;
  // Reads up to buf.size() body bytes; 0 means the body is complete. Errors:
  // upstream_timeout (no byte within read_timeout), truncated (closed before Content-Length
  // bytes / before the last chunk), too_large (more than the limit given to send()).
  [[nodiscard]] virtual boost::asio::awaitable<Result<size_t>> read(std::span<char> buf) = 0;
};

// Adds credentials to upstream requests that need them, in one place for every handler and
// fill (net/codeartifact_upstreams.hpp: tokens for CodeArtifact repository endpoints).
// Thread-safety: called concurrently from any executor of the client's io_context.
class UpstreamAuthorizer {
 public:
  virtual ~UpstreamAuthorizer() = default;
  // The Authorization header value for a request to `url`; nullopt when the URL needs none.
  // An error when it needs credentials that cannot be had (the request is not sent).
  [[nodiscard]] virtual boost::asio::awaitable<Result<std::optional<std::string>>> authorization(
      std::string url) = 0;
  // The upstream answered 401/403 to a request to `url` sent with `authorization`.
  virtual void rejected(const std::string& url, const std::string& authorization) = 0;
};

struct BufferedResponse {
  ResponseHead head;
  std::string body;
};

class UpstreamClient {
 public:
  // Reads HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy, NO_PROXY/no_proxy from the
  // environment at construction (upper case wins when both are set; a value without a scheme
  // means http://; only http:// proxies are supported, requests routed to another kind fail
  // with upstream_unreachable). NO_PROXY: comma-separated host names (matching the name and
  // its subdomains, optional leading "." or "*."), exact IP addresses, or "*" for all.
  // Sockets are created on `executor` (an io_context executor); each connection runs its I/O
  // on its own strand of it, so callers may use any executor of that io_context.
  // Throws config::ConfigError when config.ca_file cannot be loaded (a startup error).
  UpstreamClient(boost::asio::any_io_executor executor, const config::UpstreamClientConfig& config);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Requests with `authorize` and no Authorization header of their own get the authorizer's
  // credentials; a 401/403 to them is reported to it and the request is sent once more with
  // fresh ones. Prereq: set before any request is sent; the authorizer outlives the client's
  // requests. nullptr (the default): no authorizer.
  void set_authorizer(UpstreamAuthorizer* authorizer) { authorizer_ = authorizer; }

  // arca's own listener (bound `host`:`port`, and `public_url` when set): requests to it, first
  // or by redirect, are refused with upstream_error. An upstream redirecting back into arca
  // would otherwise have a fill wait for itself. Prereq: called before any request is sent.
  void refuse_own_listener(std::string_view host, uint16_t port, std::string_view public_url);

  // Sends the request and returns once the response headers have arrived (redirects followed
  // for GET and HEAD, up to max_redirects). The body may be up to max_body bytes.
  // Errors: invalid_argument (bad URL), upstream_unreachable (DNS, connect refused, TLS
  // handshake or certificate failure), upstream_timeout (connect_timeout over DNS + connect +
  // proxy CONNECT + TLS handshake, or read_timeout waiting for the headers), upstream_error
  // (malformed response, too many redirects), too_large (Content-Length declares more than
  // max_body; a chunked or close-delimited body over max_body fails in read() instead).
  // Non-2xx statuses are not errors. Authorization (header or userinfo) is dropped when a
  // redirect leaves the origin (scheme, host, port). A pooled connection found closed by the
  // server is retried once on a new connection (for non-idempotent methods only when writing
  // the request failed).
  [[nodiscard]] boost::asio::awaitable<Result<std::unique_ptr<UpstreamResponse>>> send(
      UpstreamRequest request, uint64_t max_body);

  // send() plus reading the whole body (at most max_body bytes, else too_large).
  [[nodiscard]] boost::asio::awaitable<Result<BufferedResponse>> fetch(UpstreamRequest request,
                                                                       uint64_t max_body);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  UpstreamAuthorizer* authorizer_ = nullptr;
};

}  // namespace arca::net
