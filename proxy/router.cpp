#include "proxy/router.hpp"

#include "proxy/npm_handler.hpp"

#include <atomic>

namespace arca::proxy {

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

}  // namespace

struct Router::Impl {
  Context& ctx;
  NpmHandler npm;
  std::atomic<bool> ready{false};

  explicit Impl(Context& c) : ctx(c), npm(c) {}
};

Router::Router(Context& context) : impl_(std::make_unique<Impl>(context)) {}
Router::~Router() = default;

void Router::set_ready(bool ready) { impl_->ready = ready; }

uint64_t Router::body_limit(const Request& request) const {
  auto& listen = impl_->ctx.config.listen;
  if (auto dp = split_data_path(request.path); dp && dp->format == "npm") {
    if (impl_->npm.is_publish(request, dp->rest)) return listen.publish_body_limit_bytes;
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
    if (impl.ready) co_await ex.respond(200, text_type, "ready\n");
    else co_await ex.respond(503, text_type, "starting\n");
  } else if (path == "/metrics") {
    Headers headers{{"Content-Type", "text/plain; version=0.0.4"}};
    co_await ex.respond(200, std::move(headers), impl.ctx.metrics.render());
  } else if (path == "/v1" || path.rfind("/v1/", 0) == 0) {
    Headers headers{{"Content-Type", "application/json"},
                    {"x-amzn-ErrorType", "ResourceNotFoundException"}};
    co_await ex.respond(404, std::move(headers),
                        json_error("this CodeArtifact operation is not available yet"));
  } else if (auto dp = split_data_path(path)) {
    auto* domain = impl.ctx.topology.domain(dp->domain);
    auto* repo = domain ? impl.ctx.topology.repository(dp->domain, dp->repo) : nullptr;
    if (!domain) {
      co_await ex.respond(404, json_type, json_error("no such domain: " + std::string(dp->domain)));
    } else if (!repo) {
      co_await ex.respond(404, json_type, json_error("no such repository: " + std::string(dp->repo)));
    } else if (dp->format == "npm") {
      co_await impl.npm.handle(ex, *domain, *repo, std::string(dp->rest));
    } else {
      co_await ex.respond(404, json_type, json_error("unsupported package format: " + std::string(dp->format)));
    }
  } else {
    co_await ex.respond(404, json_type, json_error("not found"));
  }
  impl.ctx.metrics.count_status(ex.status());
}

}  // namespace arca::proxy
