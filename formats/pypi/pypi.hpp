#pragma once
// The Python package index protocols as pure functions: project names (PEP 503), distribution
// file names (wheels, sdists), the simple repository API in HTML (PEP 503) and JSON (PEP 691)
// with PEP 592 (yanked), PEP 658/714 (core metadata) and PEP 700 (versions, size, upload-time),
// a tolerant parser for upstream HTML index pages, Accept negotiation, multipart/form-data
// (the legacy upload API twine uses) and core metadata (wheel METADATA via libarchive).
// No sockets, no storage. Nothing here throws on bad input: it returns an Error.
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::formats::pypi {

// --- Names and versions ---

// PEP 503 normalization: lower case, every run of '-', '_' and '.' becomes one '-'.
std::string normalize_name(std::string_view name);

// Validates a project name as PEP 508 does (ASCII letters and digits, with '-', '_', '.' inside
// but not at either end, at most 200 characters) and returns it normalized. Errors
// (invalid_argument): empty, a name that normalizes to nothing ("---", "._."), a character
// outside that set (path separators, "..", spaces, controls, non-ASCII).
[[nodiscard]] Result<std::string> parse_project_name(std::string_view name);

// A version we are willing to store and put in a URL: 1..128 characters from PEP 440's public
// and local alphabet (ASCII letters, digits, '.', '!', '+', '-', '_'), not starting or ending
// with a separator, no "..".
bool valid_version(std::string_view version);

// A comparison key for versions that PEP 440 considers equal in the spellings tools produce:
// lower case, a leading 'v' dropped, '_' and '-' as '.', and trailing ".0" release components
// dropped ("1.0" == "1" == "1.0.0", "1.0_rc1" == "1.0.rc1"). Not a full PEP 440 parser.
std::string canonical_version(std::string_view version);

// Orders versions for the "versions" list: PEP 440-ish (numeric release components compared as
// numbers; a pre-release part sorts before the release). Returns -1, 0 or 1.
int compare_versions(std::string_view a, std::string_view b);

// --- Distribution file names ---

enum class FileKind { wheel, sdist };

struct DistFile {
  FileKind kind = FileKind::sdist;
  std::string project;  // normalized
  std::string version;  // as spelled in the file name
};

// A file name that is safe to store and put into a URL path: 1..255 characters, no '/', '\\',
// "..", control characters, '%', '?', '#', spaces or non-ASCII, not starting with '.'.
bool valid_filename(std::string_view filename);

// Parses a distribution file name and checks it belongs to `project` (normalized):
//   wheel: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427; name with '_')
//   sdist: {name}-{version}.tar.gz | .zip (also .tar.bz2, .tar.xz, .tgz, .tar for old files);
//          the name part may contain '-' (legacy sdists), matched by normalization.
// Errors (invalid_argument) say what is wrong: not valid_filename, an unknown extension, the
// wrong number of wheel parts, a name part that does not normalize to `project`, an invalid
// version.
[[nodiscard]] Result<DistFile> parse_filename(std::string_view filename, std::string_view project);

// --- Project pages (the simple API's data model) ---

struct File {
  std::string filename;
  std::string url;                            // absolute; without a fragment
  std::map<std::string, std::string> hashes;  // algorithm -> lower-case hex ("sha256")
  std::string requires_python;                // empty: none
  bool yanked = false;
  std::string yanked_reason;
  // PEP 658/714: the core metadata file is available at url + ".metadata".
  bool core_metadata = false;
  std::map<std::string, std::string> core_metadata_hashes;
  std::optional<uint64_t> size;
  std::string upload_time;  // ISO 8601, empty: unknown
};

struct ProjectPage {
  std::string name;  // as the index spells it (normalized if unknown)
  std::vector<File> files;
  std::vector<std::string> versions;  // PEP 700; may be empty (derive with fill_versions)
};

// Adds the versions parsed from the files' names (for `project`) to page.versions, then sorts
// and de-duplicates them with compare_versions.
void fill_versions(ProjectPage& page, std::string_view project);

// Parses an upstream PEP 691 JSON project page. Errors (upstream_error): not JSON, not an
// object, "files" missing or not an array, a file that is not an object or lacks a string
// "filename"/"url". Files whose name is not valid_filename are dropped. Relative URLs are
// resolved against `page_url`; fragments are removed.
[[nodiscard]] Result<ProjectPage> parse_project_json(std::string_view body,
                                                     std::string_view page_url);

// Parses an upstream HTML project page tolerantly: every <a ...>text</a> with an href; quoted
// or unquoted attributes in any case; entities decoded; "#sha256=..." style fragments become
// hashes; data-requires-python, data-yanked, data-dist-info-metadata / data-core-metadata
// ("true" or "sha256=<hex>"). The file name is the anchor text if valid, else the last path
// segment of the URL. Malformed anchors (no href, unterminated tags or quotes, bad names) are
// skipped. Errors (upstream_error): a body with NUL bytes or no '<' at all (not HTML).
[[nodiscard]] Result<ProjectPage> parse_project_html(std::string_view body,
                                                     std::string_view page_url);

// Renders a project page. File URLs are used as given (callers point them at arca).
// HTML: PEP 503 anchors with "#sha256=" fragments, data-requires-python (escaped),
// data-yanked, data-dist-info-metadata and data-core-metadata.
// JSON: PEP 691 v1.1 with PEP 700 fields; "core-metadata" as a hash dict and no
// "dist-info-metadata" at all (pip 23.0.1 crashes on any non-string value there, dict or true).
std::string render_project_html(const ProjectPage& page);
std::string render_project_json(const ProjectPage& page);
// The project list ("/simple/"). `names` are display names; links are to normalized names.
std::string render_index_html(const std::vector<std::string>& names);
std::string render_index_json(const std::vector<std::string>& names);

// Our own lossless storage form of a page (the PEP 691 JSON, with every file field) and back.
std::string serialize_page(const ProjectPage& page);
[[nodiscard]] Result<ProjectPage> deserialize_page(std::string_view text);

std::string html_escape(std::string_view s);

// --- Content negotiation (PEP 691) ---

enum class PageFormat { json, html_v1, html_legacy };

// Chooses the response format from an Accept header with quality values: the highest q among
// application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html,
// application/vnd.pypi.simple.latest+json/+html, text/html, text/* and */*; ties go to the
// first of json, v1 html, text/html. An empty header or one where nothing matches gives
// text/html (never 406).
PageFormat negotiate(std::string_view accept);
std::string_view content_type(PageFormat format);

// --- Upload (the legacy API twine uses) ---

struct FormPart {
  std::string name;
  std::optional<std::string> filename;  // set for file parts
  std::string content_type;
  std::string_view data;  // a view into the parsed body (uploads are not copied)
};

// Parses multipart/form-data (RFC 7578). `content_type` is the request's Content-Type header
// (the boundary comes from it). Errors (invalid_argument): not multipart/form-data, no
// boundary, a missing closing boundary, a part without Content-Disposition form-data name.
// Lifetime: the parts' data views point into `body`, which must outlive them.
[[nodiscard]] Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                                            std::string_view content_type);

