#pragma once
// The RubyGems protocols as pure functions: gem names, versions and platforms, .gem file
// names, the compact index (/versions, /info/<gem>, /names) as bundler and gem read it, the
// Gem::Specification inside a .gem (a plain tar holding metadata.gz, gzipped YAML), and the Ruby
// Marshal documents gem asks for (quick/Marshal.4.8/<gem>.gemspec.rz, specs.4.8.gz, the
// dependency API's answer), written by a small Marshal writer for exactly the fields needed.
// No sockets, no storage. Nothing here throws on bad input: it returns an Error.
// Thread-safety: free functions over values.

#include "common/error.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::formats::ruby {

// --- Names, versions, platforms, file names ---

// A gem name as rubygems.org accepts it: 1..100 characters from ASCII letters, digits, '.', '-'
// and '_', with at least one letter or digit, not starting with '.' or '-'.
bool valid_name(std::string_view name);
// A Gem::Version as written in file names and indexes: "1", "1.0.0", "2.0.0.rc1", "1.0.a";
// at most 64 characters (digits first, then dot-separated segments of letters and digits).
bool valid_version(std::string_view version);
// A platform: "ruby" or e.g. "x86_64-linux", "java", "universal-darwin-21" (letters, digits,
// '_', '.', '-'; at most 64 characters).
bool valid_platform(std::string_view platform);

// Gem::Version ordering (numeric segments as numbers; a letter segment marks a pre-release and
// sorts before numbers). Returns -1, 0 or 1.
int compare_versions(std::string_view a, std::string_view b);
// True when the version has a letter (a pre-release).
bool prerelease(std::string_view version);

struct GemFile {
  std::string name;
  std::string version;
  std::string platform = "ruby";
};
// "<name>-<version>" plus "-<platform>" unless the platform is "ruby".
std::string full_name(std::string_view name, std::string_view version, std::string_view platform);
// Parses "<name>-<version>[-<platform>]<suffix>" (suffix ".gem" or ".gemspec.rz"): the name is
// everything before the first "-<digit>" that starts a valid version. Errors
// (invalid_argument) say what is wrong.
[[nodiscard]] Result<GemFile> parse_file_name(std::string_view file, std::string_view suffix);

// --- The compact index ---

struct Dependency {
  std::string name;
  std::vector<std::string> requirements;  // "~> 1.0", ">= 1.0.2"; empty means ">= 0"
  bool runtime = true;
};

// One line of /info/<gem>: a version on a platform.
struct Entry {
  std::string version;
  std::string platform = "ruby";
  std::vector<Dependency> dependencies;  // runtime only in the index
  std::string checksum;                  // lower-case hex SHA-256 of the .gem; empty: unknown
  std::vector<std::string> required_ruby;
  std::vector<std::string> required_rubygems;
};

// "1.0.0" or "1.0.0-java", as the index writes a version.
std::string index_version(const Entry& entry);
std::string render_info_line(const Entry& entry);
// "---\n" then one line per entry.
std::string render_info(const std::vector<Entry>& entries);
// Parses an /info file (tolerant of a missing "---" line and of blank lines). Errors
// (invalid_argument) on a line whose version, platform, names or checksum are not valid.
[[nodiscard]] Result<std::vector<Entry>> parse_info(std::string_view body);

struct VersionsLine {
  std::string name;
  std::vector<std::string> versions;  // index_version() spellings, oldest first
  std::string info_md5;               // hex MD5 of the /info body; may be empty
};
// "created_at: <time>\n---\n" then "<name> <v1>,<v2> <md5>" lines.
std::string render_versions(std::string_view created_at, const std::vector<VersionsLine>& lines);
// "---\n" then a name per line.
std::string render_names(const std::vector<std::string>& names);

// --- The Gem::Specification of a .gem ---

struct GemSpec {
  std::string name;
  std::string version;
  std::string platform = "ruby";
  std::string summary;
  std::string description;
  std::string homepage;
  std::string rubygems_version;
  std::vector<std::string> authors;
  std::vector<std::string> email;
  std::vector<std::string> licenses;
  std::vector<Dependency> dependencies;  // runtime and development
  std::vector<std::string> required_ruby;
  std::vector<std::string> required_rubygems;
  std::map<std::string, std::string> metadata;
};

// Parses the YAML Gem::Specification (metadata.gz inflated). Errors (invalid_argument) name the
// missing or invalid field.
[[nodiscard]] Result<GemSpec> parse_spec_yaml(std::string_view yaml);
// Reads metadata.gz out of a .gem (a tar) and parses it. Errors (invalid_argument) say why the
// bytes are not a gem.
[[nodiscard]] Result<GemSpec> read_gem(std::string_view gem);
// The compact-index line of a spec (runtime dependencies only), with `checksum`.
Entry to_entry(const GemSpec& spec, std::string checksum);

// --- Ruby Marshal documents ---

// Marshal.dump of a Gem::Specification with the fields gem reads when resolving and installing
// (name, version, platform, dependencies, required versions, summary, authors, ...).
std::string marshal_spec(const GemSpec& spec);
// A spec as the index knows it (no summary or authors).
GemSpec spec_of(std::string_view name, const Entry& entry);
// Marshal.dump of [[name, Gem::Version, platform], ...] (specs.4.8 and its variants).
std::string marshal_spec_tuples(
    const std::vector<std::pair<std::string, Entry>>& tuples);
// Marshal.dump of the dependency API's answer: [{name:, number:, platform:, dependencies:
// [[name, "req, req"], ...]}, ...].
std::string marshal_dependency_list(const std::vector<std::pair<std::string, Entry>>& entries);
// zlib (RFC 1950) deflate, as Gem::Util.inflate expects for .rz files.
std::string zlib_deflate(std::string_view data);

// --- Requests ---

// application/x-www-form-urlencoded fields (gem yank's DELETE body or query).
std::map<std::string, std::string> parse_form(std::string_view body);

}  // namespace arca::formats::ruby
