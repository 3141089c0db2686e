#pragma once
// The npm registry protocol as pure functions: names, versions, tarball file names, packument
// merging and rewriting, the abbreviated ("corgi") form, publish bodies and error bodies.
// No sockets, no storage. Untrusted JSON is read with find()/is_*() (STYLE.md §24); nothing
// here throws on bad input: it returns an Error.
// Serializing: documents parsed here hold valid UTF-8 (the parser rejects anything else), but
// callers that put their own strings into a json (URLs, names from requests) should serialize
// with dump(-1, ' ', false, json::error_handler_t::replace), since plain dump() throws on
// invalid UTF-8.
// Thread-safety: free functions over values.

#include "common/digest.hpp"
#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::npm {

using json = nlohmann::json;

struct PackageName {
  std::string scope;  // without '@'; empty when unscoped
  std::string name;   // the part after the scope
  std::string full() const { return scope.empty() ? name : "@" + scope + "/" + name; }
};

// Validates a package name as npm's registry does (validate-npm-package-name "old" rules: at
// most 214 characters, URL-safe characters only, no leading '.' or '_', no "..", no control
// characters or spaces, "@scope/name" for scoped). Upper case is accepted for reading (old
// packages have it). Accepts "@scope/name" only (callers decode %2f/%2F first).
// Details: the characters allowed are the ones encodeURIComponent leaves alone,
// A-Z a-z 0-9 - _ . ! ~ * ' ( ), so '%', '@' (other than the scope's), a second '/', spaces,
// controls and non-ASCII are refused; an unscoped name may not start with '.' or '_' nor be
// node_modules / favicon.ico (any case); in a scoped name neither part may be empty or start
// with '.' (a leading '_' is fine there, as in npm). Node core module names are accepted (old
// packages such as "events" exist). Errors are invalid_argument.
[[nodiscard]] Result<PackageName> parse_package_name(std::string_view full);

// The name as it appears in a registry URL path: "@scope%2fname" for scoped packages (as
// npm-package-arg's escapedName), the plain name otherwise.
std::string escaped_name(const PackageName& name);

// A version string we are willing to store and put in a URL: 1..256 chars, no '/', '\\',
// whitespace, control characters, and not "." or "..". Also refused, so that the string can go
// into a URL path unescaped: '%', '?', '#' and non-ASCII bytes (semver never has them).
bool valid_version(std::string_view version);

// "<name>-<version>.tgz" with the unscoped name.
std::string tarball_filename(const PackageName& name, std::string_view version);
// Inverse of tarball_filename; nullopt if `file` does not have that shape or the version part
// is not valid_version. Unambiguous even when name and version contain '-', since the name is
// known.
std::optional<std::string> version_from_tarball_filename(const PackageName& name,
                                                         std::string_view file);
// `base` + full name + "/-/" + tarball_filename, e.g. base + "@scope/name/-/name-1.0.0.tgz".
// `base` ends with '/'.
std::string tarball_url(std::string_view base, const PackageName& name, std::string_view version);

// What a version manifest declares about its tarball.
struct Dist {
  std::string tarball;           // upstream URL
  std::optional<Sha512> sha512;  // from dist.integrity (the sha512 entry of an SRI list)
  std::optional<Sha1> sha1;      // from dist.shasum
};
// nullopt when the manifest has no dist.tarball string. integrity may list several
// space-separated hashes ("sha1-... sha512-..."); the first sha512 entry that decodes to 64
// bytes is used (SRI "?options" suffixes are ignored). Malformed digests are left unset.
std::optional<Dist> dist_of(const json& version_manifest);

// Parses untrusted JSON that must be an object. Invalid JSON, a non-object, or nesting deeper
// than 256 levels (which would overflow the stack in nlohmann's recursive dump and copy) is an
// Error with `code`.
[[nodiscard]] Result<json> parse_json_object(std::string_view body, Errc code);

// Parses an upstream packument; invalid JSON or a non-object, or a missing/invalid "versions"
// object, is upstream_error. Versions whose key is not valid_version are dropped.
// Details: so are versions whose manifest is not an object, and dist-tags whose value is not a
// string; a "dist-tags" or "time" that is not an object is replaced by {}.
[[nodiscard]] Result<json> parse_packument(std::string_view body);

