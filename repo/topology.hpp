#pragma once
// Domains, repositories and external connections: the topology both planes resolve through.
// Starts from the config file; the control plane changes it by publishing a new snapshot.
//
// Thread-safety: all methods are safe from any thread. Old snapshots are kept for the life of
// the process, so the pointers returned here never dangle (topology changes are rare: each
// costs a copy of a few KB).

#include "common/error.hpp"
#include "config/config.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace arca::repo {

class Topology {
 public:
  struct Snapshot {
    std::vector<config::DomainConfig> domains;
    std::map<std::string, config::ExternalConnectionConfig> external_connections;
  };

  explicit Topology(const config::Config& config);

  const config::DomainConfig* domain(std::string_view name) const;
  const config::RepositoryConfig* repository(std::string_view domain, std::string_view repo) const;
  // The repository, then its upstreams depth-first in listed order, each once (CodeArtifact
  // user guide, "Upstream repository priority order").
  std::vector<const config::RepositoryConfig*> resolution_order(std::string_view domain,
                                                                std::string_view repo) const;
  const config::ExternalConnectionConfig* external_connection(
      const config::RepositoryConfig& repo) const;

  // The current snapshot (valid for the life of the Topology).
  const Snapshot& current() const { return *current_.load(); }
  // Applies `change` to a copy of the current snapshot and makes the copy current. Changes are
  // serialized; `change` returning an error leaves the topology as it was.
  template <class F>
  Result<void> update(F&& change) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<Snapshot>(*current_.load());
    Result<void> r = change(*next);
    if (!r) return r;
    current_.store(next.get());
    history_.push_back(std::move(next));
    return r;
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<const Snapshot>> history_;
  std::atomic<const Snapshot*> current_{nullptr};
};

}  // namespace arca::repo
