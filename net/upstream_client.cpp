#include "net/upstream_client.hpp"

#include "common/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>

#ifndef ARCA_VERSION
#define ARCA_VERSION "dev"
#endif

namespace arca::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// Completion token for coroutines that want errors as values: co_await yields a tuple whose
// first element is the error_code.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Response header blocks larger than this are malformed for our purposes.
constexpr std::uint32_t k_header_limit = 64 * 1024;
// A redirect response body up to this size is read and discarded so its connection can be
// reused; a larger one closes the connection.
constexpr std::size_t k_redirect_drain_limit = 64 * 1024;
// Chunk size fetch() reads with.
constexpr std::size_t k_fetch_chunk = 64 * 1024;
// 1xx interim responses (e.g. 103 Early Hints) skipped before the final one.
constexpr int k_max_interim_responses = 8;

using Parser = http::response_parser<http::buffer_body>;

// --- Small string helpers ---------------------------------------------------------------------

char ascii_lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string base64(std::string_view in) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) |
                   (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += k_alphabet[n & 63];
  }
  if (const auto rest = in.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
    if (rest == 2) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += rest == 2 ? k_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// --- URLs -------------------------------------------------------------------------------------

// An http(s) URL taken apart for sending a request to it.
struct Target {
  std::string url;          // as given (may carry userinfo: never log it unredacted)
  bool https = false;
  std::string host;         // DNS name or address, no brackets: for resolving, SNI, verification
  std::uint16_t port = 0;
  std::string host_header;  // Host value: brackets around IPv6, port when not the default
  std::string authority;    // host:port for messages and CONNECT
  std::string origin_form;  // path?query, "/" when empty
  std::string absolute_form;  // scheme://host[:port]/path?query, no userinfo or fragment
  std::optional<std::string> basic_auth;  // "Basic ..." from the userinfo
};

Result<Target> parse_target(std::string_view url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed) {
    return make_error(Errc::invalid_argument, "invalid URL " + log::redact_url(url));
  }
  const urls::url_view& u = *parsed;
  Target t;
  t.url = std::string(url);
  if (u.scheme_id() == urls::scheme::https) {
    t.https = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return make_error(Errc::invalid_argument,
                      "unsupported URL scheme in " + log::redact_url(url));
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    return make_error(Errc::invalid_argument, "URL without host: " + log::redact_url(url));
  }
  const std::uint16_t default_port = t.https ? 443 : 80;
  t.port = u.has_port() && u.port_number() != 0 ? u.port_number() : default_port;
  if (u.has_port() && u.port_number() == 0 && !u.port().empty()) {
    return make_error(Errc::invalid_argument, "invalid port in " + log::redact_url(url));
  }
  t.host = to_lower(u.host_address());
  const std::string host_for_header = to_lower(u.encoded_host());  // keeps IPv6 brackets
  t.host_header = host_for_header;
  if (t.port != default_port) t.host_header += ":" + std::to_string(t.port);
  t.authority = host_for_header + ":" + std::to_string(t.port);
  t.origin_form = std::string(u.encoded_target());
  if (t.origin_form.empty() || t.origin_form.front() != '/') t.origin_form.insert(0, "/");
  t.absolute_form = std::string(t.https ? "https://" : "http://") + t.host_header + t.origin_form;
  if (u.has_userinfo()) {
    // RFC 7617: user-id ":" password, base64; userinfo is percent-decoded first.
    t.basic_auth = "Basic " + base64(u.user() + ":" + u.password());
  }
  return t;
}

bool same_origin(const Target& a, const Target& b) {
  return a.https == b.https && a.host == b.host && a.port == b.port;
}

// --- Proxies ----------------------------------------------------------------------------------

struct ProxyEndpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string authority;  // host:port
  std::optional<std::string> auth;  // Proxy-Authorization value
  std::string display;  // redacted URL for logs and messages
  bool supported = true;  // only http:// proxies are
};

std::optional<std::string> env(const char* upper, const char* lower) {
  for (const char* name : {upper, lower}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return std::string(v);
  }
  return std::nullopt;
}

std::optional<ProxyEndpoint> parse_proxy(const std::string& value) {
  std::string text = value;
  if (text.find("://") == std::string::npos) text.insert(0, "http://");
  ProxyEndpoint p;
  p.display = log::redact_url(text);
  auto parsed = urls::parse_uri(text);
  if (!parsed || parsed->encoded_host().empty()) {
    ARCA_LOG_WARN("ignoring unparsable proxy setting {}", p.display);
    return std::nullopt;
  }
  const urls::url_view& u = *parsed;
  if (u.scheme_id() != urls::scheme::http) {
    // TLS to the proxy itself (https://) and SOCKS are not implemented; requests that would go
    // through such a proxy fail instead of silently bypassing it.
    ARCA_LOG_WARN("proxy {} uses an unsupported scheme; only http:// proxies are supported",
                  p.display);
    p.supported = false;
  }
  p.host = to_lower(u.host_address());
  p.port = u.has_port() && u.port_number() != 0 ? u.port_number() : 80;
  p.authority = to_lower(u.encoded_host()) + ":" + std::to_string(p.port);
  if (u.has_userinfo()) p.auth = "Basic " + base64(u.user() + ":" + u.password());
  return p;
}