// Merges packuments in priority order: a version present in an earlier source wins; each
// dist-tag comes from the first source that has it, but only if that version is in the merge;
// "time" entries follow the versions kept; "latest" falls back to the highest version by semver
// precedence if no source's latest is kept. Top-level fields (description, readme, ...) come
// from the first source. `sources` may be empty: result is an empty-versions document for name.
// Details: null pointers and non-object sources are skipped; a dist-tag whose version is not
// kept falls through to the next source that has the tag; the "latest" fallback prefers the
// highest release (no pre-release part), then the highest pre-release, then non-semver
// versions. "time": each kept version's entry comes from the source that supplied the version
// (else from any source that has it); "created" and "modified" come from the first source
// having each. Each other top-level field comes from the first source having it, except
// "_attachments", which is dropped. "_id" and "name" are name.full(). Cost: O(total versions *
// log) plus one copy of each kept manifest.
json merge_packuments(const PackageName& name, const std::vector<const json*>& sources);

// Points every versions[v].dist.tarball at `base` + full name + "/-/" + tarball_filename.
// `base` ends with '/', e.g. "http://127.0.0.1:5080/local/npm/main/". The name is the document's
// "name" (else "_id"); if neither parses, nothing is changed. Only versions whose key is
// valid_version and whose dist is an object are touched.
void rewrite_tarball_urls(json& packument, std::string_view base);
// The same with the name given.
void rewrite_tarball_urls(json& packument, const PackageName& name, std::string_view base);

// The abbreviated metadata form (Accept: application/vnd.npm.install-v1+json): name,
// modified, dist-tags, and per version only the fields installers use (name, version, deps of
// every kind, bin, directories, dist, engines, os, cpu, deprecated, _hasShrinkwrap,
// hasInstallScript, funding, license, peerDependenciesMeta, acceptDependencies,
// bundleDependencies).
// Details: "bundledDependencies" (the other spelling) and "libc" (npm 10+ platform filter) are
// kept too; hasInstallScript is derived from scripts.preinstall/install/postinstall when the
// manifest does not carry it (as the registry does); "modified" is omitted if the full document
// has no time.modified string; non-object inputs and manifests are skipped.
json abbreviate(const json& full);

// semver precedence comparison (major.minor.patch, pre-release identifiers per semver 2.0.0
// §11); strings that are not semver compare after all semver ones, lexically.
// Returns exactly -1, 0 or 1. Build metadata is ignored ("1.0.0+a" == "1.0.0+b"). Loose like
// npm's semver: leading 'v' / '=' / spaces and leading zeros in numbers are accepted; numbers of
// any length compare correctly.
int compare_versions(std::string_view a, std::string_view b);
// True if `version` parses as (loose) semver and has a pre-release part.
bool is_prerelease(std::string_view version);

struct Attachment {
  // tarball_filename(name, version), e.g. "foo-1.0.0.tgz". npm keys a scoped package's
  // attachment "@scope/foo-1.0.0.tgz"; that is normalized to "foo-1.0.0.tgz" here.
  std::string filename;
  std::string data;     // decoded bytes
  std::string version;  // the version this tarball belongs to
};

struct PublishRequest {
  PackageName name;
  json versions;   // object: version -> manifest (as sent, with dist)
  json dist_tags;  // object: tag -> version
  std::vector<Attachment> attachments;
};

// Parses the body of `npm publish` (PUT /<name>). Errors (invalid_argument): invalid JSON, name
// in body differs from `url_name`, no versions, a version not valid_version, a version whose
// manifest name/version disagree with the document, an attachment that is not valid base64 or
// whose "length" disagrees with the decoded size, a version with no matching attachment, an
// attachment whose bytes do not match the version's dist.integrity/dist.shasum.
// Details: "_id", if present, must equal the name too. A body with no (or an empty)
// _attachments object is invalid_argument "no attachments" (see is_publish_body). Attachments
// not ending in ".tgz" (npm --provenance adds "<name>-<v>.sigstore", whose data is raw JSON, not
// base64) are ignored; a ".tgz" attachment that names no version of the body is an error. Both
// the sha512 entry of dist.integrity and dist.shasum are checked when present; a malformed one
// is an error; a version with neither is accepted (the caller hashes what it stores anyway).
// dist-tags may be absent ({}); its values must be strings that are valid_version. The result
// holds the decoded tarballs in memory (bodies are bounded by the caller's body limit).
[[nodiscard]] Result<PublishRequest> parse_publish(std::string_view body,
                                                   const PackageName& url_name);

// True if a parsed PUT /<name> body is a publish (has a non-empty "_attachments" object), as
// opposed to the full-packument PUT that `npm deprecate` / `npm unpublish <pkg>@<v>` send.
bool is_publish_body(const json& body);

// What a metadata-only PUT /<name> (no _attachments: `npm deprecate`, undeprecate with "")
// changes: version -> its new deprecation message (nullopt: no longer deprecated). Versions
// whose "deprecated" is unchanged are not listed.
struct MetadataUpdate {
  std::map<std::string, std::optional<std::string>> deprecations;
};

