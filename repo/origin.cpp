#include "repo/origin.hpp"

namespace arca::repo {

namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr char k_sep = '\x1f';

// Automatic configurations (set when a package's first version arrives) are enforced as the
// service enforces them, and shown by DescribePackage/ListPackages like explicit ones.
constexpr bool k_enforce_automatic = true;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json encode_origin(const PackageOriginConfig& c, bool automatic) {
  json j = origin_json(c);
  if (automatic) j["automatic"] = true;
  return j;
}

struct StoredOrigin {
  PackageOriginConfig config;
  bool automatic = false;
};

// Stored configurations are our own JSON; anything unreadable counts as never set.
std::optional<StoredOrigin> decode_origin(std::string_view s) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto r = j.find("restrictions");
  if (r == j.end() || !r->is_object()) return std::nullopt;
  StoredOrigin stored;
  if (auto a = j.find("automatic"); a != j.end() && a->is_boolean()) stored.automatic = *a;
  auto member = [&](const char* name) {
    auto v = r->find(name);
    return !(v != r->end() && v->is_string() && v->get<std::string>() == "BLOCK");
  };
  stored.config.publish = member("publish");
  stored.config.upstream = member("upstream");
  return stored;
}

}  // namespace

std::string origin_key(const PackageKey& k) {
  return "po" + std::string(1, k_sep) + k.domain + k_sep + k.repo + k_sep + k.format + k_sep +
         k.ns + k_sep + k.name;
}

json origin_json(const PackageOriginConfig& c) {
  return {{"restrictions",
           {{"publish", c.publish ? "ALLOW" : "BLOCK"},
            {"upstream", c.upstream ? "ALLOW" : "BLOCK"}}}};
}

Result<void> set_initial_origin(cache::Store& store, cache::Batch& batch, const PackageKey& key,
                                Arrival arrival) {
  const std::string k = origin_key(key);
  ARCA_TRY(auto existing, store.get(cache::Space::index, k));
  if (existing) return {};
  PackageOriginConfig c;
  c.publish = arrival == Arrival::published;
  c.upstream = arrival == Arrival::ingested;
  batch.put(cache::Space::index, k, dump(encode_origin(c, /*automatic=*/true)));
  return {};
}

std::optional<json> stored_origin(cache::Store& store, const PackageKey& key) {
  auto v = store.get(cache::Space::index, origin_key(key));
  if (!v || !*v) return std::nullopt;
  auto stored = decode_origin(**v);
  if (!stored) return std::nullopt;
  return origin_json(stored->config);  // the API shape, without our marker
}

OriginPolicy::OriginPolicy(cache::Store* store, PackageKey key, pg::OriginRestrictions group,
                           std::string group_pattern)
    : store_(store), key_(std::move(key)), group_(group), group_pattern_(std::move(group_pattern)) {
  group_.group = nullptr;  // the group itself may change after this policy was made
}

const PackageOriginConfig& OriginPolicy::package_level(std::string_view repository) const {
  auto it = package_levels_.find(repository);
  if (it != package_levels_.end()) return it->second;
  PackageOriginConfig c;  // never set: ALLOW, ALLOW
  if (store_) {
    PackageKey k = key_;
    k.repo = std::string(repository);
    // A failed read counts as unset: group controls still apply, and stored content stays.
    if (auto v = store_->get(cache::Space::index, origin_key(k)); v && *v) {
      if (auto d = decode_origin(**v); d && (!d->automatic || k_enforce_automatic)) c = d->config;
    }
  }
  return package_levels_.emplace(std::string(repository), c).first->second;
}

void OriginPolicy::prefetch(const std::vector<const config::RepositoryConfig*>& repositories) const {
  for (auto* r : repositories) (void)package_level(r->name);
}

bool OriginPolicy::allows(RestrictionType type, std::string_view repository) const {
  if (!group_.allows(type, repository)) return false;
  const auto& c = package_level(repository);
  return type == RestrictionType::publish ? c.publish : c.upstream;
}

std::string OriginPolicy::blocker(RestrictionType type, std::string_view repository) const {
  if (!group_.allows(type, repository)) {
    return "the " + std::string(pg::to_string(type)) + " origin control of package group " +
           group_pattern_;
  }
  const bool publish = type == RestrictionType::publish;
  return "the origin configuration of package " + key_.name + " in repository " +
         std::string(repository) + (publish ? " (publish=BLOCK)" : " (upstream=BLOCK)");
}

}  // namespace arca::repo