struct Upload {
  std::string name;     // as sent
  std::string project;  // normalized
  std::string version;
  std::string filetype;  // bdist_wheel, sdist, ...
  std::string filename;
  std::string_view content;  // the file's bytes (a view into the request body)
  std::string sha256_hex;    // lower case; empty if not sent
  std::string md5_hex;       // lower case; empty if not sent
  std::string requires_python;
  std::string summary;
  std::vector<std::string> requires_dist;
};

// Reads and checks an upload form: ":action" is "file_upload", name parses, version is
// valid_version, "content" is a file part whose file name parse_filename accepts for this
// project with a version equal (canonical_version) to the form's; sha256_digest / md5_digest
// (at least one required) match the content. Errors (invalid_argument) name the field.
// Lifetime: the result's content views the parts' body.
[[nodiscard]] Result<Upload> parse_upload(const std::vector<FormPart>& parts);

// --- Core metadata ---

struct CoreMetadata {
  std::string name;
  std::string version;
  std::string requires_python;
  std::string summary;
  std::vector<std::string> requires_dist;
};

// Parses core metadata (RFC 822 style headers, PEP 566/643); the body after the first empty
// line is ignored. Errors (invalid_argument): no Name or no Version header.
[[nodiscard]] Result<CoreMetadata> parse_core_metadata(std::string_view text);

// Extracts "{name}-{version}.dist-info/METADATA" from a wheel (a zip, read with libarchive);
// the .dist-info directory must be at the top level and its name must match `file` (by
// normalized name and canonical version). At most `max_bytes` are read. Errors
// (invalid_argument): not a zip, no such member, a member larger than max_bytes.
[[nodiscard]] Result<std::string> wheel_metadata(std::string_view wheel, const DistFile& file,
                                                 uint64_t max_bytes = 16 * 1024 * 1024);

// The URL-path form of a file name (percent-encodes everything but A-Z a-z 0-9 - . _ ~).
std::string url_escape(std::string_view s);

}  // namespace arca::formats::pypi
