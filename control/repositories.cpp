// The repository operations: Create/Describe/Update/DeleteRepository, ListRepositories(InDomain),
// Associate/DisassociateExternalConnection and GetRepositoryEndpoint.

#include "control/plane.hpp"

#include "common/log.hpp"

#include <map>
#include <set>

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

bool would_cycle(const std::vector<config::RepositoryConfig>& repos, const std::string& start) {
  std::map<std::string, const config::RepositoryConfig*> by_name;
  for (auto& r : repos) by_name[r.name] = &r;
  std::set<std::string> seen;
  std::function<bool(const std::string&)> reaches = [&](const std::string& name) -> bool {
    auto it = by_name.find(name);
    if (it == by_name.end()) return false;
    for (auto& u : it->second->upstreams) {
      if (u == start) return true;
      if (seen.insert(u).second && reaches(u)) return true;
    }
    return false;
  };
  return reaches(start);
}

json repo_summary(Plane& plane, const config::DomainConfig& d, const config::RepositoryConfig& r) {
  const std::string owner = owner_of(plane, d);
  json j = {
      {"name", r.name},
      {"administratorAccount", r.administrator_account.empty() ? owner : r.administrator_account},
      {"domainName", d.name},
      {"domainOwner", owner},
      {"arn", ca::repository_arn(region(plane), owner, d.name, r.name)},
      {"createdTime", ca::timestamp(r.created_unix_ms)}};
  if (!r.description.empty()) j["description"] = r.description;
  return j;
}

json repo_description(Plane& plane, const config::DomainConfig& d,
                      const config::RepositoryConfig& r) {
  json j = repo_summary(plane, d, r);
  json ups = json::array();
  for (auto& u : r.upstreams) ups.push_back({{"repositoryName", u}});
  j["upstreams"] = ups;
  json ecs = json::array();
  if (!r.external_connection.empty()) {
    std::string format;
    auto& conns = plane.ctx.topology.current().external_connections;
    if (auto it = conns.find(r.external_connection); it != conns.end()) format = it->second.format;
    json ec = {{"externalConnectionName", r.external_connection}, {"status", "Available"}};
    // A connection to a CodeArtifact repository serves every format: no single packageFormat.
    if (!format.empty()) ec["packageFormat"] = format;
    ecs.push_back(std::move(ec));
  }
  j["externalConnections"] = ecs;
  return j;
}

std::optional<ApiError> read_upstreams(Plane& plane, const Call& call,
                                       const config::DomainConfig& d, const std::string& self,
                                       std::vector<std::string>& out) {
  auto it = call.body.find("upstreams");
  if (it == call.body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array())
    return ca::validation_error("'upstreams' must be a list of {repositoryName}");
  for (auto& u : *it) {
    std::string name;
    if (!u.is_object() || !u.contains("repositoryName") || !u["repositoryName"].is_string()) {
      return ca::validation_error("'upstreams' must be a list of {repositoryName}");
    }
    name = u["repositoryName"];
    if (auto e = ca::check_repository_name("upstreams.member.repositoryName", name)) return e;
    if (name == self) return ca::validation_error("a repository cannot be its own upstream");
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return ca::validation_error("upstream repository '" + name + "' is listed twice");
    }
    auto r = repo_of(plane, d, name);
    if (auto* e = std::get_if<ApiError>(&r)) return *e;
    out.push_back(name);
  }
  if (out.size() > 10)
    return ca::validation_error("a repository can have at most 10 upstream repositories");
  return std::nullopt;
}

std::optional<std::string> connection_format(Plane& plane, const std::string& name) {
  auto& conns = plane.ctx.topology.current().external_connections;
  if (auto it = conns.find(name); it != conns.end()) return it->second.format;
  for (auto& k : ca::known_external_connections()) {
    if (k.name == name) return std::string(k.format);
  }
  return std::nullopt;
}

