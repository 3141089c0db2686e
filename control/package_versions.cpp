// The package-version operations: ListPackageVersions, DescribePackageVersion,
// GetPackageVersionReadme, ListPackageVersionDependencies and the batch operations
// (UpdatePackageVersionsStatus, DisposePackageVersions, DeletePackageVersions,
// CopyPackageVersions).

#include "control/plane.hpp"

#include "formats/format.hpp"
#include "repo/resolver.hpp"

#include <map>
#include <set>

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

constexpr size_t k_max_versions_per_call = 100;

// originType and domainEntryPoint: where the version first entered the domain, kept through
// retention and copies (records older than that: derived from the repository holding it).
json origin_json(Plane& plane, const config::RepositoryConfig& repo, const VersionRecord& v) {
  const EntryPoint e = repo::derived_entry(repo, v);
  json entry = json::object();
  if (!e.external_connection.empty())
    entry["externalConnectionName"] = e.external_connection;
  else
    entry["repositoryName"] = e.repository;
  return {{"domainEntryPoint", entry}, {"originType", v.origin.empty() ? "UNKNOWN" : v.origin}};
}

std::optional<std::string> default_display_version(Plane& plane, const PackageKey& k,
                                                   const std::vector<VersionRecord>& versions) {
  // The version the format's package record names (npm: the latest tag), when Published.
  if (auto* f = format_of(plane, k.format)) {
    auto pkg = find_package(plane.ctx.store, k);
    if (pkg && *pkg) {
      if (auto tagged = f->tagged_default(**pkg)) {
        for (auto& v : versions) {
          if (v.version == *tagged && v.status == "Published") return v.version;
        }
      }
    }
  }
  const VersionRecord* best = nullptr;
  for (auto& v : versions) {
    if (v.status == "Published" && (!best || v.published_unix_ms >= best->published_unix_ms))
      best = &v;
  }
  if (best) return best->version;
  return std::nullopt;
}

std::optional<ApiError> body_versions(const json& body, std::vector<std::string>& out,
                                      std::map<std::string, std::string>* revisions = nullptr) {
  auto it = body.find("versions");
  if (it != body.end() && !it->is_null()) {
    if (!it->is_array()) return ca::validation_error("'versions' must be a list of strings");
    for (auto& v : *it) {
      if (!v.is_string()) return ca::validation_error("'versions' must be a list of strings");
      if (auto e = ca::check_package_part("versions.member", v.get<std::string>())) return e;
      out.push_back(v);
    }
  }
  if (revisions) {
    auto rv = body.find("versionRevisions");
    if (rv != body.end() && !rv->is_null()) {
      if (!rv->is_object())
        return ca::validation_error("'versionRevisions' must be a map of version to revision");
      for (auto r = rv->begin(); r != rv->end(); ++r) {
        if (!r.value().is_string())
          return ca::validation_error("'versionRevisions' values must be strings");
        (*revisions)[r.key()] = r.value().get<std::string>();
      }
    }
  }
  if (out.size() > k_max_versions_per_call ||
      (revisions && revisions->size() > k_max_versions_per_call)) {
    return ca::validation_error("at most 100 versions per call");
  }
  return std::nullopt;
}

// The batch operations: classify every version first (all-or-nothing: one failure makes the
// rest SKIPPED, as the service does today), then apply.
struct BatchPlan {
  json successful = json::object();
  json failed = json::object();
  std::vector<VersionRecord> targets;
};

