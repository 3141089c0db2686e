#include "repo/resolver.hpp"

#include "common/log.hpp"

namespace arca::repo {

RepositoryList reachable(const RepositoryList& order, const OriginPolicy& policy) {
  RepositoryList out;
  if (order.empty()) return out;
  const std::string& requester = order.front()->name;
  const bool upstreams = policy.allows(RestrictionType::internal_upstream, requester);
  for (auto* r : order) {
    if (r->name == requester || upstreams) out.push_back(r);
  }
  return out;
}

ViewAccess view_access(const Topology& topology, std::string_view format,
                       const config::RepositoryConfig& repo, const RepositoryList& order,
                       const OriginPolicy& policy) {
  ViewAccess out;
  out.reachable.resize(order.size());
  out.connection_open.resize(order.size());
  const bool upstreams = policy.allows(RestrictionType::internal_upstream, repo.name);
  for (size_t i = 0; i < order.size(); ++i) {
    const auto* r = order[i];
    out.reachable[i] = r->name == repo.name || upstreams;
    out.connection_open[i] =
        out.reachable[i] && policy.allows(RestrictionType::external_upstream, r->name);
    auto* ec = topology.external_connection(*r);
    std::string why;
    if (!out.reachable[i]) {
      why = "from " + r->name + " into " + repo.name + ", blocked by " +
            policy.blocker(RestrictionType::internal_upstream, repo.name);
    } else if (ec && ec->serves(format) && !out.connection_open[i]) {
      why = "from " + ec->name + " into " + r->name + ", blocked by " +
            policy.blocker(RestrictionType::external_upstream, r->name);
    }
    if (!why.empty() && out.blocked.find(why) == std::string::npos) {
      out.blocked += (out.blocked.empty() ? "" : "; ") + why;
    }
  }
  return out;
}

Result<StoredLookup> find_stored_asset(cache::Store& store, const RepositoryList& order,
                                       const OriginPolicy& policy, PackageKey key,
                                       std::string_view asset, std::string_view version) {
  StoredLookup out;
  for (auto* r : reachable(order, policy)) {
    key.repo = r->name;
    if (!version.empty()) {
      ARCA_TRY(auto v, find_version(store, key, version));
      if (v && (v->status == "Archived" || v->status == "Disposed")) {
        out.unavailable_status = v->status;
        return out;
      }
    }
    ARCA_TRY(auto a, find_asset(store, key, asset));
    if (!a) continue;
    if (!version.empty() && !a->version.empty() && a->version != version) continue;
    auto sha = from_hex<32>(a->sha256_hex);
    if (!sha) continue;
    ARCA_TRY(auto blob, store.find_blob(*sha));
    if (!blob) {
      ARCA_LOG_ERROR("asset {} of {} in {} names a missing blob", asset, key.name, r->name);
      continue;
    }
    out.found = StoredAsset{r, std::move(*a), *blob};
    return out;
  }
  return out;
}

std::optional<std::string> publish_conflict(const Source& source, std::string_view requester,
                                            std::string_view what, std::string_view verb) {
  if (!source.repo || (!source.connection && source.repo->name == requester)) return std::nullopt;
  std::string from = source.connection ? source.connection->name
                                       : "upstream repository " + source.repo->name;
  return "Conflict: " + std::string(what) + " is available from " + from + "; it cannot be " +
         std::string(verb) + " to " + std::string(requester);
}

EntryPoint derived_entry(const config::RepositoryConfig& holder, const VersionRecord& version) {
  if (!version.entry.empty()) return version.entry;
  EntryPoint e;
  if (version.origin == "EXTERNAL" && !holder.external_connection.empty())
    e.external_connection = holder.external_connection;
  else
    e.repository = holder.name;
  return e;
}

}  // namespace arca::repo
