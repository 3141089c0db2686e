#include "formats/nuget/nuget.hpp"

#include "common/json_depth.hpp"
#include "common/text.hpp"
#include "common/url.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <memory>

namespace arca::formats::nuget {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool numeric(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

int compare_label(std::string_view a, std::string_view b) {
  const bool an = numeric(a), bn = numeric(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (an != bn) return an ? -1 : 1;  // numeric labels sort before alphanumeric ones
  int c = lower(a).compare(lower(b));
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string xml_local_name(const char* name) {
  std::string_view n(name);
  auto colon = n.rfind(':');
  return std::string(colon == std::string_view::npos ? n : n.substr(colon + 1));
}

pugi::xml_node child_local(pugi::xml_node node, std::string_view name) {
  for (auto c : node.children()) {
    if (c.type() == pugi::node_element && xml_local_name(c.name()) == name) return c;
  }
  return {};
}

std::string child_text(pugi::xml_node node, std::string_view name) {
  auto c = child_local(node, name);
  return c ? std::string(trim(c.text().get())) : std::string();
}

json tags_array(std::string_view tags) {
  json out = json::array();
  std::string cur;
  for (char c : tags) {
    if (c == ' ' || c == ',' || c == ';' || c == '\t' || c == '\n' || c == '\r') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// A dependency range as the registration shows it: "1.0" -> "[1.0.0, )", empty -> "(, )".
std::string registration_range(std::string_view range) {
  range = trim(range);
  if (range.empty()) return "(, )";
  if (auto v = parse_version(range)) return "[" + normalize(*v) + ", )";
  return std::string(range);
}

std::string flat_nupkg_url(const RegistrationUrls& urls, std::string_view lid,
                           std::string_view lver) {
  std::string id(lid);
  return urls.flat + id + "/" + std::string(lver) + "/" + id + "." + std::string(lver) + ".nupkg";
}

std::string resolve(std::string_view url, std::string_view base) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) return std::string(url);
  auto scheme = base.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto slash = base.find('/', scheme + 3);
  std::string_view origin = slash == std::string_view::npos ? base : base.substr(0, slash);
  if (!url.empty() && url[0] == '/') return std::string(origin) + std::string(url);
  auto last = base.rfind('/');
  return std::string(base.substr(0, last + 1)) + std::string(url);
}

}  // namespace

// --- Query strings ---

Result<std::vector<QueryParam>> parse_query_string(std::string_view raw) {
  if (!raw.empty() && raw.front() == '?') raw.remove_prefix(1);
  // application/x-www-form-urlencoded: '+' is a space, as NuGet clients (and ASP.NET, which
  // NuGet.Server ran on) encode it. Characters RFC 3986 wants escaped but that clients send raw
  // (spaces, quotes) are taken as they are; a '%' not followed by two hex digits is an error.
  auto decode = [](std::string_view part, std::string& out) -> bool {
    auto decoded = percent_decode(part, /*plus_as_space=*/true);
    if (!decoded) return false;
    out = std::move(*decoded);
    return true;
  };
  std::vector<QueryParam> out;
  for (auto pair : split(raw, '&')) {
    if (pair.empty()) continue;  // "a&&b"
    const auto eq = pair.find('=');
    QueryParam q;
    if (!decode(pair.substr(0, eq), q.key) ||
        (eq != std::string_view::npos && !decode(pair.substr(eq + 1), q.value))) {
      return make_error(Errc::invalid_argument,
                        "malformed percent-encoding in the query string ('%' must be followed by "
                        "two hexadecimal digits)");
    }
    out.push_back(std::move(q));
  }
  return out;
}

// --- Ids ---

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  bool prev_sep = true;  // an id starts with a word character
  for (char c : id) {
    if (is_alnum(c) || c == '_') {
      prev_sep = false;
    } else if (c == '.' || c == '-') {
      if (prev_sep) return false;
      prev_sep = true;
    } else {
      return false;
    }
  }
  return !prev_sep;
}

// --- Versions ---

Result<Version> parse_version(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(Errc::invalid_argument, "'" + std::string(text.substr(0, 100)) +
                                                  "' is not a valid NuGet version (" +
                                                  std::string(why) + ")");
  };
  if (text.empty() || text.size() > 256) return bad("empty or too long");
  Version v;
  v.original = std::string(text);
  std::string_view s = text;
  if (auto plus = s.find('+'); plus != std::string_view::npos) {
    std::string_view meta = s.substr(plus + 1);
    if (meta.empty()) return bad("empty build metadata");
    for (auto part : split(meta, '.')) {
      if (part.empty()) return bad("empty build metadata part");
      for (char c : part) {
        if (!is_alnum(c) && c != '-') return bad("invalid character in build metadata");
      }
    }
    v.metadata = std::string(meta);
    s = s.substr(0, plus);
  }
  if (auto dash = s.find('-'); dash != std::string_view::npos) {
    std::string_view rel = s.substr(dash + 1);
    if (rel.empty()) return bad("empty pre-release label");
    for (auto label : split(rel, '.')) {
      if (label.empty()) return bad("empty pre-release label");
      for (char c : label) {
        if (!is_alnum(c) && c != '-') return bad("invalid character in the pre-release label");
      }
      if (numeric(label) && label.size() > 1 && label[0] == '0') {
        return bad("numeric label with a leading zero");
      }
      v.release.emplace_back(label);
    }
    s = s.substr(0, dash);
  }
  auto parts = split(s, '.');
  if (parts.size() > 4) return bad("more than four numbers");
  for (auto p : parts) {
    if (!numeric(p)) return bad("expected numbers separated by dots");
    while (p.size() > 1 && p[0] == '0') p.remove_prefix(1);
    if (p.size() > 9) return bad("number too large");
    v.numbers.push_back(std::stoull(std::string(p)));
  }
  while (v.numbers.size() < 3) v.numbers.push_back(0);
  return v;
}

std::string normalize(const Version& v) {
  std::string out = std::to_string(v.numbers[0]) + "." + std::to_string(v.numbers[1]) + "." +
                    std::to_string(v.numbers[2]);
  if (v.numbers.size() > 3 && v.numbers[3] != 0) out += "." + std::to_string(v.numbers[3]);
  for (size_t i = 0; i < v.release.size(); ++i) out += (i == 0 ? "-" : ".") + v.release[i];
  return out;
}

Result<std::string> normalize_version(std::string_view text) {
  ARCA_TRY(auto v, parse_version(text));
  return normalize(v);
}

int compare(const Version& a, const Version& b) {
  for (size_t i = 0; i < 4; ++i) {
    uint64_t x = i < a.numbers.size() ? a.numbers[i] : 0;
    uint64_t y = i < b.numbers.size() ? b.numbers[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.release.empty() != b.release.empty()) return a.release.empty() ? 1 : -1;
  for (size_t i = 0; i < std::min(a.release.size(), b.release.size()); ++i) {
    if (int c = compare_label(a.release[i], b.release[i])) return c;
  }
  if (a.release.size() != b.release.size()) return a.release.size() < b.release.size() ? -1 : 1;
  return 0;
}

bool is_prerelease(const Version& v) { return !v.release.empty(); }
bool is_semver2(const Version& v) { return v.release.size() > 1 || !v.metadata.empty(); }

bool range_is_semver2(std::string_view range) {
  std::string cur;
  auto check = [&]() {
    auto t = trim(cur);
    bool r = false;
    if (!t.empty()) {
      if (auto v = parse_version(t)) r = is_semver2(*v);
    }
    cur.clear();
    return r;
  };
  for (char c : range) {
    if (c == '[' || c == ']' || c == '(' || c == ')' || c == ',') {
      if (check()) return true;
    } else {
      cur += c;
    }
  }
  return check();
}

// --- Nuspec ---

Result<Nuspec> parse_nuspec(std::string_view xml) {
  pugi::xml_document doc;
  auto loaded = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_auto);
  if (!loaded) {
    return make_error(Errc::invalid_argument,
                      std::string("the .nuspec is not well-formed XML: ") + loaded.description());
  }
  auto package = doc.document_element();
  if (!package || xml_local_name(package.name()) != "package") {
    return make_error(Errc::invalid_argument, "the .nuspec has no <package> root element");
  }
  auto metadata = child_local(package, "metadata");
  if (!metadata) return make_error(Errc::invalid_argument, "the .nuspec has no <metadata>");
  Nuspec n;
  n.id = child_text(metadata, "id");
  n.version = child_text(metadata, "version");
  if (n.id.empty()) return make_error(Errc::invalid_argument, "the .nuspec has no <id>");
  if (n.version.empty()) return make_error(Errc::invalid_argument, "the .nuspec has no <version>");
  n.title = child_text(metadata, "title");
  n.description = child_text(metadata, "description");
  n.summary = child_text(metadata, "summary");
  n.release_notes = child_text(metadata, "releaseNotes");
  n.authors = child_text(metadata, "authors");
  n.owners = child_text(metadata, "owners");
  n.tags = child_text(metadata, "tags");
  n.copyright = child_text(metadata, "copyright");
  n.language = child_text(metadata, "language");
  n.project_url = child_text(metadata, "projectUrl");
  n.license_url = child_text(metadata, "licenseUrl");
  n.icon_url = child_text(metadata, "iconUrl");
  n.min_client_version = metadata.attribute("minClientVersion").value();
  n.require_license_acceptance = lower(child_text(metadata, "requireLicenseAcceptance")) == "true";
  if (auto license = child_local(metadata, "license");
      license && std::string_view(license.attribute("type").value()) == "expression") {
    n.license_expression = std::string(trim(license.text().get()));
  }
  if (auto types = child_local(metadata, "packageTypes")) {
    for (auto t : types.children()) {
      if (t.type() == pugi::node_element && xml_local_name(t.name()) == "packageType") {
        std::string name(trim(t.attribute("name").value()));
        if (!name.empty()) n.package_types.emplace_back(name, t.attribute("version").value());
      }
    }
  }
  if (auto deps = child_local(metadata, "dependencies")) {
    DependencyGroup ungrouped;
    bool has_ungrouped = false;
    for (auto c : deps.children()) {
      if (c.type() != pugi::node_element) continue;
      const std::string name = xml_local_name(c.name());
      if (name == "group") {
        DependencyGroup g;
        g.target_framework = c.attribute("targetFramework").value();
        for (auto d : c.children()) {
          if (d.type() == pugi::node_element && xml_local_name(d.name()) == "dependency") {
            g.dependencies.push_back({d.attribute("id").value(), d.attribute("version").value()});
          }
        }
        n.dependency_groups.push_back(std::move(g));
      } else if (name == "dependency") {
        has_ungrouped = true;
        ungrouped.dependencies.push_back(
            {c.attribute("id").value(), c.attribute("version").value()});
      }
    }
    if (has_ungrouped)
      n.dependency_groups.insert(n.dependency_groups.begin(), std::move(ungrouped));
  }
  return n;
}

Result<std::string> nuspec_of(std::string_view bytes, uint64_t max_nuspec_bytes) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  // The seekable reader starts from the central directory, so a truncated archive is refused.
  archive_read_support_format_zip_seekable(a.get());
  if (bytes.size() < 4 || bytes.substr(0, 2) != "PK" ||
      archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return make_error(Errc::invalid_argument,
                      "the package is not a valid .nupkg (not a zip archive)");
  }
  std::optional<std::string> found;
  std::string found_name;
  archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return make_error(Errc::invalid_argument,
                        "the package is not a valid .nupkg (unreadable zip archive)");
    }
    const char* raw = archive_entry_pathname(entry);
    std::string_view path = raw ? raw : "";
    const bool root_nuspec = path.find('/') == std::string_view::npos &&
                             path.find('\\') == std::string_view::npos && path.size() > 7 &&
                             lower(path.substr(path.size() - 7)) == ".nuspec";
    if (!root_nuspec) {
      archive_read_data_skip(a.get());
      continue;
    }
    if (found) {
      return make_error(Errc::invalid_argument,
                        "the package contains more than one .nuspec file (" + found_name + ", " +
                            std::string(path) + ")");
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > max_nuspec_bytes) {
      return make_error(Errc::invalid_argument, "the package's .nuspec is too large");
    }
    std::string out;
    std::array<char, 16384> buf;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) {
        return make_error(Errc::invalid_argument,
                          "the package's .nuspec cannot be read from the zip");
      }
      if (n == 0) break;
      out.append(buf.data(), static_cast<size_t>(n));
      if (out.size() > max_nuspec_bytes) {
        return make_error(Errc::invalid_argument, "the package's .nuspec is too large");
      }
    }
    found = std::move(out);
    found_name = std::string(path);
  }
  if (!found) return make_error(Errc::invalid_argument, "the package contains no .nuspec file");
  return std::move(*found);
}

