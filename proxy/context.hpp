#pragma once
// What every handler shares: the config, the topology, the store, the upstream client, the
// asset service and the metrics. Owned by main (App); handlers keep references.

#include "auth/token.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "proxy/assets.hpp"
#include "proxy/metrics.hpp"
#include "proxy/repository_index.hpp"
#include "proxy/upstream_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>

namespace arca::proxy {

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
  Topology topology;
  // Bumped whenever published content or tags change, so rendered documents are rebuilt.
  std::atomic<uint64_t> generation{1};
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
