#pragma once
// Package origin controls as the data plane enforces them: a package's origin configuration in
// one repository (PutPackageOriginConfiguration, or set automatically when its first version
// arrives there) combined with the restrictions of the package group it belongs to.
//
// Persisted in the store's index space:
//   po <domain> <repo> <format> <ns> <name>  -> {"restrictions": {publish, upstream}[, automatic]}
// (Package groups themselves are kept by the control plane: control/ hands the data plane the
// group restrictions of a package, see OriginPolicy's constructor.)
//
// Thread-safety: free functions are safe from any thread (they may block on the store);
// OriginPolicy is not thread-safe (one coroutine uses it for one request).

#include "cache/store.hpp"
#include "config/config.hpp"
#include "repo/package_groups.hpp"
#include "repo/records.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::repo {

using RestrictionType = repo::groups::RestrictionType;

// A package's origin configuration in one repository: may versions be published there, may
// they come from upstream repositories and external connections.
struct PackageOriginConfig {
  bool publish = true;
  bool upstream = true;
};

// How a version arrives in a repository.
enum class Arrival { published, ingested };

// The index key of a package's origin configuration in key.repo.
std::string origin_key(const PackageKey& key);

// As the service does when a package's first version arrives in a repository (CodeArtifact
// user guide, "Package origin control settings"): published directly -> publish=ALLOW,
// upstream=BLOCK; ingested (from an external connection, or retained from an upstream
// repository) -> publish=BLOCK, upstream=ALLOW. Adds the record to `batch` unless the package
// already has an origin configuration in that repository (set explicitly or by an earlier
// arrival). The record is marked automatic; it is shown and enforced like an explicit one.
// Blocking: one point read.
[[nodiscard]] Result<void> set_initial_origin(cache::Store& store, cache::Batch& batch,
                                              const PackageKey& key, Arrival arrival);

// The stored configuration of a package in key.repo, in the API's shape
// ({"restrictions": {"publish", "upstream"}}); nullopt when never set. Blocking (one Get).
std::optional<nlohmann::json> stored_origin(cache::Store& store, const PackageKey& key);
// The API's shape of a configuration.
nlohmann::json origin_json(const PackageOriginConfig& config);

// The origin controls in force for one package of a domain: a version enters a repository only
// when both the package group's restriction and that repository's package-level configuration
// allow it (the stricter wins: BLOCK beats ALLOW).
//   PUBLISH            group PUBLISH and package `publish`
//   EXTERNAL_UPSTREAM  group EXTERNAL_UPSTREAM and package `upstream` of the connection's owner
//   INTERNAL_UPSTREAM  group INTERNAL_UPSTREAM and package `upstream` of the asking repository
// Package-level settings are read lazily (one point read per repository, then remembered), so
// a policy is meant for one request.
class OriginPolicy {
 public:
  OriginPolicy() = default;  // allows everything
  // `store` null: no package-level configuration. `key.repo` is ignored.
  OriginPolicy(cache::Store* store, PackageKey key,
               repo::groups::OriginRestrictions group, std::string group_pattern);

  bool allows(RestrictionType type, std::string_view repository) const;
  // What blocks `type` for `repository`, for error messages: "the PUBLISH origin control of
  // package group /npm/corp/*" or "the origin configuration of package thing in repository
  // main (publish=BLOCK)".
  std::string blocker(RestrictionType type, std::string_view repository) const;
  const std::string& group_pattern() const { return group_pattern_; }
  // Reads the package-level configuration of each repository now (blocking), so that later
  // questions about them cost no store read.
  void prefetch(const std::vector<const config::RepositoryConfig*>& repositories) const;

 private:
  const PackageOriginConfig& package_level(std::string_view repository) const;

  cache::Store* store_ = nullptr;
  PackageKey key_;
  repo::groups::OriginRestrictions group_;
  std::string group_pattern_ = "/*";
  mutable std::map<std::string, PackageOriginConfig, std::less<>> package_levels_;
};

// Where the data plane gets the origin policy of a package: the control plane's package groups
// implement it. Thread-safety: policy() is safe from any thread.
class OriginPolicies {
 public:
  virtual ~OriginPolicies() = default;
  // `name` and `ns` as stored (pypi: the normalized project name). Fast: no store access until
  // the policy is asked about a repository.
  virtual OriginPolicy policy(std::string_view domain, std::string_view format,
                              std::string_view ns, std::string_view name) const = 0;
};

}  // namespace arca::repo
