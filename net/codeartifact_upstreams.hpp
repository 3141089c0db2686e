#pragma once
// Real CodeArtifact repositories as upstreams (issue 8). For every external connection with a
// "codeartifact" block this service owns:
//   - one auth::TokenManager per (region, domain, domain owner), fed by the AWS default
//     credential chain (auth/credentials.hpp);
//   - the repository endpoint per format, from GetRepositoryEndpoint (SigV4-signed), kept in
//     memory and in the store's meta space (so URLs cached before a restart are still known
//     to need a token).
// It is the UpstreamClient's authorizer: a request to a URL under a known repository endpoint
// gets "Authorization: Bearer <token>" (npm) or Basic "aws:<token>" (PyPI, Maven, NuGet, and
// any other format), and a 401/403 to it forces one token refresh (UpstreamClient retries
// once). Tokens never appear in logs, errors, metrics or URLs.
//
// Thread-safety: internally synchronized; every method may be called from any executor.
// Ownership: the client, store and pool must outlive the service (the config is read at
// construction only); set it as the client's authorizer only while it lives.

#include "auth/credentials.hpp"
#include "auth/token_manager.hpp"
#include "cache/store.hpp"
#include "config/config.hpp"
#include "net/aws_fetcher.hpp"
#include "net/upstream_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace arca::net {

class CodeArtifactUpstreams final : public UpstreamAuthorizer {
 public:
  // The formats a CodeArtifact connection is asked for at start-up (warm_up).
  static constexpr const char* k_formats[] = {"npm", "pypi", "maven", "nuget"};

  CodeArtifactUpstreams(const config::Config& config, UpstreamClient& client, cache::Store& store,
                        boost::asio::thread_pool& pool, auth::EnvLookup env = auth::process_env(),
                        auth::Clock clock = auth::system_clock());
  ~CodeArtifactUpstreams() override;

  // Whether any external connection is a CodeArtifact one.
  bool empty() const { return connections_.empty(); }

  // Reads the repository endpoints stored by earlier runs (blocking: call before serving).
  void load_stored_endpoints();

  // The base URL (ending in '/') requests of `format` go to for connection `ec`: ec.url for an
  // ordinary connection; for a CodeArtifact one the repository endpoint (GetRepositoryEndpoint
  // once, then cached), plus "simple/" for pypi (the simple-index root, as ec.url is).
  // Errors name the connection and the reason, never a secret.
  [[nodiscard]] boost::asio::awaitable<Result<std::string>> base_url(
      const config::ExternalConnectionConfig& ec, std::string format);

  // Gets a token and the endpoints of every connection once, so /readyz reflects the state
  // before the first client request; failures are logged and retried on demand.
  [[nodiscard]] boost::asio::awaitable<void> warm_up();

  // warm_up(), then refreshes every token when it is due (or its backoff ends) even while no
  // request needs it, so an idle arca holds fresh tokens and /readyz stays true. Runs until
  // its executor stops.
  [[nodiscard]] boost::asio::awaitable<void> keep_fresh();

  // UpstreamAuthorizer.
  boost::asio::awaitable<Result<std::optional<std::string>>> authorization(std::string url) override;
  void rejected(const std::string& url, const std::string& authorization) override;

  // For /readyz and /metrics: one entry per connection.
  struct State {
    std::string connection;
    std::string domain;
    std::string domain_owner;
    std::string region;
    std::string repository;
    auth::TokenState token;
  };
  std::vector<State> states() const;
  // Every connection holds a token that has not expired.
  bool ready() const;
  // One line per connection for /readyz: ok or degraded, expiry, last refresh, failures, the
  // last error (never a secret).
  std::string readiness_text() const;
  // Prometheus lines (arca_codeartifact_token_*) per connection; empty without connections.
  std::string metrics_text() const;

 private:
  struct Connection;
  Connection* find_connection(const std::string& url, std::string* format);
  [[nodiscard]] boost::asio::awaitable<Result<std::string>> fetch_endpoint(Connection& c,
                                                                           std::string format);

  boost::asio::thread_pool& pool_;
  cache::Store& store_;
  auth::Clock clock_;
  AwsFetcher fetcher_;
  std::unique_ptr<auth::ChainProvider> credentials_;
  std::map<std::string, std::unique_ptr<auth::TokenManager>> managers_;  // region|domain|owner
  std::vector<std::unique_ptr<Connection>> connections_;
  mutable std::mutex mu_;  // guards every Connection's endpoints
};

}  // namespace arca::net

namespace arca::net {

// The base URL (ending in '/') of external connection `ec` for requests in `format`:
// service->base_url(), or ec.url when there is no service (unit tests).
[[nodiscard]] boost::asio::awaitable<Result<std::string>> upstream_base_url(
    CodeArtifactUpstreams* service, const config::ExternalConnectionConfig& ec, std::string format);

}  // namespace arca::net
