#pragma once
// The data plane's protocol handlers, one per package format, behind one interface: the
// router finds the handler of /<domain>/<format>/<repo>/... and passes it the rest of the path.
// Each handler's protocol, URL layout and caches are described at the top of its .cpp
// (proxy/npm_handler.cpp, pypi_handler.cpp, maven_handler.cpp, nuget_handler.cpp).
//
// Thread-safety: one handler per format serves all connections; their caches are
// mutex-guarded.

#include "proxy/context.hpp"
#include "proxy/http.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace arca::proxy {

class FormatHandler {
 public:
  virtual ~FormatHandler() = default;

  // `rest` is the raw (percent-encoded) path after "/<domain>/<format>/<repo>/".
  virtual boost::asio::awaitable<void> handle(Exchange& exchange,
                                              const config::DomainConfig& domain,
                                              const config::RepositoryConfig& repo,
                                              std::string rest) = 0;
  // Publishing requests (npm publish, twine upload, mvn deploy, NuGet push) get the publish
  // body limit.
  virtual bool is_publish(const Request& request, std::string_view rest) const = 0;
};

std::unique_ptr<FormatHandler> make_npm_handler(Context& context);
std::unique_ptr<FormatHandler> make_pypi_handler(Context& context);
std::unique_ptr<FormatHandler> make_maven_handler(Context& context);
std::unique_ptr<FormatHandler> make_nuget_handler(Context& context);

}  // namespace arca::proxy
