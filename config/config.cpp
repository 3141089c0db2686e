#include "config/config.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

namespace arca::config {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& what) {
  throw ConfigError(source + ": " + (path.empty() ? "" : path + ": ") + what);
}

// Walks one JSON object, handing out its fields by name and rejecting any key not taken.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path, const std::string& source)
      : j_(j), path_(std::move(path)), source_(source) {
    if (!j.is_object()) fail(source_, path_.empty() ? "(top level)" : path_, "expected an object");
  }
  ~ObjectReader() noexcept(false) {
    if (std::uncaught_exceptions()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!taken_.count(it.key())) fail(source_, child(it.key()), "unknown key");
    }
  }

  const json* find(const std::string& key) {
    taken_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  std::string child(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  void string(const std::string& key, std::string& out) {
    if (auto* v = find(key)) {
      if (!v->is_string()) fail(source_, child(key), "expected a string");
      out = v->get<std::string>();
    }
  }
  void boolean(const std::string& key, bool& out) {
    if (auto* v = find(key)) {
      if (!v->is_boolean()) fail(source_, child(key), "expected true or false");
      out = v->get<bool>();
    }
  }
  template <class T>
  void unsigned_int(const std::string& key, T& out, uint64_t min = 0,
                    uint64_t max = std::numeric_limits<T>::max()) {
    if (auto* v = find(key)) {
      if (!v->is_number_unsigned()) fail(source_, child(key), "expected a non-negative integer");
      auto n = v->get<uint64_t>();
      if (n < min || n > max) {
        fail(source_, child(key),
             "must be between " + std::to_string(min) + " and " + std::to_string(max));
      }
      out = static_cast<T>(n);
    }
  }
  template <class Duration>
  void duration(const std::string& key, Duration& out, uint64_t max = 86'400'000) {
    uint64_t n = out.count();
    unsigned_int(key, n, 0, max);
    out = Duration(n);
  }

  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> taken_;
};

const std::regex& domain_name_pattern() {
  // CodeArtifact: [a-z][a-z0-9\-]{0,48}[a-z0-9], 2-50 characters.
  static const std::regex re("[a-z][a-z0-9-]{0,48}[a-z0-9]");
  return re;
}
const std::regex& repository_name_pattern() {
  // CodeArtifact: [A-Za-z0-9][A-Za-z0-9._\-]{1,99}
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._-]{1,99}");
  return re;
}

std::string infer_format(const std::string& name) {
  static const std::map<std::string, std::string> k_known = {
      {"public:npmjs", "npm"},          {"public:pypi", "pypi"},
      {"public:maven-central", "maven"}, {"public:maven-googleandroid", "maven"},
      {"public:maven-gradleplugins", "maven"}, {"public:maven-commonsware", "maven"},
      {"public:maven-clojars", "maven"}, {"public:nuget-org", "nuget"},
      {"public:crates-io", "cargo"},
      {"public:ruby-gems-org", "ruby"}};
  auto it = k_known.find(name);
  return it == k_known.end() ? "" : it->second;
}

void parse_listener(ObjectReader& r, ListenerConfig& l) {
  r.unsigned_int("header_limit_bytes", l.header_limit_bytes, 1024, 1024 * 1024);
  r.unsigned_int("body_limit_bytes", l.body_limit_bytes, 1024, 1ull << 40);
  r.unsigned_int("publish_body_limit_bytes", l.publish_body_limit_bytes, 1024, 1ull << 40);
  r.duration("idle_timeout_ms", l.idle_timeout);
  r.duration("io_timeout_ms", l.io_timeout);
  r.duration("shutdown_grace_ms", l.shutdown_grace);
  r.unsigned_int("threads", l.threads, 0, 256);
}

void parse_upstream(ObjectReader& r, UpstreamClientConfig& u) {
  r.duration("connect_timeout_ms", u.connect_timeout);
  r.duration("read_timeout_ms", u.read_timeout);
  r.unsigned_int("max_redirects", u.max_redirects, 0, 20);
  r.unsigned_int("pool_size_per_host", u.pool_size_per_host, 0, 1024);
  r.unsigned_int("max_metadata_bytes", u.max_metadata_bytes, 1024, 1ull << 40);
  r.unsigned_int("max_asset_bytes", u.max_asset_bytes, 1024, 1ull << 50);
  r.string("ca_file", u.ca_file);
}

void parse_cache(ObjectReader& r, CacheConfig& c) {
  r.unsigned_int("chunk_size_bytes", c.chunk_size_bytes, 4096, 64u * 1024 * 1024);
  r.unsigned_int("memory_cache_bytes", c.memory_cache_bytes, 0, 1ull << 40);
  r.boolean("finish_fills_without_client", c.finish_fills_without_client);
}

