#include "net/codeartifact_upstreams.hpp"

#include "common/digest.hpp"
#include "common/flights.hpp"
#include "common/log.hpp"
#include "net/blocking.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>

namespace arca::net {

namespace asio = boost::asio;

struct CodeArtifactUpstreams::Connection {
  std::string name;
  config::CodeArtifactSourceConfig source;
  std::string region;
  std::string api;  // the API base URL, no trailing '/'
  auth::TokenManager* tokens = nullptr;
  // format → repository endpoint (ending in '/'); guarded by CodeArtifactUpstreams::mu_.
  std::map<std::string, std::string> endpoints;
  // format → why the last lookup failed, for callers that waited on it (guarded by mu_).
  // The flight's generation comes with it, so a waiter only takes a failure newer than its wait.
  std::map<std::string, std::pair<uint64_t, Error>> endpoint_errors;
  FlightGate gate;  // one GetRepositoryEndpoint in flight per connection
};

namespace {


// What a client sees when no token or endpoint can be had: a gateway error (502), or 503/504
// when the service is unreachable or timing out. Never the 401/403 of arca's own AWS call,
// which would read as the client's credentials being wrong.
Error as_gateway_error(const Error& e) {
  switch (e.code) {
    case Errc::upstream_timeout:
    case Errc::upstream_unreachable:
    case Errc::unavailable:
      return e;
    default:
      return make_error(Errc::upstream_error, e.message);
  }
}

std::string meta_key(const std::string& connection, const config::CodeArtifactSourceConfig& s,
                     const std::string& format) {
  return "caep\x1f" + connection + '\x1f' + s.domain + '\x1f' + s.domain_owner + '\x1f' +
         s.repository + '\x1f' + format;
}

std::string iso_time(auth::TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// credential_process runs on the blocking pool, never on an I/O thread (STYLE.md §19).
asio::awaitable<Result<auth::ProcessOutput>> run_on_pool(asio::thread_pool* pool,
                                                         std::string command) {
  co_return co_await offload(*pool, [&command] { return auth::run_process_blocking(command); });
}

int64_t epoch_seconds(const std::optional<auth::TimePoint>& t) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

}  // namespace

CodeArtifactUpstreams::CodeArtifactUpstreams(const config::Config& config, UpstreamClient& client,
                                             cache::Store& store, asio::thread_pool& pool,
                                             auth::EnvLookup env, auth::Clock clock)
    : pool_(pool), store_(store), clock_(clock), fetcher_(client) {
  for (const auto& [name, ec] : config.external_connections) {
    if (!ec.codeartifact) continue;
    if (!credentials_) {
      auth::ProcessRunner runner = [p = &pool](std::string command) {
        return run_on_pool(p, std::move(command));
      };
      credentials_ = auth::make_default_chain(env, fetcher_, clock, std::move(runner));
    }
    const auto& source = *ec.codeartifact;
    auto c = std::make_unique<Connection>();
    c->name = name;
    c->source = source;
    c->region = source.region.empty() ? auth::resolve_region("", env) : source.region;
    if (c->region.empty()) c->region = config.region;
    c->api = source.endpoint.empty() ? "https://codeartifact." + c->region + ".amazonaws.com"
                                     : source.endpoint;
    while (!c->api.empty() && c->api.back() == '/') c->api.pop_back();
    const std::string key = c->region + '|' + source.domain + '|' + source.domain_owner;
    auto& manager = managers_[key];
    if (!manager) {
      auth::TokenManagerOptions options;
      options.domain = source.domain;
      options.domain_owner = source.domain_owner;
      options.region = c->region;
      options.endpoint = c->api;
      options.duration_seconds = source.duration_seconds;
      manager = std::make_unique<auth::TokenManager>(std::move(options), fetcher_, *credentials_,
                                                     clock);
    }
    c->tokens = manager.get();
    connections_.push_back(std::move(c));
  }
}

CodeArtifactUpstreams::~CodeArtifactUpstreams() = default;

void CodeArtifactUpstreams::load_stored_endpoints() {
  std::lock_guard lock(mu_);
  for (auto& c : connections_) {
    for (const char* format : k_formats) {
      auto entry = store_.get_meta(meta_key(c->name, c->source, format));
      if (entry && *entry && !(*entry)->body.empty()) c->endpoints[format] = (*entry)->body;
    }
  }
}

CodeArtifactUpstreams::Connection* CodeArtifactUpstreams::find_connection(const std::string& url,
                                                                          std::string* format) {
  std::lock_guard lock(mu_);
  Connection* best = nullptr;
  size_t best_length = 0;
  for (auto& c : connections_) {
    for (const auto& [fmt, endpoint] : c->endpoints) {
      if (endpoint.size() > best_length && url.compare(0, endpoint.size(), endpoint) == 0) {
        best = c.get();
        best_length = endpoint.size();
        *format = fmt;
      }
    }
  }
  return best;
}

asio::awaitable<Result<std::optional<std::string>>> CodeArtifactUpstreams::authorization(
    std::string url) {
  std::string format;
  Connection* c = find_connection(url, &format);
  if (!c) co_return std::optional<std::string>();
  auto token = co_await c->tokens->token();
  if (!token) co_return as_gateway_error(token.error());
  // CodeArtifact takes the token as npm's Bearer and as the password of Basic "aws" elsewhere.
  if (format == "npm") co_return std::optional<std::string>("Bearer " + *token);
  co_return std::optional<std::string>("Basic " + base64_encode("aws:" + *token));
}

void CodeArtifactUpstreams::rejected(const std::string& url, const std::string& authorization) {
  std::string format;
  Connection* c = find_connection(url, &format);
  if (!c) return;
  std::string token;
  if (authorization.rfind("Bearer ", 0) == 0) {
    token = authorization.substr(7);
  } else if (authorization.rfind("Basic ", 0) == 0) {
    auto decoded = base64_decode(std::string_view(authorization).substr(6));
    if (decoded && decoded->find(':') != std::string::npos) {
      token = decoded->substr(decoded->find(':') + 1);
    }
  }
  if (token.empty()) return;
  ARCA_LOG_WARN("codeartifact connection {}: the repository refused the token; refreshing it",
                c->name);
  c->tokens->invalidate(token);
}

asio::awaitable<Result<std::string>> CodeArtifactUpstreams::base_url(
    const config::ExternalConnectionConfig& ec, std::string format) {
  if (!ec.codeartifact) {
    std::string url = ec.url;
    if (url.empty() || url.back() != '/') url += '/';
    co_return url;
  }
  Connection* c = nullptr;
  for (auto& candidate : connections_) {
    if (candidate->name == ec.name) c = candidate.get();
  }
  if (!c) {
    co_return make_error(Errc::internal, "codeartifact connection " + ec.name + " is not set up");
  }
  const std::string suffix = format == "pypi" ? "simple/" : "";
  for (int round = 0; round < 3; ++round) {
    const uint64_t seen = c->gate.generation();
    {
      std::lock_guard lock(mu_);
      auto it = c->endpoints.find(format);
      if (it != c->endpoints.end()) co_return it->second + suffix;
    }
    if (c->gate.try_lead()) {
      const uint64_t flight = c->gate.generation();
      auto endpoint = co_await fetch_endpoint(*c, format);
      {
        std::lock_guard lock(mu_);
        if (endpoint) {
          c->endpoints[format] = *endpoint;
          c->endpoint_errors.erase(format);
        } else {
          c->endpoint_errors[format] = {flight, endpoint.error()};
        }
      }
      c->gate.finish();
      if (!endpoint) co_return as_gateway_error(endpoint.error());
      cache::MetaEntry entry;
      entry.body = *endpoint;
      const std::string key = meta_key(c->name, c->source, format);
      auto stored = co_await offload(pool_, [this, &key, &entry] { return store_.put_meta(key, entry); });
      if (!stored) {
        ARCA_LOG_WARN("codeartifact connection {}: cannot store the {} endpoint: {}", c->name,
                      format, stored.error().message);
      }
      co_return *endpoint + suffix;
    }
    co_await c->gate.wait();
    if (c->gate.generation() != seen) {
      // Another caller looked it up meanwhile: share its failure instead of asking again.
      std::lock_guard lock(mu_);
      auto it = c->endpoints.find(format);
      if (it != c->endpoints.end()) co_return it->second + suffix;
      auto failed = c->endpoint_errors.find(format);
      if (failed != c->endpoint_errors.end() && failed->second.first > seen) {
        co_return as_gateway_error(failed->second.second);
      }
    }
  }
  co_return make_error(Errc::unavailable, "codeartifact connection " + ec.name + ": the " + format +
                                              " repository endpoint is not available");
}

asio::awaitable<Result<std::string>> CodeArtifactUpstreams::fetch_endpoint(Connection& c,
                                                                            std::string format) {
  const std::string what = "codeartifact connection " + c.name + ": GetRepositoryEndpoint for " +
                           c.source.domain + "/" + c.source.repository + " (" + format + ")";
  auto creds = co_await credentials_->resolve();
  if (!creds) co_return make_error(creds.error().code, what + ": " + creds.error().message);
  const auth::TimePoint now = clock_();

  // Query parameters in canonical (sorted) order, as the SDKs send them.
  const std::string query = "domain=" + auth::uri_encode(c.source.domain, false) +
                            "&domain-owner=" + auth::uri_encode(c.source.domain_owner, false) +
                            "&format=" + auth::uri_encode(format, false) +
                            "&repository=" + auth::uri_encode(c.source.repository, false);
  auth::HttpRequest req;
  req.method = "GET";
  req.url = c.api + "/v1/repository/endpoint?" + query;
  auto parsed = boost::urls::parse_uri(req.url);
  if (!parsed) {
    co_return make_error(Errc::invalid_argument, what + ": bad endpoint " + log::redact_url(c.api));
  }
  std::string host(parsed->encoded_host_address());
  if (parsed->has_port()) host += ":" + std::string(parsed->port());
  req.headers.emplace_back("Host", host);
  req.headers.emplace_back("Accept", "application/json");
  auth::SignOptions opts;
  opts.region = c.region;
  opts.service = "codeartifact";
  auth::sign(req.method, std::string(parsed->encoded_path()), std::string(parsed->encoded_query()),
             req.headers, req.body, creds->keys, opts, now);

  auto response = co_await fetcher_.fetch(std::move(req));
  if (!response) co_return make_error(response.error().code, what + ": " + response.error().message);
  if (response->status != 200) {
    const std::string detail = auth::aws_error_detail(*response);
    ARCA_LOG_WARN("{} returned HTTP {}{} (credentials from {})", what, response->status,
                  detail.empty() ? "" : " (" + detail + ")", creds->provider);
    co_return make_error(Errc::upstream_error, what + " returned HTTP " +
                                                   std::to_string(response->status) +
                                                   (detail.empty() ? "" : " (" + detail + ")"));
  }
  auto j = nlohmann::json::parse(response->body, nullptr, false);
  std::string endpoint;
  if (!j.is_discarded() && j.is_object()) {
    auto it = j.find("repositoryEndpoint");
    if (it != j.end() && it->is_string()) endpoint = it->get<std::string>();
  }
  if (endpoint.rfind("https://", 0) != 0 && endpoint.rfind("http://", 0) != 0) {
    co_return make_error(Errc::upstream_error, what + ": the answer has no repositoryEndpoint URL");
  }
  if (endpoint.back() != '/') endpoint += '/';
  ARCA_LOG_INFO("{}: {}", what, log::redact_url(endpoint));
  co_return endpoint;
}

asio::awaitable<void> CodeArtifactUpstreams::warm_up() {
  for (auto& c : connections_) {
    auto token = co_await c->tokens->token();
    if (!token) continue;  // logged by the token manager
    config::ExternalConnectionConfig ec;
    ec.name = c->name;
    ec.codeartifact = c->source;
    for (const char* format : k_formats) {
      auto url = co_await base_url(ec, format);
      if (!url) ARCA_LOG_WARN("{}", url.error().message);
    }
  }
}

asio::awaitable<void> CodeArtifactUpstreams::keep_fresh() {
  co_await warm_up();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto now = clock_();
    auto wake = now + std::chrono::seconds(60);
    for (auto& [key, manager] : managers_) {
      auto s = manager->state();
      const bool due = !s.has_token || (s.refresh_at && now >= *s.refresh_at);
      const bool waiting = s.next_attempt && now < *s.next_attempt;
      if (due && !waiting) {
        (void)co_await manager->token();  // failures are logged by the manager
        now = clock_();
        s = manager->state();
      }
      if (s.has_token && s.refresh_at && *s.refresh_at > now) wake = std::min(wake, *s.refresh_at);
      if (s.next_attempt && *s.next_attempt > now) wake = std::min(wake, *s.next_attempt);
    }
    const auto delay = std::clamp<std::chrono::system_clock::duration>(
        wake - now, std::chrono::milliseconds(250), std::chrono::seconds(60));
    timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(delay));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

std::vector<CodeArtifactUpstreams::State> CodeArtifactUpstreams::states() const {
  std::vector<State> out;
  for (const auto& c : connections_) {
    out.push_back(State{c->name, c->source.domain, c->source.domain_owner, c->region,
                        c->source.repository, c->tokens->state()});
  }
  return out;
}

bool CodeArtifactUpstreams::ready() const {
  const auth::TimePoint now = clock_();
  for (const auto& c : connections_) {
    auto s = c->tokens->state();
    if (!s.has_token || !s.expires_at || *s.expires_at <= now) return false;
  }
  return true;
}

std::string CodeArtifactUpstreams::readiness_text() const {
  std::string out;
  const auth::TimePoint now = clock_();
  for (const auto& s : states()) {
    const bool valid = s.token.has_token && s.token.expires_at && *s.token.expires_at > now;
    out += "codeartifact " + s.connection + " (" + s.domain + "/" + s.repository + ", " +
           s.region + "): " + (valid ? "ok" : "degraded, no valid token");
    if (s.token.expires_at) out += ", token expires " + iso_time(*s.token.expires_at);
    if (s.token.last_refresh) out += ", last refresh " + iso_time(*s.token.last_refresh);
    out += ", consecutive failures " + std::to_string(s.token.consecutive_failures);
    if (!s.token.last_error.empty()) out += ", last error: " + s.token.last_error;
    out += "\n";
  }
  return out;
}

std::string CodeArtifactUpstreams::metrics_text() const {
  if (connections_.empty()) return {};
  const auto all = states();
  const auth::TimePoint now = clock_();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& s : all) {
      out += std::string(name) + "{connection=\"" + s.connection + "\",domain=\"" + s.domain +
             "\",repository=\"" + s.repository + "\"} " + std::to_string(value(s)) + "\n";
    }
  };
  family("arca_codeartifact_token_valid", "gauge", "1 while the connection holds an unexpired token.",
         [&](const State& s) {
           return s.token.has_token && s.token.expires_at && *s.token.expires_at > now ? 1 : 0;
         });
  family("arca_codeartifact_token_expires_at_seconds", "gauge",
         "Expiry of the current token (Unix time; 0 when none).",
         [](const State& s) { return epoch_seconds(s.token.expires_at); });
  family("arca_codeartifact_token_last_refresh_seconds", "gauge",
         "Time of the last successful token refresh (Unix time; 0 when none).",
         [](const State& s) { return epoch_seconds(s.token.last_refresh); });
  family("arca_codeartifact_token_refreshes_total", "counter", "Successful token refreshes.",
         [](const State& s) { return s.token.refreshes; });
  family("arca_codeartifact_token_refresh_failures_total", "counter", "Failed token refreshes.",
         [](const State& s) { return s.token.failures; });
  family("arca_codeartifact_token_consecutive_failures", "gauge",
         "Token refreshes failed since the last success.",
         [](const State& s) { return s.token.consecutive_failures; });
  return out;
}

}  // namespace arca::net

namespace arca::net {

boost::asio::awaitable<Result<std::string>> upstream_base_url(
    CodeArtifactUpstreams* service, const config::ExternalConnectionConfig& ec, std::string format) {
  if (service) co_return co_await service->base_url(ec, std::move(format));
  if (ec.codeartifact) {
    co_return make_error(Errc::unavailable,
                         "codeartifact connection " + ec.name + " is not set up");
  }
  std::string url = ec.url;
  if (url.empty() || url.back() != '/') url += '/';
  co_return url;
}

}  // namespace arca::net
