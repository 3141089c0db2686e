#include <doctest/doctest.h>

#include "common/compress.hpp"
#include "common/digest.hpp"
#include "common/json_depth.hpp"
#include "common/log.hpp"
#include "common/url.hpp"

TEST_SUITE("common") {
  TEST_CASE("digests of a known string") {
    auto d = arca::digest_of("abc");
    CHECK(arca::to_hex(d.sha256) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(arca::to_hex(d.sha1) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(arca::to_hex(d.md5) == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(arca::sri_sha512(d.sha512) ==
          "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==");
  }

  TEST_CASE("incremental hashing equals one-shot hashing") {
    arca::Hasher h;
    h.update("a");
    h.update("bc");
    CHECK(h.finish().sha256 == arca::digest_of("abc").sha256);
  }

  TEST_CASE("percent_decode: escapes, '+', malformed input") {
    CHECK(arca::percent_decode("a%2Fb%20c") == std::optional<std::string>("a/b c"));
    CHECK(arca::percent_decode("%e2%82%AC") == std::optional<std::string>("\xe2\x82\xac"));
    CHECK(arca::percent_decode("a+b") == std::optional<std::string>("a+b"));
    CHECK(arca::percent_decode("a+b%2B", true) == std::optional<std::string>("a b+"));
    CHECK(arca::percent_decode("it's a 'raw' term") == std::optional<std::string>("it's a 'raw' term"));
    CHECK(arca::percent_decode("") == std::optional<std::string>(""));
    for (std::string_view bad : {"%", "%4", "%zz", "a%g1", "%%41"}) {
      CHECK_MESSAGE(!arca::percent_decode(bad), bad);
      CHECK_MESSAGE(!arca::percent_decode(bad, true), bad);
    }
  }

  TEST_CASE("hex round trip and rejection") {
    auto bytes = arca::from_hex<20>("A9993E364706816ABA3E25717850C26C9CD0D89D");
    REQUIRE(bytes);
    CHECK(arca::to_hex(*bytes) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK_FALSE(arca::from_hex<20>("a9993e"));
    CHECK_FALSE(arca::from_hex<16>("zz" + std::string(30, '0')));
  }

  TEST_CASE("base64") {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
      auto enc = arca::base64_encode(s);
      auto dec = arca::base64_decode(enc);
      REQUIRE(dec);
      CHECK(*dec == s);
    }
    CHECK(arca::base64_encode(std::string_view("foobar")) == "Zm9vYmFy");
    CHECK_FALSE(arca::base64_decode("Zm9v!"));
    CHECK_FALSE(arca::base64_decode("Zg==Zg"));
  }

  TEST_CASE("gzip round trip, bounds and corruption") {
    std::string data(100000, 'x');
    auto gz = arca::gzip_compress(data);
    CHECK(gz.size() < data.size());
    auto back = arca::gzip_decompress(gz, 1 << 20);
    REQUIRE(back);
    CHECK(*back == data);
    auto bounded = arca::gzip_decompress(gz, 1000);
    REQUIRE_FALSE(bounded);
    CHECK(bounded.error().code == arca::Errc::too_large);
    CHECK_FALSE(arca::gzip_decompress("not gzip at all", 1000));
    CHECK_FALSE(arca::gzip_decompress(gz.substr(0, gz.size() / 2), 1 << 20));
  }

  TEST_CASE("Accept-Encoding") {
    CHECK(arca::accepts_gzip("gzip, deflate, br"));
    CHECK(arca::accepts_gzip("deflate, gzip;q=0.5"));
    CHECK_FALSE(arca::accepts_gzip("gzip;q=0"));
    CHECK_FALSE(arca::accepts_gzip("identity"));
    CHECK_FALSE(arca::accepts_gzip(""));
  }

  TEST_CASE("URLs are redacted before logging") {
    CHECK(arca::log::redact_url("https://aws:secret@host/x") == "https://***@host/x");
    CHECK(arca::log::redact_url("https://h/x?X-Amz-Signature=abc&y=1") == "https://h/x?X-Amz-Signature=***&y=1");
    CHECK(arca::log::redact_url("http://host/a@b") == "http://host/a@b");
  }

  TEST_CASE("JSON nesting pre-check") {
    CHECK(arca::json_nesting_within(""));
    CHECK(arca::json_nesting_within("{\"a\":[1,{\"b\":[]}]}", 4));
    CHECK_FALSE(arca::json_nesting_within("{\"a\":[1,{\"b\":[]}]}", 3));
    CHECK(arca::json_nesting_within(std::string(256, '[') + std::string(256, ']')));
    CHECK_FALSE(arca::json_nesting_within(std::string(257, '[') + std::string(257, ']')));
    CHECK_FALSE(arca::json_nesting_within(std::string(1'000'000, '[')));
    CHECK_FALSE(arca::json_nesting_within(std::string(300, '{')));
    // Siblings do not add up; brackets in strings and escaped quotes do not count.
    std::string siblings;
    for (int i = 0; i < 1000; ++i) siblings += "[[]],";
    CHECK(arca::json_nesting_within("[" + siblings + "1]", 3));
    CHECK(arca::json_nesting_within("[\"" + std::string(1000, '[') + "\\\"{\"]", 1));
    CHECK_FALSE(arca::json_nesting_within("[\"\\\\\"[[", 2));  // "\\" ends the escape
  }
}
