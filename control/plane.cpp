// What the resources share: lookups, persistence of domains and repositories, package
// references (plane.hpp).

#include "control/plane.hpp"

#include "common/digest.hpp"
#include "control/api_handler.hpp"
#include "formats/format.hpp"
#include "formats/registry.hpp"

#include <algorithm>

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

constexpr size_t k_max_tags = 200;

// The store records of domains and repositories created through the API (api_handler.hpp).
const std::string k_secret_key = std::string("sk") + k_sep + "token";

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

}  // namespace

std::string domain_record_key(std::string_view d) {
  return "dm" + std::string(1, k_sep) + std::string(d);
}
std::string repo_record_key(std::string_view d, std::string_view r) {
  return "rp" + std::string(1, k_sep) + std::string(d) + k_sep + std::string(r);
}

Plane::Plane(Context& c) : ctx(c), groups(c) { ctx.origins = &groups; }
Plane::~Plane() {
  if (ctx.origins == &groups) ctx.origins = nullptr;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
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

// The revision of a version: a digest of its assets (stable while the assets are).
std::string version_revision(const VersionRecord& v) {
  std::string material = "version:" + v.version + "\n";
  for (auto& [name, a] : v.assets) material += name + ":" + a.sha256_hex + "\n";
  return base64_encode(sha256_of(material));
}

const std::string& region(Plane& plane) { return plane.ctx.config.region; }

std::string owner_of(Plane& plane, const config::DomainConfig& d) {
  return d.owner.empty() ? primary_account(plane.ctx.config) : d.owner;
}

std::variant<const config::DomainConfig*, ApiError> domain_of(Plane& plane, const Call& call) {
  const std::string name = call.qs("domain");
  auto* d = plane.ctx.topology.domain(name);
  if (!d || (call.q("domain-owner") && *call.q("domain-owner") != owner_of(plane, *d))) {
    return ca::not_found("Domain not found: " + name, "domain", name);
  }
  return d;
}

std::variant<const config::RepositoryConfig*, ApiError> repo_of(Plane& plane,
                                                                const config::DomainConfig& d,
                                                                const std::string& name) {
  for (auto& r : d.repositories) {
    if (r.name == name) return &r;
  }
  return ca::not_found("Repository not found: " + name + " in domain " + d.name, "repository",
                       name);
}

Result<void> save_domain(Plane& plane, const config::DomainConfig& d) {
  return plane.ctx.store.put(cache::Space::index, domain_record_key(d.name), encode_domain(d));
}

Result<void> save_repo(Plane& plane, const std::string& domain, const config::RepositoryConfig& r) {
  return plane.ctx.store.put(cache::Space::index, repo_record_key(domain, r.name), encode_repo(r));
}

// Replaces a domain (without its repositories) in the topology.
Result<void> apply_domain(Plane& plane, const config::DomainConfig& d) {
  return plane.ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
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

Result<void> apply_repo(Plane& plane, const std::string& domain,
                        const config::RepositoryConfig& r) {
  return plane.ctx.topology.update([&](Topology::Snapshot& s) -> Result<void> {
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

Result<void> delete_prefix(Plane& plane, cache::Batch& batch, const std::string& prefix) {
  ARCA_TRY(auto rows, plane.ctx.store.scan(cache::Space::index, prefix, 100'000'000));
  for (auto& [k, v] : rows) batch.del(cache::Space::index, k);
  return {};
}

std::optional<ApiError> body_tags(const json& body,
                                  std::vector<std::pair<std::string, std::string>>& out,
                                  bool required) {
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

std::variant<PackageRef, ApiError> package_ref(Plane& plane, const Call& call,
                                               const std::string& repo_param) {
  auto d = domain_of(plane, call);
  if (auto* e = std::get_if<ApiError>(&d)) return *e;
  auto* domain = std::get<const config::DomainConfig*>(d);
  auto r = repo_of(plane, *domain, call.qs(repo_param));
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  PackageRef ref;
  ref.domain = domain;
  ref.repo = std::get<const config::RepositoryConfig*>(r);
  ref.key = PackageKey{domain->name, ref.repo->name, call.qs("format"), call.qs("namespace"),
                       call.qs("package")};
  if (is_generic(ref.key.format) && ref.key.ns.empty()) {
    return ca::validation_error("generic packages require a namespace");
  }
  // As the format stores names (NuGet: ids lower-case; the API accepts any case).
  if (auto* f = format_of(plane, ref.key.format)) {
    ref.key.ns = f->stored_namespace(ref.key.ns);
    ref.key.name = f->stored_name(ref.key.name);
  }
  return ref;
}

// Versions of a package; ResourceNotFound when the package does not exist here.
std::variant<std::vector<VersionRecord>, ApiError> package_versions(Plane& plane,
                                                                    const PackageRef& ref) {
  auto versions = list_versions(plane.ctx.store, ref.key);
  if (!versions) return ca::internal_error(versions.error().message);
  if (versions->empty()) {
    auto pkg = find_package(plane.ctx.store, ref.key);
    if (!pkg) return ca::internal_error(pkg.error().message);
    if (!*pkg)
      return ca::not_found("Package not found: " + display_name(plane, ref.key), "package",
                           ref.key.name);
  }
  return std::move(*versions);
}

// The Format serving `name`; null for formats with no data plane (generic).
const formats::Format* format_of(Plane& plane, std::string_view name) {
  return plane.ctx.formats ? plane.ctx.formats->find(name) : nullptr;
}

// The package's name for people (npm "@scope/name", NuGet's id as published).
std::string display_name(Plane& plane, const PackageKey& k, const VersionRecord* v) {
  if (auto* f = format_of(plane, k.format)) return f->display_name(k, v);
  return k.ns.empty() ? k.name : k.ns + "/" + k.name;
}

std::variant<VersionRecord, ApiError> version_of(Plane& plane, const PackageRef& ref,
                                                 const std::string& version) {
  // As the format stores versions (NuGet: normalized and lower-case; "1.0" finds "1.0.0").
  std::string key = version;
  if (auto* f = format_of(plane, ref.key.format)) key = f->stored_version(version);
  auto v = find_version(plane.ctx.store, ref.key, key);
  if (!v) return ca::internal_error(v.error().message);
  if (!*v) {
    return ca::not_found(
        "Package version not found: " + display_name(plane, ref.key) + "@" + version,
        "package-version", version);
  }
  return std::move(**v);
}

json package_header(const PackageKey& k) {
  json j = {{"format", k.format}, {"package", k.name}};
  if (!k.ns.empty()) j["namespace"] = k.ns;
  return j;
}

bool is_generic(std::string_view format) { return format == "generic"; }

std::string asset_record_name(const PackageKey& k, const std::string& version,
                              const std::string& asset) {
  return is_generic(k.format) ? version + "/" + asset : asset;
}

}  // namespace arca::control::ops

namespace arca::control {

using namespace formats;
using namespace ops;

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

}  // namespace arca::control
