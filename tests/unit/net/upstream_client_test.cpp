#include "net/upstream_client.hpp"

#include "tests/unit/net/upstream_test_server.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/strand.hpp>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace {

using namespace arca;
using namespace arca::net;
using arca::test::OriginServer;
using arca::test::ProxyServer;
using arca::test::Reply;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr uint64_t k_max = 1024 * 1024;

template <class T>
std::string describe(const Result<T>& r) {
  return r ? std::string("ok") : std::string(to_string(r.error().code)) + ": " + r.error().message;
}

// Requires success and shows the error otherwise.
#define REQUIRE_OK(r)       \
  do {                      \
    INFO(describe(r));      \
    REQUIRE((r).has_value()); \
  } while (0)

config::UpstreamClientConfig test_config() {
  config::UpstreamClientConfig c;
  c.connect_timeout = 2000ms;
  c.read_timeout = 2000ms;
  c.max_redirects = 3;
  c.pool_size_per_host = 4;
  return c;
}

// Clears the proxy variables for the test (so the suite is immune to the caller's
// environment) and restores them afterwards.
struct ProxyEnv {
  static constexpr const char* k_names[] = {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                            "http_proxy",  "NO_PROXY",    "no_proxy"};
  std::vector<std::optional<std::string>> saved;
  ProxyEnv() {
    for (const char* name : k_names) {
      const char* v = std::getenv(name);
      saved.push_back(v ? std::optional<std::string>(v) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~ProxyEnv() {
    for (size_t i = 0; i < std::size(k_names); ++i) {
      if (saved[i]) {
        ::setenv(k_names[i], saved[i]->c_str(), 1);
      } else {
        ::unsetenv(k_names[i]);
      }
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
};

// Runs one coroutine against a fresh client on a fresh io_context and returns its result.
template <class F>
auto run(const config::UpstreamClientConfig& cfg, F f) {
  asio::io_context ioc;
  UpstreamClient client(ioc.get_executor(), cfg);
  using R = typename decltype(f(client))::value_type;
  std::optional<R> out;
  std::exception_ptr error;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { out.emplace(co_await f(client)); },
      [&](std::exception_ptr e) { error = e; });
  ioc.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

UpstreamRequest get(std::string url, Headers headers = {}) {
  UpstreamRequest r;
  r.url = std::move(url);
  r.headers = std::move(headers);
  return r;
}

UpstreamRequest request(std::string method, std::string url, std::string body = {},
                        Headers headers = {}) {
  UpstreamRequest r = get(std::move(url), std::move(headers));
  r.method = std::move(method);
  r.body = std::move(body);
  return r;
}

Result<BufferedResponse> fetch_one(const config::UpstreamClientConfig& cfg, std::string url,
                                   uint64_t max_body = k_max) {
  return run(cfg, [&](UpstreamClient& client) {
    return client.fetch(get(std::move(url)), max_body);
  });
}

std::string base_url(const arca::test::ServerThread& server, std::string_view host = "127.0.0.1",
                     std::string_view scheme = "http") {
  return std::string(scheme) + "://" + std::string(host) + ":" + std::to_string(server.port());
}

Reply simple_ok(std::string body) { return Reply{.raw = arca::test::ok(body)}; }

// Self-signed certificates made once per run with the openssl CLI.
struct Certs {
  std::filesystem::path dir;
  std::string local_cert, local_key;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string other_cert, other_key;  // CN=other.example, SAN DNS:other.example only

  static const Certs& get() {
    static const Certs certs = make();
    return certs;
  }

 private:
  static void generate(const std::filesystem::path& dir, const std::string& name,
                       const std::string& cn, const std::string& san) {
    const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                            "-nodes -days 2 -subj /CN=" + cn + " -addext subjectAltName=" + san +
                            " -keyout " + (dir / (name + ".key")).string() + " -out " +
                            (dir / (name + ".pem")).string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl failed: " + cmd);
  }
  static Certs make() {
    Certs c;
    c.dir = arca::test::temp_dir("upstream-tls");
    generate(c.dir, "local", "localhost", "DNS:localhost,IP:127.0.0.1");
    generate(c.dir, "other", "other.example", "DNS:other.example");
    c.local_cert = (c.dir / "local.pem").string();
    c.local_key = (c.dir / "local.key").string();
    c.other_cert = (c.dir / "other.pem").string();
    c.other_key = (c.dir / "other.key").string();
    return c;
  }
};

std::shared_ptr<asio::ssl::context> server_tls(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->use_certificate_chain_file(cert);
  ctx->use_private_key_file(key, asio::ssl::context::pem);
  return ctx;
}

}  // namespace

TEST_SUITE("net::UpstreamClient") {

TEST_CASE_FIXTURE(ProxyEnv, "GET with a Content-Length body, default headers and Basic auth") {
  OriginServer server([](const auto&) { return simple_ok("hello world"); });
  auto url = "http://user:p%40ss@127.0.0.1:" + std::to_string(server.port()) + "/a/b?c=d#frag";
  auto r = fetch_one(test_config(), url);
  REQUIRE_OK(r);
  CHECK(r->head.status == 200);
  CHECK(r->body == "hello world");
  CHECK(r->head.content_length == 11u);
  CHECK(r->head.header("content-length") == "11");
  CHECK(r->head.url == url);
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/a/b?c=d");
  CHECK(seen[0].host == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(seen[0].user_agent == "arca/" ARCA_VERSION);
  CHECK(seen[0].authorization == "Basic dXNlcjpwQHNz");  // base64("user:p@ss")
}

TEST_CASE_FIXTURE(ProxyEnv, "request body, custom headers and non-2xx statuses") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.method() == http::verb::put) {
      return Reply{.raw = "HTTP/1.1 201 Created\r\nContent-Length: " +
                          std::to_string(req.body().size()) + "\r\n\r\n" + req.body()};
    }
    return Reply{.raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nmissing"};
  });
  // (Brace-initialized lists stay out of coroutine bodies: GCC 12 mishandles them there.)
  const Headers headers = {{"Authorization", "Bearer tok"}, {"Accept", "*/*"}};
  auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<std::string>> {
    auto put =
        co_await client.fetch(request("PUT", base_url(server) + "/pkg", "payload", headers), k_max);
    if (!put) co_return put.error();
    auto missing = co_await client.fetch(get(base_url(server) + "/nope"), k_max);
    if (!missing) co_return missing.error();
    co_return std::to_string(put->head.status) + put->body + std::to_string(missing->head.status) +
        missing->body;
  });
  REQUIRE_OK(r);
  CHECK(*r == "201payload404missing");
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].authorization == "Bearer tok");
  CHECK(seen[0].body == "payload");
}

