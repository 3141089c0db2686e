// Unit tests for formats/maven: repository paths, identifiers, version order, checksums,
// timestamped SNAPSHOT files and maven-metadata.xml parsing and rendering.
#include "formats/maven/maven.hpp"

#include <doctest/doctest.h>

#include <ostream>
#include <string>
#include <vector>

namespace maven = arca::formats::maven;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace arca::formats::maven {
std::ostream& operator<<(std::ostream& os, const Path& p) { return os << p.filename; }
std::ostream& operator<<(std::ostream& os, const Metadata& m) { return os << m.artifact_id; }
}  // namespace arca::formats::maven

TEST_SUITE("formats::maven") {
  TEST_CASE("files, metadata and checksums in the repository layout") {
    auto p = maven::parse_path("org/example/demo/1.0/demo-1.0.jar");
    REQUIRE(p);
    CHECK(p->kind == maven::PathKind::file);
    CHECK(p->group_id == "org.example");
    CHECK(p->group_path == "org/example");
    CHECK(p->artifact_id == "demo");
    CHECK(p->version == "1.0");
    CHECK(p->filename == "demo-1.0.jar");
    CHECK(p->checksum == maven::ChecksumKind::none);

    auto c = maven::parse_path("org/example/demo/1.0/demo-1.0.pom.sha1");
    REQUIRE(c);
    CHECK(c->checksum == maven::ChecksumKind::sha1);
    CHECK(c->filename == "demo-1.0.pom");

    auto a = maven::parse_path("org/example/demo/maven-metadata.xml.sha512");
    REQUIRE(a);
    CHECK(a->kind == maven::PathKind::artifact_metadata);
    CHECK(a->checksum == maven::ChecksumKind::sha512);
    CHECK(a->artifact_id == "demo");
    CHECK(a->version.empty());

    auto v = maven::parse_path("org/example/demo/1.0-SNAPSHOT/maven-metadata.xml");
    REQUIRE(v);
    CHECK(v->kind == maven::PathKind::version_metadata);
    CHECK(v->version == "1.0-SNAPSHOT");
  }

  TEST_CASE("traversal and invalid coordinates are refused") {
    CHECK_FALSE(maven::parse_path("org/../demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/%2e%2e/demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/%2E%2e/demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/a%2fb/demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/a%5cb/demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/./demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org//demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/de mo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("org/demo/1.0/demo%zz.jar"));
    CHECK_FALSE(maven::parse_path("org/de$mo/1.0/x.jar"));
    CHECK_FALSE(maven::parse_path("demo/1.0/demo-1.0.jar"));
    CHECK_FALSE(maven::parse_path("maven-metadata.xml"));
    CHECK(maven::valid_identifier("commons-io"));
    CHECK(maven::valid_identifier("2.11.0"));
    CHECK_FALSE(maven::valid_identifier(".."));
    CHECK_FALSE(maven::valid_identifier("a:b"));
  }

  TEST_CASE("versions sort in Maven order") {
    std::vector<std::string> v = {"1.10",    "1.2",      "1.0-SNAPSHOT", "1.0", "1.0-alpha-1",
                                  "1.0-rc1", "1.0-beta", "1.0-sp1",      "1.2"};
    maven::sort_versions(v);
    CHECK(v == std::vector<std::string>{"1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-SNAPSHOT", "1.0",
                                        "1.0-sp1", "1.2", "1.10"});
    CHECK(maven::compare_versions("2.0", "10.0") < 0);
    CHECK(maven::compare_versions("1.0.1", "1.0") > 0);
  }

  TEST_CASE("checksum files") {
    CHECK(maven::parse_checksum("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709  demo.jar\n",
                                maven::ChecksumKind::sha1) ==
          std::optional<std::string>("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK_FALSE(maven::parse_checksum("abc", maven::ChecksumKind::sha1));
    CHECK_FALSE(maven::parse_checksum("zz39a3ee5e6b4b0d3255bfef95601890afd80709",
                                      maven::ChecksumKind::sha1));
  }

  TEST_CASE("timestamped SNAPSHOT files and version-level metadata") {
    auto f = maven::parse_snapshot_file("demo", "1.0-SNAPSHOT",
                                        "demo-1.0-20240102.030405-3-sources.jar");
    REQUIRE(f);
    CHECK(f->timestamp == "20240102.030405");
    CHECK(f->build_number == 3);
    CHECK(f->classifier == "sources");
    CHECK(f->extension == "jar");
    CHECK(f->value == "1.0-20240102.030405-3");
    CHECK_FALSE(maven::parse_snapshot_file("demo", "1.0-SNAPSHOT", "demo-1.0-SNAPSHOT.jar"));
    CHECK_FALSE(maven::parse_snapshot_file("demo", "1.0", "demo-1.0-20240102.030405-3.jar"));

    auto m = maven::snapshot_metadata(
        "org.example", "demo", "1.0-SNAPSHOT",
        {"demo-1.0-20240102.030405-1.jar", "demo-1.0-20240102.030405-1.pom",
         "demo-1.0-20240103.030405-2.jar", "demo-1.0-20240103.030405-2.pom"});
    CHECK(m.snapshot_timestamp == "20240103.030405");
    CHECK(m.snapshot_build_number == 2);
    REQUIRE(m.snapshot_versions.size() == 2);
    CHECK(m.snapshot_versions[0].value == "1.0-20240103.030405-2");
    CHECK(m.last_updated == "20240103030405");
    auto round = maven::parse_metadata(maven::render_metadata(m));
    REQUIRE(round);
    CHECK(round->version == "1.0-SNAPSHOT");
    CHECK(round->snapshot_build_number == 2);
    CHECK(round->snapshot_versions.size() == 2);
  }

  TEST_CASE("artifact-level metadata parses, renders and refuses garbage") {
    const std::string xml = R"(<?xml version="1.0"?><metadata><groupId>org.example</groupId>
      <artifactId>demo</artifactId><versioning><latest>2.0</latest><release>2.0</release>
      <versions><version>1.0</version><version>2.0</version></versions>
      <lastUpdated>20240101000000</lastUpdated></versioning></metadata>)";
    auto m = maven::parse_metadata(xml);
    REQUIRE(m);
    CHECK(m->group_id == "org.example");
    CHECK(m->versions == std::vector<std::string>{"1.0", "2.0"});
    m->versions.push_back("3.0-SNAPSHOT");
    m->versions.push_back("1.0");
    maven::fill_latest_release(*m);
    CHECK(m->latest == "3.0-SNAPSHOT");
    CHECK(m->release == "2.0");
    CHECK(m->versions.size() == 3);
    auto text = maven::render_metadata(*m);
    CHECK(text.find("<release>2.0</release>") != std::string::npos);

    CHECK_FALSE(maven::parse_metadata("<metadata><versioning>"));
    CHECK_FALSE(maven::parse_metadata("not xml at all"));
    CHECK_FALSE(maven::parse_metadata("<other/>"));
    CHECK_FALSE(
        maven::parse_metadata("<metadata><versioning><versions><version>../x</version></versions></"
                              "versioning></metadata>"));
    CHECK_FALSE(maven::parse_metadata(std::string(maven::k_max_metadata_bytes + 1, ' ')));
    auto plugins = maven::parse_metadata(
        "<metadata><plugins><plugin><prefix>x</prefix></plugin></plugins></metadata>");
    REQUIRE(plugins);
    CHECK(plugins->has_plugins);
  }

  TEST_CASE("parse_directory and render_listing") {
    auto d = maven::parse_directory("org/example/lib/");
    REQUIRE(d.has_value());
    CHECK(*d == std::vector<std::string>{"org", "example", "lib"});
    CHECK_FALSE(maven::parse_directory("org/example/lib").has_value());
    CHECK_FALSE(maven::parse_directory("org//lib/").has_value());
    CHECK_FALSE(maven::parse_directory("org/%2e%2e/lib/").has_value());
    CHECK_FALSE(maven::parse_directory("org/a%2fb/").has_value());
    CHECK_FALSE(maven::parse_directory("/").has_value());
    auto html = maven::render_listing("/x/<y>/", {"1.0/", "a&b.jar"});
    CHECK(html.find("<a href=\"1.0/\"") != std::string::npos);
    CHECK(html.find("a&amp;b.jar") != std::string::npos);
    CHECK(html.find("<y>") == std::string::npos);
  }
}
