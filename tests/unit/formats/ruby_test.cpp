// Unit tests for formats/ruby: names, versions and file names, the compact index (render and
// parse), the YAML Gem::Specification of a .gem, and the Marshal writer (bytes compared with
// what ruby 3.1's Marshal.dump writes for the same values).
#include "formats/ruby/ruby.hpp"

#include "common/compress.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <ostream>
#include <string>
#include <vector>

namespace ruby = arca::formats::ruby;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace arca::formats::ruby {
std::ostream& operator<<(std::ostream& os, const GemFile& f) {
  return os << f.name << " " << f.version << " " << f.platform;
}
std::ostream& operator<<(std::ostream& os, const GemSpec& s) { return os << s.name << " " << s.version; }
std::ostream& operator<<(std::ostream& os, const std::vector<Entry>& e) { return os << e.size() << " entries"; }
}  // namespace arca::formats::ruby

namespace {

// metadata.gz of a gem built by gem 3.3.15 (`gem build`), inflated.
const char* k_spec_yaml = R"(--- !ruby/object:Gem::Specification
name: app_a
version: !ruby/object:Gem::Version
  version: 2.0.0
platform: ruby
authors:
- arca
autorequire:
bindir: bin
cert_chain: []
date: 2026-12-02 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: dep_b
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
  type: :runtime
  prerelease: false
  version_requirements: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
- !ruby/object:Gem::Dependency
  name: rake
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '10'
  type: :development
  prerelease: false
  version_requirements: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '10'
description:
email:
executables: []
extensions: []
extra_rdoc_files: []
files:
- lib/app_a.rb
homepage:
licenses:
- MIT
metadata: {}
post_install_message:
rdoc_options: []
require_paths:
- lib
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '2.5'
required_rubygems_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '0'
requirements: []
rubygems_version: 3.3.15
signing_key:
specification_version: 4
summary: test gem app_a
test_files: []
)";

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (int b : list) out += static_cast<char>(b);
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("formats::ruby");

TEST_CASE("names, versions and platforms") {
  CHECK(ruby::valid_name("rails"));
  CHECK(ruby::valid_name("net-http_2.x"));
  CHECK_FALSE(ruby::valid_name(""));
  CHECK_FALSE(ruby::valid_name("../etc"));
  CHECK_FALSE(ruby::valid_name("-x"));
  CHECK_FALSE(ruby::valid_name("a b"));
  CHECK_FALSE(ruby::valid_name("a/b"));
  CHECK_FALSE(ruby::valid_name("___"));
  CHECK(ruby::valid_version("1"));
  CHECK(ruby::valid_version("1.0.0.rc1"));
  CHECK(ruby::valid_version("2.0.0.pre.1"));
  CHECK_FALSE(ruby::valid_version("v1"));
  CHECK_FALSE(ruby::valid_version("1..0"));
  CHECK_FALSE(ruby::valid_version("1.0/../x"));
  CHECK(ruby::valid_platform("x86_64-linux"));
  CHECK_FALSE(ruby::valid_platform("../x"));

  CHECK(ruby::compare_versions("1.0", "1.0.0") == 0);
  CHECK(ruby::compare_versions("1.9", "1.10") < 0);
  CHECK(ruby::compare_versions("1.0.a", "1.0") < 0);
  CHECK(ruby::compare_versions("1.0.rc1", "1.0.beta") > 0);
  CHECK(ruby::compare_versions("2", "1.99.99") > 0);
  CHECK(ruby::prerelease("1.0.pre"));
  CHECK_FALSE(ruby::prerelease("1.0"));
}

TEST_CASE("gem file names") {
  auto f = ruby::parse_file_name("net-http-0.4.1.gem", ".gem");
  REQUIRE(f);
  CHECK(f->name == "net-http");
  CHECK(f->version == "0.4.1");
  CHECK(f->platform == "ruby");
  auto p = ruby::parse_file_name("nokogiri-1.15.0-x86_64-linux.gemspec.rz", ".gemspec.rz");
  REQUIRE(p);
  CHECK(p->name == "nokogiri");
  CHECK(p->version == "1.15.0");
  CHECK(p->platform == "x86_64-linux");
  CHECK(ruby::full_name("nokogiri", "1.15.0", "x86_64-linux") == "nokogiri-1.15.0-x86_64-linux");
  CHECK(ruby::full_name("rake", "13.0", "ruby") == "rake-13.0");
  CHECK_FALSE(ruby::parse_file_name("rake.gem", ".gem"));
  CHECK_FALSE(ruby::parse_file_name("rake-13.0.tgz", ".gem"));
  CHECK_FALSE(ruby::parse_file_name("..-1.0.gem", ".gem"));
  CHECK_FALSE(ruby::parse_file_name("x-1.0-../y.gem", ".gem"));
}

