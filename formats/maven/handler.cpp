// The Maven 2 repository layout over a repository: GET/HEAD of any path (files from the
// repository, its upstreams or its external connection; maven-metadata.xml generated from the
// repository's content merged with its upstreams' and the upstream's cached metadata; .md5,
// .sha1, .sha256 and .sha512 computed from the stored bytes), and PUT for `mvn deploy`.
//
// URL layout under /<domain>/maven/<repo>/:
//   <group/path>/<artifactId>/maven-metadata.xml              artifact-level metadata
//   <group/path>/<artifactId>/<version>/maven-metadata.xml    SNAPSHOT-version metadata
//   <group/path>/<artifactId>/<version>/<file>                a file of a version
//   any of these + .md5/.sha1/.sha256/.sha512                 its checksum
//
// Index: namespace = groupId, name = artifactId; assets are named by file name (uploaded
// metadata as "maven-metadata.xml" and "<version>/maven-metadata.xml").
//
// Thread-safety: one MavenHandler serves all connections; publishes are serialized by a mutex.

#include "formats/format.hpp"

#include "common/log.hpp"
#include "formats/maven/maven.hpp"
#include "net/assets.hpp"
#include "formats/asset_path.hpp"
#include "net/blocking.hpp"
#include "common/flights.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "formats/upstream_documents.hpp"

#include <mutex>
#include <set>

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;
namespace pg = repo::groups;
using json = nlohmann::json;

namespace {

constexpr std::string_view k_format = "maven";
constexpr size_t k_max_checksum_bytes = 1024;

// A cached upstream maven-metadata.xml (validated before it is stored); not found: empty body.
struct UpstreamDoc {
  bool found = false;
  std::string body;
};

std::string content_type_for(std::string_view filename) {
  auto ends = [&](std::string_view s) {
    return filename.size() >= s.size() && filename.substr(filename.size() - s.size()) == s;
  };
  if (ends(".jar") || ends(".war") || ends(".ear")) return "application/java-archive";
  if (ends(".pom") || ends(".xml")) return "text/xml";
  return "application/octet-stream";
}

std::string checksum_hex(const Digests& d, maven::ChecksumKind kind) {
  switch (kind) {
    case maven::ChecksumKind::md5:
      return to_hex(d.md5);
    case maven::ChecksumKind::sha1:
      return to_hex(d.sha1);
    case maven::ChecksumKind::sha256:
      return to_hex(d.sha256);
    case maven::ChecksumKind::sha512:
      return to_hex(d.sha512);
    case maven::ChecksumKind::none:
      break;
  }
  return "";
}

// The asset name a path is stored under in its package.
std::string asset_name(const maven::Path& p) {
  if (p.kind == maven::PathKind::version_metadata) return p.version + "/maven-metadata.xml";
  return p.filename;
}

bool is_public(const config::ExternalConnectionConfig& ec) {
  return ec.name.rfind("public:", 0) == 0;
}

bool listed(const VersionRecord& v) { return v.status == "Published" || v.status == "Unlisted"; }

struct PutOutcome {
  unsigned status = 201;
  std::string message;
  bool changed = false;
};

}  // namespace

// The digests an upstream declares for a file in its checksum siblings.
struct DeclaredChecksum {
  std::optional<Sha1> sha1;
  std::optional<Sha256> sha256;
};

