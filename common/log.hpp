#pragma once
// The one logging facade (STYLE.md §29). Lines carry a [C<conn>][R<req>] prefix where known.
// Never pass secrets (tokens, Authorization values, URL userinfo) to these macros.

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace arca::log {

enum class Level { trace, debug, info, warn, error, off };

// Sets up the process logger (stderr). Called once from main; tests may skip it.
void init(Level level);
Level parse_level(std::string_view name, Level fallback);

// Removes userinfo and credential-looking query parameters from a URL for logging.
std::string redact_url(std::string_view url);

}  // namespace arca::log

#define ARCA_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define ARCA_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define ARCA_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define ARCA_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define ARCA_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
