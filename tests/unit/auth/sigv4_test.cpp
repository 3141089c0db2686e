// SigV4 against the AWS test suite (aws-c-auth copy in sigv4_vectors/), plus verification.

#include "auth/sigv4.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace arca::auth;

namespace {

// ARCA_SOURCE_DIR comes from CMake (__FILE__ is relative when ccache rewrites paths).
fs::path vectors_dir() { return fs::path(ARCA_SOURCE_DIR) / "tests/unit/auth/sigv4_vectors"; }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RawRequest {
  std::string method, path, query;
  HeaderList headers;
  std::string body;
};

// "METHOD TARGET HTTP/1.1\nName:value\n  continuation\n\nbody"
RawRequest parse_request(const std::string& text) {
  RawRequest r;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  auto sp = line.find(' ');
  auto http = line.rfind(" HTTP/");
  r.method = line.substr(0, sp);
  std::string target = line.substr(sp + 1, http - sp - 1);
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  while (std::getline(in, line)) {
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().second += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  std::stringstream rest;
  rest << in.rdbuf();
  r.body = rest.str();
  return r;
}

std::string header_value(const std::string& signed_request, const std::string& name) {
  std::istringstream in(signed_request);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 1);
  }
  return {};
}

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

const auto k_when = std::chrono::system_clock::from_time_t(1440938160);  // 20150830T123600Z

}  // namespace

