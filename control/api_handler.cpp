// The /v1/ entry of the CodeArtifact API: authentication, the query and body checks every
// operation gets, the operation table, and the reply on the wire. The operations themselves
// are in one file per resource (plane.hpp).

#include "control/api_handler.hpp"

#include "auth/sigv4.hpp"
#include "common/digest.hpp"
#include "common/json_depth.hpp"
#include "common/log.hpp"
#include "control/plane.hpp"
#include "net/blocking.hpp"
#include "net/http_util.hpp"

#include <algorithm>
#include <cctype>

namespace arca::control {

namespace ops {

namespace {

// The package-group operations and PutPackageOriginConfiguration (package_groups_handler.cpp).
Reply run_package_group_operation(Plane& plane, const Call& call) {
  auto out = plane.groups.run(*call.op, call.query, call.body, call.account);
  if (out.error) return Reply::fail(*out.error);
  Reply reply = Reply::ok(std::move(out.body));
  // Origin controls decide which versions the data plane lists: rebuild npm documents.
  reply.everything_changed = PackageGroupsHandler::changes_restrictions(call.op->name);
  return reply;
}

}  // namespace

const std::vector<OperationEntry>& operation_table() {
  // Sorted by name, as the model lists them.
  static const std::vector<OperationEntry> k_table = {
      {"AssociateExternalConnection", associate_external_connection},
      {"CopyPackageVersions", copy_package_versions},
      {"CreateDomain", create_domain},
      {"CreatePackageGroup", run_package_group_operation},
      {"CreateRepository", create_repository},
      {"DeleteDomain", delete_domain},
      {"DeleteDomainPermissionsPolicy", delete_domain_policy},
      {"DeletePackage", delete_package},
      {"DeletePackageGroup", run_package_group_operation},
      {"DeletePackageVersions", delete_package_versions},
      {"DeleteRepository", delete_repository},
      {"DeleteRepositoryPermissionsPolicy", delete_repository_policy},
      {"DescribeDomain", describe_domain},
      {"DescribePackage", describe_package},
      {"DescribePackageGroup", run_package_group_operation},
      {"DescribePackageVersion", describe_package_version},
      {"DescribeRepository", describe_repository},
      {"DisassociateExternalConnection", disassociate_external_connection},
      {"DisposePackageVersions", dispose_package_versions},
      {"GetAssociatedPackageGroup", run_package_group_operation},
      {"GetAuthorizationToken", get_authorization_token},
      {"GetDomainPermissionsPolicy", get_domain_policy},
      {"GetPackageVersionAsset", get_package_version_asset},
      {"GetPackageVersionReadme", get_package_version_readme},
      {"GetRepositoryEndpoint", get_repository_endpoint},
      {"GetRepositoryPermissionsPolicy", get_repository_policy},
      {"ListAllowedRepositoriesForGroup", run_package_group_operation},
      {"ListAssociatedPackages", run_package_group_operation},
      {"ListDomains", list_domains},
      {"ListPackageGroups", run_package_group_operation},
      {"ListPackageVersionAssets", list_package_version_assets},
      {"ListPackageVersionDependencies", list_package_version_dependencies},
      {"ListPackageVersions", list_package_versions},
      {"ListPackages", list_packages},
      {"ListRepositories", list_repositories},
      {"ListRepositoriesInDomain", list_repositories_in_domain},
      {"ListSubPackageGroups", run_package_group_operation},
      {"ListTagsForResource", list_tags},
      {"PublishPackageVersion", publish_package_version},
      {"PutDomainPermissionsPolicy", put_domain_policy},
      {"PutPackageOriginConfiguration", run_package_group_operation},
      {"PutRepositoryPermissionsPolicy", put_repository_policy},
      {"TagResource", tag_resource},
      {"UntagResource", untag_resource},
      {"UpdatePackageGroup", run_package_group_operation},
      {"UpdatePackageGroupOriginConfiguration", run_package_group_operation},
      {"UpdatePackageVersionsStatus", update_package_versions_status},
      {"UpdateRepository", update_repository},
  };
  return k_table;
}

OperationFn find_operation_function(std::string_view name) {
  const auto& table = operation_table();
  auto it =
      std::lower_bound(table.begin(), table.end(), name,
                       [](const OperationEntry& e, std::string_view n) { return e.name < n; });
  return it != table.end() && it->name == name ? it->run : nullptr;
}

}  // namespace ops

using namespace net;
using namespace ops;
using formats::Context;

namespace asio = boost::asio;

bool is_loopback_address(std::string_view a) {
  return a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0 ||
         a == "localhost";
}

std::string primary_account(const config::Config& config) {
  return config.auth.access_keys.empty() ? config.auth.default_account
                                         : config.auth.access_keys[0].account;
}

struct CodeArtifactHandler::Impl {
  Plane plane;
  Context& ctx;

  explicit Impl(Context& c) : plane(c), ctx(c) {}

  // --- Authentication ---

