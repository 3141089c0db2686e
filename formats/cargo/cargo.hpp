#pragma once
// Cargo's registry protocols as pure functions: crate names (crates.io's rules and its
// equivalence of '-'/'_' and case), semantic versions, the sparse index layout (1/, 2/, 3/a/,
// ab/cd/), index entries (one JSON object per line), the `dl` template of an index's
// config.json, the body of `cargo publish` (u32-LE JSON length, JSON, u32-LE crate length,
// crate) and the error form cargo prints ({"errors":[{"detail":...}]}).
// No sockets, no storage. Nothing here throws on bad input: it returns an Error.
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::cargo {

// --- Names ---

// A crate name as crates.io accepts it: 1..64 ASCII letters, digits, '-' and '_', starting
// with a letter. Errors (invalid_argument) say what is wrong.
[[nodiscard]] Result<void> check_name(std::string_view name);

// The name packages are stored under: lower case, '_' as '-' (Cargo and crates.io treat
// "Foo_Bar" and "foo-bar" as the same crate).
std::string stored_name(std::string_view name);

std::string lower(std::string_view s);

// The sparse index's directory of a name, in the name's own case: "1", "2", "3/a", "ab/cd".
std::string index_prefix(std::string_view name);
// The index file's path: lower-case prefix and name ("se/rd/serde").
std::string index_path(std::string_view name);

// The name an index file path asks for ("3/a/abc" -> "abc"), when the path is one of the
// layout's: the prefix must match the (lower-case) name. Errors (invalid_argument) otherwise.
[[nodiscard]] Result<std::string> parse_index_path(std::string_view path);

// --- Versions ---

// Semantic Versioning 2.0.0: MAJOR.MINOR.PATCH without leading zeros, an optional
// pre-release and build metadata of [0-9A-Za-z-] identifiers; at most 128 characters.
bool valid_version(std::string_view version);
// SemVer precedence (build metadata ignored); -1, 0 or 1. Unparseable versions sort first.
int compare_versions(std::string_view a, std::string_view b);
// The version without build metadata ("1.0.0+x" -> "1.0.0"): crates.io takes versions that
// differ only there as the same.
std::string without_build(std::string_view version);

// The stored asset of a version: "<stored name>-<version>.crate".
std::string asset_name(std::string_view stored, std::string_view version);

// --- Index entries ---

// Parses an index file: one JSON object per non-empty line, each with string "name", "vers"
// and "cksum" (64 hex digits). Lines that are not such objects are skipped (as cargo does);
// the file itself is an error only when it is not text lines of JSON at all.
[[nodiscard]] Result<std::vector<nlohmann::json>> parse_index_file(std::string_view body);
// Renders index lines.
std::string render_index_file(const std::vector<nlohmann::json>& entries);

// The download URL of a version from an index config.json's `dl`: markers {crate},
// {version}, {prefix}, {lowerprefix}, {sha256-checksum} replaced, or without markers
// "<dl>/<crate>/<version>/download".
std::string download_url(std::string_view dl, std::string_view name, std::string_view version,
                         std::string_view cksum);

// CodeArtifact's dependency list (ListPackageVersionDependencies) of an index entry:
// [{package, dependencyType (normal, dev, build), versionRequirement}].
nlohmann::json dependencies(const nlohmann::json& entry);

// --- Publishing ---

struct Publish {
  nlohmann::json metadata;  // the JSON part as sent
  std::string name;
  std::string version;
  std::string_view crate;  // points into the body given to parse_publish
};

// Splits and checks a `cargo publish` body: the lengths must fit the body exactly, the JSON
// must be an object with a valid "name" and "vers" and "deps" an array of dependencies
// with "name" and "version_req"; the crate must not be empty. Errors (invalid_argument) say
// which part is wrong.
[[nodiscard]] Result<Publish> parse_publish(std::string_view body);

// The index entry of a published crate: the publish metadata's dependencies in the index's
// form (name as written in Cargo.toml, "package" when renamed, "req"), features (those using
// "dep:" or "?/" syntax in "features2" with "v": 2), links, rust_version, and `cksum` (hex
// SHA-256 of the .crate).
nlohmann::json index_entry(const Publish& publish, std::string_view cksum);

// --- Responses ---

// {"errors":[{"detail": detail}]}: what cargo prints for a failed API call.
std::string error_body(std::string_view detail);

}  // namespace arca::formats::cargo
