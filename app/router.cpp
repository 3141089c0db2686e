#include "app/router.hpp"

#include "common/digest.hpp"
#include "control/api_handler.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "formats/registry.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>

namespace arca::app {

using namespace net;
using namespace formats;
using control::CodeArtifactHandler;

namespace asio = boost::asio;

namespace {

struct DataPath {
  std::string_view domain, format, repo, rest;
};

// "/<domain>/<format>/<repo>/<rest>"; nullopt when the path has fewer parts.
std::optional<DataPath> split_data_path(std::string_view path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::string_view s = path.substr(1);
  DataPath out;
  std::string_view* parts[] = {&out.domain, &out.format, &out.repo};
  for (auto* part : parts) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) {
      *part = s;
      s = {};
      if (part != &out.repo) return std::nullopt;
      break;
    }
    *part = s.substr(0, slash);
    s = s.substr(slash + 1);
  }
  out.rest = s;
  return out;
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Whether a data-plane request changes content (publishes, tag edits) rather than reading.
bool is_write(const Request& req) {
  if (req.method == "GET" || req.method == "HEAD") return false;
  // npm audit is a POST that only reads.
  if (req.method == "POST" && req.path.find("/-/npm/v1/security/") != std::string::npos) return false;
  return true;
}

// The clock tokens are checked against. ARCA_TEST_CLOCK_OFFSET_SECONDS moves it (integration
// tests use it to see a token expire without waiting 15 minutes).
std::chrono::system_clock::time_point token_clock_now() {
  static const long offset = [] {
    const char* v = std::getenv("ARCA_TEST_CLOCK_OFFSET_SECONDS");
    return v ? std::atol(v) : 0L;
  }();
  return std::chrono::system_clock::now() + std::chrono::seconds(offset);
}

// Checks the credentials of a data-plane request, as its format presents them (an arca token as
// npm Bearer, as the password of HTTP Basic, bare, or as NuGet's API key). The rule is the same
// for every format: no credentials means anonymous, allowed per config; with no access keys
// configured and anonymous access allowed, a credential that is not an arca token (npm insists
// on an _authToken before it publishes; `nuget push -ApiKey anything`) counts as anonymous; once
// access keys are configured, only a valid arca token for the domain. A request its format
// authenticates as an API key (NuGet push and unlist) is refused with 403 when its key is,
// 401 when it has none. Returns the refusal, or nullopt.
std::optional<Refusal> data_plane_refusal(const Context& ctx, const Request& req,
                                          std::string_view domain, const Format* format) {
  const auto& auth = ctx.config.auth;
  const bool write = is_write(req);
  const bool key = format && write && format->key_authenticated(req);
  const Credential credential = format ? format->credential(req) : authorization_credential(req);
  const bool loopback_listener = is_loopback_host(ctx.config.listen.host);
  const bool anonymous_allowed = write ? auth.anonymous_write.value_or(loopback_listener)
                                       : auth.anonymous_read.value_or(loopback_listener);
  auto refuse = [key](std::string reason) {
    return Refusal{key ? 403u : 401u, std::move(reason), true, key};
  };
  if (credential.malformed) return refuse("malformed Basic credentials");
  if (credential.token.empty()) {
    // An API key is required once access keys are configured, even with anonymous writes on.
    if (anonymous_allowed && !(key && !auth.access_keys.empty())) return std::nullopt;
    return Refusal{401, "authentication required: use a token from aws codeartifact get-authorization-token",
                   false, key};
  }
  if (credential.token.rfind("arca1.", 0) != 0) {
    // Not a credential arca issues: a placeholder while authentication is not configured.
    if (auth.access_keys.empty() && anonymous_allowed) return std::nullopt;
    return refuse("the credentials are not an arca authorization token");
  }
  if (!ctx.tokens) return refuse("tokens are not available");
  auto claims = ctx.tokens->verify(credential.token, token_clock_now());
  if (!claims) return refuse(claims.error().message);
  if (claims->domain != domain) return refuse("the authorization token is for another domain");
  return std::nullopt;
}

}  // namespace

