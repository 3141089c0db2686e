#pragma once
// AWS credentials for calling real AWS services (issue 8): the SDKs' default provider chain.
//
//   1. EnvProvider          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   2. WebIdentityProvider  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN → STS
//                           AssumeRoleWithWebIdentity (unsigned query API, XML answer)
//   3. ProfileProvider      ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
//                           AWS_CONFIG_FILE, AWS_PROFILE): static keys, role_arn with
//                           source_profile or credential_source (Environment,
//                           Ec2InstanceMetadata, EcsContainer) through STS AssumeRole signed
//                           with the source keys, role_arn + web_identity_token_file,
//                           credential_process (SSO profiles are not supported)
//   4. EcsProvider          AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI with
//                           AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
//   5. ImdsProvider         EC2 instance metadata, IMDSv2 session token
//
// Endpoints are overridable as in the SDKs: AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL),
// AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED=true, the ECS full URI.
//
// Error messages name the provider and the reason, never a secret (keys, session tokens, web
// identity tokens, container authorization tokens).
//
// Thread-safety: providers are immutable after construction except ChainProvider, which is
// internally synchronized. Ownership: providers keep references to the HttpFetcher given to
// them; it must outlive them.

#include "auth/http_fetcher.hpp"
#include "auth/sigv4.hpp"
#include "common/error.hpp"
#include "common/flights.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::auth {

using TimePoint = std::chrono::system_clock::time_point;

struct AwsCredentials {
  Credentials keys;
  std::optional<TimePoint> expiration;  // nullopt for long-term keys
  std::string provider;                 // which provider produced them ("environment", ...)
};

// Errors: Errc::not_found means "this provider is not configured here" (the chain moves on
// quietly); any other code is a configured provider that failed.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual std::string_view name() const = 0;
  [[nodiscard]] virtual boost::asio::awaitable<Result<AwsCredentials>> resolve() = 0;
};
using CredentialsProviderPtr = std::unique_ptr<CredentialsProvider>;

// --- Helpers (exposed for tests) ---

// "2026-11-23T06:00:00Z", with optional fractional seconds and a Z or ±hh:mm offset.
std::optional<TimePoint> parse_iso8601(std::string_view s);

// One parsed ini file: section name → ordered key/value pairs. Keys are lower-cased; nested
// (indented) sub-properties such as those under "s3 =" are skipped.
struct IniFile {
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> sections;
  const std::vector<std::pair<std::string, std::string>>* section(std::string_view name) const;
};
IniFile parse_ini(std::string_view text);

// The profile's merged properties: ~/.aws/config "[profile NAME]" ("[default]" for default),
// overridden by ~/.aws/credentials "[NAME]". nullopt if neither file has the profile.
std::optional<std::vector<std::pair<std::string, std::string>>> load_profile(
    const EnvLookup& env, std::string_view profile);

// Region: `configured` if non-empty, else AWS_REGION, AWS_DEFAULT_REGION, the profile's
// "region"; empty if none.
std::string resolve_region(std::string_view configured, const EnvLookup& env);

// STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else https://sts.REGION.amazonaws.com
// (https://sts.amazonaws.com without a region).
std::string sts_endpoint(const EnvLookup& env, std::string_view region);

// What a credential_process printed, and how it exited.
struct ProcessOutput {
  int status = 0;   // as returned by pclose (0: exited with 0)
  std::string out;  // standard output, at most 1 MiB
};
// Runs credential_process commands. The default runs them with popen on the calling thread;
// the server passes one that runs them on its blocking pool (never on an I/O thread).
using ProcessRunner = std::function<boost::asio::awaitable<Result<ProcessOutput>>(std::string command)>;
// Runs `command` through the shell and waits for it (blocking).
Result<ProcessOutput> run_process_blocking(const std::string& command);

// --- Providers ---

class EnvProvider final : public CredentialsProvider {
 public:
  explicit EnvProvider(EnvLookup env) : env_(std::move(env)) {}
  std::string_view name() const override { return "environment"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

 private:
  EnvLookup env_;
};

class WebIdentityProvider final : public CredentialsProvider {
 public:
  WebIdentityProvider(EnvLookup env, HttpFetcher& fetcher) : env_(std::move(env)), http_(fetcher) {}
  std::string_view name() const override { return "web-identity"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

 private:
  EnvLookup env_;
  HttpFetcher& http_;
};

class ProfileProvider final : public CredentialsProvider {
 public:
  ProfileProvider(EnvLookup env, HttpFetcher& fetcher, Clock clock, ProcessRunner runner = {});
  std::string_view name() const override { return "profile"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

 private:
  boost::asio::awaitable<Result<AwsCredentials>> resolve_profile(std::string profile, int depth);
  EnvLookup env_;
  HttpFetcher& http_;
  Clock clock_;
  ProcessRunner runner_;
};

class EcsProvider final : public CredentialsProvider {
 public:
  EcsProvider(EnvLookup env, HttpFetcher& fetcher) : env_(std::move(env)), http_(fetcher) {}
  std::string_view name() const override { return "ecs"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

 private:
  EnvLookup env_;
  HttpFetcher& http_;
};

class ImdsProvider final : public CredentialsProvider {
 public:
  ImdsProvider(EnvLookup env, HttpFetcher& fetcher) : env_(std::move(env)), http_(fetcher) {}
  std::string_view name() const override { return "imds"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

 private:
  EnvLookup env_;
  HttpFetcher& http_;
};

// Tries providers in order, remembers the one that worked, caches its credentials and resolves
// again `refresh_early` before they expire (one resolution in flight however many callers).
// While a refresh fails, still-valid cached credentials keep being returned. When every
// provider fails, the error (and one warning log line) lists each provider and its reason.
class ChainProvider final : public CredentialsProvider {
 public:
  ChainProvider(std::vector<CredentialsProviderPtr>&& providers, Clock clock,
                std::chrono::seconds refresh_early = std::chrono::minutes(5));
  std::string_view name() const override { return "chain"; }
  boost::asio::awaitable<Result<AwsCredentials>> resolve() override;

  // Drops the cache so the next resolve() asks the providers again.
  void invalidate();

 private:
  boost::asio::awaitable<Result<AwsCredentials>> resolve_uncached();
  bool usable(const AwsCredentials& c, TimePoint now, bool with_margin) const;

  std::vector<CredentialsProviderPtr> providers_;
  Clock clock_;
  std::chrono::seconds refresh_early_;
  FlightGate gate_;
  mutable std::mutex mu_;
  std::optional<AwsCredentials> cached_;
  std::optional<size_t> remembered_;
  std::optional<Error> last_error_;
};

// The SDK default chain (the order above), over the given environment.
std::unique_ptr<ChainProvider> make_default_chain(const EnvLookup& env, HttpFetcher& fetcher,
                                                  Clock clock, ProcessRunner runner = {});

}  // namespace arca::auth
