#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace arca::test {
// A fresh directory under this run's temporary root.
std::filesystem::path temp_dir(const std::string& name);
// A zip archive (a wheel, a nupkg) with these members, written with libarchive; no padding after
// the archive, so truncation tests cut real bytes.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members);
// A ustar archive (a .gem) with these members.
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& members);
}  // namespace arca::test