TEST_CASE("the compact index: render and parse") {
  ruby::Entry e;
  e.version = "1.2.0";
  e.dependencies.push_back({"rack", {">= 1.0", "< 3"}, true});
  e.dependencies.push_back({"json", {}, true});
  e.checksum = std::string(64, 'a');
  e.required_ruby = {">= 2.7"};
  ruby::Entry j = e;
  j.platform = "java";
  j.dependencies.clear();
  j.required_ruby.clear();
  const std::string body = ruby::render_info({e, j});
  CHECK(body == "---\n1.2.0 rack:>= 1.0&< 3,json:>= 0|checksum:" + std::string(64, 'a') +
                    ",ruby:>= 2.7\n1.2.0-java |checksum:" + std::string(64, 'a') + "\n");
  auto parsed = ruby::parse_info(body);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].dependencies.size() == 2);
  CHECK((*parsed)[0].dependencies[0].requirements == std::vector<std::string>{">= 1.0", "< 3"});
  CHECK((*parsed)[0].dependencies[1].requirements.empty());
  CHECK((*parsed)[0].required_ruby == std::vector<std::string>{">= 2.7"});
  CHECK((*parsed)[1].platform == "java");
  CHECK(ruby::render_info(*parsed) == body);

  // rubygems.org lines have rubygems requirements and upper-case nothing; tolerate both.
  auto real = ruby::parse_info(
      "---\n0.1.0 |checksum:" + std::string(64, 'b') + ",rubygems:> 1.3.1\n");
  REQUIRE(real);
  CHECK((*real)[0].required_rubygems == std::vector<std::string>{"> 1.3.1"});

  CHECK_FALSE(ruby::parse_info("---\n1.0 |checksum:xyz\n"));
  CHECK_FALSE(ruby::parse_info("---\n../1.0 |checksum:" + std::string(64, 'a') + "\n"));
  CHECK_FALSE(ruby::parse_info("---\n1.0 ../x:>= 1|\n"));
  CHECK_FALSE(ruby::parse_info("---\n1.0 rack:>= one|\n"));

  ruby::VersionsLine l{"rack", {"1.0", "1.1-java"}, "0123"};
  CHECK(ruby::render_versions("2024-01-01T00:00:00Z", {l}) ==
        "created_at: 2024-01-01T00:00:00Z\n---\nrack 1.0,1.1-java 0123\n");
  CHECK(ruby::render_names({"a", "b"}) == "---\na\nb\n");
}

TEST_CASE("the Gem::Specification of a .gem") {
  auto spec = ruby::parse_spec_yaml(k_spec_yaml);
  REQUIRE(spec);
  CHECK(spec->name == "app_a");
  CHECK(spec->version == "2.0.0");
  CHECK(spec->platform == "ruby");
  CHECK(spec->summary == "test gem app_a");
  CHECK(spec->authors == std::vector<std::string>{"arca"});
  CHECK(spec->licenses == std::vector<std::string>{"MIT"});
  CHECK(spec->required_ruby == std::vector<std::string>{">= 2.5"});
  CHECK(spec->required_rubygems.empty());
  REQUIRE(spec->dependencies.size() == 2);
  CHECK(spec->dependencies[0].name == "dep_b");
  CHECK(spec->dependencies[0].requirements == std::vector<std::string>{"~> 1.0"});
  CHECK(spec->dependencies[0].runtime);
  CHECK_FALSE(spec->dependencies[1].runtime);
  const auto entry = ruby::to_entry(*spec, std::string(64, 'c'));
  CHECK(ruby::render_info_line(entry) ==
        "2.0.0 dep_b:~> 1.0|checksum:" + std::string(64, 'c') + ",ruby:>= 2.5");

  const std::string gem = arca::test::make_tar(
      {{"metadata.gz", arca::gzip_compress(k_spec_yaml)}, {"data.tar.gz", "x"}});
  auto read = ruby::read_gem(gem);
  REQUIRE(read);
  CHECK(read->name == "app_a");

  auto not_tar = ruby::read_gem("this is not a gem");
  REQUIRE_FALSE(not_tar);
  CHECK(not_tar.error().message.find("not a gem") != std::string::npos);
  CHECK_FALSE(ruby::read_gem(arca::test::make_tar({{"data.tar.gz", "x"}})));
  CHECK_FALSE(ruby::read_gem(arca::test::make_tar({{"metadata.gz", "not gzip"}})));
  CHECK_FALSE(ruby::parse_spec_yaml("name: [unclosed"));
  // Nesting no gemspec has is refused before yaml-cpp recurses into it.
  auto deep = ruby::parse_spec_yaml("name: " + std::string(100000, '[') + std::string(100000, ']') + "\n");
  REQUIRE_FALSE(deep);
  CHECK(deep.error().message.find("nested deeper") != std::string::npos);
  std::string block = "name: x\nversion: 1.0\nauthors:\n";
  for (int i = 0; i < 5000; ++i) block += "- ";
  block += "a\n";
  CHECK_FALSE(ruby::parse_spec_yaml(block));
  CHECK_FALSE(ruby::parse_spec_yaml("name: ../x\nversion: 1.0\n"));
  CHECK_FALSE(ruby::parse_spec_yaml("name: x\nversion: one\n"));
}

