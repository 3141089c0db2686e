// Unit tests for formats/swift: identifiers, SemVer versions and precedence, Accept negotiation,
// problem details, the manifests of a source archive and their tools versions, release
// metadata, repository URL normalisation, Link headers and query values (the Swift package
// registry specification, sections cited per case).
#include "formats/swift/swift.hpp"

#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace swift = arca::formats::swift;
using json = nlohmann::json;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace std {
inline std::ostream& operator<<(std::ostream& os, const std::map<std::string, std::string>& m) {
  return os << m.size() << " manifests";
}
}  // namespace std

TEST_SUITE_BEGIN("formats::swift");

TEST_CASE("scopes and names (3.6.1, 3.6.2)") {
  CHECK(swift::valid_scope("mona"));
  CHECK(swift::valid_scope("Mona-Lisa"));
  CHECK(swift::valid_scope("a"));
  CHECK(swift::valid_scope(std::string(39, 'a')));
  CHECK_FALSE(swift::valid_scope(std::string(40, 'a')));
  CHECK_FALSE(swift::valid_scope(""));
  CHECK_FALSE(swift::valid_scope("-mona"));
  CHECK_FALSE(swift::valid_scope("mona-"));
  CHECK_FALSE(swift::valid_scope("mo--na"));
  CHECK_FALSE(swift::valid_scope("mo_na"));  // underscores are for names only
  CHECK_FALSE(swift::valid_scope("mo.na"));
  CHECK_FALSE(swift::valid_scope("mön"));

  CHECK(swift::valid_name("LinkedList"));
  CHECK(swift::valid_name("linked_list-2"));
  CHECK(swift::valid_name(std::string(100, 'x')));
  CHECK_FALSE(swift::valid_name(std::string(101, 'x')));
  CHECK_FALSE(swift::valid_name("_linked"));
  CHECK_FALSE(swift::valid_name("linked_"));
  CHECK_FALSE(swift::valid_name("linked-_list"));
  CHECK_FALSE(swift::valid_name("linked..list"));
  CHECK_FALSE(swift::valid_name("../etc"));
  CHECK_FALSE(swift::valid_name(""));

  CHECK(swift::lower("MONA.LinkedList") == "mona.linkedlist");
}

TEST_CASE("versions: SemVer 2.0 syntax and precedence") {
  for (auto v : {"1.0.0", "0.0.1", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
                 "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
                 "1.0.0-x-y-z.--"}) {
    CHECK_MESSAGE(swift::valid_version(v), v);
  }
  for (auto v : {"", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0-01",
                 "1.0.0-a..b", "1.0.0+", "1.0.0+a+b", "v1.0.0", "1.0.0 ", "1.0.0/..", "1.0.x"}) {
    CHECK_FALSE_MESSAGE(swift::valid_version(v), v);
  }
  CHECK_FALSE(swift::valid_version(std::string(129, '1')));

  // SemVer 11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
  //            < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0, and numeric components compare as numbers.
  std::vector<std::string> ordered = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                      "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                      "1.0.0-rc.1",  "1.0.0",         "1.2.0",
                                      "1.10.0",      "2.0.0",         "10.0.0"};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    CHECK_MESSAGE(swift::compare_versions(ordered[i], ordered[i + 1]) < 0, ordered[i]);
    CHECK(swift::compare_versions(ordered[i + 1], ordered[i]) > 0);
  }
  CHECK(swift::compare_versions("1.0.0", "1.0.0") == 0);
  // Build metadata does not take part in precedence; the spelling breaks the tie.
  CHECK(swift::compare_versions("1.0.0+a", "1.0.0+b") < 0);
  CHECK(swift::compare_versions("1.0.0+zzz", "1.0.1") < 0);
}

