// repo:: ingest, retention, origin configuration and scoped invalidation over a real store.

#include "repo/generations.hpp"
#include "repo/ingest.hpp"
#include "repo/origin.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

namespace {

using namespace arca;
using namespace arca::repo;

std::unique_ptr<cache::Store> open_store(const std::string& name) {
  auto store = cache::Store::open(test::temp_dir(name).string(), cache::StoreOptions{});
  REQUIRE(store.has_value());
  return std::move(*store);
}

IngestedAsset tarball(const std::string& version) {
  IngestedAsset a;
  a.package = PackageKey{"local", "", "npm", "", "left-pad"};
  a.version = version;
  a.asset = "left-pad-" + version + ".tgz";
  a.asset_record = AssetRecord{version, std::string(64, 'a'), 123};
  a.entry.external_connection = "public:npmjs";
  a.upstream_time = "2020-01-02T03:04:05.000Z";
  a.shape = [](VersionRecord& vr, const cache::BlobRecord&) { vr.manifest = R"({"name":"left-pad"})"; };
  return a;
}

PackageKey in(std::string repo) { return PackageKey{"local", std::move(repo), "npm", "", "left-pad"}; }

// The version record of left-pad@version in `repo`, or nullopt (a read error fails the test).
std::optional<VersionRecord> version_in(cache::Store& store, const std::string& repo,
                                        const std::string& version) {
  auto v = find_version(store, in(repo), version);
  REQUIRE(v.has_value());
  return *v;
}

}  // namespace

TEST_SUITE_BEGIN("repo::ingest");

TEST_CASE("the requester and the connection's owner retain; repositories between them do not") {
  CHECK(retaining_repositories("app", "store", true) == std::vector<std::string>{"store", "app"});
  CHECK(retaining_repositories("store", "store", true) == std::vector<std::string>{"store"});
  CHECK(retaining_repositories("app", "mid", false) == std::vector<std::string>{"app"});
}

TEST_CASE("an arrival is recorded in each retaining repository with its entry point") {
  auto store = open_store("ingest-arrival");
  cache::Batch batch;
  auto a = tarball("1.0.0");
  REQUIRE(record_arrival(*store, batch, a, retaining_repositories("app", "store", true)).has_value());
  REQUIRE(store->commit(std::move(batch)).has_value());

  for (const char* repo : {"store", "app"}) {
    CAPTURE(repo);
    auto v = version_in(*store, repo, "1.0.0");
    REQUIRE(v.has_value());
    CHECK(v->origin == "EXTERNAL");
    CHECK(v->status == "Published");
    CHECK(v->entry.external_connection == "public:npmjs");
    CHECK(v->entry.repository.empty());
    CHECK(v->upstream_time == "2020-01-02T03:04:05.000Z");
    CHECK(v->manifest == R"({"name":"left-pad"})");
    REQUIRE(v->assets.size() == 1);
    CHECK(v->assets[0].first == "left-pad-1.0.0.tgz");
    auto asset = find_asset(*store, in(repo), "left-pad-1.0.0.tgz");
    REQUIRE(asset.has_value());
    CHECK(asset->has_value());
    auto pkg = find_package(*store, in(repo));
    REQUIRE(pkg.has_value());
    CHECK(pkg->has_value());
    // First arrival by ingestion: publish=BLOCK, upstream=ALLOW (as the service sets it).
    auto origin = stored_origin(*store, in(repo));
    REQUIRE(origin.has_value());
    CHECK((*origin)["restrictions"]["publish"] == "BLOCK");
    CHECK((*origin)["restrictions"]["upstream"] == "ALLOW");
    OriginPolicy policy(store.get(), in(""), {}, "/*");
    CHECK_FALSE(policy.allows(RestrictionType::publish, repo));
    CHECK(policy.allows(RestrictionType::internal_upstream, repo));
  }
  CHECK_FALSE(version_in(*store, "mid", "1.0.0").has_value());
}

TEST_CASE("a second asset of a stored version extends it; the first arrival's origin stays") {
  auto store = open_store("ingest-second-asset");
  {
    cache::Batch batch;
    REQUIRE(set_initial_origin(*store, batch, in("app"), Arrival::published).has_value());
    REQUIRE(store->commit(std::move(batch)).has_value());
  }
  cache::Batch batch;
  auto a = tarball("1.0.0");
  REQUIRE(record_arrival(*store, batch, a, {"app"}).has_value());
  REQUIRE(store->commit(std::move(batch)).has_value());
  cache::Batch second;
  a.asset = "left-pad-1.0.0.extra";
  a.shape = nullptr;
  REQUIRE(record_arrival(*store, second, a, {"app"}).has_value());
  REQUIRE(store->commit(std::move(second)).has_value());
  auto v = version_in(*store, "app", "1.0.0");
  REQUIRE(v.has_value());
  CHECK(v->assets.size() == 2);
  CHECK(v->manifest == R"({"name":"left-pad"})");
  // An explicit or earlier configuration is never replaced by a later arrival.
  auto origin = stored_origin(*store, in("app"));
  REQUIRE(origin.has_value());
  CHECK((*origin)["restrictions"]["publish"] == "ALLOW");
  CHECK((*origin)["restrictions"]["upstream"] == "BLOCK");
}

