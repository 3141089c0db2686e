#pragma once
// Small text helpers shared by the protocol code of every format (no Asio).
// Thread-safety: free functions.

#include <string_view>
#include <vector>

namespace arca {

// Splits on `sep`, keeping empty parts ("a//b" gives "a", "", "b"). The parts view `s`.
std::vector<std::string_view> split(std::string_view s, char sep);

}  // namespace arca
