#include "formats/ruby/ruby.hpp"

#include "common/compress.hpp"
#include "common/text.hpp"
#include "common/url.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>

namespace arca::formats::ruby {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A requirement "op version" ("~> 1.0", ">= 0", "1.0" meaning "= 1.0").
bool valid_requirement(std::string_view r) {
  r = trim(r);
  static const std::array<std::string_view, 7> ops = {"~>", ">=", "<=", "!=", ">", "<", "="};
  for (auto op : ops) {
    if (r.substr(0, op.size()) == op) {
      r = trim(r.substr(op.size()));
      break;
    }
  }
  return valid_version(r);
}

std::pair<std::string, std::string> split_requirement(std::string_view r) {
  r = trim(r);
  static const std::array<std::string_view, 7> ops = {"~>", ">=", "<=", "!=", ">", "<", "="};
  for (auto op : ops) {
    if (r.substr(0, op.size()) == op) return {std::string(op), std::string(trim(r.substr(op.size())))};
  }
  return {"=", std::string(r)};
}

// Segments of a version: runs of digits or of letters ("1.0.rc1" -> 1, 0, rc, 1).
struct Segment {
  bool numeric;
  std::string text;
};
std::vector<Segment> segments(std::string_view v) {
  std::vector<Segment> out;
  size_t i = 0;
  while (i < v.size()) {
    if (is_digit(v[i])) {
      size_t j = i;
      while (j < v.size() && is_digit(v[j])) ++j;
      out.push_back({true, std::string(v.substr(i, j - i))});
      i = j;
    } else if (is_alnum(v[i])) {
      size_t j = i;
      while (j < v.size() && is_alnum(v[j]) && !is_digit(v[j])) ++j;
      out.push_back({false, std::string(v.substr(i, j - i))});
      i = j;
    } else {
      ++i;
    }
  }
  // Gem::Version#canonical_segments: trailing zeros of the release part do not count.
  while (!out.empty() && out.back().numeric &&
         out.back().text.find_first_not_of('0') == std::string::npos) {
    out.pop_back();
  }
  return out;
}

int compare_numeric(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    size_t p = s.find_first_not_of('0');
    return p == std::string::npos ? std::string() : s.substr(p);
  };
  std::string x = strip(a), y = strip(b);
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return x < y ? -1 : (x > y ? 1 : 0);
}

// --- Ruby Marshal (format 4.8) ---

class MarshalWriter {
 public:
  MarshalWriter() { out_.append("\x04\x08", 2); }
  std::string take() { return std::move(out_); }

  void nil() { out_ += '0'; }
  void boolean(bool b) { out_ += b ? 'T' : 'F'; }
  void integer(long n) {
    out_ += 'i';
    w_long(n);
  }
  void symbol(std::string_view s) {
    auto it = symbols_.find(std::string(s));
    if (it != symbols_.end()) {
      out_ += ';';
      w_long(static_cast<long>(it->second));
      return;
    }
    const size_t index = symbols_.size();
    symbols_.emplace(std::string(s), index);
    out_ += ':';
    w_bytes(s);
  }
  // A UTF-8 String (the encoding as the instance variable E = true).
  void string(std::string_view s) {
    out_ += 'I';
    out_ += '"';
    w_bytes(s);
    w_long(1);
    symbol("E");
    boolean(true);
  }
  void array(size_t n) {
    out_ += '[';
    w_long(static_cast<long>(n));
  }
  void hash(size_t n) {
    out_ += '{';
    w_long(static_cast<long>(n));
  }
  // An object whose class defines marshal_dump: its value follows.
  void user_marshal(std::string_view cls) {
    out_ += 'U';
    symbol(cls);
  }
  // An object whose class defines _dump: the bytes it returned.
  void user_dump(std::string_view cls, std::string_view bytes) {
    out_ += 'u';
    symbol(cls);
    w_bytes(bytes);
  }
  // A plain object with `ivars` instance variables: (symbol, value) pairs follow.
  void object(std::string_view cls, size_t ivars) {
    out_ += 'o';
    symbol(cls);
    w_long(static_cast<long>(ivars));
  }

