// The Swift package registry API (SE-0292; swift-package-manager's
// Documentation/PackageRegistry/Registry.md, "the spec") over a repository: releases of the
// repository and of the upstream repositories it may take from (repo/resolver.hpp), release
// metadata, manifests read from the published source archive, source archives (served and
// retained through formats/asset_path.hpp), /identifiers, publishing and /login.
//
// URL layout under /<domain>/swift/<repo>/:
//   login                                   POST: checks the credentials (the router did)
//   availability                            GET: 200 (SwiftPM's optional availability check)
//   identifiers?url=<repository URL>        package identifiers published with that URL
//   <scope>/<name>[.json]                   list releases
//   <scope>/<name>/<version>[.json]         release metadata; PUT publishes the release
//   <scope>/<name>/<version>/Package.swift  the manifest (?swift-version=<v> for a variant)
//   <scope>/<name>/<version>.zip            the source archive
//
// Records: format "swift", namespace = the scope lower-case, name = the name lower-case,
// version as published (SemVer 2.0), one asset "<name>-<version>.zip" (lower-case name). The
// version's manifest keeps the spellings as published, the release metadata, the archive's
// manifests and its signature:
//   {"scope", "name", "metadata": {...}, "manifests": {"Package.swift": "...", ...},
//    "signature": {"format", "base64"}}
//
// Thread-safety: one SwiftHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/digest.hpp"
#include "common/json_depth.hpp"
#include "common/log.hpp"
#include "formats/asset_path.hpp"
#include "formats/pypi/pypi.hpp"  // parse_multipart (RFC 7578), shared with NuGet
#include "formats/swift/swift.hpp"
#include "formats/upstream_documents.hpp"
#include "formats/view_cache.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "net/http_util.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_format = "swift";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_manifest(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json::object();
  return j;
}

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string asset_name(std::string_view name_lower, std::string_view version) {
  return std::string(name_lower) + "-" + std::string(version) + ".zip";
}

// One release in a merged view: the first reachable repository holding the version decides.
struct Release {
  VersionRecord record;
  repo::Source source;
  // Listed by the external connection of source.repo and not stored anywhere reachable yet:
  // its metadata, manifests and archive come from the connection (archives are ingested).
  bool external = false;
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  std::string scope;  // as published (the lower-case form when nothing says)
  std::string name;
  std::map<std::string, Release> releases;  // by version
  // Published versions, highest precedence first (what list releases and Link headers name).
  std::vector<std::string> listed;
  std::string blocked;  // which origin controls kept upstream repositories out, when any did
  std::string missing_reason;  // an external connection's failure, when nothing else answered
};
using ViewPtr = std::shared_ptr<View>;

}  // namespace

struct SwiftHandler final : Format {
  std::string_view name() const override { return k_format; }
  asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override {
    return request.method == "PUT";
  }

  // Spec 3.2 and 3.3: a refused request (401 without usable credentials) is a problem
  // details object like every other error, with Content-Version; the Basic challenge is what
  // SwiftPM answers from ~/.netrc (user "token"), and Bearer tokens are accepted too.
  void refusal(const Refusal& refusal, Headers& headers, std::string& body) const override {
    headers.emplace_back("Content-Type", "application/problem+json");
    headers.emplace_back("Content-Version", "1");
    headers.emplace_back("Content-Language", "en");
    if (refusal.status == 401) headers.emplace_back("WWW-Authenticate", "Basic realm=\"arca\"");
    body = swift::problem(refusal.status, refusal.reason);
  }

  // --- What the control plane asks ---
  std::string stored_name(std::string_view name) const override { return swift::lower(name); }
  std::string stored_namespace(std::string_view ns) const override { return swift::lower(ns); }
  std::string display_name(const repo::PackageKey& key,
                           const repo::VersionRecord* version) const override {
    if (version) {
      json m = parse_manifest(version->manifest);
      std::string scope = str_field(m, "scope"), name = str_field(m, "name");
      if (!scope.empty() && !name.empty()) return scope + "." + name;
    }
    return key.ns + "." + key.name;
  }

  Context& ctx;
  // External connections' documents: release lists and release metadata (JSON), manifests.
  UpstreamDocuments documents;
  UpstreamDocuments manifest_documents;
  ViewCache<View> views;
  std::mutex publish_mutex;

