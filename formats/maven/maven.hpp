#pragma once
// Maven 2 repository layout as pure functions: request paths (groupId/artifactId/version/file,
// maven-metadata.xml at artifact and SNAPSHOT-version level, checksum siblings), Maven
// identifiers, version ordering (a close approximation of Maven's ComparableVersion),
// timestamped SNAPSHOT file names, and maven-metadata.xml parsing (pugixml, bounded) and
// rendering.
//
// Thread-safety: all functions are pure and safe from any thread.

#include "common/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::maven {

// The largest maven-metadata.xml accepted from an upstream or a client.
constexpr size_t k_max_metadata_bytes = 4 * 1024 * 1024;

enum class PathKind { file, artifact_metadata, version_metadata };
enum class ChecksumKind { none, md5, sha1, sha256, sha512 };

struct Path {
  PathKind kind = PathKind::file;
  ChecksumKind checksum = ChecksumKind::none;  // the request is for the base file's checksum
  std::string group_id;                        // dotted ("org.example")
  std::string group_path;                      // slashed ("org/example")
  std::string artifact_id;
  std::string version;   // empty for artifact-level metadata
  std::string filename;  // the base file name (checksum suffix removed)
};

// Parses the raw (percent-encoded) path after "/<domain>/maven/<repo>/". Rejects "." and ".."
// segments (also percent-encoded), encoded slashes and backslashes, empty segments, and names
// that are not Maven identifiers.
[[nodiscard]] Result<Path> parse_path(std::string_view raw);

// A directory URL: the raw path after "/<domain>/maven/<repo>/" ending in '/'. Returns its
// decoded segments (at least one), each a valid_identifier (so no traversal, no encoded
// separators, no empty segment other than the trailing one).
[[nodiscard]] Result<std::vector<std::string>> parse_directory(std::string_view raw);

// An HTML directory listing as Maven Central and Nexus serve it: a title naming `path` and one
// `<a href="entry">entry</a>` line per entry (directories end in '/'), in the order given.
// Entries are HTML-escaped.
std::string render_listing(std::string_view path, const std::vector<std::string>& entries);

// [A-Za-z0-9_.-]+, not "." or "..", at most 255 characters.
bool valid_identifier(std::string_view s);
bool is_snapshot(std::string_view version);
// Negative, zero or positive as a orders before, equal to or after b (Maven's order).
int compare_versions(std::string_view a, std::string_view b);
// Sorts in Maven order and removes duplicates.
void sort_versions(std::vector<std::string>& versions);

std::string_view checksum_suffix(ChecksumKind kind);  // ".sha1", ...
// The first whitespace-separated token of a checksum file, lower-cased; nullopt when it is not
// hex of the algorithm's length.
std::optional<std::string> parse_checksum(std::string_view body, ChecksumKind kind);

struct SnapshotFile {
  std::string timestamp;  // "20240102.030405"
  int build_number = 0;
  std::string classifier;
  std::string extension;
  std::string value;  // "1.0-20240102.030405-3"
};
// "<artifactId>-<base>-<timestamp>-<build>[-<classifier>].<ext>" of version "<base>-SNAPSHOT".
std::optional<SnapshotFile> parse_snapshot_file(std::string_view artifact_id,
                                                std::string_view version,
                                                std::string_view filename);

struct SnapshotVersion {
  std::string classifier;
  std::string extension;
  std::string value;
  std::string updated;  // yyyyMMddHHmmss
};

struct Metadata {
  std::string group_id;
  std::string artifact_id;
  std::string version;  // version-level metadata only
  std::vector<std::string> versions;
  std::string latest;
  std::string release;
  std::string last_updated;  // yyyyMMddHHmmss
  // Version level (SNAPSHOT).
  std::string snapshot_timestamp;
  int snapshot_build_number = 0;
  std::vector<SnapshotVersion> snapshot_versions;
  // Group level (plugin prefixes): present means the document is not artifact metadata.
  bool has_plugins = false;
};

[[nodiscard]] Result<Metadata> parse_metadata(std::string_view xml);
std::string render_metadata(const Metadata& m);
// Fills latest and release from versions (sorted and deduplicated first).
void fill_latest_release(Metadata& m);
// Builds version-level metadata from the stored timestamped files of a SNAPSHOT version.
Metadata snapshot_metadata(std::string_view group_id, std::string_view artifact_id,
                           std::string_view version, const std::vector<std::string>& filenames);
// yyyyMMddHHmmss (UTC).
std::string maven_timestamp(int64_t unix_ms);

}  // namespace arca::formats::maven
