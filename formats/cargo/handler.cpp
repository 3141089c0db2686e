// Cargo's registry protocols over a repository: the sparse index (config.json and one index
// file per crate, merged across the repository, its upstreams and external connections), crate
// downloads (verified against the index's checksum when filled), and the web API cargo uses to
// publish, yank, search and list owners.
//
// URL layout under /<domain>/cargo/<repo>/ (cargo's `sparse+<that URL>`):
//   config.json                              {"dl", "api", "auth-required"}
//   1/<n>, 2/<nn>, 3/<a>/<abc>, <ab>/<cd>/<name>  index files (lower-case, as cargo asks)
//   api/v1/crates/<name>/<version>/download  a .crate (the config's `dl`)
//   api/v1/crates/new (PUT)                  cargo publish
//   api/v1/crates/<name>/<version>/yank (DELETE), .../unyank (PUT)
//   api/v1/crates/<name>/owners              owners (arca keeps none)
//   api/v1/crates?q=&per_page=               cargo search
// Errors are {"errors":[{"detail": ...}]}, which cargo prints.
//
// Yanked is the Unlisted status (as CodeArtifact maps it): an Unlisted version is in the index
// with "yanked": true and stays downloadable.
//
// Thread-safety: one CargoHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/log.hpp"
#include "formats/asset_path.hpp"
#include "formats/cargo/cargo.hpp"
#include "formats/upstream_documents.hpp"
#include "formats/view_cache.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "net/http_util.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <set>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_format = "cargo";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json parse_object(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json::object();
  return j;
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// One version in a merged index file.
struct Entry {
  json entry;             // the index line
  repo::Source origin;    // where it comes from
  std::string url;        // the upstream download URL (versions of an external connection)
  bool ingested = false;  // a stored version that came from an external connection
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  bool found = false;
  std::vector<Entry> entries;
  std::map<std::string, size_t> by_version;
  std::string missing_reason;
  std::string blocked;  // which origin controls kept upstream versions out, when any did
  std::shared_ptr<const std::string> body;  // the rendered index file
  std::string etag;
};
using ViewPtr = std::shared_ptr<View>;

using Lines = std::vector<json>;

// The version manifest of a cargo version record:
//   {"name": the crate's name as published, "index": its index entry (without "yanked"),
//    "description": ...}

}  // namespace

struct CargoHandler final : Format {
  std::string_view name() const override { return k_format; }
  asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo, std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override {
    return request.method == "PUT" && (rest == "api/v1/crates/new" || rest == "api/v1/crates/new/");
  }

  // Cargo prints the "detail" of an API error and the body of a failed index request; the
  // token it sends is the raw `Authorization` value (the default credential).
  void refusal(const Refusal& refusal, Headers& headers, std::string& body) const override {
    headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    if (refusal.status == 401) headers.emplace_back("WWW-Authenticate", "Cargo realm=\"arca\"");
    std::string detail = refusal.reason;
    if (refusal.status == 401)
      detail +=
          " (an arca token is expected: `aws codeartifact get-authorization-token`, then "
          "`cargo login --registry <name>`)";
    body = cargo::error_body(detail);
  }

  // --- What the control plane asks ---

  std::string stored_name(std::string_view name) const override { return cargo::stored_name(name); }
  std::string display_name(const repo::PackageKey& key,
                           const repo::VersionRecord* version) const override {
    if (version) {
      std::string n = str_field(parse_object(version->manifest), "name");
      if (!n.empty()) return n;
    }
    return key.name;
  }
  json dependencies(const repo::VersionRecord& version) const override {
    json manifest = parse_object(version.manifest);
    auto it = manifest.find("index");
    return it != manifest.end() && it->is_object() ? cargo::dependencies(*it) : json::array();
  }

  Context& ctx;
  UpstreamDocuments documents;
  ViewCache<View> views;
  std::mutex publish_mutex;

