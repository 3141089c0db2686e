#include "formats/pypi/pypi.hpp"

#include "common/digest.hpp"
#include "formats/npm/npm.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <set>

namespace arca::formats::pypi {

using json = nlohmann::json;

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

bool is_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// "sha256=<hex>" -> {algo, hex}; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> parse_hash(std::string_view s) {
  auto eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  std::string algo = to_lower(s.substr(0, eq));
  std::string_view hex = s.substr(eq + 1);
  for (char c : algo) {
    if (!is_alnum(c) && c != '_' && c != '-') return std::nullopt;
  }
  if (!is_hex(hex) || hex.size() > 256) return std::nullopt;
  return std::make_pair(algo, to_lower(hex));
}

// Resolves `ref` against `base` and drops the fragment; nullopt when either does not parse.
std::optional<std::string> resolve_url(std::string_view base, std::string_view ref,
                                       std::string* fragment) {
  auto r = boost::urls::parse_uri_reference(ref);
  if (!r) return std::nullopt;
  if (fragment && r->has_fragment()) *fragment = std::string(r->fragment());
  boost::urls::url out;
  if (r->has_scheme()) {
    out = *r;
  } else {
    auto b = boost::urls::parse_uri(base);
    if (!b) return std::nullopt;
    if (!boost::urls::resolve(*b, *r, out)) return std::nullopt;
  }
  out.remove_fragment();
  auto scheme = out.scheme();
  if (scheme != "http" && scheme != "https") return std::nullopt;
  return std::string(out.buffer());
}

// The last path segment of a URL, percent-decoded.
std::string url_basename(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return {};
  auto segs = u->segments();
  if (segs.empty()) return {};
  return std::string(segs.back());
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the HTML character references that index pages use; unknown ones stay literal.
std::string html_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out += '&';
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    std::optional<uint32_t> cp;
    if (ent == "amp")
      cp = '&';
    else if (ent == "lt")
      cp = '<';
    else if (ent == "gt")
      cp = '>';
    else if (ent == "quot")
      cp = '"';
    else if (ent == "apos")
      cp = '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      uint32_t v = 0;
      bool ok = !digits.empty() && digits.size() <= 7;
      for (char c : digits) {
        if (hex && std::isxdigit(static_cast<unsigned char>(c))) {
          v = v * 16 + static_cast<uint32_t>(is_digit(c) ? c - '0' : lower(c) - 'a' + 10);
        } else if (!hex && is_digit(c)) {
          v = v * 10 + static_cast<uint32_t>(c - '0');
        } else {
          ok = false;
        }
      }
      if (ok) cp = v;
    }
    if (!cp) {
      out += '&';
      continue;
    }
    append_utf8(out, *cp);
    i = semi;
  }
  return out;
}

