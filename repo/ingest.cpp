#include "repo/ingest.hpp"

#include "repo/origin.hpp"

namespace arca::repo {

std::vector<std::string> retaining_repositories(std::string_view requester,
                                                std::string_view source, bool external) {
  std::vector<std::string> out;
  if (external) out.emplace_back(source);
  if (out.empty() || out.front() != requester) out.emplace_back(requester);
  return out;
}

namespace {

void add_asset(VersionRecord& vr, const std::string& name, const AssetRecord& asset) {
  for (auto& [n, a] : vr.assets) {
    if (n == name) {
      a = asset;
      return;
    }
  }
  vr.assets.emplace_back(name, asset);
}

Result<void> ensure_package(cache::Store& store, cache::Batch& batch, const PackageKey& k) {
  ARCA_TRY(auto pkg, find_package(store, k));
  if (!pkg) batch.put(cache::Space::index, package_key(k), encode(PackageRecord{{}, now_unix_ms()}));
  return set_initial_origin(store, batch, k, Arrival::ingested);
}

}  // namespace

Result<void> record_arrival(cache::Store& store, cache::Batch& batch, const IngestedAsset& arrival,
                            const std::vector<std::string>& repositories) {
  for (const auto& repo : repositories) {
    PackageKey k = arrival.package;
    k.repo = repo;
    if (arrival.asset_only) {
      batch.put(cache::Space::index, asset_key(k, arrival.asset), encode(arrival.asset_record));
      continue;
    }
    ARCA_TRY(auto existing, find_version(store, k, arrival.version));
    VersionRecord vr;
    if (existing) {
      vr = std::move(*existing);
    } else {
      vr.version = arrival.version;
      vr.status = "Published";
      vr.origin = "EXTERNAL";
      vr.entry = arrival.entry;
      vr.published_unix_ms = now_unix_ms();
      vr.upstream_time = arrival.upstream_time;
    }
    if (arrival.shape) arrival.shape(vr, arrival.blob);
    if (!arrival.asset.empty()) {
      add_asset(vr, arrival.asset, arrival.asset_record);
      batch.put(cache::Space::index, asset_key(k, arrival.asset), encode(arrival.asset_record));
    }
    batch.put(cache::Space::index, version_key(k, arrival.version), encode(vr));
    ARCA_TRY_VOID(ensure_package(store, batch, k));
  }
  return {};
}

Result<bool> retain(cache::Store& store, const PackageKey& from, std::string_view to,
                    std::string_view version, std::string_view from_connection) {
  if (from.repo == to) return false;
  PackageKey dst = from;
  dst.repo = std::string(to);
  ARCA_TRY(auto held, find_version(store, dst, version));
  if (held) return false;
  ARCA_TRY(auto source, find_version(store, from, version));
  if (!source) return false;
  VersionRecord vr = std::move(*source);
  if (vr.entry.empty()) {
    if (vr.origin == "EXTERNAL" && !from_connection.empty())
      vr.entry.external_connection = std::string(from_connection);
    else
      vr.entry.repository = from.repo;
  }
  cache::Batch batch;
  for (auto& [name, asset] : vr.assets) {
    batch.put(cache::Space::index, asset_key(dst, name), encode(asset));
  }
  // Every asset record of the version, also those no version record lists (PyPI's .metadata
  // files); the source's records win over the list.
  const std::string prefix = asset_key(from, "");
  ARCA_TRY(auto rows, store.scan(cache::Space::index, prefix, 100'000));
  for (auto& [k, value] : rows) {
    auto a = decode_asset(value);
    if (!a || a->version != version) continue;
    batch.put(cache::Space::index, asset_key(dst, std::string_view(k).substr(prefix.size())), value);
  }
  batch.put(cache::Space::index, version_key(dst, version), encode(vr));
  ARCA_TRY_VOID(ensure_package(store, batch, dst));
  ARCA_TRY_VOID(store.commit(std::move(batch), /*durable=*/false));
  return true;
}

}  // namespace arca::repo
