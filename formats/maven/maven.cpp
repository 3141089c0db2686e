#include "formats/maven/maven.hpp"

#include "common/url.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace arca::formats::maven {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool valid_filename(std::string_view s) {
  if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
          c == '+' || c == '~')) {
      return false;
    }
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// --- Version ordering ---

struct Item {
  bool numeric = false;
  std::string text;  // digits without leading zeros, or a lower-cased qualifier
};

std::vector<Item> tokenize(std::string_view v) {
  std::vector<Item> items;
  std::string cur;
  bool cur_digit = false;
  auto flush = [&] {
    if (cur.empty()) return;
    Item it;
    it.numeric = cur_digit;
    if (cur_digit) {
      size_t nz = cur.find_first_not_of('0');
      it.text = nz == std::string::npos ? "0" : cur.substr(nz);
    } else {
      it.text = cur;
    }
    items.push_back(std::move(it));
    cur.clear();
  };
  for (char c : v) {
    if (c == '.' || c == '-' || c == '_') {
      flush();
      continue;
    }
    const bool digit = std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!cur.empty() && digit != cur_digit) flush();
    cur_digit = digit;
    cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  flush();
  // Trailing zeros and release qualifiers do not count ("1.0" == "1" == "1.0.0-ga").
  while (!items.empty() &&
         ((items.back().numeric && items.back().text == "0") ||
          (!items.back().numeric && (items.back().text == "ga" || items.back().text == "final" ||
                                     items.back().text == "release")))) {
    items.pop_back();
  }
  return items;
}

int qualifier_rank(const std::string& q) {
  static const std::map<std::string, int> k_ranks = {
      {"alpha", 1}, {"a", 1},     {"beta", 2},    {"b", 2},        {"milestone", 3},
      {"m", 3},     {"rc", 4},    {"cr", 4},      {"snapshot", 5}, {"", 6},
      {"ga", 6},    {"final", 6}, {"release", 6}, {"sp", 7}};
  auto it = k_ranks.find(q);
  return it == k_ranks.end() ? 8 : it->second;
}

int compare_items(const Item* a, const Item* b) {
  static const Item k_empty_string{false, ""};
  static const Item k_zero{true, "0"};
  if (!a) a = b->numeric ? &k_zero : &k_empty_string;
  if (!b) b = a->numeric ? &k_zero : &k_empty_string;
  if (a->numeric && b->numeric) {
    if (a->text.size() != b->text.size()) return a->text.size() < b->text.size() ? -1 : 1;
    return a->text.compare(b->text) < 0 ? -1 : (a->text == b->text ? 0 : 1);
  }
  if (a->numeric != b->numeric) return a->numeric ? 1 : -1;
  int ra = qualifier_rank(a->text), rb = qualifier_rank(b->text);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 8) return a->text < b->text ? -1 : (a->text == b->text ? 0 : 1);
  return 0;
}

std::string child_text(const pugi::xml_node& n, const char* name) {
  return n.child(name).text().as_string();
}

}  // namespace

bool valid_identifier(std::string_view s) {
  if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool is_snapshot(std::string_view version) { return ends_with(version, "-SNAPSHOT"); }

int compare_versions(std::string_view a, std::string_view b) {
  auto ia = tokenize(a), ib = tokenize(b);
  const size_t n = std::max(ia.size(), ib.size());
  for (size_t i = 0; i < n; ++i) {
    int c = compare_items(i < ia.size() ? &ia[i] : nullptr, i < ib.size() ? &ib[i] : nullptr);
    if (c != 0) return c;
  }
  // Equal in Maven's order; keep distinct spellings distinct and stable.
  return a < b ? -1 : (a == b ? 0 : 1);
}

void sort_versions(std::vector<std::string>& versions) {
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return compare_versions(a, b) < 0; });
  versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
}

std::string_view checksum_suffix(ChecksumKind kind) {
  switch (kind) {
    case ChecksumKind::md5:
      return ".md5";
    case ChecksumKind::sha1:
      return ".sha1";
    case ChecksumKind::sha256:
      return ".sha256";
    case ChecksumKind::sha512:
      return ".sha512";
    case ChecksumKind::none:
      break;
  }
  return "";
}

