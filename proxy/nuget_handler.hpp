#pragma once
// The NuGet protocols over a repository: the V3 API (service index, flat container,
// registration hives, search, autocomplete, PackagePublish push, unlist and relist) and the V2
// OData/Atom feed under api/v2/ for NuGet 2.x clients. Versions come from the repository, its
// upstream repositories and the V3 feeds of their external connections (service index, then
// registration; nupkgs filled through AssetService, verified with the declared packageHash).
//
// Thread-safety: one NugetHandler serves all connections; its caches are mutex-guarded.

#include "proxy/context.hpp"
#include "proxy/http.hpp"

#include <memory>
#include <string_view>

namespace arca::proxy {

class NugetHandler {
 public:
  explicit NugetHandler(Context& context);
  ~NugetHandler();

  // `rest` is the raw (percent-encoded) path after "/<domain>/nuget/<repo>/".
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string rest);
  // Pushes (PUT of a package) get the publish body limit.
  bool is_publish(const Request& request, std::string_view rest) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
