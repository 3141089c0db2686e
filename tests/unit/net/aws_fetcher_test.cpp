#include "net/aws_fetcher.hpp"

#include "auth/credentials.hpp"
#include "auth/token_manager.hpp"
#include "tests/unit/auth/aws_fakes.hpp"
#include "tests/unit/net/upstream_test_server.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <iterator>

namespace {

using namespace arca;
using namespace std::chrono_literals;
using arca::test::OriginServer;
using arca::test::Reply;
namespace http = boost::beast::http;

constexpr const char* k_secret = "imdsSecretKeyimdsSecretKeyimdsSecretKey1";

auth::HeaderList headers_of(const http::request<http::string_body>& req) {
  auth::HeaderList out;
  for (const auto& f : req) {
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  return out;
}

// Keeps the caller's HTTP(S)_PROXY away from the client for the test (the loopback stand-ins
// are reached directly), restoring them afterwards.
struct NoProxyEnv {
  static constexpr const char* k_names[] = {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                            "http_proxy"};
  std::vector<std::optional<std::string>> saved;
  NoProxyEnv() {
    for (const char* name : k_names) {
      const char* v = std::getenv(name);
      saved.push_back(v ? std::optional<std::string>(v) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~NoProxyEnv() {
    for (size_t i = 0; i < std::size(k_names); ++i) {
      if (saved[i]) {
        ::setenv(k_names[i], saved[i]->c_str(), 1);
      }
    }
  }
};

}  // namespace

TEST_SUITE("net::AwsFetcher") {
  TEST_CASE("IMDSv2 credentials and a CodeArtifact token over loopback HTTP") {
    OriginServer imds([](const http::request<http::string_body>& req) {
      std::string target(req.target());
      if (target == "/latest/api/token") {
        if (req.method() != http::verb::put ||
            req["X-aws-ec2-metadata-token-ttl-seconds"].empty()) {
          return Reply{"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n"};
        }
        return Reply{arca::test::ok("S3SS10N")};
      }
      if (req["X-aws-ec2-metadata-token"] != "S3SS10N") {
        return Reply{"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"};
      }
      if (target == "/latest/meta-data/iam/security-credentials/") {
        return Reply{arca::test::ok("role\n")};
      }
      return Reply{arca::test::ok(
          std::string("{\"Code\":\"Success\",\"AccessKeyId\":\"ASIALOOP\","
                      "\"SecretAccessKey\":\"") +
          k_secret + "\",\"Token\":\"sess\",\"Expiration\":\"2099-01-01T00:00:00Z\"}")};
    });
    OriginServer codeartifact([](const http::request<http::string_body>& req) {
      auto headers = headers_of(req);
      std::string target(req.target());
      auto q = target.find('?');
      std::string path = target.substr(0, q);
      std::string query = q == std::string::npos ? "" : target.substr(q + 1);
      auth::IncomingRequest in{std::string_view(req.method_string()), path, query, &headers,
                               req.body()};
      auth::VerifyOptions vo;
      vo.region = "us-east-2";
      auto v = auth::verify(
          in,
          [](std::string_view id) -> std::optional<std::string> {
            if (id == "ASIALOOP") {
              return std::string(k_secret);
            }
            return std::nullopt;
          },
          vo, std::chrono::system_clock::now());
      if (!v || req["X-Amz-Security-Token"] != "sess") {
        return Reply{"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"};
      }
      auto exp = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) + 43200;
      return Reply{arca::test::ok(
          "{\"authorizationToken\":\"loop-token\",\"expiration\":" + std::to_string(exp) + "}")};
    });

    arca::test::FakeEnv env;
    env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] =
        "http://127.0.0.1:" + std::to_string(imds.port());
    env.vars["HOME"] = "/nonexistent";

    NoProxyEnv no_proxy;
    boost::asio::io_context ioc;
    config::UpstreamClientConfig cfg;
    cfg.connect_timeout = 2000ms;
    cfg.read_timeout = 2000ms;
    net::UpstreamClient client(ioc.get_executor(), cfg);
    net::AwsFetcher fetcher(client);
    auto chain = auth::make_default_chain(env.lookup(), fetcher, auth::system_clock());
    auth::TokenManagerOptions o;
    o.domain = "corp";
    o.domain_owner = "111122223333";
    o.region = "us-east-2";
    o.endpoint = "http://127.0.0.1:" + std::to_string(codeartifact.port());
    auth::TokenManager tm(o, fetcher, *chain, auth::system_clock());

    std::optional<Result<std::string>> got;
    boost::asio::co_spawn(ioc, tm.token(), [&](std::exception_ptr e, Result<std::string> r) {
      REQUIRE_FALSE(e);
      got.emplace(std::move(r));
    });
    ioc.run();
    REQUIRE(got);
    REQUIRE_MESSAGE(got->has_value(), got->error().message);
    CHECK(**got == "loop-token");
    CHECK(imds.requests().size() == 3);
    auto seen = codeartifact.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].target ==
          "/v1/authorization-token?domain=corp&domain-owner=111122223333"
          "&duration=43200");
  }

  TEST_CASE("metadata endpoints: never through HTTP_PROXY, about a second to answer") {
    OriginServer hanging([](const http::request<http::string_body>& req) {
      if (std::string(req.target()) == "/fast") return Reply{arca::test::ok("ok")};
      return Reply{"", false, true};  // never answers
    });
    NoProxyEnv no_proxy;
    // A proxy that refuses connections: anything routed through it fails at once.
    ::setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    boost::asio::io_context ioc;
    config::UpstreamClientConfig cfg;
    cfg.connect_timeout = 20000ms;
    cfg.read_timeout = 20000ms;
    net::UpstreamClient client(ioc.get_executor(), cfg);
    ::unsetenv("HTTP_PROXY");
    net::AwsFetcher fetcher(client);
    const std::string base = "http://127.0.0.1:" + std::to_string(hanging.port());

    auto fetch = [&](std::string path, bool metadata) {
      auth::HttpRequest req;
      req.url = base + path;
      req.metadata = metadata;
      std::optional<Result<auth::HttpResponse>> got;
      boost::asio::co_spawn(ioc, fetcher.fetch(std::move(req)),
                            [&](std::exception_ptr e, Result<auth::HttpResponse> r) {
                              REQUIRE_FALSE(e);
                              got.emplace(std::move(r));
                            });
      ioc.restart();
      ioc.run();
      REQUIRE(got);
      return std::move(*got);
    };
    auto via_proxy = fetch("/fast", false);
    REQUIRE_FALSE(via_proxy.has_value());  // an ordinary request goes to the (dead) proxy
    CHECK(via_proxy.error().code == Errc::upstream_unreachable);

    auto direct = fetch("/fast", true);
    REQUIRE_MESSAGE(direct.has_value(), direct.error().message);
    CHECK(direct->status == 200);

    const auto started = std::chrono::steady_clock::now();
    auto slow = fetch("/slow", true);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(slow.has_value());
    CHECK(slow.error().code == Errc::upstream_timeout);
    CHECK(took >= 900ms);
    CHECK(took < 5000ms);  // not the configured 20 s
  }
}
