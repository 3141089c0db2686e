#include "formats/cargo/cargo.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace arca::formats::cargo {

using json = nlohmann::json;

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Dot-separated identifiers of [0-9A-Za-z-], none empty; numeric ones without leading zeros
// when `numeric_rule`.
bool valid_identifiers(std::string_view s, bool numeric_rule) {
  if (s.empty()) return false;
  for (auto id : split(s, '.')) {
    if (id.empty()) return false;
    bool numeric = true;
    for (char c : id) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
      if (!is_digit(c)) numeric = false;
    }
    if (numeric_rule && numeric && id.size() > 1 && id[0] == '0') return false;
  }
  return true;
}

bool valid_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  if (!std::all_of(s.begin(), s.end(), is_digit)) return false;
  return s.size() == 1 || s[0] != '0';
}

struct Parsed {
  std::vector<uint64_t> core;
  std::string_view pre;
};

std::optional<Parsed> parse_version(std::string_view v) {
  if (!valid_version(v)) return std::nullopt;
  v = v.substr(0, v.find('+'));
  Parsed p;
  size_t dash = v.find('-');
  if (dash != std::string_view::npos) p.pre = v.substr(dash + 1);
  for (auto n : split(v.substr(0, dash), '.')) {
    uint64_t x = 0;
    for (char c : n) x = x * 10 + static_cast<uint64_t>(c - '0');
    p.core.push_back(x);
  }
  return p;
}

int compare_identifier(std::string_view a, std::string_view b) {
  const bool an = std::all_of(a.begin(), a.end(), is_digit);
  const bool bn = std::all_of(b.begin(), b.end(), is_digit);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    int c = a.compare(b);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

uint32_t read_u32le(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[at])) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3])) << 24;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

}  // namespace

Result<void> check_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::invalid_argument, "the crate name is empty");
  if (name.size() > 64)
    return make_error(Errc::invalid_argument, "the crate name is longer than 64 characters");
  if (!is_alpha(name[0]))
    return make_error(Errc::invalid_argument, "invalid crate name '" + std::string(name) +
                                                  "': the first character must be an ASCII letter");
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') {
      std::string shown =
          (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
              ? "a non-printable or non-ASCII character"
              : std::string("'") + c + "'";
      return make_error(Errc::invalid_argument,
                        "invalid crate name: " + shown +
                            " is not allowed (only ASCII letters, digits, '-' and '_')");
    }
  }
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string stored_name(std::string_view name) {
  std::string out = lower(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::string index_prefix(std::string_view name) {
  switch (name.size()) {
    case 0:
      return "";
    case 1:
      return "1";
    case 2:
      return "2";
    case 3:
      return "3/" + std::string(name.substr(0, 1));
    default:
      return std::string(name.substr(0, 2)) + "/" + std::string(name.substr(2, 2));
  }
}

std::string index_path(std::string_view name) {
  const std::string l = lower(name);
  return index_prefix(l) + "/" + l;
}

Result<std::string> parse_index_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos)
    return make_error(Errc::invalid_argument, "not an index path: " + std::string(path));
  std::string name(path.substr(slash + 1));
  ARCA_TRY_VOID(check_name(name));
  if (index_prefix(lower(name)) != path.substr(0, slash))
    return make_error(Errc::invalid_argument, "not an index path: " + std::string(path) +
                                                  " (the index file of " + name + " is " +
                                                  index_path(name) + ")");
  return name;
}

bool valid_version(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  std::string_view build;
  if (size_t plus = v.find('+'); plus != std::string_view::npos) {
    build = v.substr(plus + 1);
    if (!valid_identifiers(build, false)) return false;
    v = v.substr(0, plus);
  }
  std::string_view pre;
  if (size_t dash = v.find('-'); dash != std::string_view::npos) {
    pre = v.substr(dash + 1);
    if (!valid_identifiers(pre, true)) return false;
    v = v.substr(0, dash);
  }
  auto core = split(v, '.');
  if (core.size() != 3) return false;
  return std::all_of(core.begin(), core.end(), valid_number);
}