  std::optional<ApiError> authenticate(const Request& req, Call& call) {
    const auto& auth_cfg = ctx.config.auth;
    const bool loopback = is_loopback_address(req.remote_address);
    const bool signed_request = !req.header("authorization").empty();
    if (!signed_request) {
      if (auth_cfg.allow_unsigned_loopback && loopback) {
        call.account = primary_account(ctx.config);
        return std::nullopt;
      }
      return ApiError{
          403, "MissingAuthenticationTokenException", "Missing Authentication Token", {}, {}, {}};
    }
    if (auth_cfg.access_keys.empty()) {
      // Nothing to check a signature against: accepted from loopback only.
      if (loopback && auth_cfg.allow_unsigned_loopback) {
        call.account = primary_account(ctx.config);
        return std::nullopt;
      }
      return ApiError{403,
                      "UnrecognizedClientException",
                      "The security token included in the request is invalid.",
                      {},
                      {},
                      {}};
    }
    auth::HeaderList headers(req.headers.begin(), req.headers.end());
    auth::IncomingRequest in{req.method, req.path, req.query, &headers, req.body};
    auto lookup = [&](std::string_view id) -> std::optional<std::string> {
      for (auto& k : auth_cfg.access_keys) {
        if (k.access_key_id == id) return k.secret_access_key;
      }
      return std::nullopt;
    };
    auth::VerifyOptions vo;
    vo.region = ctx.config.region;
    vo.max_skew = auth_cfg.max_clock_skew;
    auto r = auth::verify(in, lookup, vo, std::chrono::system_clock::now());
    if (!r) return ApiError{403, r.failure.type, r.failure.message, {}, {}, {}};
    call.access_key_id = r.ok->access_key_id;
    for (auto& k : auth_cfg.access_keys) {
      if (k.access_key_id == call.access_key_id) call.account = k.account;
    }
    return std::nullopt;
  }

  Reply dispatch(const Call& call) {
    if (auto run = find_operation_function(call.op->name)) return run(plane, call);
    return Reply::fail(ca::unknown_operation(call.request->method, call.request->path));
  }

  // Everything before the operation runs: routing, authentication, query and body parsing.
  Reply prepare_and_run(Call& call) {
    const Request& req = *call.request;
    call.op = ca::find_operation(req.method, req.path);
    if (!call.op) call.op = PackageGroupsHandler::find_operation(req.method, req.path);
    if (!call.op) return Reply::fail(ca::unknown_operation(req.method, req.path));
    if (auto e = authenticate(req, call)) return Reply::fail(*e);
    if (auto e = ca::parse_query(req.query, call.query)) return Reply::fail(*e);
    if (auto e = ca::check_query(*call.op, call.query)) return Reply::fail(*e);
    if (call.op->name != "PublishPackageVersion") {
      // A signed payload hash must match what arrived.
      auto declared = req.header("x-amz-content-sha256");
      if (!declared.empty() && declared != "UNSIGNED-PAYLOAD" &&
          declared != to_hex(sha256_of(req.body))) {
        return Reply::fail(ApiError{403,
                                    "InvalidSignatureException",
                                    "x-amz-content-sha256 does not match the request body",
                                    {},
                                    {},
                                    {}});
      }
      bool blank = std::all_of(req.body.begin(), req.body.end(),
                               [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
      if (!blank) {
        // A hostile nesting depth would overflow the stack wherever the value is copied.
        if (!json_nesting_within(req.body)) {
          return Reply::fail(
              ca::validation_error("the request body nests too deeply", "CANNOT_PARSE"));
        }
        auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
          return Reply::fail(
              ca::validation_error("the request body is not a JSON object", "CANNOT_PARSE"));
        }
        call.body = std::move(body);
      }
    }
    return dispatch(call);
  }
};

CodeArtifactHandler::CodeArtifactHandler(Context& context)
    : impl_(std::make_unique<Impl>(context)) {}
CodeArtifactHandler::~CodeArtifactHandler() = default;

bool CodeArtifactHandler::is_publish(const Request& request) const {
  return request.method == "POST" && request.path == "/v1/package/version/publish";
}

asio::awaitable<void> CodeArtifactHandler::handle(Exchange& ex) {
  auto& impl = *impl_;
  const Request& req = ex.request();
  Call call;
  call.request = &req;
  call.base_url = public_origin(impl.ctx.config, req);
  Call* call_ptr = &call;
  Impl* impl_ptr = &impl;
  auto run = [impl_ptr, call_ptr]() -> Reply {
    try {
      return impl_ptr->prepare_and_run(*call_ptr);
    } catch (const std::exception& e) {
      return Reply::fail(ca::internal_error(std::string("internal error: ") + e.what()));
    }
  };
  Reply reply = co_await offload(impl.ctx.pool, std::move(run));
  if (reply.everything_changed) impl.ctx.generations.all_changed();
  for (auto& k : reply.changed_packages)
    impl.ctx.generations.package_changed(k.domain, k.format, k.ns, k.name);
  const std::string op_name = call.op ? std::string(call.op->name) : std::string("unknown");
  if (reply.error) {
    Headers headers;
    headers.emplace_back("Content-Type", "application/json");
    headers.emplace_back("x-amzn-ErrorType", reply.error->type);
    ARCA_LOG_INFO("[R{}] codeartifact {} -> {} {}", req.id, op_name, reply.error->status,
                  reply.error->type);
    std::string body = ca::error_body(*reply.error);
    co_await ex.respond(reply.error->status, std::move(headers), std::move(body));
    co_return;
  }
  if (reply.blob) {
    cache::BlobRecord record = *reply.blob;
    Headers headers = std::move(reply.headers);
    co_await impl.ctx.assets.serve_blob(ex, record, std::move(headers));
    co_return;
  }
  Headers headers;
  headers.emplace_back("Content-Type", "application/json");
  std::string body = dump(reply.body);
  co_await ex.respond(200, std::move(headers), std::move(body));
}

}  // namespace arca::control
