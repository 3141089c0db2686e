#pragma once
// The package-group operations of the CodeArtifact API (CreatePackageGroup ...
// ListAllowedRepositoriesForGroup) and the package-level PutPackageOriginConfiguration, plus the
// lookup the data plane calls to enforce origin controls.
//
// Persisted in the store's index space:
//   pg <domain> <pattern>                      -> group JSON (contact, description, modes, lists)
//   po <domain> <repo> <format> <ns> <name>    -> package origin configuration {publish, upstream}
// Each domain's groups live in memory as a repo::groups::GroupIndex (the root
// group /* exists implicitly until it is edited).
//
// Thread-safety: all methods may be called from any thread; reads share a lock, writes are
// serialized. run() does blocking store I/O: call it on the blocking pool.

#include "control/api.hpp"
#include "repo/package_groups.hpp"
#include "formats/context.hpp"
#include "repo/origin.hpp"
#include "repo/records.hpp"
#include "repo/topology.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace arca::control {

class PackageGroupsHandler final : public repo::OriginPolicies {
 public:
  // Loads the persisted groups (blocking; call at startup).
  explicit PackageGroupsHandler(formats::Context& context);
  ~PackageGroupsHandler() override;

  // The operation served here for a method and path; nullptr when none.
  static const control::api::Operation* find_operation(std::string_view method,
                                                                  std::string_view path);

  struct Outcome {
    std::optional<control::api::ApiError> error;
    nlohmann::json body = nlohmann::json::object();
  };
  // Runs one operation whose query has passed check_query. `account` is the caller's.
  // Blocking.
  Outcome run(const control::api::Operation& op,
              const control::api::Query& query, const nlohmann::json& body,
              const std::string& account);

  // The origin restrictions in force for a package of a domain (group-level controls; WEAK
  // associations block everything). Fast: no store access.
  repo::groups::OriginRestrictions origin_restrictions(
      std::string_view domain, std::string_view format, std::string_view ns,
      std::string_view name) const;

  // The group's restrictions combined with the package-level configurations (see OriginPolicy).
  // `name` and `ns` as stored (pypi: the normalized project name). Fast: no store access until
  // the policy is asked about a repository.
  repo::OriginPolicy policy(std::string_view domain, std::string_view format,
                            std::string_view ns, std::string_view name) const override;

  // The pattern of the group a package is associated with ("/*" when none matches).
  std::string associated_group(std::string_view domain, std::string_view format,
                               std::string_view ns, std::string_view name) const;

  // True for the operations that may change the restrictions in force (create, update, delete).
  static bool changes_restrictions(std::string_view operation);

  // The package-level configuration set with PutPackageOriginConfiguration, as
  // {"restrictions": {"publish", "upstream"}}; nullopt when never set. Blocking (one Get).
  std::optional<nlohmann::json> package_origin(const repo::PackageKey& key) const;

  // Removes a domain's package groups and package origin configurations (DeleteDomain).
  // Blocking.
  Result<void> forget_domain(const std::string& domain);
  // Removes a deleted repository from every allowed-repository list of the domain's groups, so
  // a repository created later under the same name does not inherit its permissions
  // (DeleteRepository). Blocking.
  Result<void> forget_repository(const std::string& domain, const std::string& repository);
  // Removes a package's origin configuration (DeletePackage), as part of `batch`.
  static void forget_package(cache::Batch& batch, const repo::PackageKey& key);

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

}  // namespace arca::control
