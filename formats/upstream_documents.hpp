#pragma once
// Upstream documents (npm packuments, PyPI project pages, maven-metadata.xml, NuGet service
// indexes and registrations) as every protocol handler caches them: an in-memory LRU of bodies
// with their freshness, a persistent copy in the store's meta space, conditional revalidation
// (ETag / Last-Modified), the external connection's metadata_ttl, stale-if-error (the stored
// copy is served while the upstream fails), 404s remembered for the TTL, and one upstream
// request per key at a time. What differs per format is a DocumentTraits value.
//
// Thread-safety: one UpstreamDocuments per handler serves all connections; mutex-guarded.

#include "common/error.hpp"
#include "config/config.hpp"
#include "formats/context.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace arca::formats {

// One upstream document as cached.
struct UpstreamDocument {
  bool found = false;  // false: the upstream does not have it (404/410)
  // The body as stored (after DocumentTraits::parse_response); left empty in what get()
  // returns when the traits parse stored bodies (`parsed` holds the document then).
  std::string body;
  std::shared_ptr<const void> parsed;  // from the traits' parsers; null without them
  int64_t fresh_until_ms = 0;
};

// Which document of a connection, and how to ask for it.
struct DocumentRequest {
  std::string key;   // unique within the connection (the meta key and LRU key derive from it)
  std::string url;   // absolute, or a path under the connection's base (DocumentTraits::format)
  std::string what;  // named in logs: "packument of left-pad"
};

struct DocumentTraits {
  std::string meta_prefix;  // the store's meta keys are "<prefix>\x1f<connection>\x1f<key>"
  // When set, DocumentRequest::url is a path under upstream_base_url(connection, format).
  std::string format;
  std::string accept;           // the Accept header; empty: none sent
  bool gzip = true;             // sends Accept-Encoding: gzip and inflates gzip answers
  uint64_t max_bytes = 0;       // the body limit
  bool memory = true;           // keeps documents in memory until fresh_until (else: store only)
  bool persist_absent = false;  // writes 404s to the store too (else they are remembered in memory)
  uint64_t memory_cost_factor = 1;  // in-memory cost of a document per stored body byte
  std::string too_large_message;    // replaces the client's too_large error message when set
  // Checks a 200 body (`key` as requested): may replace `body` with what is to be stored, and
  // returns the parsed document (null when there is nothing to keep parsed). An error serves
  // the stored copy, when there is one.
  Result<std::shared_ptr<const void>> (*parse_response)(std::string& body, const net::ResponseHead& head,
                                                        const std::string& url,
                                                        const std::string& key) = nullptr;
  // Parses a stored body (set when parse_response returns documents). A stored body that does
  // not parse counts as no stored copy.
  Result<std::shared_ptr<const void>> (*parse_stored)(const std::string& body) = nullptr;
};

class UpstreamDocuments {
 public:
  UpstreamDocuments(Context& context, DocumentTraits traits, uint64_t memory_budget_bytes);
  ~UpstreamDocuments();

  // The document, from memory, the store or the upstream. An error when the upstream cannot
  // be asked or fails and nothing is stored.
  [[nodiscard]] boost::asio::awaitable<Result<UpstreamDocument>> get(
      const config::ExternalConnectionConfig* connection, DocumentRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arca::formats
