#pragma once
// Adapts the upstream HTTP client to auth::HttpFetcher, the seam auth/ uses to call STS, the
// container/instance metadata endpoints and CodeArtifact (issue 8). Header-only: one small
// forwarding class.
//
// Thread-safety: as UpstreamClient (concurrent fetch() calls are fine). Ownership: the client
// must outlive the adapter.

#include "auth/http_fetcher.hpp"
#include "net/upstream_client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <utility>

namespace arca::net {

class AwsFetcher final : public auth::HttpFetcher {
 public:
  // AWS credential and token answers are a few KiB; anything near the limit is not one.
  static constexpr uint64_t k_default_max_body_bytes = 1 << 20;

  explicit AwsFetcher(UpstreamClient& client, uint64_t max_body = k_default_max_body_bytes)
      : client_(client), max_body_(max_body) {}

  // IMDS and the ECS endpoint are link-local: the SDKs give them about a second and never
  // route them through HTTP(S)_PROXY.
  static constexpr std::chrono::milliseconds k_metadata_timeout{1000};

  boost::asio::awaitable<Result<auth::HttpResponse>> fetch(auth::HttpRequest request) override {
    UpstreamRequest up;
    up.method = std::move(request.method);
    up.url = std::move(request.url);
    up.headers = std::move(request.headers);
    up.body = std::move(request.body);
    up.authorize = false;  // signed or unauthenticated AWS calls, never a repository token
    if (request.metadata) {
      up.direct = true;
      up.timeout = k_metadata_timeout;
    }
    auto buffered = co_await client_.fetch(std::move(up), max_body_);
    if (!buffered) {
      co_return buffered.error();
    }
    auth::HttpResponse out;
    out.status = buffered->head.status;
    out.headers = std::move(buffered->head.headers);
    out.body = std::move(buffered->body);
    co_return out;
  }

 private:
  UpstreamClient& client_;
  uint64_t max_body_;
};

}  // namespace arca::net
