#pragma once
// CodeArtifact authorization tokens for one (region, domain, owner) (issue 8): obtained with
// `POST /v1/authorization-token?domain=D&domain-owner=O&duration=N`, SigV4-signed (service
// "codeartifact") with credentials from a CredentialsProvider.
//
// Refresh rule: a token with lifetime L (expiration - time received) is refreshed once
// max(L/4, min(1 h, L/2)) of it is left, i.e. when 25% or one hour is left, whichever comes
// first (the one-hour mark is capped at half the lifetime, so short tokens are not refreshed
// continuously). Until then token() returns the current token without any request. A failed
// refresh is retried after a jittered exponential backoff while the current token keeps being
// used until it expires. One refresh is in flight however many callers need it; while it runs,
// other callers get the current token if it is still valid (only the refreshing caller waits).
//
// After the upstream answers 401/403 with a token, call invalidate(token) and retry the request
// once with a fresh token(): the next token() forces one refresh.
//
// Tokens are never logged; errors carry no secret.
//
// Thread-safety: internally synchronized; token() may be called from any executor.
// Ownership: the HttpFetcher and CredentialsProvider must outlive the manager.

#include "auth/credentials.hpp"
#include "auth/http_fetcher.hpp"
#include "common/error.hpp"
#include "common/flights.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace arca::auth {

struct TokenManagerOptions {
  std::string domain;
  std::string domain_owner;  // 12-digit account id
  std::string region;
  // Base URL of the CodeArtifact API. Default (empty): https://codeartifact.REGION.amazonaws.com
  std::string endpoint;
  // Requested token lifetime, seconds (0 = the lifetime of the caller's role session).
  // Default: 43200 (12 h, the CodeArtifact maximum).
  int64_t duration_seconds = 43200;
  // Backoff after a failed refresh: base * 2^(failures-1), capped (by backoff_cap and by a
  // quarter of the last token's lifetime, at least 1 s), times a jitter in [0.5, 1].
  std::chrono::seconds backoff_base{2};
  std::chrono::seconds backoff_cap{300};
};

// For /readyz and /metrics.
struct TokenState {
  bool has_token = false;
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> refresh_at;
  std::optional<TimePoint> last_refresh;  // last successful refresh
  std::optional<TimePoint> next_attempt;  // backoff: no refresh before this
  uint64_t refreshes = 0;                 // successful
  uint64_t failures = 0;                  // failed refreshes, total
  uint64_t consecutive_failures = 0;
  std::string last_error;  // never contains a secret
};

// When a token with the given lifetime should be refreshed (see the rule above).
TimePoint refresh_time(TimePoint received, TimePoint expires);

class TokenManager {
 public:
  // `jitter` returns a factor in [0, 1); default: a random one.
  TokenManager(TokenManagerOptions options, HttpFetcher& fetcher, CredentialsProvider& credentials,
               Clock clock, std::function<double()> jitter = {});

  // The current token, refreshing it first when due (single flight). Fails only when no valid
  // token can be had.
  [[nodiscard]] boost::asio::awaitable<Result<std::string>> token();

  // The upstream rejected `rejected` (401/403): the next token() fetches a new one. An empty
  // argument, or the current token, invalidates; an older token is ignored (another caller
  // already refreshed).
  void invalidate(std::string_view rejected = {});

  TokenState state() const;
  std::string endpoint() const;

 private:
  struct Fetched {
    std::string token;
    TimePoint expires;
  };
  [[nodiscard]] boost::asio::awaitable<Result<Fetched>> fetch_token();

  TokenManagerOptions options_;
  HttpFetcher& http_;
  CredentialsProvider& credentials_;
  Clock clock_;
  std::function<double()> jitter_;
  FlightGate gate_;

  mutable std::mutex mu_;
  std::string token_;
  bool forced_ = false;  // invalidated: the current token must not be used
  TokenState state_;
  std::optional<Error> last_failure_;
};

// The error an AWS REST-JSON API answered: the x-amzn-ErrorType name and the body's message
// (at most 300 characters), "" when neither is there. AWS error bodies never echo credentials.
std::string aws_error_detail(const HttpResponse& response);

}  // namespace arca::auth
