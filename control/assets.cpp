// The asset operations: ListPackageVersionAssets, GetPackageVersionAsset and
// PublishPackageVersion (generic packages).

#include "control/plane.hpp"

#include "common/digest.hpp"

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

json hashes_of(Plane& plane, const AssetRecord& a) {
  json h = {{"SHA-256", a.sha256_hex}};
  if (auto sha = from_hex<32>(a.sha256_hex)) {
    if (auto rec = plane.ctx.store.find_blob(*sha); rec && *rec) {
      h["MD5"] = to_hex((*rec)->digests.md5);
      h["SHA-1"] = to_hex((*rec)->digests.sha1);
      h["SHA-512"] = to_hex((*rec)->digests.sha512);
    }
  }
  return h;
}

json asset_summary(Plane& plane, const std::string& name, const AssetRecord& a) {
  return {{"name", name}, {"size", a.size}, {"hashes", hashes_of(plane, a)}};
}

}  // namespace

Reply list_package_version_assets(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = version_of(plane, pr, call.qs("version"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& v = std::get<VersionRecord>(found);
  int max = k_default_page;
  if (auto e = ca::parse_max_results(call.q("max-results"), k_default_page, max))
    return Reply::fail(*e);
  using Item = std::pair<std::string, AssetRecord>;
  std::vector<Item> assets(v.assets.begin(), v.assets.end());
  auto page = paginate(
      std::move(assets), [](const Item& i) { return i.first; }, call.q("next-token"), max);
  if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
  auto& [items, next] = std::get<0>(page);
  json list = json::array();
  for (auto& [name, a] : items) list.push_back(asset_summary(plane, name, a));
  json body = package_header(pr.key);
  body["version"] = v.version;
  body["versionRevision"] = version_revision(v);
  body["assets"] = list;
  if (!next.empty()) body["nextToken"] = next;
  return Reply::ok(body);
}

Reply get_package_version_asset(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = version_of(plane, pr, call.qs("version"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& v = std::get<VersionRecord>(found);
  const std::string revision = version_revision(v);
  if (auto rev = call.q("revision"); rev && *rev != revision) {
    return Reply::fail(
        ca::not_found("no revision " + *rev + " of " + v.version, "package-version", v.version));
  }
  if (v.status == "Archived" || v.status == "Disposed") {
    return Reply::fail(ca::conflict(
        "Package version " + v.version + " is " + v.status + "; its assets cannot be read",
        "package-version", v.version));
  }
  const std::string asset_name = call.qs("asset");
  for (auto& [name, a] : v.assets) {
    if (name != asset_name) continue;
    auto sha = from_hex<32>(a.sha256_hex);
    auto rec = sha ? plane.ctx.store.find_blob(*sha)
                   : Result<std::optional<cache::BlobRecord>>(std::nullopt);
    if (!rec || !*rec)
      return Reply::fail(ca::internal_error("the asset's content is missing from the store"));
    Reply r;
    r.blob = **rec;
    r.headers = {{"Content-Type", "application/octet-stream"},
                 {"X-AssetName", name},
                 {"X-PackageVersion", v.version},
                 {"X-PackageVersionRevision", revision}};
    return r;
  }
  return Reply::fail(ca::not_found("Asset not found: " + asset_name, "asset", asset_name));
}

Reply publish_package_version(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  if (!is_generic(pr.key.format)) {
    return Reply::fail(
        ca::validation_error("PublishPackageVersion supports only the generic format"));
  }
  constexpr auto k_publish = repo::groups::RestrictionType::publish;
  if (const OriginPolicy policy =
          plane.groups.policy(pr.key.domain, pr.key.format, pr.key.ns, pr.key.name);
      !policy.allows(k_publish, pr.key.repo)) {
    return Reply::fail(ca::access_denied("Publishing " + pr.key.ns + "/" + pr.key.name +
                                         " to repository " + pr.key.repo + " is not allowed by " +
                                         policy.blocker(k_publish, pr.key.repo)));
  }
  // No publishing conflict with upstreams to check here (the 409 npm, PyPI, Maven and NuGet
  // give): generic packages are never taken from upstream repositories or external connections.
  const Request& req = *call.request;
  const std::string declared(req.header("x-amz-content-sha256"));
  if (declared.empty()) {
    return Reply::fail(
        ca::validation_error("the x-amz-content-sha256 header (the asset's SHA-256) is required"));
  }
  const std::string actual = to_hex(sha256_of(req.body));
  if (declared != actual) {
    return Reply::fail(
        ca::validation_error("the asset's SHA-256 does not match x-amz-content-sha256"));
  }
  const bool unfinished = call.qs("unfinished") == "true";
  const std::string version = call.qs("version");
  const std::string asset_name = call.qs("asset");
  std::lock_guard lock(plane.write_mutex);
  auto existing = find_version(plane.ctx.store, pr.key, version);
  if (!existing) return Reply::fail(ca::internal_error(existing.error().message));
  VersionRecord v;
  if (*existing) {
    v = **existing;
    if (v.status != "Unfinished") {
      return Reply::fail(
          ca::conflict("Package version " + version + " already exists with status " + v.status,
                       "package-version", version));
    }
  } else {
    v.version = version;
    v.origin = "INTERNAL";
    v.published_unix_ms = now_unix_ms();
    v.manifest = "{}";
  }
  auto writer = plane.ctx.store.begin_blob();
  if (!writer) return Reply::fail(ca::internal_error(writer.error().message));
  if (auto s = (*writer)->append(req.body); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  auto record = (*writer)->finish();
  if (!record) return Reply::fail(ca::internal_error(record.error().message));
  AssetRecord asset{version, actual, record->size};
  bool present = false;
  for (auto& [name, a] : v.assets) {
    if (name != asset_name) continue;
    if (a.sha256_hex != actual) {
      return Reply::fail(ca::conflict(
          "Asset " + asset_name + " already exists with different content", "asset", asset_name));
    }
    present = true;
  }
  if (!present) v.assets.emplace_back(asset_name, asset);
  v.status = unfinished ? "Unfinished" : "Published";
  cache::Batch batch;
  batch.add_blob(**writer);
  batch.put(cache::Space::index, version_key(pr.key, version), encode(v));
  batch.put(cache::Space::index, asset_key(pr.key, asset_record_name(pr.key, version, asset_name)),
            encode(asset));
  auto pkg = find_package(plane.ctx.store, pr.key);
  if (pkg && !*pkg)
    batch.put(cache::Space::index, package_key(pr.key),
              encode(PackageRecord{json::object(), now_unix_ms()}));
  if (auto s = set_initial_origin(plane.ctx.store, batch, pr.key, Arrival::published); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  json body = package_header(pr.key);
  body["version"] = version;
  body["versionRevision"] = version_revision(v);
  body["status"] = v.status;
  body["asset"] = asset_summary(plane, asset_name, asset);
  Reply r = Reply::ok(body);
  r.changed_packages.push_back(pr.key);
  return r;
}

}  // namespace arca::control::ops
