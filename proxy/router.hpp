#pragma once
// Routes requests: operations endpoints (/healthz, /readyz, /metrics), the data plane
// /<domain>/<format>/<repository>/... to the protocol handler, and /v1/ (the CodeArtifact API).
//
// Thread-safety: one Router serves every connection.

#include "proxy/context.hpp"
#include "proxy/server.hpp"

#include <memory>

namespace arca::proxy {

class Router final : public Handler {
 public:
  explicit Router(Context& context);
  ~Router() override;

  uint64_t body_limit(const Request& request) const override;
  boost::asio::awaitable<void> handle(Exchange& exchange) override;

  void set_ready(bool ready);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