  void string_array(const std::vector<std::string>& items) {
    array(items.size());
    for (auto& s : items) string(s);
  }
  void version(std::string_view v) {
    user_marshal("Gem::Version");
    array(1);
    string(v);
  }
  void requirement(const std::vector<std::string>& reqs) {
    user_marshal("Gem::Requirement");
    array(1);
    std::vector<std::string> list = reqs;
    if (list.empty()) list.push_back(">= 0");
    array(list.size());
    for (auto& r : list) {
      auto [op, v] = split_requirement(r);
      array(2);
      string(op);
      version(v);
    }
  }

 private:
  void w_long(long x) {
    if (x == 0) {
      out_ += '\0';
      return;
    }
    if (x > 0 && x < 123) {
      out_ += static_cast<char>(x + 5);
      return;
    }
    if (x < 0 && x > -124) {
      out_ += static_cast<char>((x - 5) & 0xff);
      return;
    }
    char buf[sizeof(long) + 1];
    int i = 1;
    for (; i <= static_cast<int>(sizeof(long)); ++i) {
      buf[i] = static_cast<char>(x & 0xff);
      x >>= 8;
      if (x == 0) {
        buf[0] = static_cast<char>(i);
        break;
      }
      if (x == -1) {
        buf[0] = static_cast<char>(-i);
        break;
      }
    }
    out_.append(buf, static_cast<size_t>(i + 1));
  }
  void w_bytes(std::string_view s) {
    w_long(static_cast<long>(s.size()));
    out_.append(s);
  }

  std::string out_;
  std::map<std::string, size_t> symbols_;
};

// --- YAML helpers (yaml-cpp throws; callers catch) ---

std::string scalar(const YAML::Node& n) {
  if (!n || !n.IsScalar()) return std::string();
  return n.as<std::string>();
}

std::vector<std::string> scalars(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    if (!n.as<std::string>().empty()) out.push_back(n.as<std::string>());
    return out;
  }
  if (n.IsSequence()) {
    for (const auto& item : n)
      if (item.IsScalar()) out.push_back(item.as<std::string>());
  }
  return out;
}

// A YAML Gem::Version: a map {version: "1.0"} (or a bare scalar).
std::string yaml_version(const YAML::Node& n) {
  if (!n) return std::string();
  if (n.IsScalar()) return n.as<std::string>();
  if (n.IsMap()) return scalar(n["version"]);
  return std::string();
}

// A YAML Gem::Requirement: {requirements: [[op, version], ...]}. ">= 0" alone means none.
Result<std::vector<std::string>> yaml_requirement(const YAML::Node& n, std::string_view what) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  YAML::Node reqs = n.IsMap() ? n["requirements"] : n;
  if (!reqs || !reqs.IsSequence() || reqs.size() > 100)
    return make_error(Errc::invalid_argument, "the gemspec's " + std::string(what) + " is not a requirement");
  for (const auto& r : reqs) {
    if (!r.IsSequence() || r.size() != 2)
      return make_error(Errc::invalid_argument, "the gemspec's " + std::string(what) + " is not a requirement");
    std::string op = scalar(r[0]);
    std::string v = yaml_version(r[1]);
    std::string text = op + " " + v;
    if (!valid_requirement(text))
      return make_error(Errc::invalid_argument,
                        "the gemspec's " + std::string(what) + " has an invalid requirement '" + text + "'");
    out.push_back(std::move(text));
  }
  if (out.size() == 1 && out[0] == ">= 0") out.clear();
  return out;
}

// yaml-cpp parses nesting recursively: a document nested deeper than any gemspec (flow
// brackets, or "- - - ..." and indentation in block style) is refused before it is parsed, so
// that a crafted metadata.gz cannot exhaust the stack.
bool nesting_too_deep(std::string_view yaml) {
  constexpr int k_max_flow = 64;
  constexpr size_t k_max_block_prefix = 256;
  int flow = 0;
  bool line_start = true;
  size_t prefix = 0;
  for (char c : yaml) {
    if (c == '\n') {
      line_start = true;
      prefix = 0;
      continue;
    }
    if (line_start) {
      if (c == ' ' || c == '-' || c == '\t' || c == '?' || c == ':') {
        if (++prefix > k_max_block_prefix) return true;
      } else {
        line_start = false;
      }
    }
    if (c == '[' || c == '{') {
      if (++flow > k_max_flow) return true;
    } else if ((c == ']' || c == '}') && flow > 0) {
      --flow;
    }
  }
  return false;
}

}  // namespace

