#pragma once
// CodeArtifact package groups as pure code: pattern parsing and validation, per-format name
// normalization, the variation folding behind WEAK associations, and GroupIndex, which finds the
// group a package belongs to (the most specific matching pattern) and resolves origin controls.
//
// Pattern syntax (CodeArtifact user guide, "Package group definition syntax and matching
// behavior"): a package path /FORMAT/NAMESPACE/NAME (empty namespace: //) cut short by a
// terminator:
//   /*                      root group, matches everything (always exists, cannot be deleted)
//   /npm/*                  every package of a format
//   /maven/com.anycompany~  namespace prefix (on a word boundary: com~ matches com.x, not comx)
//   /npm/space/*            every package in a namespace (/pypi//* for formats without one)
//   /npm/space/ui~          name prefix (on a word boundary)
//   /npm/space/ui$          exactly one package
// Specificity, most specific first: exact, name prefix (longest first), namespace, namespace
// prefix (longest first), format, root. Patterns are case-sensitive; a package that matches
// its group only after folding (ASCII case, runs of '-', '.', '_') is WEAK, otherwise STRONG.
//
// Lookup cost depends on the length of the coordinates, not on the number of groups: the index
// is keyed by folded pattern components (hash maps per level), and a lookup probes the few
// word-boundary prefixes of the namespace and name.
//
// Thread-safety: GroupIndex is a plain value; const methods are safe from many threads,
// mutations need external synchronization.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace arca::repo::groups {

enum class Kind { root, format, namespace_prefix, namespace_all, name_prefix, exact };

struct Pattern {
  std::string text;  // as given, e.g. "/npm/space/ui~"
  Kind kind = Kind::root;
  std::string format;
  std::string ns;    // namespace or namespace prefix
  std::string name;  // name or name prefix
};

// Parses and validates a pattern. On failure returns nullopt and sets `error` (a sentence
// suitable for a ValidationException message).
std::optional<Pattern> parse_pattern(std::string_view text, std::string& error);

// True for formats whose packages never have a namespace (pypi, nuget, ruby, cargo).
bool format_without_namespace(std::string_view format);
// True for formats whose packages always have one (maven, generic, swift).
bool format_requires_namespace(std::string_view format);

// The service's normalization of names before matching: PyPI (PEP 503), NuGet (lowercase),
// Swift (name and scope lowercase); other formats unchanged.
std::string normalize_name(std::string_view format, std::string_view name);
std::string normalize_namespace(std::string_view format, std::string_view ns);

// The variation folding: lowercase (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and
// fullwidth Latin letters; UTF-8 decoded), each run of '-', '.', '_' becomes one '.'.
std::string fold(std::string_view s);

enum class RestrictionType { external_upstream = 0, internal_upstream = 1, publish = 2 };
enum class Mode { allow, block, allow_specific_repositories, inherit };
constexpr std::array<RestrictionType, 3> k_restriction_types = {RestrictionType::external_upstream,
                                                                RestrictionType::internal_upstream,
                                                                RestrictionType::publish};

std::string_view to_string(RestrictionType t);
std::string_view to_string(Mode m);
std::optional<RestrictionType> parse_restriction_type(std::string_view s);
std::optional<Mode> parse_mode(std::string_view s);

struct Group {
  std::string pattern;
  std::string contact_info;
  std::string description;
  int64_t created_unix_ms = 0;
  std::vector<std::pair<std::string, std::string>> tags;
  // Indexed by RestrictionType.
  std::array<Mode, 3> modes = {Mode::inherit, Mode::inherit, Mode::inherit};
  std::array<std::set<std::string>, 3> allowed;  // repository names per restriction type
};

enum class Association { strong, weak };

struct Match {
  const Group* group = nullptr;
  Association association = Association::strong;
};

// One restriction as it applies: never INHERIT.
struct EffectiveRestriction {
  Mode mode = Mode::allow;        // allow, block or allow_specific_repositories
  const Group* source = nullptr;  // the group the mode comes from
  const std::set<std::string>* repositories = nullptr;  // when allow_specific_repositories
};

// What the resolver enforces for one package (all BLOCK when the association is WEAK).
struct OriginRestrictions {
  const Group* group = nullptr;
  Association association = Association::strong;
  std::array<Mode, 3> modes = {Mode::allow, Mode::allow, Mode::allow};
  std::array<std::vector<std::string>, 3> repositories;
  // True when `repository` may receive a version through `type`.
  bool allows(RestrictionType type, std::string_view repository) const;
};

// The groups of one domain. Always holds the root group /* (ALLOW on every restriction).
class GroupIndex {
 public:
  explicit GroupIndex(int64_t root_created_unix_ms = 0);
  // Movable, not copyable: the level buckets point into the group map.
  GroupIndex(const GroupIndex&) = delete;
  GroupIndex& operator=(const GroupIndex&) = delete;
  GroupIndex(GroupIndex&&) = default;
  GroupIndex& operator=(GroupIndex&&) = default;

  // Prereq: the pattern parses. Replaces a group with the same pattern text.
  void put(Group group);
  // False when absent; the root cannot be removed (returns false).
  bool remove(const std::string& pattern);
  const Group* find(const std::string& pattern) const;

  // All groups, ordered by pattern text.
  std::vector<const Group*> all() const;
  // The group a package belongs to. Coordinates are raw; they are normalized per format here.
  Match match(std::string_view format, std::string_view ns, std::string_view name) const;
  // The closest group whose packages strictly include the pattern's; nullptr for the root.
  const Group* parent(const std::string& pattern) const;
  // Direct children of a group.
  std::vector<const Group*> children(const std::string& pattern) const;
  EffectiveRestriction effective(const Group& group, RestrictionType type) const;
  OriginRestrictions origin_restrictions(std::string_view format, std::string_view ns,
                                         std::string_view name) const;
  size_t size() const { return groups_.size(); }

 private:
  struct Entry {
    Group group;
    Pattern pattern;
  };
  using Bucket = std::vector<const Entry*>;
  struct Level {
    std::string key;  // folded level key
    const Bucket* bucket;
  };
  // The index levels a coordinate can match, most specific first (empty buckets left out,
  // except that a level equal to `own_key` is always reported so parents can skip past it).
  // Coordinates are normalized but not folded.
  std::vector<Level> levels_for(const std::string& format, const std::string& ns,
                                const std::string& name, bool has_ns, bool has_name,
                                const std::string& own_key = {}) const;
  const Entry* pick(const Bucket& bucket, const std::string& ns, const std::string& name,
                    Association& association) const;
  static std::string level_key(const Pattern& p);

  std::map<std::string, Entry> groups_;             // by pattern text (stable addresses)
  std::unordered_map<std::string, Bucket> levels_;  // folded level key -> groups
};

}  // namespace arca::repo::groups
