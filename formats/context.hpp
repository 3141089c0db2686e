#pragma once
// What every format's handler and the control plane share: the config, the topology, the
// store, the upstream client, the asset service, the metrics, the generations and the origin
// policies. Owned by main; handlers keep references.

#include "auth/token.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "net/assets.hpp"
#include "net/metrics.hpp"
#include "net/upstream_client.hpp"
#include "repo/generations.hpp"
#include "repo/origin.hpp"
#include "repo/records.hpp"
#include "repo/topology.hpp"

namespace arca::net {
class CodeArtifactUpstreams;
}
namespace arca::formats {
class Formats;
}

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>

namespace arca::formats {

// The repository model (repo/) under the names the data-plane handlers have always used; they
// go when the handlers move into formats/.
using repo::Arrival;
using repo::AssetRecord;
using repo::EntryPoint;
using repo::OriginPolicy;
using repo::PackageKey;
using repo::PackageOriginConfig;
using repo::PackageRecord;
using repo::Topology;
using repo::VersionRecord;
using repo::asset_key;
using repo::decode_asset;
using repo::decode_package;
using repo::decode_version;
using repo::encode;
using repo::find_asset;
using repo::find_package;
using repo::find_version;
using repo::iso8601;
using repo::list_versions;
using repo::now_unix_ms;
using repo::origin_key;
using repo::package_key;
using repo::set_initial_origin;
using repo::stored_asset_blob;
using repo::version_key;
using repo::version_prefix;


struct Context {
  const config::Config& config;
  boost::asio::io_context& ioc;
  boost::asio::thread_pool& pool;
  cache::Store& store;
  net::UpstreamClient& client;
  net::AssetService& assets;
  net::Metrics& metrics;
  repo::Topology topology;
  // What documents built from repository content were built for: moved per package when it
  // changes, for everything when the topology or package groups change (repo/generations.hpp).
  repo::Generations generations;
  // Signs and checks the authorization tokens of the data plane; set at startup
  // (load_control_plane in control/api_handler.hpp), before listening.
  std::unique_ptr<auth::TokenService> tokens;
  // The origin controls (package groups and package-level configurations) the data plane
  // enforces; the control plane's package groups set this when constructed (before
  // listening). Null: package-level configurations only.
  const repo::OriginPolicies* origins = nullptr;
  // External connections to real CodeArtifact repositories: their endpoints and tokens
  // (net/codeartifact_upstreams.hpp). Null in tests that have none: upstream_base_url() then
  // answers from the config alone.
  net::CodeArtifactUpstreams* codeartifact = nullptr;
  // The formats served (formats/registry.hpp), for the control plane's questions about a
  // format's records; set by the router. Null: every format behaves as one with no rules.
  const Formats* formats = nullptr;

  // The origin policy of a package: package groups (when the control plane is there) and the
  // package-level configurations in the store.
  repo::OriginPolicy policy(std::string_view domain, std::string_view format, std::string_view ns,
                            std::string_view name) const {
    if (origins) return origins->policy(domain, format, ns, name);
    return repo::OriginPolicy(&store,
                              repo::PackageKey{std::string(domain), {}, std::string(format),
                                               std::string(ns), std::string(name)},
                              {}, "/*");
  }
};

}  // namespace arca::formats