struct ProxySettings {
  std::optional<ProxyEndpoint> http;
  std::optional<ProxyEndpoint> https;
  bool bypass_all = false;
  std::vector<std::string> no_proxy;  // lower-case host suffixes / exact addresses

  static ProxySettings from_environment() {
    ProxySettings s;
    if (auto v = env("HTTPS_PROXY", "https_proxy")) s.https = parse_proxy(*v);
    if (auto v = env("HTTP_PROXY", "http_proxy")) s.http = parse_proxy(*v);
    if (auto v = env("NO_PROXY", "no_proxy")) {
      std::string_view rest = *v;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item == "*") {
          s.bypass_all = true;
          continue;
        }
        if (item.starts_with("*.")) item.remove_prefix(1);
        while (item.starts_with(".")) item.remove_prefix(1);
        if (item.starts_with("[")) {
          // [v6addr] or [v6addr]:port
          const auto close = item.find(']');
          item = item.substr(1, close == std::string_view::npos ? item.npos : close - 1);
        } else if (std::count(item.begin(), item.end(), ':') == 1) {
          item = item.substr(0, item.find(':'));  // host:port; the port is not compared
        }
        if (!item.empty()) s.no_proxy.push_back(to_lower(item));
      }
    }
    return s;
  }

  bool bypass(const std::string& host) const {
    if (bypass_all) return true;
    for (const auto& entry : no_proxy) {
      if (host == entry) return true;
      // Suffix match on a label boundary: "example.com" covers "a.example.com".
      if (host.size() > entry.size() && host.ends_with(entry) &&
          host[host.size() - entry.size() - 1] == '.') {
        return true;
      }
    }
    return false;
  }

  const ProxyEndpoint* for_target(const Target& t) const {
    const auto& p = t.https ? https : http;
    if (!p || bypass(t.host)) return nullptr;
    return &*p;
  }
};

// --- Connections ------------------------------------------------------------------------------

// One upstream connection. All I/O on it runs in coroutines spawned on `strand`, so Beast's
// timeout handlers never race with completions whatever executor the caller runs on; the
// sockets themselves live on the client's io_context executor.
struct Connection {
  Connection(asio::any_io_executor io, asio::any_io_executor strand_executor)
      : strand(std::move(strand_executor)), plain(std::in_place, std::move(io)) {
    // Beast sizes each socket read by the buffer's spare capacity (at least 512 bytes): an
    // empty flat_buffer would read bodies 512 bytes per system call.
    buffer.reserve(64 * 1024);
  }

  asio::any_io_executor strand;
  std::optional<beast::tcp_stream> plain;  // set until TLS takes the socket over
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;  // bytes read past the current parse point
  std::string pool_key;
  bool reused = false;
  std::string tls_failure;  // set by the verify callback, for error messages

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Calls f with the stream that carries HTTP (TLS or plain); f returns an awaitable.
  template <class F>
  auto with_stream(F&& f) {
    if (tls) return f(*tls);
    return f(*plain);
  }
};

using ConnectionPtr = std::unique_ptr<Connection>;

