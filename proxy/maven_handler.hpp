#pragma once
// The Maven 2 repository layout over a repository: GET/HEAD of any path (files from the
// repository, its upstreams or its external connection; maven-metadata.xml generated from the
// repository's content merged with its upstreams' and the upstream's cached metadata; .md5,
// .sha1, .sha256 and .sha512 computed from the stored bytes), and PUT for `mvn deploy`.
//
// URL layout under /<domain>/maven/<repo>/:
//   <group/path>/<artifactId>/maven-metadata.xml              artifact-level metadata
//   <group/path>/<artifactId>/<version>/maven-metadata.xml    SNAPSHOT-version metadata
//   <group/path>/<artifactId>/<version>/<file>                a file of a version
//   any of these + .md5/.sha1/.sha256/.sha512                 its checksum
//
// Index: namespace = groupId, name = artifactId; assets are named by file name (uploaded
// metadata as "maven-metadata.xml" and "<version>/maven-metadata.xml").
//
// Thread-safety: one MavenHandler serves all connections; publishes are serialized by a mutex.

#include "proxy/context.hpp"
#include "proxy/http.hpp"

#include <memory>
#include <string_view>

namespace arca::proxy {

class MavenHandler {
 public:
  explicit MavenHandler(Context& context);
  ~MavenHandler();

  // `rest` is the raw (percent-encoded) path after "/<domain>/maven/<repo>/".
  boost::asio::awaitable<void> handle(Exchange& exchange, const config::DomainConfig& domain,
                                      const config::RepositoryConfig& repo, std::string rest);
  // Deploys (PUT) get the publish body limit.
  bool is_publish(const Request& request, std::string_view rest) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::proxy
