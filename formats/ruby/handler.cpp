// The RubyGems protocols over a repository: the compact index bundler and gem 3.3 read, merged
// across the repository, its upstreams and external connections (RubyGems-compatible servers
// with a compact index); gem downloads verified by the index's SHA-256; the Marshal gemspecs
// and legacy spec lists gem asks for; the dependency API; gem push and gem yank.
//
// URL layout under /<domain>/ruby/<repo>/:
//   "" (GET/HEAD)                          the source root (gem checks it before using the index)
//   versions, names, info/<gem>            the compact index
//   gems/<name>-<version>[-<platform>].gem a gem
//   quick/Marshal.4.8/<full name>.gemspec.rz  the spec gem resolves with (zlib, Ruby Marshal)
//   specs.4.8.gz, latest_specs.4.8.gz, prerelease_specs.4.8.gz  the legacy lists (stored gems)
//   api/v1/dependencies?gems=a,b           the dependency API (Marshal)
//   api/v1/gems (POST)                     gem push (the .gem as the body)
//   api/v1/gems/yank (DELETE)              gem yank: the version becomes Unlisted
//
// Records: format "ruby", no namespace, name = the gem's name, version = the version number;
// its assets are the .gem files, one per platform. The manifest keeps per platform the index
// line's fields ({"platforms": {"ruby": {"dependencies": [[name, [req...]]], "ruby": [...],
// "rubygems": [...], "checksum": hex}}}) and, for pushed gems, summary, authors and the rest.
//
// Thread-safety: one RubyHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/compress.hpp"
#include "common/digest.hpp"
#include "common/log.hpp"
#include "common/url.hpp"
#include "formats/asset_path.hpp"
#include "formats/ruby/ruby.hpp"
#include "formats/upstream_documents.hpp"
#include "formats/view_cache.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "net/http_util.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_format = "ruby";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_manifest(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json::object();
  return j;
}

std::vector<std::string> strings_of(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (auto& s : j)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

json entry_json(const ruby::Entry& e) {
  json deps = json::array();
  for (auto& d : e.dependencies) deps.push_back(json::array({d.name, d.requirements}));
  return {{"dependencies", deps},
          {"ruby", e.required_ruby},
          {"rubygems", e.required_rubygems},
          {"checksum", e.checksum}};
}

ruby::Entry entry_of(const std::string& version, const std::string& platform, const json& j) {
  ruby::Entry e;
  e.version = version;
  e.platform = platform;
  if (auto it = j.find("dependencies"); it != j.end() && it->is_array()) {
    for (auto& d : *it) {
      if (!d.is_array() || d.size() != 2 || !d[0].is_string()) continue;
      ruby::Dependency dep;
      dep.name = d[0].get<std::string>();
      dep.requirements = strings_of(d[1]);
      e.dependencies.push_back(std::move(dep));
    }
  }
  if (auto it = j.find("ruby"); it != j.end()) e.required_ruby = strings_of(*it);
  if (auto it = j.find("rubygems"); it != j.end()) e.required_rubygems = strings_of(*it);
  if (auto it = j.find("checksum"); it != j.end() && it->is_string()) e.checksum = it->get<std::string>();
  return e;
}

// The index entries a version record lists (one per platform with a stored .gem).
std::vector<ruby::Entry> entries_of(const std::string& name, const repo::VersionRecord& v) {
  std::vector<ruby::Entry> out;
  json manifest = parse_manifest(v.manifest);
  json platforms = manifest.contains("platforms") && manifest["platforms"].is_object()
                       ? manifest["platforms"]
                       : json::object();
  for (auto& [asset_name, asset] : v.assets) {
    for (auto it = platforms.begin(); it != platforms.end(); ++it) {
      if (ruby::full_name(name, v.version, it.key()) + ".gem" != asset_name) continue;
      ruby::Entry e = entry_of(v.version, it.key(), it.value());
      e.checksum = asset.sha256_hex;
      out.push_back(std::move(e));
    }
  }
  return out;
}

using Origin = repo::Source;

struct ViewEntry {
  ruby::Entry entry;
  Origin origin;
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  bool found = false;
  std::vector<ViewEntry> entries;            // ordered by version, then platform
  std::map<std::string, size_t> by_full_name;  // "<name>-<version>[-<platform>]" -> entry
  std::string missing_reason;
  std::string blocked;  // which origin controls kept upstream versions out, when any did
  std::string info;     // the rendered /info body
  std::string info_md5;
};
using ViewPtr = std::shared_ptr<View>;

bool entry_less(const ruby::Entry& a, const ruby::Entry& b) {
  int c = ruby::compare_versions(a.version, b.version);
  if (c != 0) return c < 0;
  if (a.version != b.version) return a.version < b.version;
  return a.platform < b.platform;
}

}  // namespace

