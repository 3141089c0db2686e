// repo:: the resolver's walk over stored content, and the publishing conflict every format uses.

#include "repo/ingest.hpp"
#include "repo/resolver.hpp"
#include "repo/topology.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

namespace {

using namespace arca;
using namespace arca::repo;

config::Config chain() {
  config::Config c;
  config::DomainConfig d;
  d.name = "local";
  d.repositories.push_back(config::RepositoryConfig{"store", "", {}, "public:npmjs"});
  d.repositories.push_back(config::RepositoryConfig{"mid", "", {"store"}, ""});
  d.repositories.push_back(config::RepositoryConfig{"app", "", {"mid"}, ""});
  c.domains.push_back(d);
  config::ExternalConnectionConfig ec;
  ec.name = "public:npmjs";
  c.external_connections["public:npmjs"] = ec;
  return c;
}

}  // namespace

TEST_SUITE_BEGIN("repo::resolver");

TEST_CASE("publishing conflicts name the upstream the version comes from") {
  auto cfg = chain();
  Topology t(cfg);
  auto* store = t.repository("local", "store");
  auto* app = t.repository("local", "app");
  auto* ec = t.external_connection(*store);
  REQUIRE(ec);
  // The asking repository's own content is no conflict (a republish is refused elsewhere).
  CHECK_FALSE(publish_conflict(Source{app, nullptr}, "app", "x@1", "published").has_value());
  CHECK(publish_conflict(Source{store, nullptr}, "app", "x@1", "published") ==
        "Conflict: x@1 is available from upstream repository store; it cannot be published to app");
  CHECK(publish_conflict(Source{store, ec}, "app", "x 1", "uploaded") ==
        "Conflict: x 1 is available from public:npmjs; it cannot be uploaded to app");
  // A repository's own connection is an upstream too.
  CHECK(publish_conflict(Source{store, ec}, "store", "x 1", "pushed").has_value());
  CHECK_FALSE(publish_conflict(Source{}, "app", "x", "deployed").has_value());
}

TEST_CASE("the walk finds the first reachable holder and honours Archived") {
  auto cfg = chain();
  Topology t(cfg);
  auto opened = cache::Store::open(test::temp_dir("resolver-walk").string(), cache::StoreOptions{});
  REQUIRE(opened.has_value());
  auto& s = **opened;
  // Real bytes in store, recorded as ingested there.
  auto writer = s.begin_blob();
  REQUIRE(writer.has_value());
  REQUIRE((*writer)->append("tarball bytes").has_value());
  auto blob = (*writer)->finish();
  REQUIRE(blob.has_value());
  cache::Batch batch;
  batch.add_blob(**writer);
  IngestedAsset a;
  a.package = PackageKey{"local", "", "npm", "", "left-pad"};
  a.version = "1.0.0";
  a.asset = "left-pad-1.0.0.tgz";
  a.asset_record = AssetRecord{"1.0.0", to_hex(blob->digests.sha256), blob->size};
  a.entry.external_connection = "public:npmjs";
  REQUIRE(record_arrival(s, batch, a, {"store"}).has_value());
  REQUIRE(s.commit(std::move(batch)).has_value());

  auto order = t.resolution_order("local", "app");
  REQUIRE(order.size() == 3);
  OriginPolicy open;
  auto found = find_stored_asset(s, order, open, a.package, "left-pad-1.0.0.tgz", "1.0.0");
  REQUIRE(found.has_value());
  REQUIRE(found->found.has_value());
  CHECK(found->found->holder->name == "store");
  CHECK(found->found->blob.size == blob->size);

  // INTERNAL_UPSTREAM closed for app (its package-level upstream=BLOCK): only app's own content.
  {
    cache::Batch b;
    REQUIRE(set_initial_origin(s, b, PackageKey{"local", "app", "npm", "", "left-pad"},
                               Arrival::published).has_value());
    REQUIRE(s.commit(std::move(b)).has_value());
  }
  OriginPolicy blocked(&s, a.package, {}, "/*");
  CHECK(reachable(order, blocked).size() == 1);
  auto none = find_stored_asset(s, order, blocked, a.package, "left-pad-1.0.0.tgz", "1.0.0");
  REQUIRE(none.has_value());
  CHECK_FALSE(none->found.has_value());

  // Archived in the first holder: not downloadable, whatever holds it further up.
  VersionRecord archived;
  archived.version = "1.0.0";
  archived.status = "Archived";
  REQUIRE(s.put(cache::Space::index, version_key(PackageKey{"local", "mid", "npm", "", "left-pad"}, "1.0.0"),
                encode(archived)).has_value());
  auto gone = find_stored_asset(s, order, open, a.package, "left-pad-1.0.0.tgz", "1.0.0");
  REQUIRE(gone.has_value());
  CHECK_FALSE(gone->found.has_value());
  CHECK(gone->unavailable_status == "Archived");
}

TEST_CASE("a merged view's access: upstreams and the connection under the controls, and why") {
  auto cfg = chain();
  cfg.external_connections["public:npmjs"].format = "npm";
  Topology t(cfg);
  auto* app = t.repository("local", "app");
  auto order = t.resolution_order("local", "app");
  REQUIRE(order.size() == 3);

  auto open = view_access(t, "npm", *app, order, OriginPolicy());
  CHECK(open.reachable == std::vector<char>{1, 1, 1});
  CHECK(open.connection_open == std::vector<char>{1, 1, 1});
  CHECK(open.blocked.empty());

  // EXTERNAL_UPSTREAM blocked by a group: upstream repositories' content still comes in, the
  // connection's does not, and the message names the connection, its owner and the group.
  groups::OriginRestrictions external;
  external.modes[static_cast<size_t>(RestrictionType::external_upstream)] = groups::Mode::block;
  auto no_connection = view_access(t, "npm", *app, order, OriginPolicy(nullptr, {}, external, "/npm/corp/*"));
  CHECK(no_connection.reachable == std::vector<char>{1, 1, 1});
  CHECK(no_connection.connection_open == std::vector<char>{0, 0, 0});
  CHECK(no_connection.blocked.find("from public:npmjs into store, blocked by") == 0);
  CHECK(no_connection.blocked.find("/npm/corp/*") != std::string::npos);
  // The same policy for another format: that connection is not the view's, nothing to say.
  CHECK(view_access(t, "pypi", *app, order, OriginPolicy(nullptr, {}, external, "/pypi/x")).blocked.empty());

  // INTERNAL_UPSTREAM blocked: only app's own content; one reason per upstream.
  groups::OriginRestrictions internal;
  internal.modes[static_cast<size_t>(RestrictionType::internal_upstream)] = groups::Mode::block;
  auto own_only = view_access(t, "npm", *app, order, OriginPolicy(nullptr, {}, internal, "/npm/corp/*"));
  CHECK(own_only.reachable == std::vector<char>{1, 0, 0});
  CHECK(own_only.connection_open == std::vector<char>{1, 0, 0});
  CHECK(own_only.blocked.find("from mid into app, blocked by") == 0);
  CHECK(own_only.blocked.find("; from store into app, blocked by") != std::string::npos);
}

TEST_SUITE_END();
