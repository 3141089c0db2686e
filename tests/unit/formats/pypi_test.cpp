// Unit tests for formats/pypi: names, file names, project pages (JSON and tolerant HTML
// parsing, rendering), Accept negotiation, multipart/form-data, uploads and wheel metadata.
#include "formats/pypi/pypi.hpp"

#include "common/digest.hpp"

#include <archive.h>
#include <archive_entry.h>
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace pypi = arca::formats::pypi;
using json = nlohmann::json;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace arca::formats::pypi {
std::ostream& operator<<(std::ostream& os, const DistFile& f) {
  return os << f.project << " " << f.version;
}
std::ostream& operator<<(std::ostream& os, const ProjectPage& p) {
  return os << p.files.size() << " files";
}
std::ostream& operator<<(std::ostream& os, const std::vector<FormPart>& p) {
  return os << p.size() << " parts";
}
std::ostream& operator<<(std::ostream& os, const Upload& u) { return os << u.filename; }
std::ostream& operator<<(std::ostream& os, const CoreMetadata& m) {
  return os << m.name << " " << m.version;
}
}  // namespace arca::formats::pypi

namespace {

using arca::test::make_zip;

std::string part(const std::string& boundary, const std::string& name, const std::string& value) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
         value + "\r\n";
}

std::string file_part(const std::string& boundary, const std::string& filename,
                      const std::string& data) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"content\"; filename=\"" +
         filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + "\r\n";
}

}  // namespace