Reply list_repos_page(
    Plane& plane, const Call& call,
    std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all) {
  int max = k_default_page;
  if (auto e = ca::parse_max_results(call.q("max-results"), k_default_page, max))
    return Reply::fail(*e);
  using Item = std::pair<const config::DomainConfig*, const config::RepositoryConfig*>;
  auto page = paginate(
      std::move(all), [](const Item& i) { return i.first->name + k_sep + i.second->name; },
      call.q("next-token"), max);
  if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
  auto& [items, next] = std::get<0>(page);
  json list = json::array();
  for (auto& [d, r] : items) list.push_back(repo_summary(plane, *d, *r));
  json body = {{"repositories", list}};
  if (!next.empty()) body["nextToken"] = next;
  return Reply::ok(body);
}

}  // namespace

Reply create_repository(Plane& plane, const Call& call) {
  std::lock_guard lock(plane.write_mutex);
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  config::RepositoryConfig r;
  r.name = call.qs("repository");
  if (std::holds_alternative<const config::RepositoryConfig*>(repo_of(plane, domain, r.name))) {
    return Reply::fail(ca::conflict("Repository already exists: " + r.name, "repository", r.name));
  }
  if (auto e = body_string(call.body, "description", r.description)) return Reply::fail(*e);
  if (auto e = ca::check_description("description", r.description)) return Reply::fail(*e);
  if (auto e = read_upstreams(plane, call, domain, r.name, r.upstreams)) return Reply::fail(*e);
  if (auto e = body_tags(call.body, r.tags)) return Reply::fail(*e);
  r.created_unix_ms = now_unix_ms();
  r.administrator_account = call.account;
  if (auto s = save_repo(plane, domain.name, r); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = apply_repo(plane, domain.name, r); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  plane.ctx.generations.all_changed();
  ARCA_LOG_INFO("control plane: created repository {}/{}", domain.name, r.name);
  return Reply::ok({{"repository", repo_description(plane, domain, r)}});
}

// Shared by the repository mutations: look up, change, validate, persist, apply.
Reply change_repository(Plane& plane, const Call& call,
                        const std::function<std::optional<ApiError>(
                            const config::DomainConfig&, config::RepositoryConfig&)>& change) {
  std::lock_guard lock(plane.write_mutex);
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto found = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  config::RepositoryConfig r = *std::get<const config::RepositoryConfig*>(found);
  if (auto e = change(domain, r)) return Reply::fail(*e);
  std::vector<config::RepositoryConfig> after = domain.repositories;
  for (auto& x : after) {
    if (x.name == r.name) x = r;
  }
  if (would_cycle(after, r.name)) {
    return Reply::fail(ca::validation_error("the upstreams of " + r.name + " would form a cycle"));
  }
  if (auto s = save_repo(plane, domain.name, r); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = apply_repo(plane, domain.name, r); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  plane.ctx.generations.all_changed();
  auto* now_domain = plane.ctx.topology.domain(domain.name);
  return Reply::ok({{"repository", repo_description(plane, *now_domain, r)}});
}

Reply update_repository(Plane& plane, const Call& call) {
  return change_repository(
      plane, call,
      [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
        if (call.body.contains("description")) {
          if (auto e = body_string(call.body, "description", r.description)) return e;
          if (auto e = ca::check_description("description", r.description)) return e;
        }
        if (call.body.contains("upstreams")) {
          std::vector<std::string> ups;
          if (auto e = read_upstreams(plane, call, d, r.name, ups)) return e;
          r.upstreams = std::move(ups);
        }
        return std::nullopt;
      });
}

Reply associate_external_connection(Plane& plane, const Call& call) {
  const std::string name = call.qs("external-connection");
  if (!connection_format(plane, name)) {
    return Reply::fail(ca::validation_error("unknown external connection: " + name));
  }
  return change_repository(
      plane, call,
      [&](const config::DomainConfig&, config::RepositoryConfig& r) -> std::optional<ApiError> {
        if (!r.external_connection.empty()) {
          // As the service answers (a ValidationException, not a conflict).
          return ca::validation_error(
              "ExternalConnections for repositories are currently limited to 1", "OTHER");
        }
        r.external_connection = name;
        return std::nullopt;
      });
}

Reply disassociate_external_connection(Plane& plane, const Call& call) {
  const std::string name = call.qs("external-connection");
  return change_repository(
      plane, call,
      [&](const config::DomainConfig&, config::RepositoryConfig& r) -> std::optional<ApiError> {
        if (r.external_connection != name) {
          return ca::not_found("Repository " + r.name + " has no external connection " + name,
                               "repository", r.name);
        }
        r.external_connection.clear();
        return std::nullopt;
      });
}

Reply describe_repository(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto r = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&r)) return Reply::fail(*e);
  return Reply::ok(
      {{"repository",
        repo_description(plane, domain, *std::get<const config::RepositoryConfig*>(r))}});
}