// Release components and the rest: "1.2.0rc1" -> {[1,2,0], "rc1"}.
std::pair<std::vector<std::string>, std::string> split_release(std::string_view v) {
  std::vector<std::string> release;
  size_t i = 0;
  for (;;) {
    size_t start = i;
    while (i < v.size() && is_digit(v[i])) ++i;
    if (i == start) break;
    release.emplace_back(v.substr(start, i - start));
    if (i + 1 < v.size() && v[i] == '.' && is_digit(v[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  return {release, std::string(v.substr(i))};
}

int compare_numeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int suffix_rank(std::string_view rest) {
  std::string_view r = rest;
  while (!r.empty() && (r[0] == '.' || r[0] == '-' || r[0] == '_')) r.remove_prefix(1);
  if (r.empty()) return 3;
  if (istarts_with(r, "dev")) return 0;
  if (istarts_with(r, "alpha") || istarts_with(r, "a")) return 1;
  if (istarts_with(r, "beta") || istarts_with(r, "b")) return 1;
  if (istarts_with(r, "rc") || istarts_with(r, "c") || istarts_with(r, "pre") ||
      istarts_with(r, "preview")) {
    return 2;
  }
  if (r[0] == '+') return 3;
  return 4;  // post releases and anything else after the release
}

bool valid_name_chars(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  if (!is_alnum(name.front()) || !is_alnum(name.back())) return false;
  for (char c : name) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

// --- Names and versions ---

std::string normalize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool sep = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      sep = true;
      continue;
    }
    if (sep && !out.empty()) out += '-';
    sep = false;
    out += lower(c);
  }
  return out;
}

Result<std::string> parse_project_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::invalid_argument, "a project name is required");
  std::string normalized = normalize_name(name);
  if (normalized.empty()) {
    return make_error(Errc::invalid_argument,
                      "invalid project name '" + std::string(name) + "': it normalizes to nothing");
  }
  if (!valid_name_chars(name)) {
    std::string shown(name.substr(0, 100));
    for (auto& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return make_error(Errc::invalid_argument,
                      "invalid project name '" + shown +
                          "': use ASCII letters, digits, '-', '_' and '.', starting and ending "
                          "with a letter or digit (PEP 508)");
  }
  return normalized;
}

bool valid_version(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  if (!is_alnum(v.front()) || !is_alnum(v.back())) return false;
  if (v.find("..") != std::string_view::npos) return false;
  for (char c : v) {
    if (!is_alnum(c) && c != '.' && c != '!' && c != '+' && c != '-' && c != '_') return false;
  }
  return true;
}

std::string canonical_version(std::string_view version) {
  std::string v = to_lower(trim(version));
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  for (auto& c : v) {
    if (c == '_' || c == '-') c = '.';
  }
  auto [release, rest] = split_release(v);
  while (release.size() > 1 && compare_numeric(release.back(), "0") == 0) release.pop_back();
  std::string out;
  for (auto& part : release) {
    if (!out.empty()) out += '.';
    size_t nz = part.find_first_not_of('0');
    out += nz == std::string::npos ? "0" : part.substr(nz);
  }
  // "1.0.rc1" and "1.0rc1" are the same version.
  if (!rest.empty() && rest[0] == '.' && rest.size() > 1 && !is_digit(rest[1])) rest.erase(0, 1);
  return out + rest;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto [ra, sa] = split_release(a);
  auto [rb, sb] = split_release(b);
  const size_t n = std::max(ra.size(), rb.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = i < ra.size() ? std::string_view(ra[i]) : "0";
    std::string_view y = i < rb.size() ? std::string_view(rb[i]) : "0";
    if (int c = compare_numeric(x, y)) return c;
  }
  if (ra.empty() != rb.empty()) return ra.empty() ? 1 : -1;  // non-numeric versions last
  int ka = suffix_rank(sa), kb = suffix_rank(sb);
  if (ka != kb) return ka < kb ? -1 : 1;
  int c = sa.compare(sb);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// --- File names ---

bool valid_filename(std::string_view f) {
  if (f.empty() || f.size() > 255 || f[0] == '.') return false;
  if (f.find("..") != std::string_view::npos) return false;
  for (char c : f) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u >= 0x7f) return false;
    if (c == '/' || c == '\\' || c == '%' || c == '?' || c == '#' || c == '"' || c == '<' ||
        c == '>' || c == '&' || c == '\'') {
      return false;
    }
  }
  return true;
}

