#include "formats/registry.hpp"

namespace arca::formats {

// Each format's folder defines its factory (formats/<name>/handler.cpp).
namespace npm { FormatPtr make_format(Context& context); }
namespace pypi { FormatPtr make_format(Context& context); }
namespace maven { FormatPtr make_format(Context& context); }
namespace nuget { FormatPtr make_format(Context& context); }
namespace ruby { FormatPtr make_format(Context& context); }
namespace cargo { FormatPtr make_format(Context& context); }
namespace swift { FormatPtr make_format(Context& context); }

std::vector<FormatPtr> make_formats(Context& context) {
  std::vector<FormatPtr> out;
  out.push_back(npm::make_format(context));
  out.push_back(pypi::make_format(context));
  out.push_back(maven::make_format(context));
  out.push_back(nuget::make_format(context));
  out.push_back(ruby::make_format(context));
  out.push_back(cargo::make_format(context));
  out.push_back(swift::make_format(context));
  return out;
}

}  // namespace arca::formats
