#pragma once
// The CodeArtifact control plane (/v1/...): every operation of the 2018-09-22 model, over the
// same Topology and index records the data plane uses. Requests are authenticated with AWS SigV4
// against config.auth.access_keys; the operation table (api_handler.cpp) gives each operation its
// function, one file per resource (control/plane.hpp; package groups and origin controls in
// package_groups_handler.hpp).
//
// Domains and repositories created through the API persist in the store's index space:
//   dm <domain>          -> domain JSON (owner, created, encryption key, tags, policy)
//   rp <domain> <repo>   -> repository JSON (description, upstreams, external connection, ...)
//   sk token             -> the per-install secret that signs authorization tokens
//
// Thread-safety: one handler serves all connections; control-plane writes are serialized.

#include "formats/context.hpp"
#include "net/http.hpp"

#include <memory>

namespace arca::control {

class CodeArtifactHandler {
 public:
  explicit CodeArtifactHandler(formats::Context& context);
  ~CodeArtifactHandler();

  boost::asio::awaitable<void> handle(net::Exchange& exchange);
  // PublishPackageVersion carries an asset: it gets the publish body limit.
  bool is_publish(const net::Request& request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Startup (before listening): loads the persisted domains and repositories into the topology,
// creates the config file's domains and repositories that are not persisted yet, and loads (or
// creates) the token secret into context.tokens. Blocking.
[[nodiscard]] Result<void> load_control_plane(formats::Context& context);

// The account that owns what unsigned local requests create: the first access key's account,
// else auth.default_account.
std::string primary_account(const config::Config& config);

bool is_loopback_address(std::string_view address);

}  // namespace arca::control