int compare_versions(std::string_view a, std::string_view b) {
  auto pa = parse_version(a), pb = parse_version(b);
  if (!pa || !pb) {
    if (!pa && !pb) {
      int c = a.compare(b);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    return !pa ? -1 : 1;
  }
  for (size_t i = 0; i < 3; ++i) {
    if (pa->core[i] != pb->core[i]) return pa->core[i] < pb->core[i] ? -1 : 1;
  }
  if (pa->pre.empty() != pb->pre.empty()) return pa->pre.empty() ? 1 : -1;
  auto ia = split(pa->pre, '.'), ib = split(pb->pre, '.');
  if (pa->pre.empty()) return 0;
  for (size_t i = 0; i < std::min(ia.size(), ib.size()); ++i) {
    if (int c = compare_identifier(ia[i], ib[i]); c != 0) return c;
  }
  if (ia.size() != ib.size()) return ia.size() < ib.size() ? -1 : 1;
  return 0;
}

std::string without_build(std::string_view version) {
  return std::string(version.substr(0, version.find('+')));
}

std::string asset_name(std::string_view stored, std::string_view version) {
  return std::string(stored) + "-" + std::string(version) + ".crate";
}

Result<std::vector<json>> parse_index_file(std::string_view body) {
  std::vector<json> out;
  size_t parsed_lines = 0, lines = 0;
  for (auto line : split(body, '\n')) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    ++lines;
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    ++parsed_lines;
    const std::string cksum = str(j, "cksum");
    if (str(j, "name").empty() || !valid_version(str(j, "vers")) || cksum.size() != 64 ||
        !std::all_of(cksum.begin(), cksum.end(), is_hex))
      continue;
    out.push_back(std::move(j));
  }
  if (lines > 0 && parsed_lines == 0)
    return make_error(Errc::upstream_error, "the index file is not JSON lines");
  return out;
}

std::string render_index_file(const std::vector<json>& entries) {
  std::string out;
  for (auto& e : entries) {
    out += dump(e);
    out += '\n';
  }
  return out;
}

std::string download_url(std::string_view dl, std::string_view name, std::string_view version,
                         std::string_view cksum) {
  std::string url(dl);
  static constexpr std::string_view k_markers[] = {"{crate}", "{version}", "{prefix}",
                                                   "{lowerprefix}", "{sha256-checksum}"};
  const bool templated =
      std::any_of(std::begin(k_markers), std::end(k_markers),
                  [&](std::string_view m) { return url.find(m) != std::string::npos; });
  if (!templated) {
    if (!url.empty() && url.back() == '/') url.pop_back();
    return url + "/" + std::string(name) + "/" + std::string(version) + "/download";
  }
  replace_all(url, "{crate}", name);
  replace_all(url, "{version}", version);
  replace_all(url, "{lowerprefix}", lower(index_prefix(name)));
  replace_all(url, "{prefix}", index_prefix(name));
  replace_all(url, "{sha256-checksum}", cksum);
  return url;
}

json dependencies(const json& entry) {
  json out = json::array();
  auto deps = entry.find("deps");
  if (deps == entry.end() || !deps->is_array()) return out;
  for (auto& d : *deps) {
    if (!d.is_object()) continue;
    std::string package = str(d, "package");
    if (package.empty()) package = str(d, "name");
    if (package.empty()) continue;
    std::string kind = str(d, "kind");
    if (kind.empty()) kind = "normal";
    out.push_back(
        {{"package", package}, {"dependencyType", kind}, {"versionRequirement", str(d, "req")}});
  }
  return out;
}

