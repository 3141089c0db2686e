#include "auth/credentials.hpp"

#include "tests/unit/auth/aws_fakes.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <ostream>

namespace arca::auth {
// For doctest's expression printing; never the secret.
inline std::ostream& operator<<(std::ostream& os, const AwsCredentials& c) {
  return os << c.provider << ":" << c.keys.access_key_id;
}
}  // namespace arca::auth

using namespace arca;
using namespace arca::auth;
using arca::test::FakeClock;
using arca::test::FakeEnv;
using arca::test::FakeFetcher;
using arca::test::respond;
using arca::test::run_sync;

namespace {

constexpr const char* k_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* k_source_secret = "SOURCEsecretSOURCEsecretSOURCEsecret0001";

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string sts_xml(const std::string& action, const std::string& key, const std::string& exp) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action +
         "Result><Credentials><AccessKeyId>" + key +
         "</AccessKeyId><SecretAccessKey>assumedSecret</SecretAccessKey><SessionToken>"
         "assumedSession</SessionToken><Expiration>" +
         exp + "</Expiration></Credentials></" + action + "Result></" + action + "Response>";
}

std::string sts_error(const std::string& code, const std::string& message) {
  return "<ErrorResponse><Error><Type>Sender</Type><Code>" + code + "</Code><Message>" + message +
         "</Message></Error></ErrorResponse>";
}

// A provider with canned answers, counting calls.
class CannedProvider final : public CredentialsProvider {
 public:
  CannedProvider(std::string name, Result<AwsCredentials> answer)
      : name_(std::move(name)), answer_(std::move(answer)) {}
  std::string_view name() const override { return name_; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override {
    ++calls;
    for (int i = 0; i < yields; ++i) {
      auto ex = co_await boost::asio::this_coro::executor;
      co_await boost::asio::post(ex, boost::asio::use_awaitable);
    }
    co_return answer_;
  }
  int yields = 0;
  std::string name_;
  Result<AwsCredentials> answer_;
  int calls = 0;
};

AwsCredentials creds(std::string id, std::optional<TimePoint> exp = std::nullopt) {
  AwsCredentials c;
  c.keys = {std::move(id), k_secret, ""};
  c.expiration = exp;
  c.provider = "canned";
  return c;
}

}  // namespace

