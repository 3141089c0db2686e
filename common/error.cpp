#include "common/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace arca {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::not_found: return "not_found";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::conflict: return "conflict";
    case Errc::too_large: return "too_large";
    case Errc::forbidden: return "forbidden";
    case Errc::unauthorized: return "unauthorized";
    case Errc::upstream_error: return "upstream_error";
    case Errc::upstream_timeout: return "upstream_timeout";
    case Errc::upstream_unreachable: return "upstream_unreachable";
    case Errc::digest_mismatch: return "digest_mismatch";
    case Errc::truncated: return "truncated";
    case Errc::io_error: return "io_error";
    case Errc::corrupt: return "corrupt";
    case Errc::unavailable: return "unavailable";
    case Errc::cancelled: return "cancelled";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(std::string(to_string(e.code)) + ": " + e.message);
}

void assert_fail(const char* cond, const char* msg, const char* file, int line) {
  std::fprintf(stderr, "arca: assertion failed: %s (%s) at %s:%d\n", cond, msg, file, line);
  std::abort();
}

}  // namespace arca
