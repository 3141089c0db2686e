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

  TEST_CASE("one spelling per token: non-canonical base64url is refused") {
    // "QQ" is 0x41 with the 4 unused bits zero; "QR".."QP" carry the same byte with them set.
    CHECK(base64url_decode("QQ") == std::string("A"));
    for (const char* alt : {"QR", "QS", "QT", "QU", "QV", "QW", "QX", "QY", "QZ", "Qa", "Qb",
                            "Qc", "Qd", "Qe", "Qf"}) {
      CHECK_FALSE_MESSAGE(base64url_decode(alt), alt);
    }
    CHECK_FALSE(base64url_decode("Q"));     // 6 bits: no whole byte
    CHECK_FALSE(base64url_decode("QQ=="));  // padding is not part of the token alphabet
    CHECK_FALSE(base64url_decode("QUI="));

    TokenService tokens(std::string(32, 'k'));
    const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
    TokenClaims c{"local", "111122223333", "AKID", 1'700'000'000 + 900, 1'700'000'000};
    const std::string t = tokens.issue(c);
    REQUIRE(tokens.verify(t, now).has_value());
    // The MAC is 32 bytes: 43 characters, the last carrying 4 bits of the MAC and 2 unused
    // ones. The three other values of those 2 bits decode to the same MAC.
    static constexpr std::string_view k_alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const size_t last = k_alphabet.find(t.back());
    REQUIRE(last != std::string_view::npos);
    REQUIRE((last & 3) == 0);
    for (size_t bits = 1; bits < 4; ++bits) {
      std::string alt = t;
      alt.back() = k_alphabet[last | bits];
      CHECK(base64url_decode(alt.substr(alt.rfind('.') + 1)) == std::nullopt);
      auto v = tokens.verify(alt, now);
      REQUIRE_FALSE_MESSAGE(v.has_value(), alt);
      CHECK(v.error().code == arca::Errc::unauthorized);
    }
  }
}