  explicit CargoHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c), c.config.cache.memory_cache_bytes / 8),
        views(c.config.cache.memory_cache_bytes / 8) {}

  // --- Responses ---

  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string detail) {
    Headers headers{{"Content-Type", "application/json; charset=utf-8"}};
    std::string body = cargo::error_body(detail);
    co_await ex.respond(status, std::move(headers), std::move(body));
  }

  asio::awaitable<void> reply_json(Exchange& ex, const json& body) {
    Headers headers{{"Content-Type", "application/json; charset=utf-8"}};
    std::string text = dump(body);
    co_await ex.respond(200, std::move(headers), std::move(text));
  }

  std::string base_url(const Exchange& ex, const config::DomainConfig& domain,
                       const config::RepositoryConfig& repo) const {
    return public_origin(ctx.config, ex.request()) + "/" + domain.name + "/cargo/" + repo.name +
           "/";
  }

  // --- Upstream index files and config.json (formats/upstream_documents.hpp) ---
  // Stored bodies are JSON lines: the config.json object on one line, or the index's entries.

  static Result<std::shared_ptr<const void>> parse_stored(const std::string& body) {
    auto lines = std::make_shared<Lines>();
    for (auto line : split(body, '\n')) {
      if (line.empty()) continue;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object()) lines->push_back(std::move(j));
    }
    return std::shared_ptr<const void>(std::move(lines));
  }
  static Result<std::shared_ptr<const void>> parse_response(std::string& body, const ResponseHead&,
                                                            const std::string&,
                                                            const std::string& key) {
    auto lines = std::make_shared<Lines>();
    if (key == "config.json") {
      auto j = json::parse(body, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("dl") || !j["dl"].is_string())
        return make_error(Errc::upstream_error, "the upstream config.json has no \"dl\"");
      lines->push_back(j);
    } else {
      ARCA_TRY(auto entries, cargo::parse_index_file(body));
      *lines = std::move(entries);
    }
    body = cargo::render_index_file(*lines);
    return std::shared_ptr<const void>(std::move(lines));
  }

  static DocumentTraits document_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = std::string(k_format);
    t.format = std::string(k_format);
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.memory_cost_factor = 4;
    t.too_large_message = "the upstream index file is larger than upstream.max_metadata_bytes";
    t.parse_response = &parse_response;
    t.parse_stored = &parse_stored;
    return t;
  }

  struct UpstreamIndex {
    std::shared_ptr<const Lines> lines;  // null: the upstream does not have the crate
    std::string dl;
    int64_t fresh_until_ms = 0;
  };

  asio::awaitable<Result<UpstreamIndex>> upstream_index(const config::ExternalConnectionConfig* ec,
                                                        std::string name) {
    DocumentRequest config_request;
    config_request.key = "config.json";
    config_request.url = "config.json";
    config_request.what = "index config.json";
    auto config_doc = co_await documents.get(ec, std::move(config_request));
    if (!config_doc) co_return config_doc.error();
    UpstreamIndex out;
    auto config_lines = std::static_pointer_cast<const Lines>(config_doc->parsed);
    if (!config_doc->found || !config_lines || config_lines->empty())
      co_return make_error(Errc::upstream_error, ec->name + " has no index config.json");
    out.dl = str_field(config_lines->front(), "dl");
    if (out.dl.empty())
      co_return make_error(Errc::upstream_error, ec->name + "'s config.json has no \"dl\"");
    DocumentRequest request;
    request.key = cargo::index_path(name);
    request.url = request.key;
    request.what = "index file of " + name;
    auto d = co_await documents.get(ec, std::move(request));
    if (!d) co_return d.error();
    out.fresh_until_ms = std::min(d->fresh_until_ms, config_doc->fresh_until_ms);
    if (d->found) out.lines = std::static_pointer_cast<const Lines>(d->parsed);
    co_return out;
  }

  // --- Merged views ---

  asio::awaitable<OriginPolicy> origin_policy(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              const std::string& stored) {
    co_return co_await load_policy(ctx, domain, repo, std::string(k_format), "", stored);
  }

  // The index entries of the versions `repo` holds of the crate spelled `spelling` (lower
  // case): published there, retained, or ingested from its external connection.
  Result<std::vector<Entry>> own_entries(const config::DomainConfig& domain,
                                         const config::RepositoryConfig& repo,
                                         const std::string& spelling) {
    PackageKey k{domain.name, repo.name, std::string(k_format), "", cargo::stored_name(spelling)};
    ARCA_TRY(auto versions, list_versions(ctx.store, k));
    std::vector<Entry> out;
    for (auto& v : versions) {
      if (v.status != "Published" && v.status != "Unlisted") continue;
      json manifest = parse_object(v.manifest);
      auto it = manifest.find("index");
      if (it == manifest.end() || !it->is_object()) continue;
      // Cargo asks for each spelling it knows; a file answers for the name as published.
      if (cargo::lower(str_field(*it, "name")) != spelling) continue;
      Entry e;
      e.entry = *it;
      e.entry["yanked"] = v.status == "Unlisted";
      e.origin = repo::Source{&repo, nullptr};
      e.ingested = v.origin != "INTERNAL";
      out.push_back(std::move(e));
    }
    return out;
  }

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo,
                                        std::string spelling) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + spelling;
    const uint64_t generation =
        ctx.generations.package(domain.name, k_format, "", cargo::stored_name(spelling));
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, spelling, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string spelling, std::string key,
                                              uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    // Origin controls: an upstream repository's versions come in only when INTERNAL_UPSTREAM
    // allows the repository asked; an external connection's only when EXTERNAL_UPSTREAM allows
    // the repository owning it. What is already stored stays listed.
    const OriginPolicy policy = co_await origin_policy(domain, repo, cargo::stored_name(spelling));
    std::vector<char> reachable(order.size()), connection_open(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      const auto* r = order[i];
      reachable[i] =
          r->name == repo.name || policy.allows(pg::RestrictionType::internal_upstream, repo.name);
      connection_open[i] =
          reachable[i] && policy.allows(pg::RestrictionType::external_upstream, r->name);
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
    auto own = co_await offload(ctx.pool, [&]() -> Result<std::vector<Entry>> {
      std::vector<Entry> all;
      for (size_t i = 0; i < order.size(); ++i) {
        if (!reachable[i]) continue;
        // Stored versions stay listed when the upstream no longer lists them (retention).
        ARCA_TRY(auto entries, own_entries(domain, *order[i], spelling));
        for (auto& e : entries) all.push_back(std::move(e));
      }
      return all;
    });
    if (!own) co_return own.error();
    auto add = [&](Entry&& e) {
      const std::string version = str_field(e.entry, "vers");
      if (version.empty()) return;
      if (auto it = view->by_version.find(version); it != view->by_version.end()) {
        // A version the connection's owner ingested: the upstream's entry is fresher (its
        // yanked flag); the stored bytes are still what a download serves.
        Entry& held = view->entries[it->second];
        if (held.ingested && e.origin.connection && held.origin.repo == e.origin.repo) {
          const bool unlisted = held.entry.value("yanked", false);
          held.entry = std::move(e.entry);
          if (unlisted) held.entry["yanked"] = true;
          held.url = std::move(e.url);
        }
        return;
      }
      view->by_version[version] = view->entries.size();
      view->entries.push_back(std::move(e));
    };
    for (auto& e : *own) add(std::move(e));
    std::optional<Error> upstream_failure;
    for (size_t i = 0; i < order.size(); ++i) {
      auto* r = order[i];
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves(k_format) || !connection_open[i]) continue;
      auto index = co_await upstream_index(ec, spelling);
      if (!index) {
        upstream_failure = index.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, index->fresh_until_ms);
      if (!index->lines) continue;
      for (auto& line : *index->lines) {
        Entry e;
        e.entry = line;
        e.origin = repo::Source{r, ec};
        e.url = cargo::download_url(index->dl, str_field(line, "name"), str_field(line, "vers"),
                                    str_field(line, "cksum"));
        add(std::move(e));
      }
    }
    view->found = !view->entries.empty();
    if (!view->found && upstream_failure) view->missing_reason = upstream_failure->message;
    // Index lines in version order.
    std::vector<const Entry*> sorted;
    for (auto& e : view->entries) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
      return cargo::compare_versions(str_field(a->entry, "vers"), str_field(b->entry, "vers")) < 0;
    });
    std::string body;
    for (auto* e : sorted) {
      body += dump(e->entry);
      body += '\n';
    }
    view->etag = "\"" + to_hex(sha256_of(body)).substr(0, 32) + "\"";
    view->body = std::make_shared<const std::string>(std::move(body));
    views.put(key, view, 1024 + view->body->size() * 3);
    co_return view;
  }

  // --- Handlers ---

  asio::awaitable<void> config_json(Exchange& ex, const config::DomainConfig& domain,
                                    const config::RepositoryConfig& repo) {
    const auto& auth = ctx.config.auth;
    const bool anonymous_read =
        auth.anonymous_read.value_or(is_loopback_host(ctx.config.listen.host));
    std::string base = base_url(ex, domain, repo);
    json body = {{"dl", base + "api/v1/crates"},
                 {"api", base.substr(0, base.size() - 1)},
                 {"auth-required", !anonymous_read}};
    co_await reply_json(ex, body);
  }

  asio::awaitable<void> index_file(Exchange& ex, const config::DomainConfig& domain,
                                   const config::RepositoryConfig& repo, std::string path) {
    // An invalid crate name is a 400; a valid one outside the layout a 404 (no such file).
    if (auto checked = cargo::check_name(path.substr(path.rfind('/') + 1)); !checked) {
      const Error e = checked.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    auto name = cargo::parse_index_path(path);
    if (!name) {
      const Error e = name.error();
      co_await error(ex, 404, "Not Found: " + e.message);
      co_return;
    }
    const std::string spelling = cargo::lower(*name);
    auto v = co_await view(domain, repo, spelling);
    if (!v) {
      const Error e = v.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    if (!(*v)->found) {
      // Nothing stored and no upstream could say: 502 with the reason (cargo prints it),
      // rather than a 404 that cargo would take for "no such crate".
      if (!(*v)->missing_reason.empty()) {
        co_await error(
            ex, 502,
            "Bad Gateway: the upstream index failed for " + spelling + ": " + (*v)->missing_reason);
        co_return;
      }
      std::string message = "Not Found: no crate named " + spelling;
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return;
    }
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"},
                    {"ETag", (*v)->etag},
                    {"Cache-Control", "max-age=0, must-revalidate"}};
    if (ex.request().header("if-none-match") == (*v)->etag) {
      co_await ex.respond(304, std::move(headers), std::string());
      co_return;
    }
    auto body = (*v)->body;
    co_await ex.respond_shared(200, std::move(headers), std::move(body));
  }

  asio::awaitable<void> download(Exchange& ex, const config::DomainConfig& domain,
                                 const config::RepositoryConfig& repo, std::string name,
                                 std::string version) {
    if (auto checked = cargo::check_name(name); !checked) {
      const Error e = checked.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    if (!cargo::valid_version(version)) {
      co_await error(ex, 400, "invalid version '" + version + "': not a semantic version");
      co_return;
    }
    const std::string stored = cargo::stored_name(name);
    const std::string asset = cargo::asset_name(stored, version);
    Headers headers{{"Content-Type", "application/octet-stream"},
                    {"Cache-Control", "public, max-age=31536000, immutable"}};
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy policy = co_await origin_policy(domain, repo, stored);
    const PackageKey key{domain.name, repo.name, std::string(k_format), "", stored};
    auto located = co_await locate_stored(ctx, order, policy, key, asset, version);
    if (!located) {
      const Error e = located.error();
      co_await error(ex, 500, e.message);
      co_return;
    }
    if (located->found) {
      co_await serve_located(ctx, ex, repo, *located->found, key, version, std::move(headers));
      co_return;
    }
    if (!located->unavailable_status.empty()) {
      co_await error(ex, 404,
                     "Not Found: " + name + " " + version + " is " + located->unavailable_status);
      co_return;
    }
    auto v = co_await view(domain, repo, cargo::lower(name));
    if (!v) {
      const Error e = v.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    auto it = (*v)->by_version.find(version);
    if (it == (*v)->by_version.end() || !(*v)->entries[it->second].origin.connection) {
      std::string message = "Not Found: " + name + " " + version;
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return;
    }
    const Entry& entry = (*v)->entries[it->second];
    FillSpec spec;
    spec.sha256 = from_hex<32>(str_field(entry.entry, "cksum"));
    if (!spec.sha256) {
      co_await error(
          ex, 502,
          "Bad Gateway: the upstream index has no valid cksum for " + name + " " + version);
      co_return;
    }
    spec.request.url = entry.url;
    const auto* owner = entry.origin.repo;
    spec.key = domain.name + '\x1f' + owner->name + "\x1f" + std::string(k_format) + '\x1f' +
               stored + '\x1f' + asset;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = version;
    arrival.asset = asset;
    json index_line = entry.entry;
    index_line.erase("yanked");
    arrival.shape = [index_line](VersionRecord& vr, const cache::BlobRecord&) {
      json manifest = parse_object(vr.manifest);
      manifest["name"] = str_field(index_line, "name");
      manifest["index"] = index_line;
      vr.manifest = dump(manifest);
    };
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner,
                                           repo, std::move(headers));
    if (!filled) {
      const Error e = filled.error();
      co_await error(ex, status_for(e), e.message);
    }
  }

  asio::awaitable<void> publish(Exchange& ex, const config::DomainConfig& domain,
                                const config::RepositoryConfig& repo) {
    auto parsed = cargo::parse_publish(ex.request().body);
    if (!parsed) {
      const Error e = parsed.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    const cargo::Publish& up = *parsed;
    const std::string stored = cargo::stored_name(up.name);
    if (const OriginPolicy policy = co_await origin_policy(domain, repo, stored);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      std::string message = "Forbidden: publishing " + up.name + " to repository " + repo.name +
                            " is not allowed by " +
                            policy.blocker(pg::RestrictionType::publish, repo.name);
      co_await error(ex, 403, std::move(message));
      co_return;
    }
    // A version the repository's view takes from an upstream repository or the external
    // connection cannot be published here (409, repo::publish_conflict).
    if (auto v = co_await view(domain, repo, cargo::lower(up.name)); v && (*v)->found) {
      const std::string wanted = cargo::without_build(up.version);
      for (auto& e : (*v)->entries) {
        if (cargo::without_build(str_field(e.entry, "vers")) != wanted) continue;
        if (auto conflict = repo::publish_conflict(e.origin, repo.name, up.name + " " + up.version,
                                                   "published")) {
          co_await error(ex, 409, std::move(*conflict));
          co_return;
        }
      }
    }
    const std::string cksum = to_hex(sha256_of(up.crate));
    json manifest = {{"name", up.name}, {"index", cargo::index_entry(up, cksum)}};
    manifest["index"].erase("yanked");
    if (auto d = up.metadata.find("description"); d != up.metadata.end() && d->is_string())
      manifest["description"] = *d;
    PackageKey k{domain.name, repo.name, std::string(k_format), "", stored};
    const std::string asset = cargo::asset_name(stored, up.version);
    auto commit = [this, &k, &up, &manifest, &asset, &cksum]() -> Result<void> {
      std::lock_guard lock(publish_mutex);
      ARCA_TRY(auto versions, list_versions(ctx.store, k));
      for (auto& v : versions) {
        const std::string published_as = str_field(parse_object(v.manifest), "name");
        if (!published_as.empty() && published_as != up.name)
          return make_error(Errc::conflict, "crate `" + up.name + "` is already published as `" +
                                                published_as +
                                                "` (names differing only in case "
                                                "or '-'/'_' are the same crate)");
        if (cargo::without_build(v.version) == cargo::without_build(up.version))
          return make_error(Errc::conflict,
                            "crate version `" + up.name + "@" + v.version + "` already exists");
      }
      const int64_t now = now_unix_ms();
      cache::Batch batch;
      ARCA_TRY(auto writer, ctx.store.begin_blob());
      ARCA_TRY_VOID(writer->append(up.crate));
      ARCA_TRY(auto blob, writer->finish());
      batch.add_blob(*writer);
      AssetRecord asset_record{up.version, cksum, blob.size};
      VersionRecord vr;
      vr.version = up.version;
      vr.origin = "INTERNAL";
      vr.status = "Published";
      vr.published_unix_ms = now;
      vr.manifest = dump(manifest);
      vr.assets.emplace_back(asset, asset_record);
      batch.put(cache::Space::index, version_key(k, up.version), encode(vr));
      batch.put(cache::Space::index, asset_key(k, asset), encode(asset_record));
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      if (!pkg)
        batch.put(cache::Space::index, package_key(k), encode(PackageRecord{json::object(), now}));
      ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
      return ctx.store.commit(std::move(batch), /*durable=*/true);
    };
    auto result = co_await offload(ctx.pool, std::move(commit));
    if (!result) {
      const Error e = result.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    ctx.generations.package_changed(domain.name, k_format, "", stored);
    ++ctx.metrics.publishes;
    ARCA_LOG_INFO("published {} {} to {}/{}", up.name, up.version, domain.name, repo.name);
    json body = {{"warnings",
                  {{"invalid_categories", json::array()},
                   {"invalid_badges", json::array()},
                   {"other", json::array()}}}};
    co_await reply_json(ex, body);
  }

  // cargo yank (DELETE .../yank) sets Unlisted, --undo (PUT .../unyank) Published back. A 404
  // when this repository does not hold the version.
  asio::awaitable<void> set_yanked(Exchange& ex, const config::DomainConfig& domain,
                                   const config::RepositoryConfig& repo, std::string name,
                                   std::string version, bool yanked) {
    if (auto checked = cargo::check_name(name); !checked) {
      const Error e = checked.error();
      co_await error(ex, 400, e.message);
      co_return;
    }
    if (!cargo::valid_version(version)) {
      co_await error(ex, 400, "invalid version '" + version + "': not a semantic version");
      co_return;
    }
    PackageKey k{domain.name, repo.name, std::string(k_format), "", cargo::stored_name(name)};
    const std::string from = yanked ? "Published" : "Unlisted";
    const std::string to = yanked ? "Unlisted" : "Published";
    auto result =
        co_await offload(ctx.pool, [this, &k, &name, &version, &from, &to]() -> Result<void> {
          std::lock_guard lock(publish_mutex);
          ARCA_TRY(auto existing, find_version(ctx.store, k, version));
          if (!existing)
            return make_error(Errc::not_found, "crate `" + name + "` has no version " + version +
                                                   " in this repository");
          if (existing->status == to) return {};
          if (existing->status != from)
            return make_error(Errc::conflict, "crate `" + name + "` version " + version + " is " +
                                                  existing->status);
          existing->status = to;
          return ctx.store.put(cache::Space::index, version_key(k, version), encode(*existing));
        });
    if (!result) {
      const Error e = result.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    ctx.generations.package_changed(domain.name, k_format, "", k.name);
    ARCA_LOG_INFO("{} {} {} in {}/{}", yanked ? "yanked" : "unyanked", name, version, domain.name,
                  repo.name);
    json body = {{"ok", true}};
    co_await reply_json(ex, body);
  }

  // cargo search: a name match over the crates this repository and its upstream repositories
  // hold (external connections are not searched).
  asio::awaitable<void> search(Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo) {
    std::string q;
    size_t per_page = 10;
    for (auto part : split(ex.request().query, '&')) {
      const size_t eq = part.find('=');
      auto k = percent_decode(part.substr(0, eq), true);
      auto v = percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
      if (!k || !v) {
        co_await error(ex, 400, "malformed percent-encoding in the query");
        co_return;
      }
      if (*k == "q") q = *v;
      if (*k == "per_page") {
        per_page = 0;
        for (char c : *v) {
          if (c < '0' || c > '9' || per_page > 1000) {
            co_await error(ex, 400, "per_page must be a number from 1 to 100");
            co_return;
          }
          per_page = per_page * 10 + static_cast<size_t>(c - '0');
        }
        if (per_page == 0 || per_page > 100) {
          co_await error(ex, 400, "per_page must be a number from 1 to 100");
          co_return;
        }
      }
    }
    const std::string needle = cargo::stored_name(q);
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto found = co_await offload(ctx.pool, [&]() -> Result<json> {
      std::map<std::string, std::pair<std::string, json>> best;  // stored -> (max version, crate)
      for (auto* r : order) {
        PackageKey pk{domain.name, r->name, std::string(k_format), "", ""};
        const std::string prefix = package_key(pk);
        std::string after;
        for (;;) {
          ARCA_TRY(auto rows, ctx.store.scan(cache::Space::index, prefix, 1000, after));
          for (auto& [row_key, value] : rows) {
            std::string stored = row_key.substr(prefix.size());
            if (stored.find(needle) == std::string::npos) continue;
            pk.name = stored;
            ARCA_TRY(auto versions, list_versions(ctx.store, pk));
            for (auto& v : versions) {
              if (v.status != "Published") continue;
              auto& [max, crate] = best[stored];
              if (!max.empty() && cargo::compare_versions(v.version, max) <= 0) continue;
              json manifest = parse_object(v.manifest);
              max = v.version;
              crate = {{"name",
                        str_field(manifest, "name").empty() ? stored : str_field(manifest, "name")},
                       {"max_version", v.version},
                       {"description", str_field(manifest, "description")}};
            }
          }
          if (rows.size() < 1000) break;
          after = rows.back().first;
        }
      }
      json crates = json::array();
      size_t total = 0;
      for (auto& [stored, pair] : best) {
        if (pair.first.empty()) continue;
        ++total;
        if (crates.size() < per_page) crates.push_back(pair.second);
      }
      return json{{"crates", crates}, {"meta", {{"total", total}}}};
    });
    if (!found) {
      const Error e = found.error();
      co_await error(ex, status_for(e), e.message);
      co_return;
    }
    co_await reply_json(ex, *found);
  }
};

asio::awaitable<void> CargoHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                           const config::RepositoryConfig& repo, std::string rest) {
  const std::string method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  std::vector<std::string> segments;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      co_await error(ex, 400, "malformed percent-encoding in the path");
      co_return;
    }
    if (*decoded == "." || *decoded == ".." || decoded->find('/') != std::string::npos ||
        decoded->find('\\') != std::string::npos) {
      co_await error(ex, 400, "invalid path segment '" + *decoded + "'");
      co_return;
    }
    segments.push_back(std::move(*decoded));
  }
  if (!segments.empty() && segments.back().empty()) segments.pop_back();
  if (segments.empty() || segments[0].empty()) {
    co_await error(ex, 404,
                   "Not Found: this is a Cargo sparse registry; use index = \"sparse+" +
                       base_url(ex, domain, repo) + "\"");
    co_return;
  }
  if (segments.size() >= 3 && segments[0] == "api" && segments[1] == "v1" &&
      segments[2] == "crates") {
    const size_t n = segments.size();
    if (n == 3 && read) {
      co_await search(ex, domain, repo);
    } else if (n == 4 && segments[3] == "new") {
      if (method == "PUT")
        co_await publish(ex, domain, repo);
      else
        co_await error(ex, 405, "Method Not Allowed: cargo publish uses PUT");
    } else if (n == 6 && segments[5] == "download" && read) {
      co_await download(ex, domain, repo, segments[3], segments[4]);
    } else if (n == 6 && segments[5] == "yank" && method == "DELETE") {
      co_await set_yanked(ex, domain, repo, segments[3], segments[4], true);
    } else if (n == 6 && segments[5] == "unyank" && method == "PUT") {
      co_await set_yanked(ex, domain, repo, segments[3], segments[4], false);
    } else if (n == 5 && segments[4] == "owners") {
      if (read) {
        json body = {{"users", json::array()}};
        co_await reply_json(ex, body);
      } else {
        co_await error(ex, 400,
                       "arca does not keep crate owners: who may publish is decided by "
                       "repository access and package group origin controls");
      }
    } else {
      co_await error(ex, read ? 404 : 405, "no such Cargo API route: " + method + " " + rest);
    }
    co_return;
  }
  if (!read) {
    co_await error(ex, 405, "Method Not Allowed");
    co_return;
  }
  if (segments.size() == 1 && segments[0] == "config.json") {
    co_await config_json(ex, domain, repo);
    co_return;
  }
  std::string path;
  for (auto& s : segments) path += (path.empty() ? "" : "/") + s;
  co_await index_file(ex, domain, repo, std::move(path));
}

namespace cargo {
FormatPtr make_format(Context& context) { return std::make_unique<CargoHandler>(context); }
}  // namespace cargo

}  // namespace arca::formats
