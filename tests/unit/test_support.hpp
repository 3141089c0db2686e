#pragma once
#include <filesystem>
#include <string>

namespace arca::test {
// A fresh directory under this run's temporary root.
std::filesystem::path temp_dir(const std::string& name);
}  // namespace arca::test