struct RubyHandler final : Format {
  std::string_view name() const override { return k_format; }
  asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override {
    return request.method == "POST" && (rest == "api/v1/gems" || rest == "api/v1/gems/");
  }

  nlohmann::json dependencies(const repo::VersionRecord& version) const override {
    json out = json::array();
    json manifest = parse_manifest(version.manifest);
    std::set<std::string> seen;
    if (auto it = manifest.find("development_dependencies"); it != manifest.end() && it->is_array()) {
      for (auto& d : *it) {
        if (!d.is_array() || d.size() != 2 || !d[0].is_string()) continue;
        std::string req;
        for (auto& r : strings_of(d[1])) req += (req.empty() ? "" : ", ") + r;
        out.push_back({{"package", d[0]}, {"dependencyType", "development"},
                       {"versionRequirement", req.empty() ? ">= 0" : req}});
      }
    }
    if (auto p = manifest.find("platforms"); p != manifest.end() && p->is_object()) {
      for (auto it = p->begin(); it != p->end(); ++it) {
        ruby::Entry e = entry_of(version.version, it.key(), it.value());
        for (auto& d : e.dependencies) {
          std::string req;
          for (auto& r : d.requirements) req += (req.empty() ? "" : ", ") + r;
          if (req.empty()) req = ">= 0";
          if (!seen.insert(d.name + '\x1f' + req).second) continue;
          out.push_back({{"package", d.name}, {"dependencyType", "runtime"}, {"versionRequirement", req}});
        }
      }
    }
    return out;
  }

  Context& ctx;
  UpstreamDocuments documents;
  ViewCache<View> views;
  std::mutex publish_mutex;

