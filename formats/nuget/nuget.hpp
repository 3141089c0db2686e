#pragma once
// The NuGet V3 protocol as pure functions: package ids, NuGet versions (parse, normalize,
// compare, SemVer 2.0 detection), the .nuspec read from a .nupkg (libarchive + pugixml), our
// stored form of a version's metadata (the registration "catalogEntry" fields), the V3
// documents arca serves (service index, flat container index, registration index/page/leaf,
// search and autocomplete results) and the upstream V3 documents it reads.
// No sockets, no storage. Untrusted JSON is read with find()/is_*() (STYLE.md §24); nothing
// here throws on bad input: it returns an Error. Serialize documents with
// dump(-1, ' ', false, json::error_handler_t::replace).
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::nuget {

using json = nlohmann::json;

// --- Query strings ---

struct QueryParam {
  std::string key;    // decoded
  std::string value;  // decoded; empty when absent ("a" in "a&b=1")
};
// Splits a raw query string on '&' and '=' (an optional leading '?' is skipped) and decodes each
// part with Boost.URL: %XX escapes, '+' as a space (form encoding, as NuGet clients send).
// Errors (invalid_argument): a '%' not followed by two hexadecimal digits.
[[nodiscard]] Result<std::vector<QueryParam>> parse_query_string(std::string_view raw);

// --- Ids ---

// NuGet's id rule: letters, digits, '_' , with single '.', '-' or '_' between runs; at most 100
// characters (PackageIdValidator). Rules out traversal ("..", "/", "\").
bool valid_id(std::string_view id);
std::string lower(std::string_view s);  // ASCII lower case (ids are compared this way)

// --- Versions ---

struct Version {
  std::vector<uint64_t> numbers;     // 3 or 4 parts (1.0 is read as 1.0.0)
  std::vector<std::string> release;  // pre-release labels, split on '.'
  std::string metadata;              // build metadata after '+', without it
  std::string original;              // as given
};

// Parses a NuGet version: 1 to 4 numeric parts, an optional "-label(.label)*" (alphanumerics
// and '-'), an optional "+metadata". Errors (invalid_argument): anything else, numbers with
// more than 9 digits, empty labels, numeric labels with leading zeros.
[[nodiscard]] Result<Version> parse_version(std::string_view text);
// The normalized form: three parts (a fourth only when non-zero), leading zeros dropped,
// labels kept, metadata dropped ("1.0" -> "1.0.0", "1.02.3.0-Beta+x" -> "1.2.3-Beta").
std::string normalize(const Version& v);
[[nodiscard]] Result<std::string> normalize_version(std::string_view text);
// SemVer order; labels compare case-insensitively (NuGet's VersionComparer.Default).
int compare(const Version& a, const Version& b);
bool is_prerelease(const Version& v);
// SemVer 2.0: a label with a dot (more than one label) or build metadata.
bool is_semver2(const Version& v);
// Whether a version range or version (e.g. from a dependency) uses SemVer 2.0 labels.
bool range_is_semver2(std::string_view range);

// --- Nuspec ---

struct Dependency {
  std::string id;
  std::string range;  // as in the nuspec ("1.0", "[1.0,2.0)"); empty: any
};
struct DependencyGroup {
  std::string target_framework;  // empty: every framework
  std::vector<Dependency> dependencies;
};

struct Nuspec {
  std::string id;
  std::string version;  // as written
  std::string title, description, summary, release_notes, authors, owners, tags, copyright,
      language, project_url, license_url, icon_url, min_client_version, license_expression;
  bool require_license_acceptance = false;
  std::vector<DependencyGroup> dependency_groups;
  // <packageTypes><packageType name= version=/>: empty means the default, "Dependency".
  std::vector<std::pair<std::string, std::string>> package_types;
};

// Parses a .nuspec (any namespace version). Errors (invalid_argument): not XML, no
// <package><metadata>, no id or version.
[[nodiscard]] Result<Nuspec> parse_nuspec(std::string_view xml);

struct NupkgInfo {
  Nuspec nuspec;
  std::string nuspec_xml;
};
// Finds the one .nuspec at the root of a .nupkg (a zip, read with libarchive) and parses it.
// Errors (invalid_argument): not a zip, no .nuspec at the root, more than one, one larger
// than max_nuspec_bytes, or one that parse_nuspec refuses.
[[nodiscard]] Result<NupkgInfo> read_nupkg(std::string_view bytes,
                                           uint64_t max_nuspec_bytes = 1024 * 1024);
// Only the .nuspec text of a .nupkg (same rules).
[[nodiscard]] Result<std::string> nuspec_of(std::string_view bytes,
                                            uint64_t max_nuspec_bytes = 1024 * 1024);

// --- Our stored form of a version ("manifest" of a version record) ---
//
// The registration catalogEntry fields, without URLs: id (original case), version
// (normalized, original case), originalVersion, authors, description, summary, title, tags
// (array), projectUrl, licenseUrl, iconUrl, licenseExpression, copyright, language,
// minClientVersion, releaseNotes, requireLicenseAcceptance, dependencyGroups
// ([{targetFramework, dependencies: [{id, range}]}]), isSemVer2, packageTypes ([{name,
// version?}], only when the nuspec declares them); and, for versions from an
// upstream, packageHash / packageHashAlgorithm / published when it declared them.

json manifest_of(const Nuspec& nuspec, const Version& version);
// Our form of an upstream catalogEntry (registration leaf). Errors (upstream_error): no id or
// an invalid version.
[[nodiscard]] Result<json> manifest_from_catalog(const json& catalog_entry);

// A version as the documents show it.
struct Entry {
  json manifest;  // as above
  bool listed = true;
  std::string published;      // ISO 8601; unlisted versions show 1900-01-01T00:00:00+00:00
  std::string lower_version;  // lower-case normalized version (URL form)
};
// Entries of one id, ascending by version (order of parse_version/compare).
void sort_entries(std::vector<Entry>& entries);

// --- Documents arca serves ---

// `base` is the repository's V3 root, ending in "/v3/".
json service_index(std::string_view base);
// {"versions": [lower-case normalized, ascending]}.
json flat_index(std::span<const Entry> entries);

struct RegistrationUrls {
  std::string hive;  // e.g. ".../v3/registration-gz-semver2/" (ends in '/')
  std::string flat;  // ".../v3/flatcontainer/"
};
constexpr size_t k_page_size = 64;  // versions per registration page
// Up to this many versions, pages are inlined: nuget.org's heuristic is "128 or more versions
// are pages of 64" (registration-base-url-resource, "Registration pages and leaves").
constexpr size_t k_inline_max = 127;

// The registration index: pages of k_page_size, inlined when there are at most k_inline_max
// versions, else referenced with lower/upper (their @id is registration_page_url()).
json registration_index(const RegistrationUrls& urls, std::string_view lower_id,
                        std::span<const Entry> entries);
// Page `index` (0-based) with its items; nullopt when out of range.
std::optional<json> registration_page(const RegistrationUrls& urls, std::string_view lower_id,
                                      std::span<const Entry> entries, size_t index);
std::string registration_page_url(const RegistrationUrls& urls, std::string_view lower_id,
                                  std::string_view lower, std::string_view upper);
json registration_leaf(const RegistrationUrls& urls, std::string_view lower_id, const Entry& e);

struct SearchQuery {
  std::string q;
  uint64_t skip = 0;
  uint64_t take = 20;  // at most 1000
  bool prerelease = false;
  bool semver2 = false;      // semVerLevel=2.0.0
  std::string id;            // autocomplete: versions of this id
  std::string package_type;  // SearchQueryService/3.5.0 packageType; empty: any
  bool ids_only = false;     // autocomplete: q is compared with ids only
};
// Parses the raw query string of SearchQueryService / SearchAutocompleteService requests.
// Errors (invalid_argument): non-numeric or negative skip/take, bad percent-encoding.
[[nodiscard]] Result<SearchQuery> parse_search_query(std::string_view raw_query);

struct PackageVersions {
  std::string lower_id;
  std::vector<Entry> entries;  // ascending
};
// Applies q (terms matched against id, title, description, tags, authors; "id:x" and
// "packageid:x" match the id; with ids_only, the id alone), prerelease and semver2 filters
// (unlisted versions never show), packageType (case-insensitive, against the latest visible
// version's package types; none declared is "Dependency"), orders by id and pages. Packages with no
// visible version are left out. `total` receives the count before paging.
std::vector<PackageVersions> search(const SearchQuery& query, std::span<const PackageVersions> all,
                                    uint64_t* total);
// {"totalHits", "data": [{"@id", "@type": "Package", "registration", "id", "version", ...,
// "versions": [{"version", "downloads", "@id"}]}]}
json search_results(const RegistrationUrls& urls, std::span<const PackageVersions> page,
                    uint64_t total);
// {"totalHits", "data": ["Id", ...]} or, with query.id, the versions of that id.
json autocomplete_results(const SearchQuery& query, std::span<const PackageVersions> page,
                          uint64_t total);

// A NuGet V3 error body for our own errors ({"message": ...}), plain text being what NuGet
// clients show, so handlers send text/plain; this is the JSON variant for search endpoints.
std::string error_text(std::string_view message);

// --- Upstream V3 documents ---

struct ServiceResources {
  std::string package_base_address;    // ends in '/', empty if absent
  std::string registrations_base_url;  // the SemVer 2.0 gzip variant when present
  bool registrations_gzip = false;
};
[[nodiscard]] Result<ServiceResources> parse_service_index(std::string_view body,
                                                           std::string_view index_url);

struct UpstreamLeaf {
  json manifest;  // manifest_from_catalog
  std::string lower_version;
  bool listed = true;
  std::string published;
  std::string package_content;  // URL, may be empty
  std::string package_hash;     // base64, SHA-512 only (empty when not declared)
};
struct UpstreamRegistration {
  std::vector<UpstreamLeaf> leaves;
  std::vector<std::string> page_urls;  // pages whose items were not inlined
};
// A registration index or page (leaves whose catalogEntry is not an object are skipped).
// Errors (upstream_error): not JSON, no items array.
[[nodiscard]] Result<UpstreamRegistration> parse_registration(std::string_view body);
// {"versions": [...]}: normalized lower-case versions (invalid ones skipped).
[[nodiscard]] Result<std::vector<std::string>> parse_flat_index(std::string_view body);

}  // namespace arca::formats::nuget