TEST_CASE_FIXTURE(ProxyEnv, "chunked body read in small pieces") {
  OriginServer server([](const auto&) {
    return Reply{.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"};
  });
  auto r = run(test_config(), [&](UpstreamClient& client)
                                  -> asio::awaitable<Result<std::pair<std::string, int>>> {
    auto sent = co_await client.send(get(base_url(server) + "/c"), k_max);
    if (!sent) co_return sent.error();
    auto& response = **sent;
    if (response.head().content_length) co_return make_error(Errc::internal, "unexpected length");
    std::string body;
    int reads = 0;
    std::array<char, 3> buf{};
    for (;;) {
      auto n = co_await response.read(buf);
      if (!n) co_return n.error();
      if (*n == 0) break;
      ++reads;
      body.append(buf.data(), *n);
    }
    // Reading past the end keeps returning 0.
    auto again = co_await response.read(buf);
    if (!again || *again != 0) co_return make_error(Errc::internal, "read after end");
    co_return std::pair{body, reads};
  });
  REQUIRE_OK(r);
  CHECK(r->first == "hello 0123456789abcdef");
  CHECK(r->second >= 8);
}

TEST_CASE_FIXTURE(ProxyEnv, "keep-alive: sequential fetches reuse one connection") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.target() == "/204") return Reply{.raw = "HTTP/1.1 204 No Content\r\n\r\n"};
    if (req.target() == "/304") {
      // Content-Length on a 304 describes the cached representation, not a body.
      return Reply{.raw = "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n"
                          "Content-Length: 100\r\n\r\n"};
    }
    if (req.target() == "/103") {
      return Reply{.raw = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
                          arca::test::ok("hinted")};
    }
    return simple_ok("x");
  });
  auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
    for (int i = 0; i < 3; ++i) {
      auto f = co_await client.fetch(get(base_url(server) + "/k"), k_max);
      if (!f) co_return f.error();
    }
    // HEAD, 204 and 304 have no body, and 1xx interim answers are skipped; all keep the
    // connection.
    auto head = co_await client.fetch(request("HEAD", base_url(server)),
                                      k_max);
    if (!head) co_return head.error();
    if (!head->body.empty() || head->head.content_length != 1u) {
      co_return make_error(Errc::internal, "HEAD body");
    }
    auto empty = co_await client.fetch(get(base_url(server) + "/204"), k_max);
    if (!empty) co_return empty.error();
    if (empty->head.status != 204 || !empty->body.empty()) {
      co_return make_error(Errc::internal, "204");
    }
    auto cached = co_await client.fetch(get(base_url(server) + "/304"), k_max);
    if (!cached) co_return cached.error();
    if (cached->head.status != 304 || cached->head.header("etag") != "\"e\"") {
      co_return make_error(Errc::internal, "304");
    }
    auto hinted = co_await client.fetch(get(base_url(server) + "/103"), k_max);
    if (!hinted) co_return hinted.error();
    if (hinted->head.status != 200 || hinted->body != "hinted") {
      co_return make_error(Errc::internal, "103");
    }
    auto after = co_await client.fetch(get(base_url(server)), k_max);
    if (!after) co_return after.error();
    co_return 0;
  });
  REQUIRE_OK(r);
  CHECK(server.requests().size() == 8);
  CHECK(server.connections() == 1);
}