TEST_CASE("negotiation (3.5)") {
  using swift::Media;
  // Acceptable: none, wildcards, the plain type, the registry's type with or without version.
  CHECK(swift::negotiate("", Media::json).status == 0);
  CHECK(swift::negotiate("*/*", Media::zip).status == 0);
  CHECK(swift::negotiate("application/json", Media::json).status == 0);
  CHECK(swift::negotiate("application/vnd.swift.registry.v1+json", Media::json).status == 0);
  CHECK(swift::negotiate("application/vnd.swift.registry.v1+zip", Media::zip).status == 0);
  CHECK(swift::negotiate("application/vnd.swift.registry.v1+swift", Media::swift).status == 0);
  CHECK(swift::negotiate("application/vnd.swift.registry+json", Media::json).status == 0);
  CHECK(swift::negotiate("application/vnd.swift.registry.v1", Media::json).status == 0);
  CHECK(swift::negotiate("APPLICATION/VND.SWIFT.REGISTRY.V1+JSON", Media::json).status == 0);
  CHECK(swift::negotiate("text/html, application/vnd.swift.registry.v1+json;q=0.9", Media::json)
            .status == 0);
  // Invalid version: 400; unsupported version: 415.
  auto invalid = swift::negotiate("application/vnd.swift.registry.vX+json", Media::json);
  CHECK(invalid.status == 400);
  CHECK(invalid.detail == "invalid API version");
  CHECK(swift::negotiate("application/vnd.swift.registry.v+json", Media::json).status == 400);
  CHECK(swift::negotiate("application/vnd.swift.registry1+json", Media::json).status == 400);
  auto unsupported = swift::negotiate("application/vnd.swift.registry.v2+json", Media::json);
  CHECK(unsupported.status == 415);
  CHECK(unsupported.detail == "unsupported API version");
  // Another media type than the resource's: 415.
  CHECK(swift::negotiate("application/vnd.swift.registry.v1+zip", Media::json).status == 415);
  CHECK(swift::negotiate("application/vnd.swift.registry.v1+json", Media::swift).status == 415);
  CHECK(swift::negotiate("text/html", Media::json).status == 415);
  // One acceptable entry is enough.
  CHECK(swift::negotiate("application/vnd.swift.registry.v2+json, application/json", Media::json)
            .status == 0);

  CHECK(swift::content_type(Media::json) == "application/json");
  CHECK(swift::content_type(Media::zip) == "application/zip");
  CHECK(swift::content_type(Media::swift) == "text/x-swift");
}

TEST_CASE("problem details (3.3, RFC 7807)") {
  auto p = json::parse(swift::problem(404, "release not found"));
  CHECK(p["status"] == 404);
  CHECK(p["title"] == "Not Found");
  CHECK(p["detail"] == "release not found");
  // Invalid UTF-8 in a detail (a path echoed back) still gives valid JSON.
  CHECK_FALSE(json::parse(swift::problem(400, "bad \xff name"), nullptr, false).is_discarded());
}

TEST_CASE("manifests of a source archive (4.3, 4.6.1)") {
  const std::string manifest = "// swift-tools-version:5.9\nimport PackageDescription\n";
  SUBCASE("one top-level directory, as swift package archive-source makes it") {
    auto zip = arca::test::make_zip({{"LinkedList/Package.swift", manifest},
                                     {"LinkedList/Package@swift-4.2.swift", "// swift-tools-version:4.2\n"},
                                     {"LinkedList/Package@swift-5.swift", "// swift-tools-version:5.0\n"},
                                     {"LinkedList/Sources/LinkedList/Package.swift", "not a manifest"},
                                     {"LinkedList/Package@swift-x.swift", "ignored"},
                                     {"LinkedList/README.md", "# hi"}});
    auto m = swift::read_manifests(zip);
    REQUIRE(m.has_value());
    CHECK(m->size() == 3);
    CHECK(m->at("Package.swift") == manifest);
    CHECK(m->at("Package@swift-4.2.swift") == "// swift-tools-version:4.2\n");
    CHECK(m->count("Package@swift-5.swift") == 1);
  }
  SUBCASE("manifests at the archive's root") {
    auto m = swift::read_manifests(arca::test::make_zip({{"Package.swift", manifest}}));
    REQUIRE(m.has_value());
    CHECK(m->at("Package.swift") == manifest);
  }
  SUBCASE("422 material: not a zip, no Package.swift, two packages, too large, truncated") {
    CHECK_FALSE(swift::read_manifests(""));
    CHECK_FALSE(swift::read_manifests("PK\x03\x04 not really"));
    CHECK_FALSE(swift::read_manifests(arca::test::make_zip({{"LinkedList/README.md", "x"}})));
    auto only_variant = swift::read_manifests(
        arca::test::make_zip({{"LinkedList/Package@swift-5.swift", manifest}}));
    REQUIRE_FALSE(only_variant);
    CHECK(only_variant.error().message.find("Package.swift") != std::string::npos);
    CHECK_FALSE(swift::read_manifests(
        arca::test::make_zip({{"A/Package.swift", manifest}, {"B/Package@swift-5.swift", manifest}})));
    CHECK_FALSE(swift::read_manifests(
        arca::test::make_zip({{"A/Package.swift", std::string(2000, 'x')}}), 1000));
    auto zip = arca::test::make_zip({{"A/Package.swift", manifest}});
    CHECK_FALSE(swift::read_manifests(zip.substr(0, zip.size() / 2)));
  }
}

