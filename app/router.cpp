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

// Checks the credentials of a data-plane request: an arca token as npm Bearer, as the
// password of HTTP Basic (pip, twine, Maven, NuGet: "aws:<token>"), or bare. No credentials
// means anonymous, allowed per config. Returns the reason for a 401, or nullopt.
std::optional<std::string> data_plane_auth_failure(const Context& ctx, const Request& req,
                                                   std::string_view domain) {
  std::string_view h = req.header("authorization");
  const auto& auth = ctx.config.auth;
  if (h.empty()) {
    const bool loopback_listener = is_loopback_host(ctx.config.listen.host);
    const bool allowed = is_write(req) ? auth.anonymous_write.value_or(loopback_listener)
                                       : auth.anonymous_read.value_or(loopback_listener);
    if (allowed) return std::nullopt;
    return std::string("authentication required: use a token from aws codeartifact get-authorization-token");
  }
  std::string token;
  if (h.size() > 7 && iequals(h.substr(0, 7), "Bearer ")) {
    token = std::string(h.substr(7));
  } else if (h.size() > 6 && iequals(h.substr(0, 6), "Basic ")) {
    auto decoded = base64_decode(h.substr(6));
    if (!decoded) return std::string("malformed Basic credentials");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::string("malformed Basic credentials");
    token = decoded->substr(colon + 1);
  } else {
    token = std::string(h);
  }
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.rfind("arca1.", 0) != 0) {
    // Not a credential arca issues. Once authentication is configured (access keys), any
    // credential presented must be a valid arca token: a bad one is never anonymous.
    if (!auth.access_keys.empty()) {
      return std::string("the credentials are not an arca authorization token");
    }
    // With no authentication configured, a placeholder (npm insists on an _authToken before
    // it publishes) is judged as anonymous.
    const bool loopback_listener = is_loopback_host(ctx.config.listen.host);
    const bool allowed = is_write(req) ? auth.anonymous_write.value_or(loopback_listener)
                                       : auth.anonymous_read.value_or(loopback_listener);
    if (allowed) return std::nullopt;
    return std::string("the credentials are not an arca authorization token");
  }
  if (!ctx.tokens) return std::string("tokens are not available");
  auto claims = ctx.tokens->verify(token, token_clock_now());
  if (!claims) return claims.error().message;
  if (claims->domain != domain) return std::string("the authorization token is for another domain");
  return std::nullopt;
}

// NuGet pushes and unlists carry the arca token as the API key (X-NuGet-ApiKey; Basic
// "aws:<token>" from a configured source credential is accepted too). A key is required unless
// anonymous writes are allowed and no access keys are configured (then a placeholder key is
// anonymous, as for the other formats; an arca token is still verified). Returns the status (401 without a key, 403 with a bad
// one, as NuGet servers answer) and the reason, or nullopt.
std::optional<std::pair<unsigned, std::string>> nuget_key_failure(const Context& ctx,
                                                                  const Request& req,
                                                                  std::string_view domain) {
  std::string token(req.header("x-nuget-apikey"));
  if (token.empty()) {
    std::string_view h = req.header("authorization");
    if (h.size() > 6 && iequals(h.substr(0, 6), "Basic ")) {
      if (auto decoded = base64_decode(h.substr(6))) {
        if (auto colon = decoded->find(':'); colon != std::string::npos) token = decoded->substr(colon + 1);
      }
    } else if (h.size() > 7 && iequals(h.substr(0, 7), "Bearer ")) {
      token = std::string(h.substr(7));
    }
  }
  while (!token.empty() && token.back() == ' ') token.pop_back();
  // The rule every format follows (data_plane_auth_failure): with no access keys configured and
  // anonymous writes allowed, no key or a key that is not an arca token (`nuget push -ApiKey
  // anything`) counts as anonymous. Once access keys are configured, only arca tokens.
  if (token.rfind("arca1.", 0) != 0 && ctx.config.auth.access_keys.empty() &&
      ctx.config.auth.anonymous_write.value_or(is_loopback_host(ctx.config.listen.host))) {
    return std::nullopt;
  }
  if (token.empty()) {
    return std::pair<unsigned, std::string>(
        401, "An API key is required to push or unlist: pass an arca authorization token "
             "(aws codeartifact get-authorization-token) as the API key");
  }
  if (token.rfind("arca1.", 0) != 0 || !ctx.tokens) {
    return std::pair<unsigned, std::string>(
        403, "The specified API key is invalid: it is not an arca authorization token");
  }
  auto claims = ctx.tokens->verify(token, token_clock_now());
  if (!claims) return std::pair<unsigned, std::string>(403, "The specified API key is invalid: " + claims.error().message);
  if (claims->domain != domain) {
    return std::pair<unsigned, std::string>(403, "The specified API key is invalid: the token is for another domain");
  }
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
    // NuGet writes are authenticated by their API key instead (below).
    const bool nuget_write = dp->format == "nuget" && is_write(req);
    auto auth_failure = nuget_write ? std::nullopt : data_plane_auth_failure(impl.ctx, req, dp->domain);
    auto key_failure = nuget_write ? nuget_key_failure(impl.ctx, req, dp->domain) : std::nullopt;
    if (key_failure) {
      Headers headers{{"Content-Type", "text/plain; charset=utf-8"}};
      if (key_failure->first == 401) headers.emplace_back("WWW-Authenticate", "Basic realm=\"arca\"");
      co_await ex.respond(key_failure->first, std::move(headers), key_failure->second + "\n");
    } else if (auth_failure) {
      // Presenting a bad token is never treated as anonymous.
      Headers headers;
      std::string body;
      if (dp->format == "npm") {
        headers.emplace_back("Content-Type", "application/json");
        headers.emplace_back("WWW-Authenticate", "Bearer realm=\"arca\"");
        body = json_error(*auth_failure);
      } else {
        headers.emplace_back("Content-Type", "text/plain");
        headers.emplace_back("WWW-Authenticate", "Basic realm=\"arca\"");
        body = "401 Unauthorized: " + *auth_failure + "\n";
      }
      co_await ex.respond(401, std::move(headers), std::move(body));
    } else if (!domain) {
      co_await ex.respond(404, json_type, json_error("no such domain: " + std::string(dp->domain)));
    } else if (!repo) {
      co_await ex.respond(404, json_type, json_error("no such repository: " + std::string(dp->repo)));
    } else if (auto* handler = impl.handler(dp->format)) {
      co_await handler->handle(ex, *domain, *repo, std::string(dp->rest));
    } else {
      co_await ex.respond(404, json_type, json_error("unsupported package format: " + std::string(dp->format)));
    }
  } else {
    co_await ex.respond(404, json_type, json_error("not found"));
  }
  impl.ctx.metrics.count_status(ex.status());
}

}  // namespace arca::app
