#pragma once
// gzip for HTTP content encoding (zlib). Thread-safety: free functions.

#include "common/error.hpp"

#include <string>
#include <string_view>

namespace arca {

std::string gzip_compress(std::string_view data, int level = 6);
// Inflates gzip (or zlib) data; too_large beyond max_output bytes, invalid_argument if corrupt.
[[nodiscard]] Result<std::string> gzip_decompress(std::string_view data, size_t max_output);

// True if an Accept-Encoding value allows gzip (q > 0).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace arca