TEST_SUITE("auth::credentials") {
  TEST_CASE("parse_iso8601") {
    auto t = parse_iso8601("2027-01-15T08:00:00Z");
    REQUIRE(t);
    CHECK(std::chrono::system_clock::to_time_t(*t) == 1'800'000'000);
    auto frac = parse_iso8601("2027-01-15T08:00:00.123Z");
    REQUIRE(frac);
    CHECK(std::chrono::system_clock::to_time_t(*frac) == 1'800'000'000);
    auto offset = parse_iso8601("2027-01-15T09:30:00+01:30");
    REQUIRE(offset);
    CHECK(std::chrono::system_clock::to_time_t(*offset) == 1'800'000'000);
    CHECK_FALSE(parse_iso8601("2027-01-15"));
    CHECK_FALSE(parse_iso8601("2027-13-15T08:00:00Z"));
    CHECK_FALSE(parse_iso8601("2027-01-15T08:00:00"));
    CHECK_FALSE(parse_iso8601("garbage-garbage-garbage"));
  }

  TEST_CASE("parse_ini") {
    auto ini = parse_ini(
        "# comment\n[default]\naws_access_key_id = AKID ; inline\nregion=eu-west-1\n"
        "s3 =\n  max_concurrent_requests = 20\n[ profile   dev ]\nRole_Arn = arn:x#y\n"
        "[default]\nregion = us-east-2\n");
    const auto* d = ini.section("default");
    REQUIRE(d);
    REQUIRE(d->size() == 3);
    CHECK((*d)[0] == std::pair<std::string, std::string>{"aws_access_key_id", "AKID"});
    CHECK((*d)[1].second == "us-east-2");  // a repeated section merges, later keys win
    CHECK((*d)[2].first == "s3");
    const auto* dev = ini.section("profile dev");
    REQUIRE(dev);
    CHECK(dev->at(0) == std::pair<std::string, std::string>{"role_arn", "arn:x#y"});
    CHECK_FALSE(ini.section("dev"));
  }

  TEST_CASE("environment provider") {
    FakeEnv env;
    EnvProvider p(env.lookup());
    auto none = run_sync(p.resolve());
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::not_found);

    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    auto partial = run_sync(p.resolve());
    REQUIRE_FALSE(partial);
    CHECK(partial.error().code == Errc::invalid_argument);
    CHECK(partial.error().message.find("environment") == 0);

    env.vars["AWS_SECRET_ACCESS_KEY"] = k_secret;
    env.vars["AWS_SESSION_TOKEN"] = "sessiontoken";
    auto ok = run_sync(p.resolve());
    REQUIRE(ok);
    CHECK(ok->keys.access_key_id == "AKIDENV");
    CHECK(ok->keys.secret_access_key == k_secret);
    CHECK(ok->keys.session_token == "sessiontoken");
    CHECK_FALSE(ok->expiration);
    CHECK(ok->provider == "environment");

    env.vars.erase("AWS_ACCESS_KEY_ID");
    auto other = run_sync(p.resolve());
    REQUIRE_FALSE(other);
    CHECK(other.error().message.find(k_secret) == std::string::npos);
  }

  TEST_CASE("profile: static keys, AWS_PROFILE, config and credentials files, region") {
    auto dir = arca::test::temp_dir("aws-profile");
    write(dir / "config",
          "[default]\nregion = us-west-2\n[profile dev]\nregion = eu-central-1\n"
          "aws_access_key_id = FROMCONFIG\naws_secret_access_key = configsecret\n");
    write(dir / "credentials", "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = " +
                                   std::string(k_secret) + "\naws_session_token = tok\n");
    FakeEnv env;
    env.vars["AWS_CONFIG_FILE"] = (dir / "config").string();
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "credentials").string();
    FakeFetcher http;
    FakeClock clock;
    ProfileProvider p(env.lookup(), http, clock.clock());

    auto def = run_sync(p.resolve());
    REQUIRE_FALSE(def);
    CHECK(def.error().code == Errc::not_found);  // default has only a region
    CHECK(resolve_region("", env.lookup()) == "us-west-2");

    env.vars["AWS_PROFILE"] = "dev";
    auto dev = run_sync(p.resolve());
    REQUIRE(dev);
    CHECK(dev->keys.access_key_id == "AKIDDEV");  // credentials file wins over config
    CHECK(dev->keys.secret_access_key == k_secret);
    CHECK(dev->keys.session_token == "tok");
    CHECK(resolve_region("", env.lookup()) == "eu-central-1");
    env.vars["AWS_DEFAULT_REGION"] = "ap-south-1";
    CHECK(resolve_region("", env.lookup()) == "ap-south-1");
    env.vars["AWS_REGION"] = "sa-east-1";
    CHECK(resolve_region("", env.lookup()) == "sa-east-1");
    CHECK(resolve_region("us-east-1", env.lookup()) == "us-east-1");

    env.vars["AWS_PROFILE"] = "missing";
    auto missing = run_sync(p.resolve());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::not_found);
    CHECK(http.requests.empty());
  }

  TEST_CASE("profile: role_arn with source_profile calls STS AssumeRole signed by the source") {
    auto dir = arca::test::temp_dir("aws-role");
    write(dir / "config",
          "[profile deploy]\nrole_arn = arn:aws:iam::111122223333:role/deploy\n"
          "source_profile = base\nregion = eu-west-1\nexternal_id = ext-1\n"
          "role_session_name = arca-test\n"
          "[profile loop]\nrole_arn = arn:aws:iam::111122223333:role/x\nsource_profile = loop2\n"
          "[profile loop2]\nrole_arn = arn:aws:iam::111122223333:role/y\nsource_profile = loop\n");
    write(dir / "credentials", "[base]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = " +
                                   std::string(k_source_secret) + "\n");
    FakeEnv env;
    env.vars["AWS_CONFIG_FILE"] = (dir / "config").string();
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "credentials").string();
    env.vars["AWS_PROFILE"] = "deploy";
    env.vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9/";
    FakeClock clock;
    FakeFetcher sts;
    bool verified = false;
    sts.handler = [&](const HttpRequest& r) -> Result<HttpResponse> {
      HeaderList headers = r.headers;
      std::string path = arca::test::url_path(r.url);
      std::string query = arca::test::url_query(r.url);
      IncomingRequest in{r.method, path, query, &headers, r.body};
      VerifyOptions opts;
      opts.service = "sts";
      opts.region = "eu-west-1";
      auto v = verify(
          in,
          [](std::string_view id) -> std::optional<std::string> {
            if (id == "AKIDSOURCE") {
              return std::string(k_source_secret);
            }
            return std::nullopt;
          },
          opts, clock.now);
      if (!v) {
        return respond(403, sts_error("SignatureDoesNotMatch", v.failure.message));
      }
      verified = true;
      if (r.body.find("Action=AssumeRole&") == std::string::npos ||
          r.body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdeploy") ==
              std::string::npos ||
          r.body.find("ExternalId=ext-1") == std::string::npos ||
          r.body.find("RoleSessionName=arca-test") == std::string::npos) {
        return respond(400, sts_error("InvalidParameterValue", "bad body"));
      }
      return respond(200, sts_xml("AssumeRole", "ASIAASSUMED", "2027-01-15T09:00:00Z"));
    };
    ProfileProvider p(env.lookup(), sts, clock.clock());
    auto c = run_sync(p.resolve());
    REQUIRE_MESSAGE(c, c.error().message);
    CHECK(verified);
    REQUIRE(sts.requests.size() == 1);
    CHECK(sts.requests[0].url == "http://127.0.0.1:9/");
    CHECK(sts.requests[0].method == "POST");
    CHECK(c->keys.access_key_id == "ASIAASSUMED");
    CHECK(c->keys.secret_access_key == "assumedSecret");
    CHECK(c->keys.session_token == "assumedSession");
    REQUIRE(c->expiration);
    CHECK(*c->expiration == clock.now + std::chrono::hours(1));

    SUBCASE("STS errors name the profile and the STS code, not the secret") {
      sts.handler = [&](const HttpRequest&) -> Result<HttpResponse> {
        return respond(403, sts_error("AccessDenied", "not authorized to perform sts:AssumeRole"));
      };
      auto denied = run_sync(p.resolve());
      REQUIRE_FALSE(denied);
      CHECK(denied.error().code == Errc::forbidden);
      CHECK(denied.error().message.find("profile deploy") != std::string::npos);
      CHECK(denied.error().message.find("AccessDenied") != std::string::npos);
      CHECK(denied.error().message.find(k_source_secret) == std::string::npos);

      sts.handler = [&](const HttpRequest&) -> Result<HttpResponse> {
        return respond(200, "<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>");
      };
      auto malformed = run_sync(p.resolve());
      REQUIRE_FALSE(malformed);
      CHECK(malformed.error().message.find("Credentials") != std::string::npos);

      sts.handler = [&](const HttpRequest&) -> Result<HttpResponse> {
        return make_error(Errc::upstream_unreachable, "connection refused");
      };
      auto down = run_sync(p.resolve());
      REQUIRE_FALSE(down);
      CHECK(down.error().message.find("connection refused") != std::string::npos);
    }

    SUBCASE("source_profile cycles are detected") {
      env.vars["AWS_PROFILE"] = "loop";
      auto loop = run_sync(p.resolve());
      REQUIRE_FALSE(loop);
      CHECK(loop.error().message.find("cycle") != std::string::npos);
    }
  }

  TEST_CASE("profile: role_arn with credential_source or web_identity_token_file") {
    auto dir = arca::test::temp_dir("aws-role-sources");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.profile-jwt-payload.sig";
    write(dir / "jwt", jwt + "\n");
    write(dir / "config",
          "[profile from-env]\nrole_arn = arn:aws:iam::111122223333:role/envrole\n"
          "credential_source = Environment\nregion = eu-west-1\n"
          "[profile from-web]\nrole_arn = arn:aws:iam::111122223333:role/webrole\n"
          "web_identity_token_file = " + (dir / "jwt").string() + "\nrole_session_name = ci\n"
          "[profile bad-source]\nrole_arn = arn:aws:iam::111122223333:role/x\n"
          "credential_source = Somewhere\n"
          "[profile no-source]\nrole_arn = arn:aws:iam::111122223333:role/x\n");
    FakeEnv env;
    env.vars["AWS_CONFIG_FILE"] = (dir / "config").string();
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "none").string();
    env.vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9/";
    FakeClock clock;
    FakeFetcher sts;
    sts.handler = [&](const HttpRequest& r) -> Result<HttpResponse> {
      if (r.body.find("Action=AssumeRoleWithWebIdentity") != std::string::npos) {
        if (r.body.find("WebIdentityToken=" + uri_encode(jwt, false)) == std::string::npos ||
            r.body.find("role%2Fwebrole") == std::string::npos ||
            r.body.find("RoleSessionName=ci") == std::string::npos ||
            find_header(r.headers, "Authorization")) {
          return respond(400, sts_error("InvalidIdentityToken", "bad token"));
        }
        return respond(200, sts_xml("AssumeRoleWithWebIdentity", "ASIAPROFWEB", "2027-01-15T09:00:00Z"));
      }
      HeaderList headers = r.headers;
      std::string path = arca::test::url_path(r.url);
      std::string query = arca::test::url_query(r.url);
      IncomingRequest in{r.method, path, query, &headers, r.body};
      VerifyOptions opts;
      opts.service = "sts";
      opts.region = "eu-west-1";
      auto v = verify(
          in,
          [](std::string_view id) -> std::optional<std::string> {
            if (id == "AKIDENVSRC") return std::string(k_source_secret);
            return std::nullopt;
          },
          opts, clock.now);
      if (!v || r.body.find("role%2Fenvrole") == std::string::npos) {
        return respond(403, sts_error("AccessDenied", "no"));
      }
      return respond(200, sts_xml("AssumeRole", "ASIAFROMENV", "2027-01-15T09:00:00Z"));
    };
    ProfileProvider p(env.lookup(), sts, clock.clock());

    env.vars["AWS_PROFILE"] = "from-env";
    auto missing = run_sync(p.resolve());  // no keys in the environment yet
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("credential_source Environment of profile from-env") !=
          std::string::npos);
    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDENVSRC";
    env.vars["AWS_SECRET_ACCESS_KEY"] = k_source_secret;
    auto from_env = run_sync(p.resolve());
    REQUIRE_MESSAGE(from_env, from_env.error().message);
    CHECK(from_env->keys.access_key_id == "ASIAFROMENV");

    env.vars["AWS_PROFILE"] = "from-web";
    auto from_web = run_sync(p.resolve());
    REQUIRE_MESSAGE(from_web, from_web.error().message);
    CHECK(from_web->keys.access_key_id == "ASIAPROFWEB");

    env.vars["AWS_PROFILE"] = "bad-source";
    auto bad = run_sync(p.resolve());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("credential_source must be") != std::string::npos);

    env.vars["AWS_PROFILE"] = "no-source";
    auto none = run_sync(p.resolve());
    REQUIRE_FALSE(none);
    CHECK(none.error().message.find("no source_profile, credential_source or web_identity_token_file") !=
          std::string::npos);
  }

  TEST_CASE("profile: credential_process") {
    auto dir = arca::test::temp_dir("aws-process");
    write(dir / "ok.sh",
          "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
          "\"" +
              std::string(k_secret) +
              "\", \"SessionToken\": \"proctoken\", \"Expiration\": \"2027-01-15T10:00:00Z\"}'\n");
    write(dir / "fail.sh", "#!/bin/sh\necho '" + std::string(k_secret) + "'\nexit 3\n");
    write(dir / "v2.sh",
          "#!/bin/sh\necho '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"" +
              std::string(k_secret) + "\"}'\n");
    write(dir / "config",
          "[profile ok]\ncredential_process = sh " + (dir / "ok.sh").string() +
              "\n[profile fail]\ncredential_process = sh " + (dir / "fail.sh").string() +
              "\n[profile v2]\ncredential_process = sh " + (dir / "v2.sh").string() + "\n");
    FakeEnv env;
    env.vars["AWS_CONFIG_FILE"] = (dir / "config").string();
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "none").string();
    FakeFetcher http;
    FakeClock clock;
    ProfileProvider p(env.lookup(), http, clock.clock());

    env.vars["AWS_PROFILE"] = "ok";
    auto ok = run_sync(p.resolve());
    REQUIRE_MESSAGE(ok, ok.error().message);
    CHECK(ok->keys.access_key_id == "AKIDPROC");
    CHECK(ok->keys.secret_access_key == k_secret);
    CHECK(ok->keys.session_token == "proctoken");
    REQUIRE(ok->expiration);
    CHECK(*ok->expiration == clock.now + std::chrono::hours(2));

    env.vars["AWS_PROFILE"] = "fail";
    auto fail = run_sync(p.resolve());
    REQUIRE_FALSE(fail);
    CHECK(fail.error().message.find("status 3") != std::string::npos);
    CHECK(fail.error().message.find(k_secret) == std::string::npos);

    env.vars["AWS_PROFILE"] = "v2";
    auto v2 = run_sync(p.resolve());
    REQUIRE_FALSE(v2);
    CHECK(v2.error().message.find("Version") != std::string::npos);
    CHECK(v2.error().message.find(k_secret) == std::string::npos);

    SUBCASE("the command goes through the given runner (the server's blocking pool)") {
      std::vector<std::string> commands;
      ProcessRunner runner = [&commands](std::string command)
          -> boost::asio::awaitable<Result<ProcessOutput>> {
        commands.push_back(command);
        co_return run_process_blocking(command);
      };
      ProfileProvider pooled(env.lookup(), http, clock.clock(), runner);
      env.vars["AWS_PROFILE"] = "ok";
      auto r = run_sync(pooled.resolve());
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(r->keys.access_key_id == "AKIDPROC");
      REQUIRE(commands.size() == 1);
      CHECK(commands[0] == "sh " + (dir / "ok.sh").string());
    }
  }

  TEST_CASE("IMDSv2: session token required") {
    FakeEnv env;
    env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9";
    FakeFetcher imds;
    imds.handler = [](const HttpRequest& r) -> Result<HttpResponse> {
      const std::string path = arca::test::url_path(r.url);
      if (path == "/latest/api/token") {
        if (r.method != "PUT" || !find_header(r.headers, "X-aws-ec2-metadata-token-ttl-seconds")) {
          return respond(400, "");
        }
        return respond(200, "SESSIONTOKEN");
      }
      if (find_header(r.headers, "X-aws-ec2-metadata-token") != "SESSIONTOKEN") {
        return respond(401, "");
      }
      if (path == "/latest/meta-data/iam/security-credentials/") {
        return respond(200, "my-role\n");
      }
      if (path == "/latest/meta-data/iam/security-credentials/my-role") {
        return respond(200, std::string("{\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", "
                                        "\"AccessKeyId\": \"ASIAIMDS\", \"SecretAccessKey\": \"") +
                                k_secret +
                                "\", \"Token\": \"imdstoken\", \"Expiration\": "
                                "\"2027-01-15T14:00:00Z\"}");
      }
      return respond(404, "");
    };
    ImdsProvider p(env.lookup(), imds);
    auto c = run_sync(p.resolve());
    REQUIRE_MESSAGE(c, c.error().message);
    CHECK(c->keys.access_key_id == "ASIAIMDS");
    CHECK(c->keys.session_token == "imdstoken");
    REQUIRE(c->expiration);
    CHECK(imds.requests.size() == 3);
    CHECK(imds.requests[0].url == "http://127.0.0.1:9/latest/api/token");

    SUBCASE("the stand-in rejects requests without the session token") {
      HttpRequest bare;
      bare.url = "http://127.0.0.1:9/latest/meta-data/iam/security-credentials/";
      CHECK(imds.handler(bare)->status == 401);
    }
    SUBCASE("token endpoint refusing is a clear failure") {
      imds.handler = [](const HttpRequest&) -> Result<HttpResponse> { return respond(403, ""); };
      auto refused = run_sync(p.resolve());
      REQUIRE_FALSE(refused);
      CHECK(refused.error().message.find("imds: IMDSv2 session token") == 0);
    }
    SUBCASE("unreachable or disabled is 'not configured'") {
      imds.handler = nullptr;
      auto down = run_sync(p.resolve());
      REQUIRE_FALSE(down);
      CHECK(down.error().code == Errc::not_found);
      env.vars["AWS_EC2_METADATA_DISABLED"] = "true";
      auto disabled = run_sync(p.resolve());
      REQUIRE_FALSE(disabled);
      CHECK(disabled.error().message.find("AWS_EC2_METADATA_DISABLED") != std::string::npos);
    }
  }

  TEST_CASE("ECS container credentials with the authorization token") {
    auto dir = arca::test::temp_dir("aws-ecs");
    write(dir / "token", "filetoken\n");
    FakeEnv env;
    FakeFetcher ecs;
    ecs.handler = [](const HttpRequest& r) -> Result<HttpResponse> {
      auto auth = find_header(r.headers, "Authorization");
      if (!auth || (*auth != "envtoken" && *auth != "filetoken")) {
        return respond(401, "");
      }
      return respond(200, std::string("{\"AccessKeyId\": \"ASIAECS\", \"SecretAccessKey\": \"") +
                              k_secret +
                              "\", \"Token\": \"ecstoken\", \"Expiration\": "
                              "\"2027-01-15T12:00:00Z\"}");
    };
    EcsProvider p(env.lookup(), ecs);
    auto none = run_sync(p.resolve());
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::not_found);

    env.vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:9/creds";
    auto unauth = run_sync(p.resolve());
    REQUIRE_FALSE(unauth);
    CHECK(unauth.error().message.find("HTTP 401") != std::string::npos);

    env.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "envtoken";
    auto c = run_sync(p.resolve());
    REQUIRE_MESSAGE(c, c.error().message);
    CHECK(c->keys.access_key_id == "ASIAECS");
    CHECK(c->keys.session_token == "ecstoken");
    CHECK(ecs.requests.back().url == "http://127.0.0.1:9/creds");

    env.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = (dir / "token").string();
    env.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";  // the file takes precedence
    auto from_file = run_sync(p.resolve());
    REQUIRE_MESSAGE(from_file, from_file.error().message);
    CHECK(find_header(ecs.requests.back().headers, "Authorization") == "filetoken");

    env.vars["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/abc";
    (void)run_sync(p.resolve());
    CHECK(ecs.requests.back().url == "http://169.254.170.2/v2/credentials/abc");
  }

  TEST_CASE("web identity via STS AssumeRoleWithWebIdentity") {
    auto dir = arca::test::temp_dir("aws-webid");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.secret-jwt-payload.sig";
    write(dir / "token", jwt + "\n");
    FakeEnv env;
    FakeFetcher sts;
    sts.handler = [&](const HttpRequest& r) -> Result<HttpResponse> {
      if (r.body.find("Action=AssumeRoleWithWebIdentity") == std::string::npos ||
          r.body.find("WebIdentityToken=" + uri_encode(jwt, false)) == std::string::npos ||
          r.body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fweb") == std::string::npos) {
        return respond(400, sts_error("InvalidIdentityToken", "bad token"));
      }
      return respond(200, sts_xml("AssumeRoleWithWebIdentity", "ASIAWEB", "2027-01-15T09:00:00Z"));
    };
    WebIdentityProvider p(env.lookup(), sts);
    auto none = run_sync(p.resolve());
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::not_found);

    env.vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = (dir / "token").string();
    env.vars["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/web";
    env.vars["AWS_REGION"] = "eu-north-1";
    env.vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9";
    auto c = run_sync(p.resolve());
    REQUIRE_MESSAGE(c, c.error().message);
    CHECK(c->keys.access_key_id == "ASIAWEB");
    CHECK(sts.requests.back().url == "http://127.0.0.1:9/");
    CHECK_FALSE(find_header(sts.requests.back().headers, "Authorization"));  // unsigned call

    env.vars["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/other";
    auto bad = run_sync(p.resolve());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("InvalidIdentityToken") != std::string::npos);
    CHECK(bad.error().message.find(jwt) == std::string::npos);

    env.vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = (dir / "missing").string();
    auto unreadable = run_sync(p.resolve());
    REQUIRE_FALSE(unreadable);
    CHECK(unreadable.error().code == Errc::invalid_argument);

    env.vars.erase("AWS_ENDPOINT_URL_STS");
    CHECK(sts_endpoint(env.lookup(), "eu-north-1") == "https://sts.eu-north-1.amazonaws.com");
    CHECK(sts_endpoint(env.lookup(), "") == "https://sts.amazonaws.com");
  }

  TEST_CASE("default chain order: environment, web identity, profile, ECS, IMDS") {
    auto dir = arca::test::temp_dir("aws-chain");
    write(dir / "credentials",
          "[default]\naws_access_key_id = AKIDPROFILE\n"
          "aws_secret_access_key = profilesecret\n");
    FakeEnv env;
    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "credentials").string();
    env.vars["AWS_CONFIG_FILE"] = (dir / "none").string();
    env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9";
    env.vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    env.vars["AWS_SECRET_ACCESS_KEY"] = k_secret;
    FakeFetcher http;  // no stand-ins: IMDS unreachable
    FakeClock clock;

    auto env_chain = make_default_chain(env.lookup(), http, clock.clock());
    auto first = run_sync(env_chain->resolve());
    REQUIRE(first);
    CHECK(first->keys.access_key_id == "AKIDENV");
    CHECK(first->provider == "environment");

    env.vars.erase("AWS_ACCESS_KEY_ID");
    env.vars.erase("AWS_SECRET_ACCESS_KEY");
    auto profile_chain = make_default_chain(env.lookup(), http, clock.clock());
    auto second = run_sync(profile_chain->resolve());
    REQUIRE(second);
    CHECK(second->keys.access_key_id == "AKIDPROFILE");
    CHECK(second->provider == "profile");
    CHECK(http.requests.empty());  // profile came before ECS and IMDS

    env.vars["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "none").string();
    env.vars["AWS_SECRET_ACCESS_KEY"] = k_secret;  // a half-configured environment
    auto nothing = make_default_chain(env.lookup(), http, clock.clock());
    auto failed = run_sync(nothing->resolve());
    REQUIRE_FALSE(failed);
    const std::string& m = failed.error().message;
    INFO(m);
    CHECK(failed.error().code == Errc::invalid_argument);
    for (const char* name : {"environment:", "web-identity:", "profile:", "ecs:", "imds:"}) {
      CHECK(m.find(name) != std::string::npos);
    }
    CHECK(m.find("environment:") < m.find("web-identity:"));
    CHECK(m.find("profile:") < m.find("ecs:"));
    CHECK(m.find(k_secret) == std::string::npos);
    CHECK(http.requests.size() == 1);  // the IMDS token request
  }

  TEST_CASE("chain caches, remembers the provider, refreshes before expiry") {
    FakeClock clock;
    std::vector<CredentialsProviderPtr> providers;
    auto first = std::make_unique<CannedProvider>(
        "first", make_error(Errc::not_found, "first: not configured"));
    auto second = std::make_unique<CannedProvider>(
        "second", creds("ASIA1", clock.now + std::chrono::hours(1)));
    auto* a = first.get();
    auto* b = second.get();
    providers.push_back(std::move(first));
    providers.push_back(std::move(second));
    ChainProvider chain(std::move(providers), clock.clock(), std::chrono::minutes(5));

    auto c1 = run_sync(chain.resolve());
    REQUIRE(c1);
    CHECK(c1->keys.access_key_id == "ASIA1");
    CHECK(a->calls == 1);
    CHECK(b->calls == 1);

    clock.now += std::chrono::minutes(54);  // 6 minutes left: still cached
    CHECK(run_sync(chain.resolve())->keys.access_key_id == "ASIA1");
    CHECK(b->calls == 1);

    clock.now += std::chrono::minutes(2);  // 4 minutes left: refresh, remembered provider first
    b->answer_ = creds("ASIA2", clock.now + std::chrono::hours(1));
    CHECK(run_sync(chain.resolve())->keys.access_key_id == "ASIA2");
    CHECK(b->calls == 2);
    CHECK(a->calls == 1);

    SUBCASE("a failed refresh keeps the still-valid credentials") {
      clock.now += std::chrono::minutes(57);  // 3 minutes left
      b->answer_ = make_error(Errc::upstream_unreachable, "second: down");
      auto kept = run_sync(chain.resolve());
      REQUIRE(kept);
      CHECK(kept->keys.access_key_id == "ASIA2");
      clock.now += std::chrono::minutes(4);  // expired now
      auto gone = run_sync(chain.resolve());
      REQUIRE_FALSE(gone);
      CHECK(gone.error().message.find("second: down") != std::string::npos);
    }
    SUBCASE("already expired credentials are rejected") {
      b->answer_ = creds("ASIAOLD", clock.now - std::chrono::seconds(1));
      chain.invalidate();
      auto old = run_sync(chain.resolve());
      REQUIRE_FALSE(old);
      CHECK(old.error().message.find("expired") != std::string::npos);
    }
  }

  TEST_CASE("chain: one resolution in flight for concurrent callers") {
    FakeClock clock;
    auto only =
        std::make_unique<CannedProvider>("only", creds("ASIA1", clock.now + std::chrono::hours(1)));
    only->yields = 5;
    auto* p = only.get();
    std::vector<CredentialsProviderPtr> providers;
    providers.push_back(std::move(only));
    ChainProvider chain(std::move(providers), clock.clock());
    boost::asio::io_context ioc;
    int ok = 0;
    for (int i = 0; i < 10; ++i) {
      boost::asio::co_spawn(ioc, chain.resolve(),
                            [&](std::exception_ptr e, Result<AwsCredentials> r) {
                              if (!e && r && r->keys.access_key_id == "ASIA1") {
                                ++ok;
                              }
                            });
    }
    ioc.run();
    CHECK(ok == 10);
    CHECK(p->calls == 1);
  }
}