Result<DistFile> parse_filename(std::string_view filename, std::string_view project) {
  auto bad = [&](std::string why) {
    std::string shown(filename.substr(0, 120));
    for (auto& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return make_error(Errc::invalid_argument,
                      "invalid distribution file name '" + shown + "': " + why);
  };
  if (filename.find('/') != std::string_view::npos ||
      filename.find('\\') != std::string_view::npos) {
    return bad("it contains a path separator");
  }
  if (filename.find("..") != std::string_view::npos) return bad("it contains '..'");
  if (!valid_filename(filename)) return bad("it contains characters that are not allowed");
  DistFile out;
  out.project = std::string(project);
  if (iends_with(filename, ".whl")) {
    out.kind = FileKind::wheel;
    std::string_view stem = filename.substr(0, filename.size() - 4);
    std::vector<std::string_view> parts;
    size_t pos = 0;
    for (;;) {
      auto dash = stem.find('-', pos);
      parts.push_back(
          stem.substr(pos, dash == std::string_view::npos ? std::string_view::npos : dash - pos));
      if (dash == std::string_view::npos) break;
      pos = dash + 1;
    }
    if (parts.size() != 5 && parts.size() != 6) {
      return bad("a wheel name has 5 or 6 '-'-separated parts (PEP 427)");
    }
    for (auto p : parts) {
      if (p.empty()) return bad("a wheel name part is empty");
    }
    if (normalize_name(parts[0]) != project) {
      return bad("it is not a file of project '" + std::string(project) + "'");
    }
    if (!valid_version(parts[1])) return bad("invalid version '" + std::string(parts[1]) + "'");
    out.version = std::string(parts[1]);
    return out;
  }
  static const std::array<std::string_view, 6> k_sdist_ext = {".tar.gz", ".zip", ".tar.bz2",
                                                              ".tar.xz", ".tgz", ".tar"};
  std::string_view stem;
  for (auto ext : k_sdist_ext) {
    if (iends_with(filename, ext)) {
      stem = filename.substr(0, filename.size() - ext.size());
      break;
    }
  }
  if (stem.empty()) return bad("not a wheel (.whl) or an sdist (.tar.gz, .zip)");
  out.kind = FileKind::sdist;
  // The name part may itself contain '-' (old sdists): take the first split whose name part
  // normalizes to the project.
  for (size_t dash = stem.find('-'); dash != std::string_view::npos;
       dash = stem.find('-', dash + 1)) {
    if (normalize_name(stem.substr(0, dash)) == project) {
      std::string_view version = stem.substr(dash + 1);
      if (!valid_version(version)) return bad("invalid version '" + std::string(version) + "'");
      out.version = std::string(version);
      return out;
    }
  }
  return bad("it is not '{name}-{version}' of project '" + std::string(project) + "'");
}

// --- Project pages ---

void fill_versions(ProjectPage& page, std::string_view project) {
  std::vector<std::string> all = page.versions;
  for (auto& f : page.files) {
    auto parsed = parse_filename(f.filename, project);
    if (parsed) all.push_back(parsed->version);
  }
  std::sort(all.begin(), all.end(),
            [](const std::string& a, const std::string& b) { return compare_versions(a, b) < 0; });
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& v : all) {
    if (seen.insert(canonical_version(v)).second) out.push_back(v);
  }
  page.versions = std::move(out);
}

namespace {

std::map<std::string, std::string> hashes_from_json(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) continue;
    std::string hex = it.value().get<std::string>();
    if (!is_hex(hex) || hex.size() > 256) continue;
    out[to_lower(it.key())] = to_lower(hex);
  }
  return out;
}

}  // namespace

Result<ProjectPage> parse_project_json(std::string_view body, std::string_view page_url) {
  auto parsed = npm::parse_json_object(body, Errc::upstream_error);
  if (!parsed) {
    return make_error(Errc::upstream_error, "the upstream JSON project page is not a JSON object");
  }
  const json& doc = *parsed;
  if (auto meta = doc.find("meta"); meta != doc.end()) {
    if (!meta->is_object())
      return make_error(Errc::upstream_error, "the upstream JSON page's \"meta\" is not an object");
    if (auto v = meta->find("api-version"); v != meta->end()) {
      if (!v->is_string() || v->get<std::string>().rfind("1.", 0) != 0) {
        return make_error(Errc::upstream_error,
                          "the upstream JSON page has an unsupported api-version");
      }
    }
  }
  auto files = doc.find("files");
  if (files == doc.end() || !files->is_array()) {
    return make_error(Errc::upstream_error,
                      "the upstream JSON project page has no \"files\" array (PEP 691)");
  }
  ProjectPage page;
  if (auto n = doc.find("name"); n != doc.end() && n->is_string())
    page.name = n->get<std::string>();
  for (auto& f : *files) {
    if (!f.is_object())
      return make_error(Errc::upstream_error,
                        "a file entry of the upstream JSON page is not an object");
    auto fn = f.find("filename");
    auto url = f.find("url");
    if (fn == f.end() || !fn->is_string() || url == f.end() || !url->is_string()) {
      return make_error(
          Errc::upstream_error,
          "a file entry of the upstream JSON page lacks a string \"filename\" or \"url\"");
    }
    File file;
    file.filename = fn->get<std::string>();
    if (!valid_filename(file.filename)) continue;
    std::string fragment;
    auto resolved = resolve_url(page_url, url->get<std::string>(), &fragment);
    if (!resolved) continue;
    file.url = std::move(*resolved);
    if (auto h = f.find("hashes"); h != f.end()) file.hashes = hashes_from_json(*h);
    if (file.hashes.empty() && !fragment.empty()) {
      if (auto h = parse_hash(fragment)) file.hashes[h->first] = h->second;
    }
    if (auto rp = f.find("requires-python"); rp != f.end() && rp->is_string()) {
      file.requires_python = rp->get<std::string>();
    }
    if (auto y = f.find("yanked"); y != f.end()) {
      if (y->is_boolean())
        file.yanked = y->get<bool>();
      else if (y->is_string()) {
        file.yanked = true;
        file.yanked_reason = y->get<std::string>();
      }
    }
    // PEP 714 prefers "core-metadata"; "dist-info-metadata" is the older spelling.
    for (const char* key : {"core-metadata", "dist-info-metadata"}) {
      auto m = f.find(key);
      if (m == f.end()) continue;
      if (m->is_boolean())
        file.core_metadata = m->get<bool>();
      else if (m->is_object()) {
        file.core_metadata = true;
        file.core_metadata_hashes = hashes_from_json(*m);
      }
      break;
    }
    if (auto s = f.find("size"); s != f.end() && s->is_number_unsigned())
      file.size = s->get<uint64_t>();
    if (auto t = f.find("upload-time"); t != f.end() && t->is_string())
      file.upload_time = t->get<std::string>();
    page.files.push_back(std::move(file));
  }
  if (auto vs = doc.find("versions"); vs != doc.end() && vs->is_array()) {
    for (auto& v : *vs) {
      if (v.is_string() && valid_version(v.get<std::string>()))
        page.versions.push_back(v.get<std::string>());
    }
  }
  return page;
}

