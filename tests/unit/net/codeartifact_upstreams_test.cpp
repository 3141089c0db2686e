#include "net/codeartifact_upstreams.hpp"

#include "common/digest.hpp"
#include "tests/unit/auth/aws_fakes.hpp"
#include "tests/unit/net/upstream_test_server.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <mutex>

namespace {

using namespace arca;
using namespace arca::net;
using namespace std::chrono_literals;
using arca::test::OriginServer;
using arca::test::Reply;
namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr const char* k_secret = "caUpstreamSecretKeycaUpstreamSecretKey01";

config::UpstreamClientConfig client_config() {
  config::UpstreamClientConfig c;
  c.connect_timeout = 2000ms;
  c.read_timeout = 2000ms;
  return c;
}

template <class T>
T run_on(asio::io_context& ioc, asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(ioc, std::move(a), [&](std::exception_ptr e, T r) {
    error = e;
    if (!e) out.emplace(std::move(r));
  });
  ioc.restart();
  ioc.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

// Hands out "Bearer t1", then "Bearer t2" once t1 was rejected.
class FakeAuthorizer final : public UpstreamAuthorizer {
 public:
  std::string prefix;
  int generation = 1;
  std::vector<std::string> rejections;
  asio::awaitable<Result<std::optional<std::string>>> authorization(std::string url) override {
    if (url.rfind(prefix, 0) != 0) co_return std::optional<std::string>();
    co_return std::optional<std::string>("Bearer t" + std::to_string(generation));
  }
  void rejected(const std::string&, const std::string& authorization) override {
    rejections.push_back(authorization);
    ++generation;
  }
};

Result<BufferedResponse> get(asio::io_context& ioc, UpstreamClient& client, std::string url,
                             Headers headers = {}, bool authorize = true) {
  UpstreamRequest r;
  r.url = std::move(url);
  r.headers = std::move(headers);
  r.authorize = authorize;
  return run_on(ioc, client.fetch(std::move(r), 1 << 20));
}

}  // namespace

TEST_SUITE("net::UpstreamAuthorizer") {
  TEST_CASE("credentials are added, a 401/403 forces one refresh and one retry") {
    std::atomic<int> accept{2};  // the token generation the origin accepts
    OriginServer origin([&](const http::request<http::string_body>& req) {
      if (std::string(req[http::field::authorization]) == "Bearer t" + std::to_string(accept.load())) {
        return Reply{arca::test::ok("fine")};
      }
      return Reply{"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied"};
    });
    asio::io_context ioc;
    UpstreamClient client(ioc.get_executor(), client_config());
    FakeAuthorizer authorizer;
    const std::string base = "http://127.0.0.1:" + std::to_string(origin.port());
    authorizer.prefix = base + "/repo/";
    client.set_authorizer(&authorizer);

    auto r = get(ioc, client, base + "/repo/pkg");
    REQUIRE(r.has_value());
    CHECK(r->head.status == 200);
    CHECK(r->body == "fine");
    auto seen = origin.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].authorization == "Bearer t1");
    CHECK(seen[1].authorization == "Bearer t2");
    CHECK(authorizer.rejections == std::vector<std::string>{"Bearer t1"});

    SUBCASE("a second refusal reaches the caller: no loop") {
      accept = 99;
      auto again = get(ioc, client, base + "/repo/pkg");
      REQUIRE(again.has_value());
      CHECK(again->head.status == 403);
      CHECK(origin.requests().size() == 4);
      CHECK(authorizer.rejections.size() == 2);
    }
    SUBCASE("URLs outside the prefix, requests with their own credentials or authorize=false") {
      CHECK(get(ioc, client, base + "/other")->head.status == 403);
      CHECK(get(ioc, client, base + "/repo/x", {{"Authorization", "Bearer mine"}})->head.status == 403);
      CHECK(get(ioc, client, base + "/repo/x", {}, false)->head.status == 403);
      auto all = origin.requests();
      REQUIRE(all.size() == 5);
      CHECK(all[2].authorization.empty());
      CHECK(all[3].authorization == "Bearer mine");
      CHECK(all[4].authorization.empty());
      CHECK(authorizer.rejections.size() == 1);  // none of them were retried
    }
  }
}

