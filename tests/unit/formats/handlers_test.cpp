// Each format's handler without sockets (tests/unit/data_plane_env.hpp): publish into `store`,
// read through `app` (whose upstream is store), the version retained in app with its origin,
// a publish of the same version into app refused with the 409 every format shares
// (repo::publish_conflict), and scoped invalidation.

#include "common/compress.hpp"
#include "common/digest.hpp"
#include "tests/unit/test_support.hpp"
#include "repo/records.hpp"
#include "tests/unit/data_plane_env.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace {

using namespace arca;
using json = nlohmann::json;
using Env = test::DataPlaneEnv;

formats::Format& format(formats::Formats& all, std::string_view name) {
  auto* f = all.find(name);
  REQUIRE(f);
  return *f;
}

void check_retained(cache::Store& store, std::string format, std::string ns, std::string name,
                    std::string version) {
  auto v = repo::find_version(store, repo::PackageKey{"local", "app", format, ns, name}, version);
  REQUIRE(v.has_value());
  const std::string what = name + " " + version + " is not retained in app";
  REQUIRE_MESSAGE(v->has_value(), what);
  CHECK((*v)->origin == "INTERNAL");
  CHECK((*v)->entry.repository == "store");
}

std::string part(const std::string& b, const std::string& name, const std::string& value) {
  return "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value +
         "\r\n";
}

}  // namespace

TEST_SUITE_BEGIN("formats::handlers");

TEST_CASE("maven: deploy, metadata and files through a downstream repository") {
  Env env("handlers-maven");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& maven = format(all, "maven");
  const std::string dir = "com/example/lib/";
  const std::string jar = "jar bytes of lib 1.0";
  REQUIRE(env.send(maven, "store", "PUT", dir + "1.0/lib-1.0.jar", jar)->status() == 201);
  REQUIRE(env.send(maven, "store", "PUT", dir + "1.0/lib-1.0.pom", "<project/>")->status() == 201);
  const std::string metadata =
      "<metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning>"
      "<versions><version>1.0</version></versions></versioning></metadata>";
  REQUIRE(env.send(maven, "store", "PUT", dir + "maven-metadata.xml", metadata)->status() == 201);

  auto listed = env.send(maven, "app", "GET", dir + "maven-metadata.xml");
  REQUIRE(listed->status() == 200);
  CHECK(listed->body().find("<version>1.0</version>") != std::string::npos);
  auto got = env.send(maven, "app", "GET", dir + "1.0/lib-1.0.jar");
  REQUIRE(got->status() == 200);
  CHECK(got->body() == jar);
  check_retained(*env.store, "maven", "com.example", "lib", "1.0");
  auto sha1 = env.send(maven, "app", "GET", dir + "1.0/lib-1.0.jar.sha1");
  REQUIRE(sha1->status() == 200);
  CHECK(sha1->body() == to_hex(digest_of(jar).sha1));

  // app retained 1.0 (publish=BLOCK there now), so a deploy into app is refused before any
  // conflict check; a third repository shows the 409 with the shared message.
  CHECK(env.send(maven, "app", "PUT", dir + "1.0/lib-1.0.jar", "other bytes")->status() == 403);
}

