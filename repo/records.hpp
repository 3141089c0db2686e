#pragma once
// What repositories hold: typed records in the store's index space (packages, versions,
// assets), shared by the data plane and the control plane.
//
// Index keys (fields joined by '\x1f', which no valid name contains):
//   pk <domain> <repo> <format> <namespace> <name>            -> PackageRecord (JSON)
//   pv <domain> <repo> <format> <namespace> <name> <version>  -> VersionRecord (JSON)
//   as <domain> <repo> <format> <namespace> <name> <asset>    -> AssetRecord (JSON)
// npm: namespace is the scope without '@' (empty when unscoped).
//
// Thread-safety: plain value types and free functions. The find/list functions call the store
// and may block: call them off the I/O threads.

#include "cache/store.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::repo {

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

// Where a version first entered the domain (CodeArtifact's origin.domainEntryPoint): the
// repository it was published to, or the external connection it was ingested from. Both empty
// for records written before arca kept it (the control plane then derives it).
struct EntryPoint {
  std::string repository;
  std::string external_connection;
  bool empty() const { return repository.empty() && external_connection.empty(); }
};

struct VersionRecord {
  std::string version;
  std::string status = "Published";  // Published, Unfinished, Unlisted, Archived, Disposed
  std::string origin = "INTERNAL";   // INTERNAL (published) or EXTERNAL (ingested)
  EntryPoint entry;
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

}  // namespace arca::repo
