#include "control/api_handler.hpp"

#include "repo/resolver.hpp"

#include "auth/sigv4.hpp"
#include "common/json_depth.hpp"
#include "common/log.hpp"
#include "control/api.hpp"
#include "formats/registry.hpp"
#include "net/blocking.hpp"
#include "net/http_util.hpp"
#include "control/package_groups_handler.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <variant>

namespace arca::control {

using namespace net;
using namespace formats;

namespace asio = boost::asio;
namespace ca = api;
using json = nlohmann::json;
using ca::ApiError;
using ca::body_string;

namespace {

constexpr char k_sep = '\x1f';
constexpr int k_default_page = 100;
constexpr size_t k_max_versions_per_call = 100;
constexpr size_t k_max_tags = 200;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string domain_record_key(std::string_view d) {
  return "dm" + std::string(1, k_sep) + std::string(d);
}
std::string repo_record_key(std::string_view d, std::string_view r) {
  return "rp" + std::string(1, k_sep) + std::string(d) + k_sep + std::string(r);
}
const std::string k_secret_key = std::string("sk") + k_sep + "token";

json tags_json(const std::vector<std::pair<std::string, std::string>>& tags) {
  json out = json::array();
  for (auto& [k, v] : tags) out.push_back({{"key", k}, {"value", v}});
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
std::vector<std::pair<std::string, std::string>> read_tags(const json& j) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = j.find("tags");
  if (it == j.end() || !it->is_array()) return out;
  for (auto& t : *it) {
    if (t.is_array() && t.size() == 2 && t[0].is_string() && t[1].is_string())
      out.emplace_back(t[0], t[1]);
  }
  return out;
}
json write_tags(const std::vector<std::pair<std::string, std::string>>& tags) {
  json out = json::array();
  for (auto& [k, v] : tags) out.push_back(json::array({k, v}));
  return out;
}

std::string encode_domain(const config::DomainConfig& d) {
  return dump({{"name", d.name},
               {"owner", d.owner},
               {"created", d.created_unix_ms},
               {"encryption_key", d.encryption_key},
               {"tags", write_tags(d.tags)},
               {"policy", d.policy},
               {"policy_revision", d.policy_revision}});
}
std::optional<config::DomainConfig> decode_domain(std::string_view s) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  config::DomainConfig d;
  d.name = str(j, "name");
  d.owner = str(j, "owner");
  d.created_unix_ms = num(j, "created");
  d.encryption_key = str(j, "encryption_key");
  d.tags = read_tags(j);
  d.policy = str(j, "policy");
  d.policy_revision = str(j, "policy_revision");
  if (d.name.empty()) return std::nullopt;
  return d;
}
std::string encode_repo(const config::RepositoryConfig& r) {
  return dump({{"name", r.name},
               {"description", r.description},
               {"upstreams", r.upstreams},
               {"external_connection", r.external_connection},
               {"administrator_account", r.administrator_account},
               {"created", r.created_unix_ms},
               {"tags", write_tags(r.tags)},
               {"policy", r.policy},
               {"policy_revision", r.policy_revision}});
}
std::optional<config::RepositoryConfig> decode_repo(std::string_view s) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  config::RepositoryConfig r;
  r.name = str(j, "name");
  r.description = str(j, "description");
  if (auto it = j.find("upstreams"); it != j.end() && it->is_array()) {
    for (auto& u : *it) {
      if (u.is_string()) r.upstreams.push_back(u);
    }
  }
  r.external_connection = str(j, "external_connection");
  r.administrator_account = str(j, "administrator_account");
  r.created_unix_ms = num(j, "created");
  r.tags = read_tags(j);
  r.policy = str(j, "policy");
  r.policy_revision = str(j, "policy_revision");
  if (r.name.empty()) return std::nullopt;
  return r;
}

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    auto next = key.find(k_sep, pos);
    out.emplace_back(
        key.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

bool would_cycle(const std::vector<config::RepositoryConfig>& repos, const std::string& start) {
  std::map<std::string, const config::RepositoryConfig*> by_name;
  for (auto& r : repos) by_name[r.name] = &r;
  std::set<std::string> seen;
  std::function<bool(const std::string&)> reaches = [&](const std::string& name) -> bool {
    auto it = by_name.find(name);
    if (it == by_name.end()) return false;
    for (auto& u : it->second->upstreams) {
      if (u == start) return true;
      if (seen.insert(u).second && reaches(u)) return true;
    }
    return false;
  };
  return reaches(start);
}

std::string new_revision(std::string_view seed) {
  auto digest = sha256_of(std::string(seed) + std::to_string(now_unix_ms()));
  return base64_encode(digest);
}

// The revision of a version: a digest of its assets (stable while the assets are).
std::string version_revision(const VersionRecord& v) {
  std::string material = "version:" + v.version + "\n";
  for (auto& [name, a] : v.assets) material += name + ":" + a.sha256_hex + "\n";
  return base64_encode(sha256_of(material));
}

// What an incoming request says, in plain terms.
struct Call {
  const ca::Operation* op = nullptr;
  ca::Query query;
  json body = json::object();
  const Request* request = nullptr;
  std::string account;        // caller's account id
  std::string access_key_id;  // empty for unsigned local requests
  std::string base_url;       // http://host:port

  std::optional<std::string> q(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  std::string qs(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
};

// The outcome of one operation: a JSON body, an error, or an asset to stream.
struct Reply {
  std::optional<ApiError> error;
  json body = json::object();
  std::optional<cache::BlobRecord> blob;  // GetPackageVersionAsset
  Headers headers;
  // What the operation changed, for scoped invalidation (repo/generations.hpp).
  std::vector<PackageKey> changed_packages;
  bool everything_changed = false;
  static Reply fail(ApiError e) {
    Reply r;
    r.error = std::move(e);
    return r;
  }
  static Reply ok(json body) {
    Reply r;
    r.body = std::move(body);
    return r;
  }
};

}  // namespace

bool is_loopback_address(std::string_view a) {
  return a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0 ||
         a == "localhost";
}

std::string primary_account(const config::Config& config) {
  return config.auth.access_keys.empty() ? config.auth.default_account
                                         : config.auth.access_keys[0].account;
}

Result<void> load_control_plane(Context& ctx) {
  const auto& cfg = ctx.config;
  // The token secret.
  ARCA_TRY(auto secret, ctx.store.get(cache::Space::index, k_secret_key));
  if (!secret || secret->size() < 32) {
    std::string fresh = auth::TokenService::generate_secret();
    ARCA_TRY_VOID(ctx.store.put(cache::Space::index, k_secret_key, fresh));
    secret = fresh;
  }
  ctx.tokens = std::make_unique<auth::TokenService>(*secret);

  // Persisted domains and repositories.
  ARCA_TRY(auto domain_rows,
           ctx.store.scan(cache::Space::index, std::string("dm") + k_sep, 1'000'000));
  ARCA_TRY(auto repo_rows,
           ctx.store.scan(cache::Space::index, std::string("rp") + k_sep, 1'000'000));
  std::vector<config::DomainConfig> domains;
  for (auto& [key, value] : domain_rows) {
    if (auto d = decode_domain(value)) domains.push_back(std::move(*d));
  }
  for (auto& [key, value] : repo_rows) {
    auto parts = split_key(key);
    if (parts.size() != 3) continue;
    auto r = decode_repo(value);
    if (!r) continue;
    for (auto& d : domains) {
      if (d.name == parts[1]) d.repositories.push_back(std::move(*r));
    }
  }
  // Config domains and repositories that are not persisted yet are created now.
  cache::Batch batch;
  const int64_t now = now_unix_ms();
  const std::string owner = primary_account(cfg);
  for (auto& cd : cfg.domains) {
    auto it =
        std::find_if(domains.begin(), domains.end(), [&](auto& d) { return d.name == cd.name; });
    if (it == domains.end()) {
      config::DomainConfig d;
      d.name = cd.name;
      d.owner = owner;
      d.created_unix_ms = now;
      batch.put(cache::Space::index, domain_record_key(d.name), encode_domain(d));
      domains.push_back(std::move(d));
      it = domains.end() - 1;
    }
    for (auto& cr : cd.repositories) {
      bool present = std::any_of(it->repositories.begin(), it->repositories.end(),
                                 [&](auto& r) { return r.name == cr.name; });
      if (present) continue;
      config::RepositoryConfig r = cr;
      r.created_unix_ms = now;
      r.administrator_account = it->owner;
      batch.put(cache::Space::index, repo_record_key(it->name, r.name), encode_repo(r));
      it->repositories.push_back(std::move(r));
    }
  }
  if (!batch.empty()) ARCA_TRY_VOID(ctx.store.commit(std::move(batch), /*durable=*/true));
  return ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
    s.domains = std::move(domains);
    // Repositories may name a public connection the config does not list.
    for (auto& d : s.domains) {
      for (auto& r : d.repositories) {
        if (r.external_connection.empty() || s.external_connections.count(r.external_connection))
          continue;
        for (auto& k : ca::known_external_connections()) {
          if (k.name == r.external_connection) {
            config::ExternalConnectionConfig ec;
            ec.name = std::string(k.name);
            ec.format = std::string(k.format);
            ec.url = std::string(k.url);
            s.external_connections.emplace(ec.name, ec);
          }
        }
      }
    }
    return {};
  });
}