std::optional<std::string> parse_checksum(std::string_view body, ChecksumKind kind) {
  size_t len = 0;
  switch (kind) {
    case ChecksumKind::md5:
      len = 32;
      break;
    case ChecksumKind::sha1:
      len = 40;
      break;
    case ChecksumKind::sha256:
      len = 64;
      break;
    case ChecksumKind::sha512:
      len = 128;
      break;
    case ChecksumKind::none:
      return std::nullopt;
  }
  size_t start = 0;
  while (start < body.size() && std::isspace(static_cast<unsigned char>(body[start]))) ++start;
  size_t end = start;
  while (end < body.size() && !std::isspace(static_cast<unsigned char>(body[end]))) ++end;
  std::string token(body.substr(start, end - start));
  if (token.size() != len) return std::nullopt;
  for (auto& c : token) {
    if (hex_value(c) < 0) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return token;
}

Result<std::vector<std::string>> parse_directory(std::string_view raw) {
  if (raw.size() < 2 || raw.back() != '/') {
    return make_error(Errc::invalid_argument, "not a directory path");
  }
  raw.remove_suffix(1);
  std::vector<std::string> segments;
  size_t pos = 0;
  for (;;) {
    size_t next = raw.find('/', pos);
    std::string_view seg =
        raw.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    auto decoded = percent_decode(seg);
    if (!decoded) return make_error(Errc::invalid_argument, "malformed percent-encoding in the path");
    if (decoded->empty()) return make_error(Errc::invalid_argument, "empty path segment");
    if (!valid_identifier(*decoded)) {
      return make_error(Errc::invalid_argument, "'" + *decoded + "' is not a valid path segment");
    }
    segments.push_back(std::move(*decoded));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return segments;
}

std::string render_listing(std::string_view path, const std::vector<std::string>& entries) {
  auto escape = [](std::string_view in) {
    std::string out;
    for (char c : in) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
      }
    }
    return out;
  };
  std::string title = escape(path);
  std::string out = "<!DOCTYPE html>\n<html>\n<head><title>" + title + "</title></head>\n<body>\n<h1>" +
                    title + "</h1>\n<hr/>\n<pre>\n<a href=\"../\">../</a>\n";
  for (auto& e : entries) {
    std::string x = escape(e);
    out += "<a href=\"" + x + "\" title=\"" + x + "\">" + x + "</a>\n";
  }
  out += "</pre>\n<hr/>\n</body>\n</html>\n";
  return out;
}

