#pragma once
// The package-group operations of the CodeArtifact API (CreatePackageGroup ...
// ListAllowedRepositoriesForGroup) and the package-level PutPackageOriginConfiguration, plus the
// lookup the data plane calls to enforce origin controls.
//
// Persisted in the store's index space:
//   pg <domain> <pattern>                      -> group JSON (contact, description, modes, lists)
//   po <domain> <repo> <format> <ns> <name>    -> package origin configuration {publish, upstream}
// Each domain's groups live in memory as a protocols::codeartifact::groups::GroupIndex (the root
// group /* exists implicitly until it is edited).
//
// Thread-safety: all methods may be called from any thread; reads share a lock, writes are
// serialized. run() does blocking store I/O: call it on the blocking pool.

#include "protocols/codeartifact/codeartifact.hpp"
#include "protocols/codeartifact/package_groups.hpp"
#include "proxy/context.hpp"
#include "proxy/repository_index.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace arca::proxy {

// A package's origin configuration in one repository (PutPackageOriginConfiguration, or set
// when its first version arrives there): may versions be published, may they come from
// upstream repositories and external connections.
struct PackageOriginConfig {
  bool publish = true;
  bool upstream = true;
};

// How the first version of a package arrived in a repository.
enum class Arrival { published, ingested };

// As the service does when a package's first version arrives in a repository (CodeArtifact
// user guide, "Package origin control settings"): published directly -> publish=ALLOW,
// upstream=BLOCK; ingested from an upstream -> publish=BLOCK, upstream=ALLOW. Adds the record
// to `batch` unless the package already has an origin configuration in that repository (set
// explicitly or by an earlier arrival). The record is marked automatic: DescribePackage and
// ListPackages show it and OriginPolicy enforces it like an explicit one.
// Blocking: one point read.
Result<void> set_initial_origin(cache::Store& store, cache::Batch& batch, const PackageKey& key,
                                Arrival arrival);

// The origin controls in force for one package of a domain, as the data plane enforces them:
// a version enters a repository only when both the package group's restriction and that
// repository's explicit package-level configuration (PutPackageOriginConfiguration) allow it
// (the stricter wins: BLOCK beats ALLOW).
//   PUBLISH            group PUBLISH and package `publish`
//   EXTERNAL_UPSTREAM  group EXTERNAL_UPSTREAM and package `upstream` of the connection's owner
//   INTERNAL_UPSTREAM  group INTERNAL_UPSTREAM and package `upstream` of the asking repository
// Package-level settings are read lazily (one point read per repository, then remembered), so
// a policy is meant for one request. Thread-safety: not thread-safe (one coroutine uses it).
class OriginPolicy {
 public:
  OriginPolicy() = default;  // allows everything

  bool allows(protocols::codeartifact::groups::RestrictionType type,
              std::string_view repository) const;
  // What blocks `type` for `repository`, for error messages: "the PUBLISH origin control of
  // package group /npm/corp/*" or "the origin configuration of package thing in repository
  // main (publish=BLOCK)".
  std::string blocker(protocols::codeartifact::groups::RestrictionType type,
                      std::string_view repository) const;
  const std::string& group_pattern() const { return group_pattern_; }

 private:
  friend class PackageGroupsHandler;
  const PackageOriginConfig& package_level(std::string_view repository) const;

  cache::Store* store_ = nullptr;  // null: no package-level configuration
  PackageKey key_;                 // the package; `repo` is set per lookup
  protocols::codeartifact::groups::OriginRestrictions group_;
  std::string group_pattern_ = "/*";
  mutable std::map<std::string, PackageOriginConfig, std::less<>> package_levels_;
};

class PackageGroupsHandler {
 public:
  // Loads the persisted groups (blocking; call at startup).
  explicit PackageGroupsHandler(Context& context);
  ~PackageGroupsHandler();

  // The operation served here for a method and path; nullptr when none.
  static const protocols::codeartifact::Operation* find_operation(std::string_view method,
                                                                  std::string_view path);

  struct Outcome {
    std::optional<protocols::codeartifact::ApiError> error;
    nlohmann::json body = nlohmann::json::object();
  };
  // Runs one operation whose query has passed check_query. `account` is the caller's.
  // Blocking.
  Outcome run(const protocols::codeartifact::Operation& op,
              const protocols::codeartifact::Query& query, const nlohmann::json& body,
              const std::string& account);

  // The origin restrictions in force for a package of a domain (group-level controls; WEAK
  // associations block everything). Fast: no store access.
  protocols::codeartifact::groups::OriginRestrictions origin_restrictions(
      std::string_view domain, std::string_view format, std::string_view ns,
      std::string_view name) const;

  // The group's restrictions combined with the package-level configurations (see OriginPolicy).
  // `name` and `ns` as stored (pypi: the normalized project name). Fast: no store access until
  // the policy is asked about a repository.
  OriginPolicy policy(std::string_view domain, std::string_view format, std::string_view ns,
                      std::string_view name) const;

  // The pattern of the group a package is associated with ("/*" when none matches).
  std::string associated_group(std::string_view domain, std::string_view format,
                               std::string_view ns, std::string_view name) const;

  // True for the operations that may change the restrictions in force (create, update, delete).
  static bool changes_restrictions(std::string_view operation);

  // The package-level configuration set with PutPackageOriginConfiguration, as
  // {"restrictions": {"publish", "upstream"}}; nullopt when never set. Blocking (one Get).
  std::optional<nlohmann::json> package_origin(const PackageKey& key) const;

  // Removes a domain's package groups and package origin configurations (DeleteDomain).
  // Blocking.
  Result<void> forget_domain(const std::string& domain);
  // Removes a deleted repository from every allowed-repository list of the domain's groups, so
  // a repository created later under the same name does not inherit its permissions
  // (DeleteRepository). Blocking.
  Result<void> forget_repository(const std::string& domain, const std::string& repository);
  // Removes a package's origin configuration (DeletePackage), as part of `batch`.
  static void forget_package(cache::Batch& batch, const PackageKey& key);

  // Tags of a package group, for TagResource / UntagResource / ListTagsForResource on its ARN
  // (arn:aws:codeartifact:<region>:<account>:package-group/<domain><pattern>). nullopt when the
  // ARN names no existing group. Blocking (tag changes are persisted).
  std::optional<std::vector<std::pair<std::string, std::string>>> group_tags(
      const std::string& arn) const;
  // Replaces the tags of the group the ARN names; false when there is none.
  Result<bool> set_group_tags(const std::string& arn,
                              std::vector<std::pair<std::string, std::string>> tags);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