Result<NupkgInfo> read_nupkg(std::string_view bytes, uint64_t max_nuspec_bytes) {
  ARCA_TRY(auto xml, nuspec_of(bytes, max_nuspec_bytes));
  ARCA_TRY(auto nuspec, parse_nuspec(xml));
  return NupkgInfo{std::move(nuspec), std::move(xml)};
}

// --- Stored form ---

json manifest_of(const Nuspec& n, const Version& version) {
  json m = {{"id", n.id},
            {"version", normalize(version)},
            {"originalVersion", version.original},
            {"authors", n.authors},
            {"description", n.description},
            {"tags", tags_array(n.tags)},
            {"requireLicenseAcceptance", n.require_license_acceptance},
            {"isSemVer2", is_semver2(version)}};
  auto opt = [&](const char* key, const std::string& value) {
    if (!value.empty()) m[key] = value;
  };
  opt("title", n.title);
  opt("summary", n.summary);
  opt("releaseNotes", n.release_notes);
  opt("owners", n.owners);
  opt("copyright", n.copyright);
  opt("language", n.language);
  opt("projectUrl", n.project_url);
  opt("licenseUrl", n.license_url);
  opt("iconUrl", n.icon_url);
  opt("minClientVersion", n.min_client_version);
  opt("licenseExpression", n.license_expression);
  json groups = json::array();
  for (auto& g : n.dependency_groups) {
    json deps = json::array();
    for (auto& d : g.dependencies) {
      deps.push_back({{"id", d.id}, {"range", d.range}});
      if (range_is_semver2(d.range)) m["isSemVer2"] = true;
    }
    json group = {{"dependencies", deps}};
    if (!g.target_framework.empty()) group["targetFramework"] = g.target_framework;
    groups.push_back(std::move(group));
  }
  m["dependencyGroups"] = std::move(groups);
  if (!n.package_types.empty()) {
    json types = json::array();
    for (auto& [name, version] : n.package_types) {
      json t = {{"name", name}};
      if (!version.empty()) t["version"] = version;
      types.push_back(std::move(t));
    }
    m["packageTypes"] = std::move(types);
  }
  return m;
}

