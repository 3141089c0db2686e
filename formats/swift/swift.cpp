#include "formats/swift/swift.hpp"

#include "common/json_depth.hpp"
#include "common/text.hpp"
#include "common/url.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <array>
#include <memory>

namespace arca::formats::swift {

using json = nlohmann::json;

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Identifiers joined by '.', each non-empty and of [0-9A-Za-z-]; numeric ones without leading
// zeros when `numeric_rule`.
bool valid_identifiers(std::string_view s, bool numeric_rule) {
  for (auto id : split(s, '.')) {
    if (id.empty()) return false;
    bool numeric = true;
    for (char c : id) {
      if (!is_alnum(c) && c != '-') return false;
      if (!is_digit(c)) numeric = false;
    }
    if (numeric_rule && numeric && id.size() > 1 && id[0] == '0') return false;
  }
  return true;
}

bool valid_number(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return s.size() == 1 || s[0] != '0';
}

struct Parts {
  std::string_view major, minor, patch, pre;
};

Parts split_version(std::string_view v) {
  Parts p;
  if (auto plus = v.find('+'); plus != std::string_view::npos) v = v.substr(0, plus);
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    p.pre = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  auto nums = split(v, '.');
  if (nums.size() == 3) {
    p.major = nums[0];
    p.minor = nums[1];
    p.patch = nums[2];
  }
  return p;
}

int compare_numbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_scope(std::string_view scope) {
  if (scope.empty() || scope.size() > 39) return false;
  if (!is_alnum(scope.front()) || !is_alnum(scope.back())) return false;
  for (size_t i = 0; i < scope.size(); ++i) {
    char c = scope[i];
    if (is_alnum(c)) continue;
    if (c != '-' || !is_alnum(scope[i + 1])) return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  if (!is_alnum(name.front()) || !is_alnum(name.back())) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (is_alnum(c)) continue;
    if ((c != '-' && c != '_') || !is_alnum(name[i + 1])) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_version(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  std::string_view core = v;
  if (auto plus = core.find('+'); plus != std::string_view::npos) {
    if (!valid_identifiers(core.substr(plus + 1), false)) return false;
    core = core.substr(0, plus);
  }
  if (auto dash = core.find('-'); dash != std::string_view::npos) {
    if (!valid_identifiers(core.substr(dash + 1), true)) return false;
    core = core.substr(0, dash);
  }
  auto nums = split(core, '.');
  if (nums.size() != 3) return false;
  for (auto n : nums) {
    if (!valid_number(n)) return false;
  }
  return true;
}

int compare_versions(std::string_view a, std::string_view b) {
  Parts pa = split_version(a), pb = split_version(b);
  if (int c = compare_numbers(pa.major, pb.major)) return c;
  if (int c = compare_numbers(pa.minor, pb.minor)) return c;
  if (int c = compare_numbers(pa.patch, pb.patch)) return c;
  // A pre-release has lower precedence than the release itself (SemVer 11.3).
  if (pa.pre.empty() != pb.pre.empty()) return pa.pre.empty() ? 1 : -1;
  if (!pa.pre.empty()) {
    auto ia = split(pa.pre, '.'), ib = split(pb.pre, '.');
    for (size_t i = 0; i < ia.size() && i < ib.size(); ++i) {
      const bool na = all_digits(ia[i]), nb = all_digits(ib[i]);
      int c = 0;
      if (na && nb) {
        c = compare_numbers(ia[i], ib[i]);
      } else if (na != nb) {
        c = na ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
      } else {
        c = ia[i].compare(ib[i]);
        c = c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      if (c) return c;
    }
    if (ia.size() != ib.size()) return ia.size() < ib.size() ? -1 : 1;
  }
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string_view content_type(Media media) {
  switch (media) {
    case Media::json:
      return "application/json";
    case Media::zip:
      return "application/zip";
    case Media::swift:
      return "text/x-swift";
  }
  return "application/json";
}

Negotiation negotiate(std::string_view accept, Media media) {
  if (trim(accept).empty()) return {};
  const std::string_view wanted = media == Media::json ? "json"
                                  : media == Media::zip ? "zip"
                                                        : "swift";
  constexpr std::string_view k_prefix = "application/vnd.swift.registry";
  Negotiation first_problem;
  for (auto item : split(accept, ',')) {
    std::string_view type = item;
    if (auto semi = type.find(';'); semi != std::string_view::npos) type = type.substr(0, semi);
    type = trim(type);
    if (type.empty()) continue;
    const std::string t = lower(type);
    if (t == "*/*" || t == "application/*" || t == content_type(media)) return {};
    if (media == Media::swift && t == "text/*") return {};
    if (t.rfind(k_prefix, 0) != 0) continue;
    std::string_view rest = std::string_view(t).substr(k_prefix.size());
    std::string_view version, suffix;
    if (auto plus = rest.find('+'); plus != std::string_view::npos) {
      suffix = rest.substr(plus + 1);
      rest = rest.substr(0, plus);
    }
    if (!rest.empty()) {
      if (rest.size() < 3 || rest.substr(0, 2) != ".v" || !all_digits(rest.substr(2))) {
        if (first_problem.status == 0) first_problem = {400, "invalid API version"};
        continue;
      }
      version = rest.substr(2);
      if (version != "1") {
        if (first_problem.status == 0) first_problem = {415, "unsupported API version"};
        continue;
      }
    }
    // Without a suffix the version alone is named (the spec's own /identifiers and publish
    // examples send "application/vnd.swift.registry.v1"): acceptable for every resource.
    if (suffix.empty() || suffix == wanted) return {};
    if (first_problem.status == 0)
      first_problem = {415, "unsupported media type: this resource is " +
                                std::string(content_type(media)) + " (application/vnd.swift.registry.v1+" +
                                std::string(wanted) + ")"};
  }
  if (first_problem.status != 0) return first_problem;
  return {415, "unsupported media type: this resource is " + std::string(content_type(media)) +
                   " (Accept: application/vnd.swift.registry.v1+" + std::string(wanted) + ")"};
}

std::string problem(unsigned status, std::string_view detail) {
  std::string title;
  switch (status) {
    case 400: title = "Bad Request"; break;
    case 401: title = "Unauthorized"; break;
    case 403: title = "Forbidden"; break;
    case 404: title = "Not Found"; break;
    case 405: title = "Method Not Allowed"; break;
    case 409: title = "Conflict"; break;
    case 413: title = "Payload Too Large"; break;
    case 415: title = "Unsupported Media Type"; break;
    case 422: title = "Unprocessable Entity"; break;
    case 500: title = "Internal Server Error"; break;
    case 502: title = "Bad Gateway"; break;
    default: title = "Error"; break;
  }
  json j = {{"status", status}, {"title", title}, {"detail", std::string(detail)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> manifest_swift_version(std::string_view filename) {
  constexpr std::string_view k_head = "Package@swift-", k_tail = ".swift";
  if (filename.size() <= k_head.size() + k_tail.size()) return std::nullopt;
  if (filename.substr(0, k_head.size()) != k_head) return std::nullopt;
  if (filename.substr(filename.size() - k_tail.size()) != k_tail) return std::nullopt;
  std::string_view v = filename.substr(k_head.size(), filename.size() - k_head.size() - k_tail.size());
  if (!valid_swift_version(v)) return std::nullopt;
  return std::string(v);
}

bool valid_swift_version(std::string_view v) {
  auto parts = split(v, '.');
  if (parts.empty() || parts.size() > 3) return false;
  for (auto p : parts) {
    if (p.empty() || p.size() > 4 || !all_digits(p)) return false;
  }
  return true;
}

std::string tools_version(std::string_view manifest) {
  std::string_view line = manifest.substr(0, manifest.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF) line.remove_prefix(3);
  line = trim(line);
  if (line.substr(0, 2) != "//") return {};
  line = trim(line.substr(2));
  constexpr std::string_view k_key = "swift-tools-version";
  if (lower(line.substr(0, k_key.size())) != k_key) return {};
  line = trim(line.substr(k_key.size()));
  if (line.empty() || line.front() != ':') return {};
  line = trim(line.substr(1));
  size_t end = 0;
  while (end < line.size() && (is_digit(line[end]) || line[end] == '.')) ++end;
  std::string v(line.substr(0, end));
  if (!valid_swift_version(v)) return {};
  if (v.find('.') == std::string::npos) v += ".0";
  return v;
}

Result<std::map<std::string, std::string>> read_manifests(std::string_view zip,
                                                          uint64_t max_bytes) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  archive_read_support_format_zip(a.get());
  if (zip.empty() ||
      archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    return make_error(Errc::invalid_argument, "the source archive is not a zip archive");
  }
  std::map<std::string, std::string> out;
  std::optional<std::string> top;  // the directory the manifests are in ("" for the root)
  archive_entry* entry = nullptr;
  bool any_entry = false;
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return make_error(Errc::invalid_argument, "the source archive is not a readable zip archive");
    }
    any_entry = true;
    const char* raw = archive_entry_pathname(entry);
    if (!raw) continue;
    std::string_view path(raw);
    std::string_view dir, file = path;
    if (auto slash = path.find('/'); slash != std::string_view::npos) {
      dir = path.substr(0, slash);
      file = path.substr(slash + 1);
      if (file.find('/') != std::string_view::npos) continue;
    }
    if (file != "Package.swift" && !manifest_swift_version(file)) continue;
    if (top && *top != dir) {
      return make_error(Errc::invalid_argument,
                        "the source archive has package manifests in more than one directory");
    }
    top = std::string(dir);
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > max_bytes) {
      return make_error(Errc::invalid_argument, "the manifest " + std::string(file) + " is too large");
    }
    std::string content;
    std::array<char, 16384> buf;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) {
        return make_error(Errc::invalid_argument,
                          "the manifest " + std::string(file) + " cannot be read from the archive");
      }
      if (n == 0) break;
      content.append(buf.data(), static_cast<size_t>(n));
      if (content.size() > max_bytes)
        return make_error(Errc::invalid_argument, "the manifest " + std::string(file) + " is too large");
    }
    out[std::string(file)] = std::move(content);
  }
  if (!any_entry) return make_error(Errc::invalid_argument, "the source archive is empty or not a zip archive");
  if (!out.count("Package.swift")) {
    return make_error(Errc::invalid_argument,
                      "package doesn't contain a valid manifest (Package.swift) file");
  }
  return out;
}

Result<json> parse_metadata(std::string_view text) {
  // Copies and dump() of a parsed value recurse per level (common/json_depth.hpp).
  if (!json_nesting_within(text))
    return make_error(Errc::invalid_argument, "release metadata is nested more than " +
                                                  std::to_string(k_max_json_depth) + " levels deep");
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error(Errc::invalid_argument, "invalid JSON provided for release metadata");
  if (!j.is_object()) return make_error(Errc::invalid_argument, "release metadata must be a JSON object");
  if (auto it = j.find("repositoryURLs"); it != j.end()) {
    if (!it->is_array()) return make_error(Errc::invalid_argument, "repositoryURLs must be an array of strings");
    for (auto& u : *it) {
      if (!u.is_string() || u.get<std::string>().empty() || u.get<std::string>().size() > 2048)
        return make_error(Errc::invalid_argument, "repositoryURLs must be an array of non-empty strings");
    }
  }
  return j;
}

std::string normalize_repository_url(std::string_view url) {
  std::string s = lower(trim(url));
  std::string_view v = s;
  if (auto scheme = v.find("://"); scheme != std::string_view::npos) {
    v = v.substr(scheme + 3);
  } else if (auto colon = v.find(':'); colon != std::string_view::npos &&
                                        v.find('/') > colon) {
    // scp-like "git@host:path"
    std::string rebuilt = std::string(v.substr(0, colon)) + "/" + std::string(v.substr(colon + 1));
    s = rebuilt;
    v = s;
  }
  if (auto at = v.find('@'); at != std::string_view::npos && at < v.find('/')) v = v.substr(at + 1);
  while (!v.empty() && v.back() == '/') v.remove_suffix(1);
  if (v.size() > 4 && v.substr(v.size() - 4) == ".git") v.remove_suffix(4);
  while (!v.empty() && v.back() == '/') v.remove_suffix(1);
  return std::string(v);
}

std::string render_links(const std::vector<Link>& links) {
  std::string out;
  for (auto& l : links) {
    if (!out.empty()) out += ", ";
    out += "<" + l.url + ">; rel=\"" + l.rel + "\"";
    for (auto& [k, v] : l.params) out += "; " + k + "=\"" + v + "\"";
  }
  return out;
}

std::vector<Link> parse_links(std::string_view header) {
  std::vector<Link> out;
  size_t i = 0;
  while (i < header.size()) {
    size_t lt = header.find('<', i);
    if (lt == std::string_view::npos) break;
    size_t gt = header.find('>', lt);
    if (gt == std::string_view::npos) break;
    Link link;
    link.url = std::string(header.substr(lt + 1, gt - lt - 1));
    i = gt + 1;
    // Parameters up to the next ',' outside quotes.
    for (;;) {
      while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
      if (i >= header.size() || header[i] == ',') {
        if (i < header.size()) ++i;
        break;
      }
      if (header[i] != ';') {  // malformed: skip to the next entry
        while (i < header.size() && header[i] != ',') ++i;
        break;
      }
      ++i;
      while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
      size_t key_start = i;
      while (i < header.size() && header[i] != '=' && header[i] != ';' && header[i] != ',') ++i;
      std::string key = lower(trim(header.substr(key_start, i - key_start)));
      std::string value;
      if (i < header.size() && header[i] == '=') {
        ++i;
        while (i < header.size() && header[i] == ' ') ++i;
        if (i < header.size() && header[i] == '"') {
          size_t close = header.find('"', i + 1);
          if (close == std::string_view::npos) close = header.size();
          value = std::string(header.substr(i + 1, close - i - 1));
          i = close < header.size() ? close + 1 : close;
        } else {
          size_t start = i;
          while (i < header.size() && header[i] != ';' && header[i] != ',') ++i;
          value = std::string(trim(header.substr(start, i - start)));
        }
      }
      if (key == "rel") {
        link.rel = value;
      } else if (!key.empty()) {
        link.params.emplace_back(std::move(key), std::move(value));
      }
    }
    out.push_back(std::move(link));
  }
  return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  for (auto pair : split(query, '&')) {
    std::string_view k = pair, v;
    if (auto eq = pair.find('='); eq != std::string_view::npos) {
      k = pair.substr(0, eq);
      v = pair.substr(eq + 1);
    }
    auto key = percent_decode(k, true);
    if (!key || *key != name) continue;
    return percent_decode(v, true);
  }
  return std::nullopt;
}

}  // namespace arca::formats::swift
