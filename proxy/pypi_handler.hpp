#pragma once
// The Python package index protocols over a repository: the simple repository API (PEP 503
// HTML and PEP 691 JSON, chosen by Accept), merged across the repository, its upstreams and
// external connections; distribution files and their PEP 658 core metadata; and the legacy
// upload API that twine uses.
//
// URL layout under /<domain>/pypi/<repo>/:
//   simple/                        the projects the repository (and its upstreams) hold
//   simple/<normalized>/           a project page (other spellings redirect here, 301)
//   files/<normalized>/<filename>  a distribution file; + ".metadata" for its core metadata
//   "" or legacy/ (POST)           uploads (multipart/form-data, :action=file_upload)
//
// Thread-safety: one PypiHandler serves all connections; its caches are mutex-guarded.

#include "proxy/context.hpp"
#include "proxy/http.hpp"

#include <memory>
#include <string_view>

namespace arca::proxy {

class PypiHandler {
 public:
  explicit PypiHandler(Context& context);
  ~PypiHandler();

  // `rest` is the raw (percent-encoded) path after "/<domain>/pypi/<repo>/".
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string rest);
  // Uploads (POST to the repository root or legacy/) get the publish body limit.
  bool is_publish(const Request& request, std::string_view rest) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