std::variant<BatchPlan, ApiError> plan_batch(
    Plane& plane, const PackageRef& pr, const std::vector<std::string>& versions,
    const std::map<std::string, std::string>& revisions,
    const std::optional<std::string>& expected_status,
    const std::function<std::optional<std::pair<std::string, std::string>>(const VersionRecord&)>&
        refuse) {
  auto all = package_versions(plane, pr);
  if (auto* e = std::get_if<ApiError>(&all)) return *e;
  std::vector<std::string> names = versions;
  for (auto& [v, rev] : revisions) {
    if (std::find(names.begin(), names.end(), v) == names.end()) names.push_back(v);
  }
  if (names.empty())
    return ca::validation_error("'versions' or 'versionRevisions' must name at least one version");
  BatchPlan plan;
  for (auto& name : names) {
    auto found = std::find_if(std::get<0>(all).begin(), std::get<0>(all).end(),
                              [&](auto& v) { return v.version == name; });
    auto fail = [&](const char* code, std::string message) {
      plan.failed[name] = {{"errorCode", code}, {"errorMessage", message}};
    };
    if (found == std::get<0>(all).end()) {
      fail("NOT_FOUND", "Package version not found: " + name);
      continue;
    }
    if (auto rev = revisions.find(name);
        rev != revisions.end() && rev->second != version_revision(*found)) {
      fail("MISMATCHED_REVISION", "the revision of " + name + " is not " + rev->second);
      continue;
    }
    if (expected_status && found->status != *expected_status) {
      fail("MISMATCHED_STATUS",
           "the status of " + name + " is " + found->status + ", not " + *expected_status);
      continue;
    }
    if (auto why = refuse(*found)) {
      fail(why->first.c_str(), why->second);
      continue;
    }
    plan.targets.push_back(*found);
  }
  if (!plan.failed.empty()) {
    for (auto& t : plan.targets) {
      plan.failed[t.version] = {
          {"errorCode", "SKIPPED"},
          {"errorMessage", "skipped because another version in the request failed"}};
    }
    plan.targets.clear();
  }
  return plan;
}

std::optional<ApiError> batch_inputs(const Call& call, std::vector<std::string>& versions,
                                     std::map<std::string, std::string>& revisions,
                                     std::optional<std::string>& expected) {
  if (auto e = body_versions(call.body, versions, &revisions)) return e;
  std::string es;
  if (auto e = body_string(call.body, "expectedStatus", es)) return e;
  if (!es.empty()) {
    if (auto e = ca::check_status("expectedStatus", es)) return e;
    expected = es;
  }
  return std::nullopt;
}

// The format's effects on its package record of versions no longer listed (npm: dist-tags
// naming them go, `latest` falls back), as part of `batch`.
void versions_removed(Plane& plane, const PackageKey& k, cache::Batch& batch,
                      const std::set<std::string>& removed) {
  auto* f = format_of(plane, k.format);
  if (!f || removed.empty()) return;
  auto pkg = find_package(plane.ctx.store, k);
  if (!pkg || !*pkg) return;
  auto versions = list_versions(plane.ctx.store, k);
  PackageRecord record = **pkg;
  if (!f->versions_removed(record, removed, versions ? *versions : std::vector<VersionRecord>{}))
    return;
  batch.put(cache::Space::index, package_key(k), encode(record));
}

// DisposePackageVersions (dispose: the record stays, status Disposed, assets gone) and
// DeletePackageVersions (the record goes too) share everything else.
Reply remove_package_versions(Plane& plane, const Call& call, bool dispose) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  std::vector<std::string> versions;
  std::map<std::string, std::string> revisions;
  std::optional<std::string> expected;
  if (auto e = batch_inputs(call, versions, revisions, expected)) return Reply::fail(*e);
  std::lock_guard lock(plane.write_mutex);
  auto planned =
      plan_batch(plane, pr, versions, revisions, expected,
                 [](const VersionRecord&) -> std::optional<std::pair<std::string, std::string>> {
                   return std::nullopt;
                 });
  if (auto* e = std::get_if<ApiError>(&planned)) return Reply::fail(*e);
  auto& plan = std::get<BatchPlan>(planned);
  const std::string status = dispose ? "Disposed" : "Deleted";
  cache::Batch batch;
  std::set<std::string> gone;
  for (auto& v : plan.targets) {
    for (auto& [name, a] : v.assets) {
      batch.del(cache::Space::index, asset_key(pr.key, asset_record_name(pr.key, v.version, name)));
    }
    if (dispose) {
      v.assets.clear();
      v.status = status;
      batch.put(cache::Space::index, version_key(pr.key, v.version), encode(v));
    } else {
      batch.del(cache::Space::index, version_key(pr.key, v.version));
    }
    plan.successful[v.version] = {{"revision", version_revision(v)}, {"status", status}};
    gone.insert(v.version);
  }
  if (!plan.targets.empty()) {
    versions_removed(plane, pr.key, batch, gone);
    if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
  }
  Reply r = Reply::ok({{"successfulVersions", plan.successful}, {"failedVersions", plan.failed}});
  if (!plan.targets.empty()) r.changed_packages.push_back(pr.key);
  return r;
}

}  // namespace