Reply delete_repository(Plane& plane, const Call& call) {
  std::lock_guard lock(plane.write_mutex);
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto found = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  const config::RepositoryConfig r = *std::get<const config::RepositoryConfig*>(found);
  for (auto& other : domain.repositories) {
    if (std::find(other.upstreams.begin(), other.upstreams.end(), r.name) !=
        other.upstreams.end()) {
      return Reply::fail(ca::conflict("Repository " + r.name + " is an upstream of " + other.name +
                                          "; remove it from there first",
                                      "repository", r.name));
    }
  }
  json desc = repo_description(plane, domain, r);
  cache::Batch batch;
  batch.del(cache::Space::index, repo_record_key(domain.name, r.name));
  for (auto* kind : {"pk", "pv", "as", "po"}) {
    if (auto s = delete_prefix(plane, batch,
                               std::string(kind) + k_sep + domain.name + k_sep + r.name + k_sep);
        !s) {
      return Reply::fail(ca::internal_error(s.error().message));
    }
  }
  if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  auto s = plane.ctx.topology.update([&](Topology::Snapshot& snap) -> Result<void> {
    for (auto& x : snap.domains) {
      if (x.name != domain.name) continue;
      x.repositories.erase(std::remove_if(x.repositories.begin(), x.repositories.end(),
                                          [&](auto& y) { return y.name == r.name; }),
                           x.repositories.end());
    }
    return {};
  });
  if (!s) return Reply::fail(ca::internal_error(s.error().message));
  // Its places on package groups' allowed-repository lists go with it.
  if (auto f = plane.groups.forget_repository(domain.name, r.name); !f)
    return Reply::fail(ca::internal_error(f.error().message));
  plane.ctx.generations.all_changed();
  ARCA_LOG_INFO("control plane: deleted repository {}/{}", domain.name, r.name);
  return Reply::ok({{"repository", desc}});
}

Reply list_repositories_in_domain(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all;
  const std::string prefix = call.qs("repository-prefix");
  const auto admin = call.q("administrator-account");
  for (auto& r : domain.repositories) {
    if (!prefix.empty() && r.name.rfind(prefix, 0) != 0) continue;
    std::string a =
        r.administrator_account.empty() ? owner_of(plane, domain) : r.administrator_account;
    if (admin && *admin != a) continue;
    all.emplace_back(&domain, &r);
  }
  return list_repos_page(plane, call, std::move(all));
}

Reply list_repositories(Plane& plane, const Call& call) {
  std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all;
  const std::string prefix = call.qs("repository-prefix");
  for (auto& d : plane.ctx.topology.current().domains) {
    for (auto& r : d.repositories) {
      std::string a =
          r.administrator_account.empty() ? owner_of(plane, d) : r.administrator_account;
      if (a != call.account) continue;
      if (!prefix.empty() && r.name.rfind(prefix, 0) != 0) continue;
      all.emplace_back(&d, &r);
    }
  }
  return list_repos_page(plane, call, std::move(all));
}

Reply get_repository_endpoint(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto r = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&r)) return Reply::fail(*e);
  return Reply::ok(
      {{"repositoryEndpoint", call.base_url + "/" + domain.name + "/" + call.qs("format") + "/" +
                                  call.qs("repository") + "/"}});
}

}  // namespace arca::control::ops