Result<ProjectPage> parse_project_html(std::string_view body, std::string_view page_url) {
  if (body.find('\0') != std::string_view::npos || body.find('<') == std::string_view::npos) {
    return make_error(Errc::upstream_error, "the upstream index page is not HTML");
  }
  ProjectPage page;
  std::string base(page_url);
  size_t i = 0;
  while (i < body.size()) {
    size_t lt = body.find('<', i);
    if (lt == std::string_view::npos) break;
    i = lt + 1;
    // Skip comments.
    if (body.substr(lt, 4) == "<!--") {
      size_t end = body.find("-->", lt + 4);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    size_t name_end = i;
    while (name_end < body.size() && (is_alnum(body[name_end]))) ++name_end;
    std::string tag = to_lower(body.substr(i, name_end - i));
    if (tag != "a" && tag != "base") continue;
    // Attributes up to '>', honouring quotes.
    std::map<std::string, std::string> attrs;
    size_t p = name_end;
    bool closed = false, broken = false;
    while (p < body.size()) {
      while (p < body.size() && (is_space(body[p]) || body[p] == '/')) ++p;
      if (p >= body.size()) break;
      if (body[p] == '>') {
        closed = true;
        ++p;
        break;
      }
      if (body[p] == '<') {  // a new tag starts: this one was never closed
        broken = true;
        break;
      }
      size_t an = p;
      while (p < body.size() && !is_space(body[p]) && body[p] != '=' && body[p] != '>' &&
             body[p] != '<')
        ++p;
      std::string attr = to_lower(body.substr(an, p - an));
      while (p < body.size() && is_space(body[p])) ++p;
      std::string value;
      if (p < body.size() && body[p] == '=') {
        ++p;
        while (p < body.size() && is_space(body[p])) ++p;
        if (p < body.size() && (body[p] == '"' || body[p] == '\'')) {
          char q = body[p++];
          size_t close = body.find(q, p);
          if (close == std::string_view::npos) {
            broken = true;
            break;
          }
          value = html_unescape(body.substr(p, close - p));
          p = close + 1;
        } else {
          size_t vs = p;
          while (p < body.size() && !is_space(body[p]) && body[p] != '>') ++p;
          value = html_unescape(body.substr(vs, p - vs));
        }
      }
      if (!attr.empty() && !attrs.count(attr)) attrs[attr] = std::move(value);
    }
    if (broken || !closed) {
      i = p;
      continue;
    }
    i = p;
    auto href = attrs.find("href");
    if (tag == "base") {
      if (href != attrs.end()) {
        if (auto r = resolve_url(base, href->second, nullptr)) base = *r;
      }
      continue;
    }
    // The anchor's text, up to </a>.
    size_t close = i;
    std::string_view text;
    for (;;) {
      close = body.find("</", close);
      if (close == std::string_view::npos) break;
      if (close + 3 <= body.size() && lower(body[close + 2]) == 'a' &&
          (close + 3 == body.size() || body[close + 3] == '>' || is_space(body[close + 3]))) {
        break;
      }
      close += 2;
    }
    if (close == std::string_view::npos) continue;  // unterminated anchor: skipped
    text = body.substr(i, close - i);
    i = close + 3;
    if (href == attrs.end() || href->second.empty()) continue;
    File file;
    std::string fragment;
    auto url = resolve_url(base, trim(href->second), &fragment);
    if (!url) continue;
    file.url = std::move(*url);
    file.filename = html_unescape(trim(text));
    if (!valid_filename(file.filename)) file.filename = url_basename(file.url);
    if (!valid_filename(file.filename)) continue;
    if (!fragment.empty()) {
      if (auto h = parse_hash(fragment)) file.hashes[h->first] = h->second;
    }
    if (auto rp = attrs.find("data-requires-python"); rp != attrs.end())
      file.requires_python = rp->second;
    if (auto y = attrs.find("data-yanked"); y != attrs.end()) {
      file.yanked = true;
      file.yanked_reason = y->second;
    }
    for (const char* key : {"data-core-metadata", "data-dist-info-metadata"}) {
      auto m = attrs.find(key);
      if (m == attrs.end()) continue;
      if (m->second == "true") {
        file.core_metadata = true;
      } else if (auto h = parse_hash(m->second)) {
        file.core_metadata = true;
        file.core_metadata_hashes[h->first] = h->second;
      }
      break;
    }
    page.files.push_back(std::move(file));
  }
  return page;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_escape(std::string_view s) {
  static const char* k_hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    }
  }
  return out;
}

