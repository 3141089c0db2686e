#pragma once
// The NuGet V2 protocol (OData v2 over Atom XML) as pure functions: the service document,
// $metadata, query options ($filter, $orderby, $skip, $top, searchTerm, targetFramework,
// includePrerelease, id for FindPackagesById), applying them to a set of package versions,
// and rendering Atom feeds and entries the way NuGet.Server and nuget.org did, which is what
// the NuGet 2.x client (Debian's `nuget` 2.8.7) parses.
// No sockets, no storage. Nothing here throws on bad input: it returns an Error.
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::nuget::v2 {

// One version of a package as the V2 feed shows it. The handler fills it from the nuspec (or
// from an upstream's registration data) and from what the store knows about the nupkg.
struct Package {
  std::string id;                // as published (original case)
  std::string version;           // normalized (1.0 -> 1.0.0), without build metadata
  std::string original_version;  // as in the nuspec; empty = same as version
  std::string title;
  std::string description;
  std::string summary;
  std::string release_notes;
  std::string authors;  // comma-separated
  std::string owners;
  std::string tags;  // space-separated
  std::string project_url;
  std::string license_url;
  std::string icon_url;
  std::string copyright;
  std::string language;
  std::string min_client_version;
  // The V2 form: "id:range:targetFramework|id:range:targetFramework" (range and framework may
  // be empty, e.g. "Foo:[1.0.0, ):net45|Bar::").
  std::string dependencies;
  bool require_license_acceptance = false;
  bool listed = true;
  bool is_prerelease = false;  // the version has a pre-release label
  bool is_semver2 = false;     // pre-release label with dots, or build metadata in the original
  // Filled by apply() over the set it is given (computed per id over listed versions):
  bool is_latest_version = false;           // highest stable listed version of the id
  bool is_absolute_latest_version = false;  // highest listed version, pre-releases included
  uint64_t package_size = 0;
  std::string package_hash;  // base64 SHA-512 of the nupkg
  std::string package_hash_algorithm = "SHA512";
  std::string created;  // ISO 8601 UTC, e.g. 2026-11-23T07:00:00Z
  std::string published;  // ISO 8601; unlisted packages show 1900-01-01T00:00:00Z as NuGet does
  std::string last_updated;
  uint64_t download_count = 0;
};

// What a request asks for. parse_query() reads the decoded query string of Packages(),
// Search() and FindPackagesById() requests.
struct Query {
  std::string filter;   // raw $filter expression (empty: none)
  std::string orderby;  // raw $orderby (empty: by Id, then version)
  std::string search_term;  // Search(): searchTerm without its quotes
  std::string target_framework;
  bool include_prerelease = true;  // Search() defaults to false when the parameter is given
  // includePrerelease was in the query: without it, Search() should set include_prerelease to
  // false (NuGet.Server's default), Packages() and FindPackagesById() leave it true.
  bool include_prerelease_given = false;
  std::optional<std::string> id;   // FindPackagesById(): id without its quotes
  uint64_t skip = 0;
  uint64_t top = 100;  // at most 100 per page; more pages through the feed's next link
  bool semver2 = false;  // semVerLevel=2.0.0 given: SemVer 2.0 packages are shown
  bool count = false;    // a $count / $inlinecount request
};

// Parses a raw (percent-encoded) query string. Errors (invalid_argument, message suitable for
// the client): unparsable $skip/$top, a $filter or $orderby this module does not understand.
[[nodiscard]] Result<Query> parse_query(std::string_view raw_query);

// Selects, orders and pages: computes is_latest_version / is_absolute_latest_version per id
// over `all` (listed versions only), then applies id (case-insensitive), searchTerm (over id,
// title, description, tags, case-insensitive), includePrerelease, semver2 hiding, unlisted
// hiding (unlisted versions are shown only to Packages(Id=,Version=) and FindPackagesById),
// $filter (at least: IsLatestVersion, IsAbsoluteLatestVersion, tolower(Id) eq 'x',
// Id eq 'x', Version eq 'v', IsPrerelease eq false, and/or/not, parentheses), $orderby (Id,
// Version, Published, LastUpdated, DownloadCount, with desc/asc, several keys), then skip/top.
// `total` (optional) receives the count before paging.
[[nodiscard]] Result<std::vector<Package>> apply(const Query& query, std::span<const Package> all,
                                                 uint64_t* total = nullptr);

// The Atom feed for a collection (title is "Packages", "Search" or "FindPackagesById").
// `base` is the feed root, ending in "/api/v2/"; `self` the request's path relative to it
// (e.g. "Packages"); `next` the relative URL of the next page, or empty when this is the last.
// Each entry's content src is base + "package/<id>/<version>".
std::string render_feed(std::string_view base, std::string_view title, std::string_view self,
                        std::span<const Package> packages, std::string_view next,
                        std::optional<uint64_t> inline_count = std::nullopt);

// One entry as a document of its own (Packages(Id='X',Version='V')).
std::string render_entry(std::string_view base, const Package& package);

// GET <base>: the AtomPub service document naming the Packages collection.
std::string service_document(std::string_view base);

// GET <base>$metadata: the EDMX describing V2FeedPackage, Packages, Search and
// FindPackagesById, as NuGet.Server publishes it.
std::string metadata_document();

// An OData error body (<m:error><m:code/><m:message xml:lang="en-US"/></m:error>).
std::string error_document(std::string_view code, std::string_view message);

// Parses "Packages(Id='X',Version='V')" key segments (after "Packages"). Errors
// (invalid_argument): anything but Id and Version string literals.
struct EntryKey {
  std::string id;
  std::string version;
};
[[nodiscard]] Result<EntryKey> parse_entry_key(std::string_view segment);

}  // namespace arca::formats::nuget::v2
