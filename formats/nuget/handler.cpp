// The NuGet protocols over a repository: the V3 API (service index, flat container,
// registration hives, search, autocomplete, PackagePublish push, unlist and relist) and the V2
// OData/Atom feed under api/v2/ for NuGet 2.x clients. Versions come from the repository, its
// upstream repositories and the V3 feeds of their external connections (service index, then
// registration; nupkgs filled through AssetService, verified with the declared packageHash).
//
// Thread-safety: one NugetHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/compress.hpp"
#include "common/log.hpp"
#include "formats/nuget/nuget.hpp"
#include "formats/nuget/v2feed.hpp"
#include "formats/pypi/pypi.hpp"
#include "formats/asset_path.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "common/flights.hpp"
#include "net/http_util.hpp"
#include "net/lru.hpp"
#include "formats/upstream_documents.hpp"
#include "formats/view_cache.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace v2 = formats::nuget::v2;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

// An upstream registration index naming more pages than this is refused (nuget.org's largest
// packages have a few dozen pages of 64 versions).
constexpr size_t k_max_upstream_pages = 1000;
constexpr std::string_view k_unlisted_published = "1900-01-01T00:00:00+00:00";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string nupkg_file(std::string_view lid, std::string_view lver) {
  return std::string(lid) + "." + std::string(lver) + ".nupkg";
}

// An external connection's versions of one id.
struct UpstreamPackage {
  std::shared_ptr<const std::vector<nuget::UpstreamLeaf>> leaves;  // null: not found
  std::string package_base_address;  // the upstream's flat container (ends in '/'), may be empty
  int64_t fresh_until_ms = 0;
};

using Origin = repo::Source;

struct VersionInfo {
  nuget::Entry entry;
  Origin origin;
  std::string status = "Published";
  std::string package_hash;  // base64 SHA-512 when known
  std::string nupkg_url;     // upstream URL (for versions not stored yet)
  uint64_t size = 0;
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  std::vector<VersionInfo> versions;  // ascending; Archived/Disposed left out
  std::optional<Error> missing_failure;
  const VersionInfo* find(std::string_view lower_version) const {
    for (auto& v : versions) {
      if (v.entry.lower_version == lower_version) return &v;
    }
    return nullptr;
  }
};
using ViewPtr = std::shared_ptr<const View>;

enum class Hive { plain, gz, gz_semver2 };

}  // namespace

// The handler (one per process, from make_nuget_handler).
struct NugetHandler final : Format {
  std::string_view name() const override { return "nuget"; }
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo,
                                      std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override;

  // Pushes and unlists carry the arca token as the API key (X-NuGet-ApiKey; Basic "aws:<token>"
  // from a configured source credential is accepted too) and are answered as NuGet servers
  // answer a key: 401 without one, 403 with a bad one.
  Credential credential(const Request& request) const override {
    if (auto key = request.header("x-nuget-apikey"); !key.empty()) {
      Credential out{std::string(key)};
      while (!out.token.empty() && out.token.back() == ' ') out.token.pop_back();
      return out;
    }
    return authorization_credential(request);
  }
  bool key_authenticated(const Request&) const override { return true; }
  void refusal(const Refusal& refusal, Headers& headers, std::string& body) const override {
    if (!refusal.api_key) return Format::refusal(refusal, headers, body);
    headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    if (refusal.status == 401) {
      headers.emplace_back("WWW-Authenticate", "Basic realm=\"arca\"");
      body = "An API key is required to push or unlist: pass an arca authorization token "
             "(aws codeartifact get-authorization-token) as the API key\n";
    } else {
      body = "The specified API key is invalid: " + refusal.reason + "\n";
    }
  }

  // Ids are stored lower-case and versions normalized (the API accepts "1.0" for "1.0.0").
  std::string stored_name(std::string_view name) const override { return nuget::lower(name); }
  std::string stored_version(std::string_view version) const override {
    if (auto n = nuget::normalize_version(version)) return nuget::lower(*n);
    return std::string(version);
  }
  // The id as published (original case), kept in the version's manifest.
  std::string display_name(const PackageKey& key, const VersionRecord* version) const override {
    if (version) {
      auto m = json::parse(version->manifest, nullptr, false);
      if (m.is_object() && m.contains("id") && m["id"].is_string()) return m["id"].get<std::string>();
    }
    return key.name;
  }

  Context& ctx;
  std::mutex mutex;  // guards packages
  UpstreamDocuments documents;
  UpstreamDocuments nuspecs;  // upstream .nuspec files of versions not stored yet
  LruMap<UpstreamPackage> packages;
  ViewCache<const View> views;
  Flights<Result<UpstreamPackage>> package_flights;
  std::mutex publish_mutex;