std::string render_project_html(const ProjectPage& page) {
  std::string name = html_escape(page.name);
  std::string out =
      "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" "
      "content=\"1.1\">\n"
      "    <title>Links for " +
      name + "</title>\n  </head>\n  <body>\n    <h1>Links for " + name + "</h1>\n";
  for (auto& f : page.files) {
    std::string href = f.url;
    if (auto h = f.hashes.find("sha256"); h != f.hashes.end())
      href += "#sha256=" + h->second;
    else if (!f.hashes.empty())
      href += "#" + f.hashes.begin()->first + "=" + f.hashes.begin()->second;
    out += "    <a href=\"" + html_escape(href) + "\"";
    if (!f.requires_python.empty())
      out += " data-requires-python=\"" + html_escape(f.requires_python) + "\"";
    if (f.yanked) out += " data-yanked=\"" + html_escape(f.yanked_reason) + "\"";
    if (f.core_metadata) {
      std::string value = "true";
      if (auto h = f.core_metadata_hashes.find("sha256"); h != f.core_metadata_hashes.end()) {
        value = "sha256=" + h->second;
      }
      out += " data-dist-info-metadata=\"" + html_escape(value) + "\" data-core-metadata=\"" +
             html_escape(value) + "\"";
    }
    out += ">" + html_escape(f.filename) + "</a><br />\n";
  }
  out += "  </body>\n</html>\n";
  return out;
}

namespace {

json page_json(const ProjectPage& page) {
  json files = json::array();
  for (auto& f : page.files) {
    json j = {{"filename", f.filename}, {"url", f.url}, {"hashes", json::object()}};
    for (auto& [k, v] : f.hashes) j["hashes"][k] = v;
    if (!f.requires_python.empty()) j["requires-python"] = f.requires_python;
    if (f.yanked)
      j["yanked"] = f.yanked_reason.empty() ? json(true) : json(f.yanked_reason);
    else
      j["yanked"] = false;
    if (f.core_metadata) {
      json hashes = json::object();
      for (auto& [k, v] : f.core_metadata_hashes) hashes[k] = v;
      j["core-metadata"] = hashes.empty() ? json(true) : hashes;
      // No "dist-info-metadata" (the pre-PEP 714 name): pip 23.0 passes its value to a string
      // regex and crashes on both a dict and true; pip >= 23.2 reads "core-metadata".
    } else {
      j["core-metadata"] = false;
    }
    if (f.size) j["size"] = *f.size;
    if (!f.upload_time.empty()) j["upload-time"] = f.upload_time;
    files.push_back(std::move(j));
  }
  json versions = json::array();
  for (auto& v : page.versions) versions.push_back(v);
  return json{{"meta", {{"api-version", "1.1"}}},
              {"name", page.name},
              {"versions", versions},
              {"files", files}};
}

}  // namespace

std::string render_project_json(const ProjectPage& page) { return dump(page_json(page)); }

std::string serialize_page(const ProjectPage& page) { return dump(page_json(page)); }