Result<json> manifest_from_catalog(const json& c) {
  if (!c.is_object()) return make_error(Errc::upstream_error, "a catalogEntry is not an object");
  std::string id = str(c, "id");
  if (!valid_id(id)) return make_error(Errc::upstream_error, "a catalogEntry has no valid id");
  auto version = parse_version(str(c, "version"));
  if (!version) return make_error(Errc::upstream_error, version.error().message);
  json m = {{"id", id},
            {"version", normalize(*version)},
            {"originalVersion", str(c, "version")},
            {"authors", ""},
            {"description", str(c, "description")},
            {"tags", json::array()},
            {"requireLicenseAcceptance", false},
            {"isSemVer2", is_semver2(*version)}};
  if (auto a = c.find("authors"); a != c.end()) {
    if (a->is_string()) {
      m["authors"] = *a;
    } else if (a->is_array()) {
      std::string joined;
      for (auto& x : *a) {
        if (x.is_string()) joined += (joined.empty() ? "" : ", ") + x.get<std::string>();
      }
      m["authors"] = joined;
    }
  }
  if (auto t = c.find("tags"); t != c.end()) {
    if (t->is_string()) {
      m["tags"] = tags_array(t->get<std::string>());
    } else if (t->is_array()) {
      for (auto& x : *t) {
        if (x.is_string()) m["tags"].push_back(x);
      }
    }
  }
  if (auto r = c.find("requireLicenseAcceptance"); r != c.end() && r->is_boolean()) {
    m["requireLicenseAcceptance"] = *r;
  }
  for (const char* key :
       {"title", "summary", "releaseNotes", "owners", "copyright", "language", "projectUrl",
        "licenseUrl", "iconUrl", "minClientVersion", "licenseExpression", "published",
        "packageHash", "packageHashAlgorithm"}) {
    if (auto s = str(c, key); !s.empty()) m[key] = s;
  }
  json groups = json::array();
  if (auto g = c.find("dependencyGroups"); g != c.end() && g->is_array()) {
    for (auto& group : *g) {
      if (!group.is_object()) continue;
      json deps = json::array();
      if (auto d = group.find("dependencies"); d != group.end() && d->is_array()) {
        for (auto& dep : *d) {
          if (!dep.is_object() || str(dep, "id").empty()) continue;
          deps.push_back({{"id", str(dep, "id")}, {"range", str(dep, "range")}});
          if (range_is_semver2(str(dep, "range"))) m["isSemVer2"] = true;
        }
      }
      json out = {{"dependencies", deps}};
      if (auto tf = str(group, "targetFramework"); !tf.empty()) out["targetFramework"] = tf;
      groups.push_back(std::move(out));
    }
  }
  m["dependencyGroups"] = std::move(groups);
  return m;
}

