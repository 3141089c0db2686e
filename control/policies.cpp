// The permissions-policy operations of domains and repositories: Put/Get/Delete
// DomainPermissionsPolicy and Put/Get/DeleteRepositoryPermissionsPolicy.

#include "control/plane.hpp"

#include "common/digest.hpp"

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

std::string new_revision(std::string_view seed) {
  auto digest = sha256_of(std::string(seed) + std::to_string(now_unix_ms()));
  return base64_encode(digest);
}

json policy_json(const std::string& arn, const std::string& revision, const std::string& document) {
  return {{"resourceArn", arn}, {"revision", revision}, {"document", document}};
}

}  // namespace

Reply put_domain_policy(Plane& plane, const Call& call) {
  std::string domain_name, owner, revision, document;
  if (auto e = body_string(call.body, "domain", domain_name, true)) return Reply::fail(*e);
  if (auto e = ca::check_domain_name("domain", domain_name)) return Reply::fail(*e);
  if (auto e = body_string(call.body, "domainOwner", owner)) return Reply::fail(*e);
  if (auto e = body_string(call.body, "policyRevision", revision)) return Reply::fail(*e);
  if (auto e = body_string(call.body, "policyDocument", document, true)) return Reply::fail(*e);
  if (auto e = ca::check_policy_document(document)) return Reply::fail(*e);
  std::lock_guard lock(plane.write_mutex);
  auto* found = plane.ctx.topology.domain(domain_name);
  if (!found || (!owner.empty() && owner != owner_of(plane, *found))) {
    return Reply::fail(ca::not_found("Domain not found: " + domain_name, "domain", domain_name));
  }
  config::DomainConfig d = *found;
  if (!revision.empty() && revision != d.policy_revision) {
    return Reply::fail(
        ca::conflict("the policy revision does not match the current one", "domain", d.name));
  }
  d.policy = document;
  d.policy_revision = new_revision(document);
  if (auto s = save_domain(plane, d); !s) return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = apply_domain(plane, d); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  return Reply::ok(
      {{"policy", policy_json(ca::domain_arn(region(plane), owner_of(plane, d), d.name),
                              d.policy_revision, d.policy)}});
}

Reply get_domain_policy(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  if (domain.policy.empty()) {
    return Reply::fail(
        ca::not_found("Domain " + domain.name + " has no resource policy", "domain", domain.name));
  }
  return Reply::ok(
      {{"policy", policy_json(ca::domain_arn(region(plane), owner_of(plane, domain), domain.name),
                              domain.policy_revision, domain.policy)}});
}

Reply delete_domain_policy(Plane& plane, const Call& call) {
  std::lock_guard lock(plane.write_mutex);
  auto found = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  config::DomainConfig d = *std::get<const config::DomainConfig*>(found);
  if (d.policy.empty())
    return Reply::fail(
        ca::not_found("Domain " + d.name + " has no resource policy", "domain", d.name));
  if (auto rev = call.q("policy-revision"); rev && *rev != d.policy_revision) {
    return Reply::fail(
        ca::conflict("the policy revision does not match the current one", "domain", d.name));
  }
  json out = policy_json(ca::domain_arn(region(plane), owner_of(plane, d), d.name),
                         d.policy_revision, d.policy);
  d.policy.clear();
  d.policy_revision.clear();
  if (auto s = save_domain(plane, d); !s) return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = apply_domain(plane, d); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  return Reply::ok({{"policy", out}});
}

Reply put_repository_policy(Plane& plane, const Call& call) {
  std::string revision, document;
  if (auto e = body_string(call.body, "policyRevision", revision)) return Reply::fail(*e);
  if (auto e = body_string(call.body, "policyDocument", document, true)) return Reply::fail(*e);
  if (auto e = ca::check_policy_document(document)) return Reply::fail(*e);
  std::string arn;
  auto reply = change_repository(
      plane, call,
      [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
        if (!revision.empty() && revision != r.policy_revision) {
          return ca::conflict("the policy revision does not match the current one", "repository",
                              r.name);
        }
        r.policy = document;
        r.policy_revision = new_revision(document);
        revision = r.policy_revision;
        arn = ca::repository_arn(region(plane), owner_of(plane, d), d.name, r.name);
        return std::nullopt;
      });
  if (reply.error) return reply;
  return Reply::ok({{"policy", policy_json(arn, revision, document)}});
}

Reply get_repository_policy(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto found = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  const auto& r = *std::get<const config::RepositoryConfig*>(found);
  if (r.policy.empty()) {
    return Reply::fail(
        ca::not_found("Repository " + r.name + " has no resource policy", "repository", r.name));
  }
  return Reply::ok(
      {{"policy",
        policy_json(ca::repository_arn(region(plane), owner_of(plane, domain), domain.name, r.name),
                    r.policy_revision, r.policy)}});
}

Reply delete_repository_policy(Plane& plane, const Call& call) {
  json out;
  auto reply = change_repository(
      plane, call,
      [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
        if (r.policy.empty())
          return ca::not_found("Repository " + r.name + " has no resource policy", "repository",
                               r.name);
        if (auto rev = call.q("policy-revision"); rev && *rev != r.policy_revision) {
          return ca::conflict("the policy revision does not match the current one", "repository",
                              r.name);
        }
        out = policy_json(ca::repository_arn(region(plane), owner_of(plane, d), d.name, r.name),
                          r.policy_revision, r.policy);
        r.policy.clear();
        r.policy_revision.clear();
        return std::nullopt;
      });
  if (reply.error) return reply;
  return Reply::ok({{"policy", out}});
}

}  // namespace arca::control::ops