Result<ProjectPage> deserialize_page(std::string_view text) {
  auto page = parse_project_json(text, "");
  if (!page) return make_error(Errc::corrupt, "stored project page: " + page.error().message);
  return page;
}

std::string render_index_html(const std::vector<std::string>& names) {
  std::string out =
      "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" "
      "content=\"1.1\">\n"
      "    <title>Simple index</title>\n  </head>\n  <body>\n";
  for (auto& n : names) {
    out +=
        "    <a href=\"" + url_escape(normalize_name(n)) + "/\">" + html_escape(n) + "</a><br />\n";
  }
  out += "  </body>\n</html>\n";
  return out;
}

std::string render_index_json(const std::vector<std::string>& names) {
  json projects = json::array();
  for (auto& n : names) projects.push_back({{"name", n}});
  return dump(json{{"meta", {{"api-version", "1.1"}}}, {"projects", projects}});
}

// --- Negotiation ---

PageFormat negotiate(std::string_view accept) {
  struct Best {
    double q = -1;
    int specificity = -1;
  };
  // Index: 0 json, 1 v1 html, 2 legacy html.
  std::array<Best, 3> best;
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t comma = accept.find(',', pos);
    std::string_view item =
        accept.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? accept.size() + 1 : comma + 1;
    size_t semi = item.find(';');
    std::string type = to_lower(trim(item.substr(0, semi)));
    double q = 1.0;
    while (semi != std::string_view::npos) {
      size_t next = item.find(';', semi + 1);
      std::string_view param = trim(item.substr(
          semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1));
      if (param.size() > 2 && lower(param[0]) == 'q' && param[1] == '=') {
        try {
          q = std::stod(std::string(param.substr(2)));
        } catch (...) {
          q = 0;
        }
      }
      semi = next;
    }
    if (type.empty()) continue;
    auto consider = [&](int index, int specificity) {
      auto& b = best[static_cast<size_t>(index)];
      if (specificity > b.specificity) b = Best{q, specificity};
    };
    if (type == "application/vnd.pypi.simple.v1+json" ||
        type == "application/vnd.pypi.simple.latest+json") {
      consider(0, 2);
    } else if (type == "application/vnd.pypi.simple.v1+html" ||
               type == "application/vnd.pypi.simple.latest+html") {
      consider(1, 2);
    } else if (type == "text/html") {
      consider(2, 2);
    } else if (type == "text/*") {
      consider(2, 1);
    } else if (type == "application/*") {
      consider(0, 1);
      consider(1, 1);
    } else if (type == "*/*") {
      consider(0, 0);
      consider(1, 0);
      consider(2, 0);
    }
  }
  // Highest q; on a tie the more specific match; then HTML for wildcard-only matches (curl,
  // browsers) and JSON for explicit ones.
  int chosen = -1;
  auto rank = [&](int i) {
    const auto& b = best[static_cast<size_t>(i)];
    int pref = b.specificity == 2 ? 2 - i : i;
    return std::make_tuple(b.q, b.specificity, pref);
  };
  for (int i = 0; i < 3; ++i) {
    if (best[static_cast<size_t>(i)].q <= 0) continue;
    if (chosen < 0 || rank(i) > rank(chosen)) chosen = i;
  }
  if (chosen == 0) return PageFormat::json;
  if (chosen == 1) return PageFormat::html_v1;
  return PageFormat::html_legacy;
}

std::string_view content_type(PageFormat format) {
  switch (format) {
    case PageFormat::json:
      return "application/vnd.pypi.simple.v1+json";
    case PageFormat::html_v1:
      return "application/vnd.pypi.simple.v1+html";
    default:
      return "text/html; charset=utf-8";
  }
}

// --- Multipart ---