// --- Names, versions, platforms ---

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  if (name.front() == '.' || name.front() == '-') return false;
  bool alnum = false;
  for (char c : name) {
    if (is_alnum(c)) {
      alnum = true;
      continue;
    }
    if (c != '.' && c != '-' && c != '_') return false;
  }
  return alnum && name.find("..") == std::string_view::npos;
}

bool valid_version(std::string_view v) {
  if (v.empty() || v.size() > 64 || !is_digit(v.front())) return false;
  // [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
  size_t i = 0;
  while (i < v.size() && is_digit(v[i])) ++i;
  while (i < v.size() && v[i] == '.') {
    size_t j = i + 1;
    while (j < v.size() && is_alnum(v[j])) ++j;
    if (j == i + 1) return false;
    i = j;
  }
  if (i == v.size()) return true;
  if (v[i] != '-') return false;
  ++i;
  bool segment = false;
  for (; i < v.size(); ++i) {
    if (is_alnum(v[i]) || v[i] == '-') {
      segment = true;
    } else if (v[i] == '.' && segment) {
      segment = false;
    } else {
      return false;
    }
  }
  return segment;
}

bool valid_platform(std::string_view p) {
  if (p.empty() || p.size() > 64 || p.front() == '-' || p.front() == '.') return false;
  for (char c : p)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return p.find("..") == std::string_view::npos;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto x = segments(a), y = segments(b);
  const size_t n = std::max(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    const Segment zero{true, "0"};
    const Segment& l = i < x.size() ? x[i] : zero;
    const Segment& r = i < y.size() ? y[i] : zero;
    if (l.numeric && r.numeric) {
      int c = compare_numeric(l.text, r.text);
      if (c != 0) return c;
    } else if (l.numeric != r.numeric) {
      return l.numeric ? 1 : -1;  // a letter (pre-release) sorts before a number
    } else if (l.text != r.text) {
      return l.text < r.text ? -1 : 1;
    }
  }
  return 0;
}

