// The npm registry protocol over a repository: packuments (full and abbreviated, merged across
// the repository, its upstreams and external connections), tarballs, publish, dist-tags, ping,
// whoami and audit forwarding.
//
// Thread-safety: one NpmHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/compress.hpp"
#include "common/log.hpp"
#include "formats/npm/npm.hpp"
#include "formats/asset_path.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "net/http_util.hpp"
#include "net/lru.hpp"
#include "formats/upstream_documents.hpp"
#include "formats/view_cache.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>

#include <map>
#include <mutex>
#include <set>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_abbreviated_type = "application/vnd.npm.install-v1+json";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Where a version in a merged view came from.
using Origin = repo::Source;

struct UpstreamDoc {
  std::shared_ptr<const json> doc;  // null: the upstream does not have the package
  int64_t fresh_until_ms = 0;
};

struct Rendered {
  std::shared_ptr<const std::string> full, full_gz, abbreviated, abbreviated_gz;
  std::string etag;
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  bool found = false;
  std::shared_ptr<const json> merged;  // tarball URLs not yet rewritten
  std::map<std::string, Origin> origins;
  std::map<std::string, std::shared_ptr<const json>> upstream_versions;  // version -> upstream manifest
  std::optional<Error> missing_failure;  // why an upstream could not be asked, when not found
  std::map<std::string, std::string> upstream_times;  // version -> upstream "time" entry
  std::mutex mutex;  // guards rendered
  std::map<std::string, std::shared_ptr<const Rendered>> rendered;  // by tarball base URL
};
using ViewPtr = std::shared_ptr<View>;

}  // namespace

// The handler (one per process, from make_npm_handler).
struct NpmHandler final : Format {
  std::string_view name() const override { return "npm"; }
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo,
                                      std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override;

  // npm reads a JSON error and answers a Bearer challenge by asking for a login.
  void refusal(const Refusal& refusal, Headers& headers, std::string& body) const override {
    headers.emplace_back("Content-Type", "application/json");
    if (refusal.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer realm=\"arca\"");
    body = json_error(refusal.reason);
  }

  std::string display_name(const PackageKey& key, const VersionRecord*) const override {
    return key.ns.empty() ? key.name : "@" + key.ns + "/" + key.name;
  }

  json dependencies(const VersionRecord& version) const override {
    json deps = json::array();
    auto m = json::parse(version.manifest, nullptr, false);
    if (m.is_discarded() || !m.is_object()) return deps;
    const std::pair<const char*, const char*> kinds[] = {{"dependencies", "regular"},
                                                         {"devDependencies", "dev"},
                                                         {"peerDependencies", "peer"},
                                                         {"optionalDependencies", "optional"}};
    for (auto& [field, type] : kinds) {
      auto it = m.find(field);
      if (it == m.end() || !it->is_object()) continue;
      for (auto d = it->begin(); d != it->end(); ++d) {
        std::string name = d.key(), ns;
        if (name.size() > 1 && name[0] == '@') {
          auto slash = name.find('/');
          if (slash != std::string::npos) {
            ns = name.substr(1, slash - 1);
            name = name.substr(slash + 1);
          }
        }
        json dep = {{"package", name},
                    {"dependencyType", type},
                    {"versionRequirement", d.value().is_string() ? d.value().get<std::string>() : ""}};
        if (!ns.empty()) dep["namespace"] = ns;
        deps.push_back(dep);
      }
    }
    return deps;
  }

  std::optional<std::string> tagged_default(const PackageRecord& package) const override {
    auto it = package.dist_tags.find("latest");
    if (it != package.dist_tags.end() && it->is_string()) return it->get<std::string>();
    return std::nullopt;
  }

  // dist-tags must not point at versions that are gone or hidden; `latest` falls back to the
  // newest Published version.
  bool versions_removed(PackageRecord& package, const std::set<std::string>& removed,
                        const std::vector<VersionRecord>& versions) const override {
    bool changed = false;
    for (auto it = package.dist_tags.begin(); it != package.dist_tags.end();) {
      if (it.value().is_string() && removed.count(it.value().get<std::string>())) {
        it = package.dist_tags.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (!changed || package.dist_tags.contains("latest")) return changed;
    const VersionRecord* best = nullptr;
    for (auto& v : versions) {
      if (removed.count(v.version) || v.status != "Published") continue;
      if (!best || v.published_unix_ms >= best->published_unix_ms) best = &v;
    }
    if (best) package.dist_tags["latest"] = best->version;
    return true;
  }

  Context& ctx;
  std::mutex mutex;  // guards resolved
  UpstreamDocuments documents;
  ViewCache<View> views;
  // Tarball file -> stored blob, for warm hits without index reads. Valid for one generation.
  struct ResolvedAsset {
    cache::BlobRecord record;
    uint64_t generation = 0;
  };
  LruMap<ResolvedAsset> resolved{16ull * 1024 * 1024};
  std::mutex publish_mutex;

  explicit NpmHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c), c.config.cache.memory_cache_bytes / 2),
        views(c.config.cache.memory_cache_bytes / 2) {}