TEST_CASE("pypi: upload, simple page and file through a downstream repository; 409 upstream") {
  Env env("handlers-pypi");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& pypi = format(all, "pypi");
  const std::string b = "----b0undary";
  auto upload = [&](const std::string& repo, const std::string& version, const std::string& content) {
    const auto d = digest_of(content);
    std::string body = part(b, ":action", "file_upload") + part(b, "protocol_version", "1") +
                       part(b, "name", "Foo_Bar") + part(b, "version", version) +
                       part(b, "filetype", "sdist") +
                       part(b, "sha256_digest", to_hex(d.sha256)) + "--" + b +
                       "\r\nContent-Disposition: form-data; name=\"content\"; filename=\"foo_bar-" +
                       version + ".tar.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
                       content + "\r\n--" + b + "--\r\n";
    return env.send(pypi, repo, "POST", "", body,
                    {{"Content-Type", "multipart/form-data; boundary=" + b}});
  };
  const std::string sdist = "sdist bytes of foo-bar 1.0";
  auto up = upload("store", "1.0", sdist);
  REQUIRE_MESSAGE(up->status() == 200, up->body());

  auto page = env.send(pypi, "app", "GET", "simple/foo-bar/", {},
                       {{"Accept", "application/vnd.pypi.simple.v1+json"}});
  REQUIRE(page->status() == 200);
  auto doc = json::parse(page->body());
  REQUIRE(doc["files"].size() == 1);
  CHECK(doc["files"][0]["filename"] == "foo_bar-1.0.tar.gz");
  auto file = env.send(pypi, "app", "GET", "files/foo-bar/foo_bar-1.0.tar.gz");
  REQUIRE(file->status() == 200);
  CHECK(file->body() == sdist);
  check_retained(*env.store, "pypi", "", "foo-bar", "1.0");
}

TEST_CASE("nuget: push, flat container and nupkg through a downstream repository") {
  Env env("handlers-nuget");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& nuget = format(all, "nuget");
  const std::string nuspec =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\"><metadata>"
      "<id>Contoso.Lib</id><version>1.0.0</version><authors>A</authors><description>D"
      "</description></metadata></package>\n";
  const std::string nupkg = test::make_zip({{"Contoso.Lib.nuspec", nuspec}, {"lib/x.dll", "x"}});
  auto pushed = env.send(nuget, "store", "PUT", "v3/package", nupkg);
  REQUIRE_MESSAGE(pushed->status() == 201, pushed->body());

  auto index = env.send(nuget, "app", "GET", "v3/flatcontainer/contoso.lib/index.json");
  REQUIRE(index->status() == 200);
  CHECK(json::parse(index->body())["versions"] == json::array({"1.0.0"}));
  auto file = env.send(nuget, "app", "GET", "v3/flatcontainer/contoso.lib/1.0.0/contoso.lib.1.0.0.nupkg");
  REQUIRE(file->status() == 200);
  CHECK(file->body() == nupkg);
  check_retained(*env.store, "nuget", "", "contoso.lib", "1.0.0");
}

TEST_CASE("ruby: push, compact index, Marshal gemspec and gem through a downstream repository") {
  Env env("handlers-ruby");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& ruby = format(all, "ruby");
  const std::string yaml =
      "--- !ruby/object:Gem::Specification\nname: team_gem\nversion: !ruby/object:Gem::Version\n"
      "  version: 1.0.0\nplatform: ruby\nauthors:\n- A\nsummary: s\ndependencies:\n"
      "- !ruby/object:Gem::Dependency\n  name: rack\n  requirement: !ruby/object:Gem::Requirement\n"
      "    requirements:\n    - - \"~>\"\n      - !ruby/object:Gem::Version\n        version: '2.0'\n"
      "  type: :runtime\n";
  const std::string gem = test::make_tar({{"metadata.gz", gzip_compress(yaml)}, {"data.tar.gz", "x"}});
  auto pushed = env.send(ruby, "store", "POST", "api/v1/gems", gem);
  REQUIRE_MESSAGE(pushed->status() == 200, pushed->body());
  CHECK(pushed->body() == "Successfully registered gem: team_gem (1.0.0)\n");
  CHECK(env.send(ruby, "store", "POST", "api/v1/gems", "not a gem")->status() == 422);

  auto info = env.send(ruby, "app", "GET", "info/team_gem");
  REQUIRE(info->status() == 200);
  CHECK(info->body() == "---\n1.0.0 rack:~> 2.0|checksum:" + to_hex(digest_of(gem).sha256) + "\n");
  auto rz = env.send(ruby, "app", "GET", "quick/Marshal.4.8/team_gem-1.0.0.gemspec.rz");
  REQUIRE(rz->status() == 200);
  auto spec = gzip_decompress(rz->body(), 1 << 20);
  REQUIRE(spec);
  CHECK(spec->find("Gem::Specification") != std::string::npos);
  auto file = env.send(ruby, "app", "GET", "gems/team_gem-1.0.0.gem");
  REQUIRE(file->status() == 200);
  CHECK(file->body() == gem);
  check_retained(*env.store, "ruby", "", "team_gem", "1.0.0");
  auto versions = env.send(ruby, "app", "GET", "versions");
  REQUIRE(versions->status() == 200);
  CHECK(versions->body().find("\nteam_gem 1.0.0 ") != std::string::npos);
  CHECK(env.send(ruby, "app", "GET", "gems/..%2F..%2Fx-1.0.gem")->status() == 400);
}