Reply list_package_versions(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = package_versions(plane, pr);
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& versions = std::get<0>(found);
  int max = k_default_page;
  if (auto e = ca::parse_max_results(call.q("max-results"), k_default_page, max))
    return Reply::fail(*e);
  const auto status = call.q("status");
  const auto origin_type = call.q("originType");
  const bool by_time = call.q("sortBy").has_value();
  std::vector<std::pair<std::string, json>> items;
  for (auto& v : versions) {
    if (status && v.status != *status) continue;
    if (origin_type && v.origin != *origin_type) continue;
    json item = {{"version", v.version},
                 {"revision", version_revision(v)},
                 {"status", v.status},
                 {"origin", origin_json(plane, *pr.repo, v)}};
    // Sort keys: newest first by published time, or by version string.
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%020lld",
                  static_cast<long long>(INT64_MAX - v.published_unix_ms));
    std::string key = by_time ? std::string(buf) + k_sep + v.version : v.version;
    items.emplace_back(key, item);
  }
  using Item = std::pair<std::string, json>;
  auto page = paginate(
      std::move(items), [](const Item& i) { return i.first; }, call.q("next-token"), max);
  if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
  auto& [list_items, next] = std::get<0>(page);
  json list = json::array();
  for (auto& [k, j] : list_items) list.push_back(j);
  json body = package_header(pr.key);
  body["versions"] = list;
  if (auto dv = default_display_version(plane, pr.key, versions))
    body["defaultDisplayVersion"] = *dv;
  if (!next.empty()) body["nextToken"] = next;
  return Reply::ok(body);
}

