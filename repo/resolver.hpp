#pragma once
// The resolver's store side: the walk through a repository and its upstreams (depth-first, in
// order; CodeArtifact user guide, "Upstream repository priority order") under origin controls,
// shared by every format. What an upstream repository holds is reachable only when the package's
// INTERNAL_UPSTREAM control allows the asking repository; the asking repository's own content
// always is.
//
// Thread-safety: free functions; find_stored_asset blocks on the store (call it on the
// blocking pool).

#include "cache/store.hpp"
#include "config/config.hpp"
#include "repo/origin.hpp"
#include "repo/records.hpp"
#include "repo/topology.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::repo {

using RepositoryList = std::vector<const config::RepositoryConfig*>;

// The repositories of `order` (a resolution order starting with the asking repository) whose
// stored content the asking repository may take under `policy`.
RepositoryList reachable(const RepositoryList& order, const OriginPolicy& policy);

// What a format's merged view for `repo` may take in, for each repository of `order` (its
// resolution order, `repo` first), under `policy`: the repository's stored versions
// (`reachable`: `repo`'s own always, an upstream's when INTERNAL_UPSTREAM allows `repo`) and the
// versions of the external connection in `format` it owns (`connection_open`: when reachable
// and EXTERNAL_UPSTREAM allows the owner). Already stored versions stay listed whatever the
// controls say. `blocked` tells people why something is left out ("from X into Y, blocked by
// <package group>; ...").
struct ViewAccess {
  std::vector<char> reachable;
  std::vector<char> connection_open;
  std::string blocked;
};
ViewAccess view_access(const Topology& topology, std::string_view format,
                       const config::RepositoryConfig& repo, const RepositoryList& order,
                       const OriginPolicy& policy);

// A stored asset found by the walk.
struct StoredAsset {
  const config::RepositoryConfig* holder = nullptr;  // the first reachable repository holding it
  AssetRecord asset;
  cache::BlobRecord blob;
};

struct StoredLookup {
  std::optional<StoredAsset> found;
  // The version's status when the first repository holding the version has it Archived or
  // Disposed (not downloadable, and never fetched again); empty otherwise.
  std::string unavailable_status;
};

// Looks up asset `asset` of `version` of package `key` (key.repo ignored) in the repositories
// of `order` that are reachable under `policy`, first holder wins. An asset record naming a
// blob that is missing is logged and skipped. Blocking: a few point reads per repository.
[[nodiscard]] Result<StoredLookup> find_stored_asset(cache::Store& store, const RepositoryList& order,
                                                     const OriginPolicy& policy, PackageKey key,
                                                     std::string_view asset,
                                                     std::string_view version);

// Where a version in a format's merged view comes from: `repo`'s own content (connection null),
// or the external connection `repo` owns.
struct Source {
  const config::RepositoryConfig* repo = nullptr;
  const config::ExternalConnectionConfig* connection = nullptr;
};

// CodeArtifact refuses to publish a version into a repository that already gets it from an
// upstream repository or its external connection (user guide, "Private packages and public
// repositories": 409). Origin controls decide what a merged view takes in, so a package whose
// upstream control is BLOCK has no such source and any version not stored may be published.
// Returns the 409's message, "Conflict: <what> is available from <source>; it cannot be <verb>
// to <requester>", or nullopt when the version comes from `requester`'s own content.
std::optional<std::string> publish_conflict(const Source& source, std::string_view requester,
                                            std::string_view what, std::string_view verb);

// The entry point of a version held by `holder` whose record predates entry points: the
// external connection for ingested versions of a repository owning one, else the repository.
EntryPoint derived_entry(const config::RepositoryConfig& holder, const VersionRecord& version);

}  // namespace arca::repo
