#include "repo/records.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace arca::repo {

using json = nlohmann::json;

namespace {
constexpr char k_sep = '\x1f';

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += k_sep;
    out += p;
  }
  return out;
}

json parse_object(std::string_view s) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json();
  return j;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
}  // namespace

std::string package_key(const PackageKey& k) {
  return join({"pk", k.domain, k.repo, k.format, k.ns, k.name});
}
std::string version_prefix(const PackageKey& k) {
  return join({"pv", k.domain, k.repo, k.format, k.ns, k.name}) + k_sep;
}
std::string version_key(const PackageKey& k, std::string_view version) {
  return version_prefix(k) + std::string(version);
}
std::string asset_key(const PackageKey& k, std::string_view asset) {
  return join({"as", k.domain, k.repo, k.format, k.ns, k.name, asset});
}

std::string encode(const AssetRecord& r) {
  return json{{"version", r.version}, {"sha256", r.sha256_hex}, {"size", r.size}}.dump();
}
std::optional<AssetRecord> decode_asset(std::string_view s) {
  auto j = parse_object(s);
  if (j.is_null()) return std::nullopt;
  AssetRecord r;
  r.version = str(j, "version");
  r.sha256_hex = str(j, "sha256");
  r.size = static_cast<uint64_t>(num(j, "size"));
  if (r.sha256_hex.size() != 64) return std::nullopt;
  return r;
}

std::string encode(const VersionRecord& r) {
  json assets = json::array();
  for (auto& [name, a] : r.assets) {
    assets.push_back({{"name", name}, {"version", a.version}, {"sha256", a.sha256_hex}, {"size", a.size}});
  }
  return json{{"version", r.version},
              {"status", r.status},
              {"origin", r.origin},
              {"entry_repository", r.entry.repository},
              {"entry_connection", r.entry.external_connection},
              {"published", r.published_unix_ms},
              {"upstream_time", r.upstream_time},
              {"manifest", r.manifest},
              {"assets", assets}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<VersionRecord> decode_version(std::string_view s) {
  auto j = parse_object(s);
  if (j.is_null()) return std::nullopt;
  VersionRecord r;
  r.version = str(j, "version");
  r.status = str(j, "status");
  r.origin = str(j, "origin");
  r.entry.repository = str(j, "entry_repository");
  r.entry.external_connection = str(j, "entry_connection");
  r.published_unix_ms = num(j, "published");
  r.upstream_time = str(j, "upstream_time");
  r.manifest = str(j, "manifest");
  if (auto it = j.find("assets"); it != j.end() && it->is_array()) {
    for (auto& a : *it) {
      if (!a.is_object()) continue;
      AssetRecord ar;
      ar.version = str(a, "version");
      ar.sha256_hex = str(a, "sha256");
      ar.size = static_cast<uint64_t>(num(a, "size"));
      r.assets.emplace_back(str(a, "name"), ar);
    }
  }
  return r;
}

std::string encode(const PackageRecord& r) {
  return json{{"dist_tags", r.dist_tags}, {"created", r.created_unix_ms}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}
std::optional<PackageRecord> decode_package(std::string_view s) {
  auto j = parse_object(s);
  if (j.is_null()) return std::nullopt;
  PackageRecord r;
  if (auto it = j.find("dist_tags"); it != j.end() && it->is_object()) r.dist_tags = *it;
  r.created_unix_ms = num(j, "created");
  return r;
}

Result<std::optional<AssetRecord>> find_asset(cache::Store& store, const PackageKey& k,
                                              std::string_view asset) {
  ARCA_TRY(auto v, store.get(cache::Space::index, asset_key(k, asset)));
  if (!v) return std::optional<AssetRecord>();
  return decode_asset(*v);
}

std::optional<cache::BlobRecord> stored_asset_blob(cache::Store& store, const PackageKey& k,
                                                   std::string_view asset) {
  auto record = find_asset(store, k, asset);
  if (!record || !*record) return std::nullopt;
  auto sha = from_hex<32>((*record)->sha256_hex);
  if (!sha) return std::nullopt;
  auto blob = store.find_blob(*sha);
  if (!blob || !*blob) return std::nullopt;
  return **blob;
}

Result<std::optional<VersionRecord>> find_version(cache::Store& store, const PackageKey& k,
                                                  std::string_view version) {
  ARCA_TRY(auto v, store.get(cache::Space::index, version_key(k, version)));
  if (!v) return std::optional<VersionRecord>();
  return decode_version(*v);
}

Result<std::vector<VersionRecord>> list_versions(cache::Store& store, const PackageKey& k) {
  ARCA_TRY(auto rows, store.scan(cache::Space::index, version_prefix(k), 1'000'000));
  std::vector<VersionRecord> out;
  out.reserve(rows.size());
  for (auto& [key, value] : rows) {
    if (auto r = decode_version(value)) out.push_back(std::move(*r));
  }
  return out;
}

Result<std::optional<PackageRecord>> find_package(cache::Store& store, const PackageKey& k) {
  ARCA_TRY(auto v, store.get(cache::Space::index, package_key(k)));
  if (!v) return std::optional<PackageRecord>();
  return decode_package(*v);
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace arca::repo