TEST_CASE("manifest file names and tools versions (4.3, 4.3.1)") {
  CHECK(swift::manifest_swift_version("Package@swift-4.swift") == "4");
  CHECK(swift::manifest_swift_version("Package@swift-4.2.swift") == "4.2");
  CHECK(swift::manifest_swift_version("Package@swift-5.10.1.swift") == "5.10.1");
  CHECK_FALSE(swift::manifest_swift_version("Package.swift"));
  CHECK_FALSE(swift::manifest_swift_version("Package@swift-.swift"));
  CHECK_FALSE(swift::manifest_swift_version("Package@swift-4.2.1.0.swift"));
  CHECK_FALSE(swift::manifest_swift_version("Package@swift-a.swift"));
  CHECK_FALSE(swift::manifest_swift_version("package@swift-4.swift"));

  CHECK(swift::valid_swift_version("5.9"));
  CHECK_FALSE(swift::valid_swift_version("5..9"));
  CHECK_FALSE(swift::valid_swift_version("../5"));

  CHECK(swift::tools_version("// swift-tools-version:5.9\nimport PackageDescription") == "5.9");
  CHECK(swift::tools_version("// swift-tools-version: 5.7.1\r\n") == "5.7.1");
  CHECK(swift::tools_version("//swift-tools-version:4") == "4.0");
  CHECK(swift::tools_version("// swift-tools-version:5.9; (swiftLanguageModes)\n") == "5.9");
  CHECK(swift::tools_version("import PackageDescription\n").empty());
  CHECK(swift::tools_version("").empty());
  CHECK(swift::tools_version("// swift-tools-version:\n").empty());
}

TEST_CASE("release metadata (4.6.2, Appendix B)") {
  auto ok = swift::parse_metadata(R"({"repositoryURLs": ["https://github.com/mona/LinkedList"],
                                      "description": "d"})");
  REQUIRE(ok.has_value());
  CHECK((*ok)["description"] == "d");
  CHECK(swift::parse_metadata("{}").has_value());
  CHECK_FALSE(swift::parse_metadata("{not json"));
  CHECK_FALSE(swift::parse_metadata("[]"));
  CHECK_FALSE(swift::parse_metadata(R"({"repositoryURLs": "https://github.com/mona/x"})"));
  CHECK_FALSE(swift::parse_metadata(R"({"repositoryURLs": [1]})"));
  CHECK_FALSE(swift::parse_metadata(R"({"repositoryURLs": [""]})"));
  // Nesting that would overflow the stack when copied or serialized (common/json_depth.hpp).
  CHECK_FALSE(swift::parse_metadata("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}"));
}

TEST_CASE("repository URLs for /identifiers (4.5.1)") {
  const std::string want = "github.com/mona/linkedlist";
  for (auto u : {"https://github.com/mona/LinkedList", "https://github.com/mona/LinkedList.git",
                 "https://github.com/mona/LinkedList/", "http://GitHub.com/mona/linkedlist",
                 "ssh://git@github.com/mona/LinkedList.git", "git@github.com:mona/LinkedList.git",
                 "https://user@github.com/mona/LinkedList"}) {
    CHECK_MESSAGE(swift::normalize_repository_url(u) == want, u);
  }
  CHECK(swift::normalize_repository_url("https://github.com/mona/Other") != want);
  CHECK(swift::normalize_repository_url("https://gitlab.com/mona/LinkedList") != want);
}

TEST_CASE("Link headers (RFC 8288) and query values") {
  std::vector<swift::Link> links = {
      {"https://x/a/b/1.0.0", "latest-version", {}},
      {"https://x/a/b/1.0.0/Package.swift?swift-version=4", "alternate",
       {{"filename", "Package@swift-4.swift"}, {"swift-tools-version", "4.0"}}}};
  CHECK(swift::render_links(links) ==
        "<https://x/a/b/1.0.0>; rel=\"latest-version\", "
        "<https://x/a/b/1.0.0/Package.swift?swift-version=4>; rel=\"alternate\"; "
        "filename=\"Package@swift-4.swift\"; swift-tools-version=\"4.0\"");
  CHECK(swift::render_links({}).empty());
  // Parsing (what an upstream registry sends): round trip, bare values, commas in quotes,
  // malformed entries skipped.
  auto parsed = swift::parse_links(swift::render_links(links));
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0].url == "https://x/a/b/1.0.0");
  CHECK(parsed[0].rel == "latest-version");
  CHECK(parsed[1].rel == "alternate");
  CHECK(parsed[1].params == links[1].params);
  auto odd = swift::parse_links(
      "<https://a/1>; rel=alternate; filename=\"x, y\",garbage, <https://a/2>;REL=\"next\"");
  REQUIRE(odd.size() == 2);
  CHECK(odd[0].rel == "alternate");
  CHECK(odd[0].params[0].second == "x, y");
  CHECK(odd[1].url == "https://a/2");
  CHECK(odd[1].rel == "next");
  CHECK(swift::parse_links("").empty());
  CHECK(swift::parse_links("<unterminated").empty());

  CHECK(swift::query_value("url=https%3A%2F%2Fgithub.com%2Fmona%2FLinkedList", "url") ==
        "https://github.com/mona/LinkedList");
  CHECK(swift::query_value("a=1&swift-version=5.7", "swift-version") == "5.7");
  CHECK_FALSE(swift::query_value("a=1", "url"));
  CHECK_FALSE(swift::query_value("url=%zz", "url"));
  CHECK(swift::query_value("url", "url") == "");
}

TEST_SUITE_END();
