#pragma once
// Routes requests: operations endpoints (/healthz, /readyz, /metrics), the data plane
// /<domain>/<format>/<repository>/... to the protocol handler, and /v1/ (the CodeArtifact API).
//
// Thread-safety: one Router serves every connection.

#include "formats/context.hpp"
#include "formats/format.hpp"
#include "net/server.hpp"

#include <memory>
#include <vector>

namespace arca::app {

class Router final : public net::Handler {
 public:
  // Serves the formats of formats/registry.cpp.
  explicit Router(formats::Context& context);
  // Serves `formats` (tests give it a format of their own).
  Router(formats::Context& context, std::vector<formats::FormatPtr> formats);
  ~Router() override;

  uint64_t body_limit(const net::Request& request) const override;
  boost::asio::awaitable<void> handle(net::Exchange& exchange) override;

  void set_ready(bool ready);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::app
