#pragma once
// The seams auth/ needs to talk to AWS without depending on net/ (STYLE.md §2): a minimal
// buffered HTTP client interface, a wall clock, and the process environment. net/ adapts its
// UpstreamClient to HttpFetcher (net/aws_fetcher.hpp); tests use fakes.
//
// Thread-safety: HttpFetcher implementations must allow concurrent fetch() calls.

#include "auth/sigv4.hpp"
#include "common/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::auth {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  HeaderList headers;
  std::string body;
  // A link-local metadata endpoint (IMDS, the ECS agent): as in the AWS SDKs, about a second
  // to answer and never through HTTP(S)_PROXY.
  bool metadata = false;
};

struct HttpResponse {
  unsigned status = 0;
  HeaderList headers;
  std::string body;
};

// A buffered HTTP exchange. Non-2xx statuses are responses, not errors; errors are transport
// failures (unreachable, timeout, too large).
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  [[nodiscard]] virtual boost::asio::awaitable<Result<HttpResponse>> fetch(HttpRequest request) = 0;
};

// Wall-clock time source; injected so refresh timing is tested without sleeping.
using Clock = std::function<std::chrono::system_clock::time_point()>;
inline Clock system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

// Environment variable lookup; injected so tests never touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// Reads the process environment (getenv); an empty value counts as unset.
EnvLookup process_env();

// Case-insensitive header lookup; nullopt when absent.
std::optional<std::string> find_header(const HeaderList& headers, std::string_view name);

}  // namespace arca::auth