struct Router::Impl {
  Context& ctx;
  Formats formats;
  CodeArtifactHandler codeartifact;
  std::atomic<bool> ready{false};

  Impl(Context& c, std::vector<FormatPtr> f) : ctx(c), formats(std::move(f)), codeartifact(c) {
    ctx.formats = &formats;
  }
  ~Impl() {
    if (ctx.formats == &formats) ctx.formats = nullptr;
  }

  // The data-plane format; null for formats arca does not serve.
  Format* handler(std::string_view format) const { return formats.find(format); }
};

Router::Router(Context& context) : Router(context, make_formats(context)) {}
Router::Router(Context& context, std::vector<FormatPtr> formats)
    : impl_(std::make_unique<Impl>(context, std::move(formats))) {}
Router::~Router() = default;

void Router::set_ready(bool ready) { impl_->ready = ready; }

uint64_t Router::body_limit(const Request& request) const {
  auto& listen = impl_->ctx.config.listen;
  if (impl_->codeartifact.is_publish(request)) return listen.publish_body_limit_bytes;
  if (auto dp = split_data_path(request.path)) {
    auto* handler = impl_->handler(dp->format);
    if (handler && handler->is_publish(request, dp->rest)) return listen.publish_body_limit_bytes;
  }
  return listen.body_limit_bytes;
}

asio::awaitable<void> Router::handle(Exchange& ex) {
  auto& impl = *impl_;
  const Request& req = ex.request();
  ++impl.ctx.metrics.requests;
  const std::string& path = req.path;
  const Headers json_type{{"Content-Type", "application/json"}};

  const Headers text_type{{"Content-Type", "text/plain"}};
  if (path == "/healthz") {
    co_await ex.respond(200, text_type, "ok\n");
  } else if (path == "/readyz") {
    // CodeArtifact upstreams are listed with their token state. One without a valid token is
    // "degraded" but keeps arca ready: cached content is still served.
    const bool ready = impl.ready;
    std::string body = ready ? "ready\n" : "starting\n";
    if (impl.ctx.codeartifact) body += impl.ctx.codeartifact->readiness_text();
    const unsigned status = ready ? 200 : 503;
    co_await ex.respond(status, text_type, std::move(body));
  } else if (path == "/metrics") {
    Headers headers{{"Content-Type", "text/plain; version=0.0.4"}};
    std::string body = impl.ctx.metrics.render();
    if (impl.ctx.codeartifact) body += impl.ctx.codeartifact->metrics_text();
    co_await ex.respond(200, std::move(headers), std::move(body));
  } else if (path == "/v1" || path.rfind("/v1/", 0) == 0) {
    co_await impl.codeartifact.handle(ex);
  } else if (auto dp = split_data_path(path)) {
    auto* domain = impl.ctx.topology.domain(dp->domain);
    auto* repo = domain ? impl.ctx.topology.repository(dp->domain, dp->repo) : nullptr;
    auto* format = impl.handler(dp->format);
    if (auto refusal = data_plane_refusal(impl.ctx, req, dp->domain, format)) {
      // Presenting a bad credential is never treated as anonymous.
      Headers headers;
      std::string body;
      if (format) {
        format->refusal(*refusal, headers, body);
      } else {
        headers = json_type;
        body = json_error(refusal->reason);
      }
      co_await ex.respond(refusal->status, std::move(headers), std::move(body));
    } else if (!domain) {
      co_await ex.respond(404, json_type, json_error("no such domain: " + std::string(dp->domain)));
    } else if (!repo) {
      co_await ex.respond(404, json_type, json_error("no such repository: " + std::string(dp->repo)));
    } else if (format) {
      co_await format->handle(ex, *domain, *repo, std::string(dp->rest));
    } else {
      co_await ex.respond(404, json_type, json_error("unsupported package format: " + std::string(dp->format)));
    }
  } else {
    co_await ex.respond(404, json_type, json_error("not found"));
  }
  impl.ctx.metrics.count_status(ex.status());
}

}  // namespace arca::app
