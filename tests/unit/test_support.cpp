#include "tests/unit/test_support.hpp"

#include <archive.h>
#include <archive_entry.h>

namespace arca::test {

namespace {
std::string make_archive(const std::vector<std::pair<std::string, std::string>>& members, bool tar) {
  std::string out;
  archive* a = archive_write_new();
  if (tar)
    archive_write_set_format_ustar(a);
  else
    archive_write_set_format_zip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (auto& [path, data] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}
}  // namespace

std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members) {
  return make_archive(members, false);
}

std::string make_tar(const std::vector<std::pair<std::string, std::string>>& members) {
  return make_archive(members, true);
}

}  // namespace arca::test
