// app::Router with real parts but no sockets: a store on disk, the real formats (or a format of
// the test's own), requests through a recording Exchange (tests/unit/fake_exchange.hpp).

#include "app/router.hpp"

#include "common/digest.hpp"
#include "repo/records.hpp"
#include "tests/unit/data_plane_env.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace {

using namespace arca;
using json = nlohmann::json;
namespace asio = boost::asio;

// A whole format in a few lines: a new format is a folder with one of these (and its protocol
// code) plus one line in formats/registry.cpp; the router and the rest of arca need nothing else.
struct EchoFormat final : formats::Format {
  std::string_view name() const override { return "echo"; }
  asio::awaitable<void> handle(net::Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, std::string rest) override {
    net::Headers headers{{"Content-Type", "text/plain"}};
    co_await ex.respond(200, std::move(headers), domain.name + " " + repo.name + " " + rest);
  }
  bool is_publish(const net::Request& request, std::string_view) const override {
    return request.method == "PUT";
  }
};

// A format whose clients present a key in a header of their own, and are refused in its words.
struct KeyedFormat final : formats::Format {
  std::string_view name() const override { return "keyed"; }
  asio::awaitable<void> handle(net::Exchange& ex, const config::DomainConfig&,
                               const config::RepositoryConfig&, std::string) override {
    net::Headers headers{{"Content-Type", "text/plain"}};
    co_await ex.respond(200, std::move(headers), "served");
  }
  bool is_publish(const net::Request&, std::string_view) const override { return false; }
  formats::Credential credential(const net::Request& request) const override {
    return formats::Credential{std::string(request.header("x-keyed-key"))};
  }
  bool key_authenticated(const net::Request&) const override { return true; }
  void refusal(const formats::Refusal& refusal, net::Headers& headers,
               std::string& body) const override {
    headers.emplace_back("Content-Type", "text/plain");
    body = "keyed refusal " + std::to_string(refusal.status) + (refusal.api_key ? " key" : "");
  }
};

using Env = test::DataPlaneEnv;

// The body `npm publish` sends for `name`@`version` with `data` as the tarball.
std::string publish_body(const std::string& name, const std::string& version, const std::string& data) {
  auto d = digest_of(data);
  const std::string file = name + "-" + version + ".tgz";
  json body = {{"_id", name},
               {"name", name},
               {"dist-tags", {{"latest", version}}},
               {"versions",
                {{version,
                  {{"name", name},
                   {"version", version},
                   {"dist",
                    {{"integrity", sri_sha512(d.sha512)},
                     {"shasum", to_hex(d.sha1)},
                     {"tarball", "http://x/" + name + "/-/" + file}}}}}}},
               {"_attachments",
                {{file,
                  {{"content_type", "application/octet-stream"},
                   {"data", base64_encode(data)},
                   {"length", data.size()}}}}}};
  return body.dump();
}

}  // namespace

TEST_SUITE_BEGIN("app::Router");

TEST_CASE("a format of its own is routed by name; unknown formats and repositories are 404") {
  Env env("router-echo");
  std::vector<formats::FormatPtr> list;
  list.push_back(std::make_unique<EchoFormat>());
  app::Router router(*env.ctx, std::move(list));

  auto ok = env.send(router, "GET", "/local/echo/app/some/path%2Fhere");
  CHECK(ok->status() == 200);
  CHECK(ok->body() == "local app some/path%2Fhere");
  CHECK(env.send(router, "GET", "/local/npm/app/left-pad")->status() == 404);  // not in this list
  CHECK(env.send(router, "GET", "/local/echo/nope/x")->status() == 404);
  CHECK(env.send(router, "GET", "/elsewhere/echo/app/x")->status() == 404);
  CHECK(env.send(router, "GET", "/healthz")->status() == 200);

  net::Request put;
  put.method = "PUT";
  put.path = "/local/echo/app/x";
  CHECK(router.body_limit(put) == env.config.listen.publish_body_limit_bytes);
  put.method = "GET";
  CHECK(router.body_limit(put) == env.config.listen.body_limit_bytes);
}

