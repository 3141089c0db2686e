// The package operations: ListPackages, DescribePackage, DeletePackage.

#include "control/plane.hpp"
#include "formats/format.hpp"

#include <map>

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

json restrictions_for(const std::vector<VersionRecord>& versions) {
  // Without explicit origin controls (a later issue): derived from how the first version came.
  const VersionRecord* first = nullptr;
  for (auto& v : versions) {
    if (!first || v.published_unix_ms < first->published_unix_ms) first = &v;
  }
  bool external = first && first->origin == "EXTERNAL";
  return {
      {"restrictions",
       {{"publish", external ? "BLOCK" : "ALLOW"}, {"upstream", external ? "ALLOW" : "BLOCK"}}}};
}

json package_summary(const PackageKey& k, const json& origin_config) {
  json j = {{"format", k.format}, {"package", k.name}, {"originConfiguration", origin_config}};
  if (!k.ns.empty()) j["namespace"] = k.ns;
  return j;
}

}  // namespace

Reply list_packages(Plane& plane, const Call& call) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
  const auto& domain = *std::get<const config::DomainConfig*>(d);
  auto r = repo_of(plane, domain, call.qs("repository"));
  if (auto* e = std::get_if<ApiError>(&r)) return Reply::fail(*e);
  int max = k_default_page;
  if (auto e = ca::parse_max_results(call.q("max-results"), k_default_page, max))
    return Reply::fail(*e);
  const std::string base = domain.name + k_sep + call.qs("repository") + k_sep;
  // Packages are those with a package record or at least one version.
  struct Pkg {
    PackageKey key;
    std::vector<VersionRecord> versions;
  };
  std::map<std::string, Pkg> pkgs;
  auto pk_rows =
      plane.ctx.store.scan(cache::Space::index, "pk" + std::string(1, k_sep) + base, 100'000'000);
  auto pv_rows =
      plane.ctx.store.scan(cache::Space::index, "pv" + std::string(1, k_sep) + base, 100'000'000);
  if (!pk_rows || !pv_rows) return Reply::fail(ca::internal_error("index scan failed"));
  auto add = [&](const std::string& key, const std::string* value) {
    auto parts = split_key(key);
    if (parts.size() < 6) return;
    std::string id = parts[3] + k_sep + parts[4] + k_sep + parts[5];
    auto& p = pkgs[id];
    p.key = PackageKey{parts[1], parts[2], parts[3], parts[4], parts[5]};
    if (value) {
      if (auto v = decode_version(*value)) p.versions.push_back(std::move(*v));
    }
  };
  for (auto& [k, v] : *pk_rows) add(k, nullptr);
  for (auto& [k, v] : *pv_rows) add(k, &v);
  const auto format = call.q("format");
  const auto ns = call.q("namespace");
  const auto prefix = call.q("package-prefix");
  const auto publish = call.q("publish");
  const auto upstream = call.q("upstream");
  std::vector<std::pair<std::string, json>> items;
  for (auto& [id, p] : pkgs) {
    if (format && p.key.format != *format) continue;
    if (ns) {
      auto* f = format_of(plane, p.key.format);
      if (p.key.ns != (f ? f->stored_namespace(*ns) : *ns)) continue;
    }
    if (prefix && p.key.name.rfind(*prefix, 0) != 0) continue;
    auto explicit_origin = plane.groups.package_origin(p.key);  // PutPackageOriginConfiguration
    json origin = explicit_origin ? *explicit_origin : restrictions_for(p.versions);
    if (publish && origin["restrictions"]["publish"] != *publish) continue;
    if (upstream && origin["restrictions"]["upstream"] != *upstream) continue;
    items.emplace_back(id, package_summary(p.key, origin));
  }
  using Item = std::pair<std::string, json>;
  auto page = paginate(
      std::move(items), [](const Item& i) { return i.first; }, call.q("next-token"), max);
  if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
  auto& [list_items, next] = std::get<0>(page);
  json list = json::array();
  for (auto& [id, j] : list_items) list.push_back(j);
  json body = {{"packages", list}};
  if (!next.empty()) body["nextToken"] = next;
  return Reply::ok(body);
}

Reply describe_package(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto versions = package_versions(plane, pr);
  if (auto* e = std::get_if<ApiError>(&versions)) return Reply::fail(*e);
  auto origin = plane.groups.package_origin(pr.key);  // set by PutPackageOriginConfiguration
  json pkg = {{"format", pr.key.format},
              {"name", pr.key.name},
              {"originConfiguration", origin ? *origin : restrictions_for(std::get<0>(versions))}};
  if (!pr.key.ns.empty()) pkg["namespace"] = pr.key.ns;
  return Reply::ok({{"package", pkg}});
}

Reply delete_package(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  std::lock_guard lock(plane.write_mutex);
  auto all = package_versions(plane, pr);
  if (auto* e = std::get_if<ApiError>(&all)) return Reply::fail(*e);
  auto stored_origin = plane.groups.package_origin(pr.key);
  json summary =
      package_summary(pr.key, stored_origin ? *stored_origin : restrictions_for(std::get<0>(all)));
  cache::Batch batch;
  batch.del(cache::Space::index, package_key(pr.key));
  PackageGroupsHandler::forget_package(batch, pr.key);
  auto pv = version_prefix(pr.key);
  auto as = "as" + pv.substr(2);  // same fields, asset kind
  if (auto s = delete_prefix(plane, batch, pv); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = delete_prefix(plane, batch, as); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
    return Reply::fail(ca::internal_error(s.error().message));
  Reply r = Reply::ok({{"deletedPackage", summary}});
  r.changed_packages.push_back(pr.key);
  return r;
}

}  // namespace arca::control::ops