TEST_CASE_FIXTURE(ProxyEnv, "Connection: close and unread bodies are not pooled") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.target() == "/close") {
      return Reply{.raw = arca::test::ok("bye", "Connection: close\r\n")};
    }
    return simple_ok("0123456789");
  });
  auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
    auto a = co_await client.fetch(get(base_url(server) + "/close"), k_max);
    if (!a) co_return a.error();
    {
      auto partial = co_await client.send(get(base_url(server)), k_max);
      if (!partial) co_return partial.error();
      // Dropped before reading the body: its connection is closed, not pooled.
    }
    auto b = co_await client.fetch(get(base_url(server)), k_max);
    if (!b) co_return b.error();
    co_return 0;
  });
  REQUIRE_OK(r);
  CHECK(server.connections() == 3);
}

TEST_CASE_FIXTURE(ProxyEnv, "pooled connections closed by the server") {
  SUBCASE("closed while idle: not reused") {
    // The server closes after each response without saying so, like an idle timeout would.
    OriginServer server(
        [](const auto&) { return Reply{.raw = arca::test::ok("x"), .close = true}; });
    auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
      for (int i = 0; i < 3; ++i) {
        auto f = co_await client.fetch(get(base_url(server)), k_max);
        if (!f) co_return f.error();
      }
      co_return 0;
    });
    REQUIRE_OK(r);
    CHECK(server.connections() == 3);
    CHECK(server.requests().size() == 3);
  }
  // The second request reaches a reused connection that the server then closes unanswered.
  int count = 0;
  OriginServer server([&count](const auto&) {
    return ++count == 2 ? Reply{.close = true} : simple_ok("x");
  });
  SUBCASE("closed before answering: GET is retried once on a new connection") {
    auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
      for (int i = 0; i < 2; ++i) {
        auto f = co_await client.fetch(get(base_url(server)), k_max);
        if (!f) co_return f.error();
      }
      co_return 0;
    });
    REQUIRE_OK(r);
    CHECK(server.connections() == 2);
    CHECK(server.requests().size() == 3);
  }
  SUBCASE("closed before answering: POST is not replayed") {
    auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
      for (int i = 0; i < 2; ++i) {
        auto f = co_await client.fetch(request("POST", base_url(server), "body"), k_max);
        if (!f) co_return f.error();
      }
      co_return 0;
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::upstream_error);
    CHECK(server.requests().size() == 2);
  }
}

TEST_CASE_FIXTURE(ProxyEnv, "a body cut short is truncated") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.target() == "/chunked") {
      return Reply{.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                   .close = true};
    }
    return Reply{.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", .close = true};
  });
  auto r = fetch_one(test_config(), base_url(server) + "/length");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::truncated);
  auto c = fetch_one(test_config(), base_url(server) + "/chunked");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == Errc::truncated);
}