  explicit SwiftHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c, "swift", "application/vnd.swift.registry.v1+json", &parse_json),
                  c.config.cache.memory_cache_bytes / 16),
        manifest_documents(c,
                           document_traits(c, "swift-manifest",
                                           "application/vnd.swift.registry.v1+swift", &parse_swift),
                           c.config.cache.memory_cache_bytes / 16),
        views(c.config.cache.memory_cache_bytes / 8) {}

  // --- External connections (formats/upstream_documents.hpp) ---

  using Parser = Result<std::shared_ptr<const void>> (*)(std::string&, const ResponseHead&,
                                                         const std::string&, const std::string&);
  static DocumentTraits document_traits(const Context& c, const char* prefix, const char* accept,
                                        Parser parser) {
    DocumentTraits t;
    t.meta_prefix = prefix;
    t.format = std::string(k_format);
    t.accept = accept;
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.memory_cost_factor = 3;
    t.too_large_message = "the upstream document is larger than upstream.max_metadata_bytes";
    t.parse_response = parser;
    t.parse_stored = &parse_stored;
    return t;
  }
  // Stored bodies are JSON objects: the upstream's own (release lists, release metadata) or,
  // for manifests, {"body": manifest, "alternates": [{"filename", "swift-tools-version"}]}.
  static Result<std::shared_ptr<const void>> parse_stored(const std::string& body) {
    if (!json_nesting_within(body))
      return make_error(Errc::upstream_error, "the upstream document is nested too deeply");
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(Errc::upstream_error, "the upstream document is not a JSON object");
    return std::shared_ptr<const void>(std::make_shared<const json>(std::move(j)));
  }
  static Result<std::shared_ptr<const void>> parse_json(std::string& body, const ResponseHead&,
                                                        const std::string&, const std::string&) {
    return parse_stored(body);
  }
  static Result<std::shared_ptr<const void>> parse_swift(std::string& body,
                                                         const ResponseHead& head,
                                                         const std::string&, const std::string&) {
    json alternates = json::array();
    for (auto& l : swift::parse_links(head.header("link"))) {
      if (l.rel != "alternate") continue;
      json a = json::object();
      for (auto& [k, v] : l.params) {
        if (k == "filename" || k == "swift-tools-version") a[k] = v;
      }
      if (a.contains("filename") && swift::manifest_swift_version(a["filename"].get<std::string>()))
        alternates.push_back(a);
    }
    json doc = {{"body", body}, {"alternates", alternates}};
    body = dump(doc);
    return std::shared_ptr<const void>(std::make_shared<const json>(std::move(doc)));
  }

  // A document of `ec` (`path` under its base URL); null when the upstream does not have it.
  asio::awaitable<Result<std::pair<std::shared_ptr<const json>, int64_t>>> upstream_json(
      UpstreamDocuments& docs, const config::ExternalConnectionConfig* ec, std::string path) {
    DocumentRequest request;
    request.url = path;
    request.what = "swift " + path;
    request.key = std::move(path);
    auto d = co_await docs.get(ec, std::move(request));
    if (!d) co_return d.error();
    std::shared_ptr<const json> doc;
    if (d->found) doc = std::static_pointer_cast<const json>(d->parsed);
    co_return std::make_pair(doc, d->fresh_until_ms);
  }

  // The release metadata (spec 4.2) of an external release; errors for a missing one.
  asio::awaitable<Result<std::shared_ptr<const json>>> external_release(const Release& release,
                                                                       std::string scope,
                                                                       std::string name) {
    auto d = co_await upstream_json(documents, release.source.connection,
                                    scope + "/" + name + "/" + release.record.version);
    if (!d) co_return d.error();
    if (!d->first)
      co_return make_error(Errc::not_found, "release not found upstream: " + scope + "." + name +
                                                " " + release.record.version);
    co_return d->first;
  }

  // --- Responses (spec 3.3, 3.5: problem details, Content-Version) ---

  asio::awaitable<void> problem(Exchange& ex, unsigned status, std::string detail) {
    Headers headers{{"Content-Type", "application/problem+json"},
                    {"Content-Version", "1"},
                    {"Content-Language", "en"}};
    std::string body = swift::problem(status, detail);
    co_await ex.respond(status, std::move(headers), std::move(body));
  }

  std::string base_url(const Exchange& ex, const config::DomainConfig& domain,
                       const config::RepositoryConfig& repo) const {
    return public_origin(ctx.config, ex.request()) + "/" + domain.name + "/swift/" + repo.name + "/";
  }

  // Checks the Accept header for `media`; answers the 400/415 itself and returns false.
  asio::awaitable<bool> accepted(Exchange& ex, swift::Media media) {
    const swift::Negotiation n = swift::negotiate(ex.request().header("accept"), media);
    if (n.status == 0) co_return true;
    co_await problem(ex, n.status, n.detail);
    co_return false;
  }

  // --- Merged views ---

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo, std::string scope,
                                        std::string name) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + scope + '\x1f' + name;
    const uint64_t generation = ctx.generations.package(domain.name, k_format, scope, name);
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, scope, name, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  // The releases of the repository and of the upstream repositories it may take from (origin
  // controls: INTERNAL_UPSTREAM for the repository asked), first holder of a version wins.
  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string scope, std::string name,
                                              std::string key, uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy policy =
        co_await load_policy(ctx, domain, repo, std::string(k_format), scope, name);
    auto reachable = repo::reachable(order, policy);
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    if (reachable.size() < order.size()) {
      view->blocked = "from upstream repositories into " + repo.name + ", blocked by " +
                      policy.blocker(pg::RestrictionType::internal_upstream, repo.name);
    }
    View* out = view.get();
    auto built = co_await offload(ctx.pool, [&]() -> Result<void> {
      for (auto* r : reachable) {
        PackageKey k{domain.name, r->name, std::string(k_format), scope, name};
        ARCA_TRY(auto versions, list_versions(ctx.store, k));
        for (auto& v : versions) {
          if (out->releases.count(v.version)) continue;
          if (out->scope.empty()) {
            json m = parse_manifest(v.manifest);
            out->scope = str_field(m, "scope");
            out->name = str_field(m, "name");
          }
          std::string version = v.version;
          out->releases.emplace(std::move(version), Release{std::move(v), repo::Source{r, nullptr}});
        }
      }
      return {};
    });
    if (!built) co_return built.error();
    // External connections (each repository's, in resolution order): releases not stored yet,
    // when EXTERNAL_UPSTREAM allows the repository owning the connection.
    std::optional<Error> upstream_failure;
    for (auto* r : reachable) {
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves(k_format)) continue;
      if (!policy.allows(pg::RestrictionType::external_upstream, r->name)) {
        view->blocked += std::string(view->blocked.empty() ? "" : "; ") + "from " + ec->name +
                         " into " + r->name + ", blocked by " +
                         policy.blocker(pg::RestrictionType::external_upstream, r->name);
        continue;
      }
      auto list = co_await upstream_json(documents, ec, scope + "/" + name);
      if (!list) {
        upstream_failure = list.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, list->second);
      if (!list->first) continue;
      auto releases = list->first->find("releases");
      if (releases == list->first->end() || !releases->is_object()) continue;
      for (auto& [version, entry] : releases->items()) {
        // 4.1: releases with a problem are unavailable.
        if (!swift::valid_version(version) || view->releases.count(version)) continue;
        if (entry.is_object() && entry.contains("problem")) continue;
        // The spelling as published, from the release's URL (".../Mona/LinkedList/1.0.0"),
        // while nothing stored names it.
        if (view->scope.empty() && entry.is_object()) {
          const std::string url = str_field(entry, "url");
          auto parts = split(url, '/');  // views into `url`
          if (parts.size() >= 3 && parts[parts.size() - 1] == version &&
              swift::lower(parts[parts.size() - 3]) == scope &&
              swift::lower(parts[parts.size() - 2]) == name) {
            view->scope = std::string(parts[parts.size() - 3]);
            view->name = std::string(parts[parts.size() - 2]);
          }
        }
        Release release;
        release.record.version = version;
        release.record.origin = "EXTERNAL";
        release.source = repo::Source{r, ec};
        release.external = true;
        view->releases.emplace(version, std::move(release));
      }
    }
    if (view->releases.empty() && upstream_failure) view->missing_reason = upstream_failure->message;
    if (view->scope.empty() || view->name.empty()) {
      view->scope = scope;
      view->name = name;
    }
    for (auto& [version, release] : view->releases) {
      if (release.record.status == "Published") view->listed.push_back(version);
    }
    std::sort(view->listed.begin(), view->listed.end(), [](const std::string& a, const std::string& b) {
      return swift::compare_versions(a, b) > 0;
    });
    // Stored releases carry their manifests (the archive's Package*.swift files).
    uint64_t cost = 4096;
    for (auto& [version, release] : view->releases) cost += 512 + release.record.manifest.size();
    views.put(key, view, cost);
    co_return view;
  }

  // A release that may be served: held, and neither Archived, Disposed nor Unfinished
  // (Unlisted releases are left out of the list but still served).
  static const Release* servable(const View& v, const std::string& version) {
    auto it = v.releases.find(version);
    if (it == v.releases.end()) return nullptr;
    const std::string& s = it->second.record.status;
    if (s != "Published" && s != "Unlisted") return nullptr;
    return &it->second;
  }

  std::string release_url(const std::string& base, const View& v, const std::string& version) {
    return base + v.scope + "/" + v.name + "/" + version;
  }

  // --- Endpoints ---

  // Spec 4.1.
  asio::awaitable<void> list_releases(Exchange& ex, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string scope,
                                      std::string name) {
    if (!co_await accepted(ex, swift::Media::json)) co_return;
    auto v = co_await view(domain, repo, scope, name);
    if (!v) {
      const Error e = v.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    const View& view = **v;
    if (view.listed.empty() && !view.missing_reason.empty()) {
      co_await problem(ex, 502, "the upstream registry failed for " + scope + "." + name + ": " +
                                    view.missing_reason);
      co_return;
    }
    if (view.listed.empty()) {
      std::string detail = "package not found: " + scope + "." + name;
      if (!view.blocked.empty()) detail += " (new versions are not taken " + view.blocked + ")";
      co_await problem(ex, 404, std::move(detail));
      co_return;
    }
    const std::string base = base_url(ex, domain, repo);
    json releases = json::object();
    for (auto& version : view.listed) releases[version] = {{"url", release_url(base, view, version)}};
    std::vector<swift::Link> links;
    links.push_back({release_url(base, view, view.listed.front()), "latest-version", {}});
    Headers headers{{"Content-Type", "application/json"},
                    {"Content-Version", "1"},
                    {"Link", swift::render_links(links)},
                    {"Cache-Control", "max-age=0, must-revalidate"}};
    // The spec's example lists the highest precedence first; JSON objects keep no order, so the
    // body is written in that order by hand.
    std::string body = "{\"releases\":{";
    bool first = true;
    for (auto& version : view.listed) {
      if (!first) body += ",";
      first = false;
      body += json(version).dump() + ":" + dump(releases[version]);
    }
    body += "}}";
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // Release metadata (spec 4.2) of a stored release.
  static json stored_release_json(const View& view, const Release& release, const std::string& name,
                                  const std::string& version) {
    const json manifest = parse_manifest(release.record.manifest);
    json resource = {{"name", "source-archive"}, {"type", "application/zip"}};
    const std::string asset = asset_name(name, version);
    for (auto& [n, a] : release.record.assets) {
      if (n == asset) resource["checksum"] = a.sha256_hex;
    }
    if (auto sig = manifest.find("signature"); sig != manifest.end() && sig->is_object()) {
      resource["signing"] = {{"signatureBase64Encoded", str_field(*sig, "base64")},
                             {"signatureFormat", str_field(*sig, "format")}};
    }
    json metadata = json::object();
    if (auto m = manifest.find("metadata"); m != manifest.end() && m->is_object()) metadata = *m;
    std::string id = view.scope + "." + view.name;
    if (std::string sc = str_field(manifest, "scope"), nm = str_field(manifest, "name");
        !sc.empty() && !nm.empty())
      id = sc + "." + nm;
    std::string published = release.record.upstream_time;
    if (published.empty()) published = iso8601(release.record.published_unix_ms);
    return {{"id", id},
            {"version", version},
            {"resources", json::array({resource})},
            {"metadata", metadata},
            {"publishedAt", published}};
  }

  // Spec 4.2.
  asio::awaitable<void> release_metadata(Exchange& ex, const config::DomainConfig& domain,
                                         const config::RepositoryConfig& repo, std::string scope,
                                         std::string name, std::string version) {
    if (!co_await accepted(ex, swift::Media::json)) co_return;
    auto v = co_await view(domain, repo, scope, name);
    if (!v) {
      const Error e = v.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    const View& view = **v;
    const Release* release = servable(view, version);
    if (!release) {
      co_await problem(ex, 404, "release not found: " + scope + "." + name + " " + version);
      co_return;
    }
    json body;
    if (release->external) {
      auto doc = co_await external_release(*release, scope, name);
      if (!doc) {
        const Error e = doc.error();
        co_await problem(ex, status_for(e), e.message);
        co_return;
      }
      body = **doc;
      body["version"] = version;
      if (!body.contains("id") || !body["id"].is_string()) body["id"] = view.scope + "." + view.name;
      if (!body.contains("resources") || !body["resources"].is_array())
        body["resources"] = json::array();
      if (!body.contains("metadata") || !body["metadata"].is_object())
        body["metadata"] = json::object();
    } else {
      body = stored_release_json(view, *release, name, version);
    }
    // Link: latest-version, successor-version and predecessor-version among published releases.
    const std::string base = base_url(ex, domain, repo);
    std::vector<swift::Link> links;
    if (!view.listed.empty())
      links.push_back({release_url(base, view, view.listed.front()), "latest-version", {}});
    const std::string* successor = nullptr;
    const std::string* predecessor = nullptr;
    for (auto& other : view.listed) {  // highest first
      const int c = swift::compare_versions(other, version);
      if (c > 0) successor = &other;
      if (c < 0 && !predecessor) predecessor = &other;
    }
    if (successor) links.push_back({release_url(base, view, *successor), "successor-version", {}});
    if (predecessor)
      links.push_back({release_url(base, view, *predecessor), "predecessor-version", {}});
    Headers headers{{"Content-Type", "application/json"}, {"Content-Version", "1"}};
    if (!links.empty()) headers.emplace_back("Link", swift::render_links(links));
    co_await ex.respond(200, std::move(headers), dump(body));
  }

  // Spec 4.3 and 4.3.1.
  asio::awaitable<void> manifest(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo, std::string scope,
                                 std::string name, std::string version) {
    if (!co_await accepted(ex, swift::Media::swift)) co_return;
    std::optional<std::string> swift_version;
    if (ex.request().query.find("swift-version") != std::string::npos) {
      swift_version = swift::query_value(ex.request().query, "swift-version");
      if (!swift_version || !swift::valid_swift_version(*swift_version)) {
        co_await problem(ex, 400, "invalid swift-version: expected <major>[.<minor>[.<patch>]]");
        co_return;
      }
    }
    auto v = co_await view(domain, repo, scope, name);
    if (!v) {
      const Error e = v.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    const View& view = **v;
    const Release* release = servable(view, version);
    if (!release) {
      co_await problem(ex, 404, "release not found: " + scope + "." + name + " " + version);
      co_return;
    }
    const std::string url = base_url(ex, domain, repo) + view.scope + "/" + view.name + "/" +
                            version + "/Package.swift";
    const std::string filename =
        swift_version ? "Package@swift-" + *swift_version + ".swift" : std::string("Package.swift");
    // The version-specific manifests (file name -> tools version) and the requested one.
    std::map<std::string, std::string> alternates;
    std::optional<std::string> content;
    if (release->external) {
      const std::string path = scope + "/" + name + "/" + version + "/Package.swift";
      auto d = co_await upstream_json(manifest_documents, release->source.connection, path);
      if (!d) {
        const Error e = d.error();
        co_await problem(ex, status_for(e), e.message);
        co_return;
      }
      if (!d->first) {
        co_await problem(ex, 404, "the upstream registry has no Package.swift for " + version);
        co_return;
      }
      if (auto a = d->first->find("alternates"); a != d->first->end() && a->is_array()) {
        for (auto& alt : *a) alternates[str_field(alt, "filename")] = str_field(alt, "swift-tools-version");
      }
      if (!swift_version) {
        content = str_field(*d->first, "body");
      } else if (alternates.count(filename)) {
        auto variant = co_await upstream_json(manifest_documents, release->source.connection,
                                              path + "?swift-version=" + *swift_version);
        if (!variant) {
          const Error e = variant.error();
          co_await problem(ex, status_for(e), e.message);
          co_return;
        }
        if (variant->first) content = str_field(*variant->first, "body");
      }
    } else {
      const json record = parse_manifest(release->record.manifest);
      if (auto m = record.find("manifests"); m != record.end() && m->is_object()) {
        for (auto& [file, text] : m->items()) {
          if (!text.is_string()) continue;
          if (swift::manifest_swift_version(file))
            alternates[file] = swift::tools_version(text.get_ref<const std::string&>());
          if (file == filename) content = text.get<std::string>();
        }
      }
    }
    if (swift_version && !content) {
      // 4.3.1: no such variant: 303 See Other to the unqualified manifest.
      Headers headers{{"Location", url}, {"Content-Version", "1"}};
      co_await ex.respond(303, std::move(headers), std::string());
      co_return;
    }
    if (!content) {
      co_await problem(ex, 404, "the release has no " + filename);
      co_return;
    }
    Headers headers{{"Content-Type", "text/x-swift"},
                    {"Content-Version", "1"},
                    {"Content-Disposition", "attachment; filename=\"" + filename + "\""},
                    {"Cache-Control", "public, immutable"}};
    // A Link for every version-specific manifest in the archive (MUST, 4.3).
    std::vector<swift::Link> links;
    for (auto& [file, tools] : alternates) {
      auto sv = swift::manifest_swift_version(file);
      if (!sv) continue;
      swift::Link l{url + "?swift-version=" + *sv, "alternate", {{"filename", file}}};
      if (!tools.empty()) l.params.emplace_back("swift-tools-version", tools);
      links.push_back(std::move(l));
    }
    if (!links.empty()) headers.emplace_back("Link", swift::render_links(links));
    std::string body = std::move(*content);
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // Spec 4.4.
  asio::awaitable<void> archive(Exchange& ex, const config::DomainConfig& domain,
                                const config::RepositoryConfig& repo, std::string scope,
                                std::string name, std::string version) {
    if (!co_await accepted(ex, swift::Media::zip)) co_return;
    auto v = co_await view(domain, repo, scope, name);
    if (!v) {
      const Error e = v.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    const ViewPtr view = *v;
    const Release* release = servable(*view, version);
    if (!release) {
      co_await problem(ex, 404, "release not found: " + scope + "." + name + " " + version);
      co_return;
    }
    const std::string asset = asset_name(name, version);
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy policy =
        co_await load_policy(ctx, domain, repo, std::string(k_format), scope, name);
    const PackageKey key{domain.name, repo.name, std::string(k_format), scope, name};
    auto stored = co_await locate_stored(ctx, order, policy, key, asset, version);
    if (!stored) {
      const Error e = stored.error();
      co_await problem(ex, 500, e.message);
      co_return;
    }
    if (!stored->found && release->external) {
      co_await ingest_archive(ex, domain, repo, view, release, key, asset);
      co_return;
    }
    if (!stored->found) {
      co_await problem(ex, 404, "source archive not found: " + scope + "." + name + " " + version);
      co_return;
    }
    Headers headers{{"Content-Type", "application/zip"},
                    {"Content-Version", "1"},
                    {"Cache-Control", "public, immutable"},
                    {"Content-Disposition",
                     "attachment; filename=\"" + view->name + "-" + version + ".zip\""}};
    if (auto sha = from_hex<32>(stored->found->asset.sha256_hex))
      headers.emplace_back("Digest", "sha-256=" + base64_encode(*sha));
    const json record = parse_manifest(release->record.manifest);
    if (auto sig = record.find("signature"); sig != record.end() && sig->is_object()) {
      headers.emplace_back("X-Swift-Package-Signature-Format", str_field(*sig, "format"));
      headers.emplace_back("X-Swift-Package-Signature", str_field(*sig, "base64"));
    }
    co_await serve_located(ctx, ex, repo, *stored->found, key, version, std::move(headers));
  }

  // An external release's archive: filled from the connection (verified against the checksum
  // of its release metadata, spec 4.4.1) and ingested (repo/ingest.hpp) with the release
  // metadata and the manifests read from the archive.
  asio::awaitable<void> ingest_archive(Exchange& ex, const config::DomainConfig& domain,
                                       const config::RepositoryConfig& repo, ViewPtr view,
                                       const Release* release, PackageKey key, std::string asset) {
    const std::string& version = release->record.version;
    auto doc = co_await external_release(*release, key.ns, key.name);
    if (!doc) {
      const Error e = doc.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    const json upstream = **doc;
    std::string checksum, signature, signature_format;
    if (auto rs = upstream.find("resources"); rs != upstream.end() && rs->is_array()) {
      for (auto& r : *rs) {
        if (!r.is_object() || str_field(r, "name") != "source-archive") continue;
        checksum = str_field(r, "checksum");
        if (auto sg = r.find("signing"); sg != r.end() && sg->is_object()) {
          signature = str_field(*sg, "signatureBase64Encoded");
          signature_format = str_field(*sg, "signatureFormat");
        }
      }
    }
    auto sha256 = from_hex<32>(swift::lower(checksum));
    if (!sha256) {
      co_await problem(ex, 502, "the upstream registry declares no SHA-256 checksum for " +
                                    key.ns + "." + key.name + " " + version);
      co_return;
    }
    const config::ExternalConnectionConfig* ec = release->source.connection;
    const config::RepositoryConfig* owner = release->source.repo;
    auto upstream_base = co_await upstream_base_url(ctx.codeartifact, *ec, std::string(k_format));
    if (!upstream_base) {
      const Error e = upstream_base.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    FillSpec spec;
    spec.sha256 = *sha256;
    spec.request.url = *upstream_base + key.ns + "/" + key.name + "/" + version + ".zip";
    spec.request.headers.emplace_back("Accept", "application/vnd.swift.registry.v1+zip");
    spec.key = domain.name + '\x1f' + owner->name + "\x1fswift\x1f" + key.ns + '\x1f' + key.name +
               '\x1f' + asset;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = version;
    arrival.asset = asset;
    arrival.upstream_time = str_field(upstream, "publishedAt");
    cache::Store* store = &ctx.store;
    const std::string fallback_scope = view->scope, fallback_name = view->name;
    arrival.shape = [store, upstream, signature, signature_format, fallback_scope,
                     fallback_name](VersionRecord& vr, const cache::BlobRecord& blob) {
      json m = parse_manifest(vr.manifest);
      std::string scope = fallback_scope, name = fallback_name;
      const std::string id = str_field(upstream, "id");
      if (auto dot = id.find('.'); dot != std::string::npos && swift::valid_scope(id.substr(0, dot)) &&
                                   swift::valid_name(id.substr(dot + 1))) {
        scope = id.substr(0, dot);
        name = id.substr(dot + 1);
      }
      m["scope"] = scope;
      m["name"] = name;
      if (auto md = upstream.find("metadata"); md != upstream.end() && md->is_object())
        m["metadata"] = *md;
      if (!signature.empty()) m["signature"] = {{"format", signature_format}, {"base64", signature}};
      if (!m.contains("manifests")) {
        // The archive's manifests, as for a publish; an archive without them is still kept
        // (its manifest requests are then 404s).
        if (auto bytes = store->read_all(blob)) {
          if (auto manifests = swift::read_manifests(*bytes)) m["manifests"] = *manifests;
        }
      }
      vr.manifest = dump(m);
    };
    Headers headers{{"Content-Type", "application/zip"},
                    {"Content-Version", "1"},
                    {"Cache-Control", "public, immutable"},
                    {"Content-Disposition",
                     "attachment; filename=\"" + view->name + "-" + version + ".zip\""},
                    {"Digest", "sha-256=" + base64_encode(*sha256)}};
    if (!signature.empty()) {
      headers.emplace_back("X-Swift-Package-Signature-Format", signature_format);
      headers.emplace_back("X-Swift-Package-Signature", signature);
    }
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner,
                                           repo, std::move(headers));
    if (!filled) {
      const Error e = filled.error();
      co_await problem(ex, status_for(e), e.message);
    }
  }

  // Spec 4.5: the identifiers whose release metadata names the URL in repositoryURLs, over
  // the repository and the upstream repositories it may take each package from.
  asio::awaitable<void> identifiers(Exchange& ex, const config::DomainConfig& domain,
                                    const config::RepositoryConfig& repo) {
    if (!co_await accepted(ex, swift::Media::json)) co_return;
    auto url = swift::query_value(ex.request().query, "url");
    if (!url || url->empty()) {
      co_await problem(ex, 400, "the url query parameter is required");
      co_return;
    }
    const std::string wanted = swift::normalize_repository_url(*url);
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const std::string requester = repo.name;
    auto found = co_await offload(ctx.pool, [&]() -> Result<std::vector<std::string>> {
      std::map<std::string, std::string> ids;  // lower-case identifier -> as published
      for (auto* r : order) {
        const std::string prefix = "pv\x1f" + domain.name + '\x1f' + r->name + '\x1f' +
                                   std::string(k_format) + '\x1f';
        std::string after;
        for (;;) {
          ARCA_TRY(auto rows, ctx.store.scan(cache::Space::index, prefix, 1000, after));
          for (auto& [k, value] : rows) {
            auto rec = decode_version(value);
            if (!rec || (rec->status != "Published" && rec->status != "Unlisted")) continue;
            json m = parse_manifest(rec->manifest);
            auto meta = m.find("metadata");
            if (meta == m.end() || !meta->is_object()) continue;
            auto urls = meta->find("repositoryURLs");
            if (urls == meta->end() || !urls->is_array()) continue;
            bool match = false;
            for (auto& u : *urls) {
              if (u.is_string() && swift::normalize_repository_url(u.get<std::string>()) == wanted)
                match = true;
            }
            if (!match) continue;
            const std::string scope = str_field(m, "scope"), name = str_field(m, "name");
            const std::string id = swift::lower(scope) + "." + swift::lower(name);
            if (ids.count(id)) continue;
            if (r->name != requester &&
                !ctx.policy(domain.name, k_format, swift::lower(scope), swift::lower(name))
                     .allows(pg::RestrictionType::internal_upstream, requester))
              continue;
            ids[id] = scope + "." + name;
          }
          if (rows.size() < 1000) break;
          after = rows.back().first;
        }
      }
      std::vector<std::string> out;
      for (auto& [lowered, id] : ids) out.push_back(id);
      return out;
    });
    if (!found) {
      const Error e = found.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    if (found->empty()) {
      co_await problem(ex, 404, "no package identifiers are registered for " + *url);
      co_return;
    }
    json body = {{"identifiers", *found}};
    Headers headers{{"Content-Type", "application/json"}, {"Content-Version", "1"}};
    co_await ex.respond(200, std::move(headers), dump(body));
  }

  // Spec 4.6 (synchronous publication, 4.6.3.1).
  asio::awaitable<void> publish(Exchange& ex, const config::DomainConfig& domain,
                                const config::RepositoryConfig& repo, std::string scope_as_sent,
                                std::string name_as_sent, std::string version) {
    if (!co_await accepted(ex, swift::Media::json)) co_return;
    const Request& req = ex.request();
    const std::string scope = swift::lower(scope_as_sent), name = swift::lower(name_as_sent);
    const std::string ct = swift::lower(req.header("content-type"));
    if (ct.rfind("multipart/form-data", 0) != 0) {
      co_await problem(ex, 415, "a release is published as multipart/form-data");
      co_return;
    }
    auto parts = pypi::parse_multipart(req.body, req.header("content-type"));
    if (!parts) {
      const Error e = parts.error();
      co_await problem(ex, 400, "malformed multipart body: " + e.message);
      co_return;
    }
    std::optional<std::string_view> archive_bytes, signature, metadata_text;
    for (auto& p : *parts) {
      if (p.name == "source-archive") archive_bytes = p.data;
      else if (p.name == "source-archive-signature") signature = p.data;
      else if (p.name == "metadata") metadata_text = p.data;
    }
    if (!archive_bytes) {
      co_await problem(ex, 422, "the source-archive part is required");
      co_return;
    }
    const std::string signature_format(req.header("x-swift-package-signature-format"));
    if (signature && signature_format.empty()) {
      co_await problem(ex, 400,
                       "a signed source archive needs the X-Swift-Package-Signature-Format header");
      co_return;
    }
    json metadata = json::object();
    if (metadata_text && !metadata_text->empty()) {
      auto parsed = swift::parse_metadata(*metadata_text);
      if (!parsed) {
        const Error e = parsed.error();
        co_await problem(ex, 422, e.message);
        co_return;
      }
      metadata = std::move(*parsed);
    }
    auto manifests = swift::read_manifests(*archive_bytes);
    if (!manifests) {
      const Error e = manifests.error();
      co_await problem(ex, 422, e.message);
      co_return;
    }
    const std::string what = scope_as_sent + "." + name_as_sent + " " + version;
    if (const OriginPolicy policy =
            co_await load_policy(ctx, domain, repo, std::string(k_format), scope, name);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      co_await problem(ex, 403,
                       "publishing " + scope_as_sent + "." + name_as_sent + " to repository " +
                           repo.name + " is not allowed by " +
                           policy.blocker(pg::RestrictionType::publish, repo.name));
      co_return;
    }
    // A release that exists (4.6: 409) here, or that the repository gets from an upstream
    // repository (the shared conflict: repo::publish_conflict).
    auto v = co_await view(domain, repo, scope, name);
    if (!v) {
      const Error e = v.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    if (auto it = (*v)->releases.find(version); it != (*v)->releases.end()) {
      auto conflict = repo::publish_conflict(it->second.source, repo.name, what, "published");
      std::string detail = conflict ? *conflict
                                    : "a release with version " + version + " already exists";
      co_await problem(ex, 409, std::move(detail));
      co_return;
    }
    json record_manifest = {{"scope", scope_as_sent},
                            {"name", name_as_sent},
                            {"metadata", metadata},
                            {"manifests", *manifests}};
    if (signature) {
      record_manifest["signature"] = {{"format", signature_format},
                                      {"base64", base64_encode(*signature)}};
    }
    const PackageKey k{domain.name, repo.name, std::string(k_format), scope, name};
    const std::string asset = asset_name(name, version);
    const std::string_view bytes = *archive_bytes;
    const std::string manifest_text = dump(record_manifest);
    auto commit = [this, &k, &asset, &bytes, &manifest_text, &version]() -> Result<bool> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto existing, find_version(ctx.store, k, version));
      if (existing) return false;
      const int64_t now = now_unix_ms();
      cache::Batch batch;
      ARCA_TRY(auto writer, ctx.store.begin_blob());
      ARCA_TRY_VOID(writer->append(bytes));
      ARCA_TRY(auto blob, writer->finish());
      batch.add_blob(*writer);
      AssetRecord a{version, to_hex(blob.digests.sha256), blob.size};
      VersionRecord vr;
      vr.version = version;
      vr.status = "Published";
      vr.origin = "INTERNAL";
      vr.entry.repository = k.repo;
      vr.published_unix_ms = now;
      vr.manifest = manifest_text;
      vr.assets.emplace_back(asset, a);
      batch.put(cache::Space::index, version_key(k, version), encode(vr));
      batch.put(cache::Space::index, asset_key(k, asset), encode(a));
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      if (!pkg)
        batch.put(cache::Space::index, package_key(k), encode(PackageRecord{json::object(), now}));
      ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
      ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
      return true;
    };
    auto written = co_await offload(ctx.pool, std::move(commit));
    if (!written) {
      const Error e = written.error();
      co_await problem(ex, status_for(e), e.message);
      co_return;
    }
    if (!*written) {
      co_await problem(ex, 409, "a release with version " + version + " already exists");
      co_return;
    }
    ctx.generations.package_changed(domain.name, k_format, scope, name);
    ++ctx.metrics.publishes;
    ARCA_LOG_INFO("published swift {} to {}/{}", what, domain.name, repo.name);
    Headers headers{{"Content-Version", "1"},
                    {"Location", base_url(ex, domain, repo) + scope_as_sent + "/" + name_as_sent +
                                     "/" + version}};
    co_await ex.respond(201, std::move(headers), std::string());
  }
};

asio::awaitable<void> SwiftHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                           const config::RepositoryConfig& repo, std::string rest) {
  auto& impl = *this;
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  std::vector<std::string> segments;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      co_await impl.problem(ex, 400, "malformed percent-encoding in the path");
      co_return;
    }
    segments.push_back(std::move(*decoded));
  }
  if (segments.size() == 1 && segments[0] == "login") {
    // The router has checked the credentials (spec: openapi /login).
    if (method != "POST") {
      co_await impl.problem(ex, 405, "log in with POST");
      co_return;
    }
    Headers headers{{"Content-Version", "1"}};
    co_await ex.respond(200, std::move(headers), std::string());
    co_return;
  }
  if (segments.size() == 1 && segments[0] == "availability") {
    // SwiftPM's availability check (a registry configured with supportsAvailability): 200.
    if (!read) {
      co_await impl.problem(ex, 405, "method not allowed");
      co_return;
    }
    Headers headers{{"Content-Version", "1"}};
    co_await ex.respond(200, std::move(headers), std::string());
    co_return;
  }
  if (segments.size() == 1 && segments[0] == "identifiers") {
    if (!read) {
      co_await impl.problem(ex, 405, "method not allowed");
      co_return;
    }
    co_await impl.identifiers(ex, domain, repo);
    co_return;
  }
  if (segments.size() < 2 || segments.size() > 4) {
    co_await impl.problem(ex, 404, "not found");
    co_return;
  }
  std::string scope = segments[0], name = segments[1];
  // 4.1: the list MAY be asked with a ".json" extension.
  if (segments.size() == 2 && name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
    name.resize(name.size() - 5);
  if (!swift::valid_scope(scope)) {
    co_await impl.problem(ex, 400, "invalid package scope: " + scope);
    co_return;
  }
  if (!swift::valid_name(name)) {
    co_await impl.problem(ex, 400, "invalid package name: " + name);
    co_return;
  }
  const std::string scope_lower = swift::lower(scope), name_lower = swift::lower(name);
  if (segments.size() == 2) {
    if (!read) {
      co_await impl.problem(ex, 405, "method not allowed");
      co_return;
    }
    co_await impl.list_releases(ex, domain, repo, scope_lower, name_lower);
    co_return;
  }
  std::string version = segments[2];
  bool zip = false;
  if (segments.size() == 3) {
    if (version.size() > 4 && version.compare(version.size() - 4, 4, ".zip") == 0) {
      zip = true;
      version.resize(version.size() - 4);
    } else if (version.size() > 5 && version.compare(version.size() - 5, 5, ".json") == 0 &&
               !swift::valid_version(version)) {
      version.resize(version.size() - 5);
    }
  }
  if (!swift::valid_version(version)) {
    co_await impl.problem(ex, 400, "invalid version: " + version + " (a SemVer 2.0 version is required)");
    co_return;
  }
  if (segments.size() == 4) {
    if (segments[3] != "Package.swift") {
      co_await impl.problem(ex, 404, "not found");
      co_return;
    }
    if (!read) {
      co_await impl.problem(ex, 405, "method not allowed");
      co_return;
    }
    co_await impl.manifest(ex, domain, repo, scope_lower, name_lower, version);
    co_return;
  }
  if (zip) {
    if (!read) {
      co_await impl.problem(ex, 405, "method not allowed");
      co_return;
    }
    co_await impl.archive(ex, domain, repo, scope_lower, name_lower, version);
    co_return;
  }
  if (method == "PUT") {
    co_await impl.publish(ex, domain, repo, scope, name, version);
    co_return;
  }
  if (!read) {
    co_await impl.problem(ex, 405, "method not allowed");
    co_return;
  }
  co_await impl.release_metadata(ex, domain, repo, scope_lower, name_lower, version);
}

namespace swift {
FormatPtr make_format(Context& context) { return std::make_unique<SwiftHandler>(context); }
}  // namespace swift

}  // namespace arca::formats