  explicit NugetHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c), c.config.cache.memory_cache_bytes / 4),
        nuspecs(c, nuspec_traits(c), c.config.cache.memory_cache_bytes / 16),
        packages(c.config.cache.memory_cache_bytes / 4),
        views(c.config.cache.memory_cache_bytes / 4) {}

  // --- Responses ---

  // NuGet clients show the status and a plain-text body.
  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string message) {
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(status, std::move(headers), message + "\n");
  }
  asio::awaitable<void> v2_error(Exchange& ex, unsigned status, std::string code,
                                 std::string message) {
    Headers headers{{"Content-Type", "application/xml;charset=utf-8"}};
    co_await ex.respond(status, std::move(headers), v2::error_document(code, message));
  }
  // How a JSON document may be compressed: never (search, the plain registration hive), when the
  // client sends Accept-Encoding: gzip (flat container), or always (the registration-gz*
  // hives, which NuGet documents as gzip-compressed: clients decompress whatever they sent).
  enum class Gzip { never, when_asked, always };

  asio::awaitable<void> send_json(Exchange& ex, const json& body, Gzip gzip) {
    std::string text = dump(body);
    Headers headers{{"Content-Type", "application/json; charset=utf-8"},
                    {"Cache-Control", "no-cache"}};
    if (gzip == Gzip::when_asked) headers.emplace_back("Vary", "Accept-Encoding");
    if (gzip == Gzip::always ||
        (gzip == Gzip::when_asked && accepts_gzip(ex.request().header("accept-encoding")))) {
      headers.emplace_back("Content-Encoding", "gzip");
      text = gzip_compress(text);
    }
    co_await ex.respond(200, std::move(headers), std::move(text));
  }

  std::string repo_root(const Exchange& ex, const config::DomainConfig& domain,
                        const config::RepositoryConfig& repo) const {
    return public_origin(ctx.config, ex.request()) + "/" + domain.name + "/nuget/" + repo.name +
           "/";
  }
  nuget::RegistrationUrls urls(const Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, Hive hive) const {
    const std::string v3 = repo_root(ex, domain, repo) + "v3/";
    const char* name = hive == Hive::plain ? "registration/"
                       : hive == Hive::gz  ? "registration-gz/"
                                           : "registration-gz-semver2/";
    return {v3 + name, v3 + "flatcontainer/"};
  }

  // Package-group and package-level origin controls of a package.
  // (Blocking: for the blocking pool. On I/O threads: load_restrictions.)
  OriginPolicy restrictions_of(const config::DomainConfig& domain, const std::string& lid) const {
    return ctx.policy(domain.name, "nuget", "", lid);
  }
  asio::awaitable<OriginPolicy> load_restrictions(const config::DomainConfig& domain,
                                                  const config::RepositoryConfig& repo,
                                                  const std::string& lid) {
    co_return co_await load_policy(ctx, domain, repo, "nuget", "", lid);
  }

  // --- Upstream documents (formats/upstream_documents.hpp) ---

  static Result<std::shared_ptr<const void>> check_json(std::string& body, const ResponseHead&,
                                                        const std::string&, const std::string&) {
    if (!json::accept(body)) {
      return make_error(Errc::upstream_error, "the upstream document is not JSON");
    }
    return std::shared_ptr<const void>();
  }

  static DocumentTraits document_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = "nuget";
    t.accept = "application/json";
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.persist_absent = true;
    t.parse_response = &check_json;
    return t;
  }

  static DocumentTraits nuspec_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = "nuget-nuspec";
    t.accept = "application/xml";
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.persist_absent = true;
    return t;
  }

  asio::awaitable<Result<UpstreamDocument>> upstream_body(
      const config::ExternalConnectionConfig* ec, std::string url) {
    DocumentRequest request;
    request.what = log::redact_url(url);
    request.key = url;
    request.url = std::move(url);
    co_return co_await documents.get(ec, std::move(request));
  }

  // An external connection's versions of an id: its service index, then its registration
  // (pages followed), or its flat container index when it has no registration resource.
  asio::awaitable<Result<UpstreamPackage>> upstream_package(
      const config::ExternalConnectionConfig* ec, std::string lid) {
    const std::string key = ec->name + '\x1f' + lid;
    {
      std::lock_guard lock(mutex);
      if (auto* p = packages.find(key); p && p->fresh_until_ms > now_unix_ms()) co_return *p;
    }
    auto [flight, leader] = package_flights.join(key);
    if (!leader) co_return co_await package_flights.wait(flight);
    Result<UpstreamPackage> result = co_await fetch_package(ec, lid);
    if (result) {
      std::lock_guard lock(mutex);
      packages.put(key, *result, 4096 + (result->leaves ? result->leaves->size() * 2048 : 0));
    }
    package_flights.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<UpstreamPackage>> fetch_package(const config::ExternalConnectionConfig* ec,
                                                         std::string lid) {
    // A plain connection's url is the feed's service index; a CodeArtifact repository's NuGet
    // endpoint has it under v3/.
    std::string index_url = ec->url;
    if (ec->codeartifact) {
      auto base = co_await upstream_base_url(ctx.codeartifact, *ec, "nuget");
      if (!base) co_return base.error();
      index_url = *base + "v3/index.json";
    }
    auto index = co_await upstream_body(ec, index_url);
    if (!index) co_return index.error();
    if (!index->found) {
      co_return make_error(Errc::upstream_error, ec->name + ": the upstream has no service index");
    }
    auto resources = nuget::parse_service_index(index->body, index_url);
    if (!resources) co_return resources.error();
    UpstreamPackage out;
    out.package_base_address = resources->package_base_address;
    out.fresh_until_ms = index->fresh_until_ms;
    auto leaves = std::make_shared<std::vector<nuget::UpstreamLeaf>>();
    if (!resources->registrations_base_url.empty()) {
      const std::string url = resources->registrations_base_url + lid + "/index.json";
      auto reg = co_await upstream_body(ec, url);
      if (!reg) co_return reg.error();
      out.fresh_until_ms = std::min(out.fresh_until_ms, reg->fresh_until_ms);
      if (!reg->found) co_return out;  // no such package upstream
      auto parsed = nuget::parse_registration(reg->body);
      if (!parsed) co_return parsed.error();
      *leaves = std::move(parsed->leaves);
      if (parsed->page_urls.size() > k_max_upstream_pages) {
        co_return make_error(Errc::upstream_error,
                             ec->name + ": the registration of " + lid + " has too many pages");
      }
      for (auto& page_url : parsed->page_urls) {
        auto page = co_await upstream_body(ec, page_url);
        if (!page) co_return page.error();
        if (!page->found) continue;
        out.fresh_until_ms = std::min(out.fresh_until_ms, page->fresh_until_ms);
        auto p = nuget::parse_registration(page->body);
        if (!p) co_return p.error();
        for (auto& l : p->leaves) leaves->push_back(std::move(l));
      }
    } else {
      const std::string url = resources->package_base_address + lid + "/index.json";
      auto flat = co_await upstream_body(ec, url);
      if (!flat) co_return flat.error();
      out.fresh_until_ms = std::min(out.fresh_until_ms, flat->fresh_until_ms);
      if (!flat->found) co_return out;
      auto versions = nuget::parse_flat_index(flat->body);
      if (!versions) co_return versions.error();
      for (auto& v : *versions) {
        nuget::UpstreamLeaf l;
        auto parsed = nuget::parse_version(v);
        l.lower_version = v;
        l.manifest = {{"id", lid},
                      {"version", v},
                      {"originalVersion", v},
                      {"authors", ""},
                      {"description", ""},
                      {"tags", json::array()},
                      {"dependencyGroups", json::array()},
                      {"isSemVer2", parsed && nuget::is_semver2(*parsed)}};
        leaves->push_back(std::move(l));
      }
    }
    out.leaves = std::move(leaves);
    co_return out;
  }

  // --- Merged views ---

  static nuget::Entry entry_of(const VersionRecord& v, const std::string& lid) {
    nuget::Entry e;
    e.manifest = json::parse(v.manifest, nullptr, false);
    if (e.manifest.is_discarded() || !e.manifest.is_object()) {
      e.manifest = {{"id", lid}, {"version", v.version}, {"tags", json::array()}};
    }
    e.lower_version = v.version;
    e.listed = v.status == "Published";
    e.published = !e.listed                  ? std::string(k_unlisted_published)
                  : !v.upstream_time.empty() ? v.upstream_time
                                             : iso8601(v.published_unix_ms);
    return e;
  }

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo, std::string lid) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + lid;
    const uint64_t generation = ctx.generations.package(domain.name, "nuget", "", lid);
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, lid, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo, std::string lid,
                                              std::string key, uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    // Origin controls: an upstream repository's versions come in only when INTERNAL_UPSTREAM
    // allows the repository asked; an external connection's only when EXTERNAL_UPSTREAM allows
    // the repository that owns it.
    const OriginPolicy restrictions = co_await load_restrictions(domain, repo, lid);
    auto own = co_await offload(ctx.pool, [&]() -> Result<std::vector<std::vector<VersionRecord>>> {
      std::vector<std::vector<VersionRecord>> out;
      for (auto* r : order) {
        ARCA_TRY(auto versions,
                 list_versions(ctx.store, PackageKey{domain.name, r->name, "nuget", "", lid}));
        out.push_back(std::move(versions));
      }
      return out;
    });
    if (!own) co_return own.error();
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    std::map<std::string, VersionInfo> by_version;
    std::set<std::string> hidden;  // Archived / Disposed here: not taken from anywhere
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0 && !restrictions.allows(pg::RestrictionType::internal_upstream, repo.name))
        continue;
      for (auto& v : (*own)[i]) {
        if (by_version.count(v.version) || hidden.count(v.version)) continue;
        if (v.status == "Archived" || v.status == "Disposed" || v.status == "Unfinished") {
          hidden.insert(v.version);
          continue;
        }
        VersionInfo info;
        info.entry = entry_of(v, lid);
        info.origin = Origin{order[i], nullptr};
        info.status = v.status;
        info.package_hash = str(info.entry.manifest, "packageHash");
        for (auto& [name, asset] : v.assets) info.size = asset.size;
        by_version.emplace(v.version, std::move(info));
      }
    }
    for (auto* r : order) {
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves("nuget")) continue;
      if (!restrictions.allows(pg::RestrictionType::external_upstream, r->name)) continue;
      if (r->name != repo.name &&
          !restrictions.allows(pg::RestrictionType::internal_upstream, repo.name)) {
        continue;
      }
      auto pkg = co_await upstream_package(ec, lid);
      if (!pkg) {
        view->missing_failure = pkg.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, pkg->fresh_until_ms);
      if (!pkg->leaves) continue;
      for (auto& leaf : *pkg->leaves) {
        if (by_version.count(leaf.lower_version) || hidden.count(leaf.lower_version)) continue;
        VersionInfo info;
        info.entry.manifest = leaf.manifest;
        info.entry.lower_version = leaf.lower_version;
        info.entry.listed = leaf.listed;
        info.entry.published = leaf.listed ? leaf.published : std::string(k_unlisted_published);
        if (!leaf.package_hash.empty()) {
          info.entry.manifest["packageHash"] = leaf.package_hash;
          info.entry.manifest["packageHashAlgorithm"] = "SHA512";
        }
        info.origin = Origin{r, ec};
        info.package_hash = leaf.package_hash;
        const std::string id_part = lid;
        if (!pkg->package_base_address.empty()) {
          info.nupkg_url = pkg->package_base_address + id_part + "/" + leaf.lower_version + "/" +
                           nupkg_file(id_part, leaf.lower_version);
        } else {
          info.nupkg_url = leaf.package_content;
        }
        by_version.emplace(leaf.lower_version, std::move(info));
      }
    }
    std::vector<nuget::Entry> entries;
    for (auto& [v, info] : by_version) entries.push_back(info.entry);
    nuget::sort_entries(entries);
    for (auto& e : entries) view->versions.push_back(std::move(by_version[e.lower_version]));
    for (auto& info : view->versions) {
      if (info.entry.published.empty()) info.entry.published = iso8601(0);
    }
    ViewPtr out = view;
    views.put(key, out, 4096 + view->versions.size() * 2048);
    co_return out;
  }

  // Every id this repository holds or has cached (its own records and its upstream
  // repositories'), for search and the V2 collections.
  asio::awaitable<Result<std::vector<nuget::PackageVersions>>> stored_packages(
      const config::DomainConfig& domain, const config::RepositoryConfig& repo) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto rows = co_await offload(
        ctx.pool, [&]() -> Result<std::map<std::string, std::map<std::string, VersionRecord>>> {
          std::map<std::string, std::map<std::string, VersionRecord>>
              out;  // lid -> version -> record
          std::map<std::string, std::set<std::string>> hidden;
          for (size_t i = 0; i < order.size(); ++i) {
            const std::string prefix =
                "pv\x1f" + domain.name + '\x1f' + order[i]->name + "\x1fnuget\x1f\x1f";
            ARCA_TRY(auto scanned, ctx.store.scan(cache::Space::index, prefix, 10'000'000));
            for (auto& [k, value] : scanned) {
              std::string_view rest = std::string_view(k).substr(prefix.size());
              auto sep = rest.find('\x1f');
              if (sep == std::string_view::npos) continue;
              std::string lid(rest.substr(0, sep));
              if (i > 0 && !restrictions_of(domain, lid)
                                .allows(pg::RestrictionType::internal_upstream, repo.name)) {
                continue;
              }
              auto record = decode_version(value);
              if (!record) continue;
              auto& versions = out[lid];
              if (versions.count(record->version) || hidden[lid].count(record->version)) continue;
              if (record->status == "Archived" || record->status == "Disposed" ||
                  record->status == "Unfinished") {
                hidden[lid].insert(record->version);
                continue;
              }
              versions.emplace(record->version, std::move(*record));
            }
          }
          return out;
        });
    if (!rows) co_return rows.error();
    std::vector<nuget::PackageVersions> out;
    for (auto& [lid, versions] : *rows) {
      nuget::PackageVersions p{lid, {}};
      for (auto& [v, record] : versions) p.entries.push_back(entry_of(record, lid));
      nuget::sort_entries(p.entries);
      if (!p.entries.empty()) out.push_back(std::move(p));
    }
    co_return out;
  }

  // --- V3 resources ---

  asio::awaitable<void> flat_index(Exchange& ex, const config::DomainConfig& domain,
                                   const config::RepositoryConfig& repo, std::string lid) {
    auto v = co_await view(domain, repo, lid);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    if ((*v)->versions.empty()) {
      co_await not_found(ex, **v, "The package '" + lid + "' was not found");
      co_return;
    }
    std::vector<nuget::Entry> entries;
    for (auto& info : (*v)->versions) entries.push_back(info.entry);
    co_await send_json(ex, nuget::flat_index(entries), Gzip::when_asked);
  }

  asio::awaitable<void> not_found(Exchange& ex, const View& v, std::string message) {
    unsigned status = 404;
    if (v.missing_failure) {
      // An unreachable upstream is not "no such package": restore must not conclude that.
      message += " (upstream unavailable: " + v.missing_failure->message + ")";
      status = status_for(*v.missing_failure);
    }
    co_await error(ex, status, message);
  }

  asio::awaitable<void> registration(Exchange& ex, const config::DomainConfig& domain,
                                     const config::RepositoryConfig& repo, Hive hive,
                                     std::string lid, std::vector<std::string> tail) {
    auto v = co_await view(domain, repo, lid);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    std::vector<nuget::Entry> entries;
    for (auto& info : (*v)->versions) {
      // The SemVer 1.0.0 hives leave SemVer 2.0.0 packages out, as nuget.org does.
      if (hive != Hive::gz_semver2 && info.entry.manifest.value("isSemVer2", false)) continue;
      entries.push_back(info.entry);
    }
    if (entries.empty()) {
      co_await not_found(ex, **v, "The package '" + lid + "' was not found");
      co_return;
    }
    auto u = urls(ex, domain, repo, hive);
    const Gzip gzip = hive == Hive::plain ? Gzip::never : Gzip::always;
    if (tail.size() == 1 && tail[0] == "index.json") {
      co_await send_json(ex, nuget::registration_index(u, lid, entries), gzip);
      co_return;
    }
    if (tail.size() == 3 && tail[0] == "page" && tail[2].size() > 5 &&
        tail[2].substr(tail[2].size() - 5) == ".json") {
      const std::string lo = nuget::lower(tail[1]);
      const std::string hi = nuget::lower(tail[2].substr(0, tail[2].size() - 5));
      for (size_t p = 0; p * nuget::k_page_size < entries.size(); ++p) {
        const size_t last = std::min(entries.size(), (p + 1) * nuget::k_page_size) - 1;
        if (entries[p * nuget::k_page_size].lower_version == lo &&
            entries[last].lower_version == hi) {
          auto page = nuget::registration_page(u, lid, entries, p);
          co_await send_json(ex, *page, gzip);
          co_return;
        }
      }
      co_await error(ex, 404, "no such registration page");
      co_return;
    }
    if (tail.size() == 1 && tail[0].size() > 5 && tail[0].substr(tail[0].size() - 5) == ".json") {
      auto version = nuget::normalize_version(tail[0].substr(0, tail[0].size() - 5));
      if (!version) {
        co_await error(ex, 400, version.error().message);
        co_return;
      }
      const std::string lver = nuget::lower(*version);
      for (auto& e : entries) {
        if (e.lower_version == lver) {
          co_await send_json(ex, nuget::registration_leaf(u, lid, e), gzip);
          co_return;
        }
      }
      co_await error(ex, 404, "The package '" + lid + "' has no version " + *version);
      co_return;
    }
    co_await error(ex, 404, "not found");
  }

  asio::awaitable<void> search(Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, bool autocomplete) {
    auto q = nuget::parse_search_query(ex.request().query);
    if (!q) {
      co_await error(ex, 400, q.error().message);
      co_return;
    }
    // Autocomplete compares q with package ids only.
    q->ids_only = autocomplete;
    auto all = co_await stored_packages(domain, repo);
    if (!all) {
      co_await error(ex, status_for(all.error()), all.error().message);
      co_return;
    }
    uint64_t total = 0;
    auto page = nuget::search(*q, *all, &total);
    auto u = urls(ex, domain, repo, q->semver2 ? Hive::gz_semver2 : Hive::gz);
    json body = autocomplete ? nuget::autocomplete_results(*q, page, total)
                             : nuget::search_results(u, page, total);
    co_await send_json(ex, body, Gzip::never);
  }

  // --- Packages ---

  // Serves a nupkg: stored in the repository or an upstream repository, else filled from the
  // external connection the version comes from (verified with its packageHash when declared).
  asio::awaitable<void> nupkg(Exchange& ex, const config::DomainConfig& domain,
                              const config::RepositoryConfig& repo, std::string lid,
                              std::string lver, bool v2_errors) {
    const std::string file = nupkg_file(lid, lver);
    const Headers headers{{"Content-Type", "application/octet-stream"},
                          {"Cache-Control", "public, max-age=31536000, immutable"}};
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy restrictions = co_await load_restrictions(domain, repo, lid);
    const PackageKey key{domain.name, repo.name, "nuget", "", lid};
    // Stored in this repository or one it may take from: serve it (and retain it here).
    auto stored = co_await locate_stored(ctx, order, restrictions, key, file, lver);
    if (!stored || !stored->unavailable_status.empty()) {
      unsigned st = 500;
      std::string code = "InternalError";
      std::string message;
      if (!stored) {
        message = stored.error().message;
      } else {
        st = 404;
        code = "ResourceNotFound";
        message = "The package " + lid + " " + lver + " is " + stored->unavailable_status;
      }
      if (v2_errors)
        co_await v2_error(ex, st, code, message);
      else
        co_await error(ex, st, message);
      co_return;
    }
    if (stored->found) {
      co_await serve_located(ctx, ex, repo, *stored->found, key, lver, headers);
      co_return;
    }
    auto v = co_await view(domain, repo, lid);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    const VersionInfo* info = (*v)->find(lver);
    if (!info || !info->origin.connection || info->nupkg_url.empty()) {
      unsigned st = 404;
      std::string message = "The package " + lid + " " + lver + " was not found";
      if (!info && (*v)->missing_failure) {
        message += " (upstream unavailable: " + (*v)->missing_failure->message + ")";
        st = status_for(*(*v)->missing_failure);
      }
      if (v2_errors)
        co_await v2_error(ex, st, "ResourceNotFound", message);
      else
        co_await error(ex, st, message);
      co_return;
    }
    const auto* owner = info->origin.repo;
    const auto* ec = info->origin.connection;
    if (!restrictions.allows(pg::RestrictionType::external_upstream, owner->name)) {
      std::string message =
          lid + " " + lver + " may not be fetched from " + ec->name + ": blocked by " +
          restrictions.blocker(pg::RestrictionType::external_upstream, owner->name);
      co_await error(ex, 403, message);
      co_return;
    }
    FillSpec spec;
    spec.key = domain.name + '\x1f' + owner->name + "\x1fnuget\x1f" + lid + '\x1f' + file;
    spec.request.url = info->nupkg_url;
    if (!info->package_hash.empty()) {
      auto decoded = base64_decode(info->package_hash);
      if (!decoded || decoded->size() != 64) {
        co_await error(ex, 502,
                       "the upstream declares a malformed packageHash for " + lid + " " + lver);
        co_return;
      }
      Sha512 digest;
      std::copy(decoded->begin(), decoded->end(), digest.begin());
      spec.sha512 = digest;
    } else {
      spec.allow_unverified = true;
    }
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = lver;
    arrival.asset = file;
    arrival.upstream_time = info->entry.listed ? info->entry.published : std::string();
    json manifest = info->entry.manifest;
    arrival.shape = [manifest](VersionRecord& vr, const cache::BlobRecord& blob) {
      if (!vr.manifest.empty()) return;
      json m = manifest;
      // From the stored bytes (verified against the declared packageHash when there was one).
      m["packageHash"] = base64_encode(blob.digests.sha512);
      m["packageHashAlgorithm"] = "SHA512";
      m["packageSize"] = blob.size;
      vr.manifest = dump(m);
    };
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner, repo, headers);
    if (!filled) {
      const Error e = filled.error();
      const unsigned st = status_for(e);
      if (v2_errors)
        co_await v2_error(ex, st, "BadGateway", e.message);
      else
        co_await error(ex, st, e.message);
    }
  }

  asio::awaitable<void> nuspec(Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, std::string lid,
                               std::string lver) {
    const std::string file = nupkg_file(lid, lver);
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy restrictions = co_await load_restrictions(domain, repo, lid);
    // Stored: read the .nuspec from the stored nupkg.
    auto stored = co_await offload(ctx.pool, [&]() -> Result<std::optional<std::string>> {
      for (size_t i = 0; i < order.size(); ++i) {
        if (i > 0 && !restrictions.allows(pg::RestrictionType::internal_upstream, repo.name))
          continue;
        PackageKey k{domain.name, order[i]->name, "nuget", "", lid};
        ARCA_TRY(auto version, find_version(ctx.store, k, lver));
        if (version && (version->status == "Archived" || version->status == "Disposed")) {
          return make_error(Errc::not_found,
                            "The package " + lid + " " + lver + " is " + version->status);
        }
        ARCA_TRY(auto asset, find_asset(ctx.store, k, file));
        if (!asset) continue;
        auto sha = from_hex<32>(asset->sha256_hex);
        if (!sha) continue;
        ARCA_TRY(auto record, ctx.store.find_blob(*sha));
        if (!record) continue;
        ARCA_TRY(auto bytes, ctx.store.read_all(*record));
        ARCA_TRY(auto xml, nuget::nuspec_of(bytes));
        return std::optional<std::string>(std::move(xml));
      }
      return std::optional<std::string>();
    });
    if (!stored) {
      co_await error(ex, status_for(stored.error()), stored.error().message);
      co_return;
    }
    if (*stored) {
      Headers headers{{"Content-Type", "application/xml"}};
      co_await ex.respond(200, std::move(headers), std::move(**stored));
      co_return;
    }
    auto v = co_await view(domain, repo, lid);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    const VersionInfo* info = (*v)->find(lver);
    if (!info || !info->origin.connection || info->nupkg_url.empty()) {
      co_await not_found(ex, **v, "The package " + lid + " " + lver + " was not found");
      co_return;
    }
    if (!restrictions.allows(pg::RestrictionType::external_upstream, info->origin.repo->name)) {
      co_await error(ex, 403,
                     lid + " " + lver + " may not be fetched from " +
                         info->origin.connection->name + ": blocked by " +
                         restrictions.blocker(pg::RestrictionType::external_upstream,
                                              info->origin.repo->name));
      co_return;
    }
    // Not stored yet: the upstream's own .nuspec, beside its nupkg.
    std::string url = info->nupkg_url;
    if (url.size() > 6 && url.substr(url.size() - 6) == ".nupkg") {
      url = url.substr(0, url.rfind('/') + 1) + lid + ".nuspec";
    }
    // Cached like the other upstream documents (fresh for the connection's TTL, one fetch at a
    // time, the stored copy while the upstream fails).
    DocumentRequest doc_request;
    doc_request.what = ".nuspec of " + lid + " " + lver;
    doc_request.key = url;
    doc_request.url = url;
    auto doc = co_await nuspecs.get(info->origin.connection, std::move(doc_request));
    if (!doc || !doc->found) {
      std::string why = doc ? std::string("the upstream does not have it") : doc.error().message;
      co_await error(ex, 502,
                     "the upstream .nuspec of " + lid + " " + lver + " is unavailable: " + why);
      co_return;
    }
    Headers headers{{"Content-Type", "application/xml"}};
    co_await ex.respond(200, std::move(headers), std::move(doc->body));
  }

  // --- Push and unlist ---

  // The nupkg bytes of a push: the first part of a multipart/form-data body (NuGet sends one
  // part named "package"), or the raw body.
  static Result<std::string_view> push_body(const Request& req) {
    std::string_view ct = req.header("content-type");
    if (ct.find("multipart/") == std::string_view::npos) {
      if (req.body.empty()) return make_error(Errc::invalid_argument, "the push has no package");
      return std::string_view(req.body);
    }
    ARCA_TRY(auto parts, formats::pypi::parse_multipart(req.body, ct));
    // PackagePublish: the first item of the multipart body is the nupkg; later items, names
    // and file names are ignored.
    if (parts.empty()) return make_error(Errc::invalid_argument, "the multipart push has no parts");
    return parts.front().data;
  }

  asio::awaitable<void> push_error(Exchange& ex, bool v2_form, unsigned status,
                                   std::string message) {
    if (v2_form) {
      std::string code = status == 409 ? "Conflict" : status == 403 ? "Forbidden" : "BadRequest";
      co_await v2_error(ex, status, std::move(code), std::move(message));
    } else {
      co_await error(ex, status, std::move(message));
    }
  }

  asio::awaitable<void> push(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo, std::string url_id,
                             std::string url_version, bool v2_form) {
    auto bytes = push_body(ex.request());
    if (!bytes) {
      co_await push_error(ex, v2_form, 400, bytes.error().message);
      co_return;
    }
    auto info = nuget::read_nupkg(*bytes);
    if (!info) {
      co_await push_error(ex, v2_form, 400, info.error().message);
      co_return;
    }
    const auto& spec = info->nuspec;
    if (!nuget::valid_id(spec.id)) {
      co_await push_error(
          ex, v2_form, 400,
          "the .nuspec id '" + spec.id.substr(0, 120) + "' is not a valid NuGet package id");
      co_return;
    }
    auto version = nuget::parse_version(spec.version);
    if (!version) {
      co_await push_error(ex, v2_form, 400, "the .nuspec version: " + version.error().message);
      co_return;
    }
    const std::string lid = nuget::lower(spec.id);
    const std::string normalized = nuget::normalize(*version);
    const std::string lver = nuget::lower(normalized);
    if (!url_id.empty() && nuget::lower(url_id) != lid) {
      co_await push_error(
          ex, v2_form, 400,
          "the .nuspec id '" + spec.id + "' does not match '" + url_id + "' in the URL");
      co_return;
    }
    if (!url_version.empty()) {
      auto uv = nuget::normalize_version(url_version);
      if (!uv || nuget::lower(*uv) != lver) {
        co_await push_error(ex, v2_form, 400,
                            "the .nuspec version '" + spec.version + "' does not match '" +
                                url_version + "' in the URL");
        co_return;
      }
    }
    if (const OriginPolicy policy = co_await load_restrictions(domain, repo, lid);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      std::string message = "Pushing " + spec.id + " to repository " + repo.name +
                            " is not allowed by " +
                            policy.blocker(pg::RestrictionType::publish, repo.name);
      co_await push_error(ex, v2_form, 403, message);
      co_return;
    }
    // A version reachable through an upstream repository or an external feed cannot be pushed
    // here (CodeArtifact user guide, "Private packages and public repositories": 409). The view
    // leaves out what origin controls keep out, so with the package's upstream control at BLOCK
    // any version not stored here may be pushed. An unreachable upstream does not block pushes.
    if (auto v = co_await view(domain, repo, lid); v) {
      const VersionInfo* found = (*v)->find(lver);
      std::optional<std::string> conflict;
      if (found)
        conflict = repo::publish_conflict(found->origin, repo.name, spec.id + " " + normalized, "pushed");
      if (conflict) {
        co_await push_error(ex, v2_form, 409, std::move(*conflict));
        co_return;
      }
    }
    json manifest = nuget::manifest_of(spec, *version);
    PackageKey k{domain.name, repo.name, "nuget", "", lid};
    std::string_view content = *bytes;
    auto result =
        co_await offload(ctx.pool, [this, &k, &lver, &manifest, content]() -> Result<void> {
          std::lock_guard lock(publish_mutex);
          ARCA_TRY(auto existing, find_version(ctx.store, k, lver));
          if (existing) {
            return make_error(Errc::conflict, "The package " + str(manifest, "id") + " version " +
                                                  str(manifest, "version") +
                                                  " already exists and cannot be modified (" +
                                                  existing->status + ")");
          }
          ARCA_TRY(auto writer, ctx.store.begin_blob());
          ARCA_TRY_VOID(writer->append(content));
          ARCA_TRY(auto record, writer->finish());
          cache::Batch batch;
          batch.add_blob(*writer);
          const std::string file = nupkg_file(k.name, lver);
          const int64_t now = now_unix_ms();
          AssetRecord asset{lver, to_hex(record.digests.sha256), record.size};
          json m = manifest;
          m["packageHash"] = base64_encode(record.digests.sha512);
          m["packageHashAlgorithm"] = "SHA512";
          m["packageSize"] = record.size;
          VersionRecord vr;
          vr.version = lver;
          vr.origin = "INTERNAL";
          vr.published_unix_ms = now;
          vr.manifest = dump(m);
          vr.assets.emplace_back(file, asset);
          batch.put(cache::Space::index, version_key(k, lver), encode(vr));
          batch.put(cache::Space::index, asset_key(k, file), encode(asset));
          ARCA_TRY(auto pkg, find_package(ctx.store, k));
          if (!pkg)
            batch.put(cache::Space::index, package_key(k),
                      encode(PackageRecord{json::object(), now}));
          ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
          return ctx.store.commit(std::move(batch), /*durable=*/true);
        });
    if (!result) {
      co_await push_error(ex, v2_form, status_for(result.error()), result.error().message);
      co_return;
    }
    ctx.generations.package_changed(domain.name, "nuget", "", k.name);
    ++ctx.metrics.publishes;
    ARCA_LOG_INFO("pushed {} {} to {}/{}", spec.id, normalized, domain.name, repo.name);
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(201, std::move(headers), "Created " + spec.id + " " + normalized + "\n");
  }

  // DELETE unlists, as CodeArtifact does: the version stays downloadable by exact version
  // (204). POST relists an unlisted version (200; already listed succeeds too). Either is a 404
  // when this repository does not hold the version.
  asio::awaitable<void> set_listed(Exchange& ex, const config::DomainConfig& domain,
                                   const config::RepositoryConfig& repo, std::string id,
                                   std::string version_text, bool v2_form, bool listed) {
    auto version = nuget::normalize_version(version_text);
    if (!nuget::valid_id(id) || !version) {
      std::string message =
          !version ? version.error().message : "'" + id + "' is not a valid package id";
      if (v2_form)
        co_await v2_error(ex, 400, "BadRequest", message);
      else
        co_await error(ex, 400, message);
      co_return;
    }
    const std::string lid = nuget::lower(id);
    const std::string lver = nuget::lower(*version);
    PackageKey k{domain.name, repo.name, "nuget", "", lid};
    const std::string from = listed ? "Unlisted" : "Published";
    const std::string to = listed ? "Published" : "Unlisted";
    auto result = co_await offload(ctx.pool, [this, &k, &lver, &from, &to]() -> Result<void> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto existing, find_version(ctx.store, k, lver));
      if (!existing)
        return make_error(Errc::not_found,
                          "The package " + k.name + " " + lver + " is not in this repository");
      if (existing->status == to) return {};
      if (existing->status != from) {
        return make_error(Errc::conflict,
                          "The package " + k.name + " " + lver + " is " + existing->status);
      }
      existing->status = to;
      return ctx.store.put(cache::Space::index, version_key(k, lver), encode(*existing));
    });
    if (!result) {
      if (v2_form)
        co_await v2_error(ex, status_for(result.error()), "Error", result.error().message);
      else
        co_await error(ex, status_for(result.error()), result.error().message);
      co_return;
    }
    ctx.generations.package_changed(domain.name, "nuget", "", lid);
    ARCA_LOG_INFO("{} {} {} in {}/{}", listed ? "relisted" : "unlisted", lid, lver, domain.name,
                  repo.name);
    if (listed) {
      Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
      co_await ex.respond(200, std::move(headers), "Listed " + lid + " " + lver + "\n");
      co_return;
    }
    Headers none;
    co_await ex.respond(204, std::move(none), std::string());
  }

  // --- V2 feed ---

  static v2::Package to_v2(const nuget::Entry& e, uint64_t size) {
    const json& m = e.manifest;
    v2::Package p;
    p.id = str(m, "id");
    p.version = str(m, "version");
    p.original_version = str(m, "originalVersion");
    if (p.original_version == p.version) p.original_version.clear();
    p.title = str(m, "title");
    p.description = str(m, "description");
    p.summary = str(m, "summary");
    p.release_notes = str(m, "releaseNotes");
    p.authors = str(m, "authors");
    p.owners = str(m, "owners");
    if (auto t = m.find("tags"); t != m.end() && t->is_array()) {
      for (auto& tag : *t) {
        if (tag.is_string()) p.tags += (p.tags.empty() ? "" : " ") + tag.get<std::string>();
      }
    }
    p.project_url = str(m, "projectUrl");
    p.license_url = str(m, "licenseUrl");
    p.icon_url = str(m, "iconUrl");
    p.copyright = str(m, "copyright");
    p.language = str(m, "language");
    p.min_client_version = str(m, "minClientVersion");
    if (auto g = m.find("dependencyGroups"); g != m.end() && g->is_array()) {
      for (auto& group : *g) {
        const std::string tf = str(group, "targetFramework");
        bool any = false;
        if (auto d = group.find("dependencies"); d != group.end() && d->is_array()) {
          for (auto& dep : *d) {
            if (!p.dependencies.empty()) p.dependencies += "|";
            p.dependencies += str(dep, "id") + ":" + str(dep, "range") + ":" + tf;
            any = true;
          }
        }
        if (!any && !tf.empty()) {
          if (!p.dependencies.empty()) p.dependencies += "|";
          p.dependencies += "::" + tf;
        }
      }
    }
    p.require_license_acceptance = m.value("requireLicenseAcceptance", false);
    p.listed = e.listed;
    auto version =
        nuget::parse_version(p.original_version.empty() ? p.version : p.original_version);
    p.is_prerelease = version && nuget::is_prerelease(*version);
    p.is_semver2 = m.value("isSemVer2", false);
    p.package_size = m.contains("packageSize") && m["packageSize"].is_number_unsigned()
                         ? m["packageSize"].get<uint64_t>()
                         : size;
    p.package_hash = str(m, "packageHash");
    p.published = e.published;
    p.created = e.listed ? e.published : iso8601(0);
    p.last_updated = p.created;
    return p;
  }

  static std::vector<v2::Package> v2_of(const View& v) {
    std::vector<v2::Package> out;
    for (auto& info : v.versions) out.push_back(to_v2(info.entry, info.size));
    return out;
  }

  asio::awaitable<void> v2_xml(Exchange& ex, std::string body, bool feed) {
    Headers headers{{"Content-Type", feed ? "application/atom+xml;type=feed;charset=utf-8"
                                          : "application/atom+xml;type=entry;charset=utf-8"},
                    {"DataServiceVersion", "2.0;"}};
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // The query string with $skip set to `skip` (the feed's next link).
  static std::string next_query(std::string_view raw, uint64_t skip) {
    std::string out;
    for (auto part : split(raw, '&')) {
      if (part.empty() || part.rfind("$skip=", 0) == 0 || part.rfind("%24skip=", 0) == 0) continue;
      out += std::string(part) + "&";
    }
    return out + "$skip=" + std::to_string(skip);
  }

  asio::awaitable<void> v2_collection(Exchange& ex, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string title,
                                      bool count_only) {
    const std::string base = repo_root(ex, domain, repo) + "api/v2/";
    auto query = v2::parse_query(ex.request().query);
    if (!query) {
      co_await v2_error(ex, 400, "BadRequest", query.error().message);
      co_return;
    }
    if (count_only) query->count = true;
    // NuGet.Server's Search() leaves pre-releases out unless includePrerelease says otherwise.
    if (title == "Search" && !query->include_prerelease_given) query->include_prerelease = false;
    std::vector<v2::Package> all;
    if (query->id) {
      // FindPackagesById: the merged view, upstreams included.
      auto lid = nuget::lower(*query->id);
      if (!nuget::valid_id(lid)) {
        co_await v2_error(ex, 400, "BadRequest", "'" + *query->id + "' is not a valid package id");
        co_return;
      }
      auto v = co_await view(domain, repo, lid);
      if (!v) {
        co_await v2_error(ex, status_for(v.error()), "Error", v.error().message);
        co_return;
      }
      all = v2_of(**v);
    } else {
      auto stored = co_await stored_packages(domain, repo);
      if (!stored) {
        co_await v2_error(ex, status_for(stored.error()), "Error", stored.error().message);
        co_return;
      }
      for (auto& p : *stored) {
        for (auto& e : p.entries) all.push_back(to_v2(e, 0));
      }
    }
    uint64_t total = 0;
    auto selected = v2::apply(*query, all, &total);
    if (!selected) {
      co_await v2_error(ex, 400, "BadRequest", selected.error().message);
      co_return;
    }
    if (count_only) {
      Headers headers{{"Content-Type", "text/plain;charset=utf-8"}, {"DataServiceVersion", "2.0;"}};
      co_await ex.respond(200, std::move(headers), std::to_string(total));
      co_return;
    }
    std::string next;
    if (query->skip + selected->size() < total && !selected->empty()) {
      next = title + "()?" + next_query(ex.request().query, query->skip + selected->size());
    }
    std::optional<uint64_t> inline_count;
    if (query->count) inline_count = total;
    std::string self = title + "()";
    co_await v2_xml(ex, v2::render_feed(base, title, self, *selected, next, inline_count), true);
  }

  asio::awaitable<void> v2_entry(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo, std::string segment) {
    auto key = v2::parse_entry_key(segment);
    if (!key) {
      co_await v2_error(ex, 400, "BadRequest", key.error().message);
      co_return;
    }
    auto version = nuget::normalize_version(key->version);
    if (!nuget::valid_id(key->id) || !version) {
      std::string message =
          !version ? version.error().message : "'" + key->id + "' is not a valid package id";
      co_await v2_error(ex, 400, "BadRequest", message);
      co_return;
    }
    const std::string lid = nuget::lower(key->id);
    auto v = co_await view(domain, repo, lid);
    if (!v) {
      co_await v2_error(ex, status_for(v.error()), "Error", v.error().message);
      co_return;
    }
    const VersionInfo* info = (*v)->find(nuget::lower(*version));
    if (!info) {
      unsigned st = 404;
      std::string message = "Resource not found for the segment 'Packages'.";
      if ((*v)->missing_failure) {
        st = status_for(*(*v)->missing_failure);
        message = "upstream unavailable: " + (*v)->missing_failure->message;
      }
      co_await v2_error(ex, st, "ResourceNotFound", message);
      co_return;
    }
    const std::string base = repo_root(ex, domain, repo) + "api/v2/";
    co_await v2_xml(ex, v2::render_entry(base, to_v2(info->entry, info->size)), false);
  }

  asio::awaitable<void> v2_route(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo,
                                 std::vector<std::string> segs) {
    const std::string& method = ex.request().method;
    const bool read = method == "GET" || method == "HEAD";
    const std::string base = repo_root(ex, domain, repo) + "api/v2/";
    const std::string no_id, no_version;  // push URLs without id/version
    if (segs.empty() || (segs.size() == 1 && segs[0].empty())) {
      if (method == "PUT") {
        co_await push(ex, domain, repo, no_id, no_version, true);
        co_return;
      }
      Headers headers{{"Content-Type", "application/xml;charset=utf-8"},
                      {"DataServiceVersion", "1.0;"}};
      co_await ex.respond(200, std::move(headers), v2::service_document(base));
      co_return;
    }
    const std::string& first = segs[0];
    if (first == "$metadata" && read) {
      Headers headers{{"Content-Type", "application/xml;charset=utf-8"},
                      {"DataServiceVersion", "2.0;"}};
      co_await ex.respond(200, std::move(headers), v2::metadata_document());
      co_return;
    }
    if (first == "package") {
      if (method == "PUT" && (segs.size() == 1 || (segs.size() == 2 && segs[1].empty()))) {
        co_await push(ex, domain, repo, no_id, no_version, true);
      } else if (method == "PUT" && segs.size() == 3) {
        co_await push(ex, domain, repo, segs[1], segs[2], true);
      } else if ((method == "DELETE" || method == "POST") && segs.size() == 3) {
        co_await set_listed(ex, domain, repo, segs[1], segs[2], true, method == "POST");
      } else if (read && segs.size() == 3) {
        auto version = nuget::normalize_version(segs[2]);
        if (!nuget::valid_id(segs[1]) || !version) {
          std::string message =
              !version ? version.error().message : "'" + segs[1] + "' is not a valid package id";
          co_await v2_error(ex, 400, "BadRequest", message);
          co_return;
        }
        co_await nupkg(ex, domain, repo, nuget::lower(segs[1]), nuget::lower(*version), true);
      } else if (read && segs.size() <= 2) {
        // NuGet 2.x probes the push URL with a GET before pushing.
        Headers headers{{"Content-Type", "text/plain"}};
        co_await ex.respond(200, std::move(headers), "PUT a package here to push it\n");
      } else {
        co_await v2_error(ex, 405, "MethodNotAllowed", "method not allowed");
      }
      co_return;
    }
    if (!read) {
      co_await v2_error(ex, 405, "MethodNotAllowed", "method not allowed");
      co_return;
    }
    const bool count = segs.size() == 2 && segs[1] == "$count";
    if (segs.size() > 2 || (segs.size() == 2 && !count)) {
      co_await v2_error(ex, 404, "ResourceNotFound", "Resource not found");
      co_return;
    }
    for (const char* collection : {"Packages", "Search", "FindPackagesById"}) {
      if (first == collection || first == std::string(collection) + "()") {
        co_await v2_collection(ex, domain, repo, collection, count);
        co_return;
      }
    }
    if (first.rfind("Packages(", 0) == 0 && first.back() == ')' && !count) {
      co_await v2_entry(ex, domain, repo, first.substr(8));
      co_return;
    }
    co_await v2_error(ex, 404, "ResourceNotFound",
                      "Resource not found for the segment '" + first.substr(0, 100) + "'.");
  }
};

