#pragma once
// Repositories and what they hold: the domain/repository topology (from the config) and typed
// records in the store's index space (packages, versions, assets).
//
// Index keys (fields joined by '\x1f', which no valid name contains):
//   pk <domain> <repo> <format> <namespace> <name>            -> PackageRecord (JSON)
//   pv <domain> <repo> <format> <namespace> <name> <version>  -> VersionRecord (JSON)
//   as <domain> <repo> <format> <namespace> <name> <asset>    -> AssetRecord (JSON)
// npm: namespace is the scope without '@' (empty when unscoped).
//
// Thread-safety: Topology is immutable after construction. The record functions call the
// store and may block: call them off the I/O threads (or accept a short block for point reads).

#include "cache/store.hpp"
#include "config/config.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::proxy {

// Domains, repositories and external connections. Reads see an immutable snapshot; the
// control plane changes the topology by publishing a new snapshot (update()). Old snapshots
// are kept for the life of the process, so the pointers returned here never dangle (topology
// changes are rare: each costs a copy of a few KB).
//
// Thread-safety: all methods are safe from any thread.
class Topology {
 public:
  struct Snapshot {
    std::vector<config::DomainConfig> domains;
    std::map<std::string, config::ExternalConnectionConfig> external_connections;
  };

  explicit Topology(const config::Config& config);

  const config::DomainConfig* domain(std::string_view name) const;
  const config::RepositoryConfig* repository(std::string_view domain, std::string_view repo) const;
  // The repository, then its upstreams depth-first in listed order, each once.
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

struct PackageKey {
  std::string domain;
  std::string repo;
  std::string format;
  std::string ns;
  std::string name;
};

struct AssetRecord {
  std::string version;
  std::string sha256_hex;
  uint64_t size = 0;
};

struct VersionRecord {
  std::string version;
  std::string status = "Published";  // Published, Unfinished, Unlisted, Archived, Disposed
  std::string origin = "INTERNAL";   // INTERNAL (published) or EXTERNAL (ingested)
  int64_t published_unix_ms = 0;
  // For versions ingested from an external connection: the upstream's publish time (its
  // packument "time" entry, ISO 8601), which package managers see instead of ours.
  std::string upstream_time;
  std::string manifest;  // format-specific JSON text (npm: the version's package.json + dist)
  std::vector<std::pair<std::string, AssetRecord>> assets;  // asset name -> record
};

struct PackageRecord {
  nlohmann::json dist_tags = nlohmann::json::object();
  int64_t created_unix_ms = 0;
};

std::string package_key(const PackageKey& k);
std::string version_key(const PackageKey& k, std::string_view version);
std::string version_prefix(const PackageKey& k);
std::string asset_key(const PackageKey& k, std::string_view asset);

std::string encode(const VersionRecord& r);
std::optional<VersionRecord> decode_version(std::string_view s);
std::string encode(const AssetRecord& r);
std::optional<AssetRecord> decode_asset(std::string_view s);
std::string encode(const PackageRecord& r);
std::optional<PackageRecord> decode_package(std::string_view s);

[[nodiscard]] Result<std::optional<AssetRecord>> find_asset(cache::Store& store, const PackageKey& k,
                                                            std::string_view asset);
// The stored blob of a package's asset, when both the asset record and its blob exist (read
// errors count as absent). For FillSpec::find_stored: a fill that raced another's commit serves
// the stored bytes instead of fetching them again.
std::optional<cache::BlobRecord> stored_asset_blob(cache::Store& store, const PackageKey& k,
                                                   std::string_view asset);
[[nodiscard]] Result<std::optional<VersionRecord>> find_version(cache::Store& store,
                                                                const PackageKey& k,
                                                                std::string_view version);
[[nodiscard]] Result<std::vector<VersionRecord>> list_versions(cache::Store& store,
                                                               const PackageKey& k);
[[nodiscard]] Result<std::optional<PackageRecord>> find_package(cache::Store& store,
                                                                const PackageKey& k);

int64_t now_unix_ms();
// "2024-01-02T03:04:05.678Z"
std::string iso8601(int64_t unix_ms);

}  // namespace arca::proxy