Result<Publish> parse_publish(std::string_view body) {
  auto bad = [](std::string what) {
    return make_error(Errc::invalid_argument, "invalid publish request: " + what);
  };
  if (body.size() < 4) return bad("the body is shorter than its 4-byte JSON length");
  const uint64_t json_len = read_u32le(body, 0);
  if (json_len > body.size() - 4) return bad("the JSON length is past the end of the body");
  const std::string_view text = body.substr(4, json_len);
  const size_t crate_at = 4 + json_len;
  if (body.size() - crate_at < 4) return bad("the body ends before the crate's 4-byte length");
  const uint64_t crate_len = read_u32le(body, crate_at);
  if (crate_len != body.size() - crate_at - 4)
    return bad("the crate length (" + std::to_string(crate_len) + ") does not match the " +
               std::to_string(body.size() - crate_at - 4) + " bytes that follow it");
  if (crate_len == 0) return bad("the .crate file is empty");
  Publish p;
  p.metadata = json::parse(text, nullptr, false);
  if (p.metadata.is_discarded() || !p.metadata.is_object())
    return bad("the metadata is not a JSON object");
  p.name = str(p.metadata, "name");
  p.version = str(p.metadata, "vers");
  if (auto r = check_name(p.name); !r) return r.error();
  if (!valid_version(p.version))
    return make_error(Errc::invalid_argument, "invalid version '" + p.version +
                                                  "': not a semantic version (MAJOR.MINOR.PATCH)");
  if (auto deps = p.metadata.find("deps"); deps != p.metadata.end()) {
    if (!deps->is_array()) return bad("\"deps\" is not an array");
    for (auto& d : *deps) {
      if (!d.is_object() || str(d, "name").empty() || str(d, "version_req").empty())
        return bad("a dependency without \"name\" or \"version_req\"");
      if (auto r = check_name(str(d, "name")); !r) return bad("dependency: " + r.error().message);
    }
  }
  if (auto f = p.metadata.find("features");
      f != p.metadata.end() && !f->is_object() && !f->is_null())
    return bad("\"features\" is not an object");
  p.crate = body.substr(crate_at + 4);
  return p;
}

json index_entry(const Publish& publish, std::string_view cksum) {
  const json& m = publish.metadata;
  json deps = json::array();
  if (auto d = m.find("deps"); d != m.end() && d->is_array()) {
    for (auto& dep : *d) {
      json out;
      const std::string explicit_name = str(dep, "explicit_name_in_toml");
      out["name"] = explicit_name.empty() ? str(dep, "name") : explicit_name;
      out["req"] = str(dep, "version_req");
      out["features"] =
          dep.contains("features") && dep["features"].is_array() ? dep["features"] : json::array();
      out["optional"] = dep.value("optional", false);
      out["default_features"] = dep.value("default_features", true);
      out["target"] = dep.contains("target") ? dep["target"] : json(nullptr);
      std::string kind = str(dep, "kind");
      out["kind"] = kind.empty() ? "normal" : kind;
      if (auto r = dep.find("registry"); r != dep.end() && r->is_string()) out["registry"] = *r;
      if (!explicit_name.empty()) out["package"] = str(dep, "name");
      deps.push_back(std::move(out));
    }
  }
  json features = json::object(), features2 = json::object();
  if (auto f = m.find("features"); f != m.end() && f->is_object()) {
    for (auto& [name, values] : f->items()) {
      bool new_syntax = false;
      if (values.is_array()) {
        for (auto& v : values) {
          if (!v.is_string()) continue;
          const auto s = v.get<std::string>();
          if (s.rfind("dep:", 0) == 0 || s.find("?/") != std::string::npos) new_syntax = true;
        }
      }
      (new_syntax ? features2 : features)[name] = values;
    }
  }
  json entry = {{"name", publish.name},        {"vers", publish.version}, {"deps", deps},
                {"cksum", std::string(cksum)}, {"features", features},    {"yanked", false}};
  entry["links"] = m.contains("links") ? m["links"] : json(nullptr);
  if (!features2.empty()) {
    entry["features2"] = features2;
    entry["v"] = 2;
  }
  if (auto rv = m.find("rust_version"); rv != m.end() && rv->is_string())
    entry["rust_version"] = *rv;
  return entry;
}

std::string error_body(std::string_view detail) {
  return dump(json{{"errors", json::array({json{{"detail", std::string(detail)}}})}});
}

}  // namespace arca::formats::cargo