TEST_CASE("Marshal documents are what ruby writes") {
  // ruby -e 'print Marshal.dump([["a", Gem::Version.new("1.0"), "ruby"],
  //                              ["bb", Gem::Version.new("2"), "java"]])'
  ruby::Entry a;
  a.version = "1.0";
  ruby::Entry b;
  b.version = "2";
  b.platform = "java";
  const std::string tuples = ruby::marshal_spec_tuples({{"a", a}, {"bb", b}});
  static const char expected[] =
      "\x04\x08[\x07[\x08I\"\x06" "a\x06:\x06" "ET" "U:\x11Gem::Version[\x06I\"\x08" "1.0\x06;\x00T"
      "I\"\truby\x06;\x00T" "[\x08I\"\x07" "bb\x06;\x00T" "U;\x06[\x06I\"\x06" "2\x06;\x00T"
      "I\"\tjava\x06;\x00T";
  CHECK(tuples == std::string(expected, sizeof(expected) - 1));

  // ruby -e 'print Marshal.dump([{name: "a", number: "1.0", platform: "ruby",
  //                               dependencies: [["b", ">= 1"]]}])'
  ruby::Entry d;
  d.version = "1.0";
  d.dependencies.push_back({"b", {">= 1"}, true});
  CHECK(ruby::marshal_dependency_list({{"a", d}}) ==
        bytes({0x04, 0x08, 0x5b, 0x06, 0x7b, 0x09, 0x3a, 0x09, 0x6e, 0x61, 0x6d, 0x65, 0x49, 0x22,
               0x06, 0x61, 0x06, 0x3a, 0x06, 0x45, 0x54, 0x3a, 0x0b, 0x6e, 0x75, 0x6d, 0x62, 0x65,
               0x72, 0x49, 0x22, 0x08, 0x31, 0x2e, 0x30, 0x06, 0x3b, 0x06, 0x54, 0x3a, 0x0d, 0x70,
               0x6c, 0x61, 0x74, 0x66, 0x6f, 0x72, 0x6d, 0x49, 0x22, 0x09, 0x72, 0x75, 0x62, 0x79,
               0x06, 0x3b, 0x06, 0x54, 0x3a, 0x11, 0x64, 0x65, 0x70, 0x65, 0x6e, 0x64, 0x65, 0x6e,
               0x63, 0x69, 0x65, 0x73, 0x5b, 0x06, 0x5b, 0x07, 0x49, 0x22, 0x06, 0x62, 0x06, 0x3b,
               0x06, 0x54, 0x49, 0x22, 0x09, 0x3e, 0x3d, 0x20, 0x31, 0x06, 0x3b, 0x06, 0x54}));

  // A Gem::Specification is a _dump: 'u', the class, then the inner Marshal's length and bytes.
  auto spec = ruby::parse_spec_yaml(k_spec_yaml);
  REQUIRE(spec);
  const std::string dumped = ruby::marshal_spec(*spec);
  const std::string head = "\x04\x08u:\x17Gem::Specification";
  REQUIRE(dumped.substr(0, head.size()) == head);
  CHECK(dumped.find("dep_b") != std::string::npos);
  CHECK(dumped.find("Gem::Dependency") != std::string::npos);
  // Long strings use the multi-byte length form: 300 bytes is 0x02 0x2c 0x01.
  ruby::GemSpec long_summary = *spec;
  long_summary.summary = std::string(300, 's');
  CHECK(ruby::marshal_spec(long_summary).find(std::string("\"\x02\x2c\x01", 4) + std::string(300, 's')) !=
        std::string::npos);
  // .rz is zlib (RFC 1950): inflatable.
  auto inflated = arca::gzip_decompress(ruby::zlib_deflate(dumped), 1 << 20);
  REQUIRE(inflated);
  CHECK(*inflated == dumped);
}

TEST_CASE("form fields") {
  auto f = ruby::parse_form("gem_name=a%2Db&version=1.0&platform=");
  CHECK(f["gem_name"] == "a-b");
  CHECK(f["version"] == "1.0");
  CHECK(f["platform"].empty());
}

TEST_SUITE_END();