// Whether an idle connection can carry another request: a server that closed it (idle
// timeout) has sent FIN or RST, and unsolicited bytes (e.g. a TLS close_notify) mean it is
// going away. A non-blocking peek sees both without consuming anything. The connection is
// idle, so no operation races with this.
bool looks_alive(Connection& c) {
  auto& socket = c.lowest().socket();
  if (!socket.is_open()) return false;
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Verifies the peer chain (preverified by OpenSSL) and then the leaf against the host name
// (RFC 2818/6125 via asio's host_name_verification), recording why it failed.
struct VerifyHost {
  ssl::host_name_verification check;
  std::string host;
  std::string* failure;

  bool operator()(bool preverified, ssl::verify_context& ctx) {
    X509_STORE_CTX* store = ctx.native_handle();
    if (!preverified) {
      if (failure->empty()) {
        *failure = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
      }
      return false;
    }
    if (!check(preverified, ctx)) {
      *failure = "certificate does not match host name " + host;
      X509_STORE_CTX_set_error(store, is_ip_literal(host) ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                          : X509_V_ERR_HOSTNAME_MISMATCH);
      return false;
    }
    return true;
  }
};

struct ResolveState {
  explicit ResolveState(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
  tcp::resolver resolver;
  asio::steady_timer timer;
  bool done = false;
  error_code ec;
  tcp::resolver::results_type results;
};

// Resolves on the calling coroutine's executor (a connection strand), giving up at deadline.
// getaddrinfo cannot be interrupted, so on timeout the lookup is abandoned: its completion
// only touches the shared state.
asio::awaitable<std::pair<error_code, tcp::resolver::results_type>> resolve_until(
    std::string host, std::string port, SteadyClock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  auto state = std::make_shared<ResolveState>(ex);
  state->timer.expires_at(deadline);
  state->resolver.async_resolve(host, port,
                                [state](error_code ec, tcp::resolver::results_type results) {
                                  state->done = true;
                                  state->ec = ec;
                                  state->results = std::move(results);
                                  state->timer.cancel();
                                });
  co_await state->timer.async_wait(use_tuple);
  if (!state->done) {
    state->resolver.cancel();
    co_return std::pair{error_code(beast::error::timeout), tcp::resolver::results_type{}};
  }
  co_return std::pair{state->ec, std::move(state->results)};
}

bool is_connection_closed(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

bool is_idempotent(http::verb v) {
  switch (v) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
    case http::verb::trace: return true;
    default: return false;
  }
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::unique_ptr<Parser> make_parser(std::uint64_t max_body, bool head_request) {
  auto p = std::make_unique<Parser>();
  p->header_limit(k_header_limit);
  p->body_limit(max_body);
  // A response to HEAD has no body whatever its Content-Length says (RFC 9110 §9.3.2).
  if (head_request) p->skip(true);
  return p;
}

}  // namespace

// --- ResponseHead -----------------------------------------------------------------------------

std::string_view ResponseHead::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

// --- Client state -----------------------------------------------------------------------------

namespace {

// Everything an UpstreamClient owns; shared with live responses so that connections can go
// back to the pool after the client handle is gone.
struct ClientState {
  ClientState(asio::any_io_executor executor, const config::UpstreamClientConfig& cfg)
      : io(std::move(executor)), config(cfg), tls_context(ssl::context::tls_client),
        proxies(ProxySettings::from_environment()) {
    error_code ec;
    tls_context.set_default_verify_paths(ec);
    if (ec) ARCA_LOG_WARN("cannot load the system CA store: {}", ec.message());
    if (!config.ca_file.empty()) {
      tls_context.load_verify_file(config.ca_file, ec);
      if (ec) {
        throw config::ConfigError("upstream.ca_file: cannot load " + config.ca_file + ": " +
                                  ec.message());
      }
    }
    tls_context.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
    if (proxies.https) ARCA_LOG_INFO("https upstreams via proxy {}", proxies.https->display);
    if (proxies.http) ARCA_LOG_INFO("http upstreams via proxy {}", proxies.http->display);
  }

  asio::any_io_executor io;
  config::UpstreamClientConfig config;
  ssl::context tls_context;
  ProxySettings proxies;
  // Authorities ("host:port", lower case) of arca's own listener; set before any request.
  std::vector<std::string> own_authorities;

  bool is_own(const std::string& authority) const {
    return std::find(own_authorities.begin(), own_authorities.end(), authority) !=
           own_authorities.end();
  }

  std::mutex pool_mutex;
  std::map<std::string, std::vector<ConnectionPtr>> pool;  // guarded by pool_mutex

  // An idle connection to `key` that still looks open, or null.
  ConnectionPtr take(const std::string& key) {
    std::vector<ConnectionPtr> dead;  // closed outside the lock
    std::lock_guard lock(pool_mutex);
    auto it = pool.find(key);
    if (it == pool.end()) return nullptr;
    ConnectionPtr found;
    // Most recently returned first: the least likely to have been closed by the server.
    while (!found && !it->second.empty()) {
      ConnectionPtr c = std::move(it->second.back());
      it->second.pop_back();
      if (looks_alive(*c)) {
        found = std::move(c);
      } else {
        dead.push_back(std::move(c));
      }
    }
    if (it->second.empty()) pool.erase(it);
    if (found) found->reused = true;
    return found;
  }

  void give_back(ConnectionPtr c) {
    if (config.pool_size_per_host == 0) return;
    ConnectionPtr dropped;  // closed outside the lock
    std::lock_guard lock(pool_mutex);
    auto& idle = pool[c->pool_key];
    if (idle.size() >= config.pool_size_per_host) {
      dropped = std::move(c);
      return;
    }
    idle.push_back(std::move(c));
  }

  asio::awaitable<Result<ConnectionPtr>> connect(const Target& t, const ProxyEndpoint* proxy,
                                                std::string pool_key,
                                                std::chrono::milliseconds timeout);
  asio::awaitable<Result<void>> establish(Connection& c, const Target& t,
                                         const ProxyEndpoint* proxy,
                                         std::chrono::milliseconds timeout);
};

using ImplPtr = std::shared_ptr<ClientState>;

Error connect_error(const error_code& ec, const std::string& what, const std::string& authority,
                    std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return make_error(Errc::upstream_timeout,
                      what + " " + authority + " timed out after " + ms_text(timeout));
  }
  if (ec == asio::error::operation_aborted) {
    return make_error(Errc::cancelled, what + " " + authority + " cancelled");
  }
  return make_error(Errc::upstream_unreachable,
                    what + " " + authority + " failed: " + ec.message());
}

// What happened to one request/response exchange on a connection.
struct ExchangeOutcome {
  error_code ec;
  bool write_failed = false;
  bool got_response_bytes = false;
};

asio::awaitable<Result<void>> ClientState::establish(Connection& c, const Target& t,
                                                    const ProxyEndpoint* proxy,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  const std::string& dial_host = proxy ? proxy->host : t.host;
  const std::uint16_t dial_port = proxy ? proxy->port : t.port;
  const std::string dial_authority = proxy ? "proxy " + proxy->authority : t.authority;

  auto [resolve_ec, endpoints] = co_await resolve_until(dial_host, std::to_string(dial_port),
                                                        deadline);
  if (resolve_ec == beast::error::timeout) {
    co_return make_error(Errc::upstream_timeout, "resolving " + dial_host + " timed out after " +
                                                     ms_text(timeout));
  }
  if (resolve_ec) {
    co_return make_error(Errc::upstream_unreachable,
                         "cannot resolve " + dial_host + ": " + resolve_ec.message());
  }

  c.plain->expires_at(deadline);
  auto [connect_ec, endpoint] = co_await c.plain->async_connect(endpoints, use_tuple);
  if (connect_ec) co_return connect_error(connect_ec, "connect to", dial_authority, timeout);
  error_code ignored;
  c.plain->socket().set_option(tcp::no_delay(true), ignored);

  if (proxy && t.https) {
    // RFC 9110 §9.3.6: CONNECT host:port opens a tunnel; a 2xx means bytes now flow to the
    // origin, anything else is the proxy refusing (407 = needs Proxy-Authorization).
    http::request<http::empty_body> req{http::verb::connect, t.authority, 11};
    req.set(http::field::host, t.authority);
    req.set(http::field::user_agent, "arca/" ARCA_VERSION);
    if (proxy->auth) req.set(http::field::proxy_authorization, *proxy->auth);
    c.plain->expires_at(deadline);
    auto [write_ec, written] = co_await http::async_write(*c.plain, req, use_tuple);
    if (write_ec) co_return connect_error(write_ec, "CONNECT via", dial_authority, timeout);
    http::response_parser<http::empty_body> res;
    res.header_limit(k_header_limit);
    res.skip(true);  // a 2xx answer to CONNECT has no body (RFC 9110 §9.3.6)
    c.plain->expires_at(deadline);
    auto [read_ec, read] = co_await http::async_read_header(*c.plain, c.buffer, res, use_tuple);
    if (read_ec) co_return connect_error(read_ec, "CONNECT via", dial_authority, timeout);
    const unsigned status = res.get().result_int();
    if (status / 100 != 2) {
      co_return make_error(Errc::upstream_unreachable,
                           "proxy " + proxy->display + " refused CONNECT to " + t.authority +
                               ": " + std::to_string(status) + " " +
                               std::string(res.get().reason()));
    }
    if (c.buffer.size() != 0) {
      co_return make_error(Errc::upstream_unreachable,
                           "proxy " + proxy->display + " sent data after its CONNECT answer");
    }
  }

  if (t.https) {
    c.tls.emplace(std::move(*c.plain), tls_context);
    c.plain.reset();
    SSL* ssl_handle = c.tls->native_handle();
    // SNI carries DNS names only (RFC 6066 §3).
    if (!is_ip_literal(t.host) && SSL_set_tlsext_host_name(ssl_handle, t.host.c_str()) != 1) {
      co_return make_error(Errc::upstream_unreachable, "cannot set SNI for " + t.authority);
    }
    // Boost 1.81's examples verify the chain only; the host name check is ours.
    c.tls->set_verify_callback(VerifyHost{ssl::host_name_verification(t.host), t.host,
                                          &c.tls_failure});
    c.lowest().expires_at(deadline);
    auto [hs_ec] = co_await c.tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (hs_ec) {
      if (hs_ec == beast::error::timeout || hs_ec == asio::error::operation_aborted) {
        co_return connect_error(hs_ec, "TLS handshake with", t.authority, timeout);
      }
      std::string why = hs_ec.message();
      if (!c.tls_failure.empty()) why += " (" + c.tls_failure + ")";
      co_return make_error(Errc::upstream_unreachable,
                           "TLS handshake with " + t.authority + " failed: " + why);
    }
  }
  c.lowest().expires_never();
  co_return Result<void>{};
}

asio::awaitable<Result<ConnectionPtr>> ClientState::connect(const Target& t,
                                                           const ProxyEndpoint* proxy,
                                                           std::string pool_key,
                                                           std::chrono::milliseconds timeout) {
  auto c = std::make_unique<Connection>(io, asio::make_strand(io));
  c->pool_key = std::move(pool_key);
  auto r = co_await asio::co_spawn(c->strand, establish(*c, t, proxy, timeout), asio::use_awaitable);
  if (!r) {
    ARCA_LOG_DEBUG("upstream connect failed: {}", r.error().message);
    co_return r.error();
  }
  ARCA_LOG_DEBUG("upstream connected to {}{}", t.authority,
                 proxy ? " via proxy " + proxy->display : std::string());
  co_return ConnectionPtr(std::move(c));
}

// Writes the request and reads the final response header (skipping 1xx interim responses).
// Runs on the connection's strand.
asio::awaitable<ExchangeOutcome> exchange(Connection& c, const http::request<http::string_body>& req,
                                         std::unique_ptr<Parser>& parser, std::uint64_t max_body,
                                         bool head_request, std::chrono::milliseconds timeout) {
  ExchangeOutcome out;
  c.lowest().expires_after(timeout);
  auto [write_ec, written] = co_await c.with_stream(
      [&](auto& s) { return http::async_write(s, req, use_tuple); });
  if (write_ec) {
    out.ec = write_ec;
    out.write_failed = true;
    co_return out;
  }
  for (int interim = 0;; ++interim) {
    c.lowest().expires_after(timeout);
    auto [read_ec, read] = co_await c.with_stream(
        [&](auto& s) { return http::async_read_header(s, c.buffer, *parser, use_tuple); });
    out.got_response_bytes = out.got_response_bytes || parser->got_some();
    if (read_ec) {
      out.ec = read_ec;
      co_return out;
    }
    const unsigned status = parser->get().result_int();
    // 101 would switch protocols, which we never ask for; treat it as final.
    if (status / 100 != 1 || status == 101 || interim == k_max_interim_responses) break;
    parser = make_parser(max_body, head_request);
  }
  co_return out;
}

class Response final : public UpstreamResponse {
 public:
  Response(ImplPtr client, ConnectionPtr conn, std::unique_ptr<Parser> parser, ResponseHead head,
           std::string authority, std::chrono::milliseconds read_timeout)
      : client_(std::move(client)), conn_(std::move(conn)), parser_(std::move(parser)),
        head_(std::move(head)), authority_(std::move(authority)), read_timeout_(read_timeout) {
    if (parser_->is_done()) finish();
  }

  const ResponseHead& head() const override { return head_; }

  asio::awaitable<Result<std::size_t>> read(std::span<char> buf) override {
    if (error_) co_return *error_;
    if (complete_) co_return std::size_t{0};
    if (buf.empty()) {
      co_return make_error(Errc::invalid_argument, "UpstreamResponse::read needs a buffer");
    }
    try {
      auto r = co_await asio::co_spawn(conn_->strand, read_some(buf), asio::use_awaitable);
      if (!r) fail(r.error());
      co_return r;
    } catch (const std::exception& e) {
      fail(make_error(Errc::internal, std::string("reading upstream body: ") + e.what()));
      co_return *error_;
    }
  }

 private:
  // Runs on the connection's strand: the Beast "HTTP Relay" loop, filling the caller's buffer.
  asio::awaitable<Result<std::size_t>> read_some(std::span<char> buf) {
    Connection& c = *conn_;
    for (;;) {
      if (parser_->is_done()) {
        finish();
        co_return std::size_t{0};
      }
      auto& body = parser_->get().body();
      body.data = buf.data();
      body.size = buf.size();
      c.lowest().expires_after(read_timeout_);
      auto [ec, consumed] = co_await c.with_stream(
          [&](auto& s) { return http::async_read_some(s, c.buffer, *parser_, use_tuple); });
      const std::size_t got = buf.size() - body.size;
      body.data = nullptr;
      body.size = 0;
      if (ec == http::error::need_buffer) ec = {};  // the caller's buffer is full: normal
      if (ec == ssl::error::stream_truncated && parser_->need_eof()) {
        // Many servers close TLS without close_notify; for a close-delimited body the close
        // is the end of the body.
        ec = {};
        parser_->put_eof(ec);
      }
      delivered_ += got;
      if (ec) co_return body_error(ec);
      if (parser_->is_done()) finish();
      if (got > 0) co_return got;
    }
  }

  Error body_error(const error_code& ec) const {
    const std::string where = " reading the body from " + authority_ + " after " +
                              std::to_string(delivered_) + " bytes";
    if (ec == beast::error::timeout) {
      return make_error(Errc::upstream_timeout,
                        "no data within " + ms_text(read_timeout_) + where);
    }
    if (ec == http::error::body_limit) {
      return make_error(Errc::too_large, "body over the limit" + where);
    }
    if (ec == http::error::partial_message || is_connection_closed(ec)) {
      return make_error(Errc::truncated, "connection closed before the end of the body" + where);
    }
    if (ec == asio::error::operation_aborted) {
      return make_error(Errc::cancelled, "cancelled" + where);
    }
    return make_error(Errc::upstream_error, ec.message() + where);
  }

  void fail(Error e) {
    error_ = std::move(e);
    conn_.reset();  // whatever state it is in, it cannot carry another request
  }

  // The body is complete: the connection goes back to the pool if the response allows it.
  void finish() {
    complete_ = true;
    if (!conn_) return;
    const bool reusable = parser_->keep_alive() && conn_->buffer.size() == 0;
    ConnectionPtr c = std::move(conn_);
    if (reusable) {
      c->lowest().expires_never();
      client_->give_back(std::move(c));
    }
  }

  ImplPtr client_;
  ConnectionPtr conn_;
  std::unique_ptr<Parser> parser_;
  ResponseHead head_;
  std::string authority_;  // host:port of the origin, for messages
  std::chrono::milliseconds read_timeout_;
  std::optional<Error> error_;
  bool complete_ = false;
  std::uint64_t delivered_ = 0;
};

ResponseHead make_head(const Parser& parser, const std::string& url) {
  ResponseHead head;
  const auto& msg = parser.get();
  head.status = msg.result_int();
  for (const auto& field : msg) {
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (auto n = parser.content_length()) head.content_length = *n;
  head.url = url;
  return head;
}

Error header_error(const error_code& ec, const Target& t, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return make_error(Errc::upstream_timeout,
                      "no response from " + t.authority + " within " + ms_text(timeout));
  }
  if (ec == asio::error::operation_aborted) {
    return make_error(Errc::cancelled, "request to " + t.authority + " cancelled");
  }
  if (is_connection_closed(ec)) {
    return make_error(Errc::upstream_error,
                      "connection to " + t.authority + " closed before a response");
  }
  return make_error(Errc::upstream_error,
                    "bad response from " + t.authority + ": " + ec.message());
}

// One request to one URL (no redirects), with a retry when a pooled connection turns out dead.
asio::awaitable<Result<std::unique_ptr<UpstreamResponse>>> send_once(
    ImplPtr impl, const Target& t, const std::string& method, const Headers& headers,
    const std::string& body, std::uint64_t max_body, const UpstreamRequest& options) {
  const ProxyEndpoint* proxy = options.direct ? nullptr : impl->proxies.for_target(t);
  if (proxy && !proxy->supported) {
    co_return make_error(Errc::upstream_unreachable,
                         "proxy " + proxy->display + " for " + t.authority +
                             " is not supported (only http:// proxies are)");
  }
  const bool via_http_proxy = proxy && !t.https;
  // Plain-http requests through a proxy all share connections to the proxy.
  std::string pool_key = via_http_proxy ? "proxy:" + proxy->authority
                                        : std::string(t.https ? "https:" : "http:") + t.authority;
  if (proxy && t.https) pool_key += " via " + proxy->authority;

  http::request<http::string_body> req;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  const bool head_request = verb == http::verb::head;
  // Through an http proxy the request line carries the absolute URL (RFC 9112 §3.2.2).
  req.target(via_http_proxy ? t.absolute_form : t.origin_form);
  req.version(11);
  req.set(http::field::host, t.host_header);
  req.set(http::field::user_agent, "arca/" ARCA_VERSION);
  bool has_authorization = false;
  for (const auto& [name, value] : headers) {
    const http::field f = http::string_to_field(name);
    if (f == http::field::content_length || f == http::field::transfer_encoding) continue;
    if (f == http::field::host || f == http::field::user_agent) {
      req.set(f, value);
      continue;
    }
    if (f == http::field::authorization) has_authorization = true;
    req.insert(name, value);
  }
  if (t.basic_auth && !has_authorization) req.set(http::field::authorization, *t.basic_auth);
  if (via_http_proxy && proxy->auth) req.set(http::field::proxy_authorization, *proxy->auth);
  req.body() = body;
  req.prepare_payload();

  const auto read_timeout = options.timeout ? *options.timeout : impl->config.read_timeout;
  const auto connect_timeout = options.timeout ? *options.timeout : impl->config.connect_timeout;
  for (int attempt = 0;; ++attempt) {
    ConnectionPtr conn = attempt == 0 ? impl->take(pool_key) : nullptr;
    if (!conn) {
      auto c = co_await impl->connect(t, proxy, pool_key, connect_timeout);
      if (!c) co_return c.error();
      conn = std::move(*c);
    }
    auto parser = make_parser(max_body, head_request);
    Connection& c = *conn;
    const ExchangeOutcome out = co_await asio::co_spawn(
        c.strand, exchange(c, req, parser, max_body, head_request, read_timeout),
        asio::use_awaitable);
    if (out.ec) {
      // A pooled connection the server closed while idle fails on write or with EOF before
      // any response byte; the request never reached the application, so one retry on a
      // fresh connection is safe (non-idempotent methods only when the write itself failed).
      const bool dead_on_reuse =
          out.write_failed || (!out.got_response_bytes && is_connection_closed(out.ec));
      if (c.reused && attempt == 0 && dead_on_reuse &&
          (out.write_failed || is_idempotent(verb))) {
        ARCA_LOG_DEBUG("pooled connection to {} was closed ({}); retrying on a new one",
                       t.authority, out.ec.message());
        continue;
      }
      if (out.ec == http::error::body_limit) {
        const auto declared = parser->content_length();
        co_return make_error(Errc::too_large,
                             "response from " + t.authority + " declares " +
                                 (declared ? std::to_string(*declared) : std::string("a")) +
                                 " byte body, over the limit of " + std::to_string(max_body));
      }
      co_return header_error(out.ec, t, read_timeout);
    }
    ResponseHead head = make_head(*parser, t.url);
    ARCA_LOG_DEBUG("upstream {} {} -> {}{}", method, log::redact_url(t.url), head.status,
                   c.reused ? " (reused connection)" : "");
    co_return std::unique_ptr<UpstreamResponse>(std::make_unique<Response>(
        impl, std::move(conn), std::move(parser), std::move(head), t.authority, read_timeout));
  }
}

// Reads and discards a small redirect body so the connection can go back to the pool.
asio::awaitable<void> drain(UpstreamResponse& response) {
  std::array<char, 8 * 1024> scratch{};
  std::size_t total = 0;
  while (total <= k_redirect_drain_limit) {
    auto n = co_await response.read(scratch);
    if (!n || *n == 0) co_return;
    total += *n;
  }
}

// Rejects what would corrupt the request framing (CR/LF in a header smuggles another header or
// request), so values taken from upstream documents cannot inject anything.
std::optional<Error> validate_request(const UpstreamRequest& request) {
  const auto is_token = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      return c > 32 && c < 127 && std::string_view("\"(),/:;<=>?@[\\]{}").find(ch) ==
                                         std::string_view::npos;
    });
  };
  const auto is_value = [](std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
  };
  if (!is_token(request.method)) {
    return make_error(Errc::invalid_argument, "invalid HTTP method");
  }
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name) || !is_value(value)) {
      return make_error(Errc::invalid_argument, "invalid request header " +
                                                    (is_token(name) ? name : std::string("name")));
    }
  }
  return std::nullopt;
}

