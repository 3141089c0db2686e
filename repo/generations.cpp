#include "repo/generations.hpp"

namespace arca::repo {

size_t Generations::slot_of(std::string_view domain, std::string_view format, std::string_view ns,
                            std::string_view name) {
  // FNV-1a over the fields with a separator no name contains.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0x1f;
    h *= 1099511628211ull;
  };
  mix(domain);
  mix(format);
  mix(ns);
  mix(name);
  return static_cast<size_t>(h % k_slots);
}

}  // namespace arca::repo