void sort_entries(std::vector<Entry>& entries) {
  std::vector<std::pair<Version, Entry>> keyed;
  keyed.reserve(entries.size());
  for (auto& e : entries) {
    auto v = parse_version(str(e.manifest, "version"));
    if (!v) v = parse_version(e.lower_version);
    if (!v) continue;
    keyed.emplace_back(std::move(*v), std::move(e));
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return compare(a.first, b.first) < 0; });
  entries.clear();
  for (auto& [v, e] : keyed) entries.push_back(std::move(e));
}

// --- Documents ---

json service_index(std::string_view base) {
  const std::string b(base);
  json resources = json::array();
  auto add = [&](const std::string& id, const char* type, const char* comment) {
    resources.push_back({{"@id", id}, {"@type", type}, {"comment", comment}});
  };
  add(b + "flatcontainer/", "PackageBaseAddress/3.0.0",
      "Base URL of where NuGet packages are stored, in the format "
      "{@id}/{id-lower}/{version-lower}/{id-lower}.{version-lower}.nupkg");
  add(b + "package", "PackagePublish/2.0.0", "Push (PUT) and unlist (DELETE) packages");
  for (const char* t : {"RegistrationsBaseUrl", "RegistrationsBaseUrl/3.0.0-beta",
                        "RegistrationsBaseUrl/3.0.0-rc"}) {
    add(b + "registration/", t, "Package metadata (SemVer 1.0.0 packages only)");
  }
  add(b + "registration-gz/", "RegistrationsBaseUrl/3.4.0",
      "Package metadata, gzip (SemVer 1.0.0 packages only)");
  add(b + "registration-gz-semver2/", "RegistrationsBaseUrl/3.6.0",
      "Package metadata, gzip, SemVer 2.0.0 packages included");
  resources.push_back({{"@id", b + "registration-gz-semver2/"},
                       {"@type", "RegistrationsBaseUrl/Versioned"},
                       {"clientVersion", "4.3.0-alpha"},
                       {"comment", "Package metadata, gzip, SemVer 2.0.0 packages included"}});
  for (const char* t : {"SearchQueryService", "SearchQueryService/3.0.0-beta",
                        "SearchQueryService/3.0.0-rc", "SearchQueryService/3.5.0"}) {
    add(b + "query", t, "Search over the packages this repository holds and has cached");
  }
  for (const char* t : {"SearchAutocompleteService", "SearchAutocompleteService/3.0.0-beta",
                        "SearchAutocompleteService/3.0.0-rc", "SearchAutocompleteService/3.5.0"}) {
    add(b + "autocomplete", t, "Package id and version autocomplete");
  }
  return {{"version", "3.0.0"}, {"resources", resources}};
}

