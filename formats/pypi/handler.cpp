// The Python package index protocols over a repository: the simple repository API (PEP 503
// HTML and PEP 691 JSON, chosen by Accept), merged across the repository, its upstreams and
// external connections; distribution files and their PEP 658 core metadata; and the legacy
// upload API that twine uses.
//
// URL layout under /<domain>/pypi/<repo>/:
//   simple/                        the projects the repository (and its upstreams) hold
//   simple/<normalized>/           a project page (other spellings redirect here, 301)
//   files/<normalized>/<filename>  a distribution file; + ".metadata" for its core metadata
//   "" or legacy/ (POST)           uploads (multipart/form-data, :action=file_upload)
//
// Thread-safety: one PypiHandler serves all connections; its caches are mutex-guarded.

#include "formats/format.hpp"

#include "common/compress.hpp"
#include "common/log.hpp"
#include "formats/pypi/pypi.hpp"
#include "formats/asset_path.hpp"
#include "net/blocking.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "net/http_util.hpp"
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

constexpr std::string_view k_format = "pypi";
// What pip sends (PEP 691): JSON preferred, HTML accepted.
constexpr std::string_view k_upstream_accept =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, "
    "text/html;q=0.01";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Where a file in a merged view came from.
using Origin = repo::Source;

struct UpstreamPage {
  std::shared_ptr<const pypi::ProjectPage> page;  // null: the upstream does not have the project
  int64_t fresh_until_ms = 0;
};

struct ViewFile {
  pypi::File file;  // url: the upstream URL for external files, empty for own files
  Origin origin;
  std::string version;  // from the file name; empty if it does not parse
};

struct View {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  bool found = false;
  std::string name;
  std::vector<ViewFile> files;
  std::vector<std::string> versions;
  std::map<std::string, size_t> by_filename;
  std::string missing_reason;
  std::string blocked;  // which origin controls kept upstream versions out, when any did
  std::mutex mutex;                                                    // guards rendered
  std::map<std::string, std::shared_ptr<const std::string>> rendered;  // by base + format
};
using ViewPtr = std::shared_ptr<View>;

// The manifest of a version record in the pypi format:
//   {"name": display name, "files": {filename: {"requires_python", "upload_time", "size",
//    "metadata_sha256", "yanked", "yanked_reason"}}, "summary", "requires_dist": [...]}
json parse_manifest(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json::object();
  return j;
}

}  // namespace

// The handler (one per process, from make_pypi_handler).
struct PypiHandler final : Format {
  std::string_view name() const override { return "pypi"; }
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo,
                                      std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override;

  Context& ctx;
  UpstreamDocuments documents;
  ViewCache<View> views;
  std::mutex publish_mutex;

  explicit PypiHandler(Context& c)
      : ctx(c),
        documents(c, document_traits(c), c.config.cache.memory_cache_bytes / 4),
        views(c.config.cache.memory_cache_bytes / 4) {}

