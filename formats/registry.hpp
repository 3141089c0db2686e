#pragma once
// The formats arca serves (formats/registry.cpp is the one list), looked up by name.
//
// Thread-safety: immutable after construction.

#include "formats/format.hpp"

#include <string_view>
#include <vector>

namespace arca::formats {

// One of each format in the registry, sharing `context`.
std::vector<FormatPtr> make_formats(Context& context);

class Formats {
 public:
  explicit Formats(std::vector<FormatPtr> formats) : formats_(std::move(formats)) {}

  // nullptr for a format arca does not serve.
  Format* find(std::string_view name) const {
    for (auto& f : formats_) {
      if (f->name() == name) return f.get();
    }
    return nullptr;
  }
  const std::vector<FormatPtr>& all() const { return formats_; }

 private:
  std::vector<FormatPtr> formats_;
};

}  // namespace arca::formats
