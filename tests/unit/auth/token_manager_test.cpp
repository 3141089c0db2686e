#include "auth/token_manager.hpp"

#include "tests/unit/auth/aws_fakes.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

using namespace arca;
using namespace arca::auth;
using arca::test::FakeClock;
using arca::test::FakeFetcher;
using arca::test::respond;
using arca::test::run_sync;

namespace {

constexpr const char* k_secret = "tokenTestSecretKeytokenTestSecretKey0001";

class StaticProvider final : public CredentialsProvider {
 public:
  Result<AwsCredentials> answer = AwsCredentials{{"AKIDCA", k_secret, ""}, std::nullopt, "static"};
  std::string_view name() const override { return "static"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override { co_return answer; }
};

std::string token_json(const std::string& token, int64_t expiration) {
  return "{\"authorizationToken\": \"" + token +
         "\", \"expiration\": " + std::to_string(expiration) + "}";
}

int64_t unix_of(TimePoint t) { return std::chrono::system_clock::to_time_t(t); }

struct Fixture {
  FakeClock clock;
  FakeFetcher http;
  StaticProvider creds;
  int issued = 0;
  std::chrono::seconds lifetime{43200};
  TokenManagerOptions options() {
    TokenManagerOptions o;
    o.domain = "corp";
    o.domain_owner = "111122223333";
    o.region = "eu-west-1";
    o.endpoint = "http://127.0.0.1:9/";
    return o;
  }
  // A stand-in CodeArtifact that checks the signature and issues tok-1, tok-2, ...
  void serve() {
    http.handler = [this](const HttpRequest& r) -> Result<HttpResponse> {
      HeaderList headers = r.headers;
      std::string path = arca::test::url_path(r.url);
      std::string query = arca::test::url_query(r.url);
      IncomingRequest in{r.method, path, query, &headers, r.body};
      VerifyOptions vo;
      vo.region = "eu-west-1";
      auto v = verify(
          in,
          [](std::string_view id) -> std::optional<std::string> {
            if (id == "AKIDCA") {
              return std::string(k_secret);
            }
            return std::nullopt;
          },
          vo, clock.now);
      if (!v) {
        return respond(403, "{\"message\": \"" + v.failure.message + "\"}");
      }
      ++issued;
      return respond(200,
                     token_json("tok-" + std::to_string(issued), unix_of(clock.now + lifetime)));
    };
  }
};

}  // namespace

TEST_SUITE("auth::TokenManager") {
  TEST_CASE("refresh rule: 25% or one hour left, whichever comes first") {
    const TimePoint t0 = std::chrono::system_clock::from_time_t(1'800'000'000);
    using std::chrono::hours;
    using std::chrono::minutes;
    CHECK(refresh_time(t0, t0 + hours(12)) == t0 + hours(9));       // 3 h (25%) left
    CHECK(refresh_time(t0, t0 + hours(2)) == t0 + hours(1));        // 1 h left
    CHECK(refresh_time(t0, t0 + hours(4)) == t0 + hours(3));        // both 1 h
    CHECK(refresh_time(t0, t0 + minutes(30)) == t0 + minutes(15));  // 1 h capped at half
    CHECK(refresh_time(t0, t0) == t0);
  }

  TEST_CASE("fetches a signed token, reuses it, refreshes on schedule") {
    Fixture f;
    f.serve();
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock(), [] { return 0.0; });
    CHECK(tm.endpoint() == "http://127.0.0.1:9");
    auto t = run_sync(tm.token());
    REQUIRE_MESSAGE(t, t.error().message);
    CHECK(*t == "tok-1");
    REQUIRE(f.http.requests.size() == 1);
    const auto& r = f.http.requests[0];
    CHECK(r.method == "POST");
    CHECK(r.url ==
          "http://127.0.0.1:9/v1/authorization-token?domain=corp&domain-owner=111122223333"
          "&duration=43200");
    auto auth = find_header(r.headers, "Authorization");
    REQUIRE(auth);
    CHECK(auth->find("/eu-west-1/codeartifact/aws4_request") != std::string::npos);

    auto s = tm.state();
    CHECK(s.has_token);
    CHECK(*s.expires_at == f.clock.now + std::chrono::hours(12));
    CHECK(*s.refresh_at == f.clock.now + std::chrono::hours(9));
    CHECK(*s.last_refresh == f.clock.now);
    CHECK(s.refreshes == 1);

    f.clock.now += std::chrono::hours(9) - std::chrono::seconds(1);
    CHECK(*run_sync(tm.token()) == "tok-1");
    CHECK(f.http.requests.size() == 1);
    f.clock.now += std::chrono::seconds(1);
    CHECK(*run_sync(tm.token()) == "tok-2");
    CHECK(f.http.requests.size() == 2);

    SUBCASE("a configured duration") {
      auto o = f.options();
      o.duration_seconds = 900;
      f.lifetime = std::chrono::seconds(900);
      TokenManager short_tm(o, f.http, f.creds, f.clock.clock());
      CHECK(*run_sync(short_tm.token()) == "tok-3");
      CHECK(f.http.requests.back().url.find("&duration=900") != std::string::npos);
      CHECK(*short_tm.state().refresh_at == f.clock.now + std::chrono::seconds(450));
    }
  }

  TEST_CASE("single flight: concurrent callers share one request") {
    Fixture f;
    f.serve();
    f.http.yields = 5;
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());
    boost::asio::io_context ioc;
    std::vector<std::string> got;
    int errors = 0;
    for (int i = 0; i < 20; ++i) {
      boost::asio::co_spawn(ioc, tm.token(), [&](std::exception_ptr e, Result<std::string> r) {
        if (e || !r) {
          ++errors;
        } else {
          got.push_back(*r);
        }
      });
    }
    ioc.run();
    CHECK(errors == 0);
    CHECK(got.size() == 20);
    CHECK(f.http.requests.size() == 1);
    for (const auto& g : got) {
      CHECK(g == "tok-1");
    }

    // Refresh time: again one request for all of them.
    f.clock.now += std::chrono::hours(10);
    got.clear();
    boost::asio::io_context ioc2;
    for (int i = 0; i < 10; ++i) {
      boost::asio::co_spawn(ioc2, tm.token(), [&](std::exception_ptr e, Result<std::string> r) {
        if (!e && r) {
          got.push_back(*r);
        }
      });
    }
    ioc2.run();
    CHECK(f.http.requests.size() == 2);
    CHECK(got.size() == 10);
    // The refreshing caller gets the new token; the others did not wait for it: the current
    // token is still valid, so they got that at once.
    CHECK(std::count(got.begin(), got.end(), "tok-2") == 1);
    CHECK(std::count(got.begin(), got.end(), "tok-1") == 9);
    CHECK(got.back() == "tok-2");
    CHECK(*run_sync(tm.token()) == "tok-2");
    CHECK(f.http.requests.size() == 2);
  }