bool prerelease(std::string_view version) {
  return std::any_of(version.begin(), version.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

std::string full_name(std::string_view name, std::string_view version, std::string_view platform) {
  std::string out = std::string(name) + "-" + std::string(version);
  if (!platform.empty() && platform != "ruby") out += "-" + std::string(platform);
  return out;
}

Result<GemFile> parse_file_name(std::string_view file, std::string_view suffix) {
  if (file.size() <= suffix.size() || file.substr(file.size() - suffix.size()) != suffix)
    return make_error(Errc::invalid_argument, "'" + std::string(file) + "' is not a " +
                                                  std::string(suffix) + " file name");
  std::string_view stem = file.substr(0, file.size() - suffix.size());
  for (size_t dash = stem.find('-'); dash != std::string_view::npos; dash = stem.find('-', dash + 1)) {
    if (dash + 1 >= stem.size() || !is_digit(stem[dash + 1])) continue;
    std::string_view name = stem.substr(0, dash);
    std::string_view rest = stem.substr(dash + 1);
    // The version is up to the next '-'; anything after it is the platform.
    auto next = rest.find('-');
    std::string_view version = rest.substr(0, next);
    std::string_view platform = next == std::string_view::npos ? "ruby" : rest.substr(next + 1);
    if (!valid_version(version) || !valid_platform(platform)) continue;
    if (!valid_name(name))
      return make_error(Errc::invalid_argument, "'" + std::string(name) + "' is not a valid gem name");
    return GemFile{std::string(name), std::string(version), std::string(platform)};
  }
  return make_error(Errc::invalid_argument,
                    "'" + std::string(file) + "' is not <name>-<version>[-<platform>]" + std::string(suffix));
}

// --- The compact index ---

std::string index_version(const Entry& e) {
  return e.platform.empty() || e.platform == "ruby" ? e.version : e.version + "-" + e.platform;
}

std::string render_info_line(const Entry& e) {
  std::string line = index_version(e) + " ";
  for (size_t i = 0; i < e.dependencies.size(); ++i) {
    const auto& d = e.dependencies[i];
    if (i) line += ',';
    line += d.name + ":";
    if (d.requirements.empty()) {
      line += ">= 0";
    } else {
      for (size_t k = 0; k < d.requirements.size(); ++k) {
        if (k) line += '&';
        line += d.requirements[k];
      }
    }
  }
  line += "|checksum:" + e.checksum;
  auto add = [&line](const char* key, const std::vector<std::string>& reqs) {
    if (reqs.empty()) return;
    line += ",";
    line += key;
    line += ':';
    for (size_t k = 0; k < reqs.size(); ++k) {
      if (k) line += '&';
      line += reqs[k];
    }
  };
  add("ruby", e.required_ruby);
  add("rubygems", e.required_rubygems);
  return line;
}

std::string render_info(const std::vector<Entry>& entries) {
  std::string out = "---\n";
  for (auto& e : entries) {
    out += render_info_line(e);
    out += '\n';
  }
  return out;
}

Result<std::vector<Entry>> parse_info(std::string_view body) {
  std::vector<Entry> out;
  size_t line_no = 0;
  for (auto raw : split(body, '\n')) {
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line == "---") continue;
    auto bad = [&](const std::string& why) {
      return make_error(Errc::invalid_argument,
                        "info line " + std::to_string(line_no) + " is not valid: " + why);
    };
    Entry e;
    auto space = line.find(' ');
    std::string_view ver = line.substr(0, space);
    std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    auto dash = ver.find('-');
    e.version = std::string(ver.substr(0, dash));
    if (dash != std::string_view::npos) e.platform = std::string(ver.substr(dash + 1));
    if (!valid_version(e.version)) return bad("version '" + e.version + "'");
    if (!valid_platform(e.platform)) return bad("platform '" + e.platform + "'");
    auto bar = rest.find('|');
    std::string_view deps = trim(rest.substr(0, bar));
    std::string_view reqs = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
    if (!deps.empty()) {
      for (auto d : split(deps, ',')) {
        auto colon = d.find(':');
        Dependency dep;
        dep.name = std::string(trim(d.substr(0, colon)));
        if (!valid_name(dep.name)) return bad("dependency name '" + dep.name + "'");
        if (colon != std::string_view::npos) {
          for (auto r : split(d.substr(colon + 1), '&')) {
            std::string req(trim(r));
            if (!valid_requirement(req)) return bad("requirement '" + req + "'");
            dep.requirements.push_back(std::move(req));
          }
        }
        if (dep.requirements.size() == 1 && dep.requirements[0] == ">= 0") dep.requirements.clear();
        e.dependencies.push_back(std::move(dep));
      }
    }
    if (!reqs.empty()) {
      for (auto kv : split(reqs, ',')) {
        auto colon = kv.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = trim(kv.substr(0, colon));
        std::string_view value = trim(kv.substr(colon + 1));
        if (key == "checksum") {
          std::string sum(value);
          std::transform(sum.begin(), sum.end(), sum.begin(),
                         [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
          if (sum.size() != 64 || sum.find_first_not_of("0123456789abcdef") != std::string::npos)
            return bad("checksum '" + sum + "'");
          e.checksum = std::move(sum);
        } else if (key == "ruby" || key == "rubygems") {
          std::vector<std::string> list;
          for (auto r : split(value, '&')) {
            std::string req(trim(r));
            if (!valid_requirement(req)) return bad(std::string(key) + " requirement '" + req + "'");
            list.push_back(std::move(req));
          }
          (key == "ruby" ? e.required_ruby : e.required_rubygems) = std::move(list);
        }
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string render_versions(std::string_view created_at, const std::vector<VersionsLine>& lines) {
  std::string out = "created_at: " + std::string(created_at) + "\n---\n";
  for (auto& l : lines) {
    out += l.name + " ";
    for (size_t i = 0; i < l.versions.size(); ++i) {
      if (i) out += ',';
      out += l.versions[i];
    }
    out += " " + l.info_md5 + "\n";
  }
  return out;
}

std::string render_names(const std::vector<std::string>& names) {
  std::string out = "---\n";
  for (auto& n : names) out += n + "\n";
  return out;
}

// --- The Gem::Specification of a .gem ---

Result<GemSpec> parse_spec_yaml(std::string_view yaml) {
  GemSpec spec;
  if (nesting_too_deep(yaml))
    return make_error(Errc::invalid_argument, "the gem's metadata is nested deeper than a Gem::Specification");
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return make_error(Errc::invalid_argument, "the gem's metadata is not a Gem::Specification");
    spec.name = scalar(root["name"]);
    spec.version = yaml_version(root["version"]);
    std::string platform = scalar(root["platform"]);
    if (!platform.empty()) spec.platform = platform;
    if (!valid_name(spec.name))
      return make_error(Errc::invalid_argument, "the gemspec's name '" + spec.name + "' is not a valid gem name");
    if (!valid_version(spec.version))
      return make_error(Errc::invalid_argument, "the gemspec's version '" + spec.version + "' is not valid");
    if (!valid_platform(spec.platform))
      return make_error(Errc::invalid_argument, "the gemspec's platform '" + spec.platform + "' is not valid");
    spec.summary = scalar(root["summary"]);
    spec.description = scalar(root["description"]);
    spec.homepage = scalar(root["homepage"]);
    spec.rubygems_version = scalar(root["rubygems_version"]);
    spec.authors = scalars(root["authors"]);
    spec.email = scalars(root["email"]);
    spec.licenses = scalars(root["licenses"]);
    ARCA_TRY(auto ruby_req, yaml_requirement(root["required_ruby_version"], "required_ruby_version"));
    spec.required_ruby = std::move(ruby_req);
    ARCA_TRY(auto gems_req, yaml_requirement(root["required_rubygems_version"], "required_rubygems_version"));
    spec.required_rubygems = std::move(gems_req);
    if (YAML::Node deps = root["dependencies"]; deps && deps.IsSequence()) {
      if (deps.size() > 1000)
        return make_error(Errc::invalid_argument, "the gemspec has more than 1000 dependencies");
      for (const auto& d : deps) {
        if (!d.IsMap()) return make_error(Errc::invalid_argument, "the gemspec has a dependency that is not a Gem::Dependency");
        Dependency dep;
        dep.name = scalar(d["name"]);
        if (!valid_name(dep.name))
          return make_error(Errc::invalid_argument, "the gemspec has a dependency named '" + dep.name + "', not a valid gem name");
        ARCA_TRY(auto reqs, yaml_requirement(d["requirement"], "dependency " + dep.name));
        dep.requirements = std::move(reqs);
        dep.runtime = scalar(d["type"]) != ":development";
        spec.dependencies.push_back(std::move(dep));
      }
    }
    if (YAML::Node meta = root["metadata"]; meta && meta.IsMap()) {
      for (const auto& kv : meta) {
        if (kv.first.IsScalar() && kv.second.IsScalar())
          spec.metadata[kv.first.as<std::string>()] = kv.second.as<std::string>();
      }
    }
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, std::string("the gem's metadata is not valid YAML: ") + e.what());
  }
  return spec;
}

Result<GemSpec> read_gem(std::string_view gem) {
  constexpr uint64_t k_max_metadata = 1 << 20;
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), gem.data(), gem.size()) != ARCHIVE_OK)
    return make_error(Errc::invalid_argument, "the package is not a gem (not a tar archive)");
  archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return make_error(Errc::invalid_argument, "the package is not a gem (not a readable tar archive)");
    const char* raw = archive_entry_pathname(entry);
    if (!raw || std::string_view(raw) != "metadata.gz") continue;
    if (archive_entry_size_is_set(entry) && static_cast<uint64_t>(archive_entry_size(entry)) > k_max_metadata)
      return make_error(Errc::invalid_argument, "the gem's metadata.gz is too large");
    std::string gz;
    std::array<char, 16384> buf;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) return make_error(Errc::invalid_argument, "the gem's metadata.gz cannot be read");
      if (n == 0) break;
      gz.append(buf.data(), static_cast<size_t>(n));
      if (gz.size() > k_max_metadata) return make_error(Errc::invalid_argument, "the gem's metadata.gz is too large");
    }
    auto yaml = gzip_decompress(gz, 4 * k_max_metadata);
    if (!yaml) return make_error(Errc::invalid_argument, "the gem's metadata.gz is not gzip data");
    return parse_spec_yaml(*yaml);
  }
  return make_error(Errc::invalid_argument, "the package is not a gem (no metadata.gz)");
}

