// The control plane's operation table: every operation of the CodeArtifact model (2018-09-22)
// has its function, and every operation the API routes reaches one.

#include "control/api.hpp"
#include "control/package_groups_handler.hpp"
#include "control/plane.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ca = arca::control::api;
namespace ops = arca::control::ops;

namespace {

// The model's 48 operations (reference/codeartifact-operations.md, "Operation index").
const std::vector<std::string_view> k_model_operations = {
    "AssociateExternalConnection",
    "CopyPackageVersions",
    "CreateDomain",
    "CreatePackageGroup",
    "CreateRepository",
    "DeleteDomain",
    "DeleteDomainPermissionsPolicy",
    "DeletePackage",
    "DeletePackageGroup",
    "DeletePackageVersions",
    "DeleteRepository",
    "DeleteRepositoryPermissionsPolicy",
    "DescribeDomain",
    "DescribePackage",
    "DescribePackageGroup",
    "DescribePackageVersion",
    "DescribeRepository",
    "DisassociateExternalConnection",
    "DisposePackageVersions",
    "GetAssociatedPackageGroup",
    "GetAuthorizationToken",
    "GetDomainPermissionsPolicy",
    "GetPackageVersionAsset",
    "GetPackageVersionReadme",
    "GetRepositoryEndpoint",
    "GetRepositoryPermissionsPolicy",
    "ListAllowedRepositoriesForGroup",
    "ListAssociatedPackages",
    "ListDomains",
    "ListPackageGroups",
    "ListPackageVersionAssets",
    "ListPackageVersionDependencies",
    "ListPackageVersions",
    "ListPackages",
    "ListRepositories",
    "ListRepositoriesInDomain",
    "ListSubPackageGroups",
    "ListTagsForResource",
    "PublishPackageVersion",
    "PutDomainPermissionsPolicy",
    "PutPackageOriginConfiguration",
    "PutRepositoryPermissionsPolicy",
    "TagResource",
    "UntagResource",
    "UpdatePackageGroup",
    "UpdatePackageGroupOriginConfiguration",
    "UpdatePackageVersionsStatus",
    "UpdateRepository",
};

// The package-group operations and PutPackageOriginConfiguration, by method and path (the
// model's request URIs), which PackageGroupsHandler routes.
struct Route {
  std::string_view name, method, path;
};
const std::vector<Route> k_group_routes = {
    {"CreatePackageGroup", "POST", "/v1/package-group"},
    {"DescribePackageGroup", "GET", "/v1/package-group"},
    {"UpdatePackageGroup", "PUT", "/v1/package-group"},
    {"UpdatePackageGroupOriginConfiguration", "PUT", "/v1/package-group-origin-configuration"},
    {"DeletePackageGroup", "DELETE", "/v1/package-group"},
    {"ListPackageGroups", "POST", "/v1/package-groups"},
    {"ListSubPackageGroups", "POST", "/v1/package-groups/sub-groups"},
    {"ListAssociatedPackages", "GET", "/v1/list-associated-packages"},
    {"GetAssociatedPackageGroup", "GET", "/v1/get-associated-package-group"},
    {"ListAllowedRepositoriesForGroup", "GET", "/v1/package-group-allowed-repositories"},
    {"PutPackageOriginConfiguration", "POST", "/v1/package"},
};

}  // namespace

TEST_SUITE("control::operation_table") {
  TEST_CASE("one entry per operation of the model, each with a function, sorted by name") {
    const auto& table = ops::operation_table();
    std::vector<std::string_view> names;
    for (auto& entry : table) {
      CHECK_MESSAGE((entry.run != nullptr), entry.name);
      names.push_back(entry.name);
    }
    CHECK(names == k_model_operations);
    // find_operation_function searches by halves: the table must stay sorted and unique.
    for (size_t i = 1; i < table.size(); ++i) CHECK(table[i - 1].name < table[i].name);
    for (auto name : k_model_operations) {
      CHECK_MESSAGE((ops::find_operation_function(name) != nullptr), name);
    }
  }

  TEST_CASE("every routed operation reaches its function; unknown names reach none") {
    for (auto& op : ca::operations()) {
      CHECK_MESSAGE((ops::find_operation_function(op.name) != nullptr), op.name);
    }
    for (auto& route : k_group_routes) {
      auto* op = arca::control::PackageGroupsHandler::find_operation(route.method, route.path);
      REQUIRE_MESSAGE(op, route.name);
      CHECK(op->name == route.name);
      CHECK((ops::find_operation_function(op->name) != nullptr));
    }
    // The package-group operations share one function (PackageGroupsHandler::run); the others
    // each have their own.
    std::set<ops::OperationFn> own;
    for (auto& op : ca::operations()) own.insert(ops::find_operation_function(op.name));
    CHECK(own.size() == ca::operations().size());
    CHECK((ops::find_operation_function("CreatePackageGroup") ==
           ops::find_operation_function("PutPackageOriginConfiguration")));
    CHECK((ops::find_operation_function("") == nullptr));
    CHECK((ops::find_operation_function("Createdomain") == nullptr));
    CHECK((ops::find_operation_function("ZZZ") == nullptr));
  }
}