void parse_auth(ObjectReader& r, AuthConfig& a) {
  if (const json* keys = r.find("access_keys")) {
    if (!keys->is_array()) fail(r.source(), r.child("access_keys"), "expected an array");
    for (size_t i = 0; i < keys->size(); ++i) {
      std::string path = r.child("access_keys") + "[" + std::to_string(i) + "]";
      ObjectReader kr((*keys)[i], path, r.source());
      AccessKeyConfig k;
      kr.string("access_key_id", k.access_key_id);
      kr.string("secret_access_key", k.secret_access_key);
      kr.string("account", k.account);
      if (k.access_key_id.empty() || k.access_key_id.size() > 128) {
        fail(r.source(), path + ".access_key_id", "required (1-128 characters)");
      }
      if (k.secret_access_key.empty()) fail(r.source(), path + ".secret_access_key", "required");
      if (k.account.empty()) k.account = a.default_account;
      a.access_keys.push_back(std::move(k));
    }
  }
  r.string("default_account", a.default_account);
  r.boolean("allow_unsigned_loopback", a.allow_unsigned_loopback);
  if (const json* v = r.find("anonymous_read")) {
    if (!v->is_boolean()) fail(r.source(), r.child("anonymous_read"), "expected true or false");
    a.anonymous_read = v->get<bool>();
  }
  if (const json* v = r.find("anonymous_write")) {
    if (!v->is_boolean()) fail(r.source(), r.child("anonymous_write"), "expected true or false");
    a.anonymous_write = v->get<bool>();
  }
  r.unsigned_int("max_token_duration_seconds", a.max_token_duration_seconds, 1, 43200);
  r.duration("max_clock_skew_seconds", a.max_clock_skew, 86400);
}

bool is_account_id(const std::string& s) {
  if (s.size() != 12) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_http_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

CodeArtifactSourceConfig parse_codeartifact_source(ObjectReader& r) {
  CodeArtifactSourceConfig ca;
  r.string("domain", ca.domain);
  r.string("domain_owner", ca.domain_owner);
  r.string("region", ca.region);
  r.string("repository", ca.repository);
  r.string("endpoint", ca.endpoint);
  uint64_t duration = static_cast<uint64_t>(ca.duration_seconds);
  r.unsigned_int("duration_seconds", duration, 0, 43200);
  ca.duration_seconds = static_cast<int64_t>(duration);
  if (!std::regex_match(ca.domain, domain_name_pattern())) {
    fail(r.source(), r.child("domain"),
         "'" + ca.domain + "' is not a valid domain name (2-50 of a-z 0-9 -, starting with a letter)");
  }
  if (!is_account_id(ca.domain_owner)) {
    fail(r.source(), r.child("domain_owner"), "must be a 12-digit account id");
  }
  static const std::regex k_region("[a-z]{2}(-[a-z]+)+-[0-9]{1,2}");
  if (!ca.region.empty() && !std::regex_match(ca.region, k_region)) {
    fail(r.source(), r.child("region"), "'" + ca.region + "' is not an AWS region (e.g. us-east-1)");
  }
  if (!std::regex_match(ca.repository, repository_name_pattern())) {
    fail(r.source(), r.child("repository"), "'" + ca.repository + "' is not a valid repository name");
  }
  if (!ca.endpoint.empty() && !is_http_url(ca.endpoint)) {
    fail(r.source(), r.child("endpoint"), "must be an http:// or https:// URL");
  }
  if (ca.duration_seconds != 0 && ca.duration_seconds < 900) {
    fail(r.source(), r.child("duration_seconds"), "must be 0 or between 900 and 43200");
  }
  return ca;
}

}  // namespace

void apply_listen(ListenerConfig& listener, std::string_view host_port) {
  std::string s(host_port);
  std::string host;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      throw ConfigError("listen: expected [IPV6]:PORT, got '" + s + "'");
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) throw ConfigError("listen: expected HOST:PORT, got '" + s + "'");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty()) throw ConfigError("listen: empty host in '" + s + "'");
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    throw ConfigError("listen: bad port in '" + s + "'");
  }
  listener.host = host;
  listener.port = static_cast<uint16_t>(p);
}