Entry to_entry(const GemSpec& spec, std::string checksum) {
  Entry e;
  e.version = spec.version;
  e.platform = spec.platform;
  for (auto& d : spec.dependencies)
    if (d.runtime) e.dependencies.push_back(d);
  e.checksum = std::move(checksum);
  e.required_ruby = spec.required_ruby;
  e.required_rubygems = spec.required_rubygems;
  return e;
}

// --- Ruby Marshal documents ---

GemSpec spec_of(std::string_view name, const Entry& entry) {
  GemSpec s;
  s.name = std::string(name);
  s.version = entry.version;
  s.platform = entry.platform;
  s.dependencies = entry.dependencies;
  s.required_ruby = entry.required_ruby;
  s.required_rubygems = entry.required_rubygems;
  return s;
}

std::string marshal_spec(const GemSpec& spec) {
  // Gem::Specification#_dump: Marshal.dump of this 19-field array; _load reads it back.
  MarshalWriter in;
  in.array(19);
  in.string(spec.rubygems_version.empty() ? "3.3.15" : spec.rubygems_version);
  in.integer(4);  // specification_version
  in.string(spec.name);
  in.version(spec.version);
  in.nil();  // date: _load sets today
  in.string(spec.summary);
  in.requirement(spec.required_ruby);
  in.requirement(spec.required_rubygems);
  in.string(spec.platform);  // original_platform
  in.array(spec.dependencies.size());
  for (auto& d : spec.dependencies) {
    in.object("Gem::Dependency", 5);
    in.symbol("@name");
    in.string(d.name);
    in.symbol("@requirement");
    in.requirement(d.requirements);
    in.symbol("@type");
    in.symbol(d.runtime ? "runtime" : "development");
    in.symbol("@prerelease");
    in.boolean(false);
    in.symbol("@version_requirements");
    in.requirement(d.requirements);
  }
  in.string("");  // rubyforge_project
  if (spec.email.empty()) {
    in.nil();
  } else {
    in.string_array(spec.email);
  }
  in.string_array(spec.authors);
  in.string(spec.description);
  in.string(spec.homepage);
  in.boolean(true);  // has_rdoc
  in.string(spec.platform);  // new_platform
  in.string_array(spec.licenses);
  in.hash(spec.metadata.size());
  for (auto& [k, v] : spec.metadata) {
    in.string(k);
    in.string(v);
  }
  MarshalWriter out;
  out.user_dump("Gem::Specification", in.take());
  return out.take();
}