struct CodeArtifactHandler::Impl {
  Context& ctx;
  std::mutex write_mutex;       // serializes control-plane writes (held on the pool only)
  PackageGroupsHandler groups;  // package groups and package origin configuration

  explicit Impl(Context& c) : ctx(c), groups(c) { ctx.origins = &groups; }
  ~Impl() {
    if (ctx.origins == &groups) ctx.origins = nullptr;
  }

  const std::string& region() const { return ctx.config.region; }
  std::string owner_of(const config::DomainConfig& d) const {
    return d.owner.empty() ? primary_account(ctx.config) : d.owner;
  }

  // --- Authentication ---

  std::optional<ApiError> authenticate(const Request& req, Call& call) {
    const auto& auth_cfg = ctx.config.auth;
    const bool loopback = is_loopback_address(req.remote_address);
    const bool signed_request = !req.header("authorization").empty();
    if (!signed_request) {
      if (auth_cfg.allow_unsigned_loopback && loopback) {
        call.account = primary_account(ctx.config);
        return std::nullopt;
      }
      return ApiError{
          403, "MissingAuthenticationTokenException", "Missing Authentication Token", {}, {}, {}};
    }
    if (auth_cfg.access_keys.empty()) {
      // Nothing to check a signature against: accepted from loopback only.
      if (loopback && auth_cfg.allow_unsigned_loopback) {
        call.account = primary_account(ctx.config);
        return std::nullopt;
      }
      return ApiError{403,
                      "UnrecognizedClientException",
                      "The security token included in the request is invalid.",
                      {},
                      {},
                      {}};
    }
    auth::HeaderList headers(req.headers.begin(), req.headers.end());
    auth::IncomingRequest in{req.method, req.path, req.query, &headers, req.body};
    auto lookup = [&](std::string_view id) -> std::optional<std::string> {
      for (auto& k : auth_cfg.access_keys) {
        if (k.access_key_id == id) return k.secret_access_key;
      }
      return std::nullopt;
    };
    auth::VerifyOptions vo;
    vo.region = ctx.config.region;
    vo.max_skew = auth_cfg.max_clock_skew;
    auto r = auth::verify(in, lookup, vo, std::chrono::system_clock::now());
    if (!r) return ApiError{403, r.failure.type, r.failure.message, {}, {}, {}};
    call.access_key_id = r.ok->access_key_id;
    for (auto& k : auth_cfg.access_keys) {
      if (k.access_key_id == call.access_key_id) call.account = k.account;
    }
    return std::nullopt;
  }

  // --- Lookups ---

  std::variant<const config::DomainConfig*, ApiError> domain_of(const Call& call) {
    const std::string name = call.qs("domain");
    auto* d = ctx.topology.domain(name);
    if (!d || (call.q("domain-owner") && *call.q("domain-owner") != owner_of(*d))) {
      return ca::not_found("Domain not found: " + name, "domain", name);
    }
    return d;
  }

  std::variant<const config::RepositoryConfig*, ApiError> repo_of(const config::DomainConfig& d,
                                                                  const std::string& name) {
    for (auto& r : d.repositories) {
      if (r.name == name) return &r;
    }
    return ca::not_found("Repository not found: " + name + " in domain " + d.name, "repository",
                         name);
  }

  // --- Shapes ---

  uint64_t asset_size_bytes(const std::string& domain) {
    auto rows =
        ctx.store.scan(cache::Space::index, std::string("as") + k_sep + domain + k_sep, 10'000'000);
    if (!rows) return 0;
    std::set<std::string> seen;
    uint64_t total = 0;
    for (auto& [k, v] : *rows) {
      auto a = decode_asset(v);
      if (a && seen.insert(a->sha256_hex).second) total += a->size;
    }
    return total;
  }

  json domain_summary(const config::DomainConfig& d) {
    const std::string owner = owner_of(d);
    json j = {{"name", d.name},
              {"owner", owner},
              {"arn", ca::domain_arn(region(), owner, d.name)},
              {"status", "Active"},
              {"createdTime", ca::timestamp(d.created_unix_ms)},
              {"encryptionKey", encryption_key(d)}};
    return j;
  }
  std::string encryption_key(const config::DomainConfig& d) {
    if (!d.encryption_key.empty()) return d.encryption_key;
    return "arn:aws:kms:" + region() + ":" + owner_of(d) + ":alias/aws/codeartifact";
  }
  json domain_description(const config::DomainConfig& d, bool with_size = true) {
    json j = domain_summary(d);
    j["repositoryCount"] = d.repositories.size();
    j["assetSizeBytes"] = with_size ? asset_size_bytes(d.name) : 0;
    j["s3BucketArn"] = "arn:aws:s3:::assets-" + owner_of(d) + "-" + region();
    return j;
  }
  json repo_summary(const config::DomainConfig& d, const config::RepositoryConfig& r) {
    const std::string owner = owner_of(d);
    json j = {
        {"name", r.name},
        {"administratorAccount", r.administrator_account.empty() ? owner : r.administrator_account},
        {"domainName", d.name},
        {"domainOwner", owner},
        {"arn", ca::repository_arn(region(), owner, d.name, r.name)},
        {"createdTime", ca::timestamp(r.created_unix_ms)}};
    if (!r.description.empty()) j["description"] = r.description;
    return j;
  }
  json repo_description(const config::DomainConfig& d, const config::RepositoryConfig& r) {
    json j = repo_summary(d, r);
    json ups = json::array();
    for (auto& u : r.upstreams) ups.push_back({{"repositoryName", u}});
    j["upstreams"] = ups;
    json ecs = json::array();
    if (!r.external_connection.empty()) {
      std::string format;
      auto& conns = ctx.topology.current().external_connections;
      if (auto it = conns.find(r.external_connection); it != conns.end())
        format = it->second.format;
      json ec = {{"externalConnectionName", r.external_connection}, {"status", "Available"}};
      // A connection to a CodeArtifact repository serves every format: no single packageFormat.
      if (!format.empty()) ec["packageFormat"] = format;
      ecs.push_back(std::move(ec));
    }
    j["externalConnections"] = ecs;
    return j;
  }

  // --- Persistence + topology (caller holds write_mutex) ---

