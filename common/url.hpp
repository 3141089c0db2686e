#pragma once
// Percent-decoding (Boost.URL, compiled once in common/boost_url.cpp) for every protocol:
// URL path segments and query strings.
// Thread-safety: a free function over values.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arca {

// Decodes %XX escapes. nullopt when a '%' is not followed by two hexadecimal digits; other
// characters (even those RFC 3986 wants escaped, as clients send them raw) are taken as they
// are. With plus_as_space, '+' decodes to a space (application/x-www-form-urlencoded).
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space = false);

// The host (lower-case) and port of an absolute http(s) URL, the port defaulted by the scheme
// (80, 443); nullopt for anything else.
struct Authority {
  std::string host;
  uint16_t port = 0;
  bool operator==(const Authority&) const = default;
};
std::optional<Authority> http_authority(std::string_view url);

}  // namespace arca
