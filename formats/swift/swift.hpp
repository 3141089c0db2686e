#pragma once
// The Swift package registry protocol (SE-0292; swift-package-manager's
// Documentation/PackageRegistry/Registry.md, "the spec" below) as pure functions: package
// identifiers (scope and name, case-insensitive), SemVer 2.0 versions and their precedence,
// Accept negotiation and API versions, problem details, the manifests of a source archive
// (libarchive) and their tools versions, release metadata, Link headers and the repository URLs
// /identifiers looks up. No sockets, no storage. Nothing here throws on bad input: it returns
// an Error or an empty value.
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::formats::swift {

// --- Package identification (spec 3.6) ---

// 3.6.1: alphanumerics and single inner hyphens, 1..39 characters.
bool valid_scope(std::string_view scope);
// 3.6.2: alphanumerics, single inner '-' or '_', 1..100 characters.
bool valid_name(std::string_view name);
// Scopes and names compare case-insensitively: stored and compared lower-case (ASCII).
std::string lower(std::string_view s);

// --- Versions (SemVer 2.0) ---

// MAJOR.MINOR.PATCH with optional -prerelease (dot-separated identifiers, numeric ones without
// leading zeros) and +build (identifiers of [0-9A-Za-z-]); at most 128 characters.
bool valid_version(std::string_view version);
// SemVer precedence (build metadata ignored); versions of equal precedence are ordered by their
// spelling so the order is total. -1, 0 or 1. Prereq: both valid_version.
int compare_versions(std::string_view a, std::string_view b);

// --- Negotiation (spec 3.5) ---

enum class Media { json, zip, swift };

// The media type named in a response's Content-Type for `media`.
std::string_view content_type(Media media);

struct Negotiation {
  unsigned status = 0;  // 0: acceptable; else 400 or 415
  std::string detail;
};

// Checks an Accept header for a response of `media`. Empty, "*/*", "application/*", the plain
// content type, and application/vnd.swift.registry[.v1][+media] are acceptable (3.5: a request
// without Accept is processed with the version the server chooses). An Accept naming only the
// registry's type with a version that is not a decimal integer is 400 "invalid API version";
// with another version 415 "unsupported API version"; with another media type (or only other
// types) 415.
Negotiation negotiate(std::string_view accept, Media media);

// A problem details object (RFC 7807): {"status", "title", "detail"}, serialized.
std::string problem(unsigned status, std::string_view detail);

// --- Source archives and manifests (spec 4.3, 4.6.1) ---

// The manifests of a source archive: "Package.swift" and every
// "Package@swift-<major>[.<minor>[.<patch>]].swift", by file name, read from the archive's top
// level or from the single directory at its top (as `swift package archive-source` makes it).
// Errors (invalid_argument, for a 422): not a zip, an unreadable entry, no Package.swift, a
// manifest larger than `max_bytes`, manifests in more than one top-level directory.
[[nodiscard]] Result<std::map<std::string, std::string>> read_manifests(
    std::string_view zip, uint64_t max_bytes = 1024 * 1024);

// "Package@swift-4.2.swift" -> "4.2"; nullopt for any other file name.
std::optional<std::string> manifest_swift_version(std::string_view filename);
// A swift-version query value: <major>[.<minor>[.<patch>]], each 1..4 digits.
bool valid_swift_version(std::string_view v);
// The tools version a manifest declares on its first line ("// swift-tools-version:5.7" or
// "// swift-tools-version: 5.7.1" -> "5.7" / "5.7.1", a missing minor becomes ".0" as the
// spec's example shows); empty when it declares none.
std::string tools_version(std::string_view manifest);

// --- Release metadata (spec 4.2.2, 4.6.2, Appendix B) ---

// Parses a `metadata` part: a JSON object whose `repositoryURLs`, when present, is an array of
// strings. Errors (invalid_argument, for a 422): not JSON, not an object, a bad repositoryURLs,
// nesting deeper than k_max_json_depth.
[[nodiscard]] Result<nlohmann::json> parse_metadata(std::string_view text);

// The comparison form of a source repository URL for /identifiers (4.5): lower case, scheme,
// user info, a trailing ".git" and trailing slashes dropped, scp-style "host:path" as
// "host/path" ("git@github.com:mona/LinkedList.git" == "https://github.com/mona/linkedlist").
std::string normalize_repository_url(std::string_view url);

// --- Link header (RFC 8288) ---

struct Link {
  std::string url;
  std::string rel;
  std::vector<std::pair<std::string, std::string>> params;  // quoted on output
};
std::string render_links(const std::vector<Link>& links);
// Parses a Link header value: "<url>; rel=\"x\"; k=v, <url2>; ..." (quoted or bare parameter
// values; commas inside <> or quotes do not split). Malformed entries are skipped.
std::vector<Link> parse_links(std::string_view header);

// --- Query strings ---

// The decoded value of `name` in a raw query string ('+' as space); nullopt when absent or
// malformed.
std::optional<std::string> query_value(std::string_view query, std::string_view name);

}  // namespace arca::formats::swift
