#pragma once
// A package format as the data plane serves it: the router finds the Format named in
// /<domain>/<format>/<repo>/... and passes it the rest of the path. Each format is one folder
// (formats/<name>/: its pure protocol code and its handler.cpp, which describes its URL layout
// and caches at the top) and one line in formats/registry.cpp. What repositories hold, how
// they resolve through upstreams, ingest and retention, and invalidation are repo/'s; the
// format's handler renders them in its protocol.
//
// Thread-safety: one Format per format serves all connections; its caches are mutex-guarded.

#include "formats/context.hpp"
#include "net/http.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats {

// What a request presents as its credential (see Format::credential).
struct Credential {
  std::string token;       // empty: nothing presented
  bool malformed = false;  // presented but unreadable (Basic that is not base64 "user:password")
};
// `Authorization` read as Bearer, as the password of Basic, or as a bare token.
Credential authorization_credential(const net::Request& request);

// Why a data-plane request is refused before its format handles it.
struct Refusal {
  unsigned status = 401;  // 401: no or unusable credentials; 403: an API key refused
  std::string reason;     // for people; never contains the credential
  bool presented = false; // whether a credential was presented
  bool api_key = false;   // the request is authenticated as an API key (Format::key_authenticated)
};

class Format {
 public:
  virtual ~Format() = default;

  // The format's name in data-plane paths and in the CodeArtifact API ("npm", "pypi", ...).
  virtual std::string_view name() const = 0;

  // `rest` is the raw (percent-encoded) path after "/<domain>/<format>/<repo>/".
  virtual boost::asio::awaitable<void> handle(net::Exchange& exchange,
                                              const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string rest) = 0;
  // Publishing requests (npm publish, twine upload, mvn deploy, NuGet push) get the publish
  // body limit.
  virtual bool is_publish(const net::Request& request, std::string_view rest) const = 0;

  // --- How the format's clients present credentials and are refused (app/router asks) ---

  // The credential a data-plane request presents: an arca token, a placeholder, or nothing.
  // Default: `Authorization` as Bearer (npm), as the password of Basic ("aws:<token>": pip,
  // twine, Maven, NuGet), or bare (Cargo, RubyGems).
  virtual Credential credential(const net::Request& request) const {
    return authorization_credential(request);
  }
  // Whether the request is a write authenticated as an API key is (NuGet push and unlist): a
  // credential that is refused is a 403, not a 401 challenge.
  virtual bool key_authenticated(const net::Request& request) const { return false; }
  // The response to a refused request (401 or 403). Default: text/plain with a Basic challenge.
  virtual void refusal(const Refusal& refusal, net::Headers& headers, std::string& body) const;

  // --- What the control plane asks (the CodeArtifact API over this format's records) ---
  // Each has the behaviour of a format with no rules of its own as its default.

  // A package name or version as the API gives it, as stored (NuGet: ids lower-case,
  // versions normalized).
  virtual std::string stored_name(std::string_view name) const { return std::string(name); }
  // A namespace as the API gives it, as stored (Swift: scopes lower-case).
  virtual std::string stored_namespace(std::string_view ns) const { return std::string(ns); }
  virtual std::string stored_version(std::string_view version) const {
    return std::string(version);
  }
  // The package's name for people: "namespace/name" (npm: "@scope/name"; NuGet: the id as
  // published, from `version` when given).
  virtual std::string display_name(const repo::PackageKey& key,
                                   const repo::VersionRecord* version) const {
    return key.ns.empty() ? key.name : key.ns + "/" + key.name;
  }
  // ListPackageVersionDependencies: [{namespace?, package, dependencyType,
  // versionRequirement}] from the version's manifest.
  virtual nlohmann::json dependencies(const repo::VersionRecord& version) const {
    return nlohmann::json::array();
  }
  // The version the package record names as the default (npm: the `latest` dist-tag).
  virtual std::optional<std::string> tagged_default(const repo::PackageRecord& package) const {
    return std::nullopt;
  }
  // Versions that are no longer listed (archived, disposed, deleted): the format's effects on
  // its package record (npm: tags naming them go; `latest` falls back to the newest Published
  // of `versions`). Returns whether the record changed.
  virtual bool versions_removed(repo::PackageRecord& package, const std::set<std::string>& removed,
                                const std::vector<repo::VersionRecord>& versions) const {
    return false;
  }
};
using FormatPtr = std::unique_ptr<Format>;

}  // namespace arca::formats
