#pragma once
// Internal to control/: what the CodeArtifact operations share. Each resource has its file
// (domains.cpp, repositories.cpp, packages.cpp, package_versions.cpp, assets.cpp, policies.cpp,
// tags.cpp; package groups in package_groups_handler.cpp); each operation is one function
// `Reply op(Plane&, const Call&)`, and operation_table() (api_handler.cpp) maps every operation
// name of the model to its function. The lookups, persistence and shapes more than one resource
// uses are here (defined in plane.cpp).
//
// Thread-safety: operations run on the blocking pool; those that write hold Plane::write_mutex.

#include "control/api.hpp"
#include "control/package_groups_handler.hpp"
#include "formats/context.hpp"
#include "net/http.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace arca::formats {
class Format;
}

namespace arca::control::ops {

namespace ca = api;
using json = nlohmann::json;
using ca::ApiError;
using Tags = std::vector<std::pair<std::string, std::string>>;

inline constexpr char k_sep = '\x1f';
inline constexpr int k_default_page = 100;

// What an incoming request says, in plain terms.
struct Call {
  const ca::Operation* op = nullptr;
  ca::Query query;
  json body = json::object();
  const net::Request* request = nullptr;
  std::string account;        // caller's account id
  std::string access_key_id;  // empty for unsigned local requests
  std::string base_url;       // http://host:port