Result<Path> parse_path(std::string_view raw) {
  if (raw.empty()) return make_error(Errc::invalid_argument, "a Maven path is required");
  std::vector<std::string> segments;
  size_t pos = 0;
  for (;;) {
    size_t next = raw.find('/', pos);
    std::string_view seg =
        raw.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    auto decoded = percent_decode(seg);
    if (!decoded)
      return make_error(Errc::invalid_argument, "malformed percent-encoding in the path");
    if (*decoded == "." || *decoded == "..") {
      return make_error(Errc::invalid_argument,
                        "path traversal ('.' or '..' segments) is not allowed");
    }
    if (decoded->find_first_of("/\\") != std::string::npos ||
        decoded->find('\0') != std::string::npos) {
      return make_error(Errc::invalid_argument, "encoded path separators are not allowed");
    }
    if (decoded->empty()) return make_error(Errc::invalid_argument, "empty path segment");
    segments.push_back(std::move(*decoded));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  Path p;
  std::string file = segments.back();
  for (auto kind :
       {ChecksumKind::md5, ChecksumKind::sha1, ChecksumKind::sha256, ChecksumKind::sha512}) {
    auto suffix = checksum_suffix(kind);
    if (ends_with(file, suffix) && file.size() > suffix.size()) {
      p.checksum = kind;
      file.resize(file.size() - suffix.size());
      break;
    }
  }
  if (!valid_filename(file)) {
    return make_error(Errc::invalid_argument, "'" + file + "' is not a valid Maven file name");
  }
  p.filename = file;
  size_t group_end = 0;  // segments [0, group_end) form the groupId
  if (file == "maven-metadata.xml") {
    if (segments.size() >= 4 && is_snapshot(segments[segments.size() - 2])) {
      p.kind = PathKind::version_metadata;
      p.version = segments[segments.size() - 2];
      p.artifact_id = segments[segments.size() - 3];
      group_end = segments.size() - 3;
    } else if (segments.size() >= 3) {
      p.kind = PathKind::artifact_metadata;
      p.artifact_id = segments[segments.size() - 2];
      group_end = segments.size() - 2;
    } else {
      return make_error(Errc::invalid_argument,
                        "maven-metadata.xml needs a groupId and an artifactId");
    }
  } else {
    if (segments.size() < 4) {
      return make_error(
          Errc::invalid_argument,
          "not a Maven repository path: expected <groupId path>/<artifactId>/<version>/<file>");
    }
    p.kind = PathKind::file;
    p.version = segments[segments.size() - 2];
    p.artifact_id = segments[segments.size() - 3];
    group_end = segments.size() - 3;
  }
  for (size_t i = 0; i < group_end; ++i) {
    if (!valid_identifier(segments[i])) {
      return make_error(Errc::invalid_argument,
                        "'" + segments[i] + "' is not a valid groupId part");
    }
    if (i) {
      p.group_id += '.';
      p.group_path += '/';
    }
    p.group_id += segments[i];
    p.group_path += segments[i];
  }
  if (!valid_identifier(p.artifact_id)) {
    return make_error(Errc::invalid_argument, "'" + p.artifact_id + "' is not a valid artifactId");
  }
  if (!p.version.empty() && !valid_identifier(p.version)) {
    return make_error(Errc::invalid_argument, "'" + p.version + "' is not a valid version");
  }
  return p;
}

std::optional<SnapshotFile> parse_snapshot_file(std::string_view artifact_id,
                                                std::string_view version,
                                                std::string_view filename) {
  if (!is_snapshot(version)) return std::nullopt;
  std::string base(version.substr(0, version.size() - 9));
  std::string prefix = std::string(artifact_id) + "-" + base + "-";
  if (filename.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = filename.substr(prefix.size());
  // yyyyMMdd.HHmmss-N
  if (rest.size() < 17 || rest[8] != '.' || rest[15] != '-') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(rest[i]))) return std::nullopt;
  }
  SnapshotFile out;
  out.timestamp = std::string(rest.substr(0, 15));
  size_t i = 16;
  size_t digits_start = i;
  while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
  if (i == digits_start || i - digits_start > 9) return std::nullopt;
  out.build_number = std::stoi(std::string(rest.substr(digits_start, i - digits_start)));
  out.value = base + "-" + out.timestamp + "-" + std::to_string(out.build_number);
  rest = rest.substr(i);
  if (rest.empty()) return std::nullopt;
  if (rest[0] == '-') {
    auto dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 1) return std::nullopt;
    out.classifier = std::string(rest.substr(1, dot - 1));
    out.extension = std::string(rest.substr(dot + 1));
  } else if (rest[0] == '.') {
    out.extension = std::string(rest.substr(1));
  } else {
    return std::nullopt;
  }
  if (out.extension.empty()) return std::nullopt;
  return out;
}

Result<Metadata> parse_metadata(std::string_view xml) {
  if (xml.size() > k_max_metadata_bytes) {
    return make_error(Errc::too_large, "maven-metadata.xml is larger than 4 MiB");
  }
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return make_error(Errc::invalid_argument, std::string("malformed maven-metadata.xml: ") +
                                                  parsed.description() + " at offset " +
                                                  std::to_string(parsed.offset));
  }
  auto root = doc.child("metadata");
  if (!root)
    return make_error(Errc::invalid_argument,
                      "malformed maven-metadata.xml: no <metadata> element");
  Metadata m;
  m.group_id = child_text(root, "groupId");
  m.artifact_id = child_text(root, "artifactId");
  m.version = child_text(root, "version");
  m.has_plugins = static_cast<bool>(root.child("plugins"));
  auto versioning = root.child("versioning");
  if (versioning) {
    m.latest = child_text(versioning, "latest");
    m.release = child_text(versioning, "release");
    m.last_updated = child_text(versioning, "lastUpdated");
    for (auto v : versioning.child("versions").children("version")) {
      std::string s = v.text().as_string();
      if (!valid_identifier(s)) {
        return make_error(Errc::invalid_argument,
                          "malformed maven-metadata.xml: bad version '" + s + "'");
      }
      m.versions.push_back(std::move(s));
    }
    if (auto snap = versioning.child("snapshot")) {
      m.snapshot_timestamp = child_text(snap, "timestamp");
      m.snapshot_build_number = snap.child("buildNumber").text().as_int();
    }
    for (auto sv : versioning.child("snapshotVersions").children("snapshotVersion")) {
      m.snapshot_versions.push_back({child_text(sv, "classifier"), child_text(sv, "extension"),
                                     child_text(sv, "value"), child_text(sv, "updated")});
    }
  }
  if (!m.group_id.empty()) {
    for (size_t pos = 0;;) {
      auto dot = m.group_id.find('.', pos);
      auto part = m.group_id.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (!valid_identifier(part)) {
        return make_error(Errc::invalid_argument, "malformed maven-metadata.xml: bad groupId");
      }
      if (dot == std::string::npos) break;
      pos = dot + 1;
    }
  }
  if (!m.artifact_id.empty() && !valid_identifier(m.artifact_id)) {
    return make_error(Errc::invalid_argument, "malformed maven-metadata.xml: bad artifactId");
  }
  return m;
}

