#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace arca::log {

void init(Level level) {
  auto logger = spdlog::stderr_color_mt("arca");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  switch (level) {
    case Level::trace: spdlog::set_level(spdlog::level::trace); break;
    case Level::debug: spdlog::set_level(spdlog::level::debug); break;
    case Level::info: spdlog::set_level(spdlog::level::info); break;
    case Level::warn: spdlog::set_level(spdlog::level::warn); break;
    case Level::error: spdlog::set_level(spdlog::level::err); break;
    case Level::off: spdlog::set_level(spdlog::level::off); break;
  }
}

Level parse_level(std::string_view name, Level fallback) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  return fallback;
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // userinfo: scheme://user:pass@host -> scheme://***@host
  auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    auto auth_start = scheme_end + 3;
    auto path_start = out.find_first_of("/?#", auth_start);
    auto at = out.rfind('@', path_start == std::string::npos ? out.size() : path_start);
    if (at != std::string::npos && at >= auth_start) out.replace(auth_start, at - auth_start, "***");
  }
  // query parameters that carry credentials (presigned URLs, tokens)
  for (std::string_view key : {"X-Amz-Signature=", "X-Amz-Credential=", "X-Amz-Security-Token=",
                               "token=", "access_token="}) {
    size_t pos = 0;
    while ((pos = out.find(key, pos)) != std::string::npos) {
      auto v = pos + key.size();
      auto end = out.find('&', v);
      out.replace(v, (end == std::string::npos ? out.size() : end) - v, "***");
      pos = v;
    }
  }
  return out;
}

}  // namespace arca::log