TEST_CASE("the shared 409: a version an upstream serves cannot be published downstream") {
  Env env("handlers-conflict");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& nuget = format(all, "nuget");
  auto nuspec = [](const std::string& version) {
    return "<?xml version=\"1.0\"?><package><metadata><id>Team.Pkg</id><version>" + version +
           "</version><authors>A</authors><description>D</description></metadata></package>";
  };
  REQUIRE(env.send(nuget, "store", "PUT", "v3/package",
                   test::make_zip({{"Team.Pkg.nuspec", nuspec("1.0.0")}}))->status() == 201);
  // Nothing fetched through app yet: app has no origin configuration for the package, so the
  // conflict check decides.
  auto conflict = env.send(nuget, "app", "PUT", "v3/package", test::make_zip({{"Team.Pkg.nuspec", nuspec("1.0.0")}}));
  CHECK(conflict->status() == 409);
  CHECK(conflict->body().find("Team.Pkg 1.0.0 is available from upstream repository store; it "
                              "cannot be pushed to app") != std::string::npos);
  // Another version is not served upstream: it may be pushed into app.
  CHECK(env.send(nuget, "app", "PUT", "v3/package",
                 test::make_zip({{"Team.Pkg.nuspec", nuspec("2.0.0")}}))->status() == 201);
}

TEST_CASE("swift: publish, list releases, manifest and archive through a downstream repository") {
  Env env("handlers-swift");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& swift = format(all, "swift");
  const std::string manifest = "// swift-tools-version:5.9\nimport PackageDescription\n";
  const std::string zip = test::make_zip({{"LinkedList/Package.swift", manifest},
                                          {"LinkedList/Package@swift-5.7.swift", "// v5.7\n"}});
  const std::string b = "swift-b0undary";
  auto publish = [&](const std::string& repo, const std::string& version) {
    std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"source-archive\"\r\n"
                       "Content-Type: application/zip\r\n\r\n" + zip + "\r\n--" + b + "--\r\n";
    return env.send(swift, repo, "PUT", "Mona/LinkedList/" + version, body,
                    {{"Content-Type", "multipart/form-data;boundary=\"" + b + "\""},
                     {"Accept", "application/vnd.swift.registry.v1+json"}});
  };
  auto published = publish("store", "1.0.0");
  REQUIRE_MESSAGE(published->status() == 201, published->body());
  CHECK(published->header("Content-Version") == "1");

  auto list = env.send(swift, "app", "GET", "mona/linkedlist", {},
                       {{"Accept", "application/vnd.swift.registry.v1+json"}});
  REQUIRE(list->status() == 200);
  CHECK(json::parse(list->body())["releases"].contains("1.0.0"));
  CHECK(list->header("Link").find("/Mona/LinkedList/1.0.0>; rel=\"latest-version\"") !=
        std::string::npos);
  auto m = env.send(swift, "app", "GET", "mona/linkedlist/1.0.0/Package.swift");
  REQUIRE(m->status() == 200);
  CHECK(m->body() == manifest);
  CHECK(m->header("Link").find("filename=\"Package@swift-5.7.swift\"") != std::string::npos);
  auto archive = env.send(swift, "app", "GET", "MONA/LinkedList/1.0.0.zip");
  REQUIRE(archive->status() == 200);
  CHECK(archive->body() == zip);
  CHECK(archive->header("Digest") == "sha-256=" + base64_encode(digest_of(zip).sha256));
  check_retained(*env.store, "swift", "mona", "linkedlist", "1.0.0");

  // A republish is a 409 problem; a version the upstream serves cannot be published downstream.
  auto again = publish("store", "1.0.0");
  CHECK(again->status() == 409);
  CHECK(again->header("Content-Type") == "application/problem+json");
  auto bad = env.send(swift, "store", "GET", "mona/linkedlist/1.0.0", {},
                      {{"Accept", "application/vnd.swift.registry.v2+json"}});
  CHECK(bad->status() == 415);
}