TEST_SUITE("net::CodeArtifactUpstreams") {
  TEST_CASE("endpoints from GetRepositoryEndpoint, Bearer for npm, Basic aws:<token> elsewhere") {
    std::mutex mu;
    int issued = 0;
    std::vector<std::string> endpoint_queries;
    OriginServer service([&](const http::request<http::string_body>& req) {
      const std::string target(req.target());
      const auto q = target.find('?');
      const std::string path = target.substr(0, q);
      const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
      auth::HeaderList headers;
      for (const auto& f : req) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      auth::IncomingRequest in{std::string_view(req.method_string()), path, query, &headers, req.body()};
      auth::VerifyOptions vo;
      vo.region = "eu-west-1";
      if (path.rfind("/v1/", 0) == 0) {
        auto v = auth::verify(
            in,
            [](std::string_view id) -> std::optional<std::string> {
              if (id == "AKIDCAUP") return std::string(k_secret);
              return std::nullopt;
            },
            vo, std::chrono::system_clock::now());
        if (!v) return Reply{"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"};
      }
      std::lock_guard lock(mu);
      if (path == "/v1/repository/endpoint") {
        endpoint_queries.push_back(query);
        const std::string format = query.substr(query.find("format=") + 7, query.find('&', query.find("format=")) - query.find("format=") - 7);
        return Reply{arca::test::ok("{\"repositoryEndpoint\": \"http://" + std::string(req[http::field::host]) +
                                    "/" + format + "/shared\"}")};
      }
      if (path == "/v1/authorization-token") {
        const auto exp = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) + 3600;
        return Reply{arca::test::ok("{\"authorizationToken\": \"tok" + std::to_string(++issued) +
                                    "\", \"expiration\": " + std::to_string(exp) + "}")};
      }
      return Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
    });
    const std::string base = "http://127.0.0.1:" + std::to_string(service.port());

    config::Config cfg;
    config::ExternalConnectionConfig ec;
    ec.name = "corp-shared";
    ec.codeartifact = config::CodeArtifactSourceConfig{"corp", "111122223333", "eu-west-1", "shared", base, 900};
    cfg.external_connections.emplace(ec.name, ec);
    config::ExternalConnectionConfig plain;
    plain.name = "public:npmjs";
    plain.format = "npm";
    plain.url = "http://registry.example/npm";
    cfg.external_connections.emplace(plain.name, plain);

    auto store = cache::Store::open((arca::test::temp_dir("ca-upstreams") / "db").string(), {});
    REQUIRE(store.has_value());
    asio::io_context ioc;
    asio::thread_pool pool(1);
    UpstreamClient client(ioc.get_executor(), client_config());
    arca::test::FakeEnv env;
    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDCAUP";
    env.vars["AWS_SECRET_ACCESS_KEY"] = k_secret;
    env.vars["HOME"] = "/nonexistent";
    CodeArtifactUpstreams upstreams(cfg, client, **store, pool, env.lookup());
    REQUIRE_FALSE(upstreams.empty());

    // Ordinary connections: their configured URL.
    CHECK(*run_on(ioc, upstreams.base_url(plain, "npm")) == "http://registry.example/npm/");
    // Unknown URLs need nothing.
    CHECK_FALSE(*run_on(ioc, upstreams.authorization(base + "/npm/shared/x")));

    CHECK(*run_on(ioc, upstreams.base_url(ec, "npm")) == base + "/npm/shared/");
    CHECK(*run_on(ioc, upstreams.base_url(ec, "pypi")) == base + "/pypi/shared/simple/");
    CHECK(*run_on(ioc, upstreams.base_url(ec, "npm")) == base + "/npm/shared/");  // cached
    REQUIRE(endpoint_queries.size() == 2);
    CHECK(endpoint_queries[0] == "domain=corp&domain-owner=111122223333&format=npm&repository=shared");

    auto npm = run_on(ioc, upstreams.authorization(base + "/npm/shared/pkg/-/pkg-1.0.0.tgz"));
    REQUIRE(npm.has_value());
    CHECK(**npm == "Bearer tok1");
    auto pypi = run_on(ioc, upstreams.authorization(base + "/pypi/shared/simple/x/"));
    CHECK(**pypi == "Basic " + base64_encode(std::string("aws:tok1")));
    CHECK_FALSE(*run_on(ioc, upstreams.authorization(base + "/maven/shared/x")));  // not resolved

    // A refusal of the current token forces one refresh.
    upstreams.rejected(base + "/pypi/shared/simple/x/", **pypi);
    CHECK(**run_on(ioc, upstreams.authorization(base + "/npm/shared/pkg")) == "Bearer tok2");
    CHECK(issued == 2);
    CHECK(upstreams.ready());
    CHECK(upstreams.readiness_text().find("codeartifact corp-shared (corp/shared, eu-west-1): ok") !=
          std::string::npos);
    const std::string metrics = upstreams.metrics_text();
    CHECK(metrics.find("arca_codeartifact_token_refreshes_total{connection=\"corp-shared\",domain=\"corp\","
                       "repository=\"shared\"} 2") != std::string::npos);
    CHECK(metrics.find("tok1") == std::string::npos);
    CHECK(metrics.find("tok2") == std::string::npos);

    SUBCASE("endpoints are remembered across restarts") {
      CodeArtifactUpstreams again(cfg, client, **store, pool, env.lookup());
      again.load_stored_endpoints();
      auto auth = run_on(ioc, again.authorization(base + "/npm/shared/pkg"));
      REQUIRE(auth.has_value());
      REQUIRE(auth->has_value());
      CHECK(**auth == "Bearer tok3");
      CHECK(endpoint_queries.size() == 2);  // no new GetRepositoryEndpoint
    }
    pool.join();
  }
}