TEST_CASE_FIXTURE(ProxyEnv, "a close-delimited body ends at the close") {
  OriginServer server([](const auto&) {
    return Reply{.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", .close = true};
  });
  auto r = fetch_one(test_config(), base_url(server));
  REQUIRE_OK(r);
  CHECK(r->body == "until the end");
  CHECK_FALSE(r->head.content_length);
}

TEST_CASE_FIXTURE(ProxyEnv, "timeouts") {
  auto cfg = test_config();
  cfg.read_timeout = 300ms;
  SUBCASE("no response headers") {
    OriginServer server([](const auto&) { return Reply{.hang = true}; });
    const auto start = std::chrono::steady_clock::now();
    auto r = fetch_one(cfg, base_url(server));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::upstream_timeout);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 1500ms);
  }
  SUBCASE("body stalls") {
    OriginServer server([](const auto&) {
      return Reply{.raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
                   .hang_after_write = true};
    });
    auto r = fetch_one(cfg, base_url(server));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::upstream_timeout);
  }
}

TEST_CASE_FIXTURE(ProxyEnv, "connection refused is upstream_unreachable") {
  unsigned short port = 0;
  {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  auto r = fetch_one(test_config(), "http://127.0.0.1:" + std::to_string(port) + "/");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::upstream_unreachable);
}

TEST_CASE_FIXTURE(ProxyEnv, "invalid URLs and headers are invalid_argument") {
  for (std::string url : {"not a url", "ftp://example.com/x", "http:///nohost", "/relative"}) {
    auto r = fetch_one(test_config(), url);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  OriginServer server([](const auto&) { return simple_ok("x"); });
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"X-Evil", "a\r\nInjected: 1"}, {"Bad Name", "v"}, {"", "v"}}) {
    auto r = run(test_config(), [&](UpstreamClient& client) {
      return client.fetch(get(base_url(server), {{name, value}}), k_max);
    });
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  auto bad_method = run(test_config(), [&](UpstreamClient& client) {
    return client.fetch(request("GET /x HTTP/1.1\r\n", base_url(server)), k_max);
  });
  REQUIRE_FALSE(bad_method.has_value());
  CHECK(bad_method.error().code == Errc::invalid_argument);
  CHECK(server.requests().empty());
}

TEST_CASE_FIXTURE(ProxyEnv, "redirects") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.target() == "/old") return Reply{.raw = arca::test::redirect(301, "/mid?x=1")};
    if (req.target() == "/mid?x=1") return Reply{.raw = arca::test::redirect(307, "new")};
    if (req.target() == "/new") return simple_ok("arrived");
    if (req.target() == "/loop") return Reply{.raw = arca::test::redirect(302, "/loop")};
    if (req.target() == "/no-location") {
      return Reply{.raw = "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"};
    }
    return Reply{.raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
  });
  SUBCASE("followed, relative locations resolved") {
    auto r = fetch_one(test_config(), base_url(server) + "/old");
    REQUIRE_OK(r);
    CHECK(r->head.status == 200);
    CHECK(r->body == "arrived");
    CHECK(r->head.url == base_url(server) + "/new");
    CHECK(server.connections() == 1);  // small redirect bodies are drained, connection kept
  }
  SUBCASE("a loop is upstream_error") {
    auto r = fetch_one(test_config(), base_url(server) + "/loop");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::upstream_error);
    CHECK(r.error().message.find("too many redirects") != std::string::npos);
    CHECK(server.requests().size() == test_config().max_redirects + 1);
  }
  SUBCASE("not followed for POST, nor without Location") {
    auto r = run(test_config(), [&](UpstreamClient& client) -> asio::awaitable<Result<int>> {
      auto post = co_await client.fetch(
          request("POST", base_url(server) + "/old", "b"), k_max);
      if (!post) co_return post.error();
      auto bare = co_await client.fetch(get(base_url(server) + "/no-location"),
                                        k_max);
      if (!bare) co_return bare.error();
      co_return static_cast<int>(post->head.status * 1000 + bare->head.status);
    });
    REQUIRE_OK(r);
    CHECK(*r == 301302);
  }
}