TEST_SUITE("auth::sigv4") {
  TEST_CASE(
      "every aws-c-auth header-signing vector: canonical request, string to sign, signature") {
    int cases = 0;
    for (auto& entry : fs::directory_iterator(vectors_dir())) {
      if (!entry.is_directory()) continue;
      const auto dir = entry.path();
      const std::string name = dir.filename().string();
      CAPTURE(name);
      auto ctx = nlohmann::json::parse(read(dir / "context.json"));
      auto req = parse_request(read(dir / "request.txt"));
      Credentials creds{ctx["credentials"]["access_key_id"],
                        ctx["credentials"]["secret_access_key"],
                        ctx["credentials"].value("token", "")};
      SignOptions opts;
      opts.region = ctx["region"];
      opts.service = ctx["service"];
      opts.normalize_path = ctx["normalize"];
      opts.sign_body = ctx["sign_body"];
      opts.omit_session_token = ctx.value("omit_session_token", false);
      REQUIRE(amz_date(k_when) == "20150830T123600Z");

      HeaderList headers = req.headers;
      sign(req.method, req.path, req.query, headers, req.body, creds, opts, k_when);
      const std::string expected_signed = read(dir / "header-signed-request.txt");
      const std::string expected_auth = header_value(expected_signed, "Authorization");
      std::string got_auth;
      for (auto& [k, v] : headers) {
        if (k == "Authorization") got_auth = v;
      }
      CHECK(got_auth == expected_auth);

      // The canonical request and string to sign, through the public pieces.
      auto params = expected_auth.substr(expected_auth.find("SignedHeaders=") + 14);
      params = params.substr(0, params.find(','));
      std::vector<std::string> names;
      std::stringstream ss(params);
      for (std::string n; std::getline(ss, n, ';');) names.push_back(n);
      auto creq = canonical_request(req.method, req.path, req.query, headers, names,
                                    opts.sign_body ? hex_sha256(req.body) : hex_sha256(req.body),
                                    opts.normalize_path);
      CHECK(creq == trim_trailing_newlines(read(dir / "header-canonical-request.txt")));
      auto sts =
          string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq);
      CHECK(sts == trim_trailing_newlines(read(dir / "header-string-to-sign.txt")));

      // What sign() produced verifies (normalized vectors only: the verifier normalizes).
      if (opts.normalize_path) {
        auto lookup = [&](std::string_view id) -> std::optional<std::string> {
          if (id == creds.access_key_id) return creds.secret_access_key;
          return std::nullopt;
        };
        VerifyOptions vo;
        vo.service = "service";
        vo.region = "us-east-1";
        IncomingRequest in{req.method, req.path, req.query, &headers, req.body};
        auto ok = verify(in, lookup, vo, k_when + std::chrono::minutes(3));
        const std::string why = ok.failure.type + ": " + ok.failure.message;
        CHECK_MESSAGE(ok.ok.has_value(), why);
      }
      ++cases;
    }
    CHECK(cases == 38);
  }

  TEST_CASE("verify: the failures AWS names") {
    Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    SignOptions opts{"us-east-1", "codeartifact"};
    HeaderList headers{{"Host", "127.0.0.1:5080"}, {"Content-Type", "application/json"}};
    const std::string body = "{}";
    sign("POST", "/v1/domain", "domain=my-domain", headers, body, creds, opts, k_when);
    auto lookup = [&](std::string_view id) -> std::optional<std::string> {
      if (id == "AKIDEXAMPLE") return creds.secret_access_key;
      return std::nullopt;
    };
    VerifyOptions vo;
    vo.region = "us-east-1";
    IncomingRequest in{"POST", "/v1/domain", "domain=my-domain", &headers, body};
    CHECK(verify(in, lookup, vo, k_when).ok.has_value());

    SUBCASE("a changed body") {
      IncomingRequest other = in;
      other.body = "{\"x\":1}";
      auto r = verify(other, lookup, vo, k_when);
      CHECK(r.failure.type == "InvalidSignatureException");
    }
    SUBCASE("a changed query") {
      IncomingRequest other = in;
      other.query = "domain=other";
      CHECK(verify(other, lookup, vo, k_when).failure.type == "InvalidSignatureException");
    }
    SUBCASE("clock skew beyond 15 minutes") {
      CHECK(verify(in, lookup, vo, k_when + std::chrono::minutes(16)).failure.type ==
            "InvalidSignatureException");
      CHECK(verify(in, lookup, vo, k_when - std::chrono::minutes(16)).failure.type ==
            "InvalidSignatureException");
      CHECK(verify(in, lookup, vo, k_when + std::chrono::minutes(14)).ok.has_value());
    }
    SUBCASE("an unknown access key") {
      auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
      CHECK(verify(in, none, vo, k_when).failure.type == "UnrecognizedClientException");
    }
    SUBCASE("a wrong secret") {
      auto wrong = [](std::string_view) -> std::optional<std::string> {
        return std::string("nope");
      };
      auto r = verify(in, wrong, vo, k_when);
      CHECK(r.failure.type == "InvalidSignatureException");
      CHECK(r.failure.message.find("signature") != std::string::npos);
    }
    SUBCASE("no Authorization header") {
      HeaderList bare{{"Host", "127.0.0.1:5080"}};
      IncomingRequest other = in;
      other.headers = &bare;
      CHECK(verify(other, lookup, vo, k_when).failure.type ==
            "MissingAuthenticationTokenException");
    }
    SUBCASE("a malformed Authorization header") {
      HeaderList bad{{"Host", "127.0.0.1:5080"},
                     {"Authorization", "AWS4-HMAC-SHA256 Credential=x"}};
      IncomingRequest other = in;
      other.headers = &bad;
      CHECK(verify(other, lookup, vo, k_when).failure.type == "IncompleteSignatureException");
      HeaderList basic{{"Host", "127.0.0.1:5080"}, {"Authorization", "Basic YTpi"}};
      other.headers = &basic;
      CHECK(verify(other, lookup, vo, k_when).failure.type == "IncompleteSignatureException");
    }
    SUBCASE("a wrong region or service scope") {
      VerifyOptions eu = vo;
      eu.region = "eu-west-1";
      CHECK(verify(in, lookup, eu, k_when).failure.type == "InvalidSignatureException");
      VerifyOptions s3 = vo;
      s3.service = "s3";
      CHECK(verify(in, lookup, s3, k_when).failure.type == "InvalidSignatureException");
    }
  }

  TEST_CASE("canonical pieces") {
    CHECK(uri_encode("a b/c~", true) == "a%20b/c~");
    CHECK(uri_encode("a b/c", false) == "a%20b%2Fc");
    CHECK(canonical_uri("/v1/domain") == "/v1/domain");
    CHECK(canonical_uri("/a%20b") == "/a%2520b");  // double encoding for non-S3 services
    CHECK(canonical_query("b=2&a=1&a=0") == "a=0&a=1&b=2");
    CHECK(canonical_query("k=a%2Fb+c") == "k=a%2Fb%2Bc");
    CHECK(parse_amz_date("20150830T123600Z") == k_when);
    CHECK_FALSE(parse_amz_date("2015-08-30T12:36:00Z"));
  }
}
