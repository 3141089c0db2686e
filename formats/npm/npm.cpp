#include "formats/npm/npm.hpp"

#include "common/json_depth.hpp"
#include "common/url.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

namespace arca::formats::npm {

namespace {

// validate-npm-package-name: "name length cannot exceed 214" (checked on the full name).
constexpr size_t k_max_name_length = 214;
constexpr size_t k_max_version_length = 256;

// The characters encodeURIComponent leaves unescaped (ECMA-262 "uriUnreserved"): npm's
// "name can only contain URL-friendly characters" check for old packages.
bool url_friendly(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '!':
    case '~':
    case '*':
    case '\'':
    case '(':
    case ')':
      return true;
    default:
      return false;
  }
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

Error bad_name(std::string reason) {
  return make_error(Errc::invalid_argument, "invalid package name: " + std::move(reason));
}

// Checks one component (the unscoped name, or the scope or name part of a scoped name).
std::optional<Error> check_name_part(std::string_view part, std::string_view what) {
  if (part.empty()) return bad_name(std::string(what) + " is empty");
  for (char c : part) {
    if (!url_friendly(c)) {
      return bad_name(std::string(what) + " can only contain URL-friendly characters");
    }
  }
  // Covers "." and ".." too: no component can ever be a path step.
  if (part.front() == '.') return bad_name(std::string(what) + " cannot start with a period");
  if (part.find("..") != std::string_view::npos) {
    return bad_name(std::string(what) + " cannot contain \"..\"");
  }
  return std::nullopt;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// --- semver ---

// A loose semver 2.0.0 version: views into the caller's string.
struct SemVer {
  std::string_view major, minor, patch;
  std::vector<std::string_view> pre;  // empty: a release
};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool identifier_chars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

// Splits on '.', requiring every identifier to be non-empty [0-9A-Za-z-]+.
bool split_identifiers(std::string_view s, std::vector<std::string_view>* out) {
  while (true) {
    size_t dot = s.find('.');
    std::string_view id = s.substr(0, dot);
    if (!identifier_chars(id)) return false;
    if (out) out->push_back(id);
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::optional<SemVer> parse_semver(std::string_view s) {
  // npm semver's loose mode: leading "v", "=" and whitespace, trailing whitespace.
  while (!s.empty() &&
         (s.front() == 'v' || s.front() == 'V' || s.front() == '=' || is_space(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);

  size_t plus = s.find('+');
  if (plus != std::string_view::npos) {
    if (!split_identifiers(s.substr(plus + 1), nullptr)) return std::nullopt;
    s = s.substr(0, plus);
  }
  SemVer v;
  size_t dash = s.find('-');
  if (dash != std::string_view::npos) {
    if (!split_identifiers(s.substr(dash + 1), &v.pre)) return std::nullopt;
    s = s.substr(0, dash);
  }
  size_t d1 = s.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = s.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  v.major = s.substr(0, d1);
  v.minor = s.substr(d1 + 1, d2 - d1 - 1);
  v.patch = s.substr(d2 + 1);
  if (!all_digits(v.major) || !all_digits(v.minor) || !all_digits(v.patch)) return std::nullopt;
  return v;
}

int sign(int x) { return (x > 0) - (x < 0); }

// Compares two digit strings numerically, whatever their length.
int compare_numeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

// semver 2.0.0 §11.4: numeric identifiers compare numerically and below alphanumeric ones,
// alphanumeric ones compare in ASCII order, and a longer list wins when all before are equal.
int compare_prerelease(const std::vector<std::string_view>& a,
                       const std::vector<std::string_view>& b) {
  if (a.empty() || b.empty()) {
    // A release has higher precedence than any of its pre-releases (§11.3).
    if (a.empty() && b.empty()) return 0;
    return a.empty() ? 1 : -1;
  }
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool an = all_digits(a[i]);
    bool bn = all_digits(b[i]);
    int c;
    if (an && bn)
      c = compare_numeric(a[i], b[i]);
    else if (an)
      c = -1;
    else if (bn)
      c = 1;
    else
      c = sign(a[i].compare(b[i]));
    if (c != 0) return c;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  if (int c = compare_numeric(a.major, b.major)) return c;
  if (int c = compare_numeric(a.minor, b.minor)) return c;
  if (int c = compare_numeric(a.patch, b.patch)) return c;
  return compare_prerelease(a.pre, b.pre);
}

// --- JSON helpers ---

const json* find_member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const std::string* find_string(const json& obj, const char* key) {
  const json* v = find_member(obj, key);
  return v && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

const json* find_object(const json& obj, const char* key) {
  const json* v = find_member(obj, key);
  return v && v->is_object() ? v : nullptr;
}

// The first "sha512-<base64>" entry of an SRI string that decodes to 64 bytes.
// Returns {found any sha512 entry, digest if one decoded}.
std::pair<bool, std::optional<Sha512>> sri_sha512_of(std::string_view sri) {
  bool seen = false;
  size_t i = 0;
  while (i < sri.size()) {
    while (i < sri.size() && is_space(sri[i])) ++i;
    size_t start = i;
    while (i < sri.size() && !is_space(sri[i])) ++i;
    std::string_view token = sri.substr(start, i - start);
    constexpr std::string_view prefix = "sha512-";
    if (token.substr(0, prefix.size()) != prefix) continue;
    seen = true;
    token.remove_prefix(prefix.size());
    token = token.substr(0, token.find('?'));  // SRI options ("?foo") are not part of the hash
    auto bytes = base64_decode(token);
    if (!bytes || bytes->size() != 64) continue;
    Sha512 d{};
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return {true, d};
  }
  return {seen, std::nullopt};
}

std::optional<PackageName> name_of_document(const json& doc) {
  for (const char* key : {"name", "_id"}) {
    if (const std::string* s = find_string(doc, key)) {
      if (auto n = parse_package_name(*s)) return *n;
    }
  }
  return std::nullopt;
}

// Picks "latest" when no source's latest survives the merge: the highest release, else the
// highest pre-release, else the highest non-semver string (npm itself never installs a
// pre-release for "*" when a release exists).
std::optional<std::string> fallback_latest(const json& versions) {
  const std::string* best[3] = {nullptr, nullptr, nullptr};  // release, pre-release, other
  for (auto it = versions.begin(); it != versions.end(); ++it) {
    const std::string& v = it.key();
    auto sv = parse_semver(v);
    int rank = !sv ? 2 : sv->pre.empty() ? 0 : 1;
    if (!best[rank] || compare_versions(v, *best[rank]) > 0) best[rank] = &v;
  }
  for (const std::string* b : best) {
    if (b) return *b;
  }
  return std::nullopt;
}

Error bad_publish(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

// A string from the request, safe to put in an error message: printable ASCII, bounded length.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (s.size() > 100) out += "...";
  return out;
}

Result<PublishRequest> parse_publish_impl(std::string_view body, const PackageName& url_name) {
  ARCA_TRY(json doc, parse_json_object(body, Errc::invalid_argument));
  const std::string full = url_name.full();

  const std::string* name = find_string(doc, "name");
  if (!name) return bad_publish("publish body has no name");
  if (*name != full) return bad_publish("package name in body does not match the URL");
  if (const json* id = find_member(doc, "_id")) {
    if (!id->is_string() || id->get_ref<const std::string&>() != full) {
      return bad_publish("_id in body does not match the URL");
    }
  }

  const json* versions = find_object(doc, "versions");
  if (!versions || versions->empty()) return bad_publish("publish body has no versions");
  for (auto it = versions->begin(); it != versions->end(); ++it) {
    const std::string& v = it.key();
    if (!valid_version(v)) return bad_publish("invalid version \"" + printable(v) + "\"");
    if (!it->is_object()) return bad_publish("manifest of " + v + " is not an object");
    const std::string* mname = find_string(*it, "name");
    if (!mname || *mname != full) return bad_publish("manifest of " + v + " names another package");
    const std::string* mversion = find_string(*it, "version");
    if (!mversion || *mversion != v)
      return bad_publish("manifest of " + v + " has another version");
  }

  json dist_tags = json::object();
  if (const json* tags = find_member(doc, "dist-tags")) {
    if (!tags->is_object()) return bad_publish("dist-tags is not an object");
    for (auto it = tags->begin(); it != tags->end(); ++it) {
      if (!valid_version(it.key()))
        return bad_publish("invalid dist-tag \"" + printable(it.key()) + "\"");
      if (!it->is_string() || !valid_version(it->get_ref<const std::string&>())) {
        return bad_publish("dist-tag " + it.key() + " does not name a valid version");
      }
      dist_tags[it.key()] = *it;
    }
  }

  const json* attachments = find_object(doc, "_attachments");
  if (!attachments || attachments->empty()) return bad_publish("no attachments");

  PublishRequest req;
  req.name = url_name;
  for (auto it = attachments->begin(); it != attachments->end(); ++it) {
    std::string_view key = it.key();
    if (!ends_with(key, ".tgz")) continue;  // e.g. "<name>-<v>.sigstore" provenance bundles
    // npm names the attachment "<manifest.name>-<version>.tgz", which for a scoped package is
    // "@scope/name-1.0.0.tgz"; accept that and the unscoped form.
    std::string_view file = key;
    if (!url_name.scope.empty()) {
      std::string scope_prefix = "@" + url_name.scope + "/";
      if (file.substr(0, scope_prefix.size()) == scope_prefix)
        file.remove_prefix(scope_prefix.size());
    }
    auto version = version_from_tarball_filename(url_name, file);
    if (!version || !versions->contains(*version)) {
      return bad_publish("attachment \"" + printable(key) + "\" matches no version in the body");
    }
    for (const Attachment& a : req.attachments) {
      if (a.version == *version) return bad_publish("two attachments for version " + *version);
    }
    if (!it->is_object()) return bad_publish("attachment " + printable(key) + " is not an object");
    const std::string* data = find_string(*it, "data");
    if (!data) return bad_publish("attachment " + printable(key) + " has no data");
    auto bytes = base64_decode(*data);
    if (!bytes) return bad_publish("attachment " + printable(key) + " is not valid base64");
    if (const json* length = find_member(*it, "length")) {
      bool ok = (length->is_number_unsigned() && length->get<uint64_t>() == bytes->size()) ||
                (length->is_number_integer() && length->get<int64_t>() >= 0 &&
                 static_cast<uint64_t>(length->get<int64_t>()) == bytes->size());
      if (!ok)
        return bad_publish("attachment " + printable(key) + " length does not match its data");
    }
    std::string filename = tarball_filename(url_name, *version);

    // Verify the bytes against what the manifest declares.
    const json& manifest = *versions->find(*version);
    if (const json* dist = find_member(manifest, "dist")) {
      if (!dist->is_object()) return bad_publish("dist of " + *version + " is not an object");
      bool need_sha512 = false;
      std::optional<Sha512> sha512;
      std::optional<Sha1> sha1;
      if (const json* integrity = find_member(*dist, "integrity")) {
        if (!integrity->is_string())
          return bad_publish("dist.integrity of " + *version + " is not a string");
        auto [seen, d] = sri_sha512_of(integrity->get_ref<const std::string&>());
        if (seen && !d) return bad_publish("malformed dist.integrity for " + filename);
        need_sha512 = seen;
        sha512 = d;
      }
      if (const json* shasum = find_member(*dist, "shasum")) {
        if (!shasum->is_string())
          return bad_publish("dist.shasum of " + *version + " is not a string");
        sha1 = from_hex<20>(shasum->get_ref<const std::string&>());
        if (!sha1) return bad_publish("malformed dist.shasum for " + filename);
      }
      if (need_sha512 || sha1) {
        Digests digests = digest_of(*bytes);
        if ((sha512 && *sha512 != digests.sha512) || (sha1 && *sha1 != digests.sha1)) {
          return bad_publish("integrity mismatch for " + filename);
        }
      }
    }
    req.attachments.push_back(Attachment{std::move(filename), std::move(*bytes), *version});
  }
  for (auto it = versions->begin(); it != versions->end(); ++it) {
    bool found = std::any_of(req.attachments.begin(), req.attachments.end(),
                             [&](const Attachment& a) { return a.version == it.key(); });
    if (!found) return bad_publish("no attachment for version " + it.key());
  }
  req.versions = std::move(doc["versions"]);
  req.dist_tags = std::move(dist_tags);
  return req;
}

}  // namespace

// --- names and versions ---

Result<PackageName> parse_package_name(std::string_view full) {
  if (full.empty()) return bad_name("name is empty");
  if (full.size() > k_max_name_length) return bad_name("name is longer than 214 characters");
  PackageName out;
  if (full.front() == '@') {
    std::string_view rest = full.substr(1);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return bad_name("scoped name must be @scope/name");
    std::string_view scope = rest.substr(0, slash);
    std::string_view name = rest.substr(slash + 1);
    if (auto e = check_name_part(scope, "scope")) return *e;
    if (name.find('/') != std::string_view::npos) return bad_name("name has more than one '/'");
    if (auto e = check_name_part(name, "name")) return *e;
    out.scope = std::string(scope);
    out.name = std::string(name);
    return out;
  }
  if (auto e = check_name_part(full, "name")) return *e;
  if (full.front() == '_') return bad_name("name cannot start with an underscore");
  for (std::string_view reserved : {"node_modules", "favicon.ico"}) {
    if (iequals(full, reserved))
      return bad_name(std::string(reserved) + " is not a valid package name");
  }
  out.name = std::string(full);
  return out;
}

std::string escaped_name(const PackageName& name) {
  return name.scope.empty() ? name.name : "@" + name.scope + "%2f" + name.name;
}

bool valid_version(std::string_view version) {
  if (version.empty() || version.size() > k_max_version_length) return false;
  if (version == "." || version == "..") return false;
  for (char ch : version) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;  // controls, space, DEL, non-ASCII
    if (c == '/' || c == '\\' || c == '%' || c == '?' || c == '#') return false;
  }
  return true;
}

std::string tarball_filename(const PackageName& name, std::string_view version) {
  std::string out;
  out.reserve(name.name.size() + version.size() + 5);
  out += name.name;
  out += '-';
  out += version;
  out += ".tgz";
  return out;
}

std::optional<std::string> version_from_tarball_filename(const PackageName& name,
                                                         std::string_view file) {
  constexpr std::string_view suffix = ".tgz";
  if (file.size() < name.name.size() + 1 + suffix.size()) return std::nullopt;
  if (file.substr(0, name.name.size()) != name.name || file[name.name.size()] != '-') {
    return std::nullopt;
  }
  if (!ends_with(file, suffix)) return std::nullopt;
  std::string_view version =
      file.substr(name.name.size() + 1, file.size() - name.name.size() - 1 - suffix.size());
  if (!valid_version(version)) return std::nullopt;
  return std::string(version);
}

std::string tarball_url(std::string_view base, const PackageName& name, std::string_view version) {
  std::string out(base);
  out += name.full();
  out += "/-/";
  out += tarball_filename(name, version);
  return out;
}

// --- documents ---

std::optional<Dist> dist_of(const json& version_manifest) {
  try {
    const json* dist = find_object(version_manifest, "dist");
    if (!dist) return std::nullopt;
    const std::string* tarball = find_string(*dist, "tarball");
    if (!tarball) return std::nullopt;
    Dist out;
    out.tarball = *tarball;
    if (const std::string* integrity = find_string(*dist, "integrity")) {
      out.sha512 = sri_sha512_of(*integrity).second;
    }
    if (const std::string* shasum = find_string(*dist, "shasum")) {
      out.sha1 = from_hex<20>(*shasum);
    }
    return out;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

Result<json> parse_json_object(std::string_view body, Errc code) {
  try {
    if (!json_nesting_within(body)) return make_error(code, "JSON nested too deeply");
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return make_error(code, "invalid JSON");
    if (!doc.is_object()) return make_error(code, "JSON document is not an object");
    return doc;
  } catch (const json::exception& e) {
    return make_error(code, std::string("invalid JSON: ") + e.what());
  }
}

Result<json> parse_packument(std::string_view body) {
  try {
    ARCA_TRY(json doc, parse_json_object(body, Errc::upstream_error));
    auto versions = doc.find("versions");
    if (versions == doc.end() || !versions->is_object()) {
      return make_error(Errc::upstream_error, "packument has no versions object");
    }
    for (auto it = versions->begin(); it != versions->end();) {
      if (!valid_version(it.key()) || !it->is_object()) {
        it = versions->erase(it);
      } else {
        ++it;
      }
    }
    auto tags = doc.find("dist-tags");
    if (tags == doc.end() || !tags->is_object()) {
      doc["dist-tags"] = json::object();
    } else {
      for (auto it = tags->begin(); it != tags->end();) {
        if (!it->is_string()) {
          it = tags->erase(it);
        } else {
          ++it;
        }
      }
    }
    auto time = doc.find("time");
    if (time != doc.end() && !time->is_object()) *time = json::object();
    return doc;
  } catch (const json::exception& e) {
    return make_error(Errc::upstream_error, std::string("malformed packument: ") + e.what());
  }
}

json merge_packuments(const PackageName& name, const std::vector<const json*>& sources) {
  const std::string full = name.full();
  json out = json::object();
  out["_id"] = full;
  out["name"] = full;
  json tags = json::object();
  json versions = json::object();
  json time = json::object();
  try {
    std::vector<const json*> docs;
    for (const json* s : sources) {
      if (s && s->is_object()) docs.push_back(s);
    }

    // Top-level fields: the first source having each.
    for (const json* doc : docs) {
      for (auto it = doc->begin(); it != doc->end(); ++it) {
        const std::string& key = it.key();
        if (key == "_id" || key == "name" || key == "versions" || key == "dist-tags" ||
            key == "time" || key == "_attachments") {
          continue;
        }
        if (!out.contains(key)) out[key] = *it;
      }
    }

    // Versions: an earlier source wins. Record which source supplied each, for "time".
    // nlohmann objects are std::maps, so every lookup and insert is O(log n).
    std::vector<std::pair<const std::string*, const json*>> supplied;  // version, its source
    for (const json* doc : docs) {
      const json* vs = find_object(*doc, "versions");
      if (!vs) continue;
      for (auto it = vs->begin(); it != vs->end(); ++it) {
        if (!valid_version(it.key()) || !it->is_object()) continue;
        auto [pos, inserted] = versions.get_ref<json::object_t&>().emplace(it.key(), *it);
        if (inserted) supplied.emplace_back(&pos->first, doc);
      }
    }

    // Dist-tags: the first source whose tag names a kept version.
    for (const json* doc : docs) {
      const json* ts = find_object(*doc, "dist-tags");
      if (!ts) continue;
      for (auto it = ts->begin(); it != ts->end(); ++it) {
        if (!it->is_string() || tags.contains(it.key())) continue;
        if (versions.contains(it->get_ref<const std::string&>())) tags[it.key()] = *it;
      }
    }
    if (!tags.contains("latest")) {
      if (auto latest = fallback_latest(versions)) tags["latest"] = *latest;
    }

    // Time: created/modified from the first source having each; versions from their supplier.
    for (const char* key : {"created", "modified"}) {
      for (const json* doc : docs) {
        const json* t = find_object(*doc, "time");
        if (const std::string* s = t ? find_string(*t, key) : nullptr) {
          time[key] = *s;
          break;
        }
      }
    }
    for (auto [version, supplier] : supplied) {
      const json* t = find_object(*supplier, "time");
      const std::string* s = t ? find_string(*t, version->c_str()) : nullptr;
      for (size_t i = 0; !s && i < docs.size(); ++i) {
        t = find_object(*docs[i], "time");
        s = t ? find_string(*t, version->c_str()) : nullptr;
      }
      if (s) time[*version] = *s;
    }
  } catch (const json::exception&) {
    // Not reachable with the checks above; keep what was built rather than throw.
  }
  out["dist-tags"] = std::move(tags);
  out["versions"] = std::move(versions);
  out["time"] = std::move(time);
  return out;
}

void rewrite_tarball_urls(json& packument, const PackageName& name, std::string_view base) {
  try {
    if (!packument.is_object()) return;
    auto versions = packument.find("versions");
    if (versions == packument.end() || !versions->is_object()) return;
    for (auto it = versions->begin(); it != versions->end(); ++it) {
      if (!valid_version(it.key()) || !it->is_object()) continue;
      auto dist = it->find("dist");
      if (dist == it->end() || !dist->is_object()) continue;
      (*dist)["tarball"] = tarball_url(base, name, it.key());
    }
  } catch (const json::exception&) {
  }
}

void rewrite_tarball_urls(json& packument, std::string_view base) {
  if (auto name = name_of_document(packument)) rewrite_tarball_urls(packument, *name, base);
}

json abbreviate(const json& full) {
  // https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md plus the
  // fields npm's registry has added since (deprecated, hasInstallScript, funding, ...).
  static constexpr std::array k_version_fields = {
      "name",
      "version",
      "dependencies",
      "optionalDependencies",
      "devDependencies",
      "peerDependencies",
      "peerDependenciesMeta",
      "bundleDependencies",
      "bundledDependencies",
      "acceptDependencies",
      "bin",
      "directories",
      "dist",
      "engines",
      "os",
      "cpu",
      "libc",
      "deprecated",
      "_hasShrinkwrap",
      "hasInstallScript",
      "funding",
      "license",
  };
  json out = json::object();
  try {
    if (!full.is_object()) return out;
    if (const std::string* name = find_string(full, "name")) out["name"] = *name;
    if (const json* time = find_object(full, "time")) {
      if (const std::string* modified = find_string(*time, "modified")) out["modified"] = *modified;
    }
    out["dist-tags"] = json::object();
    if (const json* tags = find_object(full, "dist-tags")) out["dist-tags"] = *tags;
    json versions = json::object();
    if (const json* vs = find_object(full, "versions")) {
      for (auto it = vs->begin(); it != vs->end(); ++it) {
        if (!it->is_object()) continue;
        json v = json::object();
        for (const char* field : k_version_fields) {
          if (const json* value = find_member(*it, field)) v[field] = *value;
        }
        if (!v.contains("hasInstallScript")) {
          // As the registry does: an install-time script means npm must run it.
          if (const json* scripts = find_object(*it, "scripts")) {
            for (const char* s : {"preinstall", "install", "postinstall"}) {
              if (scripts->contains(s)) {
                v["hasInstallScript"] = true;
                break;
              }
            }
          }
        }
        versions.get_ref<json::object_t&>().emplace(it.key(), std::move(v));
      }
    }
    out["versions"] = std::move(versions);
  } catch (const json::exception&) {
  }
  return out;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto va = parse_semver(a);
  auto vb = parse_semver(b);
  if (va && vb) return compare_semver(*va, *vb);
  if (va) return -1;  // semver sorts before non-semver
  if (vb) return 1;
  return sign(a.compare(b));
}

bool is_prerelease(std::string_view version) {
  auto v = parse_semver(version);
  return v && !v->pre.empty();
}

// --- publish ---

Result<PublishRequest> parse_publish(std::string_view body, const PackageName& url_name) {
  try {
    return parse_publish_impl(body, url_name);
  } catch (const json::exception& e) {
    return make_error(Errc::invalid_argument, std::string("malformed publish body: ") + e.what());
  }
}

namespace {

// The deprecation message of a manifest: nullopt when absent, empty or not a string.
std::optional<std::string> deprecation_of(const json& manifest) {
  const std::string* d = manifest.is_object() ? find_string(manifest, "deprecated") : nullptr;
  if (!d || d->empty()) return std::nullopt;
  return *d;
}

std::string dist_field(const json& manifest, const char* field) {
  const json* dist = manifest.is_object() ? find_object(manifest, "dist") : nullptr;
  const std::string* v = dist ? find_string(*dist, field) : nullptr;
  return v ? *v : std::string();
}

Result<MetadataUpdate> parse_metadata_update_impl(std::string_view body, const PackageName& url_name,
                                                  const json& current) {
  ARCA_TRY(json doc, parse_json_object(body, Errc::invalid_argument));
  const std::string full = url_name.full();
  const std::string* name = find_string(doc, "name");
  if (name && *name != full) return bad_publish("package name in body does not match the URL");
  if (const json* id = find_member(doc, "_id")) {
    if (!id->is_string() || id->get_ref<const std::string&>() != full) {
      return bad_publish("_id in body does not match the URL");
    }
  }
  const json* versions = find_object(doc, "versions");
  if (!versions) return bad_publish("the body has no versions object");
  static const json empty = json::object();
  const json* known = current.is_object() ? find_object(current, "versions") : nullptr;
  if (!known) known = &empty;
  MetadataUpdate out;
  for (auto it = versions->begin(); it != versions->end(); ++it) {
    auto k = known->find(it.key());
    if (k == known->end()) {
      return bad_publish("version " + printable(it.key()) + " of " + full +
                         " does not exist: new versions are published with npm publish (a tarball is "
                         "required); a metadata update may only change \"deprecated\"");
    }
    if (!it->is_object()) return bad_publish("version " + printable(it.key()) + " is not an object");
    for (const char* field : {"integrity", "shasum"}) {
      std::string sent = dist_field(*it, field);
      if (!sent.empty() && sent != dist_field(*k, field)) {
        return bad_publish("dist." + std::string(field) + " of " + full + "@" + printable(it.key()) +
                           " cannot be changed: a metadata update may only change \"deprecated\"");
      }
    }
    if (const json* d = find_member(*it, "deprecated"); d && !d->is_string()) {
      return bad_publish("\"deprecated\" of " + full + "@" + printable(it.key()) + " must be a string");
    }
    auto now = deprecation_of(*it);
    if (now != deprecation_of(*k)) out.deprecations[it.key()] = std::move(now);
  }
  for (auto k = known->begin(); k != known->end(); ++k) {
    if (!versions->contains(k.key())) {
      return bad_publish("removing " + full + "@" + printable(k.key()) +
                         " is not supported (unpublishing): use aws codeartifact delete-package-versions");
    }
  }
  if (const json* tags = find_member(doc, "dist-tags"); tags && !tags->is_null()) {
    const json* have = current.is_object() ? find_object(current, "dist-tags") : nullptr;
    if (*tags != (have ? *have : empty)) {
      return bad_publish("dist-tags cannot be changed by a metadata update: use npm dist-tag");
    }
  }
  return out;
}

}  // namespace

Result<MetadataUpdate> parse_metadata_update(std::string_view body, const PackageName& url_name,
                                             const json& current) {
  try {
    return parse_metadata_update_impl(body, url_name, current);
  } catch (const json::exception& e) {
    return make_error(Errc::invalid_argument, std::string("malformed metadata update: ") + e.what());
  }
}

bool is_publish_body(const json& body) {
  const json* attachments = find_object(body, "_attachments");
  return attachments && !attachments->empty();
}

std::string error_body(std::string_view message) {
  try {
    json doc = json::object();
    doc["error"] = std::string(message);
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const json::exception&) {
    return R"({"error":"internal error"})";
  }
}

// --- _rev, unpublish ---

std::string packument_rev(const json& packument) {
  size_t versions = 0;
  if (packument.is_object()) {
    if (auto it = packument.find("versions"); it != packument.end() && it->is_object()) {
      versions = it->size();
    }
  }
  std::string text;
  if (packument.is_object() && packument.contains("_rev")) {
    json copy = packument;
    copy.erase("_rev");
    text = copy.dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    text = packument.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return std::to_string(versions) + "-" + to_hex(sha256_of(text)).substr(0, 32);
}

namespace {

Result<std::set<std::string>> parse_unpublish_impl(std::string_view body, const PackageName& url_name,
                                                   const json& current) {
  ARCA_TRY(json doc, parse_json_object(body, Errc::invalid_argument));
  const std::string full = url_name.full();
  const std::string* name = find_string(doc, "name");
  if (name && *name != full) return bad_publish("package name in body does not match the URL");
  if (const json* id = find_member(doc, "_id")) {
    if (!id->is_string() || id->get_ref<const std::string&>() != full) {
      return bad_publish("_id in body does not match the URL");
    }
  }
  const json* versions = find_object(doc, "versions");
  if (!versions) return bad_publish("the body has no versions object");
  static const json empty = json::object();
  const json* known = current.is_object() ? find_object(current, "versions") : nullptr;
  if (!known) known = &empty;
  for (auto it = versions->begin(); it != versions->end(); ++it) {
    if (!known->contains(it.key())) {
      return bad_publish("version " + printable(it.key()) + " of " + full +
                         " does not exist: new versions are published with npm publish");
    }
  }
  std::set<std::string> removed;
  for (auto k = known->begin(); k != known->end(); ++k) {
    if (!versions->contains(k.key())) removed.insert(k.key());
  }
  return removed;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

std::vector<std::string> keywords_of(const json& manifest) {
  std::vector<std::string> out;
  const json* k = manifest.is_object() ? find_member(manifest, "keywords") : nullptr;
  if (!k) return out;
  if (k->is_array()) {
    for (auto& w : *k) {
      if (w.is_string()) out.push_back(w.get<std::string>());
    }
  } else if (k->is_string()) {
    std::string s = k->get<std::string>();
    for (char& c : s) {
      if (c == ',') c = ' ';
    }
    out = words(s);
  }
  return out;
}

std::string string_field(const json& manifest, const char* field) {
  const std::string* v = manifest.is_object() ? find_string(manifest, field) : nullptr;
  return v ? *v : std::string();
}

// A URL given as a string or as {url}.
std::string url_field(const json& manifest, const char* field) {
  const json* v = manifest.is_object() ? find_member(manifest, field) : nullptr;
  if (!v) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {
    if (const std::string* u = find_string(*v, "url")) return *u;
  }
  return {};
}

// {username, email} from a manifest's {name, email} person.
std::optional<json> person(const json& p) {
  if (!p.is_object()) return std::nullopt;
  const std::string* n = find_string(p, "name");
  if (!n || n->empty()) return std::nullopt;
  json out = {{"username", *n}};
  if (const std::string* e = find_string(p, "email")) out["email"] = *e;
  return out;
}

bool parse_count(std::string_view v, size_t& out) {
  if (v.empty() || v.size() > 9) return false;
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  out = n;
  return true;
}

}  // namespace

Result<std::set<std::string>> parse_unpublish(std::string_view body, const PackageName& url_name,
                                              const json& current) {
  try {
    return parse_unpublish_impl(body, url_name, current);
  } catch (const json::exception& e) {
    return make_error(Errc::invalid_argument, std::string("malformed unpublish body: ") + e.what());
  }
}

// --- search ---

Result<SearchQuery> parse_search_query(std::string_view query) {
  SearchQuery out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(start, amp - start);
    start = amp + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    auto k = percent_decode(part.substr(0, eq), true);
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
    if (!k || !v) return make_error(Errc::invalid_argument, "malformed percent-encoding in the query");
    if (*k == "text") {
      out.text = lower(*v);
      const size_t b = out.text.find_first_not_of(" \t");
      const size_t e = out.text.find_last_not_of(" \t");
      out.text = b == std::string::npos ? std::string() : out.text.substr(b, e - b + 1);
    } else if (*k == "size") {
      if (!parse_count(*v, out.size) || out.size < 1 || out.size > 250) {
        return make_error(Errc::invalid_argument, "size must be a number from 1 to 250");
      }
    } else if (*k == "from") {
      if (!parse_count(*v, out.from)) {
        return make_error(Errc::invalid_argument, "from must be a non-negative number");
      }
    }
  }
  return out;
}

bool search_matches(const SearchQuery& query, const SearchCandidate& candidate) {
  const std::string name = lower(candidate.name.full());
  const std::string description = lower(string_field(candidate.manifest, "description"));
  std::vector<std::string> keywords;
  for (auto& k : keywords_of(candidate.manifest)) keywords.push_back(lower(k));
  for (auto& word : words(query.text)) {
    bool found = name.find(word) != std::string::npos || description.find(word) != std::string::npos;
    for (size_t i = 0; !found && i < keywords.size(); ++i) {
      found = keywords[i].find(word) != std::string::npos;
    }
    if (!found) return false;
  }
  return true;
}

json search_response(std::vector<SearchCandidate> matches, const SearchQuery& query,
                     std::string_view base, std::string_view now) {
  auto rank = [&query](const SearchCandidate& c) {
    if (query.text.empty()) return 3;
    const std::string name = lower(c.name.full());
    if (name == query.text) return 0;
    if (lower(c.name.name) == query.text) return 1;
    if (name.rfind(query.text, 0) == 0 || lower(c.name.name).rfind(query.text, 0) == 0) return 2;
    return 3;
  };
  std::stable_sort(matches.begin(), matches.end(), [&rank](const SearchCandidate& a, const SearchCandidate& b) {
    const int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb;
    return a.name.full() < b.name.full();
  });
  json objects = json::array();
  for (size_t i = query.from; i < matches.size() && objects.size() < query.size; ++i) {
    const SearchCandidate& c = matches[i];
    const std::string full = c.name.full();
    json pkg = {{"name", full},
                {"scope", c.name.scope.empty() ? std::string("unscoped") : c.name.scope},
                {"version", c.version},
                {"description", string_field(c.manifest, "description")},
                {"keywords", keywords_of(c.manifest)},
                {"links", {{"npm", std::string(base) + full}}}};
    if (!c.date.empty()) pkg["date"] = c.date;
    if (auto home = url_field(c.manifest, "homepage"); !home.empty()) pkg["links"]["homepage"] = home;
    if (auto repo = url_field(c.manifest, "repository"); !repo.empty()) pkg["links"]["repository"] = repo;
    if (auto bugs = url_field(c.manifest, "bugs"); !bugs.empty()) pkg["links"]["bugs"] = bugs;
    if (const json* u = c.manifest.is_object() ? find_member(c.manifest, "_npmUser") : nullptr) {
      if (auto p = person(*u)) pkg["publisher"] = *p;
    }
    json maintainers = json::array();
    if (const json* m = c.manifest.is_object() ? find_member(c.manifest, "maintainers") : nullptr;
        m && m->is_array()) {
      for (auto& one : *m) {
        if (auto p = person(one)) maintainers.push_back(*p);
      }
    }
    if (maintainers.empty() && pkg.contains("publisher")) maintainers.push_back(pkg["publisher"]);
    pkg["maintainers"] = std::move(maintainers);
    json score = {{"final", 1.0}, {"detail", {{"quality", 1.0}, {"popularity", 1.0}, {"maintenance", 1.0}}}};
    objects.push_back({{"package", std::move(pkg)}, {"score", std::move(score)}, {"searchScore", 1.0}});
  }
  return {{"objects", std::move(objects)}, {"total", matches.size()}, {"time", std::string(now)}};
}

// --- commands arca does not serve ---

std::optional<std::string> unsupported_command(const std::vector<std::string>& p, std::string_view method) {
  if (p.empty()) return std::nullopt;
  const auto at = [&p](size_t i) -> std::string_view { return i < p.size() ? std::string_view(p[i]) : std::string_view(); };
  const std::string_view last = p.back();
  if (at(0) == "package" && p.size() >= 3 &&
      (last == "access" || last == "collaborators" || last == "visibility")) {
    return "npm access";
  }
  if ((at(0) == "user" || at(0) == "org" || at(0) == "team") && p.size() >= 3 && last == "package") {
    return "npm access";
  }
  if (at(0) == "user" && at(1).rfind("org.couchdb.user:", 0) == 0) {
    return std::string(method == "PUT" ? "npm login" : "npm owner");
  }
  if (at(0) == "user" && at(1) == "token") return "npm logout";
  if (at(0) == "user") return "npm access";
  if (at(0) == "org" && p.size() >= 3 && last == "team") return "npm team";
  if (at(0) == "org") return "npm org";
  if (at(0) == "team") return "npm team";
  if (at(0) == "v1" && at(1) == "login") return "npm login";
  if (at(0) == "npm" && at(1) == "v1" && at(2) == "tokens") return "npm token";
  if (at(0) == "npm" && at(1) == "v1" && at(2) == "user") return "npm profile";
  if (at(0) == "npm" && at(1) == "v1" && at(2) == "hooks") return "npm hook";
  if (at(0) == "npm" && at(1) == "v1" && at(2) == "hook") return "npm hook";
  if (at(0) == "_view" && at(1).rfind("starredBy", 0) == 0) return "npm star";
  return std::nullopt;
}

}  // namespace arca::formats::npm