void fill_latest_release(Metadata& m) {
  sort_versions(m.versions);
  m.latest = m.versions.empty() ? "" : m.versions.back();
  m.release.clear();
  for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
    if (!is_snapshot(*it)) {
      m.release = *it;
      break;
    }
  }
}

std::string render_metadata(const Metadata& m) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n";
  out += "  <groupId>" + xml_escape(m.group_id) + "</groupId>\n";
  out += "  <artifactId>" + xml_escape(m.artifact_id) + "</artifactId>\n";
  if (!m.version.empty()) out += "  <version>" + xml_escape(m.version) + "</version>\n";
  out += "  <versioning>\n";
  if (!m.latest.empty()) out += "    <latest>" + xml_escape(m.latest) + "</latest>\n";
  if (!m.release.empty()) out += "    <release>" + xml_escape(m.release) + "</release>\n";
  if (!m.snapshot_timestamp.empty()) {
    out += "    <snapshot>\n      <timestamp>" + xml_escape(m.snapshot_timestamp) +
           "</timestamp>\n      <buildNumber>" + std::to_string(m.snapshot_build_number) +
           "</buildNumber>\n    </snapshot>\n";
  }
  if (!m.versions.empty()) {
    out += "    <versions>\n";
    for (auto& v : m.versions) out += "      <version>" + xml_escape(v) + "</version>\n";
    out += "    </versions>\n";
  }
  if (!m.last_updated.empty())
    out += "    <lastUpdated>" + xml_escape(m.last_updated) + "</lastUpdated>\n";
  if (!m.snapshot_versions.empty()) {
    out += "    <snapshotVersions>\n";
    for (auto& sv : m.snapshot_versions) {
      out += "      <snapshotVersion>\n";
      if (!sv.classifier.empty())
        out += "        <classifier>" + xml_escape(sv.classifier) + "</classifier>\n";
      out += "        <extension>" + xml_escape(sv.extension) + "</extension>\n";
      out += "        <value>" + xml_escape(sv.value) + "</value>\n";
      out += "        <updated>" + xml_escape(sv.updated) + "</updated>\n";
      out += "      </snapshotVersion>\n";
    }
    out += "    </snapshotVersions>\n";
  }
  out += "  </versioning>\n</metadata>\n";
  return out;
}

Metadata snapshot_metadata(std::string_view group_id, std::string_view artifact_id,
                           std::string_view version, const std::vector<std::string>& filenames) {
  Metadata m;
  m.group_id = std::string(group_id);
  m.artifact_id = std::string(artifact_id);
  m.version = std::string(version);
  // The newest build of each (classifier, extension).
  std::map<std::pair<std::string, std::string>, SnapshotFile> newest;
  for (auto& f : filenames) {
    auto sf = parse_snapshot_file(artifact_id, version, f);
    if (!sf) continue;
    if (sf->build_number > m.snapshot_build_number ||
        (sf->build_number == m.snapshot_build_number && sf->timestamp > m.snapshot_timestamp)) {
      m.snapshot_build_number = sf->build_number;
      m.snapshot_timestamp = sf->timestamp;
    }
    auto key = std::make_pair(sf->classifier, sf->extension);
    auto it = newest.find(key);
    if (it == newest.end() || sf->build_number > it->second.build_number) newest[key] = *sf;
  }
  for (auto& [key, sf] : newest) {
    std::string updated = sf.timestamp.substr(0, 8) + sf.timestamp.substr(9);
    m.snapshot_versions.push_back({sf.classifier, sf.extension, sf.value, updated});
    if (updated > m.last_updated) m.last_updated = updated;
  }
  return m;
}

std::string maven_timestamp(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

}  // namespace arca::formats::maven
