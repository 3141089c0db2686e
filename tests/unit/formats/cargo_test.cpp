// formats/cargo: names, versions, the index layout, index files, dl templates, publish bodies
// (pure), and the handler without sockets (tests/unit/data_plane_env.hpp): publish into
// `store`, the index and the download through `app` (retained there), yank and unyank, the
// 409 of a version an upstream serves, config.json's auth-required, and bad input in cargo's
// error form.

#include "formats/cargo/cargo.hpp"
#include "common/digest.hpp"
#include "repo/records.hpp"
#include "tests/unit/data_plane_env.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace {

using namespace arca;
using namespace arca::formats;
using json = nlohmann::json;

std::string u32le(uint32_t n) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

std::string publish_body(const json& metadata, const std::string& crate) {
  const std::string text = metadata.dump();
  return u32le(static_cast<uint32_t>(text.size())) + text +
         u32le(static_cast<uint32_t>(crate.size())) + crate;
}

template <class R>
bool ok(const R& r) {
  return r.has_value();
}

std::string detail(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("errors")) return "<not an error body: " + body + ">";
  return j["errors"][0]["detail"].get<std::string>();
}

}  // namespace

TEST_SUITE_BEGIN("formats::cargo");

TEST_CASE("names: crates.io's rules and equivalence") {
  CHECK(ok(cargo::check_name("serde")));
  CHECK(ok(cargo::check_name("Serde_json-2")));
  CHECK_FALSE(ok(cargo::check_name("")));
  CHECK_FALSE(ok(cargo::check_name("1abc")));
  CHECK_FALSE(ok(cargo::check_name("_abc")));
  CHECK_FALSE(ok(cargo::check_name("a/b")));
  CHECK_FALSE(ok(cargo::check_name("..")));
  CHECK_FALSE(ok(cargo::check_name("a b")));
  CHECK_FALSE(ok(cargo::check_name("caf\xc3\xa9")));
  CHECK_FALSE(ok(cargo::check_name(std::string(65, 'a'))));
  CHECK(ok(cargo::check_name(std::string(64, 'a'))));
  CHECK(cargo::stored_name("Foo_Bar") == "foo-bar");
  CHECK(cargo::stored_name("foo-bar") == cargo::stored_name("FOO_bar"));
}

TEST_CASE("the index layout") {
  CHECK(cargo::index_path("a") == "1/a");
  CHECK(cargo::index_path("AB") == "2/ab");
  CHECK(cargo::index_path("abc") == "3/a/abc");
  CHECK(cargo::index_path("Serde") == "se/rd/serde");
  CHECK(cargo::index_prefix("Serde") == "Se/rd");
  CHECK(*cargo::parse_index_path("3/a/abc") == "abc");
  CHECK(*cargo::parse_index_path("se/rd/serde") == "serde");
  CHECK(*cargo::parse_index_path("1/x") == "x");
  CHECK_FALSE(ok(cargo::parse_index_path("3/b/abc")));
  CHECK_FALSE(ok(cargo::parse_index_path("se/rd/sxrde")));
  CHECK_FALSE(ok(cargo::parse_index_path("serde")));
  CHECK_FALSE(ok(cargo::parse_index_path("2/../..")));
  CHECK_FALSE(ok(cargo::parse_index_path("1/")));
}

TEST_CASE("versions: SemVer 2.0.0 syntax and precedence") {
  for (const char* good : {"0.0.0", "1.2.3", "1.0.0-alpha.1", "1.0.0+build.5", "1.0.0-rc.1+x-y"})
    CHECK_MESSAGE(cargo::valid_version(good), good);
  for (const char* bad : {"", "1", "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0-a..b",
                          "1.0.0/..", "v1.0.0", "1.0.0 "})
    CHECK_MESSAGE(!cargo::valid_version(bad), bad);
  CHECK(cargo::compare_versions("1.0.0", "1.0.1") < 0);
  CHECK(cargo::compare_versions("1.10.0", "1.9.0") > 0);
  CHECK(cargo::compare_versions("1.0.0-alpha", "1.0.0") < 0);
  CHECK(cargo::compare_versions("1.0.0-alpha.1", "1.0.0-alpha.beta") < 0);
  CHECK(cargo::compare_versions("1.0.0-beta.11", "1.0.0-beta.2") > 0);
  CHECK(cargo::compare_versions("1.0.0+a", "1.0.0+b") == 0);
  CHECK(cargo::without_build("1.0.0+a") == "1.0.0");
}

