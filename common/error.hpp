#pragma once
// Errors as values (STYLE.md §9-12): every expected runtime failure is an arca::Error carried in
// an arca::Result<T>. Thread-safety: plain value types.

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace arca {

// What went wrong, independent of protocol; adapters map it to a status and a body.
enum class Errc {
  not_found = 1,
  invalid_argument,  // malformed client input
  conflict,          // already exists / immutable
  too_large,         // over a configured limit
  forbidden,
  unauthorized,
  upstream_error,    // upstream answered badly (5xx, malformed document)
  upstream_timeout,  // upstream did not answer in time
  upstream_unreachable,
  digest_mismatch,   // bytes do not match the declared digest
  truncated,         // body shorter than declared
  io_error,          // local disk / RocksDB failure
  corrupt,           // stored data fails a consistency check
  unavailable,       // shutting down, or a resource is temporarily unavailable
  cancelled,
  internal,
};

std::string_view to_string(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;  // for humans; never contains secrets

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}
};

// Used by boost::system::result when .value() is called on an error (a bug: callers check).
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(Errc code, std::string message) { return Error(code, std::move(message)); }

// For test frameworks and logs.
template <class Stream>
Stream& operator<<(Stream& os, const Error& e) {
  os << to_string(e.code) << ": " << e.message;
  return os;
}

}  // namespace arca

// Propagates an error: `ARCA_TRY(auto v, expr);` or `ARCA_TRY_VOID(expr);`.
#define ARCA_CONCAT_INNER(a, b) a##b
#define ARCA_CONCAT(a, b) ARCA_CONCAT_INNER(a, b)
#define ARCA_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                   \
  if (!tmp) return tmp.error();        \
  decl = std::move(*tmp)
#define ARCA_TRY(decl, expr) ARCA_TRY_IMPL(ARCA_CONCAT(arca_try_, __LINE__), decl, expr)
#define ARCA_TRY_VOID(expr)                                            \
  do {                                                                 \
    auto ARCA_CONCAT(arca_try_, __LINE__) = (expr);                    \
    if (!ARCA_CONCAT(arca_try_, __LINE__)) return ARCA_CONCAT(arca_try_, __LINE__).error(); \
  } while (0)

#define ARCA_RELEASE_ASSERT(cond, msg) \
  do {                                 \
    if (!(cond)) ::arca::assert_fail(#cond, msg, __FILE__, __LINE__); \
  } while (0)

namespace arca {
[[noreturn]] void assert_fail(const char* cond, const char* msg, const char* file, int line);
}