Config parse_config(std::string_view text, std::string_view source_view) {
  const std::string source(source_view);
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (root.is_discarded()) fail(source, "", "not valid JSON (comments are allowed)");

  Config c;
  {
    ObjectReader r(root, "", source);
    if (auto* v = r.find("listen")) {
      if (!v->is_string()) fail(source, "listen", "expected \"HOST:PORT\"");
      try {
        apply_listen(c.listen, v->get<std::string>());
      } catch (const ConfigError& e) {
        fail(source, "", e.what());
      }
    }
    r.string("data_dir", c.data_dir);
    r.string("port_file", c.port_file);
    r.string("public_url", c.public_url);
    r.string("log_level", c.log_level);
    r.string("region", c.region);
    if (auto* v = r.find("listener")) {
      ObjectReader lr(*v, "listener", source);
      parse_listener(lr, c.listen);
    }
    if (auto* v = r.find("upstream")) {
      ObjectReader ur(*v, "upstream", source);
      parse_upstream(ur, c.upstream);
    }
    if (auto* v = r.find("cache")) {
      ObjectReader cr(*v, "cache", source);
      parse_cache(cr, c.cache);
    }
    if (auto* v = r.find("npm")) {
      ObjectReader nr(*v, "npm", source);
      nr.boolean("allow_unpublish", c.npm.allow_unpublish);
    }
    if (auto* v = r.find("auth")) {
      ObjectReader ar(*v, "auth", source);
      parse_auth(ar, c.auth);
    }
    if (auto* v = r.find("external_connections")) {
      if (!v->is_object()) fail(source, "external_connections", "expected an object");
      for (auto it = v->begin(); it != v->end(); ++it) {
        std::string path = "external_connections." + it.key();
        ExternalConnectionConfig ec;
        ec.name = it.key();
        ObjectReader er(it.value(), path, source);
        er.string("url", ec.url);
        er.string("format", ec.format);
        er.duration("metadata_ttl_seconds", ec.metadata_ttl, 365ull * 86400);
        if (const json* hosts = er.find("allowed_hosts")) {
          if (!hosts->is_array()) fail(source, path + ".allowed_hosts", "expected an array of hosts");
          for (auto& h : *hosts) {
            if (!h.is_string() || h.get<std::string>().empty() ||
                h.get<std::string>().find_first_of("/@ ") != std::string::npos) {
              fail(source, path + ".allowed_hosts", "expected host or host:port strings");
            }
            ec.allowed_hosts.push_back(h.get<std::string>());
          }
        }
        if (const json* ca = er.find("codeartifact")) {
          if (!ec.url.empty()) fail(source, path + ".url", "not allowed with codeartifact");
          if (!ec.format.empty()) fail(source, path + ".format", "not allowed with codeartifact");
          ObjectReader cr(*ca, path + ".codeartifact", source);
          ec.codeartifact = parse_codeartifact_source(cr);
          c.external_connections.emplace(ec.name, std::move(ec));
          continue;
        }
        if (ec.format.empty()) ec.format = infer_format(ec.name);
        if (ec.url.empty()) fail(source, path + ".url", "required");
        if (!is_http_url(ec.url)) fail(source, path + ".url", "must be an http:// or https:// URL");
        // A base URL (every format but NuGet, whose URL is its service index) ends in '/'.
        if (ec.url.back() != '/' && ec.format != "nuget") ec.url += '/';
        static const std::set<std::string> k_formats = {"npm", "pypi", "maven", "nuget", "generic",
                                                        "cargo", "ruby", "swift"};
        if (!k_formats.count(ec.format)) {
          fail(source, path + ".format",
               ec.format.empty() ? "required (npm, pypi, maven, nuget) for non-public connections"
                                 : "unknown format '" + ec.format + "'");
        }
        c.external_connections.emplace(ec.name, std::move(ec));
      }
    }
    if (auto* v = r.find("domains")) {
      if (!v->is_array()) fail(source, "domains", "expected an array");
      for (size_t i = 0; i < v->size(); ++i) {
        std::string path = "domains[" + std::to_string(i) + "]";
        DomainConfig d;
        ObjectReader dr((*v)[i], path, source);
        dr.string("name", d.name);
        if (const json* repos = dr.find("repositories")) {
          if (!repos->is_array()) fail(source, path + ".repositories", "expected an array");
          for (size_t k = 0; k < repos->size(); ++k) {
            std::string rpath = path + ".repositories[" + std::to_string(k) + "]";
            RepositoryConfig rc;
            ObjectReader rr((*repos)[k], rpath, source);
            rr.string("name", rc.name);
            rr.string("description", rc.description);
            rr.string("external_connection", rc.external_connection);
            if (const json* ups = rr.find("upstreams")) {
              if (!ups->is_array()) fail(source, rpath + ".upstreams", "expected an array of names");
              for (auto& u : *ups) {
                if (!u.is_string()) fail(source, rpath + ".upstreams", "expected an array of names");
                rc.upstreams.push_back(u.get<std::string>());
              }
            }
            d.repositories.push_back(std::move(rc));
          }
        }
        c.domains.push_back(std::move(d));
      }
    }
  }
  try {
    validate(c);
  } catch (const ConfigError& e) {
    fail(source, "", e.what());
  }
  return c;
}