  Result<void> save_domain(const config::DomainConfig& d) {
    return ctx.store.put(cache::Space::index, domain_record_key(d.name), encode_domain(d));
  }
  Result<void> save_repo(const std::string& domain, const config::RepositoryConfig& r) {
    return ctx.store.put(cache::Space::index, repo_record_key(domain, r.name), encode_repo(r));
  }
  // Replaces a domain (without its repositories) in the topology.
  Result<void> apply_domain(const config::DomainConfig& d) {
    return ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
      for (auto& x : s.domains) {
        if (x.name == d.name) {
          auto repos = std::move(x.repositories);
          x = d;
          x.repositories = std::move(repos);
          return {};
        }
      }
      config::DomainConfig copy = d;
      copy.repositories.clear();
      s.domains.push_back(std::move(copy));
      return {};
    });
  }
  Result<void> apply_repo(const std::string& domain, const config::RepositoryConfig& r) {
    return ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
      for (auto& d : s.domains) {
        if (d.name != domain) continue;
        for (auto& x : d.repositories) {
          if (x.name == r.name) {
            x = r;
            return {};
          }
        }
        d.repositories.push_back(r);
        std::sort(d.repositories.begin(), d.repositories.end(),
                  [](auto& a, auto& b) { return a.name < b.name; });
      }
      if (!r.external_connection.empty() && !s.external_connections.count(r.external_connection)) {
        for (auto& k : ca::known_external_connections()) {
          if (k.name != r.external_connection) continue;
          config::ExternalConnectionConfig ec;
          ec.name = std::string(k.name);
          ec.format = std::string(k.format);
          ec.url = std::string(k.url);
          s.external_connections.emplace(ec.name, ec);
        }
      }
      return {};
    });
  }

  Result<void> delete_prefix(cache::Batch& batch, const std::string& prefix) {
    ARCA_TRY(auto rows, ctx.store.scan(cache::Space::index, prefix, 100'000'000));
    for (auto& [k, v] : rows) batch.del(cache::Space::index, k);
    return {};
  }

  // --- Body helpers ---

  static std::optional<ApiError> body_tags(const json& body,
                                           std::vector<std::pair<std::string, std::string>>& out,
                                           bool required = false) {
    auto it = body.find("tags");
    if (it == body.end() || it->is_null()) {
      if (required) return ca::validation_error("'tags' is required");
      return std::nullopt;
    }
    if (!it->is_array()) return ca::validation_error("'tags' must be a list of {key, value}");
    for (auto& t : *it) {
      if (!t.is_object()) return ca::validation_error("'tags' must be a list of {key, value}");
      auto k = t.find("key");
      auto v = t.find("value");
      if (k == t.end() || !k->is_string() || v == t.end() || !v->is_string()) {
        return ca::validation_error("every tag needs a string 'key' and 'value'");
      }
      if (auto e = ca::check_tag(k->get<std::string>(), v->get<std::string>())) return e;
      bool replaced = false;
      for (auto& [ek, ev] : out) {
        if (ek == k->get<std::string>()) {
          ev = v->get<std::string>();
          replaced = true;
        }
      }
      if (!replaced) out.emplace_back(*k, *v);
    }
    if (out.size() > k_max_tags) return ca::quota_exceeded("a resource can have at most 200 tags");
    return std::nullopt;
  }

  static std::optional<ApiError> body_versions(
      const json& body, std::vector<std::string>& out,
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

  // --- Packages ---

  struct PackageRef {
    const config::DomainConfig* domain = nullptr;
    const config::RepositoryConfig* repo = nullptr;
    PackageKey key;
  };

  std::variant<PackageRef, ApiError> package_ref(const Call& call,
                                                 const std::string& repo_param = "repository") {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return *e;
    auto* domain = std::get<const config::DomainConfig*>(d);
    auto r = repo_of(*domain, call.qs(repo_param));
    if (auto* e = std::get_if<ApiError>(&r)) return *e;
    PackageRef ref;
    ref.domain = domain;
    ref.repo = std::get<const config::RepositoryConfig*>(r);
    ref.key = PackageKey{domain->name, ref.repo->name, call.qs("format"), call.qs("namespace"),
                         call.qs("package")};
    if (ref.key.format == "generic" && ref.key.ns.empty()) {
      return ca::validation_error("generic packages require a namespace");
    }
    // As the format stores names (NuGet: ids lower-case; the API accepts any case).
    if (auto* f = format_of(ref.key.format)) ref.key.name = f->stored_name(ref.key.name);
    return ref;
  }

  // Versions of a package; ResourceNotFound when the package does not exist here.
  std::variant<std::vector<VersionRecord>, ApiError> package_versions(const PackageRef& ref) {
    auto versions = list_versions(ctx.store, ref.key);
    if (!versions) return ca::internal_error(versions.error().message);
    if (versions->empty()) {
      auto pkg = find_package(ctx.store, ref.key);
      if (!pkg) return ca::internal_error(pkg.error().message);
      if (!*pkg)
        return ca::not_found("Package not found: " + display_name(ref.key), "package",
                             ref.key.name);
    }
    return std::move(*versions);
  }

  // The Format serving `name`; null for formats with no data plane (generic).
  const formats::Format* format_of(std::string_view name) const {
    return ctx.formats ? ctx.formats->find(name) : nullptr;
  }

  // The package's name for people (npm "@scope/name", NuGet's id as published).
  std::string display_name(const PackageKey& k, const VersionRecord* v = nullptr) const {
    if (auto* f = format_of(k.format)) return f->display_name(k, v);
    return k.ns.empty() ? k.name : k.ns + "/" + k.name;
  }

  std::variant<VersionRecord, ApiError> version_of(const PackageRef& ref,
                                                   const std::string& version) {
    // As the format stores versions (NuGet: normalized and lower-case; "1.0" finds "1.0.0").
    std::string key = version;
    if (auto* f = format_of(ref.key.format)) key = f->stored_version(version);
    auto v = find_version(ctx.store, ref.key, key);
    if (!v) return ca::internal_error(v.error().message);
    if (!*v) {
      return ca::not_found("Package version not found: " + display_name(ref.key) + "@" + version,
                           "package-version", version);
    }
    return std::move(**v);
  }

  // originType and domainEntryPoint: where the version first entered the domain, kept through
  // retention and copies (records older than that: derived from the repository holding it).
  json origin_json(const config::RepositoryConfig& repo, const VersionRecord& v) {
    const EntryPoint e = repo::derived_entry(repo, v);
    json entry = json::object();
    if (!e.external_connection.empty())
      entry["externalConnectionName"] = e.external_connection;
    else
      entry["repositoryName"] = e.repository;
    return {{"domainEntryPoint", entry}, {"originType", v.origin.empty() ? "UNKNOWN" : v.origin}};
  }

  static json restrictions_for(const std::vector<VersionRecord>& versions) {
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

  json hashes_of(const AssetRecord& a) {
    json h = {{"SHA-256", a.sha256_hex}};
    if (auto sha = from_hex<32>(a.sha256_hex)) {
      if (auto rec = ctx.store.find_blob(*sha); rec && *rec) {
        h["MD5"] = to_hex((*rec)->digests.md5);
        h["SHA-1"] = to_hex((*rec)->digests.sha1);
        h["SHA-512"] = to_hex((*rec)->digests.sha512);
      }
    }
    return h;
  }

  json asset_summary(const std::string& name, const AssetRecord& a) {
    return {{"name", name}, {"size", a.size}, {"hashes", hashes_of(a)}};
  }

  // Page of sorted keys: items after the token, at most max.
  template <class T, class KeyFn>
  std::variant<std::pair<std::vector<T>, std::string>, ApiError> paginate(
      std::vector<T> items, KeyFn key, const std::optional<std::string>& token, int max) {
    std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
    std::string after;
    if (token) {
      auto decoded = ca::decode_next_token(*token);
      if (!decoded) return ca::validation_error("the nextToken is not valid");
      after = *decoded;
    }
    std::vector<T> page;
    std::string next;
    for (auto& it : items) {
      if (token && !(key(it) > after)) continue;
      if (static_cast<int>(page.size()) == max) {
        next = ca::encode_next_token(key(page.back()));
        break;
      }
      page.push_back(it);
    }
    return std::make_pair(std::move(page), next);
  }

  // --- Operations ---

  Reply create_domain(const Call& call) {
    const std::string name = call.qs("domain");
    if (name == "v1")
      return Reply::fail(ca::validation_error("'v1' is reserved and cannot be a domain name"));
    config::DomainConfig d;
    d.name = name;
    d.owner = call.account;
    d.created_unix_ms = now_unix_ms();
    if (auto e = body_string(call.body, "encryptionKey", d.encryption_key)) return Reply::fail(*e);
    if (!d.encryption_key.empty()) {
      if (d.encryption_key.size() > 1011 || d.encryption_key.find(' ') != std::string::npos) {
        return Reply::fail(ca::validation_error("'encryptionKey' must be a KMS key ARN"));
      }
    }
    if (auto e = body_tags(call.body, d.tags)) return Reply::fail(*e);
    std::lock_guard lock(write_mutex);
    if (ctx.topology.domain(name)) {
      return Reply::fail(ca::conflict("Domain already exists: " + name, "domain", name));
    }
    if (auto r = save_domain(d); !r) return Reply::fail(ca::internal_error(r.error().message));
    if (auto r = apply_domain(d); !r) return Reply::fail(ca::internal_error(r.error().message));
    ARCA_LOG_INFO("control plane: created domain {}", name);
    return Reply::ok({{"domain", domain_description(d, false)}});
  }

  Reply describe_domain(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    return Reply::ok({{"domain", domain_description(*std::get<const config::DomainConfig*>(d))}});
  }

  Reply delete_domain(const Call& call) {
    std::lock_guard lock(write_mutex);
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const config::DomainConfig domain = *std::get<const config::DomainConfig*>(d);
    if (!domain.repositories.empty()) {
      return Reply::fail(ca::conflict("Domain " + domain.name + " still has " +
                                          std::to_string(domain.repositories.size()) +
                                          " repositories; delete them first",
                                      "domain", domain.name));
    }
    cache::Batch batch;
    batch.del(cache::Space::index, domain_record_key(domain.name));
    if (auto r = ctx.store.commit(std::move(batch), true); !r)
      return Reply::fail(ca::internal_error(r.error().message));
    // Its package groups and package origin configurations go with it.
    if (auto r = groups.forget_domain(domain.name); !r)
      return Reply::fail(ca::internal_error(r.error().message));
    auto r = ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
      s.domains.erase(std::remove_if(s.domains.begin(), s.domains.end(),
                                     [&](auto& x) { return x.name == domain.name; }),
                      s.domains.end());
      return {};
    });
    if (!r) return Reply::fail(ca::internal_error(r.error().message));
    json desc = domain_description(domain, false);
    desc["status"] = "Deleted";
    ARCA_LOG_INFO("control plane: deleted domain {}", domain.name);
    return Reply::ok({{"domain", desc}});
  }

  Reply list_domains(const Call& call) {
    int max = k_default_page;
    std::optional<std::string> token;
    if (auto it = call.body.find("maxResults"); it != call.body.end() && !it->is_null()) {
      if (!it->is_number_integer())
        return Reply::fail(ca::validation_error("'maxResults' must be an integer"));
      if (auto e = ca::parse_max_results(std::to_string(it->get<int64_t>()), k_default_page, max)) {
        return Reply::fail(*e);
      }
    }
    if (auto it = call.body.find("nextToken"); it != call.body.end() && !it->is_null()) {
      if (!it->is_string())
        return Reply::fail(ca::validation_error("'nextToken' must be a string"));
      token = it->get<std::string>();
    }
    std::vector<config::DomainConfig> mine;
    for (auto& d : ctx.topology.current().domains) {
      if (owner_of(d) == call.account) mine.push_back(d);
    }
    auto page = paginate(
        std::move(mine), [](const config::DomainConfig& d) { return d.name; }, token, max);
    if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
    auto& [items, next] = std::get<0>(page);
    json list = json::array();
    for (auto& d : items) list.push_back(domain_summary(d));
    json body = {{"domains", list}};
    if (!next.empty()) body["nextToken"] = next;
    return Reply::ok(body);
  }

  std::optional<ApiError> read_upstreams(const Call& call, const config::DomainConfig& d,
                                         const std::string& self, std::vector<std::string>& out) {
    auto it = call.body.find("upstreams");
    if (it == call.body.end() || it->is_null()) return std::nullopt;
    if (!it->is_array())
      return ca::validation_error("'upstreams' must be a list of {repositoryName}");
    for (auto& u : *it) {
      std::string name;
      if (!u.is_object() || !u.contains("repositoryName") || !u["repositoryName"].is_string()) {
        return ca::validation_error("'upstreams' must be a list of {repositoryName}");
      }
      name = u["repositoryName"];
      if (auto e = ca::check_repository_name("upstreams.member.repositoryName", name)) return e;
      if (name == self) return ca::validation_error("a repository cannot be its own upstream");
      if (std::find(out.begin(), out.end(), name) != out.end()) {
        return ca::validation_error("upstream repository '" + name + "' is listed twice");
      }
      auto r = repo_of(d, name);
      if (auto* e = std::get_if<ApiError>(&r)) return *e;
      out.push_back(name);
    }
    if (out.size() > 10)
      return ca::validation_error("a repository can have at most 10 upstream repositories");
    return std::nullopt;
  }

  Reply create_repository(const Call& call) {
    std::lock_guard lock(write_mutex);
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    config::RepositoryConfig r;
    r.name = call.qs("repository");
    if (std::holds_alternative<const config::RepositoryConfig*>(repo_of(domain, r.name))) {
      return Reply::fail(
          ca::conflict("Repository already exists: " + r.name, "repository", r.name));
    }
    if (auto e = body_string(call.body, "description", r.description)) return Reply::fail(*e);
    if (auto e = ca::check_description("description", r.description)) return Reply::fail(*e);
    if (auto e = read_upstreams(call, domain, r.name, r.upstreams)) return Reply::fail(*e);
    if (auto e = body_tags(call.body, r.tags)) return Reply::fail(*e);
    r.created_unix_ms = now_unix_ms();
    r.administrator_account = call.account;
    if (auto s = save_repo(domain.name, r); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = apply_repo(domain.name, r); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    ctx.generations.all_changed();
    ARCA_LOG_INFO("control plane: created repository {}/{}", domain.name, r.name);
    return Reply::ok({{"repository", repo_description(domain, r)}});
  }

  // Shared by the repository mutations: look up, change, validate, persist, apply.
  Reply change_repository(const Call& call,
                          const std::function<std::optional<ApiError>(
                              const config::DomainConfig&, config::RepositoryConfig&)>& change) {
    std::lock_guard lock(write_mutex);
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto found = repo_of(domain, call.qs("repository"));
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    config::RepositoryConfig r = *std::get<const config::RepositoryConfig*>(found);
    if (auto e = change(domain, r)) return Reply::fail(*e);
    std::vector<config::RepositoryConfig> after = domain.repositories;
    for (auto& x : after) {
      if (x.name == r.name) x = r;
    }
    if (would_cycle(after, r.name)) {
      return Reply::fail(
          ca::validation_error("the upstreams of " + r.name + " would form a cycle"));
    }
    if (auto s = save_repo(domain.name, r); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = apply_repo(domain.name, r); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    ctx.generations.all_changed();
    auto* now_domain = ctx.topology.domain(domain.name);
    return Reply::ok({{"repository", repo_description(*now_domain, r)}});
  }

  Reply update_repository(const Call& call) {
    return change_repository(
        call,
        [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
          if (call.body.contains("description")) {
            if (auto e = body_string(call.body, "description", r.description)) return e;
            if (auto e = ca::check_description("description", r.description)) return e;
          }
          if (call.body.contains("upstreams")) {
            std::vector<std::string> ups;
            if (auto e = read_upstreams(call, d, r.name, ups)) return e;
            r.upstreams = std::move(ups);
          }
          return std::nullopt;
        });
  }

  std::optional<std::string> connection_format(const std::string& name) {
    auto& conns = ctx.topology.current().external_connections;
    if (auto it = conns.find(name); it != conns.end()) return it->second.format;
    for (auto& k : ca::known_external_connections()) {
      if (k.name == name) return std::string(k.format);
    }
    return std::nullopt;
  }

  Reply associate_external_connection(const Call& call) {
    const std::string name = call.qs("external-connection");
    if (!connection_format(name)) {
      return Reply::fail(ca::validation_error("unknown external connection: " + name));
    }
    return change_repository(
        call,
        [&](const config::DomainConfig&, config::RepositoryConfig& r) -> std::optional<ApiError> {
          if (!r.external_connection.empty()) {
            // As the service answers (a ValidationException, not a conflict).
            return ca::validation_error("ExternalConnections for repositories are currently limited to 1",
                                        "OTHER");
          }
          r.external_connection = name;
          return std::nullopt;
        });
  }

  Reply disassociate_external_connection(const Call& call) {
    const std::string name = call.qs("external-connection");
    return change_repository(
        call,
        [&](const config::DomainConfig&, config::RepositoryConfig& r) -> std::optional<ApiError> {
          if (r.external_connection != name) {
            return ca::not_found("Repository " + r.name + " has no external connection " + name,
                                 "repository", r.name);
          }
          r.external_connection.clear();
          return std::nullopt;
        });
  }

  Reply describe_repository(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto r = repo_of(domain, call.qs("repository"));
    if (auto* e = std::get_if<ApiError>(&r)) return Reply::fail(*e);
    return Reply::ok(
        {{"repository", repo_description(domain, *std::get<const config::RepositoryConfig*>(r))}});
  }

  Reply delete_repository(const Call& call) {
    std::lock_guard lock(write_mutex);
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto found = repo_of(domain, call.qs("repository"));
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    const config::RepositoryConfig r = *std::get<const config::RepositoryConfig*>(found);
    for (auto& other : domain.repositories) {
      if (std::find(other.upstreams.begin(), other.upstreams.end(), r.name) !=
          other.upstreams.end()) {
        return Reply::fail(ca::conflict("Repository " + r.name + " is an upstream of " +
                                            other.name + "; remove it from there first",
                                        "repository", r.name));
      }
    }
    json desc = repo_description(domain, r);
    cache::Batch batch;
    batch.del(cache::Space::index, repo_record_key(domain.name, r.name));
    for (auto* kind : {"pk", "pv", "as", "po"}) {
      if (auto s = delete_prefix(batch,
                                 std::string(kind) + k_sep + domain.name + k_sep + r.name + k_sep);
          !s) {
        return Reply::fail(ca::internal_error(s.error().message));
      }
    }
    if (auto s = ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    auto s = ctx.topology.update([&](Topology::Snapshot& snap) -> Result<void> {
      for (auto& x : snap.domains) {
        if (x.name != domain.name) continue;
        x.repositories.erase(std::remove_if(x.repositories.begin(), x.repositories.end(),
                                            [&](auto& y) { return y.name == r.name; }),
                             x.repositories.end());
      }
      return {};
    });
    if (!s) return Reply::fail(ca::internal_error(s.error().message));
    // Its places on package groups' allowed-repository lists go with it.
    if (auto f = groups.forget_repository(domain.name, r.name); !f)
      return Reply::fail(ca::internal_error(f.error().message));
    ctx.generations.all_changed();
    ARCA_LOG_INFO("control plane: deleted repository {}/{}", domain.name, r.name);
    return Reply::ok({{"repository", desc}});
  }

  Reply list_repositories_in_domain(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all;
    const std::string prefix = call.qs("repository-prefix");
    const auto admin = call.q("administrator-account");
    for (auto& r : domain.repositories) {
      if (!prefix.empty() && r.name.rfind(prefix, 0) != 0) continue;
      std::string a = r.administrator_account.empty() ? owner_of(domain) : r.administrator_account;
      if (admin && *admin != a) continue;
      all.emplace_back(&domain, &r);
    }
    return list_repos_page(call, std::move(all));
  }

  Reply list_repositories(const Call& call) {
    std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all;
    const std::string prefix = call.qs("repository-prefix");
    for (auto& d : ctx.topology.current().domains) {
      for (auto& r : d.repositories) {
        std::string a = r.administrator_account.empty() ? owner_of(d) : r.administrator_account;
        if (a != call.account) continue;
        if (!prefix.empty() && r.name.rfind(prefix, 0) != 0) continue;
        all.emplace_back(&d, &r);
      }
    }
    return list_repos_page(call, std::move(all));
  }

  Reply list_repos_page(
      const Call& call,
      std::vector<std::pair<const config::DomainConfig*, const config::RepositoryConfig*>> all) {
    int max = k_default_page;
    if (auto e = ca::parse_max_results(call.q("max-results"), k_default_page, max))
      return Reply::fail(*e);
    using Item = std::pair<const config::DomainConfig*, const config::RepositoryConfig*>;
    auto page = paginate(
        std::move(all), [](const Item& i) { return i.first->name + k_sep + i.second->name; },
        call.q("next-token"), max);
    if (auto* e = std::get_if<ApiError>(&page)) return Reply::fail(*e);
    auto& [items, next] = std::get<0>(page);
    json list = json::array();
    for (auto& [d, r] : items) list.push_back(repo_summary(*d, *r));
    json body = {{"repositories", list}};
    if (!next.empty()) body["nextToken"] = next;
    return Reply::ok(body);
  }

  Reply get_repository_endpoint(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto r = repo_of(domain, call.qs("repository"));
    if (auto* e = std::get_if<ApiError>(&r)) return Reply::fail(*e);
    return Reply::ok(
        {{"repositoryEndpoint", call.base_url + "/" + domain.name + "/" + call.qs("format") + "/" +
                                    call.qs("repository") + "/"}});
  }

  Reply get_authorization_token(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    const int64_t max = static_cast<int64_t>(ctx.config.auth.max_token_duration_seconds);
    int64_t duration = std::min<int64_t>(43200, max);
    if (auto v = call.q("duration")) {
      int64_t n = std::stoll(*v);  // validated by check_query
      // auth.max_token_duration_seconds caps the lifetime (tests shorten it to seconds).
      if (n != 0) duration = std::min(n, max);
    }
    if (!ctx.tokens)
      return Reply::fail(ca::internal_error("authorization tokens are not available"));
    const int64_t now = now_unix_ms() / 1000;
    auth::TokenClaims claims{domain.name, owner_of(domain), call.access_key_id, now + duration,
                             now};
    std::string token = ctx.tokens->issue(claims);
    return Reply::ok({{"authorizationToken", token}, {"expiration", now + duration}});
  }

  // --- Permissions policies ---

  json policy_json(const std::string& arn, const std::string& revision,
                   const std::string& document) {
    return {{"resourceArn", arn}, {"revision", revision}, {"document", document}};
  }

  Reply put_domain_policy(const Call& call) {
    std::string domain_name, owner, revision, document;
    if (auto e = body_string(call.body, "domain", domain_name, true)) return Reply::fail(*e);
    if (auto e = ca::check_domain_name("domain", domain_name)) return Reply::fail(*e);
    if (auto e = body_string(call.body, "domainOwner", owner)) return Reply::fail(*e);
    if (auto e = body_string(call.body, "policyRevision", revision)) return Reply::fail(*e);
    if (auto e = body_string(call.body, "policyDocument", document, true)) return Reply::fail(*e);
    if (auto e = ca::check_policy_document(document)) return Reply::fail(*e);
    std::lock_guard lock(write_mutex);
    auto* found = ctx.topology.domain(domain_name);
    if (!found || (!owner.empty() && owner != owner_of(*found))) {
      return Reply::fail(ca::not_found("Domain not found: " + domain_name, "domain", domain_name));
    }
    config::DomainConfig d = *found;
    if (!revision.empty() && revision != d.policy_revision) {
      return Reply::fail(
          ca::conflict("the policy revision does not match the current one", "domain", d.name));
    }
    d.policy = document;
    d.policy_revision = new_revision(document);
    if (auto s = save_domain(d); !s) return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = apply_domain(d); !s) return Reply::fail(ca::internal_error(s.error().message));
    return Reply::ok({{"policy", policy_json(ca::domain_arn(region(), owner_of(d), d.name),
                                             d.policy_revision, d.policy)}});
  }

  Reply get_domain_policy(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    if (domain.policy.empty()) {
      return Reply::fail(ca::not_found("Domain " + domain.name + " has no resource policy",
                                       "domain", domain.name));
    }
    return Reply::ok(
        {{"policy", policy_json(ca::domain_arn(region(), owner_of(domain), domain.name),
                                domain.policy_revision, domain.policy)}});
  }

  Reply delete_domain_policy(const Call& call) {
    std::lock_guard lock(write_mutex);
    auto found = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    config::DomainConfig d = *std::get<const config::DomainConfig*>(found);
    if (d.policy.empty())
      return Reply::fail(
          ca::not_found("Domain " + d.name + " has no resource policy", "domain", d.name));
    if (auto rev = call.q("policy-revision"); rev && *rev != d.policy_revision) {
      return Reply::fail(
          ca::conflict("the policy revision does not match the current one", "domain", d.name));
    }
    json out =
        policy_json(ca::domain_arn(region(), owner_of(d), d.name), d.policy_revision, d.policy);
    d.policy.clear();
    d.policy_revision.clear();
    if (auto s = save_domain(d); !s) return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = apply_domain(d); !s) return Reply::fail(ca::internal_error(s.error().message));
    return Reply::ok({{"policy", out}});
  }

  Reply put_repository_policy(const Call& call) {
    std::string revision, document;
    if (auto e = body_string(call.body, "policyRevision", revision)) return Reply::fail(*e);
    if (auto e = body_string(call.body, "policyDocument", document, true)) return Reply::fail(*e);
    if (auto e = ca::check_policy_document(document)) return Reply::fail(*e);
    std::string arn;
    auto reply = change_repository(
        call,
        [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
          if (!revision.empty() && revision != r.policy_revision) {
            return ca::conflict("the policy revision does not match the current one", "repository",
                                r.name);
          }
          r.policy = document;
          r.policy_revision = new_revision(document);
          revision = r.policy_revision;
          arn = ca::repository_arn(region(), owner_of(d), d.name, r.name);
          return std::nullopt;
        });
    if (reply.error) return reply;
    return Reply::ok({{"policy", policy_json(arn, revision, document)}});
  }

  Reply get_repository_policy(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto found = repo_of(domain, call.qs("repository"));
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    const auto& r = *std::get<const config::RepositoryConfig*>(found);
    if (r.policy.empty()) {
      return Reply::fail(
          ca::not_found("Repository " + r.name + " has no resource policy", "repository", r.name));
    }
    return Reply::ok(
        {{"policy", policy_json(ca::repository_arn(region(), owner_of(domain), domain.name, r.name),
                                r.policy_revision, r.policy)}});
  }

  Reply delete_repository_policy(const Call& call) {
    json out;
    auto reply = change_repository(
        call,
        [&](const config::DomainConfig& d, config::RepositoryConfig& r) -> std::optional<ApiError> {
          if (r.policy.empty())
            return ca::not_found("Repository " + r.name + " has no resource policy", "repository",
                                 r.name);
          if (auto rev = call.q("policy-revision"); rev && *rev != r.policy_revision) {
            return ca::conflict("the policy revision does not match the current one", "repository",
                                r.name);
          }
          out = policy_json(ca::repository_arn(region(), owner_of(d), d.name, r.name),
                            r.policy_revision, r.policy);
          r.policy.clear();
          r.policy_revision.clear();
          return std::nullopt;
        });
    if (reply.error) return reply;
    return Reply::ok({{"policy", out}});
  }

  // --- Tags ---

  // Applies `change` to the tags of the resource an ARN names.
  Reply with_resource_tags(const Call& call,
                           const std::function<std::optional<ApiError>(
                               std::vector<std::pair<std::string, std::string>>&)>& change,
                           bool write) {
    const std::string arn = call.qs("resourceArn");
    if (arn.find(":package-group/") != std::string::npos) return group_tags(arn, change, write);
    auto parsed = ca::parse_arn(arn);
    if (!parsed)
      return Reply::fail(
          ca::validation_error("not a CodeArtifact domain or repository ARN: " + arn));
    std::unique_lock<std::mutex> lock(write_mutex, std::defer_lock);
    if (write) lock.lock();
    auto* d = ctx.topology.domain(parsed->domain);
    if (!d || parsed->account != owner_of(*d) || parsed->region != region()) {
      return Reply::fail(ca::not_found("Resource not found: " + arn, parsed->kind, arn));
    }
    std::vector<std::pair<std::string, std::string>> tags;
    if (parsed->kind == "domain") {
      config::DomainConfig copy = *d;
      if (auto e = change(copy.tags)) return Reply::fail(*e);
      tags = copy.tags;
      if (write) {
        if (auto s = save_domain(copy); !s)
          return Reply::fail(ca::internal_error(s.error().message));
        if (auto s = apply_domain(copy); !s)
          return Reply::fail(ca::internal_error(s.error().message));
      }
    } else {
      auto found = repo_of(*d, parsed->repository);
      if (std::holds_alternative<ApiError>(found)) {
        return Reply::fail(ca::not_found("Resource not found: " + arn, "repository", arn));
      }
      config::RepositoryConfig copy = *std::get<const config::RepositoryConfig*>(found);
      if (auto e = change(copy.tags)) return Reply::fail(*e);
      tags = copy.tags;
      if (write) {
        if (auto s = save_repo(d->name, copy); !s)
          return Reply::fail(ca::internal_error(s.error().message));
        if (auto s = apply_repo(d->name, copy); !s)
          return Reply::fail(ca::internal_error(s.error().message));
      }
    }
    if (write) return Reply::ok(json::object());
    return Reply::ok({{"tags", tags_json(tags)}});
  }

  // with_resource_tags for a package-group ARN.
  Reply group_tags(const std::string& arn,
                   const std::function<std::optional<ApiError>(
                       std::vector<std::pair<std::string, std::string>>&)>& change,
                   bool write) {
    std::unique_lock<std::mutex> lock(write_mutex, std::defer_lock);
    if (write) lock.lock();
    auto tags = groups.group_tags(arn);
    if (!tags) return Reply::fail(ca::not_found("Resource not found: " + arn, "package-group", arn));
    if (auto e = change(*tags)) return Reply::fail(*e);
    if (!write) return Reply::ok({{"tags", tags_json(*tags)}});
    auto saved = groups.set_group_tags(arn, std::move(*tags));
    if (!saved) return Reply::fail(ca::internal_error(saved.error().message));
    if (!*saved) return Reply::fail(ca::not_found("Resource not found: " + arn, "package-group", arn));
    return Reply::ok(json::object());
  }

  Reply tag_resource(const Call& call) {
    if (!call.body.contains("tags")) return Reply::fail(ca::validation_error("'tags' is required"));
    return with_resource_tags(
        call, [&](auto& tags) { return body_tags(call.body, tags, true); }, true);
  }
  Reply untag_resource(const Call& call) {
    auto it = call.body.find("tagKeys");
    if (it == call.body.end() || !it->is_array()) {
      return Reply::fail(ca::validation_error("'tagKeys' is required: a list of tag keys"));
    }
    std::vector<std::string> keys;
    for (auto& k : *it) {
      if (!k.is_string())
        return Reply::fail(ca::validation_error("'tagKeys' must be a list of strings"));
      keys.push_back(k);
    }
    return with_resource_tags(
        call,
        [&](auto& tags) -> std::optional<ApiError> {
          tags.erase(std::remove_if(tags.begin(), tags.end(),
                                    [&](auto& t) {
                                      return std::find(keys.begin(), keys.end(), t.first) !=
                                             keys.end();
                                    }),
                     tags.end());
          return std::nullopt;
        },
        true);
  }
  Reply list_tags(const Call& call) {
    return with_resource_tags(
        call, [](auto&) -> std::optional<ApiError> { return std::nullopt; }, false);
  }

  // --- Packages and versions ---

  Reply list_packages(const Call& call) {
    auto d = domain_of(call);
    if (auto* e = std::get_if<ApiError>(&d)) return Reply::fail(*e);
    const auto& domain = *std::get<const config::DomainConfig*>(d);
    auto r = repo_of(domain, call.qs("repository"));
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
        ctx.store.scan(cache::Space::index, "pk" + std::string(1, k_sep) + base, 100'000'000);
    auto pv_rows =
        ctx.store.scan(cache::Space::index, "pv" + std::string(1, k_sep) + base, 100'000'000);
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
      if (ns && p.key.ns != *ns) continue;
      if (prefix && p.key.name.rfind(*prefix, 0) != 0) continue;
      auto explicit_origin = groups.package_origin(p.key);  // PutPackageOriginConfiguration
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

  Reply describe_package(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto versions = package_versions(pr);
    if (auto* e = std::get_if<ApiError>(&versions)) return Reply::fail(*e);
    auto origin = groups.package_origin(pr.key);  // set by PutPackageOriginConfiguration
    json pkg = {
        {"format", pr.key.format},
        {"name", pr.key.name},
        {"originConfiguration", origin ? *origin : restrictions_for(std::get<0>(versions))}};
    if (!pr.key.ns.empty()) pkg["namespace"] = pr.key.ns;
    return Reply::ok({{"package", pkg}});
  }

  std::optional<std::string> default_display_version(const PackageKey& k,
                                                     const std::vector<VersionRecord>& versions) {
    // The version the format's package record names (npm: the latest tag), when Published.
    if (auto* f = format_of(k.format)) {
      auto pkg = find_package(ctx.store, k);
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

  json package_header(const PackageKey& k) {
    json j = {{"format", k.format}, {"package", k.name}};
    if (!k.ns.empty()) j["namespace"] = k.ns;
    return j;
  }

  Reply list_package_versions(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = package_versions(pr);
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
                   {"origin", origin_json(*pr.repo, v)}};
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
    if (auto dv = default_display_version(pr.key, versions)) body["defaultDisplayVersion"] = *dv;
    if (!next.empty()) body["nextToken"] = next;
    return Reply::ok(body);
  }

  Reply describe_package_version(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = version_of(pr, call.qs("version"));
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    auto& v = std::get<VersionRecord>(found);
    json pv = {{"format", pr.key.format},
               {"packageName", pr.key.name},
               {"displayName", display_name(pr.key, &v)},
               {"version", v.version},
               {"publishedTime", ca::timestamp(v.published_unix_ms)},
               {"revision", version_revision(v)},
               {"status", v.status},
               {"origin", origin_json(*pr.repo, v)},
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

  Reply list_package_version_assets(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = version_of(pr, call.qs("version"));
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
    for (auto& [name, a] : items) list.push_back(asset_summary(name, a));
    json body = package_header(pr.key);
    body["version"] = v.version;
    body["versionRevision"] = version_revision(v);
    body["assets"] = list;
    if (!next.empty()) body["nextToken"] = next;
    return Reply::ok(body);
  }

  Reply get_package_version_asset(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = version_of(pr, call.qs("version"));
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
      auto rec =
          sha ? ctx.store.find_blob(*sha) : Result<std::optional<cache::BlobRecord>>(std::nullopt);
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

  Reply get_package_version_readme(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = version_of(pr, call.qs("version"));
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

  Reply list_package_version_dependencies(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    auto found = version_of(pr, call.qs("version"));
    if (auto* e = std::get_if<ApiError>(&found)) return Reply::fail(*e);
    auto& v = std::get<VersionRecord>(found);
    auto* f = format_of(pr.key.format);
    json deps = f ? f->dependencies(v) : json::array();
    json body = package_header(pr.key);
    body["version"] = v.version;
    body["versionRevision"] = version_revision(v);
    body["dependencies"] = deps;
    return Reply::ok(body);
  }

  // The batch operations: classify every version first (all-or-nothing: one failure makes the
  // rest SKIPPED, as the service does today), then apply.
  struct BatchPlan {
    json successful = json::object();
    json failed = json::object();
    std::vector<VersionRecord> targets;
  };

  std::variant<BatchPlan, ApiError> plan_batch(
      const PackageRef& pr, const std::vector<std::string>& versions,
      const std::map<std::string, std::string>& revisions,
      const std::optional<std::string>& expected_status,
      const std::function<std::optional<std::pair<std::string, std::string>>(const VersionRecord&)>&
          refuse) {
    auto all = package_versions(pr);
    if (auto* e = std::get_if<ApiError>(&all)) return *e;
    std::vector<std::string> names = versions;
    for (auto& [v, rev] : revisions) {
      if (std::find(names.begin(), names.end(), v) == names.end()) names.push_back(v);
    }
    if (names.empty())
      return ca::validation_error(
          "'versions' or 'versionRevisions' must name at least one version");
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
  void versions_removed(const PackageKey& k, cache::Batch& batch,
                        const std::set<std::string>& removed) {
    auto* f = format_of(k.format);
    if (!f || removed.empty()) return;
    auto pkg = find_package(ctx.store, k);
    if (!pkg || !*pkg) return;
    auto versions = list_versions(ctx.store, k);
    PackageRecord record = **pkg;
    if (!f->versions_removed(record, removed, versions ? *versions : std::vector<VersionRecord>{}))
      return;
    batch.put(cache::Space::index, package_key(k), encode(record));
  }

  Reply update_package_versions_status(const Call& call) {
    auto ref = package_ref(call);
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
    std::lock_guard lock(write_mutex);
    auto planned = plan_batch(
        pr, versions, revisions, expected,
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
      if (auto s = ctx.store.commit(std::move(batch), true); !s)
        return Reply::fail(ca::internal_error(s.error().message));
    }
    Reply r = Reply::ok({{"successfulVersions", plan.successful}, {"failedVersions", plan.failed}});
    if (!plan.targets.empty()) r.changed_packages.push_back(pr.key);
    return r;
  }

  Reply dispose_package_versions(const Call& call) { return remove_package_versions(call, true); }

  Reply delete_package_versions(const Call& call) { return remove_package_versions(call, false); }

  // DisposePackageVersions (dispose: the record stays, status Disposed, assets gone) and
  // DeletePackageVersions (the record goes too) share everything else.
  Reply remove_package_versions(const Call& call, bool dispose) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    std::vector<std::string> versions;
    std::map<std::string, std::string> revisions;
    std::optional<std::string> expected;
    if (auto e = batch_inputs(call, versions, revisions, expected)) return Reply::fail(*e);
    std::lock_guard lock(write_mutex);
    auto planned =
        plan_batch(pr, versions, revisions, expected,
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
        batch.del(cache::Space::index,
                  asset_key(pr.key, pr.key.format == "generic" ? v.version + "/" + name : name));
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
      versions_removed(pr.key, batch, gone);
      if (auto s = ctx.store.commit(std::move(batch), true); !s)
        return Reply::fail(ca::internal_error(s.error().message));
    }
    Reply r = Reply::ok({{"successfulVersions", plan.successful}, {"failedVersions", plan.failed}});
    if (!plan.targets.empty()) r.changed_packages.push_back(pr.key);
    return r;
  }

  Reply delete_package(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    std::lock_guard lock(write_mutex);
    auto all = package_versions(pr);
    if (auto* e = std::get_if<ApiError>(&all)) return Reply::fail(*e);
    auto stored_origin = groups.package_origin(pr.key);
    json summary =
        package_summary(pr.key, stored_origin ? *stored_origin : restrictions_for(std::get<0>(all)));
    cache::Batch batch;
    batch.del(cache::Space::index, package_key(pr.key));
    PackageGroupsHandler::forget_package(batch, pr.key);
    auto pv = version_prefix(pr.key);
    auto as = "as" + pv.substr(2);  // same fields, asset kind
    if (auto s = delete_prefix(batch, pv); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = delete_prefix(batch, as); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    Reply r = Reply::ok({{"deletedPackage", summary}});
    r.changed_packages.push_back(pr.key);
    return r;
  }

  Reply copy_package_versions(const Call& call) {
    auto src_ref = package_ref(call, "source-repository");
    if (auto* e = std::get_if<ApiError>(&src_ref)) return Reply::fail(*e);
    auto dst_ref = package_ref(call, "destination-repository");
    if (auto* e = std::get_if<ApiError>(&dst_ref)) return Reply::fail(*e);
    auto& src = std::get<PackageRef>(src_ref);
    auto& dst = std::get<PackageRef>(dst_ref);
    if (src.repo->name == dst.repo->name) {
      return Reply::fail(
          ca::validation_error("the source and destination repositories must differ"));
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
    std::lock_guard lock(write_mutex);
    std::vector<const config::RepositoryConfig*> sources{src.repo};
    if (from_upstream) sources = ctx.topology.resolution_order(src.domain->name, src.repo->name);
    json successful = json::object(), failed = json::object();
    cache::Batch batch;
    std::vector<std::pair<VersionRecord, PackageKey>> copies;
    // Copying adds versions to the destination the way publishing does, so the destination's
    // PUBLISH controls (the package group's and the package's own) apply. The user guide does not
    // say how a refused copy is reported; each version fails with NOT_ALLOWED, naming the control,
    // so a copy cannot bring a version past a control that would refuse its publication.
    constexpr auto k_publish = repo::groups::RestrictionType::publish;
    const OriginPolicy dst_policy =
        groups.policy(dst.key.domain, dst.key.format, dst.key.ns, dst.key.name);
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
        auto v = find_version(ctx.store, k, name);
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
      auto existing = find_version(ctx.store, dst.key, name);
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
      if (auto* holder = ctx.topology.repository(from.domain, from.repo)) v.entry = repo::derived_entry(*holder, v);
      batch.put(cache::Space::index, version_key(dst.key, v.version), encode(v));
      for (auto& [name, a] : v.assets) {
        batch.put(cache::Space::index,
                  asset_key(dst.key, dst.key.format == "generic" ? v.version + "/" + name : name),
                  encode(a));
      }
      successful[v.version] = {{"revision", version_revision(v)}, {"status", v.status}};
      copied.insert(v.version);
    }
    if (!copies.empty()) {
      // Tags (npm's dist-tags) that point at copied versions come along (and win in the
      // destination).
      auto dst_pkg = find_package(ctx.store, dst.key);
      PackageRecord record =
          dst_pkg && *dst_pkg ? **dst_pkg : PackageRecord{json::object(), now_unix_ms()};
      for (auto& [v, from] : copies) {
        auto src_pkg = find_package(ctx.store, from);
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
      if (auto s = set_initial_origin(ctx.store, batch, dst.key, Arrival::published); !s)
        return Reply::fail(ca::internal_error(s.error().message));
      if (auto s = ctx.store.commit(std::move(batch), true); !s)
        return Reply::fail(ca::internal_error(s.error().message));
    }
    Reply r = Reply::ok({{"successfulVersions", successful}, {"failedVersions", failed}});
    if (!copies.empty()) r.changed_packages.push_back(dst.key);
    return r;
  }

  Reply publish_package_version(const Call& call) {
    auto ref = package_ref(call);
    if (auto* e = std::get_if<ApiError>(&ref)) return Reply::fail(*e);
    auto& pr = std::get<PackageRef>(ref);
    if (pr.key.format != "generic") {
      return Reply::fail(
          ca::validation_error("PublishPackageVersion supports only the generic format"));
    }
    constexpr auto k_publish = repo::groups::RestrictionType::publish;
    if (const OriginPolicy policy =
            groups.policy(pr.key.domain, pr.key.format, pr.key.ns, pr.key.name);
        !policy.allows(k_publish, pr.key.repo)) {
      return Reply::fail(ca::access_denied("Publishing " + pr.key.ns + "/" + pr.key.name +
                                           " to repository " + pr.key.repo +
                                           " is not allowed by " +
                                           policy.blocker(k_publish, pr.key.repo)));
    }
    // No publishing conflict with upstreams to check here (the 409 npm, PyPI, Maven and NuGet
    // give): generic packages are never taken from upstream repositories or external connections.
    const Request& req = *call.request;
    const std::string declared(req.header("x-amz-content-sha256"));
    if (declared.empty()) {
      return Reply::fail(ca::validation_error(
          "the x-amz-content-sha256 header (the asset's SHA-256) is required"));
    }
    const std::string actual = to_hex(sha256_of(req.body));
    if (declared != actual) {
      return Reply::fail(
          ca::validation_error("the asset's SHA-256 does not match x-amz-content-sha256"));
    }
    const bool unfinished = call.qs("unfinished") == "true";
    const std::string version = call.qs("version");
    const std::string asset_name = call.qs("asset");
    std::lock_guard lock(write_mutex);
    auto existing = find_version(ctx.store, pr.key, version);
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
    auto writer = ctx.store.begin_blob();
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
    batch.put(cache::Space::index, asset_key(pr.key, version + "/" + asset_name), encode(asset));
    auto pkg = find_package(ctx.store, pr.key);
    if (pkg && !*pkg)
      batch.put(cache::Space::index, package_key(pr.key),
                encode(PackageRecord{json::object(), now_unix_ms()}));
    if (auto s = set_initial_origin(ctx.store, batch, pr.key, Arrival::published); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    if (auto s = ctx.store.commit(std::move(batch), true); !s)
      return Reply::fail(ca::internal_error(s.error().message));
    json body = package_header(pr.key);
    body["version"] = version;
    body["versionRevision"] = version_revision(v);
    body["status"] = v.status;
    body["asset"] = asset_summary(asset_name, asset);
    Reply r = Reply::ok(body);
    r.changed_packages.push_back(pr.key);
    return r;
  }

  Reply dispatch(const Call& call) {
    const std::string_view name = call.op->name;
    if (name == "CreateDomain") return create_domain(call);
    if (name == "DescribeDomain") return describe_domain(call);
    if (name == "DeleteDomain") return delete_domain(call);
    if (name == "ListDomains") return list_domains(call);
    if (name == "CreateRepository") return create_repository(call);
    if (name == "DescribeRepository") return describe_repository(call);
    if (name == "UpdateRepository") return update_repository(call);
    if (name == "DeleteRepository") return delete_repository(call);
    if (name == "ListRepositoriesInDomain") return list_repositories_in_domain(call);
    if (name == "ListRepositories") return list_repositories(call);
    if (name == "AssociateExternalConnection") return associate_external_connection(call);
    if (name == "DisassociateExternalConnection") return disassociate_external_connection(call);
    if (name == "GetRepositoryEndpoint") return get_repository_endpoint(call);
    if (name == "GetAuthorizationToken") return get_authorization_token(call);
    if (name == "PutDomainPermissionsPolicy") return put_domain_policy(call);
    if (name == "GetDomainPermissionsPolicy") return get_domain_policy(call);
    if (name == "DeleteDomainPermissionsPolicy") return delete_domain_policy(call);
    if (name == "PutRepositoryPermissionsPolicy") return put_repository_policy(call);
    if (name == "GetRepositoryPermissionsPolicy") return get_repository_policy(call);
    if (name == "DeleteRepositoryPermissionsPolicy") return delete_repository_policy(call);
    if (name == "TagResource") return tag_resource(call);
    if (name == "UntagResource") return untag_resource(call);
    if (name == "ListTagsForResource") return list_tags(call);
    if (name == "ListPackages") return list_packages(call);
    if (name == "DescribePackage") return describe_package(call);
    if (name == "ListPackageVersions") return list_package_versions(call);
    if (name == "DescribePackageVersion") return describe_package_version(call);
    if (name == "ListPackageVersionAssets") return list_package_version_assets(call);
    if (name == "GetPackageVersionAsset") return get_package_version_asset(call);
    if (name == "GetPackageVersionReadme") return get_package_version_readme(call);
    if (name == "ListPackageVersionDependencies") return list_package_version_dependencies(call);
    if (name == "UpdatePackageVersionsStatus") return update_package_versions_status(call);
    if (name == "DisposePackageVersions") return dispose_package_versions(call);
    if (name == "DeletePackageVersions") return delete_package_versions(call);
    if (name == "DeletePackage") return delete_package(call);
    if (name == "CopyPackageVersions") return copy_package_versions(call);
    if (name == "PublishPackageVersion") return publish_package_version(call);
    if (PackageGroupsHandler::find_operation(call.op->method, call.op->path) == call.op) {
      auto out = groups.run(*call.op, call.query, call.body, call.account);
      if (out.error) return Reply::fail(*out.error);
      Reply reply = Reply::ok(std::move(out.body));
      // Origin controls decide which versions the data plane lists: rebuild npm documents.
      reply.everything_changed = PackageGroupsHandler::changes_restrictions(call.op->name);
      return reply;
    }
    return Reply::fail(ca::unknown_operation(call.request->method, call.request->path));
  }

  // Everything before the operation runs: routing, authentication, query and body parsing.
  Reply prepare_and_run(Call& call) {
    const Request& req = *call.request;
    call.op = ca::find_operation(req.method, req.path);
    if (!call.op) call.op = PackageGroupsHandler::find_operation(req.method, req.path);
    if (!call.op) return Reply::fail(ca::unknown_operation(req.method, req.path));
    if (auto e = authenticate(req, call)) return Reply::fail(*e);
    if (auto e = ca::parse_query(req.query, call.query)) return Reply::fail(*e);
    if (auto e = ca::check_query(*call.op, call.query)) return Reply::fail(*e);
    if (call.op->name != "PublishPackageVersion") {
      // A signed payload hash must match what arrived.
      auto declared = req.header("x-amz-content-sha256");
      if (!declared.empty() && declared != "UNSIGNED-PAYLOAD" &&
          declared != to_hex(sha256_of(req.body))) {
        return Reply::fail(ApiError{403,
                                    "InvalidSignatureException",
                                    "x-amz-content-sha256 does not match the request body",
                                    {},
                                    {},
                                    {}});
      }
      bool blank = std::all_of(req.body.begin(), req.body.end(),
                               [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
      if (!blank) {
        // A hostile nesting depth would overflow the stack wherever the value is copied.
        if (!json_nesting_within(req.body)) {
          return Reply::fail(
              ca::validation_error("the request body nests too deeply", "CANNOT_PARSE"));
        }
        auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
          return Reply::fail(
              ca::validation_error("the request body is not a JSON object", "CANNOT_PARSE"));
        }
        call.body = std::move(body);
      }
    }
    return dispatch(call);
  }
};

CodeArtifactHandler::CodeArtifactHandler(Context& context)
    : impl_(std::make_unique<Impl>(context)) {}
CodeArtifactHandler::~CodeArtifactHandler() = default;

bool CodeArtifactHandler::is_publish(const Request& request) const {
  return request.method == "POST" && request.path == "/v1/package/version/publish";
}

asio::awaitable<void> CodeArtifactHandler::handle(Exchange& ex) {
  auto& impl = *impl_;
  const Request& req = ex.request();
  Call call;
  call.request = &req;
  call.base_url = public_origin(impl.ctx.config, req);
  Call* call_ptr = &call;
  Impl* impl_ptr = &impl;
  auto run = [impl_ptr, call_ptr]() -> Reply {
    try {
      return impl_ptr->prepare_and_run(*call_ptr);
    } catch (const std::exception& e) {
      return Reply::fail(ca::internal_error(std::string("internal error: ") + e.what()));
    }
  };
  Reply reply = co_await offload(impl.ctx.pool, std::move(run));
  if (reply.everything_changed) impl.ctx.generations.all_changed();
  for (auto& k : reply.changed_packages) impl.ctx.generations.package_changed(k.domain, k.format, k.ns, k.name);
  const std::string op_name = call.op ? std::string(call.op->name) : std::string("unknown");
  if (reply.error) {
    Headers headers;
    headers.emplace_back("Content-Type", "application/json");
    headers.emplace_back("x-amzn-ErrorType", reply.error->type);
    ARCA_LOG_INFO("[R{}] codeartifact {} -> {} {}", req.id, op_name, reply.error->status,
                  reply.error->type);
    std::string body = ca::error_body(*reply.error);
    co_await ex.respond(reply.error->status, std::move(headers), std::move(body));
    co_return;
  }
  if (reply.blob) {
    cache::BlobRecord record = *reply.blob;
    Headers headers = std::move(reply.headers);
    co_await impl.ctx.assets.serve_blob(ex, record, std::move(headers));
    co_return;
  }
  Headers headers;
  headers.emplace_back("Content-Type", "application/json");
  std::string body = dump(reply.body);
  co_await ex.respond(200, std::move(headers), std::move(body));
}

}  // namespace arca::control