json flat_index(std::span<const Entry> entries) {
  json versions = json::array();
  for (auto& e : entries) versions.push_back(e.lower_version);
  return {{"versions", versions}};
}

namespace {

std::string index_url(const RegistrationUrls& urls, std::string_view lid) {
  return urls.hive + std::string(lid) + "/index.json";
}

json catalog_entry(const RegistrationUrls& urls, std::string_view lid, const Entry& e) {
  const std::string leaf = urls.hive + std::string(lid) + "/" + e.lower_version + ".json";
  json c = {{"@id", leaf + "#catalogEntry"},
            {"@type", "PackageDetails"},
            {"id", str(e.manifest, "id")},
            {"version", str(e.manifest, "version")},
            {"authors", str(e.manifest, "authors")},
            {"description", str(e.manifest, "description")},
            {"listed", e.listed},
            {"published", e.published},
            {"packageContent", flat_nupkg_url(urls, lid, e.lower_version)},
            {"requireLicenseAcceptance", e.manifest.value("requireLicenseAcceptance", false)},
            {"tags", e.manifest.contains("tags") ? e.manifest["tags"] : json::array()}};
  for (const char* key : {"title", "summary", "releaseNotes", "copyright", "language", "projectUrl",
                          "licenseUrl", "iconUrl", "minClientVersion", "licenseExpression",
                          "packageHash", "packageHashAlgorithm"}) {
    if (auto s = str(e.manifest, key); !s.empty()) c[key] = s;
  }
  json groups = json::array();
  if (auto g = e.manifest.find("dependencyGroups"); g != e.manifest.end() && g->is_array()) {
    size_t gi = 0;
    for (auto& group : *g) {
      const std::string gid = leaf + "#dependencygroup/" + std::to_string(gi++);
      json deps = json::array();
      if (auto d = group.find("dependencies"); d != group.end() && d->is_array()) {
        for (auto& dep : *d) {
          const std::string did = str(dep, "id");
          deps.push_back({{"@id", gid + "/" + lower(did)},
                          {"@type", "PackageDependency"},
                          {"id", did},
                          {"range", registration_range(str(dep, "range"))},
                          {"registration", index_url(urls, lower(did))}});
        }
      }
      json out = {{"@id", gid}, {"@type", "PackageDependencyGroup"}, {"dependencies", deps}};
      if (auto tf = str(group, "targetFramework"); !tf.empty()) out["targetFramework"] = tf;
      groups.push_back(std::move(out));
    }
  }
  c["dependencyGroups"] = std::move(groups);
  return c;
}

json page_item(const RegistrationUrls& urls, std::string_view lid, const Entry& e) {
  return {{"@id", urls.hive + std::string(lid) + "/" + e.lower_version + ".json"},
          {"@type", "Package"},
          {"catalogEntry", catalog_entry(urls, lid, e)},
          {"packageContent", flat_nupkg_url(urls, lid, e.lower_version)},
          {"registration", index_url(urls, lid)}};
}

json page_of(const RegistrationUrls& urls, std::string_view lid, std::span<const Entry> entries,
             size_t index, bool inlined) {
  const size_t begin = index * k_page_size;
  const size_t end = std::min(entries.size(), begin + k_page_size);
  const std::string lo = str(entries[begin].manifest, "version");
  const std::string hi = str(entries[end - 1].manifest, "version");
  json page = {{"@id", inlined ? index_url(urls, lid) + "#page/" + lo + "/" + hi
                               : registration_page_url(urls, lid, lower(lo), lower(hi))},
               {"@type", "catalog:CatalogPage"},
               {"count", end - begin},
               {"lower", lo},
               {"upper", hi}};
  return page;
}

}  // namespace

