#pragma once
// A cheap pre-check of JSON nesting for documents from clients and upstreams.
//
// nlohmann::json parses iteratively and (since 3.10) destroys iteratively, but dump(), the copy
// constructor and comparisons recurse once per level: a hostile "[[[[..." of a few hundred KiB
// parses fine and then overflows the stack wherever the value is copied or serialized. Check
// untrusted JSON with json_nesting_within() before json::parse.
// Thread-safety: free functions over values.

#include <cstddef>
#include <string_view>

namespace arca {

// Deepest nesting arca accepts in a JSON document from outside: real packuments, registration
// pages and API bodies nest fewer than 20 levels.
inline constexpr size_t k_max_json_depth = 256;

// True if no point of `text` is nested in more than `limit` arrays and objects. Brackets inside
// strings (escapes included) do not count. Linear, allocation-free; it does not validate: text
// that is not JSON is left for the parser to refuse.
bool json_nesting_within(std::string_view text, size_t limit = k_max_json_depth);

}  // namespace arca
