#pragma once
// Small helpers every protocol handler needs for request paths and for the URLs it writes into
// documents. Thread-safety: free functions.

#include "common/text.hpp"  // split, for paths and queries
#include "common/url.hpp"  // percent_decode for path segments
#include "config/config.hpp"
#include "net/http.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::net {

// Whether a Host header value is safe to echo into URLs (host name, IPv4, [IPv6], port).
bool valid_host(std::string_view host);

// "http://host[:port]" as clients reach arca: config.public_url when set (without a trailing
// '/'), else the request's Host header (127.0.0.1 when it is missing or unsafe).
std::string public_origin(const config::Config& config, const Request& request);

}  // namespace arca::net