TEST_CASE("a format says how its credentials are presented and refused; the rule is the router's") {
  Env env("router-keyed");
  std::vector<formats::FormatPtr> list;
  list.push_back(std::make_unique<KeyedFormat>());
  list.push_back(std::make_unique<EchoFormat>());
  app::Router router(*env.ctx, std::move(list));

  // An open loopback listener without access keys: no key and a placeholder key are anonymous.
  CHECK(env.send(router, "PUT", "/local/keyed/app/x")->status() == 200);
  CHECK(env.send(router, "PUT", "/local/keyed/app/x", "", {{"X-Keyed-Key", "anything"}})->status() == 200);
  // A token's shape is verified even then: an API key refused is 403, in the format's words.
  auto forged = env.send(router, "PUT", "/local/keyed/app/x", "", {{"X-Keyed-Key", "arca1.forged"}});
  CHECK(forged->status() == 403);
  CHECK(forged->body() == "keyed refusal 403 key");

  // Access keys configured: only arca tokens; reads and writes refused without one.
  env.config.auth.access_keys.push_back(config::AccessKeyConfig{});
  env.config.auth.anonymous_read = false;
  auto read = env.send(router, "GET", "/local/keyed/app/x");
  CHECK(read->status() == 401);
  CHECK(read->body() == "keyed refusal 401");
  CHECK(env.send(router, "PUT", "/local/keyed/app/x")->status() == 401);
  CHECK(env.send(router, "PUT", "/local/keyed/app/x", "", {{"X-Keyed-Key", "anything"}})->status() == 403);
  // The default presentation: Authorization (here Basic "aws:<token>"), refused with a challenge.
  auto basic = env.send(router, "GET", "/local/echo/app/x", "",
                        {{"Authorization", "Basic " + base64_encode("aws:placeholder")}});
  CHECK(basic->status() == 401);
  CHECK(basic->header("WWW-Authenticate") == "Basic realm=\"arca\"");
  CHECK(env.send(router, "GET", "/local/echo/app/x", "", {{"Authorization", "Basic !!"}})->status() == 401);
}

TEST_CASE("npm without sockets: publish, packument, tarball retained downstream, scoped invalidation") {
  Env env("router-npm");
  app::Router router(*env.ctx);
  const std::string tarball = "pretend this is a gzipped tar";

  auto published = env.send(router, "PUT", "/local/npm/store/left-pad", publish_body("left-pad", "1.0.0", tarball));
  REQUIRE_MESSAGE(published->status() == 201, published->body());

  // Through app: the packument names arca's tarball URL for app.
  auto doc = env.send(router, "GET", "/local/npm/app/left-pad");
  REQUIRE(doc->status() == 200);
  auto parsed = json::parse(doc->body());
  CHECK(parsed["versions"]["1.0.0"]["dist"]["tarball"] ==
        "http://127.0.0.1:5080/local/npm/app/left-pad/-/left-pad-1.0.0.tgz");

  // Not in app until served through it.
  repo::PackageKey in_app{"local", "app", "npm", "", "left-pad"};
  auto before = repo::find_version(*env.store, in_app, "1.0.0");
  REQUIRE(before.has_value());
  CHECK_FALSE(before->has_value());

  auto file = env.send(router, "GET", "/local/npm/app/left-pad/-/left-pad-1.0.0.tgz");
  REQUIRE(file->status() == 200);
  CHECK(file->body() == tarball);

  // Retained in app with the origin it had in store.
  auto after = repo::find_version(*env.store, in_app, "1.0.0");
  REQUIRE(after.has_value());
  REQUIRE(after->has_value());
  CHECK((*after)->origin == "INTERNAL");
  CHECK((*after)->entry.repository == "store");
  CHECK(env.metrics.retained == 1);

  // A publish of another package leaves left-pad's documents alone.
  const auto generation = env.ctx->generations.package("local", "npm", "", "left-pad");
  auto other = env.send(router, "PUT", "/local/npm/store/other", publish_body("other", "1.0.0", "x"));
  REQUIRE(other->status() == 201);
  CHECK(env.ctx->generations.package("local", "npm", "", "left-pad") == generation);
  auto again = env.send(router, "PUT", "/local/npm/store/left-pad", publish_body("left-pad", "1.0.1", "y"));
  REQUIRE(again->status() == 201);
  CHECK(env.ctx->generations.package("local", "npm", "", "left-pad") != generation);
  auto newer = json::parse(env.send(router, "GET", "/local/npm/app/left-pad")->body());
  CHECK(newer["versions"].contains("1.0.1"));
}

TEST_SUITE_END();
