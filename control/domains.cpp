// The domain operations: CreateDomain, DescribeDomain, DeleteDomain, ListDomains and
// GetAuthorizationToken (a token for a domain's repositories).

#include "control/plane.hpp"

#include "common/digest.hpp"
#include "common/log.hpp"

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

uint64_t asset_size_bytes(Plane& plane, const std::string& domain) {
  auto rows = plane.ctx.store.scan(cache::Space::index, std::string("as") + k_sep + domain + k_sep,
                                   10'000'000);
  if (!rows) return 0;
  std::set<std::string> seen;
  uint64_t total = 0;
  for (auto& [k, v] : *rows) {
    auto a = decode_asset(v);
    if (a && seen.insert(a->sha256_hex).second) total += a->size;
  }
  return total;
}

std::string encryption_key(Plane& plane, const config::DomainConfig& d) {
  if (!d.encryption_key.empty()) return d.encryption_key;
  return "arn:aws:kms:" + region(plane) + ":" + owner_of(plane, d) + ":alias/aws/codeartifact";
}

json domain_summary(Plane& plane, const config::DomainConfig& d) {
  const std::string owner = owner_of(plane, d);
  json j = {{"name", d.name},
            {"owner", owner},
            {"arn", ca::domain_arn(region(plane), owner, d.name)},
            {"status", "Active"},
            {"createdTime", ca::timestamp(d.created_unix_ms)},
            {"encryptionKey", encryption_key(plane, d)}};
  return j;
}

json domain_description(Plane& plane, const config::DomainConfig& d, bool with_size = true) {
  json j = domain_summary(plane, d);
  j["repositoryCount"] = d.repositories.size();
  j["assetSizeBytes"] = with_size ? asset_size_bytes(plane, d.name) : 0;
  j["s3BucketArn"] = "arn:aws:s3:::assets-" + owner_of(plane, d) + "-" + region(plane);
  return j;
}

}  // namespace

Reply create_domain(Plane& plane, const Call& call) {
  const std::string name = call.qs("domain");
  if (name == "v1")
    return Reply::fail(ca::validation_error("'v1' is reserved and cannot be a domain name"));
  config::DomainConfig d;
  d.name = name;
  d.owner = call.account;
  d.created_unix_ms = now_unix_ms();
  if (auto e = body_string(call.body, "encryptionKey", d.encryption_key)) return Reply::fail(*e);
  if (!d.encryption_key.empty()) {
    if (d.encryption_key.size() > 1011 || d.encryption_key.find(' ') != std::string::npos) {
      return Reply::fail(ca::validation_error("'encryptionKey' must be a KMS key ARN"));
    }
  }
  if (auto e = body_tags(call.body, d.tags)) return Reply::fail(*e);
  std::lock_guard lock(plane.write_mutex);
  if (plane.ctx.topology.domain(name)) {
    return Reply::fail(ca::conflict("Domain already exists: " + name, "domain", name));
  }
  if (auto r = save_domain(plane, d); !r) return Reply::fail(ca::internal_error(r.error().message));
  if (auto r = apply_domain(plane, d); !r)
    return Reply::fail(ca::internal_error(r.error().message));
  ARCA_LOG_INFO("control plane: created domain {}", name);
  return Reply::ok({{"domain", domain_description(plane, d, false)}});
}

Reply describe_domain(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  return Reply::ok(
      {{"domain", domain_description(plane, *std::get<const config::DomainConfig*>(d))}});
}

Reply delete_domain(Plane& plane, const Call& call) {
  std::lock_guard lock(plane.write_mutex);
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const config::DomainConfig domain = *std::get<const config::DomainConfig*>(d);
  if (!domain.repositories.empty()) {
    return Reply::fail(ca::conflict("Domain " + domain.name + " still has " +
                                        std::to_string(domain.repositories.size()) +
                                        " repositories; delete them first",
                                    "domain", domain.name));
  }
  cache::Batch batch;
  batch.del(cache::Space::index, domain_record_key(domain.name));
  if (auto r = plane.ctx.store.commit(std::move(batch), true); !r)
    return Reply::fail(ca::internal_error(r.error().message));
  // Its package groups and package origin configurations go with it.
  if (auto r = plane.groups.forget_domain(domain.name); !r)
    return Reply::fail(ca::internal_error(r.error().message));
  auto r = plane.ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
    s.domains.erase(std::remove_if(s.domains.begin(), s.domains.end(),
                                   [&](auto& x) { return x.name == domain.name; }),
                    s.domains.end());
    return {};
  });
  if (!r) return Reply::fail(ca::internal_error(r.error().message));
  json desc = domain_description(plane, domain, false);
  desc["status"] = "Deleted";
  ARCA_LOG_INFO("control plane: deleted domain {}", domain.name);
  return Reply::ok({{"domain", desc}});
}

Reply list_domains(Plane& plane, const Call& call) {
  int max = k_default_page;
  std::optional<std::string> token;
  if (auto it = call.body.find("maxResults"); it != call.body.end() && !it->is_null()) {
    if (!it->is_number_integer())
      return Reply::fail(ca::validation_error("'maxResults' must be an integer"));
    if (auto e = ca::parse_max_results(std::to_string(it->get<int64_t>()), k_default_page, max)) {
      return Reply::fail(*e);
    }
  }
  if (auto it = call.body.find("nextToken"); it != call.body.end() && !it->is_null()) {
    if (!it->is_string()) return Reply::fail(ca::validation_error("'nextToken' must be a string"));
    token = it->get<std::string>();
  }
  std::vector<config::DomainConfig> mine;
  for (auto& d : plane.ctx.topology.current().domains) {
    if (owner_of(plane, d) == call.account) mine.push_back(d);
  }
  auto page = paginate(
      std::move(mine), [](const config::DomainConfig& d) { return d.name; }, token, max);
  if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
  auto& [items, next] = std::get<0>(page);
  json list = json::array();
  for (auto& d : items) list.push_back(domain_summary(plane, d));
  json body = {{"domains", list}};
  if (!next.empty()) body["nextToken"] = next;
  return Reply::ok(body);
}

Reply get_authorization_token(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  const int64_t max = static_cast<int64_t>(plane.ctx.config.auth.max_token_duration_seconds);
  int64_t duration = std::min<int64_t>(43200, max);
  if (auto v = call.q("duration")) {
    int64_t n = std::stoll(*v);  // validated by check_query
    // auth.max_token_duration_seconds caps the lifetime (tests shorten it to seconds).
    if (n != 0) duration = std::min(n, max);
  }
  if (!plane.ctx.tokens)
    return Reply::fail(ca::internal_error("authorization tokens are not available"));
  const int64_t now = now_unix_ms() / 1000;
  auth::TokenClaims claims{domain.name, owner_of(plane, domain), call.access_key_id, now + duration,
                           now};
  std::string token = plane.ctx.tokens->issue(claims);
  return Reply::ok({{"authorizationToken", token}, {"expiration", now + duration}});
}

}  // namespace arca::control::ops