std::string registration_page_url(const RegistrationUrls& urls, std::string_view lower_id,
                                  std::string_view lo, std::string_view hi) {
  return urls.hive + std::string(lower_id) + "/page/" + std::string(lo) + "/" + std::string(hi) +
         ".json";
}

json registration_index(const RegistrationUrls& urls, std::string_view lid,
                        std::span<const Entry> entries) {
  const bool inlined = entries.size() <= k_inline_max;
  const size_t pages = (entries.size() + k_page_size - 1) / k_page_size;
  json items = json::array();
  for (size_t p = 0; p < pages; ++p) {
    json page = page_of(urls, lid, entries, p, inlined);
    if (inlined) {
      json list = json::array();
      for (size_t i = p * k_page_size; i < std::min(entries.size(), (p + 1) * k_page_size); ++i) {
        list.push_back(page_item(urls, lid, entries[i]));
      }
      page["items"] = std::move(list);
      // "parent" only on pages that carry their items (the registration page object).
      page["parent"] = index_url(urls, lid);
    }
    items.push_back(std::move(page));
  }
  return {
      {"@id", index_url(urls, lid)},
      {"@type", json::array({"catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"})},
      {"count", pages},
      {"items", items}};
}

std::optional<json> registration_page(const RegistrationUrls& urls, std::string_view lid,
                                      std::span<const Entry> entries, size_t index) {
  if (index * k_page_size >= entries.size()) return std::nullopt;
  json page = page_of(urls, lid, entries, index, /*inlined=*/false);
  json list = json::array();
  for (size_t i = index * k_page_size; i < std::min(entries.size(), (index + 1) * k_page_size);
       ++i) {
    list.push_back(page_item(urls, lid, entries[i]));
  }
  page["items"] = std::move(list);
  page["parent"] = index_url(urls, lid);
  return page;
}

json registration_leaf(const RegistrationUrls& urls, std::string_view lid, const Entry& e) {
  const std::string leaf = urls.hive + std::string(lid) + "/" + e.lower_version + ".json";
  return {{"@id", leaf},
          {"@type", json::array({"Package", "http://schema.nuget.org/catalog#Permalink"})},
          {"catalogEntry", leaf + "#catalogEntry"},
          {"listed", e.listed},
          {"packageContent", flat_nupkg_url(urls, lid, e.lower_version)},
          {"published", e.published},
          {"registration", index_url(urls, lid)}};
}

Result<SearchQuery> parse_search_query(std::string_view raw) {
  SearchQuery q;
  ARCA_TRY(auto params, parse_query_string(raw));
  for (auto& param : params) {
    std::string key = lower(param.key);
    const std::string& value = param.value;
    auto number = [&](uint64_t& out) -> Result<void> {
      std::string_view v = trim(value);
      if (!numeric(v) || v.size() > 9) {
        return make_error(Errc::invalid_argument,
                          "the '" + key + "' parameter must be a non-negative integer");
      }
      out = std::stoull(std::string(v));
      return {};
    };
    if (key == "q") {
      q.q = value;
    } else if (key == "skip") {
      ARCA_TRY_VOID(number(q.skip));
    } else if (key == "take") {
      ARCA_TRY_VOID(number(q.take));
      q.take = std::min<uint64_t>(q.take, 1000);
    } else if (key == "prerelease") {
      q.prerelease = lower(value) == "true";
    } else if (key == "semverlevel") {
      auto v = parse_version(value);
      q.semver2 = v && v->numbers[0] >= 2;
    } else if (key == "id") {
      q.id = value;
    } else if (key == "packagetype") {
      q.package_type = std::string(trim(value));
    }
  }
  return q;
}