TEST_CASE_FIXTURE(ProxyEnv, "Authorization is not forwarded to another host on redirect") {
  unsigned short port = 0;
  OriginServer server([&port](const http::request<http::string_body>& req) {
    if (req.target() == "/same") return Reply{.raw = arca::test::redirect(302, "/landing")};
    if (req.target() == "/elsewhere") {
      return Reply{.raw = arca::test::redirect(
                       302, "http://localhost:" + std::to_string(port) + "/landing")};
    }
    return simple_ok("done");
  });
  port = server.port();
  auto cfg = test_config();
  auto same = run(cfg, [&](UpstreamClient& client) {
    return client.fetch(get("http://u:pw@127.0.0.1:" + std::to_string(port) + "/same"), k_max);
  });
  REQUIRE_OK(same);
  auto other = run(cfg, [&](UpstreamClient& client) {
    return client.fetch(get(base_url(server) + "/elsewhere", {{"authorization", "Bearer secret"}}),
                        k_max);
  });
  REQUIRE_OK(other);
  auto seen = server.requests();
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].authorization == "Basic dTpwdw==");
  CHECK(seen[1].authorization == "Basic dTpwdw==");  // same origin keeps credentials
  CHECK(seen[2].authorization == "Bearer secret");
  CHECK(seen[3].authorization.empty());
  CHECK(seen[3].host == "localhost:" + std::to_string(port));
}

