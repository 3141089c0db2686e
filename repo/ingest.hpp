#pragma once
// Ingest: the one place where a version arriving in a repository from outside it is recorded,
// for every format. A version arrives either from an external connection (fetched from a
// public registry or a CodeArtifact repository) or from an upstream repository (served to a
// downstream repository, which then retains it).
//
// Retention as CodeArtifact does it (user guide, "Working with upstream repositories":
// retention): a version served through repository R is retained in R; when it came from an
// external connection it is also kept in the repository owning that connection; repositories in
// between keep nothing. A retained version stays listed and downloadable in R after the upstream
// is removed, deleted or changes the version. Its origin (originType, domainEntryPoint) stays
// what it was when it first entered the domain.
//
// Every function here blocks on the store: call them on the blocking pool (AssetService's
// on_commit runs there).

#include "cache/store.hpp"
#include "repo/records.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::repo {

// One asset of one version arriving from an external connection.
struct IngestedAsset {
  PackageKey package;  // package.repo is ignored: see `repositories` below
  std::string version;
  std::string asset;  // the asset's file name
  AssetRecord asset_record;
  cache::BlobRecord blob;  // the stored bytes (their digests), for `shape`
  EntryPoint entry;   // the external connection it came through
  std::string upstream_time;  // the upstream's publish time, when it says (ISO 8601)
  // Records the asset alone, in no version record (PyPI's .metadata files).
  bool asset_only = false;
  // Format-specific part of the version record (npm's manifest, PyPI's file list). Called with
  // the repository's stored record, or a new one with version, status, origin, entry and time
  // set; the asset itself is added afterwards. Optional.
  std::function<void(VersionRecord&, const cache::BlobRecord&)> shape;
};

// The repositories that retain a version served through `requester` from `source`, the
// repository holding it or owning the external connection it comes from: the requester, and
// the source when `external` (the repository owning the connection keeps what it ingests).
// Each once, the source first.
std::vector<std::string> retaining_repositories(std::string_view requester,
                                                std::string_view source, bool external);

// Records `arrival` in each of `repositories` as part of `batch`: the asset record, the version
// record (the stored one gains the asset; otherwise a new one, origin EXTERNAL), the package
// record when there is none, and the automatic origin configuration of an ingested first
// version (publish=BLOCK, upstream=ALLOW).
[[nodiscard]] Result<void> record_arrival(cache::Store& store, cache::Batch& batch,
                                          const IngestedAsset& arrival,
                                          const std::vector<std::string>& repositories);

// Retention from an upstream repository: copies `version` of package `from` (its version record
// and the asset records it lists) into repository `to` with the automatic origin configuration
// of an ingested first version, unless `to` already holds that version or `from` does not.
// The copy keeps the version's status, origin and entry point; records written before entry
// points were kept get one derived from `from` (its external connection `from_connection` for
// ingested versions, else the repository itself). Commits its own batch; returns whether it
// wrote.
[[nodiscard]] Result<bool> retain(cache::Store& store, const PackageKey& from, std::string_view to,
                                  std::string_view version, std::string_view from_connection);

}  // namespace arca::repo