asio::awaitable<Result<std::unique_ptr<UpstreamResponse>>> send_with_redirects(
    ImplPtr impl, UpstreamRequest request, std::uint64_t max_body) {
  auto target = parse_target(request.url);
  if (!target) co_return target.error();
  if (auto invalid = validate_request(request)) co_return *invalid;
  Target t = std::move(*target);
  const bool follow = request.method == "GET" || request.method == "HEAD";
  bool credentials_dropped = false;

  for (unsigned redirects = 0;; ++redirects) {
    if (impl->is_own(t.authority)) {
      co_return make_error(Errc::upstream_error,
                           "refusing to fetch " + log::redact_url(t.url) + ": it is arca itself" +
                               (redirects ? std::string(" (an upstream redirected back into arca)")
                                          : std::string()));
    }
    auto response = co_await send_once(impl, t, request.method, request.headers, request.body,
                                       max_body, request);
    if (!response) co_return response;
    const ResponseHead& head = (*response)->head();
    if (!follow || !is_redirect(head.status)) co_return response;
    const std::string_view location = head.header("location");
    if (location.empty()) co_return response;  // nothing to follow: the caller sees the 3xx
    if (redirects >= impl->config.max_redirects) {
      co_return make_error(Errc::upstream_error,
                           "too many redirects (more than " +
                               std::to_string(impl->config.max_redirects) + ") fetching " +
                               log::redact_url(request.url));
    }
    // Location may be relative (RFC 9110 §10.2.2): resolve it against the current URL.
    auto ref = urls::parse_uri_reference(location);
    urls::url next;
    if (!ref || !urls::resolve(urls::url_view(t.url), *ref, next)) {
      co_return make_error(Errc::upstream_error, "bad redirect location from " + t.authority +
                                                     ": " + log::redact_url(location));
    }
    next.remove_fragment();
    auto next_target = parse_target(next.buffer());
    if (!next_target) {
      co_return make_error(Errc::upstream_error,
                           "unfollowable redirect from " + t.authority + " to " +
                               log::redact_url(next.buffer()));
    }
    co_await drain(**response);
    response->reset();

    Target n = std::move(*next_target);
    if (!same_origin(t, n)) {
      // Credentials are for the origin they were given to; never forward them elsewhere.
      credentials_dropped = true;
      std::erase_if(request.headers,
                    [](const auto& h) { return iequals(h.first, "authorization"); });
    } else if (!n.basic_auth && !credentials_dropped) {
      n.basic_auth = t.basic_auth;
    }
    ARCA_LOG_DEBUG("upstream redirect {} -> {}", log::redact_url(t.url),
                   log::redact_url(n.url));
    t = std::move(n);
  }
}

}  // namespace