namespace {

// Value of a header parameter (name="x" or name=x) in a Content-Type / Content-Disposition.
std::optional<std::string> header_param(std::string_view header, std::string_view name) {
  size_t pos = header.find(';');
  while (pos != std::string_view::npos) {
    size_t start = pos + 1;
    // Find the end of this parameter, honouring quotes.
    size_t p = start;
    bool quoted = false;
    while (p < header.size()) {
      // No backslash escapes: browsers and requests send file names with '\\' as is (RFC 7578
      // §4.2), and a path separator must reach the file name check.
      if (header[p] == '"')
        quoted = !quoted;
      else if (header[p] == ';' && !quoted)
        break;
      ++p;
    }
    std::string_view param = trim(header.substr(start, p - start));
    auto eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), name)) {
      std::string_view v = trim(param.substr(eq + 1));
      std::string out;
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        out = std::string(v.substr(1, v.size() - 2));
      } else {
        out = std::string(v);
      }
      return out;
    }
    pos = p < header.size() ? p : std::string_view::npos;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                              std::string_view content_type) {
  auto semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi)), "multipart/form-data")) {
    return make_error(Errc::invalid_argument, "expected a multipart/form-data body");
  }
  auto boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200) {
    return make_error(Errc::invalid_argument,
                      "the multipart/form-data Content-Type has no boundary");
  }
  const std::string delim = "--" + *boundary;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) {
    return make_error(Errc::invalid_argument, "the multipart body does not contain its boundary");
  }
  std::vector<FormPart> parts;
  pos += delim.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) == "\r\n")
      pos += 2;
    else if (body.substr(pos, 1) == "\n")
      pos += 1;
    else
      return make_error(Errc::invalid_argument,
                        "malformed multipart body (no line break after a boundary)");
    FormPart part;
    bool has_disposition = false;
    // Headers.
    for (;;) {
      size_t eol = body.find('\n', pos);
      if (eol == std::string_view::npos) {
        return make_error(Errc::invalid_argument,
                          "malformed multipart body (unterminated part headers)");
      }
      std::string_view line = body.substr(pos, eol - pos);
      pos = eol + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view hname = trim(line.substr(0, colon));
      std::string_view hvalue = trim(line.substr(colon + 1));
      if (iequals(hname, "content-disposition")) {
        if (!istarts_with(hvalue, "form-data")) {
          return make_error(Errc::invalid_argument, "a multipart part is not form-data");
        }
        auto n = header_param(hvalue, "name");
        if (!n) return make_error(Errc::invalid_argument, "a multipart part has no name");
        part.name = *n;
        part.filename = header_param(hvalue, "filename");
        has_disposition = true;
      } else if (iequals(hname, "content-type")) {
        part.content_type = std::string(hvalue);
      }
    }
    if (!has_disposition) {
      return make_error(Errc::invalid_argument, "a multipart part has no Content-Disposition");
    }
    const std::string next = "\r\n" + delim;
    size_t end = body.find(next, pos);
    size_t skip = next.size();
    if (end == std::string_view::npos) {
      // Tolerate bare LF line endings.
      end = body.find("\n" + delim, pos);
      skip = delim.size() + 1;
    }
    if (end == std::string_view::npos) {
      return make_error(Errc::invalid_argument,
                        "the multipart body is truncated (no closing boundary)");
    }
    part.data = body.substr(pos, end - pos);
    parts.push_back(std::move(part));
    pos = end + skip;
  }
}

Result<Upload> parse_upload(const std::vector<FormPart>& parts) {
  auto field = [&](std::string_view name) -> std::optional<std::string> {
    for (auto& p : parts) {
      if (p.name == name && !p.filename) return std::string(p.data);
    }
    return std::nullopt;
  };
  auto action = field(":action");
  if (!action || *action != "file_upload") {
    return make_error(Errc::invalid_argument, "unsupported :action (expected file_upload)");
  }
  if (auto pv = field("protocol_version"); pv && *pv != "1") {
    return make_error(Errc::invalid_argument, "unsupported protocol_version " + *pv);
  }
  Upload up;
  auto name = field("name");
  if (!name) return make_error(Errc::invalid_argument, "the 'name' field is required");
  up.name = std::string(trim(*name));
  ARCA_TRY(up.project, parse_project_name(up.name));
  auto version = field("version");
  if (!version || !valid_version(trim(*version))) {
    return make_error(Errc::invalid_argument,
                      "the 'version' field is missing or not a valid version");
  }
  up.version = std::string(trim(*version));
  up.filetype = field("filetype").value_or("");
  const FormPart* content = nullptr;
  for (auto& p : parts) {
    if (p.name == "content") content = &p;
  }
  if (!content || !content->filename) {
    return make_error(Errc::invalid_argument, "the 'content' file part is required");
  }
  up.filename = *content->filename;
  ARCA_TRY(auto dist, parse_filename(up.filename, up.project));
  if (canonical_version(dist.version) != canonical_version(up.version)) {
    return make_error(Errc::invalid_argument, "the file name's version '" + dist.version +
                                                  "' is not the form's version '" + up.version +
                                                  "'");
  }
  if (dist.kind == FileKind::wheel && !up.filetype.empty() && up.filetype != "bdist_wheel") {
    return make_error(Errc::invalid_argument, "filetype '" + up.filetype + "' for a wheel");
  }
  if (dist.kind == FileKind::sdist && !up.filetype.empty() && up.filetype != "sdist") {
    return make_error(Errc::invalid_argument, "filetype '" + up.filetype + "' for an sdist");
  }
  up.content = content->data;
  up.sha256_hex = to_lower(trim(field("sha256_digest").value_or("")));
  up.md5_hex = to_lower(trim(field("md5_digest").value_or("")));
  if (up.sha256_hex.empty() && up.md5_hex.empty()) {
    return make_error(Errc::invalid_argument, "a sha256_digest or md5_digest is required");
  }
  auto digests = digest_of(up.content);
  if (!up.sha256_hex.empty() && up.sha256_hex != to_hex(digests.sha256)) {
    return make_error(Errc::invalid_argument, "the file's sha256 does not match sha256_digest");
  }
  if (!up.md5_hex.empty() && up.md5_hex != to_hex(digests.md5)) {
    return make_error(Errc::invalid_argument, "the file's md5 does not match md5_digest");
  }
  up.sha256_hex = to_hex(digests.sha256);
  up.md5_hex = to_hex(digests.md5);
  up.requires_python = field("requires_python").value_or("");
  up.summary = field("summary").value_or("");
  for (auto& p : parts) {
    if (p.name == "requires_dist" && !p.filename && !p.data.empty())
      up.requires_dist.emplace_back(std::string(p.data));
  }
  return up;
}

