#include "net/http_util.hpp"

#include <cctype>

namespace arca::net {

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return false;
    }
  }
  return true;
}

std::string public_origin(const config::Config& config, const Request& request) {
  if (!config.public_url.empty()) {
    std::string base = config.public_url;
    if (base.back() == '/') base.pop_back();
    return base;
  }
  std::string_view host = request.header("host");
  if (!valid_host(host)) host = "127.0.0.1";
  return "http://" + std::string(host);
}

}  // namespace arca::net