  // --- Responses ---

  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string_view message) {
    Headers headers{{"Content-Type", "application/json"}};
    co_await ex.respond(status, std::move(headers), npm::error_body(message));
  }
  asio::awaitable<void> ok_json(Exchange& ex, unsigned status, const json& body) {
    Headers headers{{"Content-Type", "application/json"}};
    co_await ex.respond(status, std::move(headers), dump(body));
  }

  std::string base_url(const Exchange& ex, const config::DomainConfig& domain,
                       const config::RepositoryConfig& repo) const {
    return public_origin(ctx.config, ex.request()) + "/" + domain.name + "/npm/" + repo.name + "/";
  }

  // --- Upstream packuments (cached, revalidated, single flight) ---

  static std::string upstream_path(const npm::PackageName& name) {
    return name.scope.empty() ? name.name : "@" + name.scope + "%2f" + name.name;
  }

  static Result<std::shared_ptr<const void>> parse_stored(const std::string& body) {
    ARCA_TRY(auto doc, npm::parse_packument(body));
    return std::shared_ptr<const void>(std::make_shared<const json>(std::move(doc)));
  }
  static Result<std::shared_ptr<const void>> parse_response(std::string& body, const ResponseHead&,
                                                            const std::string&,
                                                            const std::string&) {
    return parse_stored(body);
  }

  static DocumentTraits document_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = "npm";
    t.format = "npm";
    t.accept = "application/json";
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.memory_cost_factor = 4;
    t.parse_response = &parse_response;
    t.parse_stored = &parse_stored;
    return t;
  }

  asio::awaitable<Result<UpstreamDoc>> upstream_doc(const config::ExternalConnectionConfig* ec,
                                                    npm::PackageName name) {
    DocumentRequest request;
    request.key = name.full();
    request.url = upstream_path(name);
    request.what = "packument of " + name.full();
    auto d = co_await documents.get(ec, std::move(request));
    if (!d) co_return d.error();
    UpstreamDoc out;
    out.doc = std::static_pointer_cast<const json>(d->parsed);
    out.fresh_until_ms = d->fresh_until_ms;
    co_return out;
  }

  // --- Merged views ---

  // The repository's own versions of a package as a packument.
  Result<std::optional<json>> own_packument(const config::DomainConfig& domain,
                                            const config::RepositoryConfig& repo,
                                            const npm::PackageName& name) {
    PackageKey k{domain.name, repo.name, "npm", name.scope, name.name};
    ARCA_TRY(auto versions, list_versions(ctx.store, k));
    ARCA_TRY(auto pkg, find_package(ctx.store, k));
    if (versions.empty() && !pkg) return std::optional<json>();
    json doc = {{"_id", name.full()}, {"name", name.full()}, {"dist-tags", json::object()},
                {"versions", json::object()}, {"time", json::object()}};
    int64_t created = 0, modified = 0;
    for (auto& v : versions) {
      // CodeArtifact statuses: only Published versions are listed (Unlisted ones stay
      // downloadable by exact tarball URL; Archived and Disposed ones are not). The others are
      // named so the merged view hides them even where an upstream still lists them.
      if (v.status != "Published") {
        doc["_arca_hidden"].push_back(v.version);
        continue;
      }
      auto manifest = json::parse(v.manifest, nullptr, false);
      if (manifest.is_discarded() || !manifest.is_object()) continue;
      doc["versions"][v.version] = std::move(manifest);
      if (!v.upstream_time.empty()) {
        doc["time"][v.version] = v.upstream_time;
        continue;  // the upstream's document supplies created/modified
      }
      doc["time"][v.version] = iso8601(v.published_unix_ms);
      if (!created || v.published_unix_ms < created) created = v.published_unix_ms;
      modified = std::max(modified, v.published_unix_ms);
    }
    if (pkg) {
      // Tags never point at a version that is not listed; "latest" falls back to the newest.
      const json& listed = doc["versions"];
      int64_t newest = -1;
      std::string newest_version;
      for (auto& v : versions) {
        if (listed.contains(v.version) && v.published_unix_ms > newest) {
          newest = v.published_unix_ms;
          newest_version = v.version;
        }
      }
      for (auto it = pkg->dist_tags.begin(); it != pkg->dist_tags.end(); ++it) {
        if (it.value().is_string() && listed.contains(it.value().get<std::string>())) {
          doc["dist-tags"][it.key()] = it.value();
        }
      }
      if (!doc["dist-tags"].contains("latest") && !newest_version.empty()) {
        doc["dist-tags"]["latest"] = newest_version;
      }
    }
    if (created) {
      doc["time"]["created"] = iso8601(created);
      doc["time"]["modified"] = iso8601(modified);
    }
    return std::optional<json>(std::move(doc));
  }

  uint64_t package_generation(const config::DomainConfig& domain, const npm::PackageName& name) const {
    return ctx.generations.package(domain.name, "npm", name.scope, name.name);
  }
  void package_changed(const config::DomainConfig& domain, const npm::PackageName& name) {
    ctx.generations.package_changed(domain.name, "npm", name.scope, name.name);
  }

  // Package-group and package-level origin controls of a package, read on the blocking pool.
  asio::awaitable<OriginPolicy> origin_restrictions(const config::DomainConfig& domain,
                                                    const config::RepositoryConfig& repo,
                                                    const npm::PackageName& name) {
    co_return co_await load_policy(ctx, domain, repo, "npm", name.scope, name.name);
  }

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo, npm::PackageName name) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + name.full();
    const uint64_t generation = package_generation(domain, name);
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, name, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              npm::PackageName name, std::string key,
                                              uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    // Origin controls (package groups): versions an upstream repository holds come in only when
    // INTERNAL_UPSTREAM allows the repository asked; an external connection's only when
    // EXTERNAL_UPSTREAM allows the repository that owns the connection.
    const OriginPolicy restrictions = co_await origin_restrictions(domain, repo, name);
    std::vector<json> owned;  // keeps the own documents alive
    owned.reserve(order.size());
    std::vector<const json*> sources;
    std::vector<Origin> source_origin;
    auto own = co_await offload(ctx.pool, [&]() -> Result<std::vector<std::optional<json>>> {
      std::vector<std::optional<json>> out;
      for (auto* r : order) {
        ARCA_TRY(auto doc, own_packument(domain, *r, name));
        out.push_back(std::move(doc));
      }
      return out;
    });
    if (!own) co_return own.error();
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0 && order[i]->name != repo.name &&
          !restrictions.allows(pg::RestrictionType::internal_upstream, repo.name)) {
        continue;
      }
      if ((*own)[i]) {
        owned.push_back(std::move(*(*own)[i]));
        sources.push_back(&owned.back());
        source_origin.push_back(Origin{order[i], nullptr});
      }
    }
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    std::vector<std::shared_ptr<const json>> upstream_docs;
    std::optional<Error> upstream_failure;
    for (auto* r : order) {
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves("npm")) continue;
      if (!restrictions.allows(pg::RestrictionType::external_upstream, r->name)) continue;
      if (r->name != repo.name && !restrictions.allows(pg::RestrictionType::internal_upstream, repo.name)) {
        continue;
      }
      auto doc = co_await upstream_doc(ec, name);
      if (!doc) {
        upstream_failure = doc.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, doc->fresh_until_ms);
      if (!doc->doc) continue;
      upstream_docs.push_back(doc->doc);
      sources.push_back(doc->doc.get());
      source_origin.push_back(Origin{r, ec});
    }
    view->missing_failure = upstream_failure;
    if (sources.empty()) {
      // Nothing stored here and no upstream could say: "not found", as Verdaccio answers, so
      // that publishing still works while an upstream is down. The reason goes in the message.
      view->found = false;
      view->merged = std::make_shared<const json>(json::object());
    } else {
      // Merging large packuments (thousands of versions) runs on the blocking pool.
      View* out = view.get();
      co_await offload(ctx.pool, [&, out] {
        View& vw = *out;
        vw.found = true;
        json merged = npm::merge_packuments(name, sources);
        // Versions whose first holder (in resolution order) has them with a status other than
        // Published are not listed; a repository that retained a version Published lists it even
        // where an upstream repository archived its own copy.
        if (auto hidden = merged.find("_arca_hidden"); hidden != merged.end()) {
          std::set<std::string> names, listed;
          for (auto& doc : owned) {
            if (auto h = doc.find("_arca_hidden"); h != doc.end() && h->is_array()) {
              for (auto& v : *h) {
                if (v.is_string() && !listed.count(v.get<std::string>())) names.insert(v.get<std::string>());
              }
            }
            if (auto vs = doc.find("versions"); vs != doc.end() && vs->is_object()) {
              for (auto v = vs->begin(); v != vs->end(); ++v) {
                if (!names.count(v.key())) listed.insert(v.key());
              }
            }
          }
          merged.erase(hidden);
          for (const char* field : {"versions", "time"}) {
            if (auto it = merged.find(field); it != merged.end() && it->is_object()) {
              for (auto& n : names) it->erase(n);
            }
          }
          if (auto tags = merged.find("dist-tags"); tags != merged.end() && tags->is_object()) {
            for (auto t = tags->begin(); t != tags->end();) {
              if (t->is_string() && names.count(t->get<std::string>())) t = tags->erase(t);
              else ++t;
            }
          }
        }
        // Origins: the first source holding each version.
        if (auto it = merged.find("versions"); it != merged.end() && it->is_object()) {
          for (auto v = it->begin(); v != it->end(); ++v) {
            for (size_t s = 0; s < sources.size(); ++s) {
              auto vs = sources[s]->find("versions");
              if (vs != sources[s]->end() && vs->is_object() && vs->contains(v.key())) {
                vw.origins[v.key()] = source_origin[s];
                if (source_origin[s].connection) {
                  vw.upstream_versions[v.key()] = std::make_shared<const json>((*vs)[v.key()]);
                  auto times = sources[s]->find("time");
                  if (times != sources[s]->end() && times->is_object()) {
                    auto t = times->find(v.key());
                    if (t != times->end() && t->is_string()) vw.upstream_times[v.key()] = t->get<std::string>();
                  }
                }
                break;
              }
            }
          }
        }
        // The revision npm sends back in /-rev/<rev> paths (unpublish): a digest of the
        // document, so it moves whenever the document does.
        merged.erase("_rev");
        merged["_rev"] = npm::packument_rev(merged);
        vw.merged = std::make_shared<const json>(std::move(merged));
        return true;
      });
    }
    views.put(key, view, 4096 + view->origins.size() * 1024);
    co_return view;
  }

  // The rendered variants a view keeps, one per base URL (the Host a client used, unless
  // public_url is set). Bounded, so that many Host values cannot grow memory without limit.
  static constexpr size_t k_rendered_bases = 2;

  // Prereq: on the blocking pool (a rendering of a large packument takes a while).
  std::shared_ptr<const Rendered> render(View& view, const std::string& base) {
    {
      std::lock_guard lock(view.mutex);
      if (auto it = view.rendered.find(base); it != view.rendered.end()) return it->second;
    }
    json doc = *view.merged;
    npm::rewrite_tarball_urls(doc, base);
    auto r = std::make_shared<Rendered>();
    auto full = std::make_shared<std::string>(dump(doc));
    auto abbreviated = std::make_shared<std::string>(dump(npm::abbreviate(doc)));
    r->etag = "\"" + to_hex(sha256_of(*full)).substr(0, 32) + "\"";
    r->full_gz = std::make_shared<const std::string>(gzip_compress(*full));
    r->abbreviated_gz = std::make_shared<const std::string>(gzip_compress(*abbreviated));
    r->full = std::move(full);
    r->abbreviated = std::move(abbreviated);
    std::lock_guard lock(view.mutex);
    if (view.rendered.size() >= k_rendered_bases && !view.rendered.count(base))
      view.rendered.erase(view.rendered.begin());
    view.rendered[base] = r;
    return r;
  }

  // --- Handlers ---

  asio::awaitable<void> packument(Exchange& ex, const config::DomainConfig& domain,
                                  const config::RepositoryConfig& repo, const npm::PackageName& name) {
    auto v = co_await view(domain, repo, name);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    if (!(*v)->found) {
      // (No conditional expression inside co_await: GCC 12 destroys its temporary twice.)
      std::string message = "Not found";
      unsigned status = 404;
      if ((*v)->missing_failure) {
        message += " (upstream unavailable: " + (*v)->missing_failure->message + ")";
        // An installer must not take an unreachable upstream for "no such package"; npm
        // publish only asks whether the package exists here, so it gets the 404 and proceeds.
        if (ex.request().header("npm-command") != "publish") status = status_for(*(*v)->missing_failure);
      }
      co_await error(ex, status, message);
      co_return;
    }
    const std::string base = base_url(ex, domain, repo);
    std::shared_ptr<const Rendered> rendered;
    {
      std::lock_guard lock((*v)->mutex);
      if (auto it = (*v)->rendered.find(base); it != (*v)->rendered.end()) rendered = it->second;
    }
    if (!rendered) {
      View* view = v->get();
      rendered = co_await offload(ctx.pool, [this, view, &base] { return render(*view, base); });
    }
    const auto& req = ex.request();
    const bool abbreviated = req.header("accept").find(k_abbreviated_type) != std::string_view::npos;
    const bool gzip = accepts_gzip(req.header("accept-encoding"));
    std::string etag = rendered->etag;
    etag.insert(etag.size() - 1, abbreviated ? "-a" : "-f");
    Headers headers{{"Content-Type", abbreviated ? std::string(k_abbreviated_type) : "application/json"},
                    {"ETag", etag},
                    {"Vary", "Accept, Accept-Encoding"},
                    {"Cache-Control", "public, max-age=0, must-revalidate"}};
    if (req.header("if-none-match") == etag) {
      co_await ex.respond(304, std::move(headers), {});
      co_return;
    }
    if (gzip) headers.emplace_back("Content-Encoding", "gzip");
    auto body = abbreviated ? (gzip ? rendered->abbreviated_gz : rendered->abbreviated)
                            : (gzip ? rendered->full_gz : rendered->full);
    co_await ex.respond_shared(200, std::move(headers), std::move(body));
  }

  asio::awaitable<void> version_manifest(Exchange& ex, const config::DomainConfig& domain,
                                         const config::RepositoryConfig& repo,
                                         const npm::PackageName& name, std::string spec) {
    auto v = co_await view(domain, repo, name);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    // Only the asked version is copied and rewritten (the packument may hold thousands).
    const json& merged = *(*v)->merged;
    std::string version = spec;
    if (auto tags = merged.find("dist-tags"); tags != merged.end() && tags->is_object()) {
      if (auto t = tags->find(spec); t != tags->end() && t->is_string()) version = t->get<std::string>();
    }
    auto versions = merged.find("versions");
    if (!(*v)->found || versions == merged.end() || !versions->is_object() || !versions->contains(version)) {
      co_await error(ex, 404, "version not found: " + spec);
      co_return;
    }
    json one = {{"versions", {{version, (*versions)[version]}}}};
    npm::rewrite_tarball_urls(one, base_url(ex, domain, repo));
    co_await ok_json(ex, 200, one["versions"][version]);
  }

  asio::awaitable<void> tarball(Exchange& ex, const config::DomainConfig& domain,
                                const config::RepositoryConfig& repo, const npm::PackageName& name,
                                std::string file) {
    auto version = npm::version_from_tarball_filename(name, file);
    if (!version) {
      co_await error(ex, 404, "not a tarball of " + name.full() + ": " + file);
      co_return;
    }
    const Headers headers{{"Content-Type", "application/octet-stream"},
                          {"Cache-Control", "public, max-age=31536000, immutable"}};
    const std::string resolved_key = domain.name + '\x1f' + repo.name + '\x1f' + name.full() + '\x1f' + file;
    const uint64_t generation = package_generation(domain, name);
    std::optional<cache::BlobRecord> known;
    {
      std::lock_guard lock(mutex);
      if (auto* r = resolved.find(resolved_key); r && r->generation == generation) known = r->record;
    }
    if (known) {
      ++ctx.metrics.asset_hits;
      co_await ctx.assets.serve_blob(ex, *known, headers);
      co_return;
    }
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy restrictions = co_await origin_restrictions(domain, repo, name);
    const PackageKey key{domain.name, repo.name, "npm", name.scope, name.name};
    // Stored in this repository or one it may take from: serve it (and retain it here).
    auto stored = co_await locate_stored(ctx, order, restrictions, key, file, *version);
    if (!stored) {
      co_await error(ex, 500, stored.error().message);
      co_return;
    }
    if (!stored->unavailable_status.empty()) {
      // Archived and Disposed versions are not downloadable (and never fetched again).
      std::string message = "Not found: " + name.full() + "@" + *version + " is " + stored->unavailable_status;
      co_await error(ex, 404, message);
      co_return;
    }
    if (stored->found) {
      if (stored->found->holder->name == repo.name) {
        std::lock_guard lock(mutex);
        resolved.put(resolved_key, ResolvedAsset{stored->found->blob, generation}, resolved_key.size() + 256);
      }
      co_await serve_located(ctx, ex, repo, *stored->found, key, *version, headers);
      co_return;
    }
    // Miss: find where the version comes from.
    auto v = co_await view(domain, repo, name);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    auto origin = (*v)->origins.find(*version);
    if (origin == (*v)->origins.end() || !origin->second.connection) {
      std::string message = "Not found: " + name.full() + "@" + *version;
      unsigned status = 404;
      if ((*v)->missing_failure) {
        message += " (upstream unavailable: " + (*v)->missing_failure->message + ")";
        status = status_for(*(*v)->missing_failure);
      }
      co_await error(ex, status, message);
      co_return;
    }
    auto manifest_it = (*v)->upstream_versions.find(*version);
    if (manifest_it == (*v)->upstream_versions.end()) {
      co_await error(ex, 404, "Not found: " + name.full() + "@" + *version);
      co_return;
    }
    auto manifest = manifest_it->second;
    std::string upstream_time;
    if (auto t = (*v)->upstream_times.find(*version); t != (*v)->upstream_times.end()) {
      upstream_time = t->second;
    }
    auto dist = npm::dist_of(*manifest);
    if (!dist) {
      co_await error(ex, 502, "the upstream packument has no tarball for " + name.full() + "@" + *version);
      co_return;
    }
    const auto* owner = origin->second.repo;
    const auto* ec = origin->second.connection;
    if (!restrictions.allows(pg::RestrictionType::external_upstream, owner->name)) {
      std::string message = name.full() + "@" + *version + " may not be fetched from " +
                            ec->name + " into repository " + owner->name + ": blocked by " +
                            restrictions.blocker(pg::RestrictionType::external_upstream, owner->name);
      co_await error(ex, 403, message);
      co_return;
    }
    std::string url = dist->tarball;
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      auto base = co_await upstream_base_url(ctx.codeartifact, *ec, "npm");
      if (!base) {
        co_await error(ex, status_for(base.error()), base.error().message);
        co_return;
      }
      url = *base + (url.size() && url[0] == '/' ? url.substr(1) : url);
    }
    FillSpec spec;
    spec.key = domain.name + '\x1f' + owner->name + "\x1fnpm\x1f" + name.full() + '\x1f' + file;
    spec.request.url = url;
    spec.sha512 = dist->sha512;
    spec.sha1 = dist->sha1;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = *version;
    arrival.asset = file;
    arrival.upstream_time = upstream_time;
    arrival.shape = [manifest](VersionRecord& vr, const cache::BlobRecord&) {
      if (vr.manifest.empty()) vr.manifest = dump(*manifest);
    };
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner, repo, headers);
    if (!filled) {
      const Error e = filled.error();
      co_await error(ex, status_for(e), e.message);
    }
  }

  asio::awaitable<void> publish(Exchange& ex, const config::DomainConfig& domain,
                                const config::RepositoryConfig& repo, const npm::PackageName& name) {
    auto parsed = npm::parse_publish(ex.request().body, name);
    if (!parsed) {
      co_await error(ex, 400, parsed.error().message);
      co_return;
    }
    const OriginPolicy restrictions = co_await origin_restrictions(domain, repo, name);
    if (!restrictions.allows(pg::RestrictionType::publish, repo.name)) {
      std::string message = "Publishing " + name.full() + " to repository " + repo.name +
                            " is not allowed by " +
                            restrictions.blocker(pg::RestrictionType::publish, repo.name);
      co_await error(ex, 403, message);
      co_return;
    }
    // A version reachable through an upstream repository or the external connection cannot be
    // published here (CodeArtifact user guide, "Private packages and public repositories": 409).
    // The view already leaves out what origin controls keep out, so with the package's upstream
    // control at BLOCK any version not stored here may be published. An upstream that cannot be
    // reached does not block publishing (the check is then as stale as the service's).
    if (auto v = co_await view(domain, repo, name); v && (*v)->found) {
      for (auto it = parsed->versions.begin(); it != parsed->versions.end(); ++it) {
        auto origin = (*v)->origins.find(it.key());
        if (origin == (*v)->origins.end()) continue;
        if (auto conflict = repo::publish_conflict(origin->second, repo.name,
                                                   name.full() + "@" + it.key(), "published")) {
          co_await error(ex, 409, *conflict);
          co_return;
        }
      }
    }
    PackageKey k{domain.name, repo.name, "npm", name.scope, name.name};
    auto result = co_await offload(ctx.pool, [this, &parsed, &k]() -> Result<std::string> {
      std::lock_guard lock(publish_mutex);
      auto& req = *parsed;
      for (auto it = req.versions.begin(); it != req.versions.end(); ++it) {
        ARCA_TRY(auto existing, find_version(ctx.store, k, it.key()));
        if (existing) {
          return make_error(Errc::forbidden,
                            "You cannot publish over the previously published versions: " + it.key() + ".");
        }
      }
      cache::Batch batch;
      std::vector<std::unique_ptr<cache::BlobWriter>> writers;
      const int64_t now = now_unix_ms();
      for (auto& att : req.attachments) {
        auto version = npm::version_from_tarball_filename(req.name, att.filename);
        if (!version || !req.versions.contains(*version)) {
          return make_error(Errc::invalid_argument, "attachment " + att.filename + " matches no version");
        }
        ARCA_TRY(auto writer, ctx.store.begin_blob());
        ARCA_TRY_VOID(writer->append(att.data));
        ARCA_TRY(auto record, writer->finish());
        batch.add_blob(*writer);
        std::string file = npm::tarball_filename(req.name, *version);
        AssetRecord asset{*version, to_hex(record.digests.sha256), record.size};
        VersionRecord vr;
        vr.version = *version;
        vr.origin = "INTERNAL";
        vr.published_unix_ms = now;
        json manifest = req.versions[*version];
        manifest.erase("_attachments");
        vr.manifest = dump(manifest);
        vr.assets.emplace_back(file, asset);
        batch.put(cache::Space::index, version_key(k, *version), encode(vr));
        batch.put(cache::Space::index, asset_key(k, file), encode(asset));
        writers.push_back(std::move(writer));
      }
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      PackageRecord record = pkg ? *pkg : PackageRecord{json::object(), now};
      if (req.dist_tags.is_object()) {
        for (auto it = req.dist_tags.begin(); it != req.dist_tags.end(); ++it) {
          if (it.value().is_string()) record.dist_tags[it.key()] = it.value();
        }
      }
      batch.put(cache::Space::index, package_key(k), encode(record));
      ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
      ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
      return std::string(req.versions.begin().key());
    });
    if (!result) {
      co_await error(ex, result.error().code == Errc::forbidden ? 403 : status_for(result.error()),
                     result.error().message);
      co_return;
    }
    package_changed(domain, name);
    ++ctx.metrics.publishes;
    ARCA_LOG_INFO("published {}@{} to {}/{}", name.full(), *result, domain.name, repo.name);
    json body = {{"ok", true}, {"id", name.full()}, {"success", true}};
    co_await ok_json(ex, 201, body);
  }

  // A PUT /<name> without attachments: the whole packument sent back edited, as `npm deprecate`
  // does (GET /<name>?write=true, then PUT). Only "deprecated" of versions this repository
  // holds may change (CodeArtifact deprecates only versions in the repository); it is stored in
  // the version's manifest, so the packument and `npm view pkg@v deprecated` show it.
  asio::awaitable<void> update_metadata(Exchange& ex, const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo,
                                        const npm::PackageName& name) {
    auto v = co_await view(domain, repo, name);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    if (!(*v)->found) {
      std::string message = "Not found: " + name.full() + " is not in repository " + repo.name;
      co_await error(ex, 404, message);
      co_return;
    }
    auto update = npm::parse_metadata_update(ex.request().body, name, *(*v)->merged);
    if (!update) {
      co_await error(ex, 400, update.error().message);
      co_return;
    }
    for (auto& [version, message] : update->deprecations) {
      auto origin = (*v)->origins.find(version);
      const bool here = origin != (*v)->origins.end() && origin->second.repo &&
                        origin->second.repo->name == repo.name && !origin->second.connection;
      if (here) continue;
      std::string from = "an upstream";
      if (origin != (*v)->origins.end() && origin->second.connection) {
        from = "external connection " + origin->second.connection->name;
      } else if (origin != (*v)->origins.end() && origin->second.repo) {
        from = "upstream repository " + origin->second.repo->name;
      }
      std::string text = "Cannot change the deprecation of " + name.full() + "@" + version +
                         ": the version is not in repository " + repo.name + " (it is served from " +
                         from + "); only versions in the repository can be deprecated";
      co_await error(ex, 400, text);
      co_return;
    }
    if (!update->deprecations.empty()) {
      PackageKey k{domain.name, repo.name, "npm", name.scope, name.name};
      auto& changes = update->deprecations;
      auto result = co_await offload(ctx.pool, [this, &k, &changes]() -> Result<bool> {
        std::lock_guard lock(publish_mutex);
        cache::Batch batch;
        for (auto& [version, message] : changes) {
          ARCA_TRY(auto existing, find_version(ctx.store, k, version));
          if (!existing) return make_error(Errc::not_found, "version not found: " + version);
          VersionRecord vr = *existing;
          auto manifest = json::parse(vr.manifest, nullptr, false);
          if (manifest.is_discarded() || !manifest.is_object()) manifest = json::object();
          if (message) manifest["deprecated"] = *message;
          else manifest.erase("deprecated");
          vr.manifest = dump(manifest);
          batch.put(cache::Space::index, version_key(k, version), encode(vr));
        }
        ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
        return true;
      });
      if (!result) {
        co_await error(ex, status_for(result.error()), result.error().message);
        co_return;
      }
      package_changed(domain, name);
      for (auto& [version, message] : update->deprecations) {
        ARCA_LOG_INFO("{} {}@{} in {}/{}", message ? "deprecated" : "undeprecated", name.full(), version,
                      domain.name, repo.name);
      }
    }
    json body = {{"ok", true}, {"id", name.full()}};
    co_await ok_json(ex, 200, body);
  }

  asio::awaitable<void> dist_tags(Exchange& ex, const config::DomainConfig& domain,
                                  const config::RepositoryConfig& repo, const npm::PackageName& name,
                                  std::optional<std::string> tag) {
    const auto& method = ex.request().method;
    auto v = co_await view(domain, repo, name);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    if (!(*v)->found) {
      co_await error(ex, 404, "Not found");
      co_return;
    }
    const json& merged = *(*v)->merged;
    json tags = merged.contains("dist-tags") ? merged["dist-tags"] : json::object();
    if (method == "GET" && !tag) {
      co_await ok_json(ex, 200, tags);
      co_return;
    }
    if (method == "GET") {
      if (!tags.contains(*tag)) co_await error(ex, 404, "no such tag: " + *tag);
      else co_await ok_json(ex, 200, tags[*tag]);
      co_return;
    }
    if (!tag || tag->empty() || !npm::valid_version(*tag)) {
      co_await error(ex, 400, "a tag name is required");
      co_return;
    }
    std::optional<std::string> version;
    if (method == "PUT" || method == "POST") {
      auto body = json::parse(ex.request().body, nullptr, false);
      if (body.is_discarded() || !body.is_string()) {
        co_await error(ex, 400, "expected a JSON string naming a version");
        co_return;
      }
      version = body.get<std::string>();
      auto versions = merged.find("versions");
      if (versions == merged.end() || !versions->contains(*version)) {
        co_await error(ex, 404, "version not found: " + *version);
        co_return;
      }
      // A tag is kept in this repository's package record and can only name a version the
      // repository holds (its own packument drops tags naming anything else). A version served
      // only by an upstream is refused instead of answering 201 and losing the tag (and
      // without creating a package record here as a side effect).
      auto origin = (*v)->origins.find(*version);
      const bool here = origin != (*v)->origins.end() && origin->second.repo &&
                        origin->second.repo->name == repo.name && !origin->second.connection;
      if (!here) {
        std::string from = "an upstream";
        if (origin != (*v)->origins.end() && origin->second.connection) {
          from = "external connection " + origin->second.connection->name;
        } else if (origin != (*v)->origins.end() && origin->second.repo) {
          from = "upstream repository " + origin->second.repo->name;
        }
        std::string text = "Cannot tag " + name.full() + "@" + *version + " as " + *tag +
                           ": the version is not in repository " + repo.name + " (it is served from " +
                           from + "); dist-tags can only name versions in the repository";
        co_await error(ex, 400, text);
        co_return;
      }
    } else if (method != "DELETE") {
      co_await error(ex, 405, "method not allowed");
      co_return;
    }
    if (method == "DELETE" && *tag == "latest") {
      co_await error(ex, 400, "the latest tag cannot be removed");
      co_return;
    }
    PackageKey k{domain.name, repo.name, "npm", name.scope, name.name};
    auto result = co_await offload(ctx.pool, [this, &k, &tag, &version]() -> Result<json> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      if (!version && (!pkg || !pkg->dist_tags.contains(*tag))) {
        // Removing a tag this repository does not hold (an upstream's): nothing to change here.
        return make_error(Errc::not_found, "no dist-tag " + *tag + " in repository " + k.repo);
      }
      PackageRecord record = pkg ? *pkg : PackageRecord{json::object(), now_unix_ms()};
      if (version) record.dist_tags[*tag] = *version;
      else record.dist_tags.erase(*tag);
      ARCA_TRY_VOID(ctx.store.put(cache::Space::index, package_key(k), encode(record)));
      return record.dist_tags;
    });
    if (!result) {
      co_await error(ex, status_for(result.error()), result.error().message);
      co_return;
    }
    package_changed(domain, name);
    json body = {{"ok", true}};
    co_await ok_json(ex, version ? 201 : 200, body);
  }

  // A PUT /<name> whose JSON body has no attachments (npm deprecate). Anything that does not
  // parse goes to publish(), which explains what is wrong with it.
  static bool is_metadata_update(const Request& request) {
    auto body = npm::parse_json_object(request.body, Errc::invalid_argument);
    return body && !npm::is_publish_body(*body) && body->contains("versions");
  }

  // --- unpublish ---

  // Where a listed version is served from, for messages.
  static std::string served_from(const View& view, const std::string& version) {
    auto origin = view.origins.find(version);
    if (origin != view.origins.end() && origin->second.connection) {
      return "external connection " + origin->second.connection->name;
    }
    if (origin != view.origins.end() && origin->second.repo) {
      return "upstream repository " + origin->second.repo->name;
    }
    return "an upstream";
  }

  // Whether a stored version record was published into `repo` (not retained from an upstream
  // repository or an external connection).
  static bool published_here(const VersionRecord& v, const std::string& repo) {
    return v.origin == "INTERNAL" && v.entry.external_connection.empty() &&
           (v.entry.repository.empty() || v.entry.repository == repo);
  }

  // npm unpublish: PUT /<name>/-rev/<rev> (the packument without the versions removed),
  // DELETE /<name>/-/<file>/-rev/<rev> (the tarball, after that PUT) and DELETE
  // /<name>/-rev/<rev> (the whole package: `npm unpublish <name> --force`, or the last
  // version). Refused unless npm.allow_unpublish; then only versions published into this
  // repository are deleted (their version and asset records, as DeletePackageVersions does),
  // dist-tags naming them are fixed (versions_removed) and the package's generation moves.
  asio::awaitable<void> unpublish(Exchange& ex, const config::DomainConfig& domain,
                                  const config::RepositoryConfig& repo, const npm::PackageName& name,
                                  std::string rev, std::optional<std::string> tarball_file) {
    const std::string& method = ex.request().method;
    if (!ctx.config.npm.allow_unpublish) {
      std::string message = "npm unpublish is not allowed in repository " + repo.name +
                            " (as in CodeArtifact): delete package versions with `aws codeartifact "
                            "delete-package-versions --domain " + domain.name + " --repository " +
                            repo.name + " --format npm --package " + name.name +
                            (name.scope.empty() ? std::string() : " --namespace " + name.scope) +
                            " --versions <version>`, or set npm.allow_unpublish in arca's configuration";
      co_await error(ex, 405, message);
      co_return;
    }
    auto v = co_await view(domain, repo, name);
    if (!v) {
      const Error e = v.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    const View& vw = **v;
    const json& merged = *vw.merged;
    std::set<std::string> targets;
    bool whole = false;
    if (tarball_file) {
      auto version = npm::version_from_tarball_filename(name, *tarball_file);
      if (!version) {
        co_await error(ex, 404, "not a tarball of " + name.full() + ": " + *tarball_file);
        co_return;
      }
      auto versions = merged.find("versions");
      if (!vw.found || versions == merged.end() || !versions->is_object() || !versions->contains(*version)) {
        // Already gone (the PUT before this removed the version): nothing left to do.
        json body = {{"ok", true}};
        co_await ok_json(ex, 200, body);
        co_return;
      }
      targets.insert(*version);
    } else {
      if (!vw.found) {
        std::string message = "Not found: " + name.full() + " is not in repository " + repo.name;
        co_await error(ex, 404, message);
        co_return;
      }
      auto current = merged.find("_rev");
      if (!rev.empty() && current != merged.end() && current->is_string() && *current != rev) {
        std::string message = "Conflict: " + name.full() + " changed (revision " + rev + " is not the current " +
                              current->get<std::string>() + "); fetch it again";
        co_await error(ex, 409, message);
        co_return;
      }
      if (method == "DELETE") {
        whole = true;
        if (auto versions = merged.find("versions"); versions != merged.end() && versions->is_object()) {
          for (auto it = versions->begin(); it != versions->end(); ++it) targets.insert(it.key());
        }
      } else {
        auto removed = npm::parse_unpublish(ex.request().body, name, merged);
        if (!removed) {
          const Error e = removed.error();
          co_await error(ex, 400, e.message);
          co_return;
        }
        if (removed->empty()) {
          std::string message = "This request removes no version of " + name.full() +
                                ": changing owners or stars (npm owner, npm star) is not supported by arca";
          co_await error(ex, 501, message);
          co_return;
        }
        targets = std::move(*removed);
      }
    }
    for (auto& version : targets) {
      auto origin = vw.origins.find(version);
      const bool here = origin != vw.origins.end() && origin->second.repo &&
                        origin->second.repo->name == repo.name && !origin->second.connection;
      if (here) continue;
      std::string message = "Cannot unpublish " + name.full() + "@" + version + ": the version is not in repository " +
                            repo.name + " (it is served from " + served_from(vw, version) +
                            "); only versions published into the repository can be unpublished";
      co_await error(ex, 403, message);
      co_return;
    }
    PackageKey k{domain.name, repo.name, "npm", name.scope, name.name};
    auto result = co_await offload(ctx.pool, [this, &k, &targets, whole]() -> Result<std::set<std::string>> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto versions, list_versions(ctx.store, k));
      std::set<std::string> removed;
      cache::Batch batch;
      for (auto& v : versions) {
        if (!whole && !targets.count(v.version)) continue;
        if (!published_here(v, k.repo)) {
          std::string from = v.entry.external_connection.empty()
                                  ? "upstream repository " + v.entry.repository
                                  : "external connection " + v.entry.external_connection;
          return make_error(Errc::forbidden,
                            "Cannot unpublish " + display(k) + "@" + v.version + ": the version was retained in repository " +
                                k.repo + " from " + from +
                                ", not published into it; only published versions can be unpublished (aws "
                                "codeartifact delete-package-versions deletes retained ones)");
        }
        for (auto& [file, asset] : v.assets) batch.del(cache::Space::index, asset_key(k, file));
        batch.del(cache::Space::index, version_key(k, v.version));
        removed.insert(v.version);
      }
      for (auto& t : targets) {
        if (!removed.count(t)) return make_error(Errc::not_found, "version not found: " + t);
      }
      if (removed.size() == versions.size()) {
        // Nothing left: the package goes too (with its origin configuration when the whole
        // package was unpublished, as DeletePackage does).
        batch.del(cache::Space::index, package_key(k));
        if (whole) batch.del(cache::Space::index, origin_key(k));
      } else {
        ARCA_TRY(auto pkg, find_package(ctx.store, k));
        if (pkg) {
          PackageRecord record = *pkg;
          if (versions_removed(record, removed, versions)) {
            batch.put(cache::Space::index, package_key(k), encode(record));
          }
        }
      }
      ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
      return removed;
    });
    if (!result) {
      const Error e = result.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    package_changed(domain, name);
    for (auto& version : *result) {
      ARCA_LOG_INFO("unpublished {}@{} from {}/{}", name.full(), version, domain.name, repo.name);
    }
    json body = {{"ok", true}, {"id", name.full()}};
    co_await ok_json(ex, 200, body);
  }

  static std::string display(const PackageKey& k) {
    return k.ns.empty() ? k.name : "@" + k.ns + "/" + k.name;
  }

  // --- search ---

  // GET /-/v1/search: the packages this repository and its upstream repositories hold (stored
  // records: published and retained versions; external connections' registries are not
  // searched), matched on name, keywords and description. Per package the first repository in
  // resolution order that lists it decides the version shown: its `latest` tag when that
  // version is Published there, else its highest Published version.
  asio::awaitable<void> search(Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo) {
    auto parsed = npm::parse_search_query(ex.request().query);
    if (!parsed) {
      const Error e = parsed.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    const npm::SearchQuery query = *parsed;
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto found = co_await offload(ctx.pool, [&]() -> Result<std::vector<npm::SearchCandidate>> {
      std::map<std::string, std::optional<npm::SearchCandidate>> seen;  // full name -> match
      for (auto* r : order) {
        PackageKey pk{domain.name, r->name, "npm", "", ""};
        std::string prefix = package_key(pk);
        prefix.pop_back();  // "pk␟domain␟repo␟npm␟": every namespace
        std::string after;
        for (;;) {
          ARCA_TRY(auto rows, ctx.store.scan(cache::Space::index, prefix, 1000, after));
          for (auto& [row_key, value] : rows) {
            const std::string rest = row_key.substr(prefix.size());
            const size_t sep = rest.find('\x1f');
            if (sep == std::string::npos) continue;
            npm::PackageName name{rest.substr(0, sep), rest.substr(sep + 1)};
            const std::string full = name.full();
            if (seen.count(full)) continue;
            pk.ns = name.scope;
            pk.name = name.name;
            ARCA_TRY(auto versions, list_versions(ctx.store, pk));
            std::optional<std::string> latest;
            if (auto record = decode_package(value)) {
              if (auto t = record->dist_tags.find("latest"); t != record->dist_tags.end() && t->is_string()) {
                latest = t->get<std::string>();
              }
            }
            const VersionRecord* best = nullptr;
            for (auto& v : versions) {
              if (v.status != "Published") continue;
              if (latest && v.version == *latest) {
                best = &v;
                break;
              }
              if (!best || npm::is_prerelease(best->version) > npm::is_prerelease(v.version) ||
                  (npm::is_prerelease(best->version) == npm::is_prerelease(v.version) &&
                   npm::compare_versions(v.version, best->version) > 0)) {
                best = &v;
              }
            }
            if (!best) continue;  // nothing listed here; a later repository may list it
            npm::SearchCandidate c;
            c.name = name;
            c.version = best->version;
            c.manifest = json::parse(best->manifest, nullptr, false);
            if (c.manifest.is_discarded()) c.manifest = json::object();
            c.date = best->upstream_time.empty() ? iso8601(best->published_unix_ms) : best->upstream_time;
            if (npm::search_matches(query, c)) seen[full] = std::move(c);
            else seen[full] = std::nullopt;
          }
          if (rows.size() < 1000) break;
          after = rows.back().first;
        }
      }
      std::vector<npm::SearchCandidate> out;
      for (auto& [full, c] : seen) {
        if (c) out.push_back(std::move(*c));
      }
      return out;
    });
    if (!found) {
      const Error e = found.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    json body = npm::search_response(std::move(*found), query, base_url(ex, domain, repo), iso8601(now_unix_ms()));
    co_await ok_json(ex, 200, body);
  }

  asio::awaitable<void> audit(Exchange& ex, const config::DomainConfig& domain,
                              const config::RepositoryConfig& repo, std::string path) {
    for (auto* r : ctx.topology.resolution_order(domain.name, repo.name)) {
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves("npm")) continue;
      auto base = co_await upstream_base_url(ctx.codeartifact, *ec, "npm");
      if (!base) {
        co_await error(ex, status_for(base.error()), "audit upstream failed: " + base.error().message);
        co_return;
      }
      UpstreamRequest req;
      req.method = "POST";
      req.url = *base + path;
      req.body = ex.request().body;
      for (auto name : {"content-type", "content-encoding", "accept"}) {
        if (auto v = ex.request().header(name); !v.empty()) req.headers.emplace_back(name, std::string(v));
      }
      ++ctx.metrics.upstream_requests;
      auto resp = co_await ctx.client.fetch(std::move(req), ctx.config.upstream.max_metadata_bytes);
      if (!resp) {
        ++ctx.metrics.upstream_errors;
        co_await error(ex, status_for(resp.error()), "audit upstream failed: " + resp.error().message);
        co_return;
      }
      Headers headers{{"Content-Type", std::string(resp->head.header("content-type"))}};
      if (headers[0].second.empty()) headers[0].second = "application/json";
      if (auto ce = resp->head.header("content-encoding"); !ce.empty()) {
        headers.emplace_back("Content-Encoding", std::string(ce));
      }
      co_await ex.respond(resp->head.status, std::move(headers), std::move(resp->body));
      co_return;
    }
    co_await error(ex, 503, "audit is not available: this repository has no npm external connection");
  }
};

