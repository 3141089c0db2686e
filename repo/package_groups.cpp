#include "repo/package_groups.hpp"

#include <algorithm>
#include <cctype>

namespace arca::repo::groups {

namespace {

constexpr char k_sep = '\x1f';

bool is_format(std::string_view f) {
  return f == "npm" || f == "pypi" || f == "maven" || f == "nuget" || f == "generic" ||
         f == "ruby" || f == "swift" || f == "cargo";
}

// One code point of UTF-8 text at `s[i]`; advances `i`. A malformed or truncated sequence
// yields U+FFFD for its first byte (which is then not a word character).
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  char32_t cp = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 2;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 3;
    cp = b0 & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + n >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are malformed.
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += n + 1;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A word character of the pattern grammar (the user guide's [\p{L}\p{N}\p{M}]). Without a
// Unicode character database (ICU is not linked) the rule is conservative: ASCII letters and
// digits, and every non-ASCII code point except the blocks known to hold no letter, digit or
// mark: C1 controls, Latin-1 punctuation and symbols (but not ª ² ³ µ ¹ º ¼ ½ ¾, which are
// letters or numbers), × and ÷, General Punctuation (spaces, dashes, quotes, U+2000-U+206F),
// the CJK space and punctuation U+3000-U+3003, and U+FFFD (what malformed UTF-8 decodes to).
bool word_code_point(char32_t c) {
  if (c < 0x80) return std::isalnum(static_cast<unsigned char>(c)) != 0;
  if (c <= 0xBF) {
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
           (c >= 0xBC && c <= 0xBE);
  }
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;
  if (c >= 0x3000 && c <= 0x3003) return false;
  return c != 0xFFFD;
}

// The last code point of non-empty `s`.
char32_t last_code_point(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
    --start;
  size_t i = start;
  char32_t cp = next_code_point(s, i);
  return i == s.size() ? cp : 0xFFFD;
}

// Simple lower-case mapping for the letters whose case pairs follow fixed offsets: ASCII,
// Latin-1, Latin Extended-A, Greek, Cyrillic (and the Cyrillic supplement pairs), fullwidth
// Latin. Other code points are kept (no case data without a Unicode database).
char32_t lower_code_point(char32_t c) {
  if (c < 0x80) return static_cast<char32_t>(std::tolower(static_cast<int>(c)));
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';
    if (c == 0x178) return 0xFF;
    if (c == 0x138 || c == 0x149 || c == 0x17F) return c;
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c % 2 == 1) ? c + 1 : c;
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0x460 && c <= 0x4FF && c != 0x482 && !(c >= 0x483 && c <= 0x489)) {
    if (c == 0x4C0) return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE) return (c % 2 == 1) ? c + 1 : c;
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return c;
}

bool word_char_end(std::string_view s) { return !s.empty() && word_code_point(last_code_point(s)); }

bool bad_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f || u == ' ' || u == '#';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lengths at which `s` may be cut for a word-boundary prefix match, longest first: after a
// word character that ends `s` or is followed by a non-word character (code points, not bytes).
std::vector<size_t> boundaries(std::string_view s) {
  std::vector<size_t> out;
  bool prev_word = false;
  size_t i = 0;
  while (i < s.size()) {
    const size_t at = i;
    const bool word = word_code_point(next_code_point(s, i));
    if (prev_word && !word) out.push_back(at);
    prev_word = word;
  }
  if (prev_word) out.push_back(s.size());
  std::reverse(out.begin(), out.end());
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool format_without_namespace(std::string_view f) {
  return f == "pypi" || f == "nuget" || f == "ruby" || f == "cargo";
}
bool format_requires_namespace(std::string_view f) {
  return f == "maven" || f == "generic" || f == "swift";
}

std::string normalize_name(std::string_view format, std::string_view name) {
  if (format == "pypi") {
    // PEP 503: lowercase, runs of '-', '_', '.' become one '-'.
    std::string out;
    bool in_run = false;
    for (char c : name) {
      if (c == '-' || c == '_' || c == '.') {
        if (!in_run) out.push_back('-');
        in_run = true;
      } else {
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        in_run = false;
      }
    }
    return out;
  }
  if (format == "nuget" || format == "swift") return lower(name);
  if (format == "cargo") {
    // crates.io: case and '-'/'_' do not tell crates apart; stored lower case with '-'.
    std::string out = lower(name);
    for (char& c : out) {
      if (c == '_') c = '-';
    }
    return out;
  }
  return std::string(name);
}

std::string normalize_namespace(std::string_view format, std::string_view ns) {
  if (format == "swift") return lower(ns);
  return std::string(ns);
}

std::string fold(std::string_view s) {
  std::string out;
  bool in_run = false;
  size_t i = 0;
  while (i < s.size()) {
    const size_t at = i;
    const char32_t c = next_code_point(s, i);
    if (c == '-' || c == '_' || c == '.') {
      if (!in_run) out.push_back('.');
      in_run = true;
      continue;
    }
    in_run = false;
    if (c == 0xFFFD && s.substr(at, i - at) != "\xEF\xBF\xBD") {
      out.append(s.substr(at, i - at));  // malformed bytes are kept as they are
    } else {
      append_utf8(out, lower_code_point(c));
    }
  }
  return out;
}

std::optional<Pattern> parse_pattern(std::string_view text, std::string& error) {
  auto fail = [&](std::string why) -> std::optional<Pattern> {
    error = "Invalid package group pattern '" + std::string(text.substr(0, 520)) + "': " + why;
    return std::nullopt;
  };
  if (text.size() < 2 || text.size() > 520) return fail("length must be 2 to 520 characters");
  for (char c : text) {
    if (bad_char(c)) return fail("control, whitespace and '#' characters are not allowed");
  }
  if (text.front() != '/') return fail("a pattern starts with '/'");
  Pattern p;
  p.text = std::string(text);
  if (text == "/*") {
    p.kind = Kind::root;
    return p;
  }
  // Components after the leading '/'.
  std::vector<std::string_view> parts;
  size_t pos = 1;
  for (;;) {
    auto next = text.find('/', pos);
    parts.push_back(text.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  if (parts.size() > 3) return fail("a pattern has at most three components");
  auto check_component = [](std::string_view c) {
    return c.find_first_of("*~$") == std::string_view::npos;
  };
  if (!is_format(parts[0])) return fail("'" + std::string(parts[0]) + "' is not a package format");
  p.format = std::string(parts[0]);
  const bool no_ns = format_without_namespace(p.format);
  if (parts.size() == 1) return fail("the pattern needs a terminator ('/*', '~' or '$')");
  if (parts.size() == 2) {
    std::string_view last = parts[1];
    if (last == "*") {
      p.kind = Kind::format;
      return p;
    }
    if (last.size() >= 2 && last.back() == '~') {
      last.remove_suffix(1);
      if (!check_component(last)) return fail("'*', '~' and '$' may only end a pattern");
      if (!word_char_end(last)) return fail("'~' must follow a letter or digit");
      if (no_ns) return fail(p.format + " packages have no namespace");
      p.kind = Kind::namespace_prefix;
      p.ns = std::string(last);
      return p;
    }
    return fail("a namespace must be followed by '/' or end with '~'");
  }
  std::string_view ns = parts[1];
  std::string_view last = parts[2];
  if (!check_component(ns)) return fail("'*', '~' and '$' may only end a pattern");
  if (no_ns && !ns.empty()) return fail(p.format + " packages have no namespace; use //");
  if (format_requires_namespace(p.format) && ns.empty())
    return fail(p.format + " packages always have a namespace");
  if (ns.size() > 255) return fail("a namespace has at most 255 characters");
  p.ns = std::string(ns);
  if (last == "*") {
    p.kind = Kind::namespace_all;
    return p;
  }
  if (last.size() < 2 || (last.back() != '~' && last.back() != '$'))
    return fail("a name must end with '~' (prefix) or '$' (exact)");
  const char terminator = last.back();
  last.remove_suffix(1);
  if (!check_component(last)) return fail("'*', '~' and '$' may only end a pattern");
  if (last.size() > 255) return fail("a name has at most 255 characters");
  if (terminator == '~' && !word_char_end(last)) return fail("'~' must follow a letter or digit");
  p.kind = terminator == '~' ? Kind::name_prefix : Kind::exact;
  p.name = std::string(last);
  return p;
}

std::string_view to_string(RestrictionType t) {
  switch (t) {
    case RestrictionType::external_upstream:
      return "EXTERNAL_UPSTREAM";
    case RestrictionType::internal_upstream:
      return "INTERNAL_UPSTREAM";
    case RestrictionType::publish:
      return "PUBLISH";
  }
  return "PUBLISH";
}
std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::allow:
      return "ALLOW";
    case Mode::block:
      return "BLOCK";
    case Mode::allow_specific_repositories:
      return "ALLOW_SPECIFIC_REPOSITORIES";
    case Mode::inherit:
      return "INHERIT";
  }
  return "INHERIT";
}
std::optional<RestrictionType> parse_restriction_type(std::string_view s) {
  for (auto t : k_restriction_types) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}
std::optional<Mode> parse_mode(std::string_view s) {
  for (auto m : {Mode::allow, Mode::block, Mode::allow_specific_repositories, Mode::inherit}) {
    if (to_string(m) == s) return m;
  }
  return std::nullopt;
}

bool OriginRestrictions::allows(RestrictionType type, std::string_view repository) const {
  auto i = static_cast<size_t>(type);
  if (modes[i] == Mode::allow) return true;
  if (modes[i] != Mode::allow_specific_repositories) return false;
  auto& list = repositories[i];
  return std::find(list.begin(), list.end(), repository) != list.end();
}

// --- GroupIndex ---

GroupIndex::GroupIndex(int64_t root_created_unix_ms) {
  Group root;
  root.pattern = "/*";
  root.created_unix_ms = root_created_unix_ms;
  root.modes = {Mode::allow, Mode::allow, Mode::allow};
  put(std::move(root));
}

std::string GroupIndex::level_key(const Pattern& p) {
  std::string key(1, static_cast<char>('0' + static_cast<int>(p.kind)));
  if (p.kind == Kind::root) return key;
  key += p.format;
  if (p.kind == Kind::format) return key;
  key += k_sep + fold(p.ns);
  if (p.kind == Kind::namespace_prefix || p.kind == Kind::namespace_all) return key;
  key += k_sep + fold(p.name);
  return key;
}

void GroupIndex::put(Group group) {
  std::string error;
  auto parsed = parse_pattern(group.pattern, error);
  if (!parsed) return;  // Prereq violated: ignore rather than corrupt the index.
  if (parsed->kind == Kind::root) {
    // The root ends every INHERIT chain.
    for (auto& m : group.modes) {
      if (m == Mode::inherit) m = Mode::allow;
    }
  }
  const std::string text = group.pattern;
  auto it = groups_.find(text);
  if (it != groups_.end()) {
    it->second.group = std::move(group);
    return;
  }
  auto& entry = groups_[text];
  entry.group = std::move(group);
  entry.pattern = std::move(*parsed);
  levels_[level_key(entry.pattern)].push_back(&entry);
}

bool GroupIndex::remove(const std::string& pattern) {
  if (pattern == "/*") return false;
  auto it = groups_.find(pattern);
  if (it == groups_.end()) return false;
  auto key = level_key(it->second.pattern);
  auto& bucket = levels_[key];
  bucket.erase(std::remove(bucket.begin(), bucket.end(), &it->second), bucket.end());
  if (bucket.empty()) levels_.erase(key);
  groups_.erase(it);
  return true;
}

const Group* GroupIndex::find(const std::string& pattern) const {
  auto it = groups_.find(pattern);
  return it == groups_.end() ? nullptr : &it->second.group;
}

std::vector<const Group*> GroupIndex::all() const {
  std::vector<const Group*> out;
  out.reserve(groups_.size());
  for (auto& [k, e] : groups_) out.push_back(&e.group);
  return out;
}

std::vector<GroupIndex::Level> GroupIndex::levels_for(const std::string& format,
                                                      const std::string& ns,
                                                      const std::string& name, bool has_ns,
                                                      bool has_name,
                                                      const std::string& own_key) const {
  std::vector<Level> out;
  auto probe = [&](std::string key) {
    auto it = levels_.find(key);
    if (it != levels_.end() && !it->second.empty()) {
      out.push_back(Level{std::move(key), &it->second});
    } else if (!own_key.empty() && key == own_key) {
      out.push_back(Level{std::move(key), nullptr});
    }
  };
  auto key_of = [](Kind k) { return std::string(1, static_cast<char>('0' + static_cast<int>(k))); };
  const std::string fns = fold(ns);
  if (has_ns && has_name) {
    const std::string fname = fold(name);
    const std::string base = format + k_sep + fns + k_sep;
    probe(key_of(Kind::exact) + base + fname);
    for (size_t len : boundaries(fname))
      probe(key_of(Kind::name_prefix) + base + fname.substr(0, len));
  }
  if (has_ns) {
    probe(key_of(Kind::namespace_all) + format + k_sep + fns);
    for (size_t len : boundaries(fns))
      probe(key_of(Kind::namespace_prefix) + format + k_sep + fns.substr(0, len));
  }
  probe(key_of(Kind::format) + format);
  probe(key_of(Kind::root));
  return out;
}

const GroupIndex::Entry* GroupIndex::pick(const Bucket& bucket, const std::string& ns,
                                          const std::string& name, Association& association) const {
  for (const Entry* e : bucket) {
    const Pattern& p = e->pattern;
    bool strong = true;
    switch (p.kind) {
      case Kind::root:
      case Kind::format:
        break;
      case Kind::namespace_prefix:
        strong = starts_with(ns, p.ns);
        break;
      case Kind::namespace_all:
        strong = ns == p.ns;
        break;
      case Kind::name_prefix:
        strong = ns == p.ns && starts_with(name, p.name);
        break;
      case Kind::exact:
        strong = ns == p.ns && name == p.name;
        break;
    }
    if (strong) {
      association = Association::strong;
      return e;
    }
  }
  association = Association::weak;
  return bucket.front();
}

Match GroupIndex::match(std::string_view format, std::string_view ns, std::string_view name) const {
  const std::string f(format);
  const std::string nns = normalize_namespace(format, ns);
  const std::string nname = normalize_name(format, name);
  auto levels = levels_for(f, nns, nname, true, true);
  // The root level always exists, so `levels` is never empty.
  Match m;
  const Entry* e = pick(*levels.front().bucket, nns, nname, m.association);
  m.group = &e->group;
  return m;
}

const Group* GroupIndex::parent(const std::string& pattern) const {
  auto it = groups_.find(pattern);
  if (it == groups_.end() || it->second.pattern.kind == Kind::root) return nullptr;
  const Pattern& p = it->second.pattern;
  const bool has_name = p.kind == Kind::exact || p.kind == Kind::name_prefix;
  const bool has_ns = p.kind != Kind::format;
  const std::string own = level_key(p);
  auto levels = levels_for(p.format, p.ns, p.name, has_ns, has_name, own);
  bool passed = false;
  for (auto& level : levels) {
    if (!passed) {
      passed = level.key == own;
      continue;
    }
    Association a;
    return &pick(*level.bucket, p.ns, p.name, a)->group;
  }
  return nullptr;
}

std::vector<const Group*> GroupIndex::children(const std::string& pattern) const {
  std::vector<const Group*> out;
  for (auto& [text, e] : groups_) {
    const Group* p = parent(text);
    if (p && p->pattern == pattern) out.push_back(&e.group);
  }
  return out;
}

EffectiveRestriction GroupIndex::effective(const Group& group, RestrictionType type) const {
  const auto i = static_cast<size_t>(type);
  const Group* g = &group;
  // The chain ends at the root, whose modes are never INHERIT; the bound guards a corrupt one.
  for (size_t depth = 0; g && depth < 100'000; ++depth) {
    if (g->modes[i] != Mode::inherit) {
      return EffectiveRestriction{g->modes[i], g, &g->allowed[i]};
    }
    g = parent(g->pattern);
  }
  return EffectiveRestriction{Mode::allow, nullptr, nullptr};
}

OriginRestrictions GroupIndex::origin_restrictions(std::string_view format, std::string_view ns,
                                                   std::string_view name) const {
  OriginRestrictions out;
  Match m = match(format, ns, name);
  out.group = m.group;
  out.association = m.association;
  for (auto t : k_restriction_types) {
    const auto i = static_cast<size_t>(t);
    if (m.association == Association::weak) {
      // The user guide: weakly associated packages are blocked for every origin.
      out.modes[i] = Mode::block;
      continue;
    }
    auto e = effective(*m.group, t);
    out.modes[i] = e.mode;
    if (e.mode == Mode::allow_specific_repositories && e.repositories) {
      out.repositories[i].assign(e.repositories->begin(), e.repositories->end());
    }
  }
  return out;
}

}  // namespace arca::repo::groups