struct UpstreamClient::Impl : ClientState {
  using ClientState::ClientState;
};

// --- UpstreamClient ---------------------------------------------------------------------------

UpstreamClient::UpstreamClient(boost::asio::any_io_executor executor,
                               const config::UpstreamClientConfig& config)
    : impl_(std::make_shared<Impl>(std::move(executor), config)) {}

UpstreamClient::~UpstreamClient() = default;

void UpstreamClient::refuse_own_listener(std::string_view host, uint16_t port,
                                         std::string_view public_url) {
  auto& own = impl_->own_authorities;
  const std::string p = ":" + std::to_string(port);
  const std::string h = to_lower(host);
  const bool any = h == "0.0.0.0" || h == "::" || h.empty();
  const bool loopback = any || h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
  if (!any) own.push_back((h.find(':') != std::string::npos ? "[" + h + "]" : h) + p);
  if (loopback) {
    for (const char* l : {"127.0.0.1", "localhost", "[::1]"}) own.push_back(l + p);
  }
  if (!public_url.empty()) {
    if (auto t = parse_target(public_url)) own.push_back(t->authority);
  }
}

asio::awaitable<Result<std::unique_ptr<UpstreamResponse>>> UpstreamClient::send(
    UpstreamRequest request, std::uint64_t max_body) {
  ImplPtr impl = impl_;
  const std::string redacted = log::redact_url(request.url);
  try {
    UpstreamAuthorizer* authorizer = request.authorize ? authorizer_ : nullptr;
    if (authorizer) {
      for (const auto& h : request.headers) {
        if (iequals(h.first, "authorization")) authorizer = nullptr;
      }
    }
    if (!authorizer) {
      co_return co_await send_with_redirects(std::move(impl), std::move(request), max_body);
    }
    auto authorization = co_await authorizer->authorization(request.url);
    if (!authorization) co_return authorization.error();
    if (!*authorization) {
      co_return co_await send_with_redirects(std::move(impl), std::move(request), max_body);
    }
    UpstreamRequest first = request;  // kept for the one retry
    first.headers.emplace_back("Authorization", **authorization);
    auto response = co_await send_with_redirects(impl, std::move(first), max_body);
    if (!response) co_return response;
    const unsigned status = (*response)->head().status;
    if (status != 401 && status != 403) co_return response;
    // The credentials were refused (expired early, revoked): one forced refresh, one retry.
    co_await drain(**response);
    response->reset();
    authorizer->rejected(request.url, **authorization);
    auto again = co_await authorizer->authorization(request.url);
    if (!again) co_return again.error();
    if (!*again) {
      co_return make_error(Errc::upstream_error, "no credentials for " + redacted);
    }
    ARCA_LOG_INFO("upstream {} answered {}: retrying once with refreshed credentials", redacted,
                  status);
    request.headers.emplace_back("Authorization", **again);
    co_return co_await send_with_redirects(std::move(impl), std::move(request), max_body);
  } catch (const std::exception& e) {
    co_return make_error(Errc::internal, "request to " + redacted + " failed: " + e.what());
  }
}

asio::awaitable<Result<BufferedResponse>> UpstreamClient::fetch(UpstreamRequest request,
                                                               std::uint64_t max_body) {
  const bool head_request = request.method == "HEAD";
  auto sent = co_await send(std::move(request), max_body);
  if (!sent) co_return sent.error();
  UpstreamResponse& response = **sent;
  BufferedResponse out;
  out.head = response.head();
  if (out.head.content_length && !head_request) {
    // Bounded by max_body: a larger declared length already failed in send().
    out.body.reserve(static_cast<std::size_t>(std::min(*out.head.content_length, max_body)));
  }
  for (;;) {
    const std::size_t old_size = out.body.size();
    out.body.resize(old_size + k_fetch_chunk);
    auto n = co_await response.read(std::span<char>(out.body.data() + old_size, k_fetch_chunk));
    if (!n) co_return n.error();
    out.body.resize(old_size + *n);
    if (*n == 0) break;
  }
  co_return out;
}

}  // namespace arca::net