TEST_CASE("an asset-only arrival records the asset and no version") {
  auto store = open_store("ingest-asset-only");
  cache::Batch batch;
  auto a = tarball("1.0.0");
  a.asset = "left-pad-1.0.0.tgz.metadata";
  a.asset_only = true;
  REQUIRE(record_arrival(*store, batch, a, {"store", "app"}).has_value());
  REQUIRE(store->commit(std::move(batch)).has_value());
  CHECK_FALSE(version_in(*store, "app", "1.0.0").has_value());
  auto asset = find_asset(*store, in("app"), "left-pad-1.0.0.tgz.metadata");
  REQUIRE(asset.has_value());
  CHECK(asset->has_value());
}

TEST_CASE("retention copies a version from an upstream repository once, keeping its origin") {
  auto store = open_store("ingest-retain");
  VersionRecord published;
  published.version = "2.0.0";
  published.origin = "INTERNAL";
  published.status = "Unlisted";
  published.manifest = "{}";
  published.assets.emplace_back("left-pad-2.0.0.tgz", AssetRecord{"2.0.0", std::string(64, 'b'), 9});
  {
    cache::Batch batch;
    batch.put(cache::Space::index, version_key(in("store"), "2.0.0"), encode(published));
    batch.put(cache::Space::index, asset_key(in("store"), "left-pad-2.0.0.tgz"),
              encode(published.assets[0].second));
    // An asset of the version that no version record lists (as PyPI's .metadata files).
    batch.put(cache::Space::index, asset_key(in("store"), "left-pad-2.0.0.tgz.metadata"),
              encode(AssetRecord{"2.0.0", std::string(64, 'c'), 4}));
    // Another version's asset stays where it is.
    batch.put(cache::Space::index, asset_key(in("store"), "left-pad-3.0.0.tgz"),
              encode(AssetRecord{"3.0.0", std::string(64, 'd'), 5}));
    REQUIRE(store->commit(std::move(batch)).has_value());
  }
  auto wrote = retain(*store, in("store"), "app", "2.0.0", "public:npmjs");
  REQUIRE(wrote.has_value());
  CHECK(*wrote);
  auto again = retain(*store, in("store"), "app", "2.0.0", "public:npmjs");
  REQUIRE(again.has_value());
  CHECK_FALSE(*again);
  auto missing = retain(*store, in("store"), "app", "3.0.0", "public:npmjs");
  REQUIRE(missing.has_value());
  CHECK_FALSE(*missing);

  auto v = version_in(*store, "app", "2.0.0");
  REQUIRE(v.has_value());
  CHECK(v->origin == "INTERNAL");
  CHECK(v->status == "Unlisted");
  // Published in store (INTERNAL): its entry point is store, although store also owns a
  // connection.
  CHECK(v->entry.repository == "store");
  CHECK(v->entry.external_connection.empty());
  for (const char* name : {"left-pad-2.0.0.tgz", "left-pad-2.0.0.tgz.metadata"}) {
    CAPTURE(name);
    auto asset = find_asset(*store, in("app"), name);
    REQUIRE(asset.has_value());
    CHECK(asset->has_value());
  }
  auto other = find_asset(*store, in("app"), "left-pad-3.0.0.tgz");
  REQUIRE(other.has_value());
  CHECK_FALSE(other->has_value());
  auto origin = stored_origin(*store, in("app"));
  REQUIRE(origin.has_value());
  CHECK((*origin)["restrictions"]["publish"] == "BLOCK");
}

TEST_CASE("entry points survive encoding; records without one decode with none") {
  VersionRecord r;
  r.version = "1";
  r.entry.repository = "team";
  auto back = decode_version(encode(r));
  REQUIRE(back.has_value());
  CHECK(back->entry.repository == "team");
  CHECK(back->entry.external_connection.empty());
  auto old = decode_version(R"({"version":"1","status":"Published","origin":"EXTERNAL"})");
  REQUIRE(old.has_value());
  CHECK(old->entry.empty());
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("repo::Generations");

TEST_CASE("a package's change moves its generation and leaves other packages' alone") {
  Generations g;
  const auto a = g.package("local", "npm", "", "typescript");
  const auto b = g.package("local", "npm", "", "express");
  g.package_changed("local", "npm", "", "left-pad");
  CHECK(g.package("local", "npm", "", "typescript") == a);
  CHECK(g.package("local", "npm", "", "express") == b);
  g.package_changed("local", "npm", "", "typescript");
  CHECK(g.package("local", "npm", "", "typescript") != a);
  CHECK(g.package("local", "npm", "", "express") == b);
  // The same name in another domain is another package.
  const auto other = g.package("other", "npm", "", "express");
  g.package_changed("local", "npm", "", "express");
  CHECK(g.package("other", "npm", "", "express") == other);
}

TEST_CASE("a topology or package-group change moves every generation") {
  Generations g;
  const auto a = g.package("local", "npm", "", "typescript");
  const auto b = g.package("local", "pypi", "", "requests");
  g.all_changed();
  CHECK(g.package("local", "npm", "", "typescript") != a);
  CHECK(g.package("local", "pypi", "", "requests") != b);
}

TEST_CASE("a thousand unrelated publishes leave a package's generation alone") {
  Generations g;
  const auto before = g.package("local", "npm", "", "typescript");
  int moved = 0;
  for (int i = 0; i < 1000; ++i) {
    g.package_changed("local", "npm", "", "churn-" + std::to_string(i));
    if (g.package("local", "npm", "", "typescript") != before) ++moved;
  }
  CHECK(moved == 0);
}

TEST_SUITE_END();