TEST_CASE_FIXTURE(ProxyEnv, "bodies over max_body are too_large") {
  OriginServer server([](const http::request<http::string_body>& req) {
    if (req.target() == "/chunked") {
      return Reply{.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"};
    }
    return simple_ok(std::string(100, 'x'));
  });
  auto declared = fetch_one(test_config(), base_url(server) + "/length", 10);
  REQUIRE_FALSE(declared.has_value());
  CHECK(declared.error().code == Errc::too_large);
  auto chunked = fetch_one(test_config(), base_url(server) + "/chunked", 10);
  REQUIRE_FALSE(chunked.has_value());
  CHECK(chunked.error().code == Errc::too_large);
  auto exact = fetch_one(test_config(), base_url(server) + "/length", 100);
  REQUIRE_OK(exact);
  CHECK(exact->body.size() == 100);
}

TEST_CASE_FIXTURE(ProxyEnv, "concurrent requests from coroutines on several threads") {
  OriginServer server([](const http::request<http::string_body>& req) {
    return simple_ok(std::string(req.target()));
  });
  asio::io_context ioc;
  UpstreamClient client(ioc.get_executor(), test_config());
  std::atomic<int> good{0};
  constexpr int k_workers = 8, k_each = 5;
  for (int w = 0; w < k_workers; ++w) {
    // Half on the bare io_context executor, half on strands of it.
    asio::any_io_executor ex = w % 2 ? asio::any_io_executor(asio::make_strand(ioc))
                                    : asio::any_io_executor(ioc.get_executor());
    asio::co_spawn(
        ex,
        [&, w]() -> asio::awaitable<void> {
          for (int i = 0; i < k_each; ++i) {
            const std::string path = "/" + std::to_string(w) + "/" + std::to_string(i);
            auto r = co_await client.fetch(get(base_url(server) + path), k_max);
            if (r && r->body == path) ++good;
          }
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  std::thread other([&] { ioc.run(); });
  ioc.run();
  other.join();
  CHECK(good == k_workers * k_each);
  CHECK(server.connections() <= k_workers);
}

TEST_CASE_FIXTURE(ProxyEnv, "TLS") {
  const auto& certs = Certs::get();
  SUBCASE("trusted through ca_file, by IP and by name") {
    OriginServer server([](const auto&) { return simple_ok("secure"); },
                        server_tls(certs.local_cert, certs.local_key));
    auto cfg = test_config();
    cfg.ca_file = certs.local_cert;
    const std::vector<std::string> hosts = {"127.0.0.1", "localhost", "127.0.0.1"};
    auto r = run(cfg, [&](UpstreamClient& client) -> asio::awaitable<Result<std::string>> {
      std::string bodies;
      for (const auto& host : hosts) {
        auto f = co_await client.fetch(
            get(base_url(server, host, "https") + "/s"), k_max);
        if (!f) co_return f.error();
        bodies += f->body;
      }
      co_return bodies;
    });
    REQUIRE_OK(r);
    CHECK(*r == "securesecuresecure");
    CHECK(server.connections() == 2);  // the 127.0.0.1 connection was reused
    CHECK(server.requests().at(1).host == "localhost:" + std::to_string(server.port()));
  }
  SUBCASE("untrusted certificate") {
    OriginServer server([](const auto&) { return simple_ok("secure"); },
                        server_tls(certs.local_cert, certs.local_key));
    auto r = fetch_one(test_config(), base_url(server, "127.0.0.1", "https"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::upstream_unreachable);
    CHECK(r.error().message.find("TLS handshake with 127.0.0.1:") != std::string::npos);
    CHECK(r.error().message.find("certificate verify failed") != std::string::npos);
    CHECK(server.requests().empty());
  }
  SUBCASE("certificate for another host name") {
    OriginServer server([](const auto&) { return simple_ok("secure"); },
                        server_tls(certs.other_cert, certs.other_key));
    auto cfg = test_config();
    cfg.ca_file = certs.other_cert;  // trusted chain, wrong name
    for (auto host : {"127.0.0.1", "localhost"}) {
      auto r = fetch_one(cfg, base_url(server, host, "https"));
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == Errc::upstream_unreachable);
      CHECK(r.error().message.find("does not match host name") != std::string::npos);
    }
    CHECK(server.requests().empty());
  }
  SUBCASE("an unreadable ca_file is a startup error") {
    auto cfg = test_config();
    cfg.ca_file = (certs.dir / "missing.pem").string();
    asio::io_context ioc;
    CHECK_THROWS_AS(UpstreamClient(ioc.get_executor(), cfg), config::ConfigError);
  }
}

TEST_CASE_FIXTURE(ProxyEnv, "HTTPS_PROXY tunnels with CONNECT; NO_PROXY bypasses it") {
  const auto& certs = Certs::get();
  OriginServer server([](const auto&) { return simple_ok("tunneled"); },
                      server_tls(certs.local_cert, certs.local_key));
  ProxyServer proxy;
  auto cfg = test_config();
  cfg.ca_file = certs.local_cert;
  const std::string url = base_url(server, "127.0.0.1", "https") + "/t";

  set("HTTPS_PROXY", "http://pu:pp@127.0.0.1:" + std::to_string(proxy.port()));
  auto r = run(cfg, [&](UpstreamClient& client) -> asio::awaitable<Result<std::string>> {
    std::string bodies;
    for (int i = 0; i < 2; ++i) {
      auto f = co_await client.fetch(get(url), k_max);
      if (!f) co_return f.error();
      bodies += f->body;
    }
    co_return bodies;
  });
  REQUIRE_OK(r);
  CHECK(*r == "tunneledtunneled");
  CHECK(proxy.connects() == 1);  // the tunnel was pooled and reused
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0].target == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(proxy.requests()[0].authorization == "Basic cHU6cHA=");  // Proxy-Authorization
  CHECK(server.requests().size() == 2);

  for (std::string no_proxy : {"127.0.0.1", "example.com, .0.0.1", "*"}) {
    CAPTURE(no_proxy);
    set("NO_PROXY", no_proxy);
    auto direct = run(cfg, [&](UpstreamClient& client) {
      return client.fetch(get(url), k_max);
    });
    REQUIRE_OK(direct);
    CHECK(direct->body == "tunneled");
    CHECK(proxy.connects() == 1);
  }
  set("NO_PROXY", "other.example,localhost");
  auto proxied = fetch_one(cfg, url);
  REQUIRE_OK(proxied);
  CHECK(proxy.connects() == 2);
}

TEST_CASE_FIXTURE(ProxyEnv, "HTTP_PROXY gets absolute-form requests; refused CONNECT") {
  ProxyServer proxy;
  set("HTTP_PROXY", "127.0.0.1:" + std::to_string(proxy.port()));  // no scheme: http://
  auto r = fetch_one(test_config(), "http://registry.invalid:8080/pkg?x=1");
  REQUIRE_OK(r);
  CHECK(r->body == "proxied");
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0].method == "GET");
  CHECK(proxy.requests()[0].target == "http://registry.invalid:8080/pkg?x=1");
  CHECK(proxy.requests()[0].host == "registry.invalid:8080");

  // The test proxy answers 502 when it cannot reach the CONNECT target.
  unsigned short closed_port = 0;
  {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  set("https_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  auto refused = fetch_one(test_config(), "https://127.0.0.1:" + std::to_string(closed_port));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Errc::upstream_unreachable);
  CHECK(refused.error().message.find("502") != std::string::npos);
}

}  // TEST_SUITE
