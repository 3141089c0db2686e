// doctest main: each run gets its own temporary directory (ARCA_TEST_TMPDIR), removed on
// success and kept on failure for inspection.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/unit/test_support.hpp"

#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace arca::test {
std::filesystem::path& root_dir() {
  static std::filesystem::path dir;
  return dir;
}
std::filesystem::path temp_dir(const std::string& name) {
  static int counter = 0;
  auto dir = root_dir() / (name + "-" + std::to_string(++counter));
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace arca::test

int main(int argc, char** argv) {
  auto base = std::filesystem::temp_directory_path() / ("arca-unit-" + std::to_string(getpid()));
  std::filesystem::create_directories(base);
  arca::test::root_dir() = base;
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (rc == 0) {
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
  } else {
    std::fprintf(stderr, "unit test files kept in %s\n", base.c_str());
  }
  return rc;
}