bool NugetHandler::is_publish(const Request& request, std::string_view rest) const {
  return request.method == "PUT" &&
         (rest.rfind("v3/package", 0) == 0 || rest.rfind("api/v2/package", 0) == 0 ||
          rest == "api/v2" || rest == "api/v2/");
}

asio::awaitable<void> NugetHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                           const config::RepositoryConfig& repo, std::string rest) {
  auto& impl = *this;
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  std::vector<std::string> segs;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      co_await impl.error(ex, 400, "malformed percent-encoding in the path");
      co_return;
    }
    segs.push_back(std::move(*decoded));
  }
  if (segs.size() >= 2 && segs[0] == "api" && segs[1] == "v2") {
    segs.erase(segs.begin(), segs.begin() + 2);
    co_await impl.v2_route(ex, domain, repo, std::move(segs));
    co_return;
  }
  if (segs.empty() || segs[0] != "v3") {
    co_await impl.error(ex, 404,
                        "not found: NuGet clients use " + impl.repo_root(ex, domain, repo) +
                            "v3/index.json (V3) or " + impl.repo_root(ex, domain, repo) +
                            "api/v2/ (V2)");
    co_return;
  }
  segs.erase(segs.begin());
  const std::string no_id, no_version;  // push URLs without id/version
  if (segs.size() == 1 && segs[0] == "index.json") {
    if (!read) {
      co_await impl.error(ex, 405, "method not allowed");
      co_return;
    }
    co_await impl.send_json(ex, nuget::service_index(impl.repo_root(ex, domain, repo) + "v3/"),
                            NugetHandler::Gzip::never);
    co_return;
  }
  if (!segs.empty() && segs[0] == "package") {
    if (method == "PUT" && (segs.size() == 1 || (segs.size() == 2 && segs[1].empty()))) {
      co_await impl.push(ex, domain, repo, no_id, no_version, false);
    } else if (method == "PUT" && segs.size() == 3) {
      co_await impl.push(ex, domain, repo, segs[1], segs[2], false);
    } else if ((method == "DELETE" || method == "POST") && segs.size() == 3) {
      co_await impl.set_listed(ex, domain, repo, segs[1], segs[2], false, method == "POST");
    } else {
      co_await impl.error(ex, 405,
                          "PackagePublish takes PUT (push), DELETE {id}/{version} (unlist) and "
                          "POST {id}/{version} (relist)");
    }
    co_return;
  }
  if (!read) {
    co_await impl.error(ex, 405, "method not allowed");
    co_return;
  }
  if (segs.size() == 1 && (segs[0] == "query" || segs[0] == "autocomplete")) {
    co_await impl.search(ex, domain, repo, segs[0] == "autocomplete");
    co_return;
  }
  if (segs.size() < 3) {
    co_await impl.error(ex, 404, "not found");
    co_return;
  }
  const std::string& resource = segs[0];
  const std::string& id = segs[1];
  if (!nuget::valid_id(id)) {
    co_await impl.error(ex, 400, "'" + id.substr(0, 120) + "' is not a valid NuGet package id");
    co_return;
  }
  const std::string lid = nuget::lower(id);
  if (resource == "flatcontainer") {
    if (segs.size() == 3 && segs[2] == "index.json") {
      co_await impl.flat_index(ex, domain, repo, lid);
      co_return;
    }
    if (segs.size() == 4) {
      auto version = nuget::normalize_version(segs[2]);
      if (!version) {
        co_await impl.error(ex, 400, version.error().message);
        co_return;
      }
      const std::string lver = nuget::lower(*version);
      const std::string file = nuget::lower(segs[3]);
      if (file == nupkg_file(lid, lver)) {
        co_await impl.nupkg(ex, domain, repo, lid, lver, false);
      } else if (file == lid + ".nuspec") {
        co_await impl.nuspec(ex, domain, repo, lid, lver);
      } else {
        co_await impl.error(
            ex, 404, "not found: expected " + nupkg_file(lid, lver) + " or " + lid + ".nuspec");
      }
      co_return;
    }
  } else if (resource == "registration" || resource == "registration-gz" ||
             resource == "registration-gz-semver2") {
    Hive hive = resource == "registration"      ? Hive::plain
                : resource == "registration-gz" ? Hive::gz
                                                : Hive::gz_semver2;
    std::vector<std::string> tail(segs.begin() + 2, segs.end());
    co_await impl.registration(ex, domain, repo, hive, lid, std::move(tail));
    co_return;
  }
  co_await impl.error(ex, 404, "not found");
}

namespace nuget {
FormatPtr make_format(Context& context) { return std::make_unique<NugetHandler>(context); }
}  // namespace nuget

}  // namespace arca::formats