TEST_SUITE("formats::pypi") {
  TEST_CASE("PEP 503 normalization and project names") {
    CHECK(pypi::normalize_name("Friendly-Bard") == "friendly-bard");
    CHECK(pypi::normalize_name("FRIENDLY_BARD") == "friendly-bard");
    CHECK(pypi::normalize_name("friendly.bard") == "friendly-bard");
    CHECK(pypi::normalize_name("Friendly-._.-Bard") == "friendly-bard");
    CHECK(*pypi::parse_project_name("Requests") == "requests");
    CHECK(*pypi::parse_project_name("zope.interface") == "zope-interface");
    auto nothing = pypi::parse_project_name("-._");
    REQUIRE_FALSE(nothing);
    CHECK(nothing.error().message.find("normalizes to nothing") != std::string::npos);
    CHECK_FALSE(pypi::parse_project_name(""));
    CHECK_FALSE(pypi::parse_project_name(".."));
    CHECK_FALSE(pypi::parse_project_name("a/b"));
    CHECK_FALSE(pypi::parse_project_name("a b"));
    CHECK_FALSE(pypi::parse_project_name("-abc"));
    CHECK_FALSE(pypi::parse_project_name("abc\xc3\xa9"));
  }

  TEST_CASE("versions: validity, canonical forms and ordering") {
    CHECK(pypi::valid_version("1.0.0"));
    CHECK(pypi::valid_version("2.0rc1"));
    CHECK(pypi::valid_version("1.0+local.1"));
    CHECK(pypi::valid_version("1!2.0"));
    CHECK_FALSE(pypi::valid_version(""));
    CHECK_FALSE(pypi::valid_version("1..0"));
    CHECK_FALSE(pypi::valid_version("1.0/.."));
    CHECK_FALSE(pypi::valid_version(".1"));
    CHECK(pypi::canonical_version("1.0") == pypi::canonical_version("1.0.0"));
    CHECK(pypi::canonical_version("1.0_rc1") == pypi::canonical_version("1.0rc1"));
    CHECK(pypi::canonical_version("V1.2") == "1.2");
    CHECK(pypi::canonical_version("1.0") != pypi::canonical_version("1.1"));
    CHECK(pypi::compare_versions("1.10", "1.9") == 1);
    CHECK(pypi::compare_versions("1.0rc1", "1.0") == -1);
    CHECK(pypi::compare_versions("1.0.dev1", "1.0a1") == -1);
    CHECK(pypi::compare_versions("1.0.post1", "1.0") == 1);
    CHECK(pypi::compare_versions("1.0", "1.0.0") == 0);
  }

  TEST_CASE("file names: wheels and sdists") {
    auto w = pypi::parse_filename("Foo_Bar-1.2.3-py3-none-any.whl", "foo-bar");
    REQUIRE(w);
    CHECK(w->kind == pypi::FileKind::wheel);
    CHECK(w->version == "1.2.3");
    CHECK(pypi::parse_filename("foo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", "foo"));
    auto s = pypi::parse_filename("foo-bar-2.0.tar.gz", "foo-bar");
    REQUIRE(s);
    CHECK(s->kind == pypi::FileKind::sdist);
    CHECK(s->version == "2.0");
    CHECK(pypi::parse_filename("Foo.Bar-2.0.zip", "foo-bar")->version == "2.0");
    // Wrong project, wrong shape, bad characters.
    CHECK_FALSE(pypi::parse_filename("other-1.0-py3-none-any.whl", "foo"));
    CHECK_FALSE(pypi::parse_filename("foo-1.0-any.whl", "foo"));
    CHECK_FALSE(pypi::parse_filename("foo-1.0.exe", "foo"));
    auto sep = pypi::parse_filename("../foo-1.0.tar.gz", "foo");
    REQUIRE_FALSE(sep);
    CHECK(sep.error().message.find("path separator") != std::string::npos);
    auto dots = pypi::parse_filename("foo-1..0.tar.gz", "foo");
    REQUIRE_FALSE(dots);
    CHECK(dots.error().message.find("..") != std::string::npos);
    CHECK_FALSE(pypi::parse_filename("foo-1.0.tar.gz\\x", "foo"));
    CHECK_FALSE(pypi::valid_filename(".hidden"));
    CHECK_FALSE(pypi::valid_filename("a b.whl"));
    CHECK_FALSE(pypi::valid_filename("a%2f.whl"));
  }

  TEST_CASE("JSON project pages (PEP 691/700/714)") {
    const std::string body = R"({
      "meta": {"api-version": "1.1"}, "name": "Foo",
      "versions": ["1.0", "2.0"],
      "files": [
        {"filename": "foo-1.0.tar.gz", "url": "../../files/foo-1.0.tar.gz#sha256=AB", "hashes": {"sha256": "ABCDEF"},
         "requires-python": ">=3.8", "yanked": "broken", "size": 10, "upload-time": "2024-01-01T00:00:00.000Z"},
        {"filename": "foo-2.0-py3-none-any.whl", "url": "https://files.example/foo-2.0-py3-none-any.whl",
         "hashes": {}, "core-metadata": {"sha256": "0123"}, "dist-info-metadata": true},
        {"filename": "../evil", "url": "https://x/evil"}
      ]})";
    auto page = pypi::parse_project_json(body, "https://idx.example/simple/foo/");
    REQUIRE(page);
    CHECK(page->name == "Foo");
    REQUIRE(page->files.size() == 2);
    CHECK(page->files[0].url == "https://idx.example/files/foo-1.0.tar.gz");
    CHECK(page->files[0].hashes.at("sha256") == "abcdef");
    CHECK(page->files[0].yanked);
    CHECK(page->files[0].yanked_reason == "broken");
    CHECK(page->files[0].requires_python == ">=3.8");
    CHECK(*page->files[0].size == 10);
    CHECK(page->files[1].core_metadata);
    CHECK(page->files[1].core_metadata_hashes.at("sha256") == "0123");
    CHECK(page->versions == std::vector<std::string>{"1.0", "2.0"});

    // Wrong shapes are errors that say so.
    CHECK_FALSE(pypi::parse_project_json("[1,2]", ""));
    CHECK_FALSE(pypi::parse_project_json("{\"files\": {}}", ""));
    CHECK_FALSE(pypi::parse_project_json("{\"files\": [1]}", ""));
    CHECK_FALSE(pypi::parse_project_json("{\"files\": [{\"filename\": 1, \"url\": \"x\"}]}", ""));
    CHECK_FALSE(
        pypi::parse_project_json("{\"meta\": {\"api-version\": \"2.0\"}, \"files\": []}", ""));
    CHECK_FALSE(pypi::parse_project_json("not json", ""));
  }

  TEST_CASE("tolerant HTML parsing") {
    const std::string body =
        "<!DOCTYPE html><html><body><!-- <a href=\"x.whl\">commented</a> -->\n"
        "<A HREF='/packages/foo-1.0.tar.gz#sha256=00FF' "
        "data-requires-python=\"&gt;=3.7\">foo-1.0.tar.gz</A><br>\n"
        "<a href=https://cdn.example/foo-1.1-py3-none-any.whl#md5=abcd data-yanked=\"\" "
        "data-dist-info-metadata=\"sha256=aa\">foo-1.1-py3-none-any.whl</a>\n"
        "<a href=\"foo-1.2.tar.gz\" data-core-metadata=true>  foo-1.2.tar.gz </a>\n"
        "<a>no href</a><a href=\"foo-9.tar.gz\" data-x=\"unterminated>foo-9.tar.gz</a>\n";
    auto page = pypi::parse_project_html(body, "https://idx.example/simple/foo/");
    REQUIRE(page);
    REQUIRE(page->files.size() == 3);
    CHECK(page->files[0].url == "https://idx.example/packages/foo-1.0.tar.gz");
    CHECK(page->files[0].hashes.at("sha256") == "00ff");
    CHECK(page->files[0].requires_python == ">=3.7");
    CHECK(page->files[1].hashes.at("md5") == "abcd");
    CHECK(page->files[1].yanked);
    CHECK(page->files[1].yanked_reason.empty());
    CHECK(page->files[1].core_metadata_hashes.at("sha256") == "aa");
    CHECK(page->files[2].filename == "foo-1.2.tar.gz");
    CHECK(page->files[2].url == "https://idx.example/simple/foo/foo-1.2.tar.gz");
    CHECK(page->files[2].core_metadata);
    // A <base> changes where relative links point.
    auto based = pypi::parse_project_html(
        "<base href=\"https://b.example/x/\"><a href=\"f-1.zip\">f-1.zip</a>",
        "https://idx.example/simple/f/");
    REQUIRE(based);
    REQUIRE(based->files.size() == 1);
    CHECK(based->files[0].url == "https://b.example/x/f-1.zip");
    // Not HTML at all.
    CHECK_FALSE(pypi::parse_project_html(std::string("\0\1\2", 3), ""));
    CHECK_FALSE(pypi::parse_project_html("plain text", ""));
    // Broken markup everywhere: no files, no crash.
    auto broken = pypi::parse_project_html("<a href=\"<a href='<<<>>>\"", "https://x/");
    REQUIRE(broken);
    CHECK(broken->files.empty());
  }

  TEST_CASE("rendering round-trips and escapes") {
    pypi::ProjectPage page;
    page.name = "foo";
    pypi::File f;
    f.filename = "foo-1.0-py3-none-any.whl";
    f.url = "http://arca/files/foo/foo-1.0-py3-none-any.whl";
    f.hashes["sha256"] = "ab";
    f.requires_python = ">=3.7,<4";
    f.yanked = true;
    f.yanked_reason = "bad \"release\"";
    f.core_metadata = true;
    f.core_metadata_hashes["sha256"] = "cd";
    f.size = 42;
    f.upload_time = "2024-01-01T00:00:00.000Z";
    page.files.push_back(f);
    page.versions = {"1.0"};
    std::string html = pypi::render_project_html(page);
    CHECK(html.find("href=\"http://arca/files/foo/foo-1.0-py3-none-any.whl#sha256=ab\"") !=
          std::string::npos);
    CHECK(html.find("data-requires-python=\"&gt;=3.7,&lt;4\"") != std::string::npos);
    CHECK(html.find("data-yanked=\"bad &quot;release&quot;\"") != std::string::npos);
    CHECK(html.find("data-dist-info-metadata=\"sha256=cd\" data-core-metadata=\"sha256=cd\"") !=
          std::string::npos);
    auto reparsed = pypi::parse_project_html(html, "http://arca/simple/foo/");
    REQUIRE(reparsed);
    REQUIRE(reparsed->files.size() == 1);
    CHECK(reparsed->files[0].requires_python == ">=3.7,<4");
    CHECK(reparsed->files[0].yanked_reason == "bad \"release\"");

    auto j = json::parse(pypi::render_project_json(page));
    CHECK(j["meta"]["api-version"] == "1.1");
    CHECK(j["versions"] == json::array({"1.0"}));
    auto& jf = j["files"][0];
    CHECK(jf["hashes"]["sha256"] == "ab");
    CHECK(jf["core-metadata"]["sha256"] == "cd");
    CHECK_FALSE(jf.contains("dist-info-metadata"));  // pip 23.0.1 crashes on a dict and on true
    CHECK(jf["yanked"] == "bad \"release\"");
    CHECK(jf["size"] == 42);
    CHECK(jf["upload-time"] == "2024-01-01T00:00:00.000Z");

    auto stored = pypi::deserialize_page(pypi::serialize_page(page));
    REQUIRE(stored);
    CHECK(stored->files[0].core_metadata_hashes.at("sha256") == "cd");
    CHECK(stored->files[0].url == f.url);

    auto index = pypi::render_index_html({"Foo_Bar"});
    CHECK(index.find("<a href=\"foo-bar/\">Foo_Bar</a>") != std::string::npos);
    CHECK(json::parse(pypi::render_index_json({"a"}))["projects"][0]["name"] == "a");
  }

  TEST_CASE("Accept negotiation (PEP 691)") {
    using F = pypi::PageFormat;
    CHECK(pypi::negotiate("") == F::html_legacy);
    CHECK(pypi::negotiate("*/*") == F::html_legacy);
    CHECK(pypi::negotiate("text/html") == F::html_legacy);
    CHECK(pypi::negotiate("application/json") == F::html_legacy);
    CHECK(pypi::negotiate(
              "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
              "text/html; q=0.01") == F::json);
    CHECK(pypi::negotiate(
              "application/vnd.pypi.simple.v1+json;q=0.2, application/vnd.pypi.simple.v1+html") ==
          F::html_v1);
    CHECK(pypi::negotiate("application/vnd.pypi.simple.latest+json") == F::json);
    CHECK(pypi::negotiate("application/vnd.pypi.simple.v1+json;q=0") == F::html_legacy);
    CHECK(pypi::negotiate("text/html, */*;q=0.1") == F::html_legacy);
  }

  TEST_CASE("multipart/form-data and uploads") {
    const std::string b = "----b0undary";
    const std::string content = "not really a tarball";
    const auto d = arca::digest_of(content);
    std::string body = part(b, ":action", "file_upload") + part(b, "protocol_version", "1") +
                       part(b, "name", "Foo_Bar") + part(b, "version", "1.0") +
                       part(b, "filetype", "sdist") +
                       part(b, "sha256_digest", arca::to_hex(d.sha256)) +
                       part(b, "md5_digest", arca::to_hex(d.md5)) +
                       part(b, "requires_dist", "six>=1") + part(b, "requires_dist", "idna") +
                       file_part(b, "foo_bar-1.0.tar.gz", content) + "--" + b + "--\r\n";
    const std::string ct = "multipart/form-data; boundary=" + b;
    auto parts = pypi::parse_multipart(body, ct);
    REQUIRE(parts);
    CHECK(parts->size() == 10);
    auto up = pypi::parse_upload(*parts);
    REQUIRE_MESSAGE(up, up.error().message);
    CHECK(up->project == "foo-bar");
    CHECK(up->filename == "foo_bar-1.0.tar.gz");
    CHECK(up->content == content);
    CHECK(up->requires_dist == std::vector<std::string>{"six>=1", "idna"});

    SUBCASE("digest mismatch") {
      std::string bad = body;
      auto pos = bad.find(arca::to_hex(d.sha256));
      bad[pos] = bad[pos] == '0' ? '1' : '0';
      auto p = pypi::parse_multipart(bad, ct);
      REQUIRE(p);
      auto u = pypi::parse_upload(*p);
      REQUIRE_FALSE(u);
      CHECK(u.error().message.find("sha256") != std::string::npos);
    }
    SUBCASE("file name against name and version") {
      auto with_file = [&](const std::string& filename, const std::string& version) {
        std::string x = part(b, ":action", "file_upload") + part(b, "name", "foo-bar") +
                        part(b, "version", version) +
                        part(b, "sha256_digest", arca::to_hex(d.sha256)) +
                        file_part(b, filename, content) + "--" + b + "--\r\n";
        auto p = pypi::parse_multipart(x, ct);
        REQUIRE(p);
        return pypi::parse_upload(*p);
      };
      CHECK(with_file("foo_bar-1.0.tar.gz", "1.0"));
      CHECK(with_file("foo_bar-1.0.tar.gz", "1.0.0"));
      CHECK_FALSE(with_file("foo_bar-1.1.tar.gz", "1.0"));
      CHECK_FALSE(with_file("other-1.0.tar.gz", "1.0"));
      CHECK_FALSE(with_file("../foo_bar-1.0.tar.gz", "1.0"));
      CHECK_FALSE(with_file("dir/foo_bar-1.0.tar.gz", "1.0"));
      CHECK_FALSE(with_file("foo_bar-1.0-py3-none-any.whl", "2.0"));
    }
    SUBCASE("malformed bodies") {
      CHECK_FALSE(pypi::parse_multipart(body, "application/json"));
      CHECK_FALSE(pypi::parse_multipart(body, "multipart/form-data"));
      CHECK_FALSE(pypi::parse_multipart(body.substr(0, body.size() / 2), ct));
      CHECK_FALSE(pypi::parse_multipart("no boundary here", ct));
    }
    SUBCASE("missing fields") {
      // Named: FormPart::data views the body, which must outlive the parts.
      const std::string only_action = part(b, ":action", "file_upload") + "--" + b + "--\r\n";
      auto p = pypi::parse_multipart(only_action, ct);
      REQUIRE(p);
      CHECK_FALSE(pypi::parse_upload(*p));
    }
  }

  TEST_CASE("core metadata and wheel METADATA") {
    const std::string metadata =
        "Metadata-Version: 2.1\r\nName: Foo-Bar\r\nVersion: 1.0\r\nSummary: a\r\n  continued\r\n"
        "Requires-Python: >=3.7\r\nRequires-Dist: six (>=1)\r\nRequires-Dist: idna\r\n\r\nBody: "
        "ignored\r\n";
    auto core = pypi::parse_core_metadata(metadata);
    REQUIRE(core);
    CHECK(core->name == "Foo-Bar");
    CHECK(core->version == "1.0");
    CHECK(core->requires_python == ">=3.7");
    CHECK(core->requires_dist == std::vector<std::string>{"six (>=1)", "idna"});
    CHECK_FALSE(pypi::parse_core_metadata("Version: 1\n"));

    pypi::DistFile file{pypi::FileKind::wheel, "foo-bar", "1.0"};
    std::string wheel = make_zip({{"foo_bar/__init__.py", ""},
                                  {"foo_bar-1.0.dist-info/METADATA", metadata},
                                  {"foo_bar-1.0.dist-info/RECORD", ""}});
    auto extracted = pypi::wheel_metadata(wheel, file);
    REQUIRE_MESSAGE(extracted, extracted.error().message);
    CHECK(*extracted == metadata);
    // The dist-info directory must be the wheel's own.
    std::string other = make_zip({{"other-1.0.dist-info/METADATA", metadata}});
    CHECK_FALSE(pypi::wheel_metadata(other, file));
    std::string nested = make_zip({{"x/foo_bar-1.0.dist-info/METADATA", metadata}});
    CHECK_FALSE(pypi::wheel_metadata(nested, file));
    CHECK_FALSE(pypi::wheel_metadata("not a zip at all", file));
    CHECK_FALSE(pypi::wheel_metadata(wheel, file, 10));
  }
}
