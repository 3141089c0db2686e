// Unit tests for formats/npm: names, versions, tarball file names, dist, packument parsing,
// merging, rewriting and abbreviation, publish bodies and error bodies.
#include "formats/npm/npm.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace npm = arca::formats::npm;
using npm::json;

namespace {

npm::PackageName name_of(std::string_view s) {
  auto r = npm::parse_package_name(s);
  REQUIRE_MESSAGE(r.has_value(), std::string(s));
  return *r;
}

bool name_ok(std::string_view s) { return npm::parse_package_name(s).has_value(); }

// A real `npm publish --tag beta --access public` body (npm 11.19.1, node 20), captured by a
// stand-in registry. The tarball was made by `npm pack` of {"name":"@arca/fixture",
// "version":"1.0.0-beta.1", "scripts":{"postinstall":"echo hi"}} plus index.js.
constexpr std::string_view k_real_publish_body =
    R"({"_id":"@arca/fixture","name":"@arca/fixture","dist-tags":{"beta":"1.0.0-beta.1"},"versions":{"1.0.0-beta.1":{"name":"@arca/fixture","version":"1.0.0-beta.1","main":"index.js","scripts":{"postinstall":"echo hi"},"readme":"ERROR: No README data found!","_id":"@arca/fixture@1.0.0-beta.1","_nodeVersion":"20.20.2","_npmVersion":"11.19.1","dist":{"integrity":"sha512-8T1efGqer5yOqymhq2mZ6Fu2ix5+YXo+ggmpnEt9tHLsPec/uKzVNlulg1Z8M+22nu94P88QY+/m/vU12qIMOA==","shasum":"b82fa9c401c60e468ea4e101a2da03a16f6662ec","tarball":"http://127.0.0.1:39161/@arca/fixture/-/@arca/fixture-1.0.0-beta.1.tgz"}}},"access":"public","_attachments":{"@arca/fixture-1.0.0-beta.1.tgz":{"content_type":"application/octet-stream","data":"H4sIAAAAAAAC/+3VwU7DMAwG4Jx5isjnkjklLVIREq/idYZltEmUpKjStHdHQ9sOaMdRgch3+SXffPjtQP07vfHKug3PapfED0DE1hh5bf6lbqR4aFrUum3RSIEaH+taChQLmFKmKBBvsCQiykv+EaPfTAMrnoOPOclnaeqnO1H8F+HU/1OqXfJu4f7rBr/3Xzem9H8Re3A0MnTwQrGn1aud8xQZKvjgmKx30IFWqPB+zZmUhgpGssfp+WFABamPNuQE3R6CT9m6lGkYoAPut15uLRwO5aQURVH8Mp+yWMCtAAwAAA==","length":229}}})";
constexpr std::string_view k_real_sha512_sri =
    "sha512-8T1efGqer5yOqymhq2mZ6Fu2ix5+YXo+ggmpnEt9tHLsPec/uKzVNlulg1Z8M+22nu94P88QY+/m/"
    "vU12qIMOA==";
constexpr std::string_view k_real_sha1_hex = "b82fa9c401c60e468ea4e101a2da03a16f6662ec";

// Known vectors: SHA-1 and SHA-512 of "abc" (FIPS 180-2).
constexpr std::string_view k_abc_sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
constexpr std::string_view k_abc_sri =
    "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
    "uu9RU1EI2Q86A4qmslPpUyknw==";

// Bytes that exercise base64 (NUL, high bytes).
std::string binary_bytes() {
  std::string s;
  for (int i = 0; i < 300; ++i) s.push_back(static_cast<char>((i * 37) & 0xff));
  return s;
}

struct PublishSpec {
  std::string name = "foo";
  std::string version = "1.0.0";
  std::string data = binary_bytes();
  std::optional<std::string> integrity;  // default: the right one
  std::optional<std::string> shasum;     // default: the right one
  bool with_integrity = true;
  bool with_shasum = true;
};

json publish_doc(const PublishSpec& s) {
  auto d = arca::digest_of(s.data);
  json dist = {
      {"tarball", "http://127.0.0.1:1/" + s.name + "/-/" + s.name + "-" + s.version + ".tgz"}};
  if (s.with_integrity) dist["integrity"] = s.integrity.value_or(arca::sri_sha512(d.sha512));
  if (s.with_shasum) dist["shasum"] = s.shasum.value_or(arca::to_hex(d.sha1));
  std::string unscoped =
      s.name.substr(s.name.find('/') == std::string::npos ? 0 : s.name.find('/') + 1);
  return {
      {"_id", s.name},
      {"name", s.name},
      {"dist-tags", {{"latest", s.version}}},
      {"versions", {{s.version, {{"name", s.name}, {"version", s.version}, {"dist", dist}}}}},
      {"access", "public"},
      {"_attachments",
       {{unscoped + "-" + s.version + ".tgz",
         {{"content_type", "application/octet-stream"},
          {"data", arca::base64_encode(s.data)},
          {"length", s.data.size()}}}}},
  };
}

// A version manifest shaped like the registry's.
json manifest(const std::string& name, const std::string& version,
              const std::string& tarball_host) {
  return {
      {"name", name},
      {"version", version},
      {"description", "a package used in tests, with a description long enough to add some weight"},
      {"main", "index.js"},
      {"scripts", {{"test", "node test.js"}}},
      {"dependencies", {{"left-pad", "^1.0.0"}}},
      {"devDependencies", {{"tap", "^16.0.0"}}},
      {"_id", name + "@" + version},
      {"_npmVersion", "10.0.0"},
      {"dist",
       {{"tarball", tarball_host + name + "/-/" + name + "-" + version + ".tgz"},
        {"shasum", std::string(40, 'a')},
        {"integrity", std::string(k_abc_sri)}}},
  };
}

json packument(const std::string& name, const std::vector<std::string>& versions,
               const std::string& host = "https://registry.npmjs.org/") {
  json doc = {
      {"_id", name},
      {"name", name},
      {"description", "from " + host},
      {"dist-tags", json::object()},
      {"versions", json::object()},
      {"time",
       {{"created", "2020-01-01T00:00:00.000Z"}, {"modified", "2021-01-01T00:00:00.000Z"}}}};
  for (const auto& v : versions) {
    doc["versions"][v] = manifest(name, v, host);
    doc["time"][v] = "2020-06-01T00:00:00.000Z";
  }
  if (!versions.empty()) doc["dist-tags"]["latest"] = versions.back();
  return doc;
}

std::vector<std::string> keys_of(const json& obj) {
  std::vector<std::string> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) out.push_back(it.key());
  return out;
}

}  // namespace