void validate(const Config& c) {
  static const std::set<std::string> k_levels = {"trace", "debug", "info", "warn",
                                                 "warning", "error", "off"};
  if (!k_levels.count(c.log_level)) throw ConfigError("log_level: unknown level '" + c.log_level + "'");
  if (c.data_dir.empty()) throw ConfigError("data_dir: must not be empty");
  if (!c.public_url.empty() && !is_http_url(c.public_url)) {
    throw ConfigError("public_url: must be an http:// or https:// URL");
  }
  if (!is_account_id(c.auth.default_account)) {
    throw ConfigError("auth.default_account: must be a 12-digit account id");
  }
  for (size_t i = 0; i < c.auth.access_keys.size(); ++i) {
    if (!is_account_id(c.auth.access_keys[i].account)) {
      throw ConfigError("auth.access_keys[" + std::to_string(i) + "].account: must be a 12-digit account id");
    }
  }
  std::set<std::string> domains;
  for (size_t i = 0; i < c.domains.size(); ++i) {
    const auto& d = c.domains[i];
    std::string path = "domains[" + std::to_string(i) + "]";
    if (!std::regex_match(d.name, domain_name_pattern())) {
      throw ConfigError(path + ".name: '" + d.name +
                        "' is not a valid domain name (2-50 of a-z 0-9 -, starting with a letter)");
    }
    if (d.name == "v1") throw ConfigError(path + ".name: 'v1' is reserved for the API");
    if (!domains.insert(d.name).second) throw ConfigError(path + ".name: duplicate domain '" + d.name + "'");
    std::map<std::string, const RepositoryConfig*> repos;
    for (size_t k = 0; k < d.repositories.size(); ++k) {
      const auto& r = d.repositories[k];
      std::string rpath = path + ".repositories[" + std::to_string(k) + "]";
      if (!std::regex_match(r.name, repository_name_pattern())) {
        throw ConfigError(rpath + ".name: '" + r.name + "' is not a valid repository name");
      }
      if (!repos.emplace(r.name, &r).second) {
        throw ConfigError(rpath + ".name: duplicate repository '" + r.name + "'");
      }
      if (r.upstreams.size() > 10) throw ConfigError(rpath + ".upstreams: at most 10 upstreams");
      if (!r.external_connection.empty() && !c.external_connections.count(r.external_connection)) {
        throw ConfigError(rpath + ".external_connection: unknown external connection '" +
                          r.external_connection + "'");
      }
    }
    for (size_t k = 0; k < d.repositories.size(); ++k) {
      const auto& r = d.repositories[k];
      std::string rpath = path + ".repositories[" + std::to_string(k) + "]";
      std::set<std::string> seen;
      for (auto& u : r.upstreams) {
        if (!repos.count(u)) throw ConfigError(rpath + ".upstreams: unknown repository '" + u + "'");
        if (u == r.name) throw ConfigError(rpath + ".upstreams: a repository cannot be its own upstream");
        if (!seen.insert(u).second) throw ConfigError(rpath + ".upstreams: '" + u + "' listed twice");
      }
    }
    // Cycle check (depth-first with colours).
    std::map<std::string, int> colour;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      colour[name] = 1;
      for (auto& u : repos[name]->upstreams) {
        if (colour[u] == 1) {
          throw ConfigError(path + ": upstream cycle through repository '" + u + "'");
        }
        if (colour[u] == 0) visit(u);
      }
      colour[name] = 2;
    };
    for (auto& [name, _] : repos) {
      if (colour[name] == 0) visit(name);
    }
  }
}

Config load_config(const std::string& path) {
  Config c;
  if (path.empty()) {
    c = parse_config(default_config_text(), "(embedded default config)");
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot read the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    c = parse_config(ss.str(), path);
  }
  if (const char* v = std::getenv("ARCA_LISTEN"); v && *v) apply_listen(c.listen, v);
  if (const char* v = std::getenv("ARCA_DATA_DIR"); v && *v) c.data_dir = v;
  if (const char* v = std::getenv("ARCA_LOG_LEVEL"); v && *v) c.log_level = v;
  if (const char* v = std::getenv("ARCA_PUBLIC_URL"); v && *v) c.public_url = v;
  validate(c);
  return c;
}

bool anonymous_allowed(const Config& config, bool write) {
  const std::string& host = config.listen.host;
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  const auto& setting = write ? config.auth.anonymous_write : config.auth.anonymous_read;
  return setting.value_or(loopback);
}

}  // namespace arca::config
