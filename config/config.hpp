#pragma once
// arca's configuration: the config file (JSON with comments), ARCA_* environment variables and
// command-line flags become one validated Config (STYLE.md §28). Loading throws ConfigError;
// after that a Config is immutable and shared as std::shared_ptr<const Config>.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::config {

// A startup error: the message names the JSON path of the bad field where there is one.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ListenerConfig {
  // Address to bind. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  // TCP port; 0 picks a free one (see Config::port_file). Default: 5080.
  uint16_t port = 5080;
  // Largest request header block. Default: 16 KiB.
  uint64_t header_limit_bytes = 16 * 1024;
  // Largest request body on non-publish routes. Default: 1 MiB.
  uint64_t body_limit_bytes = 1024 * 1024;
  // Largest publish body (npm PUT with base64 attachments). Default: 256 MiB.
  uint64_t publish_body_limit_bytes = 256ull * 1024 * 1024;
  // A keep-alive connection with no request for this long is closed. Default: 60 s.
  std::chrono::milliseconds idle_timeout{60'000};
  // Reading one request (header and body) or writing one response may take this long. Default: 60 s.
  std::chrono::milliseconds io_timeout{60'000};
  // On SIGTERM/SIGINT, in-flight requests get this long to finish. Default: 10 s.
  std::chrono::milliseconds shutdown_grace{10'000};
  // I/O threads; 0 means one per core. Default: 0.
  unsigned threads = 0;
};

struct UpstreamClientConfig {
  std::chrono::milliseconds connect_timeout{10'000};
  // Longest wait for response headers, and for each read of the body. Default: 30 s.
  std::chrono::milliseconds read_timeout{30'000};
  // Redirects followed per request. Default: 5.
  unsigned max_redirects = 5;
  // Idle pooled connections kept per host. Default: 16.
  unsigned pool_size_per_host = 16;
  // Largest metadata document (packument, index page) read from an upstream. Default: 64 MiB.
  uint64_t max_metadata_bytes = 64ull * 1024 * 1024;
  // Largest asset read from an upstream. Default: 8 GiB.
  uint64_t max_asset_bytes = 8ull * 1024 * 1024 * 1024;
  // Extra CA bundle (PEM) trusted besides the system store; tests use it for local TLS.
  std::string ca_file;
};

// A real CodeArtifact repository used as an upstream (issue 8): arca finds AWS credentials like
// the AWS CLI, keeps an authorization token for (region, domain, domain_owner) fresh and asks
// GetRepositoryEndpoint for the repository's URL in each format.
struct CodeArtifactSourceConfig {
  std::string domain;
  // 12-digit account id that owns the domain.
  std::string domain_owner;
  // Default: AWS_REGION, AWS_DEFAULT_REGION, the AWS profile's region, else the top-level one.
  std::string region;
  std::string repository;
  // Base URL of the CodeArtifact API (VPC endpoints, tests). Default (empty):
  // https://codeartifact.REGION.amazonaws.com
  std::string endpoint;
  // Requested token lifetime (0, or 900-43200; 0 = the role session's). Default: 43200.
  int64_t duration_seconds = 43200;
};

struct ExternalConnectionConfig {
  // e.g. "public:npmjs".
  std::string name;
  // Package format it serves: npm, pypi, maven, nuget. Inferred for the public:* names.
  // Empty for a CodeArtifact connection, which serves every format it is asked in.
  std::string format;
  // The upstream registry's base URL (npm: registry root; PyPI: simple-index root; ...).
  // Empty for a CodeArtifact connection (its URL comes from GetRepositoryEndpoint).
  std::string url;
  std::optional<CodeArtifactSourceConfig> codeartifact;

  // Whether requests in `fmt` may go to this connection.
  bool serves(std::string_view fmt) const {
    if (codeartifact)
      return fmt == "npm" || fmt == "pypi" || fmt == "maven" || fmt == "nuget" || fmt == "swift";
    return format == fmt;
  }
  // Cached metadata is served without asking upstream for this long; 0 = always revalidate.
  // Default: 300 s.
  std::chrono::seconds metadata_ttl{300};
  // Hosts ("host" for any port, or "host:port") that asset URLs named by this connection's
  // documents (npm dist.tarball, PyPI file links, NuGet packageContent) may point at, besides
  // the connection's own host and port. Anything else is refused before arca connects.
  // Default: none (pypi.org also allows files.pythonhosted.org, index.crates.io static.crates.io).
  std::vector<std::string> allowed_hosts;
};

struct RepositoryConfig {
  std::string name;
  std::string description;
  // Upstream repositories (same domain), in resolution order. At most 10.
  std::vector<std::string> upstreams;
  // Name of an external connection, or empty.
  std::string external_connection;
  // Control-plane state (CreateRepository and friends); not read from the config file.
  // Account that manages the repository; empty means the domain owner.
  std::string administrator_account;
  int64_t created_unix_ms = 0;
  std::vector<std::pair<std::string, std::string>> tags;  // in insertion order
  std::string policy;  // resource policy document (JSON text), empty when none
  std::string policy_revision;
};

struct DomainConfig {
  std::string name;
  std::vector<RepositoryConfig> repositories;
  // Control-plane state (CreateDomain and friends); not read from the config file.
  // Account id that owns the domain; empty means auth.default_account.
  std::string owner;
  int64_t created_unix_ms = 0;
  std::string encryption_key;  // KMS key ARN given at creation, if any
  std::vector<std::pair<std::string, std::string>> tags;  // in insertion order
  std::string policy;  // resource policy document (JSON text), empty when none
  std::string policy_revision;
};

struct AccessKeyConfig {
  std::string access_key_id;
  std::string secret_access_key;
  // 12-digit account id that owns what this key creates.
  std::string account;
};

// Who may call the control plane (/v1/, AWS SigV4) and the data plane (tokens).
struct AuthConfig {
  // Keys accepted on SigV4-signed /v1/ requests. Default: none.
  std::vector<AccessKeyConfig> access_keys;
  // Account id used for unsigned requests (and when no key is configured). Default: 000000000000.
  std::string default_account = "000000000000";
  // Unsigned /v1/ requests are accepted from loopback clients. Default: true.
  bool allow_unsigned_loopback = true;
  // Data-plane reads / writes without a token. Default (unset): allowed when the listener is
  // bound to a loopback address.
  std::optional<bool> anonymous_read;
  std::optional<bool> anonymous_write;
  // Longest lifetime GetAuthorizationToken grants; a longer requested duration is shortened to
  // it. 1-43200; values under 900 are for tests (tokens that expire within seconds).
  // Default: 43200 s.
  uint64_t max_token_duration_seconds = 43200;
  // Accepted difference between a request's X-Amz-Date and the clock. Default: 900 s.
  std::chrono::seconds max_clock_skew{900};
};

struct CacheConfig {
  // Size of the chunks assets are stored in; a client being served holds one chunk in memory.
  // Default: 256 KiB.
  uint32_t chunk_size_bytes = 256 * 1024;
  // Bytes of the in-memory cache of recently served small assets and rendered documents.
  // Default: 256 MiB.
  uint64_t memory_cache_bytes = 256ull * 1024 * 1024;
  // Whether an upstream fill continues when the requesting client disconnects. Default: true.
  bool finish_fills_without_client = true;
};

struct NpmConfig {
  // Whether `npm unpublish` may delete versions published into a repository (as
  // DeletePackageVersions does). CodeArtifact refuses it; so does arca unless this is set.
  // Default: false.
  bool allow_unpublish = false;
};

struct Config {
  ListenerConfig listen;
  // RocksDB and other state live here. Default: ./arca-data.
  std::string data_dir = "./arca-data";
  // If set, the bound port is written to this file once listening (tests use port 0).
  std::string port_file;
  // The URL clients reach arca at, used in rewritten documents; empty = from the Host header.
  std::string public_url;
  // trace, debug, info, warn, error, off. Default: info.
  std::string log_level = "info";
  std::string region = "us-east-1";
  UpstreamClientConfig upstream;
  CacheConfig cache;
  AuthConfig auth;
  NpmConfig npm;
  std::map<std::string, ExternalConnectionConfig> external_connections;
  std::vector<DomainConfig> domains;
};

using ConfigPtr = std::shared_ptr<const Config>;

// The configuration compiled into the binary (what `arca serve` uses with no --config).
std::string_view default_config_text();

// Parses and validates config text. `source` names the file in error messages.
// Throws ConfigError.
Config parse_config(std::string_view text, std::string_view source);

// Reads a config file (or the embedded default when path is empty), then applies ARCA_*
// environment variables (ARCA_LISTEN, ARCA_DATA_DIR, ARCA_LOG_LEVEL, ARCA_PUBLIC_URL).
// Throws ConfigError.
Config load_config(const std::string& path);

// Parses "HOST:PORT" ("[::1]:5080" for IPv6) into the listener. Throws ConfigError.
void apply_listen(ListenerConfig& listener, std::string_view host_port);

// Whether requests without credentials are allowed (`auth.anonymous_read` / `anonymous_write`;
// when unset: allowed on a loopback listener only).
bool anonymous_allowed(const Config& config, bool write);

// Validates cross-references (upstreams exist, no cycles, external connections exist).
// Throws ConfigError.
void validate(const Config& config);

}  // namespace arca::config