// Parses the body of a metadata-only PUT /<name> against `current`, the packument as this
// repository serves it (merged, tarball URLs not rewritten). The body is the whole edited
// packument (npm sends back what GET /<name>?write=true gave it). Only "deprecated" of existing
// versions may change; errors (invalid_argument) for invalid JSON, a name or _id other than the
// URL's, no "versions" object, a version that `current` does not list (publishing needs a
// tarball), a version of `current` missing from the body (unpublishing), a dist.integrity or
// dist.shasum differing from `current`'s, a "deprecated" that is not a string, or dist-tags
// differing from `current`'s. An empty "deprecated" (or none) means not deprecated.
[[nodiscard]] Result<MetadataUpdate> parse_metadata_update(std::string_view body,
                                                           const PackageName& url_name,
                                                           const json& current);

// --- _rev, unpublish ---

// The CouchDB-style revision of a packument as arca renders it: "<versions>-<32 hex digits>",
// a digest of the document (any "_rev" in it left out), so it changes whenever the document
// does (a version added, removed or deprecated, a dist-tag moved, an upstream's document
// changing) and is the same for equal documents, across restarts. npm sends it back in
// `/-rev/<rev>` paths (unpublish).
std::string packument_rev(const json& packument);

// The versions a `PUT /<name>/-rev/<rev>` body (npm unpublish <name>@<v>: the packument as
// GET /<name>?write=true gave it, without the version) removes from `current` (the packument as
// this repository serves it). Errors (invalid_argument): invalid JSON, a name or _id other than
// the URL's, no "versions" object, a version `current` does not list (publishing needs a
// tarball). Other changes (dist-tags npm moved off the removed version, "_rev") are ignored:
// the server fixes dist-tags itself. An empty set means the body removes nothing.
[[nodiscard]] Result<std::set<std::string>> parse_unpublish(std::string_view body,
                                                            const PackageName& url_name,
                                                            const json& current);

// --- search (GET /-/v1/search) ---

struct SearchQuery {
  std::string text;  // lower-cased, trimmed; words are matched separately
  size_t size = 20;  // 1..250 (npm's registry caps it at 250)
  size_t from = 0;
};

// Parses the query string of /-/v1/search (text, size, from; quality, popularity, maintenance
// and unknown parameters are ignored; '+' is a space). Errors (invalid_argument): malformed
// percent-encoding, size not a number from 1 to 250 (absent: 20), from not a number (absent: 0).
[[nodiscard]] Result<SearchQuery> parse_search_query(std::string_view query);

// One package a repository (or an upstream repository) holds: the version shown and its
// manifest (package.json + dist), with the version's publish time (ISO 8601, may be empty).
struct SearchCandidate {
  PackageName name;
  std::string version;
  json manifest;
  std::string date;
};

// True if every word of query.text occurs (case-insensitively) in the full name, a keyword or
// the description. An empty text matches everything.
bool search_matches(const SearchQuery& query, const SearchCandidate& candidate);

// The /-/v1/search answer npm 11 prints: {objects: [{package: {name, scope, version,
// description, keywords, date, links {npm}, publisher, maintainers}, score, searchScore}],
// total, time}. `matches` are the candidates that search_matches kept (one per package); they
// are ordered: the exact full name first, then an exact name part (@scope/<text>), then names
// (or name parts) starting with the text, then the rest, each group by name; and
// query.from/size select the page. `base` (ending with '/') is the repository's URL, for
// links.npm; `now` is the ISO 8601 time of the answer.
json search_response(std::vector<SearchCandidate> matches, const SearchQuery& query,
                     std::string_view base, std::string_view now);

// --- commands arca does not serve ---

// The npm command a `/-/...` path (the segments after "-", decoded) belongs to when arca does
// not serve it: "npm access" (-/package/<name>/access|collaborators|visibility,
// -/user/<u>/package, -/org/<o>/package, -/team/<o>/<t>/package), "npm org" (-/org/<o>/user),
// "npm team" (-/team/..., -/org/<o>/team), "npm login" (PUT -/user/org.couchdb.user:...,
// -/v1/login), "npm owner" (GET -/user/org.couchdb.user:..., as `npm owner add` looks users up),
// "npm logout" (-/user/token/...), "npm token" (-/npm/v1/tokens...), "npm profile"
// (-/npm/v1/user), "npm hook" (-/npm/v1/hooks...), "npm star" (-/_view/starredByUser...);
// nullopt for anything else.
std::optional<std::string> unsupported_command(const std::vector<std::string>& after_dash,
                                               std::string_view method);

// {"error": message} as the npm registry answers errors. Invalid UTF-8 in `message` is replaced
// by U+FFFD; never throws.
std::string error_body(std::string_view message);

}  // namespace arca::formats::npm