// --- Core metadata ---

Result<CoreMetadata> parse_core_metadata(std::string_view text) {
  CoreMetadata out;
  std::string key, value;
  auto flush = [&] {
    if (key.empty()) return;
    std::string v(trim(value));
    if (key == "name")
      out.name = v;
    else if (key == "version")
      out.version = v;
    else if (key == "requires-python")
      out.requires_python = v;
    else if (key == "summary")
      out.summary = v;
    else if (key == "requires-dist")
      out.requires_dist.push_back(v);
    key.clear();
    value.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      value += "\n" + std::string(trim(line));
      continue;
    }
    flush();
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    key = to_lower(trim(line.substr(0, colon)));
    value = std::string(trim(line.substr(colon + 1)));
  }
  flush();
  if (out.name.empty() || out.version.empty()) {
    return make_error(Errc::invalid_argument, "the core metadata has no Name or no Version");
  }
  return out;
}

Result<std::string> wheel_metadata(std::string_view wheel, const DistFile& file,
                                   uint64_t max_bytes) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return make_error(Errc::internal, "libarchive: out of memory");
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), wheel.data(), wheel.size()) != ARCHIVE_OK) {
    return make_error(Errc::invalid_argument, "the wheel is not a zip archive");
  }
  archive_entry* entry = nullptr;
  const std::string want_version = canonical_version(file.version);
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return make_error(Errc::invalid_argument, "the wheel is not a readable zip archive");
    }
    const char* raw = archive_entry_pathname(entry);
    if (!raw) continue;
    std::string_view path(raw);
    auto slash = path.find('/');
    if (slash == std::string_view::npos || path.substr(slash + 1) != "METADATA") continue;
    std::string_view dir = path.substr(0, slash);
    if (!iends_with(dir, ".dist-info")) continue;
    std::string_view stem = dir.substr(0, dir.size() - 10);
    auto dash = stem.find('-');
    if (dash == std::string_view::npos) continue;
    if (normalize_name(stem.substr(0, dash)) != file.project ||
        canonical_version(stem.substr(dash + 1)) != want_version) {
      continue;
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > max_bytes) {
      return make_error(Errc::invalid_argument, "the wheel's METADATA is too large");
    }
    std::string out;
    std::array<char, 16384> buf;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) return make_error(Errc::invalid_argument, "the wheel's METADATA cannot be read");
      if (n == 0) break;
      out.append(buf.data(), static_cast<size_t>(n));
      if (out.size() > max_bytes)
        return make_error(Errc::invalid_argument, "the wheel's METADATA is too large");
    }
    return out;
  }
  return make_error(Errc::invalid_argument, "the wheel has no " + file.project + "-" +
                                                file.version + ".dist-info/METADATA");
}

}  // namespace arca::formats::pypi