bool NpmHandler::is_publish(const Request& request, std::string_view rest) const {
  return request.method == "PUT" && rest.find("/-/") == std::string_view::npos &&
         rest.rfind("-/", 0) != 0;
}

asio::awaitable<void> NpmHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                         const config::RepositoryConfig& repo, std::string rest) {
  auto& impl = *this;
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  std::vector<std::string> segments;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      co_await impl.error(ex, 400, "malformed percent-encoding in the path");
      co_return;
    }
    segments.push_back(std::move(*decoded));
  }
  if (!segments.empty() && segments.back().empty() && segments.size() > 1) segments.pop_back();

  if (segments.empty() || (segments.size() == 1 && segments[0].empty())) {
    json body = {{"db_name", "registry"}, {"repository", repo.name}};
    if (read) co_await impl.ok_json(ex, 200, body);
    else co_await impl.error(ex, 405, "method not allowed");
    co_return;
  }
  if (segments[0] == "-") {
    if (segments.size() == 2 && segments[1] == "ping") {
      co_await impl.ok_json(ex, 200, json::object());
      co_return;
    }
    if (segments.size() == 2 && segments[1] == "whoami") {
      json body = {{"username", "anonymous"}};
      co_await impl.ok_json(ex, 200, body);
      co_return;
    }
    if (method == "POST" && segments.size() >= 5 && segments[1] == "npm" && segments[2] == "v1" &&
        segments[3] == "security") {
      co_await impl.audit(ex, domain, repo, rest);
      co_return;
    }
    if (segments.size() >= 4 && segments[1] == "package") {
      // -/package/<name>/dist-tags[/<tag>] with <name> as "@scope%2fname" or "@scope/name".
      size_t i = 2;
      std::string full = segments[i++];
      if (full.size() && full[0] == '@' && full.find('/') == std::string::npos && i < segments.size()) {
        full += "/" + segments[i++];
      }
      auto name = npm::parse_package_name(full);
      if (!name) {
        co_await impl.error(ex, 400, name.error().message);
        co_return;
      }
      if (i < segments.size() && segments[i] == "dist-tags" && segments.size() - i <= 2) {
        std::optional<std::string> tag;
        if (i + 1 < segments.size()) tag = segments[i + 1];
        co_await impl.dist_tags(ex, domain, repo, *name, tag);
        co_return;
      }
    }
    if (segments.size() == 3 && segments[1] == "v1" && segments[2] == "search") {
      if (read) co_await impl.search(ex, domain, repo);
      else co_await impl.error(ex, 405, "method not allowed");
      co_return;
    }
    // Commands of the public registry arca does not serve: say so, instead of a 404 that npm
    // would print as a missing package.
    std::vector<std::string> after_dash(segments.begin() + 1, segments.end());
    if (auto command = npm::unsupported_command(after_dash, method)) {
      std::string message = *command + " is not supported by arca";
      if (*command == "npm login") message += ": get a token with aws codeartifact login --tool npm";
      co_await impl.error(ex, 501, message);
      co_return;
    }
    co_await impl.error(ex, 404, "not found");
    co_return;
  }

  size_t i = 0;
  std::string full = segments[i++];
  if (full.size() && full[0] == '@' && full.find('/') == std::string::npos && i < segments.size()) {
    full += "/" + segments[i++];
  }
  auto name = npm::parse_package_name(full);
  if (!name) {
    co_await impl.error(ex, 400, name.error().message);
    co_return;
  }
  const size_t left = segments.size() - i;
  if (left == 0) {
    if (read) co_await impl.packument(ex, domain, repo, *name);
    else if (method == "PUT" && !impl.is_metadata_update(ex.request())) co_await impl.publish(ex, domain, repo, *name);
    else if (method == "PUT") co_await impl.update_metadata(ex, domain, repo, *name);
    else if (method == "DELETE") {
      std::string no_rev;
      std::optional<std::string> no_file;
      co_await impl.unpublish(ex, domain, repo, *name, no_rev, no_file);
    } else {
      co_await impl.error(ex, 405, "method not allowed");
    }
    co_return;
  }
  if (left == 2 && segments[i] == "-" && read) {
    co_await impl.tarball(ex, domain, repo, *name, segments[i + 1]);
    co_return;
  }
  if (left == 1 && read) {
    co_await impl.version_manifest(ex, domain, repo, *name, segments[i]);
    co_return;
  }
  if (left == 2 && segments[i] == "-rev" && (method == "PUT" || method == "DELETE")) {
    std::optional<std::string> no_file;
    co_await impl.unpublish(ex, domain, repo, *name, segments[i + 1], no_file);
    co_return;
  }
  if (left == 4 && segments[i] == "-" && segments[i + 2] == "-rev" && method == "DELETE") {
    std::optional<std::string> file = segments[i + 1];
    co_await impl.unpublish(ex, domain, repo, *name, segments[i + 3], file);
    co_return;
  }
  co_await impl.error(ex, 404, "not found");
}

namespace npm {
FormatPtr make_format(Context& context) { return std::make_unique<NpmHandler>(context); }
}  // namespace npm

}  // namespace arca::formats