Reply describe_package_version(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = version_of(plane, pr, call.qs("version"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& v = std::get<VersionRecord>(found);
  json pv = {{"format", pr.key.format},
             {"packageName", pr.key.name},
             {"displayName", display_name(plane, pr.key, &v)},
             {"version", v.version},
             {"publishedTime", ca::timestamp(v.published_unix_ms)},
             {"revision", version_revision(v)},
             {"status", v.status},
             {"origin", origin_json(plane, *pr.repo, v)},
             {"licenses", json::array()}};
  if (!pr.key.ns.empty()) pv["namespace"] = pr.key.ns;
  auto m = json::parse(v.manifest, nullptr, false);
  if (!m.is_discarded() && m.is_object()) {
    if (auto s = str(m, "description"); !s.empty()) pv["summary"] = s;
    if (auto s = str(m, "homepage"); !s.empty()) pv["homePage"] = s;
    if (auto it = m.find("repository"); it != m.end()) {
      if (it->is_string())
        pv["sourceCodeRepository"] = *it;
      else if (it->is_object() && it->contains("url") && (*it)["url"].is_string())
        pv["sourceCodeRepository"] = (*it)["url"];
    }
    if (auto it = m.find("license"); it != m.end() && it->is_string()) {
      pv["licenses"].push_back({{"name", *it}});
    }
  }
  return Reply::ok({{"packageVersion", pv}});
}

Reply get_package_version_readme(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = version_of(plane, pr, call.qs("version"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& v = std::get<VersionRecord>(found);
  json body = package_header(pr.key);
  body["version"] = v.version;
  body["versionRevision"] = version_revision(v);
  auto m = json::parse(v.manifest, nullptr, false);
  std::string readme;
  if (!m.is_discarded() && m.is_object()) readme = str(m, "readme");
  body["readme"] = readme;
  return Reply::ok(body);
}

Reply list_package_version_dependencies(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  auto found = version_of(plane, pr, call.qs("version"));
  if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
  auto& v = std::get<VersionRecord>(found);
  auto* f = format_of(plane, pr.key.format);
  json deps = f ? f->dependencies(v) : json::array();
  json body = package_header(pr.key);
  body["version"] = v.version;
  body["versionRevision"] = version_revision(v);
  body["dependencies"] = deps;
  return Reply::ok(body);
}

Reply update_package_versions_status(Plane& plane, const Call& call) {
  auto ref = package_ref(plane, call);
  if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
  auto& pr = std::get<PackageRef>(ref);
  std::vector<std::string> versions;
  std::map<std::string, std::string> revisions;
  std::optional<std::string> expected;
  if (auto e = batch_inputs(call, versions, revisions, expected)) return Reply::fail(*e);
  std::string target;
  if (auto e = body_string(call.body, "targetStatus", target, true)) return Reply::fail(*e);
  if (target != "Published" && target != "Unlisted" && target != "Archived") {
    return Reply::fail(
        ca::validation_error("targetStatus must be Published, Unlisted or Archived, not '" +
                             target.substr(0, 40) + "'"));
  }
  std::lock_guard lock(plane.write_mutex);
  auto planned =
      plan_batch(plane, pr, versions, revisions, expected,
                 [&](const VersionRecord& v) -> std::optional<std::pair<std::string, std::string>> {
                   if (v.status == "Disposed")
                     return std::make_pair(std::string("NOT_ALLOWED"),
                                           "version " + v.version + " is Disposed");
                   if (v.status == "Unfinished" && target != "Published") {
                     return std::make_pair(std::string("NOT_ALLOWED"),
                                           "version " + v.version + " is Unfinished");
                   }
                   return std::nullopt;
                 });
  if (auto* e = std::get_if<ApiError>(&planned)) return Reply::fail(*e);
  auto& plan = std::get<BatchPlan>(planned);
  cache::Batch batch;
  for (auto& v : plan.targets) {
    v.status = target;
    batch.put(cache::Space::index, version_key(pr.key, v.version), encode(v));
    plan.successful[v.version] = {{"revision", version_revision(v)}, {"status", target}};
  }
  if (!plan.targets.empty()) {
    // (npm dist-tags stay: the packument hides tags of versions that are not listed.)
    if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
  }
  Reply r = Reply::ok({{"successfulVersions", plan.successful}, {"failedVersions", plan.failed}});
  if (!plan.targets.empty()) r.changed_packages.push_back(pr.key);
  return r;
}

Reply dispose_package_versions(Plane& plane, const Call& call) {
  return remove_package_versions(plane, call, true);
}

Reply delete_package_versions(Plane& plane, const Call& call) {
  return remove_package_versions(plane, call, false);
}

Reply copy_package_versions(Plane& plane, const Call& call) {
  auto src_ref = package_ref(plane, call, "source-repository");
  if (auto* e = std::get_if<ApiError>(&src_ref)) return Reply::fail(*e);
  auto dst_ref = package_ref(plane, call, "destination-repository");
  if (auto* e = std::get_if<ApiError>(&dst_ref)) return Reply::fail(*e);
  auto& src = std::get<PackageRef>(src_ref);
  auto& dst = std::get<PackageRef>(dst_ref);
  if (src.repo->name == dst.repo->name) {
    return Reply::fail(ca::validation_error("the source and destination repositories must differ"));
  }
  std::vector<std::string> versions;
  std::map<std::string, std::string> revisions;
  if (auto e = body_versions(call.body, versions, &revisions)) return Reply::fail(*e);
  if (versions.empty() == revisions.empty()) {
    return Reply::fail(
        ca::validation_error("give exactly one of 'versions' and 'versionRevisions'"));
  }
  for (auto& [v, rev] : revisions) versions.push_back(v);
  bool overwrite = false, from_upstream = false;
  if (auto it = call.body.find("allowOverwrite"); it != call.body.end() && it->is_boolean())
    overwrite = *it;
  if (auto it = call.body.find("includeFromUpstream"); it != call.body.end() && it->is_boolean())
    from_upstream = *it;
  std::lock_guard lock(plane.write_mutex);
  std::vector<const config::RepositoryConfig*> sources{src.repo};
  if (from_upstream)
    sources = plane.ctx.topology.resolution_order(src.domain->name, src.repo->name);
  json successful = json::object(), failed = json::object();
  cache::Batch batch;
  std::vector<std::pair<VersionRecord, PackageKey>> copies;
  // Copying adds versions to the destination the way publishing does, so the destination's
  // PUBLISH controls (the package group's and the package's own) apply. The user guide does not
  // say how a refused copy is reported; each version fails with NOT_ALLOWED, naming the control,
  // so a copy cannot bring a version past a control that would refuse its publication.
  constexpr auto k_publish = repo::groups::RestrictionType::publish;
  const OriginPolicy dst_policy =
      plane.groups.policy(dst.key.domain, dst.key.format, dst.key.ns, dst.key.name);
  if (!dst_policy.allows(k_publish, dst.key.repo)) {
    const std::string why = "Copying into repository " + dst.key.repo + " is not allowed by " +
                            dst_policy.blocker(k_publish, dst.key.repo);
    for (auto& name : versions) {
      failed[name] = {{"errorCode", "NOT_ALLOWED"}, {"errorMessage", why}};
    }
    versions.clear();
  }
  for (auto& name : versions) {
    std::optional<VersionRecord> found;
    PackageKey from;
    for (auto* r : sources) {
      PackageKey k = src.key;
      k.repo = r->name;
      auto v = find_version(plane.ctx.store, k, name);
      if (v && *v) {
        found = **v;
        from = k;
        break;
      }
    }
    if (!found) {
      failed[name] = {{"errorCode", "NOT_FOUND"},
                      {"errorMessage", "Package version not found: " + name}};
      continue;
    }
    if (auto rev = revisions.find(name);
        rev != revisions.end() && rev->second != version_revision(*found)) {
      failed[name] = {{"errorCode", "MISMATCHED_REVISION"},
                      {"errorMessage", "revision mismatch for " + name}};
      continue;
    }
    if (found->status == "Disposed" || found->status == "Unfinished") {
      failed[name] = {{"errorCode", "NOT_ALLOWED"},
                      {"errorMessage", name + " is " + found->status}};
      continue;
    }
    auto existing = find_version(plane.ctx.store, dst.key, name);
    if (existing && *existing && !overwrite) {
      failed[name] = {{"errorCode", "ALREADY_EXISTS"},
                      {"errorMessage", name + " already exists in " + dst.repo->name}};
      continue;
    }
    copies.emplace_back(*found, from);
  }
  if (!failed.empty()) {
    for (auto& [v, from] : copies) {
      failed[v.version] = {{"errorCode", "SKIPPED"},
                           {"errorMessage", "skipped because another version failed"}};
    }
    copies.clear();
  }
  std::set<std::string> copied;
  for (auto& [v, from] : copies) {
    // The copy keeps the origin of the source version (where it entered the domain).
    if (auto* holder = plane.ctx.topology.repository(from.domain, from.repo))
      v.entry = repo::derived_entry(*holder, v);
    batch.put(cache::Space::index, version_key(dst.key, v.version), encode(v));
    for (auto& [name, a] : v.assets) {
      batch.put(cache::Space::index,
                asset_key(dst.key, asset_record_name(dst.key, v.version, name)), encode(a));
    }
    successful[v.version] = {{"revision", version_revision(v)}, {"status", v.status}};
    copied.insert(v.version);
  }
  if (!copies.empty()) {
    // Tags (npm's dist-tags) that point at copied versions come along (and win in the
    // destination).
    auto dst_pkg = find_package(plane.ctx.store, dst.key);
    PackageRecord record =
        dst_pkg && *dst_pkg ? **dst_pkg : PackageRecord{json::object(), now_unix_ms()};
    for (auto& [v, from] : copies) {
      auto src_pkg = find_package(plane.ctx.store, from);
      if (!src_pkg || !*src_pkg) continue;
      for (auto it = (*src_pkg)->dist_tags.begin(); it != (*src_pkg)->dist_tags.end(); ++it) {
        if (it.value() == v.version) record.dist_tags[it.key()] = v.version;
      }
    }
    batch.put(cache::Space::index, package_key(dst.key), encode(record));
    // The package's first versions in the destination give it its automatic origin
    // configuration there. The user guide names only direct publishing and ingestion; a copy is
    // a deliberate promotion like a publish, so it counts as one (publish=ALLOW,
    // upstream=BLOCK): the copied package cannot later be shadowed by an upstream's versions.
    if (auto s = set_initial_origin(plane.ctx.store, batch, dst.key, Arrival::published); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = plane.ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
  }
  Reply r = Reply::ok({{"successfulVersions", successful}, {"failedVersions", failed}});
  if (!copies.empty()) r.changed_packages.push_back(dst.key);
  return r;
}

}  // namespace arca::control::ops
