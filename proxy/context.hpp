#pragma once
// What every handler shares: the config, the topology, the store, the upstream client, the
// asset service and the metrics. Owned by main (App); handlers keep references.

#include "auth/token.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "proxy/assets.hpp"
#include "proxy/metrics.hpp"
#include "proxy/upstream_client.hpp"
#include "repo/generations.hpp"
#include "repo/origin.hpp"
#include "repo/records.hpp"
#include "repo/topology.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>

namespace arca::proxy {

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

class PackageGroupsHandler;
class CodeArtifactUpstreams;

struct Context {
  const config::Config& config;
  boost::asio::io_context& ioc;
  boost::asio::thread_pool& pool;
  cache::Store& store;
  UpstreamClient& client;
  AssetService& assets;
  Metrics& metrics;
  repo::Topology topology;
  // What documents built from repository content were built for: moved per package when it
  // changes, for everything when the topology or package groups change (repo/generations.hpp).
  repo::Generations generations;
  // Signs and checks the authorization tokens of the data plane; set at startup
  // (load_control_plane in proxy/codeartifact_handler.hpp), before listening.
  std::unique_ptr<auth::TokenService> tokens;
  // Package groups (origin controls) for the data plane to enforce; owned by the CodeArtifact
  // handler, which sets this when it is constructed (before listening). Null: no restrictions.
  PackageGroupsHandler* groups = nullptr;
  // External connections to real CodeArtifact repositories: their endpoints and tokens
  // (proxy/codeartifact_upstreams.hpp). Null in tests that have none: base_url() below then
  // answers from the config alone.
  CodeArtifactUpstreams* codeartifact = nullptr;
};

}  // namespace arca::proxy