TEST_CASE("index files and dl templates") {
  const std::string ck(64, 'a');
  const std::string body =
      "{\"name\":\"x\",\"vers\":\"1.0.0\",\"cksum\":\"" + ck +
      "\",\"deps\":[]}\n\nnot json\n{\"name\":\"x\",\"vers\":\"bad\",\"cksum\":\"" + ck +
      "\"}\n{\"name\":\"x\",\"vers\":\"1.1.0\",\"cksum\":\"short\"}\n";
  auto entries = cargo::parse_index_file(body);
  REQUIRE(ok(entries));
  REQUIRE(entries->size() == 1);
  CHECK((*entries)[0]["vers"] == "1.0.0");
  CHECK_FALSE(ok(cargo::parse_index_file("<html>not an index</html>")));
  CHECK(cargo::parse_index_file("")->empty());

  CHECK(cargo::download_url("https://static.crates.io/crates", "serde", "1.0.0", ck) ==
        "https://static.crates.io/crates/serde/1.0.0/download");
  CHECK(cargo::download_url("https://h/f/{lowerprefix}/{crate}-{version}.crate?c={sha256-checksum}",
                            "Serde", "1.0.0", "ab") == "https://h/f/se/rd/Serde-1.0.0.crate?c=ab");
  CHECK(cargo::download_url("https://h/{prefix}/{crate}", "Abc", "1.0.0", "") ==
        "https://h/3/A/Abc");

  json entry = {
      {"deps",
       json::array({json{{"name", "alias"}, {"package", "real"}, {"req", "^1"}, {"kind", "dev"}},
                    json{{"name", "plain"}, {"req", "=2.0.0"}, {"kind", nullptr}}})}};
  auto deps = cargo::dependencies(entry);
  REQUIRE(deps.size() == 2);
  CHECK(deps[0] ==
        json{{"package", "real"}, {"dependencyType", "dev"}, {"versionRequirement", "^1"}});
  CHECK(deps[1]["dependencyType"] == "normal");
}

TEST_CASE("publish bodies") {
  json metadata = {{"name", "my-crate"},
                   {"vers", "0.1.0"},
                   {"deps", json::array({json{{"name", "serde"},
                                              {"version_req", "^1.0"},
                                              {"features", json::array({"derive"})},
                                              {"optional", true},
                                              {"default_features", true},
                                              {"target", nullptr},
                                              {"kind", "normal"},
                                              {"explicit_name_in_toml", "serde1"}}})},
                   {"features", {{"std", json::array()}, {"ser", json::array({"dep:serde1"})}}},
                   {"links", nullptr},
                   {"rust_version", "1.70"}};
  const std::string body = publish_body(metadata, "CRATE");
  auto p = cargo::parse_publish(body);
  REQUIRE(ok(p));
  CHECK(p->name == "my-crate");
  CHECK(p->version == "0.1.0");
  CHECK(p->crate == "CRATE");
  json entry = cargo::index_entry(*p, "ck");
  CHECK(entry["cksum"] == "ck");
  CHECK(entry["deps"][0]["name"] == "serde1");
  CHECK(entry["deps"][0]["package"] == "serde");
  CHECK(entry["deps"][0]["req"] == "^1.0");
  CHECK(entry["features"] == json{{"std", json::array()}});
  CHECK(entry["features2"] == json{{"ser", json::array({"dep:serde1"})}});
  CHECK(entry["v"] == 2);
  CHECK(entry["rust_version"] == "1.70");

  CHECK_FALSE(ok(cargo::parse_publish("")));
  CHECK_FALSE(ok(cargo::parse_publish(u32le(1000) + "{}")));
  CHECK_FALSE(ok(cargo::parse_publish(body + "x")));  // the crate length does not match
  CHECK_FALSE(ok(cargo::parse_publish(publish_body(metadata, ""))));
  CHECK_FALSE(ok(cargo::parse_publish(publish_body(json::array(), "C"))));
  json bad = metadata;
  bad["name"] = "../x";
  CHECK(cargo::parse_publish(publish_body(bad, "C")).error().message.find("invalid crate name") !=
        std::string::npos);
  bad = metadata;
  bad["vers"] = "1.0";
  CHECK_FALSE(ok(cargo::parse_publish(publish_body(bad, "C"))));
  bad = metadata;
  bad["deps"] = json::array({json{{"name", "x"}}});
  CHECK_FALSE(ok(cargo::parse_publish(publish_body(bad, "C"))));
  CHECK(cargo::error_body("boom") == R"({"errors":[{"detail":"boom"}]})");
}