  std::optional<std::string> q(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  std::string qs(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
};

// The outcome of one operation: a JSON body, an error, or an asset to stream.
struct Reply {
  std::optional<ApiError> error;
  json body = json::object();
  std::optional<cache::BlobRecord> blob;  // GetPackageVersionAsset
  net::Headers headers;
  // What the operation changed, for scoped invalidation (repo/generations.hpp).
  std::vector<repo::PackageKey> changed_packages;
  bool everything_changed = false;
  static Reply fail(ApiError e) {
    Reply r;
    r.error = std::move(e);
    return r;
  }
  static Reply ok(json body) {
    Reply r;
    r.body = std::move(body);
    return r;
  }
};

// The state every operation shares.
struct Plane {
  formats::Context& ctx;
  std::mutex write_mutex;       // serializes control-plane writes (held on the pool only)
  PackageGroupsHandler groups;  // package groups and package origin configuration

  explicit Plane(formats::Context& c);
  ~Plane();
};

using OperationFn = Reply (*)(Plane&, const Call&);
struct OperationEntry {
  std::string_view name;  // as in the model: "CreateDomain"
  OperationFn run;
};
// Every operation of the model, each with its function (api_handler.cpp).
const std::vector<OperationEntry>& operation_table();
// The function of an operation; nullptr when the table has none.
OperationFn find_operation_function(std::string_view name);

// --- Shared by the resources (plane.cpp) ---

std::string dump(const json& j);
std::string str(const json& j, const char* key);
std::vector<std::string> split_key(std::string_view key);

const std::string& region(Plane& plane);
std::string owner_of(Plane& plane, const config::DomainConfig& d);

std::variant<const config::DomainConfig*, ApiError> domain_of(Plane& plane, const Call& call);
std::variant<const config::RepositoryConfig*, ApiError> repo_of(Plane& plane,
                                                                const config::DomainConfig& d,
                                                                const std::string& name);

// Persistence and topology (the caller holds write_mutex).
std::string domain_record_key(std::string_view domain);                       // dm<domain>
std::string repo_record_key(std::string_view domain, std::string_view repo);  // rp<domain><repo>
Result<void> save_domain(Plane& plane, const config::DomainConfig& d);
Result<void> save_repo(Plane& plane, const std::string& domain, const config::RepositoryConfig& r);
// Replaces a domain (without its repositories) in the topology.
Result<void> apply_domain(Plane& plane, const config::DomainConfig& d);
Result<void> apply_repo(Plane& plane, const std::string& domain, const config::RepositoryConfig& r);
Result<void> delete_prefix(Plane& plane, cache::Batch& batch, const std::string& prefix);

std::optional<ApiError> body_tags(const json& body, Tags& out, bool required = false);

// Shared by the repository mutations: look up, change, validate, persist, apply
// (repositories.cpp).
Reply change_repository(Plane& plane, const Call& call,
                        const std::function<std::optional<ApiError>(
                            const config::DomainConfig&, config::RepositoryConfig&)>& change);

struct PackageRef {
  const config::DomainConfig* domain = nullptr;
  const config::RepositoryConfig* repo = nullptr;
  repo::PackageKey key;
};
std::variant<PackageRef, ApiError> package_ref(Plane& plane, const Call& call,
                                               const std::string& repo_param = "repository");
// Versions of a package; ResourceNotFound when the package does not exist here.
std::variant<std::vector<repo::VersionRecord>, ApiError> package_versions(Plane& plane,
                                                                          const PackageRef& ref);
std::variant<repo::VersionRecord, ApiError> version_of(Plane& plane, const PackageRef& ref,
                                                       const std::string& version);
// The Format serving `name`; null for formats with no data plane (generic).
const formats::Format* format_of(Plane& plane, std::string_view name);
// The package's name for people (npm "@scope/name", NuGet's id as published).
std::string display_name(Plane& plane, const repo::PackageKey& k,
                         const repo::VersionRecord* v = nullptr);
json package_header(const repo::PackageKey& k);

// The generic format has no data plane (no Format to ask): only PublishPackageVersion publishes
// it, its packages need a namespace, and its asset records are kept per version, as
// "<version>/<asset>" (two versions may hold assets of the same name).
bool is_generic(std::string_view format);
// The name of a version's asset in its asset record key (repo::asset_key).
std::string asset_record_name(const repo::PackageKey& k, const std::string& version,
                              const std::string& asset);

// The revision of a version: a digest of its assets (stable while the assets are).
std::string version_revision(const repo::VersionRecord& v);

// Page of sorted keys: items after the token, at most max.
template <class T, class KeyFn>
std::variant<std::pair<std::vector<T>, std::string>, ApiError> paginate(
    std::vector<T> items, KeyFn key, const std::optional<std::string>& token, int max) {
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  std::string after;
  if (token) {
    auto decoded = ca::decode_next_token(*token);
    if (!decoded) return ca::validation_error("the nextToken is not valid");
    after = *decoded;
  }
  std::vector<T> page;
  std::string next;
  for (auto& it : items) {
    if (token && !(key(it) > after)) continue;
    if (static_cast<int>(page.size()) == max) {
      next = ca::encode_next_token(key(page.back()));
      break;
    }
    page.push_back(it);
  }
  return std::make_pair(std::move(page), next);
}

// --- The operations, by resource ---

// domains.cpp
Reply create_domain(Plane& plane, const Call& call);
Reply describe_domain(Plane& plane, const Call& call);
Reply delete_domain(Plane& plane, const Call& call);
Reply list_domains(Plane& plane, const Call& call);
Reply get_authorization_token(Plane& plane, const Call& call);

// repositories.cpp
Reply create_repository(Plane& plane, const Call& call);
Reply describe_repository(Plane& plane, const Call& call);
Reply update_repository(Plane& plane, const Call& call);
Reply delete_repository(Plane& plane, const Call& call);
Reply list_repositories_in_domain(Plane& plane, const Call& call);
Reply list_repositories(Plane& plane, const Call& call);
Reply associate_external_connection(Plane& plane, const Call& call);
Reply disassociate_external_connection(Plane& plane, const Call& call);
Reply get_repository_endpoint(Plane& plane, const Call& call);

// policies.cpp
Reply put_domain_policy(Plane& plane, const Call& call);
Reply get_domain_policy(Plane& plane, const Call& call);
Reply delete_domain_policy(Plane& plane, const Call& call);
Reply put_repository_policy(Plane& plane, const Call& call);
Reply get_repository_policy(Plane& plane, const Call& call);
Reply delete_repository_policy(Plane& plane, const Call& call);

// tags.cpp
Reply tag_resource(Plane& plane, const Call& call);
Reply untag_resource(Plane& plane, const Call& call);
Reply list_tags(Plane& plane, const Call& call);

// packages.cpp
Reply list_packages(Plane& plane, const Call& call);
Reply describe_package(Plane& plane, const Call& call);
Reply delete_package(Plane& plane, const Call& call);

// package_versions.cpp
Reply list_package_versions(Plane& plane, const Call& call);
Reply describe_package_version(Plane& plane, const Call& call);
Reply get_package_version_readme(Plane& plane, const Call& call);
Reply list_package_version_dependencies(Plane& plane, const Call& call);
Reply update_package_versions_status(Plane& plane, const Call& call);
Reply dispose_package_versions(Plane& plane, const Call& call);
Reply delete_package_versions(Plane& plane, const Call& call);
Reply copy_package_versions(Plane& plane, const Call& call);

// assets.cpp
Reply list_package_version_assets(Plane& plane, const Call& call);
Reply get_package_version_asset(Plane& plane, const Call& call);
Reply publish_package_version(Plane& plane, const Call& call);

}  // namespace arca::control::ops