  // --- Responses ---

  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string message) {
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    message += "\n";
    co_await ex.respond(status, std::move(headers), std::move(message));
  }

  std::string base_url(const Exchange& ex, const config::DomainConfig& domain,
                       const config::RepositoryConfig& repo) const {
    return public_origin(ctx.config, ex.request()) + "/" + domain.name + "/pypi/" + repo.name + "/";
  }

  asio::awaitable<void> redirect(Exchange& ex, std::string location) {
    Headers headers{{"Location", location}, {"Content-Type", "text/plain; charset=utf-8"}};
    std::string body = "Moved to " + location + "\n";
    co_await ex.respond(301, std::move(headers), std::move(body));
  }

  // --- Upstream project pages (formats/upstream_documents.hpp) ---
  // Stored bodies are our own serialization (absolute upstream URLs).

  static Result<std::shared_ptr<const void>> parse_stored(const std::string& body) {
    ARCA_TRY(auto page, pypi::deserialize_page(body));
    return std::shared_ptr<const void>(std::make_shared<const pypi::ProjectPage>(std::move(page)));
  }
  static Result<std::shared_ptr<const void>> parse_response(std::string& body,
                                                            const ResponseHead& head,
                                                            const std::string& request_url,
                                                            const std::string& project) {
    const std::string& page_url = head.url.empty() ? request_url : head.url;
    Result<pypi::ProjectPage> page = make_error(Errc::internal, "unparsed");
    if (head.header("content-type").find("json") != std::string_view::npos) {
      page = pypi::parse_project_json(body, page_url);
    } else {
      page = pypi::parse_project_html(body, page_url);
    }
    if (!page) return page.error();
    if (page->name.empty()) page->name = project;
    pypi::fill_versions(*page, project);
    body = pypi::serialize_page(*page);
    return std::shared_ptr<const void>(std::make_shared<const pypi::ProjectPage>(std::move(*page)));
  }

  static DocumentTraits document_traits(const Context& c) {
    DocumentTraits t;
    t.meta_prefix = std::string(k_format);
    t.format = std::string(k_format);
    t.accept = std::string(k_upstream_accept);
    t.max_bytes = c.config.upstream.max_metadata_bytes;
    t.memory_cost_factor = 3;
    t.too_large_message = "the upstream project page is larger than upstream.max_metadata_bytes";
    t.parse_response = &parse_response;
    t.parse_stored = &parse_stored;
    return t;
  }

  asio::awaitable<Result<UpstreamPage>> upstream_page(const config::ExternalConnectionConfig* ec,
                                                      std::string project) {
    DocumentRequest request;
    request.url = project + "/";
    request.what = "project page of " + project;
    request.key = std::move(project);
    auto d = co_await documents.get(ec, std::move(request));
    if (!d) co_return d.error();
    UpstreamPage out;
    out.page = std::static_pointer_cast<const pypi::ProjectPage>(d->parsed);
    out.fresh_until_ms = d->fresh_until_ms;
    co_return out;
  }

  // --- Merged views ---

  // Package-group and package-level origin controls of a project.
  // Read on the blocking pool.
  asio::awaitable<OriginPolicy> origin_policy(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              const std::string& project) {
    co_return co_await load_policy(ctx, domain, repo, std::string(k_format), "", project);
  }

  // The repository's own (published) files of a project; with `stored_ingested` also the files
  // already ingested from its external connection (listed from the store while origin controls
  // keep the connection's page out: stored versions stay available).
  Result<std::vector<ViewFile>> own_files(const config::DomainConfig& domain,
                                          const config::RepositoryConfig& repo,
                                          const std::string& project, std::string& display_name,
                                          bool stored_ingested = false) {
    PackageKey k{domain.name, repo.name, std::string(k_format), "", project};
    ARCA_TRY(auto versions, list_versions(ctx.store, k));
    std::vector<ViewFile> out;
    for (auto& v : versions) {
      if (v.origin != "INTERNAL" && !stored_ingested) continue;
      if (v.status != "Published" && v.status != "Unlisted") continue;
      json manifest = parse_manifest(v.manifest);
      if (display_name.empty()) display_name = str_field(manifest, "name");
      json files = manifest.contains("files") && manifest["files"].is_object() ? manifest["files"]
                                                                               : json::object();
      for (auto& [asset_name, asset] : v.assets) {
        if (asset_name.size() > 9 && asset_name.compare(asset_name.size() - 9, 9, ".metadata") == 0)
          continue;
        ViewFile f;
        f.origin = Origin{&repo, nullptr};
        f.version = v.version;
        f.file.filename = asset_name;
        f.file.hashes["sha256"] = asset.sha256_hex;
        f.file.size = asset.size;
        f.file.upload_time = iso8601(v.published_unix_ms);
        if (auto it = files.find(asset_name); it != files.end() && it->is_object()) {
          f.file.requires_python = str_field(*it, "requires_python");
          std::string meta = str_field(*it, "metadata_sha256");
          if (!meta.empty()) {
            f.file.core_metadata = true;
            f.file.core_metadata_hashes["sha256"] = meta;
          }
          if (auto y = it->find("yanked"); y != it->end() && y->is_boolean() && y->get<bool>()) {
            f.file.yanked = true;
            f.file.yanked_reason = str_field(*it, "yanked_reason");
          }
          std::string uploaded = str_field(*it, "upload_time");
          if (!uploaded.empty()) f.file.upload_time = uploaded;
        }
        out.push_back(std::move(f));
      }
    }
    return out;
  }

  asio::awaitable<Result<ViewPtr>> view(const config::DomainConfig& domain,
                                        const config::RepositoryConfig& repo, std::string project) {
    const std::string key = domain.name + '\x1f' + repo.name + '\x1f' + project;
    const uint64_t generation = ctx.generations.package(domain.name, k_format, "", project);
    if (auto v = views.find(key, generation)) co_return *v;
    auto [flight, leader] = views.join(key);
    if (!leader) co_return co_await views.wait(flight);
    Result<ViewPtr> result = co_await build_view(domain, repo, project, key, generation);
    views.complete(key, flight, result);
    co_return result;
  }

  asio::awaitable<Result<ViewPtr>> build_view(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string project, std::string key,
                                              uint64_t generation) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto view = std::make_shared<View>();
    view->generation = generation;
    view->fresh_until_ms = std::numeric_limits<int64_t>::max();
    // Origin controls: an upstream repository's files come in only when INTERNAL_UPSTREAM
    // allows the repository asked; an external connection's page only when EXTERNAL_UPSTREAM
    // allows the repository that owns the connection. What is already stored stays listed.
    const OriginPolicy policy = co_await origin_policy(domain, repo, project);
    auto access = repo::view_access(ctx.topology, k_format, repo, order, policy);
    view->blocked = std::move(access.blocked);
    const auto& reachable = access.reachable;
    const auto& connection_open = access.connection_open;
    std::string display_name;
    auto own = co_await offload(ctx.pool, [&]() -> Result<std::vector<ViewFile>> {
      std::vector<ViewFile> all;
      for (size_t i = 0; i < order.size(); ++i) {
        if (!reachable[i]) continue;
        // Ingested and retained files come from the store unless this repository's own open
        // connection lists them (then its page does, with fresh yanked flags).
        auto* ec = ctx.topology.external_connection(*order[i]);
        const bool page_lists = ec && ec->serves(k_format) && connection_open[i];
        ARCA_TRY(auto files, own_files(domain, *order[i], project, display_name, !page_lists));
        for (auto& f : files) all.push_back(std::move(f));
      }
      return all;
    });
    if (!own) co_return own.error();
    auto add = [&](ViewFile&& f) {
      if (view->by_filename.count(f.file.filename)) return;
      view->by_filename[f.file.filename] = view->files.size();
      if (!f.version.empty()) view->versions.push_back(f.version);
      view->files.push_back(std::move(f));
    };
    for (auto& f : *own) add(std::move(f));
    bool any_source = !own->empty();
    std::optional<Error> upstream_failure;
    for (size_t i = 0; i < order.size(); ++i) {
      auto* r = order[i];
      auto* ec = ctx.topology.external_connection(*r);
      if (!ec || !ec->serves(k_format) || !connection_open[i]) continue;
      auto page = co_await upstream_page(ec, project);
      if (!page) {
        upstream_failure = page.error();
        view->fresh_until_ms = std::min(view->fresh_until_ms, now_unix_ms() + 1000);
        continue;
      }
      view->fresh_until_ms = std::min(view->fresh_until_ms, page->fresh_until_ms);
      if (!page->page) continue;
      any_source = true;
      if (display_name.empty()) display_name = page->page->name;
      for (auto& v : page->page->versions) view->versions.push_back(v);
      for (auto& file : page->page->files) {
        ViewFile f;
        f.file = file;
        f.origin = Origin{r, ec};
        if (auto parsed = pypi::parse_filename(file.filename, project)) f.version = parsed->version;
        add(std::move(f));
      }
    }
    view->found = any_source;
    if (!any_source && upstream_failure) view->missing_reason = upstream_failure->message;
    view->name = display_name.empty() ? project : display_name;
    {
      pypi::ProjectPage tmp;
      tmp.versions = std::move(view->versions);
      pypi::fill_versions(tmp, project);
      view->versions = std::move(tmp.versions);
    }
    views.put(key, view, 4096 + view->files.size() * 512);
    co_return view;
  }

  static std::string file_url(const std::string& base, const std::string& project,
                              const std::string& filename) {
    return base + "files/" + project + "/" + pypi::url_escape(filename);
  }

  std::shared_ptr<const std::string> render(View& view, const std::string& base,
                                            const std::string& project, pypi::PageFormat format) {
    const std::string key = base + '\x1f' + std::string(pypi::content_type(format));
    {
      std::lock_guard lock(view.mutex);
      if (auto it = view.rendered.find(key); it != view.rendered.end()) return it->second;
    }
    pypi::ProjectPage page;
    page.name = project;  // PEP 691: the normalized name
    page.versions = view.versions;
    for (auto& vf : view.files) {
      pypi::File f = vf.file;
      f.url = file_url(base, project, f.filename);
      // Core metadata is advertised only when arca can verify it: its sha256 is known.
      if (f.core_metadata && !f.core_metadata_hashes.count("sha256")) {
        f.core_metadata = false;
        f.core_metadata_hashes.clear();
      }
      page.files.push_back(std::move(f));
    }
    auto body = std::make_shared<const std::string>(format == pypi::PageFormat::json
                                                        ? pypi::render_project_json(page)
                                                        : pypi::render_project_html(page));
    std::lock_guard lock(view.mutex);
    // A bounded number of variants (base URL from the client's Host, times two page formats),
    // so that many Host values cannot grow memory without limit.
    if (view.rendered.size() >= 4 && !view.rendered.count(key)) view.rendered.erase(view.rendered.begin());
    view.rendered[key] = body;
    return body;
  }

  // --- Handlers ---

  asio::awaitable<void> project_page(Exchange& ex, const config::DomainConfig& domain,
                                     const config::RepositoryConfig& repo, std::string project) {
    auto v = co_await view(domain, repo, project);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    if (!(*v)->found) {
      // Nothing stored here and no upstream could say: 502 with the reason (pip reports it),
      // rather than a 404 that pip would take for "no such project".
      if (!(*v)->missing_reason.empty()) {
        co_await error(
            ex, 502,
            "Bad Gateway: the upstream index failed for " + project + ": " + (*v)->missing_reason);
        co_return;
      }
      std::string message = "Not Found: no project named " + project;
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return;
    }
    const auto& req = ex.request();
    const auto format = pypi::negotiate(req.header("accept"));
    // Rendering a large page runs on the blocking pool.
    const std::string base = base_url(ex, domain, repo);
    View* view = v->get();
    auto body = co_await offload(ctx.pool, [this, view, &base, &project, format] {
      return render(*view, base, project, format);
    });
    std::string etag = "\"" + to_hex(sha256_of(*body)).substr(0, 32) + "\"";
    Headers headers{{"Content-Type", std::string(pypi::content_type(format))},
                    {"ETag", etag},
                    {"Vary", "Accept, Accept-Encoding"},
                    {"Cache-Control", "max-age=0, must-revalidate"}};
    if (req.header("if-none-match") == etag) {
      co_await ex.respond(304, std::move(headers), std::string());
      co_return;
    }
    co_await ex.respond_shared(200, std::move(headers), std::move(body));
  }

  asio::awaitable<void> project_list(Exchange& ex, const config::DomainConfig& domain,
                                     const config::RepositoryConfig& repo) {
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    auto names = co_await offload(ctx.pool, [&]() -> Result<std::vector<std::string>> {
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
    if (!names) {
      co_await error(ex, status_for(names.error()), names.error().message);
      co_return;
    }
    const auto format = pypi::negotiate(ex.request().header("accept"));
    std::string body;
    if (format == pypi::PageFormat::json)
      body = pypi::render_index_json(*names);
    else
      body = pypi::render_index_html(*names);
    Headers headers{{"Content-Type", std::string(pypi::content_type(format))}, {"Vary", "Accept"}};
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  asio::awaitable<void> file(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo, std::string project,
                             std::string filename) {
    bool metadata = false;
    std::string dist_name = filename;
    if (dist_name.size() > 9 && dist_name.compare(dist_name.size() - 9, 9, ".metadata") == 0) {
      metadata = true;
      dist_name.resize(dist_name.size() - 9);
    }
    if (!pypi::valid_filename(dist_name)) {
      auto dist = pypi::parse_filename(dist_name, project);
      std::string message = "invalid file name";
      if (!dist) message = dist.error().message;
      co_await error(ex, 400, std::move(message));
      co_return;
    }
    Headers headers;
    if (metadata)
      headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    else
      headers.emplace_back("Content-Type", "application/octet-stream");
    headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    auto order = ctx.topology.resolution_order(domain.name, repo.name);
    const OriginPolicy policy = co_await origin_policy(domain, repo, project);
    const PackageKey key{domain.name, repo.name, std::string(k_format), "", project};
    // Stored in this repository or one it may take from: serve it (and retain it here).
    auto stored = co_await locate_stored(ctx, order, policy, key, filename, std::string());
    if (!stored) {
      co_await error(ex, 500, stored.error().message);
      co_return;
    }
    if (stored->found) {
      co_await serve_located(ctx, ex, repo, *stored->found, key, std::string(), std::move(headers));
      co_return;
    }
    auto v = co_await view(domain, repo, project);
    if (!v) {
      co_await error(ex, status_for(v.error()), v.error().message);
      co_return;
    }
    auto it = (*v)->by_filename.find(dist_name);
    if (it == (*v)->by_filename.end()) {
      std::string message = "Not Found: " + filename;
      if (!(*v)->blocked.empty()) message += " (new versions are not taken: " + (*v)->blocked + ")";
      co_await error(ex, 404, std::move(message));
      co_return;
    }
    const ViewFile& vf = (*v)->files[it->second];
    if (!vf.origin.connection) {
      co_await error(ex, 404, "Not Found: " + filename);
      co_return;
    }
    FillSpec spec;
    if (metadata) {
      auto h = vf.file.core_metadata_hashes.find("sha256");
      if (!vf.file.core_metadata || h == vf.file.core_metadata_hashes.end()) {
        co_await error(
            ex, 404, "Not Found: the upstream offers no verifiable core metadata for " + dist_name);
        co_return;
      }
      spec.sha256 = from_hex<32>(h->second);
      spec.request.url = vf.file.url + ".metadata";
    } else {
      if (auto h = vf.file.hashes.find("sha256"); h != vf.file.hashes.end())
        spec.sha256 = from_hex<32>(h->second);
      if (auto h = vf.file.hashes.find("sha512"); h != vf.file.hashes.end())
        spec.sha512 = from_hex<64>(h->second);
      if (auto h = vf.file.hashes.find("sha1"); h != vf.file.hashes.end())
        spec.sha1 = from_hex<20>(h->second);
      spec.request.url = vf.file.url;
    }
    const auto* owner = vf.origin.repo;
    spec.key = domain.name + '\x1f' + owner->name + "\x1fpypi\x1f" + project + '\x1f' + filename;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = vf.version;
    arrival.asset = filename;
    // A .metadata file (PEP 658) is an asset of its own, listed in no version record.
    arrival.asset_only = metadata || vf.version.empty();
    std::string display = (*v)->name;
    pypi::File file_info = vf.file;
    arrival.shape = [display, file_info, filename](VersionRecord& vr, const cache::BlobRecord&) {
      json manifest = parse_manifest(vr.manifest);
      if (!manifest.contains("name")) manifest["name"] = display;
      if (!manifest.contains("files") || !manifest["files"].is_object())
        manifest["files"] = json::object();
      manifest["files"][filename] = {{"requires_python", file_info.requires_python},
                                     {"upload_time", file_info.upload_time}};
      vr.manifest = dump(manifest);
    };
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner, repo,
                             std::move(headers));
    if (!filled) {
      const Error e = filled.error();
      co_await error(ex, status_for(e), e.message);
    }
  }

  struct UploadOutcome {
    bool already_there = false;
    std::string project;
    std::string version;
  };

  asio::awaitable<void> upload(Exchange& ex, const config::DomainConfig& domain,
                               const config::RepositoryConfig& repo) {
    const Request& req = ex.request();
    if (req.method != "POST") {
      co_await error(ex, 405,
                     "Method Not Allowed: upload with POST (twine upload --repository-url " +
                         base_url(ex, domain, repo) + ")");
      co_return;
    }
    auto parts = pypi::parse_multipart(req.body, req.header("content-type"));
    if (!parts) {
      co_await error(ex, 400, parts.error().message);
      co_return;
    }
    auto up = pypi::parse_upload(*parts);
    if (!up) {
      co_await error(ex, 400, up.error().message);
      co_return;
    }
    if (const OriginPolicy policy = co_await origin_policy(domain, repo, up->project);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      // twine shows this body with --verbose (and the status without).
      std::string message = "Forbidden: publishing " + up->project + " to repository " +
                            repo.name + " is not allowed by " +
                            policy.blocker(pg::RestrictionType::publish, repo.name);
      co_await error(ex, 403, std::move(message));
      co_return;
    }
    // A version reachable through an upstream repository or the external connection cannot be
    // published here (CodeArtifact user guide, "Private packages and public repositories": 409).
    // The view leaves out what origin controls keep out, so with the package's upstream control
    // at BLOCK any version not stored here may be uploaded. An unreachable upstream does not
    // block uploads.
    if (auto v = co_await view(domain, repo, up->project); v && (*v)->found) {
      const std::string wanted = pypi::canonical_version(up->version);
      for (auto& f : (*v)->files) {
        if (f.version.empty() || pypi::canonical_version(f.version) != wanted) continue;
        if (auto conflict = repo::publish_conflict(f.origin, repo.name,
                                                   up->project + " " + up->version, "uploaded")) {
          co_await error(ex, 409, std::move(*conflict));
          co_return;
        }
      }
    }
    // Core metadata from wheels: PEP 658 and the dependency list; it must agree with the form.
    std::string metadata;
    std::vector<std::string> requires_dist = up->requires_dist;
    std::string requires_python = up->requires_python;
    auto dist = pypi::parse_filename(up->filename, up->project);
    if (dist && dist->kind == pypi::FileKind::wheel) {
      auto extracted = pypi::wheel_metadata(up->content, *dist);
      if (!extracted) {
        co_await error(ex, 400, "invalid wheel: " + extracted.error().message);
        co_return;
      }
      auto core = pypi::parse_core_metadata(*extracted);
      if (!core) {
        co_await error(ex, 400, "invalid wheel: " + core.error().message);
        co_return;
      }
      if (pypi::normalize_name(core->name) != up->project) {
        co_await error(
            ex, 400,
            "the wheel's METADATA names project '" + core->name + "', the form '" + up->name + "'");
        co_return;
      }
      if (pypi::canonical_version(core->version) != pypi::canonical_version(up->version)) {
        co_await error(ex, 400,
                       "the wheel's METADATA has version '" + core->version + "', the form '" +
                           up->version + "'");
        co_return;
      }
      metadata = std::move(*extracted);
      requires_dist = core->requires_dist;
      if (!core->requires_python.empty()) requires_python = core->requires_python;
    }
    PackageKey k{domain.name, repo.name, std::string(k_format), "", up->project};
    auto& upload = *up;
    auto commit = [this, &k, &upload, &metadata, &requires_dist,
                   &requires_python]() -> Result<UploadOutcome> {
      std::lock_guard lock(publish_mutex);
      UploadOutcome outcome{false, upload.project, upload.version};
      ARCA_TRY(auto existing_asset, find_asset(ctx.store, k, upload.filename));
      if (existing_asset) {
        if (existing_asset->sha256_hex == upload.sha256_hex) {
          outcome.already_there = true;
          return outcome;
        }
        return make_error(Errc::conflict, "File already exists ('" + upload.filename +
                                              "' was uploaded before with different content). "
                                              "A file name can be used only once.");
      }
      // The same version may be stored under another spelling ("1.0" vs "1.0.0").
      ARCA_TRY(auto versions, list_versions(ctx.store, k));
      std::string version = upload.version;
      std::optional<VersionRecord> record;
      for (auto& v : versions) {
        if (pypi::canonical_version(v.version) == pypi::canonical_version(upload.version)) {
          version = v.version;
          record = v;
          break;
        }
      }
      const int64_t now = now_unix_ms();
      cache::Batch batch;
      ARCA_TRY(auto writer, ctx.store.begin_blob());
      ARCA_TRY_VOID(writer->append(upload.content));
      ARCA_TRY(auto blob, writer->finish());
      batch.add_blob(*writer);
      std::unique_ptr<cache::BlobWriter> meta_writer;
      std::string metadata_sha;
      if (!metadata.empty()) {
        ARCA_TRY(auto mw, ctx.store.begin_blob());
        meta_writer = std::move(mw);
        ARCA_TRY_VOID(meta_writer->append(metadata));
        ARCA_TRY(auto mrec, meta_writer->finish());
        batch.add_blob(*meta_writer);
        metadata_sha = to_hex(mrec.digests.sha256);
        AssetRecord meta_asset{version, metadata_sha, mrec.size};
        batch.put(cache::Space::index, asset_key(k, upload.filename + ".metadata"),
                  encode(meta_asset));
      }
      AssetRecord asset{version, to_hex(blob.digests.sha256), blob.size};
      VersionRecord vr;
      if (record && record->origin == "INTERNAL") {
        vr = *record;
      } else {
        vr.version = version;
        vr.origin = "INTERNAL";
        vr.published_unix_ms = now;
      }
      vr.status = "Published";
      json manifest = parse_manifest(vr.manifest);
      manifest["name"] = upload.name;
      if (!upload.summary.empty()) manifest["summary"] = upload.summary;
      json deps = json::array();
      for (auto& d : requires_dist) deps.push_back(d);
      manifest["requires_dist"] = deps;
      if (!manifest.contains("files") || !manifest["files"].is_object())
        manifest["files"] = json::object();
      json entry = {
          {"requires_python", requires_python}, {"upload_time", iso8601(now)}, {"size", blob.size}};
      if (!metadata_sha.empty()) entry["metadata_sha256"] = metadata_sha;
      manifest["files"][upload.filename] = entry;
      vr.manifest = dump(manifest);
      vr.assets.emplace_back(upload.filename, asset);
      batch.put(cache::Space::index, version_key(k, version), encode(vr));
      batch.put(cache::Space::index, asset_key(k, upload.filename), encode(asset));
      ARCA_TRY(auto pkg, find_package(ctx.store, k));
      if (!pkg)
        batch.put(cache::Space::index, package_key(k), encode(PackageRecord{json::object(), now}));
      ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
      ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
      return outcome;
    };
    auto result = co_await offload(ctx.pool, std::move(commit));
    if (!result) {
      // PyPI answers a reused file name with 400 "File already exists".
      unsigned status = result.error().code == Errc::conflict ? 400 : status_for(result.error());
      co_await error(ex, status, result.error().message);
      co_return;
    }
    if (!result->already_there) {
      ctx.generations.package_changed(domain.name, k_format, "", result->project);
      ++ctx.metrics.publishes;
      ARCA_LOG_INFO("uploaded {} ({} {}) to {}/{}", up->filename, result->project, result->version,
                    domain.name, repo.name);
    }
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(200, std::move(headers), "OK\n");
  }
};

bool PypiHandler::is_publish(const Request& request, std::string_view rest) const {
  return request.method == "POST" && (rest.empty() || rest == "legacy" || rest == "legacy/");
}

asio::awaitable<void> PypiHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                          const config::RepositoryConfig& repo, std::string rest) {
  auto& impl = *this;
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  // Uploads: twine POSTs to the repository URL itself (or .../legacy/).
  if (rest.empty() || rest == "legacy" || rest == "legacy/") {
    if (method == "POST") {
      co_await impl.upload(ex, domain, repo);
    } else if (read) {
      co_await impl.redirect(ex, impl.base_url(ex, domain, repo) + "simple/");
    } else {
      co_await impl.error(ex, 405, "Method Not Allowed");
    }
    co_return;
  }
  std::vector<std::string> segments;
  for (auto raw : split(rest, '/')) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      co_await impl.error(ex, 400, "malformed percent-encoding in the path");
      co_return;
    }
    segments.push_back(std::move(*decoded));
  }
  const bool trailing_slash = !rest.empty() && rest.back() == '/';
  if (trailing_slash) segments.pop_back();
  if (!read) {
    co_await impl.error(ex, 405, "Method Not Allowed");
    co_return;
  }
  if (segments[0] == "simple") {
    if (segments.size() == 1) {
      if (!trailing_slash)
        co_await impl.redirect(ex, impl.base_url(ex, domain, repo) + "simple/");
      else
        co_await impl.project_list(ex, domain, repo);
      co_return;
    }
    if (segments.size() == 2) {
      auto project = pypi::parse_project_name(segments[1]);
      if (!project) {
        co_await impl.error(ex, 400, project.error().message);
        co_return;
      }
      if (*project != segments[1] || !trailing_slash) {
        co_await impl.redirect(ex, impl.base_url(ex, domain, repo) + "simple/" + *project + "/");
        co_return;
      }
      co_await impl.project_page(ex, domain, repo, *project);
      co_return;
    }
  }
  if (segments[0] == "files" && segments.size() == 3 && !trailing_slash) {
    auto project = pypi::parse_project_name(segments[1]);
    if (!project) {
      co_await impl.error(ex, 400, project.error().message);
      co_return;
    }
    co_await impl.file(ex, domain, repo, *project, segments[2]);
    co_return;
  }
  co_await impl.error(ex, 404, "Not Found");
}

namespace pypi {
FormatPtr make_format(Context& context) { return std::make_unique<PypiHandler>(context); }
}  // namespace pypi

}  // namespace arca::formats