TEST_CASE("npm: search, _rev, unpublish (refused by default, then allowed) and unserved commands") {
  Env env("handlers-npm-commands");
  formats::Formats all(formats::make_formats(*env.ctx));
  auto& npm = format(all, "npm");
  auto publish = [&](const std::string& repo, const std::string& version) {
    json manifest = {{"name", "foo"}, {"version", version}, {"description", "Foo thing"},
                     {"dist", json::object()}};
    json attachment = {{"data", base64_encode("tarball " + version)}};
    json body = {{"name", "foo"}, {"dist-tags", {{"latest", version}}}};
    body["versions"][version] = manifest;
    body["_attachments"]["foo-" + version + ".tgz"] = attachment;
    return env.send(npm, repo, "PUT", "foo", body.dump(), {{"Content-Type", "application/json"}});
  };
  REQUIRE(publish("app", "1.0.0")->status() == 201);
  REQUIRE(publish("app", "2.0.0")->status() == 201);

  // (send() passes `rest` as the path, so no query here: every package matches.)
  auto found = env.send(npm, "app", "GET", "-/v1/search");
  REQUIRE_MESSAGE(found->status() == 200, found->body());
  json s = json::parse(found->body());
  CHECK(s["total"] == 1);
  CHECK(s["objects"][0]["package"]["name"] == "foo");
  CHECK(s["objects"][0]["package"]["version"] == "2.0.0");

  auto packument = [&] { return json::parse(env.send(npm, "app", "GET", "foo")->body()); };
  json doc = packument();
  const std::string rev = doc["_rev"];
  CHECK(rev.rfind("2-", 0) == 0);
  json without = doc;
  without["versions"].erase("2.0.0");
  auto refused = env.send(npm, "app", "PUT", "foo/-rev/" + rev, without.dump());
  CHECK(refused->status() == 405);
  CHECK(refused->body().find("delete-package-versions") != std::string::npos);
  CHECK(packument()["versions"].contains("2.0.0"));

  env.config.npm.allow_unpublish = true;
  auto removed = env.send(npm, "app", "PUT", "foo/-rev/" + rev, without.dump());
  REQUIRE_MESSAGE(removed->status() == 200, removed->body());
  doc = packument();
  CHECK_FALSE(doc["versions"].contains("2.0.0"));
  CHECK(doc["dist-tags"]["latest"] == "1.0.0");
  CHECK(doc["_rev"] != rev);
  CHECK(env.send(npm, "app", "DELETE", "foo/-/foo-2.0.0.tgz/-rev/" + std::string(doc["_rev"]))->status() == 200);
  CHECK(env.send(npm, "app", "DELETE", "foo/-rev/" + rev)->status() == 409);  // stale
  CHECK(env.send(npm, "app", "DELETE", "foo/-rev/" + std::string(doc["_rev"]))->status() == 200);
  CHECK(env.send(npm, "app", "GET", "foo")->status() == 404);

  auto access = env.send(npm, "app", "GET", "-/package/foo/access");
  CHECK(access->status() == 501);
  CHECK(json::parse(access->body())["error"] == "npm access is not supported by arca");
  CHECK(env.send(npm, "app", "GET", "-/npm/v1/tokens")->status() == 501);
  CHECK(env.send(npm, "app", "GET", "-/nothing-here")->status() == 404);
}

TEST_SUITE_END();