TEST_CASE("handler: publish, index and download through a downstream repository, yank, 409") {
  test::DataPlaneEnv env("handlers-cargo");
  Formats all(make_formats(*env.ctx));
  auto* found = all.find("cargo");
  REQUIRE(found);
  auto& cargo_format = *found;
  const std::string crate = "the bytes of my-lib 1.0.0";
  json metadata = {
      {"name", "My_Lib"},
      {"vers", "1.0.0"},
      {"deps", json::array({json{{"name", "dep-a"}, {"version_req", "^2"}, {"kind", "normal"}}})},
      {"features", json::object()},
      {"description", "a library"}};
  auto published =
      env.send(cargo_format, "store", "PUT", "api/v1/crates/new", publish_body(metadata, crate));
  REQUIRE_MESSAGE(published->status() == 200, published->body());
  CHECK(json::parse(published->body()).contains("warnings"));

  auto config = env.send(cargo_format, "app", "GET", "config.json");
  REQUIRE(config->status() == 200);
  auto cj = json::parse(config->body());
  CHECK(cj["dl"] == "http://127.0.0.1:5080/local/cargo/app/api/v1/crates");
  CHECK(cj["api"] == "http://127.0.0.1:5080/local/cargo/app");

  // The index file answers for the spelling as published (lower case); others are 404.
  auto index = env.send(cargo_format, "app", "GET", "my/_l/my_lib");
  REQUIRE_MESSAGE(index->status() == 200, index->body());
  auto line = json::parse(index->body());
  CHECK(line["name"] == "My_Lib");
  CHECK(line["cksum"] == to_hex(sha256_of(crate)));
  CHECK(line["yanked"] == false);
  CHECK(line["deps"][0]["req"] == "^2");
  CHECK(env.send(cargo_format, "app", "GET", "my/-l/my-lib")->status() == 404);

  auto got = env.send(cargo_format, "app", "GET", "api/v1/crates/My_Lib/1.0.0/download");
  REQUIRE(got->status() == 200);
  CHECK(got->body() == crate);
  auto retained = repo::find_version(
      *env.store, repo::PackageKey{"local", "app", "cargo", "", "my-lib"}, "1.0.0");
  REQUIRE(retained.has_value());
  REQUIRE(retained->has_value());
  CHECK((*retained)->entry.repository == "store");
  CHECK(cargo_format.dependencies(**retained) ==
        json::array({json{
            {"package", "dep-a"}, {"dependencyType", "normal"}, {"versionRequirement", "^2"}}}));
  CHECK(cargo_format.display_name(repo::PackageKey{"local", "app", "cargo", "", "my-lib"},
                                  &**retained) == "My_Lib");
  CHECK(cargo_format.stored_name("MY_LIB") == "my-lib");

  // Yank and unyank in store.
  auto yanked = env.send(cargo_format, "store", "DELETE", "api/v1/crates/my-lib/1.0.0/yank");
  REQUIRE_MESSAGE(yanked->status() == 200, yanked->body());
  CHECK(json::parse(env.send(cargo_format, "store", "GET", "my/_l/my_lib")->body())["yanked"] ==
        true);
  CHECK(env.send(cargo_format, "store", "GET", "api/v1/crates/my-lib/1.0.0/download")->status() ==
        200);
  CHECK(env.send(cargo_format, "store", "PUT", "api/v1/crates/my-lib/1.0.0/unyank")->status() ==
        200);
  CHECK(json::parse(env.send(cargo_format, "store", "GET", "my/_l/my_lib")->body())["yanked"] ==
        false);
  auto missing = env.send(cargo_format, "store", "DELETE", "api/v1/crates/my-lib/9.0.0/yank");
  CHECK(missing->status() == 404);
  CHECK(detail(missing->body()).find("no version 9.0.0") != std::string::npos);

  // A second version in store, not yet fetched through app: publishing it into app is the
  // shared 409.
  metadata["vers"] = "1.1.0";
  REQUIRE(env.send(cargo_format, "store", "PUT", "api/v1/crates/new", publish_body(metadata, "v2"))
              ->status() == 200);
  metadata["name"] = "other-name";
  REQUIRE(env.send(cargo_format, "store", "PUT", "api/v1/crates/new", publish_body(metadata, "o"))
              ->status() == 200);
  auto conflict =
      env.send(cargo_format, "app", "PUT", "api/v1/crates/new", publish_body(metadata, "o2"));
  CHECK(conflict->status() == 409);
  CHECK(detail(conflict->body()).find("Conflict: other-name 1.1.0 is available from") !=
        std::string::npos);
  // Same version again, another spelling of the name: refused in store itself.
  auto again =
      env.send(cargo_format, "store", "PUT", "api/v1/crates/new", publish_body(metadata, "o3"));
  CHECK(again->status() == 409);
  metadata["name"] = "Other_Name";
  metadata["vers"] = "3.0.0";
  auto spelled =
      env.send(cargo_format, "store", "PUT", "api/v1/crates/new", publish_body(metadata, "o4"));
  CHECK(spelled->status() == 409);
  CHECK(detail(spelled->body()).find("already published as `other-name`") != std::string::npos);

  // Search over the repository and its upstreams.
  auto request =
      test::DataPlaneEnv::request("GET", "/local/cargo/app/api/v1/crates?q=LIB&per_page=5", "", {});
  request.query = "q=LIB&per_page=5";
  test::FakeExchange search(request);
  test::run(env.ioc,
            cargo_format.handle(search, *env.ctx->topology.domain("local"),
                                *env.ctx->topology.repository("local", "app"), "api/v1/crates"));
  REQUIRE(search.status() == 200);
  auto sj = json::parse(search.body());
  CHECK(sj["meta"]["total"] == 1);
  CHECK(sj["crates"][0]["name"] == "My_Lib");
  CHECK(sj["crates"][0]["max_version"] == "1.1.0");
  CHECK(json::parse(
            env.send(cargo_format, "app", "GET", "api/v1/crates/my-lib/owners")->body())["users"] ==
        json::array());

  // Bad input, each in cargo's form.
  auto bad = env.send(cargo_format, "store", "PUT", "api/v1/crates/new", "xx");
  CHECK(bad->status() == 400);
  CHECK(detail(bad->body()).find("invalid publish request") != std::string::npos);
  CHECK(env.send(cargo_format, "app", "GET", "api/v1/crates/a%2Fb/1.0.0/download")->status() ==
        400);
  CHECK(env.send(cargo_format, "app", "GET", "api/v1/crates/..%2f../1.0.0/download")->status() ==
        400);
  CHECK(env.send(cargo_format, "app", "GET", "api/v1/crates/my-lib/1.0/download")->status() == 400);
  CHECK(env.send(cargo_format, "app", "GET", "api/v1/crates/my-lib/2.0.0/download")->status() ==
        404);
  CHECK(env.send(cargo_format, "app", "GET", "3/x/..")->status() == 400);
  CHECK(env.send(cargo_format, "app", "GET", "no/such/path/here")->status() == 404);
  CHECK(env.send(cargo_format, "app", "GET", "3/a/a%20b")->status() == 400);
  CHECK(env.send(cargo_format, "app", "GET", "3/b/abc")->status() == 404);
  CHECK(env.send(cargo_format, "app", "POST", "config.json")->status() == 405);
  CHECK(cargo_format.is_publish(test::DataPlaneEnv::request("PUT", "/x", "", {}),
                                "api/v1/crates/new"));
}

TEST_CASE("handler: refusals in cargo's error form with a Cargo challenge") {
  test::DataPlaneEnv env("handlers-cargo-refusal");
  Formats all(make_formats(*env.ctx));
  net::Headers headers;
  std::string body;
  all.find("cargo")->refusal(Refusal{401, "the token has expired", true, false}, headers, body);
  CHECK(detail(body).find("the token has expired") != std::string::npos);
  bool challenged = false;
  for (auto& [k, v] : headers)
    challenged = challenged || (k == "WWW-Authenticate" && v.rfind("Cargo ", 0) == 0);
  CHECK(challenged);
}

TEST_CASE("handler: config.json says auth-required when anonymous reads are not allowed") {
  test::DataPlaneEnv env("handlers-cargo-auth");
  env.config.auth.anonymous_read = false;
  Formats all(make_formats(*env.ctx));
  auto config = env.send(*all.find("cargo"), "app", "GET", "config.json");
  REQUIRE(config->status() == 200);
  CHECK(json::parse(config->body())["auth-required"] == true);
  env.config.auth.anonymous_read = true;
  CHECK(json::parse(
            env.send(*all.find("cargo"), "app", "GET", "config.json")->body())["auth-required"] ==
        false);
}

TEST_SUITE_END();