  explicit RubyHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c), c.config.cache.memory_cache_bytes / 8),
        views(c.config.cache.memory_cache_bytes / 8) {}

  // --- Responses: plain text, as rubygems.org answers and gem prints ---

  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string message) {
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    if (message.empty() || message.back() != '\n') message += "\n";
    co_await ex.respond(status, std::move(headers), std::move(message));
  }

  // --- Upstream /info documents ---

  static Result<std::shared_ptr<const void>> parse_stored(const std::string& body) {
    ARCA_TRY(auto entries, ruby::parse_info(body));
    return std::shared_ptr<const void>(
        std::make_shared<const std::vector<ruby::Entry>>(std::move(entries)));
  }
  static Result<std::shared_ptr<const void>> parse_response(std::string& body, const ResponseHead&,
                                                            const std::string&, const std::string&) {
    return parse_stored(body);
  }

  static DocumentTraits document_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = std::string(k_format);
    t.format = std::string(k_format);
    t.accept = "text/plain";
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.memory_cost_factor = 3;
    t.too_large_message = "the upstream info file is larger than upstream.max_metadata_bytes";
    t.parse_response = &parse_response;
    t.parse_stored = &parse_stored;
    return t;
  }

  // --- Merged views ---

  // The published (and, with `stored_ingested`, the ingested) entries of a repository.
  // Versions held with another status (Unlisted, Archived, Disposed) go into `hidden`: the
  // first repository holding a version decides its status, so upstream indexes do not bring
  // them back.
  Result<std::vector<ViewEntry>> own_entries(const config::DomainConfig& domain,
                                             const config::RepositoryConfig& repo,
                                             const std::string& gem, bool stored_ingested,
                                             std::set<std::string>& hidden) {
    PackageKey k{domain.name, repo.name, std::string(k_format), "", gem};
    ARCA_TRY(auto versions, list_versions(ctx.store, k));
    std::vector<ViewEntry> out;
    for (auto& v : versions) {
      if (v.status != "Published") {
        hidden.insert(v.version);
        continue;
      }
      if (v.origin != "INTERNAL" && !stored_ingested) continue;
      for (auto& e : entries_of(gem, v)) out.push_back(ViewEntry{std::move(e), Origin{&repo, nullptr}});
    }
    return out;
  }

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo, std::string gem) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + gem;
    const uint64_t generation = ctx.generations.package(domain.name, k_format, "", gem);
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, gem, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string gem, std::string key, uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    // Origin controls: an upstream repository's versions come in only when INTERNAL_UPSTREAM
    // allows the repository asked; an external connection's only when EXTERNAL_UPSTREAM allows
    // the repository owning it. What is already stored stays listed.
    const OriginPolicy policy = co_await load_policy(ctx, domain, repo, std::string(k_format), "", gem);
    std::vector<char> reachable(order.size()), connection_open(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      const auto* r = order[i];
      reachable[i] = r->name == repo.name || policy.allows(pg::RestrictionType::internal_upstream, repo.name);
      connection_open[i] = reachable[i] && policy.allows(pg::RestrictionType::external_upstream, r->name);
      auto* ec = ctx.topology.external_connection(*r);
      const bool has_connection = ec && ec->serves(k_format);
      std::string why;
      if (!reachable[i])
        why = "from " + r->name + " into " + repo.name + ", blocked by " +
              policy.blocker(pg::RestrictionType::internal_upstream, repo.name);
      else if (has_connection && !connection_open[i])
        why = "from " + ec->name + " into " + r->name + ", blocked by " +
              policy.blocker(pg::RestrictionType::external_upstream, r->name);
      if (!why.empty() && view->blocked.find(why) == std::string::npos)
        view->blocked += (view->blocked.empty() ? "" : "; ") + why;
    }
    std::set<std::string> hidden;
    auto own = co_await offload(ctx.pool, [&]() -> Result<std::vector<ViewEntry>> {
      std::vector<ViewEntry> all;
      std::set<std::string> published;
      for (size_t i = 0; i < order.size(); ++i) {
        if (!reachable[i]) continue;
        auto* ec = ctx.topology.external_connection(*order[i]);
        const bool index_lists = ec && ec->serves(k_format) && connection_open[i];
        std::set<std::string> held;
        ARCA_TRY(auto entries, own_entries(domain, *order[i], gem, !index_lists, held));
        for (auto& v : held)
          if (!published.count(v)) hidden.insert(v);
        for (auto& e : entries) {
          if (hidden.count(e.entry.version)) continue;
          published.insert(e.entry.version);
          all.push_back(std::move(e));
        }
      }
      return all;
    });
    if (!own) co_return own.error();
    auto add = [&](ViewEntry&& e) {
      const std::string full = ruby::full_name(gem, e.entry.version, e.entry.platform);
      if (view->by_full_name.count(full)) return;
      view->by_full_name[full] = 0;
      view->entries.push_back(std::move(e));
    };
    for (auto& e : *own) add(std::move(e));
    bool any_source = !own->empty();
    std::optional<Error> upstream_failure;
    for (size_t i = 0; i < order.size(); ++i) {
      auto* r = order[i];
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves(k_format) || !connection_open[i]) continue;
      DocumentRequest request;
      request.url = "info/" + gem;
      request.what = "info of " + gem;
      request.key = gem;
      auto d = co_await documents.get(ec, std::move(request));
      if (!d) {
        upstream_failure = d.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, d->fresh_until_ms);
      if (!d->found || !d->parsed) continue;
      any_source = true;
      auto entries = std::static_pointer_cast<const std::vector<ruby::Entry>>(d->parsed);
      for (auto& e : *entries)
        if (!hidden.count(e.version)) add(ViewEntry{e, Origin{r, ec}});
    }
    view->found = any_source;
    if (!any_source && upstream_failure) view->missing_reason = upstream_failure->message;
    std::stable_sort(view->entries.begin(), view->entries.end(),
                     [](const ViewEntry& a, const ViewEntry& b) { return entry_less(a.entry, b.entry); });
    std::vector<ruby::Entry> lines;
    for (size_t i = 0; i < view->entries.size(); ++i) {
      const auto& e = view->entries[i].entry;
      view->by_full_name[ruby::full_name(gem, e.version, e.platform)] = i;
      lines.push_back(e);
    }
    view->info = ruby::render_info(lines);
    view->info_md5 = to_hex(digest_of(view->info).md5);
    views.put(key, view, 4096 + view->info.size() * 3);
    co_return view;
  }

  // Names of the gems the repository and the upstream repositories it may take from hold.
  asio::awaitable<Result<std::vector<std::string>>> stored_names(const config::DomainConfig& domain,
                                                                 const config::RepositoryConfig& repo) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    co_return co_await offload(ctx.pool, [&]() -> Result<std::vector<std::string>> {
      std::set<std::string> all;
      for (auto* r : order) {
        PackageKey k{domain.name, r->name, std::string(k_format), "", ""};
        const std::string prefix = package_key(k);
        std::string after;
        for (;;) {
          ARCA_TRY(auto rows, ctx.store.scan(cache::Space::index, prefix, 1000, after));
          for (auto& [key, value] : rows) all.insert(key.substr(prefix.size()));
          if (rows.size() < 1000) break;
          after = rows.back().first;
        }
      }
      return std::vector<std::string>(all.begin(), all.end());
    });
  }

  // Every stored, listed entry of the reachable repositories, by gem (for /versions and the
  // legacy spec lists). Upstream versions not stored here are not listed: clients ask
  // /info/<gem> for each gem they need.
  struct StoredIndex {
    std::map<std::string, std::vector<ruby::Entry>> gems;
    int64_t newest_ms = 0;
  };
  asio::awaitable<Result<StoredIndex>> stored_index(const config::DomainConfig& domain,
                                                    const config::RepositoryConfig& repo) {
    auto names = co_await stored_names(domain, repo);
    if (!names) co_return names.error();
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    std::vector<std::string> gems = std::move(*names);
    co_return co_await offload(ctx.pool, [&]() -> Result<StoredIndex> {
      StoredIndex index;
      for (auto& gem : gems) {
        std::set<std::string> seen;
        std::vector<ruby::Entry> entries;
        for (auto* r : order) {
          PackageKey k{domain.name, r->name, std::string(k_format), "", gem};
          ARCA_TRY(auto versions, list_versions(ctx.store, k));
          for (auto& v : versions) {
            if (v.status != "Published") continue;
            index.newest_ms = std::max(index.newest_ms, v.published_unix_ms);
            for (auto& e : entries_of(gem, v))
              if (seen.insert(ruby::index_version(e)).second) entries.push_back(std::move(e));
          }
        }
        std::sort(entries.begin(), entries.end(), entry_less);
        if (!entries.empty()) index.gems[gem] = std::move(entries);
      }
      return index;
    });
  }

  // --- Compact index ---

  // Serves a compact-index body with the ETag bundler checks (the quoted MD5 of the body),
  // If-None-Match and a "bytes=N-" Range (bundler appends to what it has).
  asio::awaitable<void> serve_index(Exchange& ex, std::string body) {
    const Request& req = ex.request();
    const std::string etag = "\"" + to_hex(digest_of(body).md5) + "\"";
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"},
                    {"ETag", etag},
                    {"Accept-Ranges", "bytes"},
                    {"Cache-Control", "max-age=60, public"}};
    std::string_view inm = req.header("if-none-match");
    if (!inm.empty() && (inm == etag || inm == "W/" + etag)) {
      co_await ex.respond(304, std::move(headers), std::string());
      co_return;
    }
    std::string_view range = req.header("range");
    if (range.size() > 6 && range.substr(0, 6) == "bytes=" && range.back() == '-') {
      std::string_view from_text = range.substr(6, range.size() - 7);
      uint64_t from = 0;
      bool ok = !from_text.empty();
      for (char c : from_text) {
        if (c < '0' || c > '9' || from > (uint64_t{1} << 40)) {
          ok = false;
          break;
        }
        from = from * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ok && from < body.size()) {
        headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                  std::to_string(body.size() - 1) + "/" +
                                                  std::to_string(body.size()));
        co_await ex.respond(206, std::move(headers), body.substr(from));
        co_return;
      }
      // Anything else (beyond the end, not a plain suffix): the whole body.
    }
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  asio::awaitable<void> versions(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo) {
    auto index = co_await stored_index(domain, repo);
    if (!index) {
      const Error e = index.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    std::vector<ruby::VersionsLine> lines;
    for (auto& [gem, entries] : index->gems) {
      ruby::VersionsLine l;
      l.name = gem;
      for (auto& e : entries) l.versions.push_back(ruby::index_version(e));
      // The MD5 of the /info arca serves when this repository's view is at hand; otherwise that
      // of the stored lines (a client whose copy differs asks /info again and gets a 304 or the
      // new body).
      const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + gem;
      if (auto v = views.find(key, ctx.generations.package(domain.name, k_format, "", gem)))
        l.info_md5 = (*v)->info_md5;
      else
        l.info_md5 = to_hex(digest_of(ruby::render_info(entries)).md5);
      lines.push_back(std::move(l));
    }
    const std::string created = iso8601(index->newest_ms).substr(0, 19) + "Z";
    co_await serve_index(ex, ruby::render_versions(created, lines));
  }

  asio::awaitable<void> names(Exchange& ex, const config::DomainConfig& domain,
                              const config::RepositoryConfig& repo) {
    auto index = co_await stored_index(domain, repo);
    if (!index) {
      const Error e = index.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    std::vector<std::string> list;
    for (auto& [gem, entries] : index->gems) list.push_back(gem);
    co_await serve_index(ex, ruby::render_names(list));
  }

  // The view of a gem for a client, or an error answered: false when answered.
  asio::awaitable<std::optional<ViewPtr>> found_view(Exchange& ex, const config::DomainConfig& domain,
                                                     const config::RepositoryConfig& repo,
                                                     const std::string& gem) {
    auto v = co_await view(domain, repo, gem);
    if (!v) {
      const Error e = v.error();
      co_await error(ex, status_for(e), e.message);
      co_return std::nullopt;
    }
    if (!(*v)->found) {
      if (!(*v)->missing_reason.empty()) {
        co_await error(ex, 502, "Bad Gateway: the upstream index failed for " + gem + ": " +
                                    (*v)->missing_reason);
        co_return std::nullopt;
      }
      std::string message = "This gem could not be found";
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return std::nullopt;
    }
    co_return *v;
  }

  asio::awaitable<void> info(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo, std::string gem) {
    auto v = co_await found_view(ex, domain, repo, gem);
    if (!v) co_return;
    co_await serve_index(ex, (*v)->info);
  }

  // --- Gems ---

  asio::awaitable<void> gem_file(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo, std::string filename) {
    auto parsed = ruby::parse_file_name(filename, ".gem");
    if (!parsed) {
      const Error e = parsed.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    const std::string gem = parsed->name;
    Headers headers{{"Content-Type", "application/octet-stream"},
                    {"Cache-Control", "public, max-age=31536000, immutable"}};
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy policy = co_await load_policy(ctx, domain, repo, std::string(k_format), "", gem);
    const PackageKey key{domain.name, repo.name, std::string(k_format), "", gem};
    auto stored = co_await locate_stored(ctx, order, policy, key, filename, parsed->version);
    if (!stored) {
      const Error e = stored.error();
      co_await error(ex, 500, e.message);
      co_return;
    }
    if (stored->found) {
      co_await serve_located(ctx, ex, repo, *stored->found, key, parsed->version, std::move(headers));
      co_return;
    }
    if (!stored->unavailable_status.empty()) {
      co_await error(ex, 404, "This gem could not be found (" + gem + " " + parsed->version + " is " +
                                  stored->unavailable_status + ")");
      co_return;
    }
    auto v = co_await found_view(ex, domain, repo, gem);
    if (!v) co_return;
    const std::string full = filename.substr(0, filename.size() - 4);
    auto it = (*v)->by_full_name.find(full);
    if (it == (*v)->by_full_name.end()) {
      std::string message = "This gem could not be found";
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return;
    }
    const ViewEntry& ve = (*v)->entries[it->second];
    if (!ve.origin.connection) {
      co_await error(ex, 404, "This gem could not be found");
      co_return;
    }
    auto sha = from_hex<32>(ve.entry.checksum);
    if (!sha) {
      co_await error(ex, 502, "Bad Gateway: the upstream index gives no SHA-256 checksum for " +
                                  filename + ", so it cannot be verified");
      co_return;
    }
    FillSpec spec;
    spec.sha256 = *sha;
    auto base = co_await upstream_base_url(ctx.codeartifact, *ve.origin.connection, std::string(k_format));
    if (!base) {
      const Error e = base.error();
      co_await error(ex, 502, "Bad Gateway: " + e.message);
      co_return;
    }
    if (base->empty() || base->back() != '/') *base += '/';
    spec.request.url = *base + "gems/" + filename;
    const auto* owner = ve.origin.repo;
    spec.key = domain.name + '\x1f' + owner->name + "\x1fruby\x1f" + gem + '\x1f' + filename;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = ve.entry.version;
    arrival.asset = filename;
    const std::string platform = ve.entry.platform;
    const json line = entry_json(ve.entry);
    arrival.shape = [platform, line](VersionRecord& vr, const cache::BlobRecord&) {
      json manifest = parse_manifest(vr.manifest);
      if (!manifest.contains("platforms") || !manifest["platforms"].is_object())
        manifest["platforms"] = json::object();
      manifest["platforms"][platform] = line;
      vr.manifest = dump(manifest);
    };
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner, repo,
                                           std::move(headers));
    if (!filled) {
      const Error e = filled.error();
      co_await error(ex, status_for(e), e.message);
    }
  }

  // quick/Marshal.4.8/<full name>.gemspec.rz: written from the index line (and, for pushed
  // gems, the fields their gemspec gave).
  asio::awaitable<void> marshal_spec(Exchange& ex, const config::DomainConfig& domain,
                                     const config::RepositoryConfig& repo, std::string filename) {
    auto parsed = ruby::parse_file_name(filename, ".gemspec.rz");
    if (!parsed) {
      const Error e = parsed.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    const std::string gem = parsed->name;
    auto v = co_await found_view(ex, domain, repo, gem);
    if (!v) co_return;
    const std::string full = filename.substr(0, filename.size() - 11);
    auto it = (*v)->by_full_name.find(full);
    if (it == (*v)->by_full_name.end()) {
      co_await error(ex, 404, "This gem could not be found");
      co_return;
    }
    const ViewEntry& ve = (*v)->entries[it->second];
    ruby::GemSpec spec = ruby::spec_of(gem, ve.entry);
    if (!ve.origin.connection) {
      // A version stored here: the pushed gemspec's descriptive fields, when kept.
      PackageKey k{domain.name, ve.origin.repo->name, std::string(k_format), "", gem};
      const std::string version = ve.entry.version;
      auto record = co_await offload(ctx.pool, [this, &k, &version] { return find_version(ctx.store, k, version); });
      if (record && *record) {
        json m = parse_manifest((*record)->manifest);
        auto s = [&m](const char* f) {
          auto i = m.find(f);
          return i != m.end() && i->is_string() ? i->get<std::string>() : std::string();
        };
        spec.summary = s("summary");
        spec.description = s("description");
        spec.homepage = s("homepage");
        if (m.contains("authors")) spec.authors = strings_of(m["authors"]);
        if (m.contains("licenses")) spec.licenses = strings_of(m["licenses"]);
        if (auto d = m.find("development_dependencies"); d != m.end() && d->is_array()) {
          for (auto& dd : *d) {
            if (!dd.is_array() || dd.size() != 2 || !dd[0].is_string()) continue;
            ruby::Dependency dep;
            dep.name = dd[0].get<std::string>();
            dep.requirements = strings_of(dd[1]);
            dep.runtime = false;
            spec.dependencies.push_back(std::move(dep));
          }
        }
      }
    }
    std::string body = ruby::zlib_deflate(ruby::marshal_spec(spec));
    Headers headers{{"Content-Type", "application/octet-stream"}};
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // specs.4.8.gz and its variants, over the stored gems.
  asio::awaitable<void> spec_list(Exchange& ex, const config::DomainConfig& domain,
                                  const config::RepositoryConfig& repo, std::string which) {
    auto index = co_await stored_index(domain, repo);
    if (!index) {
      const Error e = index.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    std::vector<std::pair<std::string, ruby::Entry>> tuples;
    for (auto& [gem, entries] : index->gems) {
      if (which == "latest") {
        std::map<std::string, const ruby::Entry*> newest;  // per platform, releases only
        for (auto& e : entries)
          if (!ruby::prerelease(e.version)) newest[e.platform] = &e;
        for (auto& [platform, e] : newest) tuples.emplace_back(gem, *e);
      } else {
        for (auto& e : entries)
          if (ruby::prerelease(e.version) == (which == "prerelease")) tuples.emplace_back(gem, e);
      }
    }
    std::string body = gzip_compress(ruby::marshal_spec_tuples(tuples));
    Headers headers{{"Content-Type", "application/octet-stream"}};
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // /api/v1/dependencies?gems=a,b: the versions of each gem with their runtime dependencies.
  asio::awaitable<void> dependency_api(Exchange& ex, const config::DomainConfig& domain,
                                       const config::RepositoryConfig& repo) {
    auto form = ruby::parse_form(ex.request().query);
    std::vector<std::string> gems;
    for (auto g : split(form["gems"], ',')) {
      if (g.empty()) continue;
      if (!ruby::valid_name(g)) {
        co_await error(ex, 422, "'" + std::string(g) + "' is not a valid gem name");
        co_return;
      }
      gems.emplace_back(g);
    }
    if (gems.size() > 200) {
      co_await error(ex, 422, "Too many gems (use less than 200 gems)");
      co_return;
    }
    std::vector<std::pair<std::string, ruby::Entry>> out;
    for (auto& gem : gems) {
      auto v = co_await view(domain, repo, gem);
      if (!v) {
        const Error e = v.error();
        co_await error(ex, status_for(e), e.message);
        co_return;
      }
      if (!(*v)->found && !(*v)->missing_reason.empty()) {
        co_await error(ex, 502, "Bad Gateway: the upstream index failed for " + gem + ": " +
                                    (*v)->missing_reason);
        co_return;
      }
      for (auto& e : (*v)->entries) out.emplace_back(gem, e.entry);
    }
    Headers headers{{"Content-Type", "application/octet-stream"}};
    co_await ex.respond(200, std::move(headers), ruby::marshal_dependency_list(out));
  }

  // --- gem push ---

  struct PushOutcome {
    bool already_there = false;
  };

  asio::awaitable<void> push(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo) {
    const Request& req = ex.request();
    auto parsed = ruby::read_gem(req.body);
    if (!parsed) {
      const Error e = parsed.error();
      co_await error(ex, 422, "RubyGems.org cannot process this gem.\nPlease try rebuilding it and "
                              "installing it locally to make sure it's valid.\nError:\n" + e.message);
      co_return;
    }
    const ruby::GemSpec spec = std::move(*parsed);
    const std::string filename = ruby::full_name(spec.name, spec.version, spec.platform) + ".gem";
    const std::string what = spec.name + " (" + ruby::full_name("", spec.version, spec.platform).substr(1) + ")";
    if (const OriginPolicy policy = co_await load_policy(ctx, domain, repo, std::string(k_format), "", spec.name);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      co_await error(ex, 403, "Forbidden: publishing " + spec.name + " to repository " + repo.name +
                                  " is not allowed by " +
                                  policy.blocker(pg::RestrictionType::publish, repo.name));
      co_return;
    }
    // A version reachable through an upstream repository or the external connection cannot be
    // pushed here (409, one rule for every format: repo::publish_conflict).
    if (auto v = co_await view(domain, repo, spec.name); v && (*v)->found) {
      for (auto& e : (*v)->entries) {
        if (e.entry.version != spec.version) continue;
        if (auto conflict = repo::publish_conflict(e.origin, repo.name, spec.name + " " + spec.version, "pushed")) {
          co_await error(ex, 409, std::move(*conflict));
          co_return;
        }
      }
    }
    PackageKey k{domain.name, repo.name, std::string(k_format), "", spec.name};
    const std::string& body = req.body;
    auto commit = [this, &k, &spec, &filename, &body]() -> Result<PushOutcome> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto existing_asset, find_asset(ctx.store, k, filename));
      if (existing_asset) {
        ARCA_TRY(auto held, find_version(ctx.store, k, spec.version));
        if (existing_asset->sha256_hex == to_hex(sha256_of(body)) && held && held->status == "Published")
          return PushOutcome{true};
        return make_error(Errc::conflict, "Repushing of gem versions is not allowed.\nPlease use `gem yank` "
                                          "to remove bad gem releases.");
      }
      ARCA_TRY(auto record, find_version(ctx.store, k, spec.version));
      const int64_t now = now_unix_ms();
      cache::Batch batch;
      ARCA_TRY(auto writer, ctx.store.begin_blob());
      ARCA_TRY_VOID(writer->append(body));
      ARCA_TRY(auto blob, writer->finish());
      batch.add_blob(*writer);
      AssetRecord asset{spec.version, to_hex(blob.digests.sha256), blob.size};
      VersionRecord vr;
      if (record && record->origin == "INTERNAL") {
        vr = *record;
      } else {
        vr.version = spec.version;
        vr.origin = "INTERNAL";
        vr.published_unix_ms = now;
      }
      vr.status = "Published";
      json manifest = parse_manifest(vr.manifest);
      if (!manifest.contains("platforms") || !manifest["platforms"].is_object())
        manifest["platforms"] = json::object();
      manifest["platforms"][spec.platform] = entry_json(ruby::to_entry(spec, asset.sha256_hex));
      manifest["summary"] = spec.summary;
      manifest["description"] = spec.description;
      manifest["homepage"] = spec.homepage;
      manifest["authors"] = spec.authors;
      manifest["licenses"] = spec.licenses;
      json dev = json::array();
      for (auto& d : spec.dependencies)
        if (!d.runtime) dev.push_back(json::array({d.name, d.requirements}));
      manifest["development_dependencies"] = dev;
      vr.manifest = dump(manifest);
      vr.assets.emplace_back(filename, asset);
      batch.put(cache::Space::index, version_key(k, spec.version), encode(vr));
      batch.put(cache::Space::index, asset_key(k, filename), encode(asset));
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      if (!pkg) batch.put(cache::Space::index, package_key(k), encode(PackageRecord{json::object(), now}));
      ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
      ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
      return PushOutcome{false};
    };
    auto result = co_await offload(ctx.pool, std::move(commit));
    if (!result) {
      const Error e = result.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    if (!result->already_there) {
      ctx.generations.package_changed(domain.name, k_format, "", spec.name);
      ++ctx.metrics.publishes;
      ARCA_LOG_INFO("pushed {} to {}/{}", filename, domain.name, repo.name);
    }
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(200, std::move(headers), "Successfully registered gem: " + what + "\n");
  }

  // --- gem yank: the version becomes Unlisted (CodeArtifact maps yank so) ---

  asio::awaitable<void> yank(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo) {
    const Request& req = ex.request();
    auto form = ruby::parse_form(req.body);
    for (auto& [k, v] : ruby::parse_form(req.query)) form.emplace(k, v);
    const std::string gem = form["gem_name"];
    const std::string version = form["version"];
    if (!ruby::valid_name(gem)) {
      co_await error(ex, 422, "'" + gem + "' is not a valid gem name");
      co_return;
    }
    if (!ruby::valid_version(version)) {
      co_await error(ex, 422, "'" + version + "' is not a valid version");
      co_return;
    }
    PackageKey k{domain.name, repo.name, std::string(k_format), "", gem};
    auto result = co_await offload(ctx.pool, [this, &k, &version]() -> Result<void> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto existing, find_version(ctx.store, k, version));
      if (!existing || existing->origin != "INTERNAL")
        return make_error(Errc::not_found, "The version " + version + " does not exist.");
      if (existing->status == "Unlisted")
        return make_error(Errc::invalid_argument, "The version " + version + " has already been yanked.");
      if (existing->status != "Published")
        return make_error(Errc::not_found, "The version " + version + " is " + existing->status + ".");
      existing->status = "Unlisted";
      return ctx.store.put(cache::Space::index, version_key(k, version), encode(*existing));
    });
    if (!result) {
      const Error e = result.error();
      co_await error(ex, e.code == Errc::invalid_argument ? 422 : status_for(e), e.message);
      co_return;
    }
    ctx.generations.package_changed(domain.name, k_format, "", gem);
    ARCA_LOG_INFO("yanked {} {} in {}/{}", gem, version, domain.name, repo.name);
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(200, std::move(headers), "Successfully deleted gem: " + gem + " (" + version + ")\n");
  }
};

asio::awaitable<void> RubyHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                          const config::RepositoryConfig& repo, std::string rest) {
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  if (rest == "api/v1/gems" || rest == "api/v1/gems/") {
    if (method == "POST") {
      co_await push(ex, domain, repo);
    } else {
      co_await error(ex, 405, "Method Not Allowed: push with POST (gem push --host)");
    }
    co_return;
  }
  if (rest == "api/v1/gems/yank") {
    if (method == "DELETE") {
      co_await yank(ex, domain, repo);
    } else {
      co_await error(ex, 405, "Method Not Allowed: yank with DELETE (gem yank --host)");
    }
    co_return;
  }
  if (!read) {
    co_await error(ex, 405, "Method Not Allowed");
    co_return;
  }
  if (rest.empty()) {
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(200, std::move(headers), "arca RubyGems repository " + repo.name + "\n");
    co_return;
  }
  std::vector<std::string> segments;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded || decoded->find('/') != std::string::npos || *decoded == "." || *decoded == "..") {
      co_await error(ex, 400, "Bad Request: malformed path");
      co_return;
    }
    segments.push_back(std::move(*decoded));
  }
  if (segments.size() == 1) {
    const std::string& s = segments[0];
    if (s == "versions") co_return co_await versions(ex, domain, repo);
    if (s == "names") co_return co_await names(ex, domain, repo);
    if (s == "specs.4.8.gz") co_return co_await spec_list(ex, domain, repo, "all");
    if (s == "latest_specs.4.8.gz") co_return co_await spec_list(ex, domain, repo, "latest");
    if (s == "prerelease_specs.4.8.gz") co_return co_await spec_list(ex, domain, repo, "prerelease");
  }
  if (segments.size() == 2 && segments[0] == "info") {
    if (!ruby::valid_name(segments[1])) {
      co_await error(ex, 400, "Bad Request: '" + segments[1] + "' is not a valid gem name");
      co_return;
    }
    co_await info(ex, domain, repo, segments[1]);
    co_return;
  }
  if (segments.size() == 2 && segments[0] == "gems") {
    co_await gem_file(ex, domain, repo, segments[1]);
    co_return;
  }
  if (segments.size() == 3 && segments[0] == "quick" && segments[1] == "Marshal.4.8") {
    co_await marshal_spec(ex, domain, repo, segments[2]);
    co_return;
  }
  if (segments.size() == 3 && segments[0] == "api" && segments[1] == "v1" &&
      (segments[2] == "dependencies" || segments[2] == "dependencies.json")) {
    if (segments[2] == "dependencies.json") {
      co_await error(ex, 404, "Not Found: ask /api/v1/dependencies (Marshal) or the compact index");
      co_return;
    }
    co_await dependency_api(ex, domain, repo);
    co_return;
  }
  co_await error(ex, 404, "Not Found");
}

namespace ruby {
FormatPtr make_format(Context& context) { return std::make_unique<RubyHandler>(context); }
}  // namespace ruby

}  // namespace arca::formats
