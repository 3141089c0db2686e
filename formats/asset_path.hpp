#pragma once
// The data plane's one way to serve an asset, for every format:
//   - stored: the resolver's walk (repo/resolver.hpp) on the blocking pool; when an upstream
//     repository held it, the asking repository retains the version afterwards;
//   - missing: filled from an external connection through AssetService's single flight, then
//     ingested (repo/ingest.hpp): recorded in the repository owning the connection and in the
//     asking repository, never in repositories between them.
// Either way the package's generation moves when something was recorded, so only documents
// about that package are rebuilt (repo/generations.hpp).
// Handlers render failures in their protocol's own form; these functions only serve successes.
//
// Thread-safety: safe from any coroutine. Arguments are taken by value (they cross co_await);
// `policy` and `requester` must outlive the call (the caller's frame owns them).

#include "net/assets.hpp"
#include "formats/context.hpp"
#include "net/http.hpp"
#include "repo/ingest.hpp"
#include "repo/resolver.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace arca::formats {

// The origin policy of a package with the package-level configurations of `requester` and
// every repository it resolves through read on the blocking pool, so that asking the policy
// about them on an I/O thread costs no store read.
boost::asio::awaitable<repo::OriginPolicy> load_policy(Context& ctx,
                                                       const config::DomainConfig& domain,
                                                       const config::RepositoryConfig& requester,
                                                       std::string format, std::string ns,
                                                       std::string name);

// Looks the asset up (on the blocking pool). `version` empty: no status check.
boost::asio::awaitable<Result<repo::StoredLookup>> locate_stored(Context& ctx,
                                                                 repo::RepositoryList order,
                                                                 const repo::OriginPolicy& policy,
                                                                 repo::PackageKey key,
                                                                 std::string asset,
                                                                 std::string version);

// Serves a located asset with `headers`, then retains its version (the asset record's, else
// `version`) in `requester` when another repository held it. `key.repo` is ignored.
boost::asio::awaitable<void> serve_located(Context& ctx, net::Exchange& exchange,
                                           const config::RepositoryConfig& requester,
                                           repo::StoredAsset stored, repo::PackageKey key,
                                           std::string version, net::Headers headers);

// Fills the asset from `owner`'s external connection and ingests it. Prereq: spec.key,
// spec.request and the declared digests are set; `arrival` describes the asset (its
// asset_record and entry point are filled in here). An asset URL whose host the connection
// may not send arca to (its own host and port, its `allowed_hosts`) is refused before any
// connection is made: an error is returned and nothing is sent, for the caller to answer in
// its protocol's form.
boost::asio::awaitable<Result<void>> fill_and_ingest(Context& ctx, net::Exchange& exchange, net::FillSpec spec,
                                             repo::IngestedAsset arrival,
                                             const config::RepositoryConfig& owner,
                                             const config::RepositoryConfig& requester,
                                             net::Headers headers);

}  // namespace arca::formats