TEST_SUITE("formats::npm") {
  // --- parse_package_name ---

  TEST_CASE("parse_package_name accepts npm's valid and legacy names") {
    for (std::string_view s : {"some-package", "example.com", "under_score", "123numeric", "crazy!",
                               "a", "left-pad", "lodash.merge", "JSONStream", "UPPER", "a~b", "a*b",
                               "it's", "(paren)", "events", "http", "-dash-first", "a.b.c"}) {
      CAPTURE(s);
      auto r = npm::parse_package_name(s);
      REQUIRE(r.has_value());
      CHECK(r->scope.empty());
      CHECK(r->name == s);
      CHECK(r->full() == s);
    }
    auto r = npm::parse_package_name("@npm/thingy");
    REQUIRE(r.has_value());
    CHECK(r->scope == "npm");
    CHECK(r->name == "thingy");
    CHECK(r->full() == "@npm/thingy");
    CHECK(name_ok("@jane/foo.js"));
    CHECK(name_ok("@types/node"));
    CHECK(name_ok("@Scope/Name"));  // legacy upper case
    CHECK(name_ok("@a/_private"));  // npm checks the leading '_' on the full name only
    CHECK(name_ok("@_a/b"));
    CHECK(name_ok("@a/node_modules"));  // the reserved names are reserved unscoped only
    CHECK(name_ok(std::string(214, 'a')));
    CHECK(name_ok("@" + std::string(100, 's') + "/" + std::string(112, 'n')));  // 214 in all
  }

  TEST_CASE("parse_package_name refuses bad names") {
    const std::vector<std::string> bad = {
        "",
        std::string(215, 'a'),
        "@" + std::string(100, 's') + "/" + std::string(113, 'n'),  // 215 in all
        ".",
        "..",
        "../x",
        "..%2fx",
        "%2e%2e",
        "%2E%2E",
        "a%20b",
        "foo%2fbar",
        ".hidden",
        "_underscore",
        "a..b",
        "a/b",
        "a\\b",
        "a b",
        " leading",
        "trailing ",
        "a\tb",
        std::string("a\x01") + "b",
        std::string("a\x7f") + "b",
        std::string("nul\0x", 5),
        "caf\xc3\xa9",
        "\xff",
        "a:b",
        "a@b",
        "a?b",
        "a#b",
        "a\"b",
        "<script>",
        "node_modules",
        "NODE_MODULES",
        "favicon.ico",
        "Favicon.ICO",
        "@",
        "@/",
        "@/b",
        "@a/",
        "@a",
        "@a/b/c",
        "@a//b",
        "@@a/b",
        "@a/@b",
        "@./b",
        "@../b",
        "@a/.",
        "@a/..",
        "@a/.b",
        "@a/../b",
        "@a%2fb",
        "@a b/c",
        "@a/b c",
        std::string("@a/b\x01"),
    };
    for (const auto& s : bad) {
      CAPTURE(s);
      auto r = npm::parse_package_name(s);
      CHECK_FALSE(r.has_value());
      if (!r) CHECK(r.error().code == arca::Errc::invalid_argument);
    }
  }

  TEST_CASE("escaped_name uses a lower-case %2f for scoped names") {
    CHECK(npm::escaped_name(name_of("foo")) == "foo");
    CHECK(npm::escaped_name(name_of("@scope/foo")) == "@scope%2ffoo");
  }

  // --- valid_version ---

  TEST_CASE("valid_version") {
    for (std::string_view v : {"1.0.0", "0.0.1", "1.0.0-beta.1", "1.0.0+build.5",
                               "1.0.0-rc.1+sha.abc", "v1.0.0", "2015.1.1", "1", "a", "x.y"}) {
      CAPTURE(v);
      CHECK(npm::valid_version(v));
    }
    CHECK(npm::valid_version(std::string(256, '1')));
    const std::vector<std::string> bad = {"",
                                          ".",
                                          "..",
                                          "1.0.0/..",
                                          "../1",
                                          "1\\0",
                                          "1 0",
                                          " 1.0.0",
                                          "1.0.0\n",
                                          "1\t0",
                                          std::string("1\x01"),
                                          std::string("1\x7f"),
                                          std::string(257, '1'),
                                          "1%2f0",
                                          "1?x",
                                          "1#x",
                                          "1.0.0-\xc3\xa9",
                                          std::string("1\0", 2)};
    for (const auto& v : bad) {
      CAPTURE(v);
      CHECK_FALSE(npm::valid_version(v));
    }
  }

  // --- tarball file names ---

  TEST_CASE("tarball_filename and version_from_tarball_filename round trip") {
    struct Case {
      std::string name, version, file;
    };
    const std::vector<Case> cases = {
        {"foo", "1.0.0", "foo-1.0.0.tgz"},
        {"foo", "1.0.0-beta.1", "foo-1.0.0-beta.1.tgz"},
        {"foo-bar", "1.0.0", "foo-bar-1.0.0.tgz"},
        {"foo-bar", "2.0.0-rc-1", "foo-bar-2.0.0-rc-1.tgz"},
        {"foo-1", "1.0.0", "foo-1-1.0.0.tgz"},
        {"@scope/foo", "1.0.0", "foo-1.0.0.tgz"},
        {"@scope/foo-bar", "3.1.4-alpha+build.7", "foo-bar-3.1.4-alpha+build.7.tgz"},
        {"lodash.merge", "4.6.2", "lodash.merge-4.6.2.tgz"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.file);
      auto n = name_of(c.name);
      CHECK(npm::tarball_filename(n, c.version) == c.file);
      auto v = npm::version_from_tarball_filename(n, c.file);
      REQUIRE(v.has_value());
      CHECK(*v == c.version);
    }
  }

  TEST_CASE("version_from_tarball_filename refuses other shapes") {
    auto foo = name_of("foo");
    for (std::string_view f :
         {"foo-1.0.0.tar.gz", "foo-1.0.0", "foo1.0.0.tgz", "bar-1.0.0.tgz", "fo-1.0.0.tgz",
          "foo-.tgz", "foo.tgz", "-1.0.0.tgz", "", "foo-", "foo-...tgz", "foo-..tgz", "foo-a/b.tgz",
          "foo-1.0.0.tgz/x", "foo-1 0.tgz", "foo-1.0.0.TGZ", "Foo-1.0.0.tgz"}) {
      CAPTURE(f);
      CHECK_FALSE(npm::version_from_tarball_filename(foo, f).has_value());
    }
    // For "foo", "foo-bar-1.0.0.tgz" is version "bar-1.0.0": the name is given, so the split is
    // unambiguous; the caller checks the version exists.
    auto v = npm::version_from_tarball_filename(foo, "foo-bar-1.0.0.tgz");
    REQUIRE(v.has_value());
    CHECK(*v == "bar-1.0.0");
    // Scoped: the file is named with the unscoped name only.
    CHECK_FALSE(
        npm::version_from_tarball_filename(name_of("@s/foo"), "@s/foo-1.0.0.tgz").has_value());
  }

  TEST_CASE("tarball_url") {
    const std::string base = "http://127.0.0.1:5080/local/npm/main/";
    CHECK(npm::tarball_url(base, name_of("foo"), "1.0.0") == base + "foo/-/foo-1.0.0.tgz");
    CHECK(npm::tarball_url(base, name_of("@scope/name"), "1.0.0") ==
          base + "@scope/name/-/name-1.0.0.tgz");
  }

  // --- dist_of ---

  TEST_CASE("dist_of reads tarball, sha512 integrity and sha1 shasum") {
    json m = {{"dist",
               {{"tarball", "https://r/x.tgz"}, {"integrity", k_abc_sri}, {"shasum", k_abc_sha1}}}};
    auto d = npm::dist_of(m);
    REQUIRE(d.has_value());
    CHECK(d->tarball == "https://r/x.tgz");
    auto want = arca::digest_of("abc");
    REQUIRE(d->sha512.has_value());
    CHECK(*d->sha512 == want.sha512);
    REQUIRE(d->sha1.has_value());
    CHECK(*d->sha1 == want.sha1);

    SUBCASE("upper-case shasum") {
      std::string upper(k_abc_sha1);
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      m["dist"]["shasum"] = upper;
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      REQUIRE(d2->sha1.has_value());
      CHECK(*d2->sha1 == want.sha1);
    }
    SUBCASE("several SRI hashes: the sha512 one is used") {
      m["dist"]["integrity"] =
          "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0= " + std::string(k_abc_sri) + "?opt";
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      REQUIRE(d2->sha512.has_value());
      CHECK(*d2->sha512 == want.sha512);
    }
    SUBCASE("a malformed sha512 entry is skipped for a later good one") {
      m["dist"]["integrity"] = "sha512-!!!! sha512-AAAA " + std::string(k_abc_sri);
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      REQUIRE(d2->sha512.has_value());
      CHECK(*d2->sha512 == want.sha512);
    }
    SUBCASE("malformed digests are left unset") {
      m["dist"]["integrity"] = "sha512-notbase64!";
      m["dist"]["shasum"] = "xyz";
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      CHECK_FALSE(d2->sha512.has_value());
      CHECK_FALSE(d2->sha1.has_value());
    }
    SUBCASE("only sha1 in integrity: no sha512") {
      m["dist"]["integrity"] = "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=";
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      CHECK_FALSE(d2->sha512.has_value());
      CHECK(d2->sha1.has_value());
    }
    SUBCASE("wrong types are ignored") {
      m["dist"]["integrity"] = 5;
      m["dist"]["shasum"] = json::array();
      auto d2 = npm::dist_of(m);
      REQUIRE(d2.has_value());
      CHECK_FALSE(d2->sha512.has_value());
      CHECK_FALSE(d2->sha1.has_value());
    }
  }

  TEST_CASE("dist_of without a tarball string is nullopt") {
    CHECK_FALSE(npm::dist_of(json()).has_value());
    CHECK_FALSE(npm::dist_of(json::array()).has_value());
    CHECK_FALSE(npm::dist_of(json("x")).has_value());
    CHECK_FALSE(npm::dist_of(json::object()).has_value());
    CHECK_FALSE(npm::dist_of(json{{"dist", "x"}}).has_value());
    CHECK_FALSE(npm::dist_of(json{{"dist", json::object()}}).has_value());
    CHECK_FALSE(npm::dist_of(json{{"dist", {{"tarball", 1}}}}).has_value());
    auto d = npm::dist_of(json{{"dist", {{"tarball", "u"}}}});
    REQUIRE(d.has_value());
    CHECK_FALSE(d->sha512.has_value());
    CHECK_FALSE(d->sha1.has_value());
  }

  // --- parse_json_object / parse_packument ---

  TEST_CASE("parse_json_object") {
    CHECK(npm::parse_json_object("{}", arca::Errc::invalid_argument).has_value());
    for (std::string_view bad : {"", "{", "[]", "1", "\"s\"", "null", "{\"a\":}", "{} x",
                                 "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}"}) {
      CAPTURE(bad);
      auto r = npm::parse_json_object(bad, arca::Errc::corrupt);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == arca::Errc::corrupt);
    }
    // Deep nesting is refused before it can blow the stack in dump() or copies.
    std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK_FALSE(npm::parse_json_object(deep, arca::Errc::invalid_argument).has_value());
    std::string ok = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
    CHECK(npm::parse_json_object(ok, arca::Errc::invalid_argument).has_value());
    // Brackets inside strings do not count.
    std::string in_string = "{\"a\":\"" + std::string(1000, '[') + "\\\"" + "\"}";
    CHECK(npm::parse_json_object(in_string, arca::Errc::invalid_argument).has_value());
  }

  TEST_CASE("parse_packument keeps a good document") {
    json doc = packument("foo", {"1.0.0", "1.1.0"});
    auto r = npm::parse_packument(doc.dump());
    REQUIRE(r.has_value());
    CHECK(*r == doc);
  }

  TEST_CASE("parse_packument refuses bad documents as upstream_error") {
    for (std::string_view bad :
         {"", "not json", "[]", "null", "42", "{}", R"({"versions":[]})", R"({"versions":"x"})",
          R"({"versions":null})", R"({"name":"foo"})", R"({"versions":{})"}) {
      CAPTURE(bad);
      auto r = npm::parse_packument(bad);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == arca::Errc::upstream_error);
    }
  }

  TEST_CASE("parse_packument drops bad versions and tags") {
    json doc = packument("foo", {"1.0.0"});
    doc["versions"]["../../etc"] = manifest("foo", "x", "h/");
    doc["versions"]["1.0.0/x"] = manifest("foo", "x", "h/");
    doc["versions"][".."] = manifest("foo", "x", "h/");
    doc["versions"]["2.0.0"] = "not an object";
    doc["versions"][std::string(300, '1')] = manifest("foo", "x", "h/");
    doc["dist-tags"]["bad"] = 5;
    auto r = npm::parse_packument(doc.dump());
    REQUIRE(r.has_value());
    CHECK(keys_of((*r)["versions"]) == std::vector<std::string>{"1.0.0"});
    CHECK((*r)["dist-tags"] == json{{"latest", "1.0.0"}});

    json odd = {{"name", "foo"}, {"versions", json::object()}, {"dist-tags", "x"}, {"time", 3}};
    auto r2 = npm::parse_packument(odd.dump());
    REQUIRE(r2.has_value());
    CHECK((*r2)["dist-tags"] == json::object());
    CHECK((*r2)["time"] == json::object());
  }

  // --- merge_packuments ---

  TEST_CASE("merge_packuments with no sources") {
    json m = npm::merge_packuments(name_of("@s/foo"), {});
    CHECK(m["_id"] == "@s/foo");
    CHECK(m["name"] == "@s/foo");
    CHECK(m["versions"] == json::object());
    CHECK(m["dist-tags"] == json::object());
    CHECK(m["time"] == json::object());
    json null_only = npm::merge_packuments(name_of("foo"), {nullptr});
    CHECK(null_only["versions"] == json::object());
  }

  TEST_CASE("merge_packuments: priority, tags, time, top-level fields") {
    json local = packument("foo", {"1.0.0", "2.0.0"}, "http://local/");
    local["time"]["created"] = "2019-01-01T00:00:00.000Z";
    local["time"].erase("modified");
    local["readme"] = "local readme";
    local["dist-tags"]["beta"] = "2.0.0";
    local["_attachments"] = json::object();
    json upstream = packument("foo", {"1.0.0", "1.5.0", "3.0.0"}, "http://up/");
    upstream["time"]["1.5.0"] = "2020-07-01T00:00:00.000Z";
    upstream["dist-tags"]["beta"] = "3.0.0";
    upstream["dist-tags"]["next"] = "3.0.0";
    upstream["dist-tags"]["gone"] = "9.9.9";
    upstream["keywords"] = json::array({"k"});
    upstream["readme"] = "upstream readme";

    json m = npm::merge_packuments(name_of("foo"), {&local, &upstream});
    CHECK(m["_id"] == "foo");
    CHECK(m["name"] == "foo");
    CHECK(keys_of(m["versions"]) == std::vector<std::string>{"1.0.0", "1.5.0", "2.0.0", "3.0.0"});
    // 1.0.0 is in both: the first source wins.
    CHECK(m["versions"]["1.0.0"]["dist"]["tarball"] == "http://local/foo/-/foo-1.0.0.tgz");
    CHECK(m["versions"]["3.0.0"]["dist"]["tarball"] == "http://up/foo/-/foo-3.0.0.tgz");
    // Tags: each from the first source having it; latest from local (2.0.0).
    CHECK(m["dist-tags"]["latest"] == "2.0.0");
    CHECK(m["dist-tags"]["beta"] == "2.0.0");
    CHECK(m["dist-tags"]["next"] == "3.0.0");
    CHECK_FALSE(m["dist-tags"].contains("gone"));  // its version is not in the merge
    // Time follows the versions; created from local, modified from the first source having it.
    CHECK(m["time"]["created"] == "2019-01-01T00:00:00.000Z");
    CHECK(m["time"]["modified"] == "2021-01-01T00:00:00.000Z");
    CHECK(m["time"]["1.5.0"] == "2020-07-01T00:00:00.000Z");
    CHECK(m["time"].size() == 6);
    // Top-level fields from the first source having each.
    CHECK(m["readme"] == "local readme");
    CHECK(m["description"] == "from http://local/");
    CHECK(m["keywords"] == json::array({"k"}));
    CHECK_FALSE(m.contains("_attachments"));
  }

  TEST_CASE("merge_packuments: latest falls through and falls back") {
    auto foo = name_of("foo");
    SUBCASE("first source's latest is not kept: next source's is used") {
      json a = packument("foo", {"1.0.0"});
      a["dist-tags"]["latest"] = "5.0.0";  // a version a does not have
      json b = packument("foo", {"2.0.0"});
      json m = npm::merge_packuments(foo, {&a, &b});
      CHECK(m["dist-tags"]["latest"] == "2.0.0");
    }
    SUBCASE("no latest anywhere: highest release by semver, not lexical") {
      json a = packument("foo", {"1.9.0", "1.10.0", "1.2.0"});
      a["dist-tags"] = json::object();
      json m = npm::merge_packuments(foo, {&a});
      CHECK(m["dist-tags"]["latest"] == "1.10.0");
    }
    SUBCASE("releases are preferred to higher pre-releases") {
      json a = packument("foo", {"1.0.0", "2.0.0-beta.1"});
      a["dist-tags"] = {{"latest", "9.0.0"}};
      json m = npm::merge_packuments(foo, {&a});
      CHECK(m["dist-tags"]["latest"] == "1.0.0");
    }
    SUBCASE("only pre-releases and non-semver") {
      json a = packument("foo", {"1.0.0-alpha", "1.0.0-beta", "weird"});
      a["dist-tags"] = json::object();
      json m = npm::merge_packuments(foo, {&a});
      CHECK(m["dist-tags"]["latest"] == "1.0.0-beta");
    }
    SUBCASE("only non-semver") {
      json a = packument("foo", {"a", "b"});
      a["dist-tags"] = json::object();
      json m = npm::merge_packuments(foo, {&a});
      CHECK(m["dist-tags"]["latest"] == "b");
    }
  }

  TEST_CASE("merge_packuments tolerates odd sources") {
    json junk1 = json::array({1, 2});
    json junk2 = {{"versions", "x"}, {"dist-tags", 3}, {"time", "t"}};
    json junk3 = {{"versions", {{"1.0.0", "str"}, {"../x", json::object()}, {"2.0.0", {{"a", 1}}}}},
                  {"dist-tags", {{"latest", 7}, {"x", "2.0.0"}}},
                  {"time", {{"2.0.0", 5}, {"created", json::object()}}}};
    json m = npm::merge_packuments(name_of("foo"), {&junk1, nullptr, &junk2, &junk3});
    CHECK(keys_of(m["versions"]) == std::vector<std::string>{"2.0.0"});
    CHECK(m["dist-tags"] == json{{"latest", "2.0.0"}, {"x", "2.0.0"}});
    CHECK(m["time"] == json::object());
    CHECK_NOTHROW((void)m.dump());
  }

  TEST_CASE("merge_packuments is fast on big documents") {
    // ~550 KB and 500 versions per source, half of them shared.
    std::vector<std::string> va, vb;
    for (int i = 0; i < 500; ++i) va.push_back("1." + std::to_string(i) + ".0");
    for (int i = 250; i < 750; ++i) vb.push_back("1." + std::to_string(i) + ".0");
    json a = packument("big", va, "http://a/");
    json b = packument("big", vb, "http://b/");
    for (auto& [k, v] : a["versions"].items()) v["readme"] = std::string(700, 'r');
    std::string body = a.dump();
    MESSAGE("packument size: " << body.size() << " bytes");
    CHECK(body.size() > 500000);

    auto t0 = std::chrono::steady_clock::now();
    json m = npm::merge_packuments(name_of("big"), {&a, &b});
    auto t1 = std::chrono::steady_clock::now();
    auto ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    MESSAGE("merge of 2 x 500 versions took " << ms << " ms");
    CHECK(m["versions"].size() == 750);
    CHECK(m["time"].size() == 752);
    CHECK(m["dist-tags"]["latest"] == "1.499.0");
    CHECK(ms < 250);  // a few ms in practice; generous for loaded CI machines and sanitizers

    auto t2 = std::chrono::steady_clock::now();
    json ab = npm::abbreviate(m);
    npm::rewrite_tarball_urls(m, "http://127.0.0.1:5080/local/npm/main/");
    auto t3 = std::chrono::steady_clock::now();
    MESSAGE("abbreviate + rewrite took "
            << std::chrono::duration<double, std::milli>(t3 - t2).count() << " ms");
    CHECK(ab["versions"].size() == 750);
  }

  // --- rewrite_tarball_urls ---

  TEST_CASE("rewrite_tarball_urls") {
    const std::string base = "http://127.0.0.1:5080/local/npm/main/";
    SUBCASE("unscoped") {
      json doc = packument("foo", {"1.0.0", "1.0.0-beta.1"});
      npm::rewrite_tarball_urls(doc, base);
      CHECK(doc["versions"]["1.0.0"]["dist"]["tarball"] == base + "foo/-/foo-1.0.0.tgz");
      CHECK(doc["versions"]["1.0.0-beta.1"]["dist"]["tarball"] ==
            base + "foo/-/foo-1.0.0-beta.1.tgz");
      // Other dist fields are untouched.
      CHECK(doc["versions"]["1.0.0"]["dist"]["integrity"] == k_abc_sri);
    }
    SUBCASE("scoped") {
      json doc = packument("@scope/name", {"1.0.0"});
      npm::rewrite_tarball_urls(doc, base);
      CHECK(doc["versions"]["1.0.0"]["dist"]["tarball"] == base + "@scope/name/-/name-1.0.0.tgz");
    }
    SUBCASE("name from _id, or given") {
      json doc = packument("@scope/name", {"1.0.0"});
      doc.erase("name");
      npm::rewrite_tarball_urls(doc, base);
      CHECK(doc["versions"]["1.0.0"]["dist"]["tarball"] == base + "@scope/name/-/name-1.0.0.tgz");
      npm::rewrite_tarball_urls(doc, name_of("other"), base);
      CHECK(doc["versions"]["1.0.0"]["dist"]["tarball"] == base + "other/-/other-1.0.0.tgz");
    }
    SUBCASE("bad names, versions and shapes are left alone") {
      json doc = packument("foo", {"1.0.0"});
      doc["name"] = "../evil";
      doc["_id"] = 5;
      json before = doc;
      npm::rewrite_tarball_urls(doc, base);
      CHECK(doc == before);

      json odd = {{"name", "foo"},
                  {"versions",
                   {{"1.0.0", {{"dist", "x"}}},
                    {"2.0.0", "str"},
                    {"3.0.0", json::object()},
                    {"a/b", {{"dist", {{"tarball", "keep"}}}}}}}};
      json odd_before = odd;
      npm::rewrite_tarball_urls(odd, base);
      CHECK(odd == odd_before);
      json not_object = json::array();
      npm::rewrite_tarball_urls(not_object, base);
      CHECK(not_object == json::array());
    }
  }

  // --- abbreviate ---

  TEST_CASE("abbreviate keeps exactly the installer fields") {
    json full = packument("foo", {"1.0.0"});
    full["readme"] = "long readme";
    full["maintainers"] = json::array();
    json& v = full["versions"]["1.0.0"];
    v["optionalDependencies"] = {{"fsevents", "*"}};
    v["peerDependencies"] = {{"react", ">=16"}};
    v["peerDependenciesMeta"] = {{"react", {{"optional", true}}}};
    v["bundleDependencies"] = json::array({"x"});
    v["acceptDependencies"] = {{"y", "1"}};
    v["bin"] = {{"foo", "bin/foo.js"}};
    v["directories"] = json::object();
    v["engines"] = {{"node", ">=18"}};
    v["os"] = json::array({"linux"});
    v["cpu"] = json::array({"x64"});
    v["libc"] = json::array({"glibc"});
    v["deprecated"] = "use bar";
    v["_hasShrinkwrap"] = false;
    v["funding"] = "https://example.com";
    v["license"] = "MIT";
    v["readme"] = "version readme";
    v["_npmUser"] = {{"name", "x"}};
    v["repository"] = "git://x";

    json ab = npm::abbreviate(full);
    CHECK(keys_of(ab) == std::vector<std::string>{"dist-tags", "modified", "name", "versions"});
    CHECK(ab["name"] == "foo");
    CHECK(ab["modified"] == "2021-01-01T00:00:00.000Z");
    CHECK(ab["dist-tags"] == json{{"latest", "1.0.0"}});
    CHECK(keys_of(ab["versions"]["1.0.0"]) == std::vector<std::string>{"_hasShrinkwrap",
                                                                       "acceptDependencies",
                                                                       "bin",
                                                                       "bundleDependencies",
                                                                       "cpu",
                                                                       "dependencies",
                                                                       "deprecated",
                                                                       "devDependencies",
                                                                       "directories",
                                                                       "dist",
                                                                       "engines",
                                                                       "funding",
                                                                       "libc",
                                                                       "license",
                                                                       "name",
                                                                       "optionalDependencies",
                                                                       "os",
                                                                       "peerDependencies",
                                                                       "peerDependenciesMeta",
                                                                       "version"});
    CHECK(ab["versions"]["1.0.0"]["dist"] == v["dist"]);
    CHECK(ab["versions"]["1.0.0"]["deprecated"] == "use bar");
  }

  TEST_CASE("abbreviate derives hasInstallScript") {
    json full = packument("foo", {"1.0.0", "2.0.0", "3.0.0", "4.0.0"});
    full["versions"]["1.0.0"]["scripts"] = {{"postinstall", "node x.js"}};
    full["versions"]["2.0.0"]["scripts"] = {{"test", "t"}, {"prepare", "p"}};
    full["versions"]["3.0.0"]["scripts"] = {{"install", "node-gyp rebuild"}};
    full["versions"]["3.0.0"]["hasInstallScript"] = false;  // as given wins
    full["versions"]["4.0.0"]["scripts"] = {{"preinstall", "x"}};
    json ab = npm::abbreviate(full);
    CHECK(ab["versions"]["1.0.0"]["hasInstallScript"] == true);
    CHECK_FALSE(ab["versions"]["2.0.0"].contains("hasInstallScript"));
    CHECK(ab["versions"]["3.0.0"]["hasInstallScript"] == false);
    CHECK(ab["versions"]["4.0.0"]["hasInstallScript"] == true);
    CHECK_FALSE(ab["versions"]["1.0.0"].contains("scripts"));
  }

  TEST_CASE("abbreviate tolerates odd documents") {
    CHECK(npm::abbreviate(json()) == json::object());
    CHECK(npm::abbreviate(json::array()) == json::object());
    json ab = npm::abbreviate(
        json{{"name", 3}, {"time", "x"}, {"dist-tags", 4}, {"versions", {{"1.0.0", "s"}}}});
    CHECK(ab == json{{"dist-tags", json::object()}, {"versions", json::object()}});
    json ab2 =
        npm::abbreviate(json{{"name", "foo"}, {"versions", {{"1.0.0", {{"scripts", "x"}}}}}});
    CHECK(ab2["versions"]["1.0.0"] == json::object());
    CHECK_FALSE(ab2.contains("modified"));
  }

  // --- compare_versions ---

  TEST_CASE("compare_versions orders by semver precedence") {
    // semver.org §11 example, plus numbers that differ in length.
    const std::vector<std::string> ordered = {"0.0.1",
                                              "0.1.0",
                                              "0.9.9",
                                              "1.0.0-0",
                                              "1.0.0-1",
                                              "1.0.0-2",
                                              "1.0.0-10",
                                              "1.0.0-a",
                                              "1.0.0-alpha",
                                              "1.0.0-alpha.1",
                                              "1.0.0-alpha.beta",
                                              "1.0.0-beta",
                                              "1.0.0-beta.2",
                                              "1.0.0-beta.11",
                                              "1.0.0-rc.1",
                                              "1.0.0",
                                              "1.0.1",
                                              "1.2.0",
                                              "1.9.0",
                                              "1.10.0",
                                              "2.0.0",
                                              "10.0.0",
                                              "99999999999999999999.0.0",
                                              "not-semver",
                                              "zzz"};
    for (size_t i = 0; i < ordered.size(); ++i) {
      for (size_t j = 0; j < ordered.size(); ++j) {
        CAPTURE(ordered[i]);
        CAPTURE(ordered[j]);
        int want = i < j ? -1 : i > j ? 1 : 0;
        CHECK(npm::compare_versions(ordered[i], ordered[j]) == want);
      }
    }
    std::vector<std::string> shuffled = ordered;
    std::mt19937 rng(42);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    std::sort(shuffled.begin(), shuffled.end(), [](const std::string& a, const std::string& b) {
      return npm::compare_versions(a, b) < 0;
    });
    CHECK(shuffled == ordered);
  }

  TEST_CASE("compare_versions: build metadata, loose prefixes, non-semver") {
    CHECK(npm::compare_versions("1.0.0+build.1", "1.0.0+build.2") == 0);
    CHECK(npm::compare_versions("1.0.0-rc.1+b", "1.0.0-rc.1") == 0);
    CHECK(npm::compare_versions("1.0.0+b", "1.0.0-rc.1") == 1);
    CHECK(npm::compare_versions("v1.2.3", "1.2.3") == 0);
    CHECK(npm::compare_versions("=1.2.3", "1.2.3") == 0);
    CHECK(npm::compare_versions(" v1.2.3 ", "1.2.4") == -1);
    CHECK(npm::compare_versions("01.2.3", "1.2.3") == 0);
    CHECK(npm::compare_versions("1.0.0-beta.011", "1.0.0-beta.9") == 1);
    CHECK(npm::compare_versions("1.0.0-Beta", "1.0.0-beta") == -1);  // ASCII order
    // Not semver: after every semver version, lexical among themselves.
    for (std::string_view odd : {"1.0", "1", "1.0.0.0", "1.0.0-", "1.0.0-a..b", "1.0.0+", "x.y.z",
                                 "", "1.0.0-a_b", "1.0.0+a+b", "-1.0.0"}) {
      CAPTURE(odd);
      CHECK(npm::compare_versions(odd, "999.0.0") == 1);
      CHECK(npm::compare_versions("0.0.0-0", odd) == -1);
      CHECK(npm::compare_versions(odd, odd) == 0);
    }
    CHECK(npm::compare_versions("1.0", "1.1") == -1);
    CHECK(npm::compare_versions("b", "a") == 1);
  }

  TEST_CASE("is_prerelease") {
    CHECK(npm::is_prerelease("1.0.0-beta.1"));
    CHECK(npm::is_prerelease("v1.0.0-0"));
    CHECK_FALSE(npm::is_prerelease("1.0.0"));
    CHECK_FALSE(npm::is_prerelease("1.0.0+build-1"));
    CHECK_FALSE(npm::is_prerelease("latest"));
  }

  // --- parse_publish ---

  TEST_CASE("parse_publish accepts a real npm publish body") {
    auto r = npm::parse_publish(k_real_publish_body, name_of("@arca/fixture"));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->name.full() == "@arca/fixture");
    CHECK(keys_of(r->versions) == std::vector<std::string>{"1.0.0-beta.1"});
    CHECK(r->versions["1.0.0-beta.1"]["scripts"]["postinstall"] == "echo hi");
    CHECK(r->dist_tags == json{{"beta", "1.0.0-beta.1"}});
    REQUIRE(r->attachments.size() == 1);
    const auto& a = r->attachments[0];
    CHECK(a.filename ==
          "fixture-1.0.0-beta.1.tgz");  // npm's key was "@arca/fixture-1.0.0-beta.1.tgz"
    CHECK(a.version == "1.0.0-beta.1");
    CHECK(a.data.size() == 229);
    CHECK(a.data.substr(0, 2) == "\x1f\x8b");  // gzip
    auto d = arca::digest_of(a.data);
    CHECK(arca::sri_sha512(d.sha512) == k_real_sha512_sri);
    CHECK(arca::to_hex(d.sha1) == k_real_sha1_hex);

    // Round trip into a served document: the version's tarball is rewritten to point at arca.
    json doc = {{"name", "@arca/fixture"}, {"versions", r->versions}};
    npm::rewrite_tarball_urls(doc, "http://h/r/");
    CHECK(doc["versions"]["1.0.0-beta.1"]["dist"]["tarball"] ==
          "http://h/r/@arca/fixture/-/fixture-1.0.0-beta.1.tgz");
    CHECK(npm::version_from_tarball_filename(r->name, a.filename) == "1.0.0-beta.1");
  }

  TEST_CASE("parse_publish detects a tampered real body") {
    std::string body(k_real_publish_body);
    // Flip one base64 character in the tarball data (still valid base64, other bytes).
    auto pos = body.find("\"data\":\"H4sI");
    REQUIRE(pos != std::string::npos);
    body[pos + 20] = body[pos + 20] == 'A' ? 'B' : 'A';
    auto r = npm::parse_publish(body, name_of("@arca/fixture"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == arca::Errc::invalid_argument);
    CHECK(r.error().message == "integrity mismatch for fixture-1.0.0-beta.1.tgz");
  }

  TEST_CASE("parse_publish verifies integrity and shasum") {
    auto foo = name_of("foo");
    SUBCASE("both correct") {
      auto r = npm::parse_publish(publish_doc({}).dump(), foo);
      REQUIRE_MESSAGE(r.has_value(), r.error().message);
      REQUIRE(r->attachments.size() == 1);
      CHECK(r->attachments[0].filename == "foo-1.0.0.tgz");
      CHECK(r->attachments[0].data == binary_bytes());
      CHECK(r->dist_tags == json{{"latest", "1.0.0"}});
    }
    SUBCASE("known vector") {
      PublishSpec s;
      s.data = "abc";
      s.integrity = std::string(k_abc_sri);
      s.shasum = std::string(k_abc_sha1);
      CHECK(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
    }
    SUBCASE("wrong sha512") {
      PublishSpec s;
      s.integrity = std::string(k_abc_sri);
      auto r = npm::parse_publish(publish_doc(s).dump(), foo);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == arca::Errc::invalid_argument);
      CHECK(r.error().message == "integrity mismatch for foo-1.0.0.tgz");
    }
    SUBCASE("wrong shasum with right integrity") {
      PublishSpec s;
      s.shasum = std::string(k_abc_sha1);
      auto r = npm::parse_publish(publish_doc(s).dump(), foo);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().message == "integrity mismatch for foo-1.0.0.tgz");
    }
    SUBCASE("only shasum, right and wrong") {
      PublishSpec s;
      s.with_integrity = false;
      CHECK(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
      s.shasum = std::string(k_abc_sha1);
      auto r = npm::parse_publish(publish_doc(s).dump(), foo);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().message == "integrity mismatch for foo-1.0.0.tgz");
    }
    SUBCASE("several SRI hashes: the sha512 one is checked") {
      PublishSpec s;
      s.with_shasum = false;
      auto d = arca::digest_of(s.data);
      s.integrity = "sha1-" + arca::base64_encode(d.sha1) + " " + arca::sri_sha512(d.sha512);
      CHECK(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
      s.integrity = "sha1-" + arca::base64_encode(d.sha1) + " " + std::string(k_abc_sri);
      CHECK_FALSE(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
    }
    SUBCASE("no digests at all is accepted") {
      PublishSpec s;
      s.with_integrity = false;
      s.with_shasum = false;
      CHECK(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
    }
    SUBCASE("malformed digests") {
      PublishSpec s;
      s.integrity = "sha512-@@@";
      CHECK_FALSE(npm::parse_publish(publish_doc(s).dump(), foo).has_value());
      PublishSpec t;
      t.shasum = "1234";
      CHECK_FALSE(npm::parse_publish(publish_doc(t).dump(), foo).has_value());
      json doc = publish_doc({});
      doc["versions"]["1.0.0"]["dist"]["integrity"] = 5;
      CHECK_FALSE(npm::parse_publish(doc.dump(), foo).has_value());
      doc = publish_doc({});
      doc["versions"]["1.0.0"]["dist"] = "x";
      CHECK_FALSE(npm::parse_publish(doc.dump(), foo).has_value());
    }
  }

  TEST_CASE("parse_publish: names and versions with dashes, scoped keys") {
    PublishSpec s;
    s.name = "foo-bar";
    s.version = "1.0.0-beta.1";
    auto r = npm::parse_publish(publish_doc(s).dump(), name_of("foo-bar"));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->attachments[0].filename == "foo-bar-1.0.0-beta.1.tgz");
    CHECK(r->attachments[0].version == "1.0.0-beta.1");

    // A scoped package with the unscoped attachment key works too.
    PublishSpec t;
    t.name = "@sc/foo";
    auto r2 = npm::parse_publish(publish_doc(t).dump(), name_of("@sc/foo"));
    REQUIRE_MESSAGE(r2.has_value(), r2.error().message);
    CHECK(r2->attachments[0].filename == "foo-1.0.0.tgz");
  }

  TEST_CASE("parse_publish refuses malformed bodies") {
    auto foo = name_of("foo");
    auto refuse = [&](const std::string& body, std::string_view why) {
      CAPTURE(why);
      auto r = npm::parse_publish(body, foo);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == arca::Errc::invalid_argument);
      return r.error().message;
    };
    auto mutate = [&](auto&& f, std::string_view why) {
      json doc = publish_doc({});
      f(doc);
      return refuse(doc.dump(), why);
    };

    refuse("", "empty");
    refuse("{", "invalid JSON");
    refuse("[]", "array");
    refuse("{\"name\":\"foo\",\"x\":\"\xff\"}", "invalid UTF-8");
    mutate([](json& d) { d.erase("name"); }, "no name");
    mutate([](json& d) { d["name"] = 5; }, "name not a string");
    mutate([](json& d) { d["name"] = "bar"; }, "name differs from the URL");
    mutate([](json& d) { d["_id"] = "bar"; }, "_id differs");
    mutate([](json& d) { d.erase("versions"); }, "no versions");
    mutate([](json& d) { d["versions"] = json::object(); }, "empty versions");
    mutate([](json& d) { d["versions"] = json::array(); }, "versions not an object");
    mutate([](json& d) { d["versions"]["1.0.0"] = "x"; }, "manifest not an object");
    mutate([](json& d) { d["versions"]["1.0.0"]["name"] = "bar"; }, "manifest name differs");
    mutate([](json& d) { d["versions"]["1.0.0"].erase("name"); }, "manifest without name");
    mutate([](json& d) { d["versions"]["1.0.0"]["version"] = "1.0.1"; },
           "manifest version differs");
    mutate(
        [](json& d) {
          d["versions"]["../x"] = d["versions"]["1.0.0"];
          d["versions"]["../x"]["version"] = "../x";
        },
        "invalid version key");
    mutate([](json& d) { d["dist-tags"] = "x"; }, "dist-tags not an object");
    mutate([](json& d) { d["dist-tags"]["latest"] = 1; }, "dist-tag not a string");
    mutate([](json& d) { d["dist-tags"]["latest"] = "../x"; }, "dist-tag value invalid");
    mutate([](json& d) { d["dist-tags"]["a b"] = "1.0.0"; }, "dist-tag name invalid");
    CHECK(mutate([](json& d) { d.erase("_attachments"); }, "no attachments") == "no attachments");
    CHECK(mutate([](json& d) { d["_attachments"] = json::object(); }, "empty") == "no attachments");
    mutate([](json& d) { d["_attachments"] = "x"; }, "attachments not an object");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"] = "x"; }, "attachment not an object");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"].erase("data"); }, "no data");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["data"] = 5; }, "data not a string");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["data"] = "!!!"; }, "bad base64");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["length"] = 1; }, "length differs");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["length"] = -300; }, "negative length");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["length"] = "300"; }, "length string");
    mutate([](json& d) { d["_attachments"]["foo-1.0.0.tgz"]["length"] = 300.5; }, "length float");
    mutate([](json& d) { d["_attachments"]["foo-2.0.0.tgz"] = d["_attachments"]["foo-1.0.0.tgz"]; },
           "attachment for a version not in the body");
    mutate(
        [](json& d) {
          d["_attachments"]["bar-1.0.0.tgz"] = d["_attachments"]["foo-1.0.0.tgz"];
          d["_attachments"].erase("foo-1.0.0.tgz");
        },
        "attachment for another package");
    mutate(
        [](json& d) {
          d["_attachments"]["../../foo-1.0.0.tgz"] = d["_attachments"]["foo-1.0.0.tgz"];
        },
        "traversal in attachment key");
    mutate(
        [](json& d) {
          d["versions"]["2.0.0"] = d["versions"]["1.0.0"];
          d["versions"]["2.0.0"]["version"] = "2.0.0";
        },
        "a version with no attachment");
    // The scoped key form only applies to the URL's scope.
    PublishSpec s;
    s.name = "@sc/foo";
    json doc = publish_doc(s);
    doc["_attachments"]["@other/foo-1.0.0.tgz"] = doc["_attachments"]["foo-1.0.0.tgz"];
    CHECK_FALSE(npm::parse_publish(doc.dump(), name_of("@sc/foo")).has_value());
    // Two attachments (scoped and unscoped keys) for one version.
    doc = publish_doc(s);
    doc["_attachments"]["@sc/foo-1.0.0.tgz"] = doc["_attachments"]["foo-1.0.0.tgz"];
    CHECK_FALSE(npm::parse_publish(doc.dump(), name_of("@sc/foo")).has_value());
    // Right body, wrong URL.
    CHECK_FALSE(npm::parse_publish(publish_doc({}).dump(), name_of("@x/foo")).has_value());
  }

  TEST_CASE("parse_publish ignores provenance bundles and accepts a missing length/dist-tags") {
    json doc = publish_doc({});
    doc["_attachments"]["foo-1.0.0.sigstore"] = {
        {"content_type", "application/vnd.dev.sigstore.bundle+json;version=0.2"},
        {"data", R"({"mediaType":"x"})"},
        {"length", 17}};
    doc["_attachments"]["foo-1.0.0.tgz"].erase("length");
    doc.erase("dist-tags");
    auto r = npm::parse_publish(doc.dump(), name_of("foo"));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->attachments.size() == 1);
    CHECK(r->dist_tags == json::object());
  }

  TEST_CASE("parse_publish with several versions") {
    json doc = publish_doc({});
    PublishSpec second;
    second.version = "2.0.0";
    second.data = "other bytes";
    json two = publish_doc(second);
    doc["versions"]["2.0.0"] = two["versions"]["2.0.0"];
    doc["_attachments"]["foo-2.0.0.tgz"] = two["_attachments"]["foo-2.0.0.tgz"];
    auto r = npm::parse_publish(doc.dump(), name_of("foo"));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    REQUIRE(r->attachments.size() == 2);
    CHECK(r->attachments[1].data == "other bytes");
  }

  TEST_CASE("is_publish_body") {
    CHECK(npm::is_publish_body(publish_doc({})));
    auto real = npm::parse_json_object(k_real_publish_body, arca::Errc::invalid_argument);
    REQUIRE(real.has_value());
    CHECK(npm::is_publish_body(*real));
    // `npm deprecate` PUTs the full packument back, without attachments.
    json deprecate = packument("foo", {"1.0.0"});
    deprecate["versions"]["1.0.0"]["deprecated"] = "no";
    CHECK_FALSE(npm::is_publish_body(deprecate));
    deprecate["_attachments"] = json::object();
    CHECK_FALSE(npm::is_publish_body(deprecate));
    CHECK_FALSE(npm::is_publish_body(json()));
    CHECK_FALSE(npm::is_publish_body(json::array()));
    CHECK_FALSE(npm::is_publish_body(json{{"_attachments", "x"}}));
  }

  // --- parse_metadata_update (npm deprecate) ---

  TEST_CASE("parse_metadata_update") {
    const json current = packument("foo", {"1.0.0", "1.1.0"});
    auto update = [&](const json& body) {
      return npm::parse_metadata_update(body.dump(), name_of("foo"), current);
    };
    json body = current;
    body["versions"]["1.0.0"]["deprecated"] = "use 1.1.0";
    body["versions"]["1.1.0"]["deprecated"] = "";  // undeprecating what is not deprecated: no change
    auto r = update(body);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    REQUIRE(r->deprecations.size() == 1);
    CHECK(r->deprecations.at("1.0.0") == std::optional<std::string>("use 1.1.0"));

    json deprecated = current;
    deprecated["versions"]["1.0.0"]["deprecated"] = "old";
    json undo = deprecated;
    undo["versions"]["1.0.0"]["deprecated"] = "";
    auto u = npm::parse_metadata_update(undo.dump(), name_of("foo"), deprecated);
    REQUIRE(u.has_value());
    REQUIRE(u->deprecations.count("1.0.0"));
    CHECK_FALSE(u->deprecations.at("1.0.0").has_value());

    CHECK(update(current)->deprecations.empty());
    json added = current;
    added["versions"]["2.0.0"] = manifest("foo", "2.0.0", "https://registry.npmjs.org/");
    CHECK(update(added).error().message.find("does not exist") != std::string::npos);
    json removed = current;
    removed["versions"].erase("1.0.0");
    CHECK(update(removed).error().message.find("unpublishing") != std::string::npos);
    json dist = current;
    dist["versions"]["1.0.0"]["dist"]["shasum"] = std::string(40, 'b');
    CHECK(update(dist).error().message.find("dist.shasum") != std::string::npos);
    json tags = current;
    tags["dist-tags"]["beta"] = "1.0.0";
    CHECK_FALSE(update(tags).has_value());
    json bad = current;
    bad["versions"]["1.0.0"]["deprecated"] = 3;
    CHECK_FALSE(update(bad).has_value());
    json other = current;
    other["name"] = "bar";
    CHECK_FALSE(update(other).has_value());
    CHECK_FALSE(npm::parse_metadata_update("[1]", name_of("foo"), current).has_value());
    CHECK_FALSE(npm::parse_metadata_update("{}", name_of("foo"), current).has_value());
  }

  // --- error_body ---

  TEST_CASE("error_body") {
    CHECK(npm::error_body("not found") == R"({"error":"not found"})");
    auto parsed = json::parse(npm::error_body("a \"quoted\" \\ path\nwith\tcontrols\x01"));
    CHECK(parsed["error"] == "a \"quoted\" \\ path\nwith\tcontrols\x01");
    CHECK(npm::error_body("") == R"({"error":""})");
    // Invalid UTF-8 does not throw; it is replaced.
    std::string body;
    CHECK_NOTHROW(body = npm::error_body("bad \xff\xfe byte"));
    auto p2 = json::parse(body, nullptr, false);
    REQUIRE_FALSE(p2.is_discarded());
    CHECK(p2["error"] == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
    CHECK(npm::error_body("caf\xc3\xa9") == "{\"error\":\"caf\xc3\xa9\"}");
  }

  // --- robustness ---

  TEST_CASE("nothing throws on mutated input") {
    json base = packument("@s/foo", {"1.0.0", "1.1.0-beta.1"});
    base["_attachments"] = {{"foo-1.0.0.tgz", {{"data", "YWJj"}, {"length", 3}}}};
    const std::string text = base.dump();
    const std::string alphabet = "{}[]\":,\\0123456789abcdefnulltrue.-/@ \x01\xff\xc3";
    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; ++i) {
      std::string s = text;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t pos = rng() % s.size();
        switch (rng() % 3) {
          case 0:
            s[pos] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            s.erase(pos, 1 + rng() % 8);
            break;
          default:
            s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
            break;
        }
        if (s.empty()) s = "{";
      }
      CAPTURE(s);
      REQUIRE_NOTHROW([&] {
        auto p = npm::parse_packument(s);
        if (p) {
          json m = npm::merge_packuments(name_of("@s/foo"), {&*p, &base});
          npm::rewrite_tarball_urls(m, "http://h/");
          (void)npm::abbreviate(m).dump();
          (void)m.dump();
          for (auto it = m["versions"].begin(); it != m["versions"].end(); ++it) {
            (void)npm::dist_of(*it);
          }
        }
        (void)npm::parse_publish(s, name_of("@s/foo"));
      }());
    }
  }

  TEST_CASE("packument_rev") {
    json doc = {{"_id", "foo"}, {"name", "foo"}, {"dist-tags", {{"latest", "1.0.0"}}},
                {"versions", {{"1.0.0", {{"name", "foo"}, {"version", "1.0.0"}}}}}};
    const std::string rev = npm::packument_rev(doc);
    CHECK(rev.rfind("1-", 0) == 0);
    CHECK(rev.size() == 2 + 32);
    CHECK(npm::packument_rev(doc) == rev);  // stable
    json with_rev = doc;
    with_rev["_rev"] = "9-old";
    CHECK(npm::packument_rev(with_rev) == rev);  // its own _rev does not count
    json deprecated = doc;
    deprecated["versions"]["1.0.0"]["deprecated"] = "no";
    CHECK(npm::packument_rev(deprecated) != rev);
    json more = doc;
    more["versions"]["1.1.0"] = {{"name", "foo"}, {"version", "1.1.0"}};
    CHECK(npm::packument_rev(more).rfind("2-", 0) == 0);
    json tagged = doc;
    tagged["dist-tags"]["next"] = "1.0.0";
    CHECK(npm::packument_rev(tagged) != rev);
    CHECK(npm::packument_rev(json::array()).rfind("0-", 0) == 0);
  }

  TEST_CASE("parse_unpublish") {
    json current = {{"_id", "@s/foo"}, {"name", "@s/foo"}, {"dist-tags", {{"latest", "2.0.0"}}},
                    {"versions", {{"1.0.0", json::object()}, {"2.0.0", json::object()}}}};
    // What npm sends: the packument without the version, latest moved by npm itself.
    json body = current;
    body["versions"].erase("2.0.0");
    body["dist-tags"]["latest"] = "1.0.0";
    body["_rev"] = "2-abc";
    auto r = npm::parse_unpublish(body.dump(), name_of("@s/foo"), current);
    REQUIRE(r.has_value());
    CHECK(*r == std::set<std::string>{"2.0.0"});
    auto none = npm::parse_unpublish(current.dump(), name_of("@s/foo"), current);
    REQUIRE(none.has_value());
    CHECK(none->empty());
    json added = current;
    added["versions"]["3.0.0"] = json::object();
    CHECK_FALSE(npm::parse_unpublish(added.dump(), name_of("@s/foo"), current).has_value());
    CHECK_FALSE(npm::parse_unpublish(current.dump(), name_of("@s/bar"), current).has_value());
    CHECK_FALSE(npm::parse_unpublish("{\"name\":\"@s/foo\"}", name_of("@s/foo"), current).has_value());
    CHECK_FALSE(npm::parse_unpublish("not json", name_of("@s/foo"), current).has_value());
    json wrong_id = body;
    wrong_id["_id"] = 3;
    CHECK_FALSE(npm::parse_unpublish(wrong_id.dump(), name_of("@s/foo"), current).has_value());
  }

  TEST_CASE("parse_search_query") {
    auto q = npm::parse_search_query("text=Foo%20Bar+baz&size=5&from=10&quality=0.65&popularity=0.98");
    REQUIRE(q.has_value());
    CHECK(q->text == "foo bar baz");
    CHECK(q->size == 5);
    CHECK(q->from == 10);
    auto d = npm::parse_search_query("");
    REQUIRE(d.has_value());
    CHECK(d->text.empty());
    CHECK(d->size == 20);
    CHECK(d->from == 0);
    CHECK(npm::parse_search_query("size=250").has_value());
    CHECK_FALSE(npm::parse_search_query("size=251").has_value());
    CHECK_FALSE(npm::parse_search_query("size=0").has_value());
    CHECK_FALSE(npm::parse_search_query("size=-1").has_value());
    CHECK_FALSE(npm::parse_search_query("from=x").has_value());
    CHECK_FALSE(npm::parse_search_query("text=%zz").has_value());
    CHECK(npm::parse_search_query("text=%40scope%2Fname")->text == "@scope/name");
  }

  TEST_CASE("search_matches and search_response") {
    auto candidate = [](std::string_view name, std::string version, json manifest) {
      return npm::SearchCandidate{name_of(name), std::move(version), std::move(manifest),
                                  "2024-01-02T03:04:05.678Z"};
    };
    std::vector<npm::SearchCandidate> all = {
        candidate("left-pad", "1.3.0",
                  {{"description", "String left pad"}, {"keywords", {"pad", "string"}},
                   {"_npmUser", {{"name", "alice"}, {"email", "a@example.com"}}},
                   {"maintainers", {{{"name", "alice"}, {"email", "a@example.com"}}}}}),
        candidate("@arca/pad", "2.0.0", {{"description", "Scoped"}, {"keywords", "util, pad"}}),
        candidate("pad", "0.1.0", json::object()),
        candidate("other", "1.0.0", {{"description", "Nothing to see"}, {"homepage", "https://h/"}}),
    };
    npm::SearchQuery q;
    q.text = "pad";
    std::vector<npm::SearchCandidate> matches;
    for (auto& c : all) {
      if (npm::search_matches(q, c)) matches.push_back(c);
    }
    CHECK(matches.size() == 3);
    npm::SearchQuery words;
    words.text = "string left";
    CHECK(npm::search_matches(words, all[0]));
    CHECK_FALSE(npm::search_matches(words, all[1]));
    npm::SearchQuery keyword;
    keyword.text = "util";
    CHECK(npm::search_matches(keyword, all[1]));
    npm::SearchQuery empty;
    CHECK(npm::search_matches(empty, all[3]));

    json r = npm::search_response(matches, q, "http://h/d/npm/r/", "2024-05-06T00:00:00.000Z");
    CHECK(r["total"] == 3);
    CHECK(r["time"] == "2024-05-06T00:00:00.000Z");
    REQUIRE(r["objects"].size() == 3);
    // Exact name first, then names starting with the text (scoped: the name part), then by name.
    CHECK(r["objects"][0]["package"]["name"] == "pad");
    CHECK(r["objects"][1]["package"]["name"] == "@arca/pad");
    CHECK(r["objects"][1]["package"]["scope"] == "arca");
    CHECK(r["objects"][1]["package"]["links"]["npm"] == "http://h/d/npm/r/@arca/pad");
    CHECK(r["objects"][1]["package"]["keywords"] == json({"util", "pad"}));
    CHECK(r["objects"][0]["package"]["scope"] == "unscoped");
    CHECK(r["objects"][0]["package"]["maintainers"] == json::array());
    const json& lp = r["objects"][2]["package"];
    CHECK(lp["name"] == "left-pad");
    CHECK(lp["version"] == "1.3.0");
    CHECK(lp["description"] == "String left pad");
    CHECK(lp["date"] == "2024-01-02T03:04:05.678Z");
    CHECK(lp["publisher"]["username"] == "alice");
    CHECK(lp["maintainers"][0]["username"] == "alice");
    CHECK(r["objects"][2]["score"]["final"] == 1.0);

    npm::SearchQuery page = q;
    page.size = 2;
    page.from = 1;
    json p = npm::search_response(matches, page, "http://h/", "t");
    CHECK(p["total"] == 3);
    REQUIRE(p["objects"].size() == 2);
    CHECK(p["objects"][0]["package"]["name"] == "@arca/pad");
    CHECK(p["objects"][1]["package"]["name"] == "left-pad");
    page.from = 5;
    CHECK(npm::search_response(matches, page, "http://h/", "t")["objects"].empty());
  }

  TEST_CASE("unsupported_command") {
    using V = std::vector<std::string>;
    CHECK(npm::unsupported_command(V{"package", "@s/foo", "access"}, "GET") == "npm access");
    CHECK(npm::unsupported_command(V{"package", "foo", "collaborators"}, "GET") == "npm access");
    CHECK(npm::unsupported_command(V{"user", "anonymous", "package"}, "GET") == "npm access");
    CHECK(npm::unsupported_command(V{"org", "acme", "package"}, "GET") == "npm access");
    CHECK(npm::unsupported_command(V{"team", "acme", "devs", "package"}, "GET") == "npm access");
    CHECK(npm::unsupported_command(V{"org", "acme", "user"}, "GET") == "npm org");
    CHECK(npm::unsupported_command(V{"org", "acme", "team"}, "GET") == "npm team");
    CHECK(npm::unsupported_command(V{"team", "acme", "devs", "user"}, "GET") == "npm team");
    CHECK(npm::unsupported_command(V{"npm", "v1", "tokens"}, "GET") == "npm token");
    CHECK(npm::unsupported_command(V{"npm", "v1", "tokens", "token", "abc"}, "GET") == "npm token");
    CHECK(npm::unsupported_command(V{"npm", "v1", "user"}, "GET") == "npm profile");
    CHECK(npm::unsupported_command(V{"npm", "v1", "hooks", "hook"}, "GET") == "npm hook");
    CHECK(npm::unsupported_command(V{"user", "org.couchdb.user:bob"}, "PUT") == "npm login");
    CHECK(npm::unsupported_command(V{"user", "org.couchdb.user:bob"}, "GET") == "npm owner");
    CHECK(npm::unsupported_command(V{"user", "token", "abc"}, "GET") == "npm logout");
    CHECK(npm::unsupported_command(V{"v1", "login"}, "GET") == "npm login");
    CHECK_FALSE(npm::unsupported_command(V{"package", "foo", "dist-tags"}, "GET"));
    CHECK_FALSE(npm::unsupported_command(V{"ping"}, "GET"));
    CHECK_FALSE(npm::unsupported_command(V{}, "GET"));
  }

}  // TEST_SUITE
