#include "repo/topology.hpp"

#include <functional>
#include <set>

namespace arca::repo {

Topology::Topology(const config::Config& config) {
  auto first = std::make_shared<Snapshot>();
  first->domains = config.domains;
  first->external_connections = config.external_connections;
  current_.store(first.get());
  history_.push_back(std::move(first));
}

const config::DomainConfig* Topology::domain(std::string_view name) const {
  for (auto& d : current().domains) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const config::RepositoryConfig* Topology::repository(std::string_view domain_name,
                                                     std::string_view repo) const {
  auto* d = domain(domain_name);
  if (!d) return nullptr;
  for (auto& r : d->repositories) {
    if (r.name == repo) return &r;
  }
  return nullptr;
}

std::vector<const config::RepositoryConfig*> Topology::resolution_order(std::string_view domain_name,
                                                                        std::string_view repo) const {
  std::vector<const config::RepositoryConfig*> out;
  std::set<std::string_view> seen;
  std::function<void(std::string_view)> visit = [&](std::string_view name) {
    auto* r = repository(domain_name, name);
    if (!r || !seen.insert(r->name).second) return;
    out.push_back(r);
    for (auto& u : r->upstreams) visit(u);
  };
  visit(repo);
  return out;
}

const config::ExternalConnectionConfig* Topology::external_connection(
    const config::RepositoryConfig& repo) const {
  if (repo.external_connection.empty()) return nullptr;
  auto& connections = current().external_connections;
  auto it = connections.find(repo.external_connection);
  return it == connections.end() ? nullptr : &it->second;
}

}  // namespace arca::repo