namespace {

bool visible(const SearchQuery& q, const Entry& e) {
  if (!e.listed) return false;
  if (!q.semver2 && e.manifest.value("isSemVer2", false)) return false;
  if (!q.prerelease && e.lower_version.find('-') != std::string::npos) return false;
  return true;
}

// The package types a version declares; none is "Dependency" (as nuget.org answers).
json package_types_of(const json& manifest) {
  if (auto t = manifest.find("packageTypes"); t != manifest.end() && t->is_array() && !t->empty()) {
    return *t;
  }
  return json::array({json{{"name", "Dependency"}}});
}

bool has_package_type(const Entry& latest, std::string_view wanted) {
  for (auto& t : package_types_of(latest.manifest)) {
    if (t.is_object() && lower(str(t, "name")) == lower(wanted)) return true;
  }
  return false;
}

bool term_matches(std::string_view term, const PackageVersions& p, const Entry& latest,
                  bool ids_only) {
  if (term.rfind("packageid:", 0) == 0) return p.lower_id == term.substr(10);
  if (term.rfind("id:", 0) == 0) return p.lower_id.find(term.substr(3)) != std::string::npos;
  if (p.lower_id.find(term) != std::string::npos) return true;
  if (ids_only) return false;
  for (const char* key : {"title", "description", "summary", "authors"}) {
    if (lower(str(latest.manifest, key)).find(term) != std::string::npos) return true;
  }
  if (auto t = latest.manifest.find("tags"); t != latest.manifest.end() && t->is_array()) {
    for (auto& tag : *t) {
      if (tag.is_string() && lower(tag.get<std::string>()).find(term) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::vector<PackageVersions> search(const SearchQuery& query, std::span<const PackageVersions> all,
                                    uint64_t* total) {
  std::vector<std::string> terms;
  // Named: split returns views into it, and a temporary in a range-for's initializer dies
  // before the loop body runs (until C++23).
  const std::string lowered = lower(query.q);
  for (auto t : split(lowered, ' ')) {
    if (!trim(t).empty()) terms.emplace_back(trim(t));
  }
  std::vector<PackageVersions> matched;
  for (auto& p : all) {
    if (!query.id.empty() && p.lower_id != lower(query.id)) continue;
    PackageVersions shown{p.lower_id, {}};
    for (auto& e : p.entries) {
      if (visible(query, e)) shown.entries.push_back(e);
    }
    if (shown.entries.empty()) continue;
    if (!query.package_type.empty() && !has_package_type(shown.entries.back(), query.package_type))
      continue;
    bool ok = true;
    for (auto& t : terms) {
      if (!term_matches(t, p, shown.entries.back(), query.ids_only)) {
        ok = false;
        break;
      }
    }
    if (ok) matched.push_back(std::move(shown));
  }
  std::sort(matched.begin(), matched.end(),
            [](const auto& a, const auto& b) { return a.lower_id < b.lower_id; });
  if (total) *total = matched.size();
  std::vector<PackageVersions> page;
  for (size_t i = query.skip; i < matched.size() && page.size() < query.take; ++i) {
    page.push_back(std::move(matched[i]));
  }
  return page;
}

json search_results(const RegistrationUrls& urls, std::span<const PackageVersions> page,
                    uint64_t total) {
  json data = json::array();
  for (auto& p : page) {
    const Entry& latest = p.entries.back();
    const json& m = latest.manifest;
    json versions = json::array();
    for (auto& e : p.entries) {
      versions.push_back({{"version", str(e.manifest, "version")},
                          {"downloads", 0},
                          {"@id", urls.hive + p.lower_id + "/" + e.lower_version + ".json"}});
    }
    // Named for the same reason as the query's terms in search().
    const std::string author_list = str(m, "authors");
    const std::string owner_list = str(m, "owners");
    json authors = json::array();
    for (auto a : split(author_list, ',')) {
      if (!trim(a).empty()) authors.push_back(std::string(trim(a)));
    }
    json owners = json::array();
    for (auto a : split(owner_list, ',')) {
      if (!trim(a).empty()) owners.push_back(std::string(trim(a)));
    }
    json item = {{"@id", index_url(urls, p.lower_id)},
                 {"@type", "Package"},
                 {"registration", index_url(urls, p.lower_id)},
                 {"id", str(m, "id")},
                 {"version", str(m, "version")},
                 {"description", str(m, "description")},
                 {"summary", str(m, "summary")},
                 {"title", str(m, "title").empty() ? str(m, "id") : str(m, "title")},
                 {"tags", m.contains("tags") ? m["tags"] : json::array()},
                 {"authors", authors},
                 {"owners", owners},
                 {"totalDownloads", 0},
                 {"verified", false},
                 {"packageTypes", package_types_of(m)},
                 {"versions", versions}};
    // URLs only when the package has them: an empty string is not a URL.
    for (const char* key : {"iconUrl", "licenseUrl", "projectUrl"}) {
      if (auto url = str(m, key); !url.empty()) item[key] = url;
    }
    data.push_back(std::move(item));
  }
  return {{"totalHits", total}, {"data", data}};
}

json autocomplete_results(const SearchQuery& query, std::span<const PackageVersions> page,
                          uint64_t total) {
  json data = json::array();
  if (!query.id.empty()) {
    // The versions of one id (search() has kept only that id).
    if (!page.empty()) {
      for (auto& e : page[0].entries) data.push_back(str(e.manifest, "version"));
    }
    return {{"totalHits", data.size()}, {"data", data}};
  }
  for (auto& p : page) data.push_back(str(p.entries.back().manifest, "id"));
  return {{"totalHits", total}, {"data", data}};
}

std::string error_text(std::string_view message) {
  return json{{"message", std::string(message)}}.dump(-1, ' ', false,
                                                      json::error_handler_t::replace);
}

// --- Upstream ---

namespace {

// An upstream document as a JSON object. Errors (upstream_error): not JSON, not an object, or
// nested deeper than k_max_json_depth (common/json_depth.hpp: copies and dump() recurse per
// level, so the depth is checked before parsing).
Result<json> parse_upstream_json(std::string_view body, std::string_view what) {
  if (!json_nesting_within(body)) {
    return make_error(Errc::upstream_error, "the upstream " + std::string(what) +
                                                " nests more than " +
                                                std::to_string(k_max_json_depth) + " levels deep");
  }
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::upstream_error, "the upstream " + std::string(what) + " is not JSON");
  }
  return j;
}

}  // namespace

Result<ServiceResources> parse_service_index(std::string_view body, std::string_view index_url) {
  ARCA_TRY(json j, parse_upstream_json(body, "service index"));
  auto resources = j.find("resources");
  if (resources == j.end() || !resources->is_array()) {
    return make_error(Errc::upstream_error, "the upstream service index has no resources");
  }
  ServiceResources out;
  static const std::array<std::pair<const char*, bool>, 6> k_registrations = {{
      {"RegistrationsBaseUrl/3.6.0", true},
      {"RegistrationsBaseUrl/Versioned", true},
      {"RegistrationsBaseUrl/3.4.0", true},
      {"RegistrationsBaseUrl/3.0.0-rc", false},
      {"RegistrationsBaseUrl/3.0.0-beta", false},
      {"RegistrationsBaseUrl", false},
  }};
  size_t best = k_registrations.size();
  for (auto& r : *resources) {
    if (!r.is_object()) continue;
    std::string id = str(r, "@id");
    if (id.empty()) continue;
    std::vector<std::string> types;
    if (auto t = r.find("@type"); t != r.end()) {
      if (t->is_string()) {
        types.push_back(t->get<std::string>());
      } else if (t->is_array()) {
        for (auto& x : *t) {
          if (x.is_string()) types.push_back(x.get<std::string>());
        }
      }
    }
    std::string url = resolve(id, index_url);
    if (url.back() != '/') url += '/';
    for (auto& type : types) {
      if (type == "PackageBaseAddress/3.0.0" && out.package_base_address.empty()) {
        out.package_base_address = url;
      }
      for (size_t i = 0; i < best; ++i) {
        if (type == k_registrations[i].first) {
          best = i;
          out.registrations_base_url = url;
          out.registrations_gzip = k_registrations[i].second;
          break;
        }
      }
    }
  }
  if (out.package_base_address.empty() && out.registrations_base_url.empty()) {
    return make_error(Errc::upstream_error,
                      "the upstream service index names neither PackageBaseAddress/3.0.0 nor "
                      "RegistrationsBaseUrl");
  }
  return out;
}

Result<UpstreamRegistration> parse_registration(std::string_view body) {
  ARCA_TRY(json j, parse_upstream_json(body, "registration"));
  auto items = j.find("items");
  if (items == j.end() || !items->is_array()) {
    return make_error(Errc::upstream_error, "the upstream registration has no items");
  }
  UpstreamRegistration out;
  auto leaf = [&](const json& item) {
    auto c = item.find("catalogEntry");
    if (c == item.end() || !c->is_object()) return;
    auto m = manifest_from_catalog(*c);
    if (!m) return;
    UpstreamLeaf l;
    l.lower_version = lower(str(*m, "version"));
    l.published = str(*c, "published");
    if (auto listed = c->find("listed"); listed != c->end() && listed->is_boolean()) {
      l.listed = listed->get<bool>();
    }
    // nuget.org marks unlisted versions with a 1900 publish date.
    if (l.published.rfind("1900-", 0) == 0) l.listed = false;
    l.package_content = str(item, "packageContent");
    if (l.package_content.empty()) l.package_content = str(*c, "packageContent");
    std::string alg = str(*c, "packageHashAlgorithm");
    if (lower(alg) == "sha512" || alg.empty()) l.package_hash = str(*c, "packageHash");
    l.manifest = std::move(*m);
    l.manifest.erase("packageHash");
    l.manifest.erase("packageHashAlgorithm");
    out.leaves.push_back(std::move(l));
  };
  // An index lists pages; a page lists leaves. A page without items is fetched separately.
  for (auto& item : *items) {
    if (!item.is_object()) continue;
    if (item.contains("catalogEntry")) {
      leaf(item);
      continue;
    }
    auto inner = item.find("items");
    if (inner != item.end() && inner->is_array()) {
      for (auto& x : *inner) {
        if (x.is_object()) leaf(x);
      }
    } else if (auto id = str(item, "@id"); !id.empty()) {
      out.page_urls.push_back(id);
    }
  }
  return out;
}

Result<std::vector<std::string>> parse_flat_index(std::string_view body) {
  ARCA_TRY(json j, parse_upstream_json(body, "flat container index"));
  if (!j.contains("versions") || !j["versions"].is_array()) {
    return make_error(Errc::upstream_error, "the upstream flat container index is not valid");
  }
  std::vector<std::string> out;
  for (auto& v : j["versions"]) {
    if (!v.is_string()) continue;
    if (auto n = normalize_version(v.get<std::string>())) out.push_back(lower(*n));
  }
  return out;
}

}  // namespace arca::formats::nuget