// The handler (one per process, from make_maven_handler).
struct MavenHandler final : Format {
  std::string_view name() const override { return "maven"; }
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo,
                                      std::string rest) override;
  bool is_publish(const Request& request, std::string_view rest) const override;

  Context& ctx;
  UpstreamDocuments documents;
  Flights<Result<DeclaredChecksum>> checksums;
  std::mutex publish_mutex;

  explicit MavenHandler(Context& c) : ctx(c), documents(c, document_traits(), 0) {}

  asio::awaitable<void> error(Exchange& ex, unsigned status, std::string message) {
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    message = std::to_string(status) + " " + message + "\n";
    co_await ex.respond(status, std::move(headers), std::move(message));
  }

  // Package-group and package-level origin controls of an artifact (namespace = groupId).
  // Read on the blocking pool.
  asio::awaitable<OriginPolicy> origin_policy(const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              const maven::Path& p) {
    co_return co_await load_policy(ctx, domain, repo, std::string(k_format), p.group_id,
                                   p.artifact_id);
  }

  // The repositories whose content the asking repository may take for an artifact: itself, and
  // its upstreams when INTERNAL_UPSTREAM allows it.
  // The external connection of `r` when new versions may be ingested through it.
  const config::ExternalConnectionConfig* open_connection(const config::RepositoryConfig& r,
                                                          const OriginPolicy& policy) const {
    auto* ec = ctx.topology.external_connection(r);
    if (!ec || !ec->serves(k_format)) return nullptr;
    if (!policy.allows(pg::RestrictionType::external_upstream, r.name)) return nullptr;
    return ec;
  }


  static std::string metadata_path(const maven::Path& p) {
    std::string s = p.group_path + "/" + p.artifact_id + "/";
    if (p.kind == maven::PathKind::version_metadata) s += p.version + "/";
    return s + "maven-metadata.xml";
  }

  // --- Upstream metadata (formats/upstream_documents.hpp; store only, validated first) ---

  static Result<std::shared_ptr<const void>> check_metadata(std::string& body, const ResponseHead&,
                                                            const std::string&,
                                                            const std::string& path) {
    auto parsed = maven::parse_metadata(body);
    if (!parsed) {
      return make_error(Errc::upstream_error,
                        "the upstream's " + path + " is invalid: " + parsed.error().message);
    }
    return std::shared_ptr<const void>();
  }

  static DocumentTraits document_traits() {
    DocumentTraits t;
    t.meta_prefix = std::string(k_format);
    t.format = std::string(k_format);
    t.gzip = false;
    t.max_bytes = maven::k_max_metadata_bytes;
    t.memory = false;
    t.persist_absent = true;
    t.parse_response = &check_metadata;
    return t;
  }

  asio::awaitable<Result<UpstreamDoc>> upstream_doc(const config::ExternalConnectionConfig* ec,
                                                    std::string path) {
    DocumentRequest request;
    request.key = path;
    request.what = path;
    request.url = std::move(path);
    auto d = co_await documents.get(ec, std::move(request));
    if (!d) co_return d.error();
    UpstreamDoc out;
    out.found = d->found;
    out.body = std::move(d->body);
    co_return out;
  }

  // --- Reads ---

  // The stored blob of a path in the repository or one of its upstreams.
  // Serves `body` or, for a checksum request, its checksum.
  asio::awaitable<void> respond_document(Exchange& ex, const maven::Path& p, std::string body,
                                         std::string content_type) {
    if (p.checksum != maven::ChecksumKind::none) {
      Headers headers{{"Content-Type", "text/plain"}};
      co_await ex.respond(200, std::move(headers), checksum_hex(digest_of(body), p.checksum));
      co_return;
    }
    Headers headers{{"Content-Type", content_type}, {"Cache-Control", "no-cache"}};
    co_await ex.respond(200, std::move(headers), std::move(body));
  }

  // Every stored version of the artifact in each repository of `order` (on the blocking pool).
  asio::awaitable<Result<std::vector<std::vector<VersionRecord>>>> stored_versions(
      const config::DomainConfig& domain, const repo::RepositoryList& order,
      const maven::Path& p) {
    co_return co_await offload(ctx.pool, [&]() -> Result<std::vector<std::vector<VersionRecord>>> {
      std::vector<std::vector<VersionRecord>> out;
      for (auto* r : order) {
        PackageKey k{domain.name, r->name, std::string(k_format), p.group_id, p.artifact_id};
        ARCA_TRY(auto versions, list_versions(ctx.store, k));
        out.push_back(std::move(versions));
      }
      return out;
    });
  }

  // The artifact's `p.version` record in each repository of `order` (on the blocking pool).
  asio::awaitable<Result<std::vector<std::optional<VersionRecord>>>> stored_version(
      const config::DomainConfig& domain, const repo::RepositoryList& order,
      const maven::Path& p) {
    co_return co_await offload(ctx.pool, [&]() -> Result<std::vector<std::optional<VersionRecord>>> {
      std::vector<std::optional<VersionRecord>> out;
      for (auto* r : order) {
        PackageKey k{domain.name, r->name, std::string(k_format), p.group_id, p.artifact_id};
        ARCA_TRY(auto v, find_version(ctx.store, k, p.version));
        out.push_back(std::move(v));
      }
      return out;
    });
  }

  // The maven-metadata.xml at `path` of each open external connection in `order` that has one:
  // which connection, the body, and what it parses to. `failure`: the last upstream or parse
  // error (those connections are left out).
  struct ConnectionMetadata {
    repo::Source source;
    std::string body;
    maven::Metadata parsed;
  };
  struct ConnectionsMetadata {
    std::vector<ConnectionMetadata> found;
    std::optional<Error> failure;
  };
  asio::awaitable<ConnectionsMetadata> connections_metadata(const repo::RepositoryList& order,
                                                            const OriginPolicy& policy,
                                                            std::string path) {
    ConnectionsMetadata out;
    for (auto* r : order) {
      auto* ec = open_connection(*r, policy);
      if (!ec) continue;
      auto doc = co_await upstream_doc(ec, path);
      if (!doc) {
        out.failure = doc.error();
        continue;
      }
      if (!doc->found) continue;
      auto parsed = maven::parse_metadata(doc->body);
      if (!parsed) {
        out.failure = parsed.error();
        continue;
      }
      out.found.push_back(ConnectionMetadata{repo::Source{r, ec}, doc->body, std::move(*parsed)});
    }
    co_return out;
  }

  // SNAPSHOT versions are never taken from public external connections.
  static bool takes_version(const config::ExternalConnectionConfig& ec, const std::string& v) {
    return !(is_public(ec) && maven::is_snapshot(v));
  }

  asio::awaitable<void> artifact_metadata(Exchange& ex, const config::DomainConfig& domain,
                                          const config::RepositoryConfig& repo, maven::Path p) {
    const OriginPolicy policy = co_await origin_policy(domain, repo, p);
    auto order = repo::reachable(ctx.topology.resolution_order(domain.name, repo.name), policy);
    maven::Metadata m;
    m.group_id = p.group_id;
    m.artifact_id = p.artifact_id;
    int64_t newest_ms = 0;
    bool own = false;
    auto stored = co_await stored_versions(domain, order, p);
    if (!stored) {
      co_await error(ex, 500, stored.error().message);
      co_return;
    }
    for (auto& versions : *stored) {
      for (auto& v : versions) {
        if (!listed(v)) continue;
        own = true;
        m.versions.push_back(v.version);
        newest_ms = std::max(newest_ms, v.published_unix_ms);
      }
    }
    std::string passthrough;
    std::string upstream_updated;
    const std::string path = metadata_path(p);
    auto upstream = co_await connections_metadata(order, policy, path);
    const std::optional<Error>& upstream_failure = upstream.failure;
    for (auto& d : upstream.found) {
      if (d.parsed.versions.empty() && d.parsed.has_plugins) {
        // Group-level metadata (plugin prefixes) at an ambiguous path: pass it through.
        if (passthrough.empty()) passthrough = d.body;
        continue;
      }
      for (auto& v : d.parsed.versions) {
        if (takes_version(*d.source.connection, v)) m.versions.push_back(v);
      }
      upstream_updated = std::max(upstream_updated, d.parsed.last_updated);
    }
    if (m.versions.empty()) {
      if (!passthrough.empty() && !own) {
        co_await respond_document(ex, p, std::move(passthrough), "text/xml");
      } else if (upstream_failure) {
        co_await error(ex, 502, "upstream metadata unavailable: " + upstream_failure->message);
      } else {
        co_await error(ex, 404, "Not Found: " + path);
      }
      co_return;
    }
    if (upstream_failure) {
      ARCA_LOG_WARN("[R{}] {}: merged without an upstream: {}", ex.request().id, path,
                    upstream_failure->message);
    }
    maven::fill_latest_release(m);
    m.last_updated =
        std::max(newest_ms ? maven::maven_timestamp(newest_ms) : std::string(), upstream_updated);
    co_await respond_document(ex, p, maven::render_metadata(m), "text/xml");
  }

  asio::awaitable<void> version_metadata(Exchange& ex, const config::DomainConfig& domain,
                                         const config::RepositoryConfig& repo, maven::Path p) {
    const OriginPolicy policy = co_await origin_policy(domain, repo, p);
    auto order = repo::reachable(ctx.topology.resolution_order(domain.name, repo.name), policy);
    // Published builds come from the repositories' own (INTERNAL) content; builds cached from
    // an upstream are listed from the upstream's metadata while it answers, else from the cache.
    std::vector<std::string> own_files, cached_files;
    auto stored = co_await stored_version(domain, order, p);
    if (!stored) {
      co_await error(ex, 500, stored.error().message);
      co_return;
    }
    for (auto& v : *stored) {
      if (!v || v->status == "Archived" || v->status == "Disposed") continue;
      auto& target = v->origin == "INTERNAL" ? own_files : cached_files;
      for (auto& [name, asset] : v->assets) target.push_back(name);
    }
    auto m = maven::snapshot_metadata(p.group_id, p.artifact_id, p.version, own_files);
    if (!m.snapshot_versions.empty()) {
      co_await respond_document(ex, p, maven::render_metadata(m), "text/xml");
      co_return;
    }
    // SNAPSHOT metadata only from upstreams that are not public external connections.
    const std::string path = metadata_path(p);
    for (auto* r : order) {
      auto* ec = open_connection(*r, policy);
      if (!ec || is_public(*ec)) continue;
      auto doc = co_await upstream_doc(ec, path);
      if (doc && doc->found) {
        co_await respond_document(ex, p, doc->body, "text/xml");
        co_return;
      }
    }
    m = maven::snapshot_metadata(p.group_id, p.artifact_id, p.version, cached_files);
    if (!m.snapshot_versions.empty()) {
      co_await respond_document(ex, p, maven::render_metadata(m), "text/xml");
      co_return;
    }
    co_await error(ex, 404, "Not Found: " + path);
  }

  // A directory URL ("<group path>/<artifactId>/" or ".../<artifactId>/<version>/", as Gradle
  // and Ivy ask when maven-metadata.xml is missing): an HTML listing of the versions of the
  // artifact (stored here or in reachable upstream repositories, or named by an external
  // connection's maven-metadata.xml) or of the files of the version stored here or in reachable
  // upstream repositories; 404 when nothing is there. A path is read both ways (the last segment
  // as an artifactId, then as a version).
  asio::awaitable<void> directory(Exchange& ex, const config::DomainConfig& domain,
                                  const config::RepositoryConfig& repo,
                                  std::vector<std::string> segments, std::string display) {
    std::vector<std::string> entries;
    if (segments.size() >= 2) {
      maven::Path a;
      a.kind = maven::PathKind::artifact_metadata;
      a.artifact_id = segments.back();
      for (size_t i = 0; i + 1 < segments.size(); ++i) {
        a.group_id += (i ? "." : "") + segments[i];
        a.group_path += (i ? "/" : "") + segments[i];
      }
      const OriginPolicy policy = co_await origin_policy(domain, repo, a);
      auto order = repo::reachable(ctx.topology.resolution_order(domain.name, repo.name), policy);
      std::vector<std::string> versions;
      auto stored = co_await stored_versions(domain, order, a);
      if (!stored) {
        co_await error(ex, 500, stored.error().message);
        co_return;
      }
      for (auto& list : *stored) {
        for (auto& v : list) {
          if (listed(v)) versions.push_back(v.version);
        }
      }
      const std::string path = metadata_path(a);
      auto upstream = co_await connections_metadata(order, policy, path);
      for (auto& d : upstream.found) {
        for (auto& v : d.parsed.versions) {
          if (takes_version(*d.source.connection, v)) versions.push_back(v);
        }
      }
      maven::sort_versions(versions);
      for (auto& v : versions) entries.push_back(v + "/");
      if (!versions.empty()) {
        for (const char* f : {"maven-metadata.xml", "maven-metadata.xml.md5", "maven-metadata.xml.sha1"}) {
          entries.emplace_back(f);
        }
      }
    }
    if (segments.size() >= 3) {
      maven::Path b;
      b.kind = maven::PathKind::file;
      b.version = segments.back();
      b.artifact_id = segments[segments.size() - 2];
      for (size_t i = 0; i + 2 < segments.size(); ++i) {
        b.group_id += (i ? "." : "") + segments[i];
        b.group_path += (i ? "/" : "") + segments[i];
      }
      const OriginPolicy policy = co_await origin_policy(domain, repo, b);
      auto order = repo::reachable(ctx.topology.resolution_order(domain.name, repo.name), policy);
      auto stored = co_await stored_version(domain, order, b);
      if (!stored) {
        co_await error(ex, 500, stored.error().message);
        co_return;
      }
      std::set<std::string> files;
      for (auto& v : *stored) {
        if (!v || !listed(*v)) continue;
        for (auto& [name, asset] : v->assets) {
          // SNAPSHOT-version metadata is stored as "<version>/maven-metadata.xml".
          auto slash = name.rfind('/');
          files.insert(slash == std::string::npos ? name : name.substr(slash + 1));
        }
      }
      for (auto& f : files) {
        entries.push_back(f);
        entries.push_back(f + ".md5");
        entries.push_back(f + ".sha1");
      }
    }
    if (entries.empty()) {
      co_await error(ex, 404, "Not Found: " + display);
      co_return;
    }
    Headers headers{{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "no-cache"}};
    co_await ex.respond(200, std::move(headers), maven::render_listing(display, entries));
  }

  asio::awaitable<void> file(Exchange& ex, const config::DomainConfig& domain,
                             const config::RepositoryConfig& repo, maven::Path p) {
    const OriginPolicy policy = co_await origin_policy(domain, repo, p);
    auto all = ctx.topology.resolution_order(domain.name, repo.name);
    auto order = repo::reachable(all, policy);
    const PackageKey key{domain.name, repo.name, std::string(k_format), p.group_id, p.artifact_id};
    auto stored = co_await locate_stored(ctx, all, policy, key, asset_name(p), p.version);
    if (!stored) {
      co_await error(ex, 500, stored.error().message);
      co_return;
    }
    if (stored->found) {
      if (p.checksum != maven::ChecksumKind::none) {
        ++ctx.metrics.asset_hits;
        Headers headers{{"Content-Type", "text/plain"}};
        co_await ex.respond(200, std::move(headers),
                            checksum_hex(stored->found->blob.digests, p.checksum));
      } else {
        Headers headers{{"Content-Type", content_type_for(p.filename)}};
        co_await serve_located(ctx, ex, repo, *stored->found, key, p.version, std::move(headers));
      }
      co_return;
    }
    const std::string path =
        p.group_path + "/" + p.artifact_id + "/" + p.version + "/" + p.filename;
    if (p.checksum != maven::ChecksumKind::none) {
      // Checksums are computed from stored bytes only; the file itself is fetched first.
      co_await error(ex, 404,
                     "Not Found: " + path + std::string(maven::checksum_suffix(p.checksum)));
      co_return;
    }
    const config::RepositoryConfig* owner = nullptr;
    const config::ExternalConnectionConfig* ec = nullptr;
    std::string blocked;  // the origin control that kept a connection out, if one did
    for (auto* r : order) {
      auto* c = ctx.topology.external_connection(*r);
      if (!c || !c->serves(k_format)) continue;
      // SNAPSHOT versions are never taken from public external connections.
      if (is_public(*c) && maven::is_snapshot(p.version)) continue;
      if (!open_connection(*r, policy)) {
        if (blocked.empty())
          blocked = "from " + c->name + " into " + r->name + ", blocked by " +
                    policy.blocker(pg::RestrictionType::external_upstream, r->name);
        continue;
      }
      owner = r;
      ec = c;
      break;
    }
    if (!ec && blocked.empty() && order.size() < all.size()) {
      blocked = "from the upstream repositories of " + repo.name + ", blocked by " +
                policy.blocker(pg::RestrictionType::internal_upstream, repo.name);
    }
    if (!ec && !blocked.empty()) {
      co_await error(ex, 403, "Forbidden: " + path + " may not be fetched: " + blocked);
      co_return;
    }
    if (!ec) {
      co_await error(ex, 404, "Not Found: " + path);
      co_return;
    }
    auto base = co_await upstream_base_url(ctx.codeartifact, *ec, std::string(k_format));
    if (!base) {
      co_await error(ex, status_for(base.error()),
                     "upstream unavailable for " + path + ": " + base.error().message);
      co_return;
    }
    const std::string url = *base + path;
    FillSpec spec;
    spec.request.url = url;
    // Verify against the upstream's .sha1 (or .sha256) when it offers one.
    auto declared = co_await upstream_checksum(url, path);
    if (!declared) {
      co_await error(ex, status_for(declared.error()), declared.error().message);
      co_return;
    }
    spec.sha1 = declared->sha1;
    spec.sha256 = declared->sha256;
    spec.allow_unverified = !spec.sha1 && !spec.sha256;
    spec.key = domain.name + '\x1f' + owner->name + "\x1fmaven\x1f" + path;
    repo::IngestedAsset arrival;
    arrival.package = key;
    arrival.version = p.version;
    arrival.asset = p.filename;
    Headers headers{{"Content-Type", content_type_for(p.filename)}};
    auto filled = co_await fill_and_ingest(ctx, ex, std::move(spec), std::move(arrival), *owner, repo,
                             std::move(headers));
    if (!filled) {
      const Error e = filled.error();
      co_await error(ex, status_for(e), e.message);
    }
  }

  // The digest the upstream declares for the file at `url` in its .sha1 (or .sha256) sibling;
  // neither when it offers none. Concurrent misses of one file send one request per sibling.
  asio::awaitable<Result<DeclaredChecksum>> upstream_checksum(std::string url, std::string path) {
    auto [flight, leader] = checksums.join(url);
    if (!leader) co_return co_await checksums.wait(flight);
    Result<DeclaredChecksum> result = co_await fetch_checksum(url, path);
    checksums.complete(url, flight, result);
    co_return result;
  }

  asio::awaitable<Result<DeclaredChecksum>> fetch_checksum(std::string url, std::string path) {
    DeclaredChecksum out;
    for (auto kind : {maven::ChecksumKind::sha1, maven::ChecksumKind::sha256}) {
      UpstreamRequest req;
      req.url = url + std::string(maven::checksum_suffix(kind));
      ++ctx.metrics.upstream_requests;
      auto response = co_await ctx.client.fetch(std::move(req), k_max_checksum_bytes);
      if (!response) {
        ++ctx.metrics.upstream_errors;
        co_return Error(response.error().code,
                        "upstream unavailable for " + path + ": " + response.error().message);
      }
      if (response->head.status != 200) continue;
      auto hex = maven::parse_checksum(response->body, kind);
      if (!hex) {
        co_return make_error(Errc::upstream_error, "the upstream's " + path +
                                                       std::string(maven::checksum_suffix(kind)) +
                                                       " is not a valid checksum");
      }
      if (kind == maven::ChecksumKind::sha1)
        out.sha1 = from_hex<20>(*hex);
      else
        out.sha256 = from_hex<32>(*hex);
      break;
    }
    co_return out;
  }

  // --- Deploy ---

  Result<PutOutcome> put_checksum(const PackageKey& k, const maven::Path& p,
                                  const std::string& body) {
    PutOutcome out;
    ARCA_TRY(auto asset, find_asset(ctx.store, k, asset_name(p)));
    if (!asset || asset->version != p.version) {
      return PutOutcome{400,
                        "Bad Request: no stored file " + p.filename + " to check the " +
                            std::string(maven::checksum_suffix(p.checksum)) + " against",
                        false};
    }
    auto sha = from_hex<32>(asset->sha256_hex);
    ARCA_TRY(auto record, ctx.store.find_blob(*sha));
    if (!record) return make_error(Errc::corrupt, "the stored file's blob is missing");
    auto hex = maven::parse_checksum(body, p.checksum);
    if (!hex) {
      return PutOutcome{400,
                        "Bad Request: the uploaded " +
                            std::string(maven::checksum_suffix(p.checksum)) +
                            " is not a valid checksum",
                        false};
    }
    if (*hex != checksum_hex(record->digests, p.checksum)) {
      return PutOutcome{400,
                        "Bad Request: checksum mismatch: the uploaded " +
                            std::string(maven::checksum_suffix(p.checksum)) + " of " + p.filename +
                            " does not match the stored file",
                        false};
    }
    return out;
  }

  Result<PutOutcome> put_file(const PackageKey& k, const maven::Path& p, const std::string& body,
                              const std::optional<maven::Metadata>& metadata) {
    PutOutcome out;
    const std::string name = asset_name(p);
    const std::string version_name =
        p.kind == maven::PathKind::artifact_metadata ? std::string() : p.version;
    const Digests digests = digest_of(body);
    ARCA_TRY(auto existing_asset, find_asset(ctx.store, k, name));
    std::optional<VersionRecord> record;
    if (!version_name.empty()) {
      ARCA_TRY(auto v, find_version(ctx.store, k, version_name));
      record = std::move(v);
    }
    const bool same = existing_asset && existing_asset->sha256_hex == to_hex(digests.sha256);
    if (p.kind == maven::PathKind::file && record && !maven::is_snapshot(p.version)) {
      if (record->origin != "INTERNAL") {
        return PutOutcome{409,
                          "Conflict: " + k.ns + ":" + k.name + ":" + p.version +
                              " is already stored from an upstream",
                          false};
      }
      if (record->status != "Unfinished") {
        if (same) return out;
        return PutOutcome{409,
                          "Conflict: release " + k.ns + ":" + k.name + ":" + p.version +
                              " is published and immutable; " + p.filename + " cannot be replaced",
                          false};
      }
    }
    const int64_t now = now_unix_ms();
    cache::Batch batch;
    ARCA_TRY(auto writer, ctx.store.begin_blob());
    ARCA_TRY_VOID(writer->append(body));
    ARCA_TRY(auto blob, writer->finish());
    batch.add_blob(*writer);
    AssetRecord asset{version_name, to_hex(blob.digests.sha256), blob.size};
    batch.put(cache::Space::index, asset_key(k, name), encode(asset));
    if (p.kind == maven::PathKind::file) {
      VersionRecord vr;
      if (record) {
        vr = *record;
      } else {
        vr.version = p.version;
        vr.origin = "INTERNAL";
        vr.status = "Unfinished";
        vr.published_unix_ms = now;
      }
      bool replaced = false;
      for (auto& [n, a] : vr.assets) {
        if (n == name) {
          a = asset;
          replaced = true;
        }
      }
      if (!replaced) vr.assets.emplace_back(name, asset);
      if (maven::is_snapshot(p.version)) vr.published_unix_ms = now;
      batch.put(cache::Space::index, version_key(k, p.version), encode(vr));
    }
    if (p.kind == maven::PathKind::artifact_metadata && metadata) {
      // The version is Unfinished until its artifact-level metadata arrives.
      for (auto& v : metadata->versions) {
        ARCA_TRY(auto vr, find_version(ctx.store, k, v));
        if (!vr || vr->origin != "INTERNAL" || vr->status != "Unfinished") continue;
        vr->status = "Published";
        vr->published_unix_ms = now;
        batch.put(cache::Space::index, version_key(k, v), encode(*vr));
      }
    }
    ARCA_TRY(auto pkg, find_package(ctx.store, k));
    if (!pkg)
      batch.put(cache::Space::index, package_key(k), encode(PackageRecord{json::object(), now}));
    ARCA_TRY_VOID(set_initial_origin(ctx.store, batch, k, Arrival::published));
    ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
    out.changed = true;
    return out;
  }

  // Where a release version being deployed is already available from, when not from `repo`
  // itself: an upstream repository holding it or an external connection whose cached
  // maven-metadata.xml lists it (CodeArtifact user guide, "Private packages and public
  // repositories": such a version cannot be published downstream, 409). Origin controls apply as
  // on reads, so with the package's upstream control at BLOCK nothing conflicts. Empty: no
  // conflict. An unreachable upstream does not block deploys. SNAPSHOTs are never ingested from
  // external connections and are redeployed, so the caller checks releases only.
  asio::awaitable<Result<std::optional<repo::Source>>> upstream_conflict(
      const config::DomainConfig& domain, const config::RepositoryConfig& repo, maven::Path p) {
    using Found = std::optional<repo::Source>;
    const OriginPolicy policy = co_await origin_policy(domain, repo, p);
    auto order = repo::reachable(ctx.topology.resolution_order(domain.name, repo.name), policy);
    auto stored = co_await stored_version(domain, order, p);
    if (!stored) co_return stored.error();
    for (size_t i = 0; i < order.size(); ++i) {
      const auto* r = order[i];
      const auto& v = (*stored)[i];
      // Deployed here (even while Unfinished): more files of the version are fine.
      if (r->name == repo.name && v && v->origin == "INTERNAL") co_return Found();
      if (!v || !listed(*v)) continue;
      if (r->name == repo.name) {
        auto* ec = open_connection(*r, policy);
        if (!ec) co_return Found();
        co_return Found(repo::Source{r, ec});
      }
      co_return Found(repo::Source{r, nullptr});
    }
    const std::string path = metadata_path(p);
    auto upstream = co_await connections_metadata(order, policy, path);
    for (auto& d : upstream.found) {
      for (auto& v : d.parsed.versions) {
        if (v == p.version) co_return Found(d.source);
      }
    }
    co_return Found();
  }

  asio::awaitable<void> put(Exchange& ex, const config::DomainConfig& domain,
                            const config::RepositoryConfig& repo, maven::Path p) {
    const std::string& body = ex.request().body;
    std::optional<maven::Metadata> metadata;
    if (p.kind != maven::PathKind::file && p.checksum == maven::ChecksumKind::none) {
      auto parsed = maven::parse_metadata(body);
      if (!parsed) {
        co_await error(ex, 400, "Bad Request: " + parsed.error().message);
        co_return;
      }
      if ((!parsed->group_id.empty() && parsed->group_id != p.group_id) ||
          (!parsed->artifact_id.empty() && parsed->artifact_id != p.artifact_id) ||
          (p.kind == maven::PathKind::version_metadata && !parsed->version.empty() &&
           parsed->version != p.version)) {
        co_await error(ex, 400,
                       "Bad Request: maven-metadata.xml names other coordinates than its path");
        co_return;
      }
      metadata = std::move(*parsed);
    }
    if (const OriginPolicy policy = co_await origin_policy(domain, repo, p);
        !policy.allows(pg::RestrictionType::publish, repo.name)) {
      std::string message = "Forbidden: publishing " + p.group_id + ":" + p.artifact_id +
                            " to repository " + repo.name + " is not allowed by " +
                            policy.blocker(pg::RestrictionType::publish, repo.name);
      co_await error(ex, 403, std::move(message));
      co_return;
    }
    PackageKey k{domain.name, repo.name, std::string(k_format), p.group_id, p.artifact_id};
    if (p.kind == maven::PathKind::file && p.checksum == maven::ChecksumKind::none &&
        !p.version.empty() && !maven::is_snapshot(p.version)) {
      auto source = co_await upstream_conflict(domain, repo, p);
      if (!source) {
        co_await error(ex, 500, source.error().message);
        co_return;
      }
      std::optional<std::string> conflict;
      if (*source) {
        conflict = repo::publish_conflict(
            **source, repo.name, p.group_id + ":" + p.artifact_id + ":" + p.version, "deployed");
      }
      if (conflict) {
        co_await error(ex, 409, std::move(*conflict));
        co_return;
      }
    }
    auto commit = [this, &k, &p, &body, &metadata]() -> Result<PutOutcome> {
      std::lock_guard lock(publish_mutex);
      if (p.checksum != maven::ChecksumKind::none) return put_checksum(k, p, body);
      return put_file(k, p, body, metadata);
    };
    auto result = co_await offload(ctx.pool, std::move(commit));
    if (!result) {
      co_await error(ex, status_for(result.error()), result.error().message);
      co_return;
    }
    if (result->status != 201) {
      co_await error(ex, result->status, result->message);
      co_return;
    }
    if (result->changed) {
      ctx.generations.package_changed(domain.name, k_format, p.group_id, p.artifact_id);
      ++ctx.metrics.publishes;
      ARCA_LOG_INFO("deployed {}:{}:{} {} to {}/{}", p.group_id, p.artifact_id, p.version,
                    p.filename, domain.name, repo.name);
    }
    Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
    co_await ex.respond(201, std::move(headers), "Created\n");
  }
};

