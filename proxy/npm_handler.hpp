#pragma once
// The npm registry protocol over a repository: packuments (full and abbreviated, merged across
// the repository, its upstreams and external connections), tarballs, publish, dist-tags, ping,
// whoami and audit forwarding.
//
// Thread-safety: one NpmHandler serves all connections; its caches are mutex-guarded.

#include "proxy/context.hpp"
#include "proxy/http.hpp"

#include <memory>
#include <string_view>

namespace arca::proxy {

class NpmHandler {
 public:
  explicit NpmHandler(Context& context);
  ~NpmHandler();

  // `rest` is the raw (percent-encoded) path after "/<domain>/npm/<repo>/".
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string rest);
  // Publishes (PUT of a package document) get the publish body limit.
  bool is_publish(const Request& request, std::string_view rest) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
