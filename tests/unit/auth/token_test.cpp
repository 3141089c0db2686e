#include "auth/token.hpp"

#include <doctest/doctest.h>

using namespace arca::auth;

TEST_SUITE("auth::TokenService") {
  TEST_CASE("issue and verify; expiry; forgery") {
    TokenService tokens(std::string(32, 'k'));
    const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
    TokenClaims c{"local", "111122223333", "AKID", 1'700'000'000 + 900, 1'700'000'000};
    std::string t = tokens.issue(c);
    CHECK(t.rfind("arca1.", 0) == 0);
    for (char ch : t)
      CHECK((std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'));
    auto v = tokens.verify(t, now);
    REQUIRE(v.has_value());
    CHECK(v->domain == "local");
    CHECK(v->owner == "111122223333");
    CHECK(v->expires_unix == 1'700'000'900);
    CHECK(tokens.issue(c) != t);  // a fresh nonce each time

    auto expired = tokens.verify(t, now + std::chrono::seconds(901));
    REQUIRE_FALSE(expired.has_value());
    CHECK(expired.error().message.find("expired") != std::string::npos);

    TokenService other(std::string(32, 'x'));
    CHECK_FALSE(other.verify(t, now).has_value());
    std::string tampered = t;
    tampered[8] = tampered[8] == 'A' ? 'B' : 'A';
    CHECK_FALSE(tokens.verify(tampered, now).has_value());
    CHECK_FALSE(tokens.verify("not-a-token", now).has_value());
    CHECK_FALSE(tokens.verify("arca1.", now).has_value());
    CHECK_FALSE(tokens.verify("", now).has_value());
  }

  TEST_CASE("base64url round trip") {
    std::string bytes = "\xff\xfe\x00\x01hello?>";
    bytes.push_back('\0');
    CHECK(base64url_decode(base64url_encode(bytes)) == bytes);
    CHECK_FALSE(base64url_decode("a+b"));
  }
}