  TEST_CASE("single flight across threads") {
    Fixture f;
    f.serve();
    f.http.yields = 20;
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());
    boost::asio::io_context ioc;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    for (int i = 0; i < 64; ++i) {
      boost::asio::co_spawn(ioc, tm.token(), [&](std::exception_ptr e, Result<std::string> r) {
        if (!e && r && *r == "tok-1") {
          ++ok;
        } else {
          ++failed;
        }
      });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] { ioc.run(); });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(ok == 64);
    CHECK(failed == 0);
    CHECK(f.http.requests.size() == 1);
  }

  TEST_CASE("backoff on failure while the current token stays in use") {
    Fixture f;
    f.serve();
    double jitter = 0.0;
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock(), [&] { return jitter; });
    CHECK(*run_sync(tm.token()) == "tok-1");

    f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> {
      return respond(500, "{\"message\": \"internal\"}");
    };
    f.clock.now += std::chrono::hours(9);     // due
    CHECK(*run_sync(tm.token()) == "tok-1");  // refresh failed, current token still valid
    CHECK(f.http.requests.size() == 2);
    auto s = tm.state();
    CHECK(s.failures == 1);
    CHECK(s.consecutive_failures == 1);
    CHECK(s.last_error.find("HTTP 500") != std::string::npos);
    REQUIRE(s.next_attempt);
    CHECK(*s.next_attempt == f.clock.now + std::chrono::seconds(1));  // 2 s * (0.5 + 0)

    CHECK(*run_sync(tm.token()) == "tok-1");  // within backoff: no request
    CHECK(f.http.requests.size() == 2);

    jitter = 1.0;
    f.clock.now += std::chrono::seconds(1);
    CHECK(*run_sync(tm.token()) == "tok-1");  // second failure
    CHECK(f.http.requests.size() == 3);
    CHECK(*tm.state().next_attempt == f.clock.now + std::chrono::seconds(4));  // 2 * 2 * 1.0

    f.clock.now += std::chrono::seconds(4);
    CHECK(*run_sync(tm.token()) == "tok-1");  // third failure: 8 s
    CHECK(*tm.state().next_attempt == f.clock.now + std::chrono::seconds(8));
    CHECK(tm.state().failures == 3);

    f.serve();
    f.clock.now += std::chrono::seconds(8);
    CHECK(*run_sync(tm.token()) == "tok-2");
    s = tm.state();
    CHECK(s.consecutive_failures == 0);
    CHECK(s.failures == 3);
    CHECK_FALSE(s.next_attempt);
    CHECK(s.last_error.empty());

    SUBCASE("once the token expired the failure is returned") {
      f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> {
        return make_error(Errc::upstream_unreachable, "connection refused");
      };
      f.clock.now += std::chrono::hours(12);
      auto e = run_sync(tm.token());
      REQUIRE_FALSE(e);
      CHECK(e.error().code == Errc::upstream_unreachable);
      CHECK(e.error().message.find("connection refused") != std::string::npos);
      const auto requests = f.http.requests.size();
      auto again = run_sync(tm.token());  // within backoff: same error, no request
      REQUIRE_FALSE(again);
      CHECK(f.http.requests.size() == requests);
    }
    SUBCASE("backoff is capped") {
      f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> { return respond(503, ""); };
      f.clock.now += std::chrono::hours(9);
      for (int i = 0; i < 12; ++i) {
        (void)run_sync(tm.token());
        f.clock.now = *tm.state().next_attempt;
      }
      (void)run_sync(tm.token());
      CHECK(*tm.state().next_attempt - f.clock.now == std::chrono::seconds(300));
    }
  }

  TEST_CASE("the backoff of a short-lived token is capped at a quarter of its lifetime") {
    Fixture f;
    f.lifetime = std::chrono::seconds(8);
    f.serve();
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock(), [] { return 1.0; });
    CHECK(*run_sync(tm.token()) == "tok-1");
    f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> {
      return make_error(Errc::upstream_unreachable, "connection refused");
    };
    f.clock.now += std::chrono::seconds(60);  // expired long ago
    for (int i = 0; i < 6; ++i) {
      REQUIRE_FALSE(run_sync(tm.token()));
      REQUIRE(tm.state().next_attempt);
      // 2 s, then capped at 8 s / 4 = 2 s instead of doubling to 64 s.
      CHECK(*tm.state().next_attempt - f.clock.now == std::chrono::seconds(2));
      f.clock.now = *tm.state().next_attempt;
    }
    f.serve();
    CHECK(*run_sync(tm.token()) == "tok-2");  // recovers at the next attempt
  }

  TEST_CASE("invalidate forces one refresh") {
    Fixture f;
    f.serve();
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());
    CHECK(*run_sync(tm.token()) == "tok-1");
    tm.invalidate("tok-1");
    CHECK(*run_sync(tm.token()) == "tok-2");
    CHECK(*run_sync(tm.token()) == "tok-2");
    CHECK(f.http.requests.size() == 2);

    tm.invalidate("tok-1");  // a stale rejection: another caller already refreshed
    CHECK(*run_sync(tm.token()) == "tok-2");
    CHECK(f.http.requests.size() == 2);

    SUBCASE("a failed forced refresh does not fall back to the rejected token") {
      f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> {
        return respond(403, "{\"message\": \"User is not authorized\"}");
      };
      tm.invalidate();
      auto e = run_sync(tm.token());
      REQUIRE_FALSE(e);
      CHECK(e.error().code == Errc::forbidden);
      CHECK(e.error().message.find("User is not authorized") != std::string::npos);
      CHECK(e.error().message.find("domain corp") != std::string::npos);
    }
  }

  TEST_CASE("clock skew: a service 20 minutes ahead refuses the signature, clearly") {
    Fixture f;
    f.http.handler = [&f](const HttpRequest& r) -> Result<HttpResponse> {
      HeaderList headers = r.headers;
      std::string path = arca::test::url_path(r.url);
      std::string query = arca::test::url_query(r.url);
      IncomingRequest in{r.method, path, query, &headers, r.body};
      auto v = verify(
          in, [](std::string_view) -> std::optional<std::string> { return std::string(k_secret); },
          VerifyOptions{}, f.clock.now + std::chrono::minutes(20));
      REQUIRE_FALSE(v);
      HttpResponse out = respond(403, "{\"message\": \"" + v.failure.message + "\"}");
      out.headers.emplace_back("x-amzn-ErrorType", v.failure.type + ":http://internal.amazon.com/");
      return out;
    };
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());
    auto r = run_sync(tm.token());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::forbidden);
    CHECK(r.error().message.find("HTTP 403 (InvalidSignatureException: ") != std::string::npos);
    CHECK(r.error().message.find("with credentials from static") != std::string::npos);
    CHECK(r.error().message.find(k_secret) == std::string::npos);
    CHECK(tm.state().last_error == r.error().message);
  }

  TEST_CASE("malformed token responses") {
    Fixture f;
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());
    const int64_t later = unix_of(f.clock.now) + 3600;
    struct Case {
      std::string body;
      std::string expect;
    };
    std::vector<Case> cases{
        {"not json", "invalid JSON"},
        {"[1]", "invalid JSON"},
        {"{\"expiration\": " + std::to_string(later) + "}", "no authorizationToken"},
        {"{\"authorizationToken\": 5, \"expiration\": " + std::to_string(later) + "}",
         "no authorizationToken"},
        {"{\"authorizationToken\": \"\", \"expiration\": " + std::to_string(later) + "}",
         "no authorizationToken"},
        {"{\"authorizationToken\": \"SECRET-TOKEN\"}", "no valid expiration"},
        {"{\"authorizationToken\": \"SECRET-TOKEN\", \"expiration\": \"soon\"}",
         "no valid expiration"},
        {"{\"authorizationToken\": \"SECRET-TOKEN\", \"expiration\": 1e300}",
         "no valid expiration"},
        {"{\"authorizationToken\": \"SECRET-TOKEN\", \"expiration\": " +
             std::to_string(unix_of(f.clock.now) - 1) + "}",
         "already expired"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.body);
      TokenManager fresh(f.options(), f.http, f.creds, f.clock.clock());
      std::string body = c.body;
      f.http.handler = [body](const HttpRequest&) -> Result<HttpResponse> {
        return respond(200, body);
      };
      auto r = run_sync(fresh.token());
      REQUIRE_FALSE(r);
      CHECK(r.error().code == Errc::upstream_error);
      CHECK(r.error().message.find(c.expect) != std::string::npos);
      CHECK(r.error().message.find("SECRET-TOKEN") == std::string::npos);
      CHECK(fresh.state().failures == 1);
    }

    SUBCASE("ISO 8601 and fractional expirations are accepted") {
      f.http.handler = [](const HttpRequest&) -> Result<HttpResponse> {
        return respond(200,
                       "{\"authorizationToken\": \"t\", \"expiration\": "
                       "\"2027-01-15T20:00:00Z\"}");
      };
      TokenManager iso(f.options(), f.http, f.creds, f.clock.clock());
      CHECK(*run_sync(iso.token()) == "t");
      CHECK(*iso.state().expires_at == f.clock.now + std::chrono::hours(12));
      f.http.handler = [&](const HttpRequest&) -> Result<HttpResponse> {
        return respond(200, "{\"authorizationToken\": \"t\", \"expiration\": " +
                                std::to_string(unix_of(f.clock.now) + 7200) + ".5}");
      };
      TokenManager frac(f.options(), f.http, f.creds, f.clock.clock());
      CHECK(*run_sync(frac.token()) == "t");
      CHECK(*frac.state().expires_at ==
            f.clock.now + std::chrono::seconds(7200) + std::chrono::milliseconds(500));
    }
  }

  TEST_CASE("credential problems: provider errors, expired credentials, no secrets") {
    Fixture f;
    f.serve();
    TokenManager tm(f.options(), f.http, f.creds, f.clock.clock());

    f.creds.answer = make_error(Errc::unauthorized, "no AWS credentials: environment: not set");
    auto none = run_sync(tm.token());
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::unauthorized);
    CHECK(none.error().message.find("environment: not set") != std::string::npos);
    CHECK(f.http.requests.empty());

    AwsCredentials expired{{"AKIDCA", k_secret, "session"}, f.clock.now, "profile"};
    f.creds.answer = expired;
    TokenManager tm2(f.options(), f.http, f.creds, f.clock.clock());
    auto old = run_sync(tm2.token());
    REQUIRE_FALSE(old);
    CHECK(old.error().message.find("from profile have expired") != std::string::npos);
    CHECK(f.http.requests.empty());

    f.creds.answer = AwsCredentials{{"AKIDCA", "wrong-secret-value", ""}, std::nullopt, "env"};
    TokenManager tm3(f.options(), f.http, f.creds, f.clock.clock());
    auto bad = run_sync(tm3.token());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::forbidden);
    CHECK(bad.error().message.find("HTTP 403") != std::string::npos);
    CHECK(bad.error().message.find("wrong-secret-value") == std::string::npos);
    CHECK(bad.error().message.find(k_secret) == std::string::npos);
  }
}