bool MavenHandler::is_publish(const Request& request, std::string_view) const {
  return request.method == "PUT";
}

asio::awaitable<void> MavenHandler::handle(Exchange& ex, const config::DomainConfig& domain,
                                           const config::RepositoryConfig& repo, std::string rest) {
  auto& impl = *this;
  const std::string& method = ex.request().method;
  const bool read = method == "GET" || method == "HEAD";
  if (!read && method != "PUT") {
    co_await impl.error(ex, 405, "Method Not Allowed");
    co_return;
  }
  if (read && !rest.empty() && rest.back() == '/') {
    auto segments = maven::parse_directory(rest);
    if (!segments) {
      co_await impl.error(ex, 400, "Bad Request: " + segments.error().message);
      co_return;
    }
    std::string display = "/" + domain.name + "/maven/" + repo.name + "/" + rest;
    co_await impl.directory(ex, domain, repo, std::move(*segments), std::move(display));
    co_return;
  }
  auto path = maven::parse_path(rest);
  if (!path) {
    co_await impl.error(ex, 400, "Bad Request: " + path.error().message);
    co_return;
  }
  if (!read) {
    co_await impl.put(ex, domain, repo, std::move(*path));
  } else if (path->kind == maven::PathKind::artifact_metadata) {
    co_await impl.artifact_metadata(ex, domain, repo, std::move(*path));
  } else if (path->kind == maven::PathKind::version_metadata) {
    co_await impl.version_metadata(ex, domain, repo, std::move(*path));
  } else {
    co_await impl.file(ex, domain, repo, std::move(*path));
  }
}

namespace maven {
FormatPtr make_format(Context& context) { return std::make_unique<MavenHandler>(context); }
}  // namespace maven

}  // namespace arca::formats