std::string marshal_spec_tuples(const std::vector<std::pair<std::string, Entry>>& tuples) {
  MarshalWriter w;
  w.array(tuples.size());
  for (auto& [name, e] : tuples) {
    w.array(3);
    w.string(name);
    w.version(e.version);
    w.string(e.platform);
  }
  return w.take();
}

std::string marshal_dependency_list(const std::vector<std::pair<std::string, Entry>>& entries) {
  MarshalWriter w;
  w.array(entries.size());
  for (auto& [name, e] : entries) {
    w.hash(4);
    w.symbol("name");
    w.string(name);
    w.symbol("number");
    w.string(e.version);
    w.symbol("platform");
    w.string(e.platform);
    w.symbol("dependencies");
    w.array(e.dependencies.size());
    for (auto& d : e.dependencies) {
      w.array(2);
      w.string(d.name);
      std::string req;
      for (auto& r : d.requirements) req += (req.empty() ? "" : ", ") + r;
      w.string(req.empty() ? ">= 0" : req);
    }
  }
  return w.take();
}

std::string zlib_deflate(std::string_view data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                Z_BEST_COMPRESSION) != Z_OK) {
    return std::string();
  }
  out.resize(size);
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  for (auto pair : split(body, '&')) {
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (key && value) out[*key] = *value;
  }
  return out;
}

}  // namespace arca::formats::ruby
