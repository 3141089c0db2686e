#pragma once
// Percent-decoding (Boost.URL, compiled once in common/boost_url.cpp) for every protocol:
// URL path segments and query strings.
// Thread-safety: a free function over values.

#include <optional>
#include <string>
#include <string_view>

namespace arca {

// Decodes %XX escapes. nullopt when a '%' is not followed by two hexadecimal digits; other
// characters (even those RFC 3986 wants escaped, as clients send them raw) are taken as they
// are. With plus_as_space, '+' decodes to a space (application/x-www-form-urlencoded).
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space = false);

}  // namespace arca
