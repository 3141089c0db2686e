// Unit tests for formats/nuget: ids, version parsing/normalization/order, SemVer 2.0
// detection, nuspec parsing, reading the .nuspec from a nupkg, the stored form, the V3
// documents (service index, flat container, registration pages, search) and upstream parsing.
#include "formats/nuget/nuget.hpp"

#include <archive.h>
#include <archive_entry.h>
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <ostream>
#include <string>
#include <vector>

namespace nuget = arca::formats::nuget;
using json = nlohmann::json;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace arca::formats::nuget {
std::ostream& operator<<(std::ostream& os, const Version& v) { return os << v.original; }
std::ostream& operator<<(std::ostream& os, const Nuspec& n) {
  return os << n.id << " " << n.version;
}
std::ostream& operator<<(std::ostream& os, const NupkgInfo& n) { return os << n.nuspec; }
std::ostream& operator<<(std::ostream& os, const SearchQuery& q) { return os << q.q; }
std::ostream& operator<<(std::ostream& os, const ServiceResources& r) {
  return os << r.package_base_address;
}
std::ostream& operator<<(std::ostream& os, const UpstreamRegistration& r) {
  return os << r.leaves.size() << " leaves";
}
}  // namespace arca::formats::nuget

namespace {

using arca::test::make_zip;

std::string nuspec(const std::string& id, const std::string& version,
                   const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
         "<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n"
         "  <metadata minClientVersion=\"2.8\">\n    <id>" +
         id + "</id>\n    <version>" + version +
         "</version>\n    <authors>A, B</authors>\n    <description>D</description>\n" + extra +
         "  </metadata>\n</package>\n";
}

std::string norm(std::string_view v) {
  auto r = nuget::normalize_version(v);
  return r ? *r : "ERROR: " + r.error().message;
}

int cmp(std::string_view a, std::string_view b) {
  return nuget::compare(*nuget::parse_version(a), *nuget::parse_version(b));
}

nuget::Entry entry(const std::string& id, const std::string& version, bool listed = true) {
  auto v = nuget::parse_version(version);
  nuget::Nuspec n;
  n.id = id;
  n.version = version;
  n.description = "about " + id;
  n.tags = "alpha beta";
  nuget::Entry e;
  e.manifest = nuget::manifest_of(n, *v);
  e.lower_version = nuget::lower(nuget::normalize(*v));
  e.listed = listed;
  e.published = "2026-01-01T00:00:00Z";
  return e;
}

}  // namespace

TEST_SUITE("formats::nuget") {
  TEST_CASE("ids") {
    CHECK(nuget::valid_id("Newtonsoft.Json"));
    CHECK(nuget::valid_id("a"));
    CHECK(nuget::valid_id("A_b-c.D9"));
    CHECK_FALSE(nuget::valid_id(""));
    CHECK_FALSE(nuget::valid_id(".."));
    CHECK_FALSE(nuget::valid_id("../x"));
    CHECK_FALSE(nuget::valid_id("a/b"));
    CHECK_FALSE(nuget::valid_id("a\\b"));
    CHECK_FALSE(nuget::valid_id("a..b"));
    CHECK_FALSE(nuget::valid_id(".a"));
    CHECK_FALSE(nuget::valid_id("a."));
    CHECK_FALSE(nuget::valid_id("a b"));
    CHECK_FALSE(nuget::valid_id(std::string(101, 'a')));
    CHECK(nuget::valid_id(std::string(100, 'a')));
    CHECK(nuget::lower("Foo.BAR") == "foo.bar");
  }

  TEST_CASE("version normalization") {
    CHECK(norm("1.0") == "1.0.0");
    CHECK(norm("1") == "1.0.0");
    CHECK(norm("01.002.0003") == "1.2.3");
    CHECK(norm("1.0.0.0") == "1.0.0");
    CHECK(norm("1.0.0.4") == "1.0.0.4");
    CHECK(norm("1.0.0-Beta") == "1.0.0-Beta");
    CHECK(norm("1.0.0-beta.1+sha.abc") == "1.0.0-beta.1");
    CHECK(norm("1.0.0+build") == "1.0.0");
    CHECK(norm("1.0.0-rc-1") == "1.0.0-rc-1");
    // Leading zeros go, the label keeps its case (flat container URLs lower-case it).
    CHECK(norm("1.00.0-Beta") == "1.0.0-Beta");
    CHECK(nuget::lower(norm("1.00.0-Beta")) == "1.0.0-beta");
    CHECK(norm("1.0.0.0-Beta") == "1.0.0-Beta");
    CHECK(norm("1.0.0.0+build") == "1.0.0");
    for (auto bad : {"", "a", "1.", ".1", "1..0", "1.0.0.0.0", "1.0.0-", "1.0.0-a..b", "1.0.0-01",
                     "1.0.0+", "1.0.0-a_b", "1.0.0 ", "-1.0", "1234567890.0.0"}) {
      CAPTURE(bad);
      CHECK_FALSE(nuget::parse_version(bad));
    }
    CHECK(nuget::parse_version("1.x").error().message.find("not a valid NuGet version") !=
          std::string::npos);
  }

  TEST_CASE("version order") {
    CHECK(cmp("1.0.0", "1.0") == 0);
    CHECK(cmp("1.0.0", "1.0.0.0") == 0);
    CHECK(cmp("1.0.0-alpha", "1.0.0") < 0);
    CHECK(cmp("1.0.0-alpha", "1.0.0-beta") < 0);
    CHECK(cmp("1.0.0-Beta", "1.0.0-beta") == 0);
    CHECK(cmp("1.0.0-2", "1.0.0-10") < 0);
    CHECK(cmp("1.0.0-10", "1.0.0-a") < 0);
    CHECK(cmp("1.0.0-a", "1.0.0-a.1") < 0);
    CHECK(cmp("1.0.0.1", "1.0.1") < 0);
    CHECK(cmp("2.0.0", "10.0.0") < 0);
    CHECK(cmp("1.0.0+a", "1.0.0+b") == 0);
  }

  TEST_CASE("SemVer 2.0 detection") {
    CHECK_FALSE(nuget::is_semver2(*nuget::parse_version("1.0.0-beta")));
    CHECK(nuget::is_semver2(*nuget::parse_version("1.0.0-beta.1")));
    CHECK(nuget::is_semver2(*nuget::parse_version("1.0.0+meta")));
    CHECK(nuget::is_prerelease(*nuget::parse_version("1.0.0-beta")));
    CHECK_FALSE(nuget::is_prerelease(*nuget::parse_version("1.0.0+meta")));
    CHECK(nuget::range_is_semver2("[1.0.0-alpha.1, 2.0.0)"));
    CHECK_FALSE(nuget::range_is_semver2("[1.0.0-alpha, 2.0.0)"));
    CHECK_FALSE(nuget::range_is_semver2(""));
  }

  TEST_CASE("nuspec parsing: fields and dependency groups") {
    auto n = nuget::parse_nuspec(
        nuspec("Foo.Bar", "1.0",
               "    <tags>a b</tags>\n    <license type=\"expression\">MIT</license>\n"
               "    <dependencies>\n      <group targetFramework=\"net45\">\n"
               "        <dependency id=\"Dep.A\" version=\"[1.0,2.0)\" />\n      </group>\n"
               "      <group />\n    </dependencies>\n"));
    REQUIRE(n);
    CHECK(n->id == "Foo.Bar");
    CHECK(n->version == "1.0");
    CHECK(n->authors == "A, B");
    CHECK(n->min_client_version == "2.8");
    CHECK(n->license_expression == "MIT");
    REQUIRE(n->dependency_groups.size() == 2);
    CHECK(n->dependency_groups[0].target_framework == "net45");
    CHECK(n->dependency_groups[0].dependencies[0].id == "Dep.A");
    CHECK(n->dependency_groups[0].dependencies[0].range == "[1.0,2.0)");
    CHECK(n->dependency_groups[1].dependencies.empty());
    // Flat (NuGet 1.x style) dependencies form one group without a framework.
    auto flat = nuget::parse_nuspec(nuspec("X", "1.0.0",
                                           "<dependencies><dependency id=\"Y\" version=\"1.0\"/>"
                                           "</dependencies>"));
    REQUIRE(flat);
    REQUIRE(flat->dependency_groups.size() == 1);
    CHECK(flat->dependency_groups[0].target_framework.empty());
    CHECK(flat->dependency_groups[0].dependencies[0].id == "Y");
  }

  TEST_CASE("nuspec parsing: errors") {
    CHECK(nuget::parse_nuspec("not xml <").error().message.find("not well-formed") !=
          std::string::npos);
    CHECK(nuget::parse_nuspec("<other/>").error().message.find("<package>") != std::string::npos);
    CHECK(nuget::parse_nuspec("<package/>").error().message.find("<metadata>") !=
          std::string::npos);
    CHECK(nuget::parse_nuspec("<package><metadata><version>1.0</version></metadata></package>")
              .error()
              .message.find("<id>") != std::string::npos);
    CHECK(nuget::parse_nuspec("<package><metadata><id>a</id></metadata></package>")
              .error()
              .message.find("<version>") != std::string::npos);
  }

  TEST_CASE("reading the .nuspec of a nupkg") {
    const std::string good = make_zip({{"_rels/.rels", "<Relationships/>"},
                                       {"Foo.nuspec", nuspec("Foo", "1.0.0")},
                                       {"lib/net45/Foo.dll", "MZ"},
                                       {"package/services/metadata/x.psmdcp", "<x/>"}});
    auto info = nuget::read_nupkg(good);
    REQUIRE(info);
    CHECK(info->nuspec.id == "Foo");
    CHECK(info->nuspec_xml == nuspec("Foo", "1.0.0"));
    // A .nuspec below the root does not count.
    auto nested = nuget::read_nupkg(make_zip({{"content/Other.nuspec", nuspec("O", "1.0.0")}}));
    REQUIRE_FALSE(nested);
    CHECK(nested.error().message == "the package contains no .nuspec file");
    auto two = nuget::read_nupkg(
        make_zip({{"A.nuspec", nuspec("A", "1.0.0")}, {"B.NUSPEC", nuspec("B", "1.0.0")}}));
    REQUIRE_FALSE(two);
    CHECK(two.error().message.find("more than one .nuspec") != std::string::npos);
    auto not_zip = nuget::read_nupkg("PK but not really a zip file");
    REQUIRE_FALSE(not_zip);
    CHECK(not_zip.error().message.find("not a valid .nupkg") != std::string::npos);
    CHECK_FALSE(nuget::read_nupkg(""));
    CHECK_FALSE(nuget::read_nupkg(good.substr(0, good.size() - 10)));  // cut into the directory
    CHECK_FALSE(nuget::read_nupkg(good.substr(0, good.size() / 3)));
    auto big = nuget::read_nupkg(
        make_zip({{"Big.nuspec", std::string(2000, ' ') + nuspec("B", "1.0")}}), 1000);
    REQUIRE_FALSE(big);
    CHECK(big.error().message.find("too large") != std::string::npos);
  }

  TEST_CASE("the stored form from a nuspec and from an upstream catalogEntry") {
    auto n = nuget::parse_nuspec(nuspec("Foo", "1.0.0-beta.1+m", "<tags>x  y</tags>"));
    auto v = nuget::parse_version(n->version);
    json m = nuget::manifest_of(*n, *v);
    CHECK(m["id"] == "Foo");
    CHECK(m["version"] == "1.0.0-beta.1");
    CHECK(m["originalVersion"] == "1.0.0-beta.1+m");
    CHECK(m["isSemVer2"] == true);
    CHECK(m["tags"] == json::array({"x", "y"}));

    json catalog = {{"id", "Up"},
                    {"version", "1.0.00"},
                    {"authors", json::array({"a", "b"})},
                    {"tags", "t1 t2"},
                    {"packageHash", "abc="},
                    {"dependencyGroups",
                     json::array({{{"targetFramework", ".NETStandard2.0"},
                                   {"dependencies",
                                    json::array({{{"id", "D"}, {"range", "[1.0.0-a.1, )"}}})}}})}};
    auto up = nuget::manifest_from_catalog(catalog);
    REQUIRE(up);
    CHECK((*up)["version"] == "1.0.0");
    CHECK((*up)["authors"] == "a, b");
    CHECK((*up)["tags"] == json::array({"t1", "t2"}));
    CHECK((*up)["isSemVer2"] == true);  // through its dependency's range
    CHECK((*up)["dependencyGroups"][0]["targetFramework"] == ".NETStandard2.0");
    CHECK_FALSE(nuget::manifest_from_catalog(json{{"id", "../x"}, {"version", "1.0"}}));
    CHECK_FALSE(nuget::manifest_from_catalog(json{{"id", "x"}, {"version", "bad"}}));
  }

  TEST_CASE("service index and flat container") {
    json idx = nuget::service_index("http://h/d/nuget/r/v3/");
    std::map<std::string, std::string> by_type;
    for (auto& r : idx["resources"]) by_type[r["@type"]] = r["@id"];
    CHECK(by_type["PackageBaseAddress/3.0.0"] == "http://h/d/nuget/r/v3/flatcontainer/");
    CHECK(by_type["PackagePublish/2.0.0"] == "http://h/d/nuget/r/v3/package");
    CHECK(by_type["RegistrationsBaseUrl"] == "http://h/d/nuget/r/v3/registration/");
    CHECK(by_type["RegistrationsBaseUrl/3.6.0"] ==
          "http://h/d/nuget/r/v3/registration-gz-semver2/");
    CHECK(by_type["SearchQueryService/3.5.0"] == "http://h/d/nuget/r/v3/query");
    CHECK(by_type["SearchAutocompleteService"] == "http://h/d/nuget/r/v3/autocomplete");
    std::vector<nuget::Entry> es = {entry("A", "2.0.0"), entry("A", "1.0.0-Beta"),
                                    entry("A", "1.0")};
    nuget::sort_entries(es);
    CHECK(nuget::flat_index(es)["versions"] == json::array({"1.0.0-beta", "1.0.0", "2.0.0"}));
  }

  TEST_CASE("registration: inlined below 128 versions, separate pages from 128") {
    nuget::RegistrationUrls urls{"http://h/v3/registration-gz-semver2/",
                                 "http://h/v3/flatcontainer/"};
    std::vector<nuget::Entry> small = {entry("Foo", "1.0.0"), entry("Foo", "1.1.0", false)};
    json idx = nuget::registration_index(urls, "foo", small);
    CHECK(idx["@id"] == "http://h/v3/registration-gz-semver2/foo/index.json");
    REQUIRE(idx["items"].size() == 1);
    auto& page = idx["items"][0];
    CHECK(page["lower"] == "1.0.0");
    CHECK(page["upper"] == "1.1.0");
    REQUIRE(page["items"].size() == 2);
    CHECK(page["items"][0]["packageContent"] ==
          "http://h/v3/flatcontainer/foo/1.0.0/foo.1.0.0.nupkg");
    CHECK(page["items"][0]["catalogEntry"]["listed"] == true);
    CHECK(page["items"][1]["catalogEntry"]["listed"] == false);
    CHECK(page["items"][0]["catalogEntry"]["id"] == "Foo");

    std::vector<nuget::Entry> many;
    for (int i = 0; i < 130; ++i) many.push_back(entry("Foo", "1.0." + std::to_string(i)));
    nuget::sort_entries(many);
    json big = nuget::registration_index(urls, "foo", many);
    REQUIRE(big["items"].size() == 3);
    CHECK_FALSE(big["items"][0].contains("items"));
    CHECK_FALSE(big["items"][0].contains("parent"));  // only with items
    CHECK(page["parent"] == idx["@id"]);
    CHECK(big["items"][0]["lower"] == "1.0.0");
    CHECK(big["items"][0]["upper"] == "1.0.63");
    CHECK(big["items"][2]["count"] == 2);
    CHECK(big["items"][1]["@id"] == nuget::registration_page_url(urls, "foo", "1.0.64", "1.0.127"));
    auto p = nuget::registration_page(urls, "foo", many, 2);
    REQUIRE(p.has_value());
    CHECK((*p)["items"].size() == 2);
    CHECK((*p)["parent"] == "http://h/v3/registration-gz-semver2/foo/index.json");
    CHECK_FALSE(nuget::registration_page(urls, "foo", many, 3));
    // nuget.org's heuristic: 128 or more versions are pages, fewer are inlined.
    many.resize(128);
    CHECK_FALSE(nuget::registration_index(urls, "foo", many)["items"][0].contains("items"));
    many.resize(127);
    CHECK(nuget::registration_index(urls, "foo", many)["items"][0].contains("items"));
    json leaf = nuget::registration_leaf(urls, "foo", many[0]);
    CHECK(leaf["packageContent"] == "http://h/v3/flatcontainer/foo/1.0.0/foo.1.0.0.nupkg");
  }

  TEST_CASE("dependency ranges as the registration shows them") {
    nuget::RegistrationUrls urls{"http://h/r/", "http://h/f/"};
    auto n = nuget::parse_nuspec(nuspec("Foo", "1.0.0",
                                        "<dependencies><dependency id=\"A\" version=\"1.0\"/>"
                                        "<dependency id=\"B\" version=\"[1.0,2.0)\"/>"
                                        "<dependency id=\"C\"/></dependencies>"));
    nuget::Entry e;
    e.manifest = nuget::manifest_of(*n, *nuget::parse_version("1.0.0"));
    e.lower_version = "1.0.0";
    json idx = nuget::registration_index(urls, "foo", std::vector<nuget::Entry>{e});
    auto& deps = idx["items"][0]["items"][0]["catalogEntry"]["dependencyGroups"][0]["dependencies"];
    CHECK(deps[0]["range"] == "[1.0.0, )");
    CHECK(deps[1]["range"] == "[1.0,2.0)");
    CHECK(deps[2]["range"] == "(, )");
    CHECK(deps[0]["registration"] == "http://h/r/a/index.json");
  }

  TEST_CASE("search: terms, prerelease, semVerLevel, unlisted, paging") {
    auto q = nuget::parse_search_query("q=Foo+bar&skip=1&take=2&prerelease=true&semVerLevel=2.0.0");
    REQUIRE(q);
    CHECK(q->q == "Foo bar");
    CHECK(q->skip == 1);
    CHECK(q->take == 2);
    CHECK(q->prerelease);
    CHECK(q->semver2);
    CHECK_FALSE(nuget::parse_search_query("take=-1"));
    CHECK_FALSE(nuget::parse_search_query("skip=x"));

    std::vector<nuget::PackageVersions> all = {
        {"alpha.one", {entry("Alpha.One", "1.0.0"), entry("Alpha.One", "2.0.0-beta")}},
        {"beta.two", {entry("Beta.Two", "1.0.0-rc.1")}},
        {"gamma", {entry("Gamma", "1.0.0", false)}},
        {"delta", {entry("Delta", "3.0.0")}}};
    uint64_t total = 0;
    nuget::SearchQuery plain;
    auto r = nuget::search(plain, all, &total);
    CHECK(total == 2);  // beta.two is SemVer 2.0 and pre-release; gamma unlisted
    REQUIRE(r.size() == 2);
    CHECK(r[0].lower_id == "alpha.one");
    CHECK(r[0].entries.size() == 1);  // 2.0.0-beta hidden without prerelease
    nuget::SearchQuery pre;
    pre.prerelease = true;
    pre.semver2 = true;
    r = nuget::search(pre, all, &total);
    CHECK(total == 3);
    nuget::SearchQuery term;
    term.q = "ONE";
    r = nuget::search(term, all, &total);
    REQUIRE(total == 1);
    CHECK(r[0].lower_id == "alpha.one");
    term.q = "beta one";  // every term must match (tags and id)
    CHECK(nuget::search(term, all, &total).size() == 1);
    term.q = "zeta";
    CHECK(nuget::search(term, all, &total).empty());
    nuget::SearchQuery exact;
    exact.q = "packageid:delta";
    CHECK(nuget::search(exact, all, &total).size() == 1);
    nuget::SearchQuery paged = pre;
    paged.skip = 1;
    paged.take = 1;
    r = nuget::search(paged, all, &total);
    CHECK(total == 3);
    REQUIRE(r.size() == 1);
    CHECK(r[0].lower_id == "beta.two");
    nuget::RegistrationUrls urls{"http://h/r/", "http://h/f/"};
    json body = nuget::search_results(urls, r, total);
    CHECK(body["totalHits"] == 3);
    CHECK(body["data"][0]["id"] == "Beta.Two");
    CHECK(body["data"][0]["versions"][0]["version"] == "1.0.0-rc.1");
    CHECK(body["data"][0]["registration"] == "http://h/r/beta.two/index.json");
    // No empty strings where URLs go.
    CHECK_FALSE(body["data"][0].contains("iconUrl"));
    CHECK_FALSE(body["data"][0].contains("projectUrl"));
    nuget::SearchQuery ids = pre;
    ids.id = "Alpha.One";
    auto versions = nuget::search(ids, all, &total);
    CHECK(nuget::autocomplete_results(ids, versions, total)["data"] ==
          json::array({"1.0.0", "2.0.0-beta"}));
  }

  TEST_CASE("search: multi-word queries and author lists of every length") {
    // search() once split a destroyed temporary (the lower-cased query) into views and read
    // them afterwards; search_results() did the same with authors and owners. Lengths from
    // short-string to several heap size classes: the freed buffer is reused by the next
    // allocation of its size and the terms read garbage (ASan: stack-use-after-scope).
    std::vector<nuget::PackageVersions> all = {
        {"alpha.one", {entry("Alpha.One", "1.0.0")}}, {"delta", {entry("Delta", "3.0.0")}}};
    std::string q = "Alpha.One";
    for (int words = 1; words <= 16; ++words) {
      nuget::SearchQuery term;
      term.q = q;
      uint64_t total = 0;
      auto r = nuget::search(term, all, &total);
      REQUIRE_MESSAGE(r.size() == 1, q);
      CHECK(r[0].lower_id == "alpha.one");
      term.q = q + " DELTA";  // every term must match: none does
      CHECK_MESSAGE(nuget::search(term, all, &total).empty(), term.q);
      q += words % 2 ? " about" : " ALPHA.one";
    }
    std::string authors = "A";
    std::vector<std::string> expected = {"A"};
    for (int n = 2; n <= 12; ++n) {
      std::string name = "Author Number " + std::to_string(n);
      authors += ", " + name;
      expected.push_back(name);
      auto pkgs = all;
      pkgs[0].entries[0].manifest["authors"] = authors;
      pkgs[0].entries[0].manifest["owners"] = authors;
      nuget::RegistrationUrls urls{"http://h/r/", "http://h/f/"};
      uint64_t total = 0;
      nuget::SearchQuery one;
      one.q = "alpha.one";
      json body = nuget::search_results(urls, nuget::search(one, pkgs, &total), total);
      REQUIRE(body["data"].size() == 1);
      CHECK(body["data"][0]["authors"] == json(expected));
      CHECK(body["data"][0]["owners"] == json(expected));
    }
  }

  TEST_CASE("query strings are decoded with Boost.URL: %XX, '+' as a space") {
    auto p = nuget::parse_query_string("?q=Foo+bar%2Bbaz&&id=A%2eB&flag&x=");
    REQUIRE(p.has_value());
    REQUIRE(p->size() == 4);
    CHECK((*p)[0].key == "q");
    CHECK((*p)[0].value == "Foo bar+baz");
    CHECK((*p)[1].value == "A.B");
    CHECK((*p)[2].key == "flag");
    CHECK((*p)[2].value.empty());
    CHECK((*p)[3].key == "x");
    // Raw quotes and spaces as NuGet 2.x sends them in $filter are taken as they are.
    auto raw = nuget::parse_query_string("$filter=Id eq 'a'");
    REQUIRE(raw.has_value());
    CHECK((*raw)[0].value == "Id eq 'a'");
    for (auto bad : {"q=%", "q=%4", "q=%zz", "%g1=1"}) {
      CAPTURE(bad);
      CHECK_FALSE(nuget::parse_query_string(bad).has_value());
      CHECK_FALSE(nuget::parse_search_query(bad));
    }
  }

  TEST_CASE("search: packageType (SearchQueryService/3.5.0); autocomplete matches ids only") {
    auto q = nuget::parse_search_query("q=&packageType=DotnetTool&semVerLevel=2.0.0");
    REQUIRE(q);
    CHECK(q->package_type == "DotnetTool");
    auto capped = nuget::parse_search_query("take=5000");
    REQUIRE(capped);
    CHECK(capped->take == 1000);  // the server's maximum
    auto parsed = nuget::parse_nuspec(nuspec(
        "My.Tool", "1.0.0",
        "    <packageTypes><packageType name=\"DotnetTool\" version=\"1.0\" /></packageTypes>\n"
        "    <projectUrl>https://example.test/tool</projectUrl>\n"));
    REQUIRE(parsed);
    REQUIRE(parsed->package_types.size() == 1);
    CHECK(parsed->package_types[0].first == "DotnetTool");
    nuget::Entry tool;
    tool.manifest = nuget::manifest_of(*parsed, *nuget::parse_version("1.0.0"));
    tool.lower_version = "1.0.0";
    tool.published = "2026-01-01T00:00:00Z";
    CHECK(tool.manifest["packageTypes"] ==
          json::parse(R"([{"name": "DotnetTool", "version": "1.0"}])"));
    std::vector<nuget::PackageVersions> all = {{"my.tool", {tool}},
                                               {"plain.lib", {entry("Plain.Lib", "1.0.0")}}};
    uint64_t total = 0;
    nuget::SearchQuery by_type;
    by_type.package_type = "dotnettool";  // case-insensitive
    auto r = nuget::search(by_type, all, &total);
    REQUIRE(r.size() == 1);
    CHECK(r[0].lower_id == "my.tool");
    by_type.package_type = "Dependency";  // no declared type is "Dependency"
    r = nuget::search(by_type, all, &total);
    REQUIRE(r.size() == 1);
    CHECK(r[0].lower_id == "plain.lib");
    by_type.package_type = "NoSuchType";
    CHECK(nuget::search(by_type, all, &total).empty());
    nuget::RegistrationUrls urls{"http://h/r/", "http://h/f/"};
    json body =
        nuget::search_results(urls, nuget::search(nuget::SearchQuery{}, all, &total), total);
    CHECK(body["data"][0]["packageTypes"] ==
          json::parse(R"([{"name": "DotnetTool", "version": "1.0"}])"));
    CHECK(body["data"][1]["packageTypes"] == json::parse(R"([{"name": "Dependency"}])"));
    CHECK(body["data"][0]["projectUrl"] == "https://example.test/tool");
    // "about plain.lib" is in the description: search finds it, autocomplete (ids only) not.
    nuget::SearchQuery words;
    words.q = "about";
    CHECK(nuget::search(words, all, &total).size() == 1);
    words.ids_only = true;
    CHECK(nuget::search(words, all, &total).empty());
    words.q = "plain";
    CHECK(nuget::search(words, all, &total).size() == 1);
  }

  TEST_CASE("upstream service index: the SemVer 2.0 registration is preferred") {
    const std::string body = R"({"version":"3.0.0","resources":[
      {"@id":"https://up/flat","@type":"PackageBaseAddress/3.0.0"},
      {"@id":"https://up/reg/","@type":"RegistrationsBaseUrl"},
      {"@id":"https://up/reg-gz-semver2/","@type":"RegistrationsBaseUrl/3.6.0"},
      {"@id":"https://up/reg-gz/","@type":["RegistrationsBaseUrl/3.4.0"]}]})";
    auto r = nuget::parse_service_index(body, "https://up/v3/index.json");
    REQUIRE(r);
    CHECK(r->package_base_address == "https://up/flat/");
    CHECK(r->registrations_base_url == "https://up/reg-gz-semver2/");
    auto relative = nuget::parse_service_index(
        R"({"resources":[{"@id":"/flat/","@type":"PackageBaseAddress/3.0.0"}]})",
        "http://up:8/v3/index.json");
    REQUIRE(relative);
    CHECK(relative->package_base_address == "http://up:8/flat/");
    CHECK_FALSE(nuget::parse_service_index("[]", "x"));
    CHECK_FALSE(nuget::parse_service_index(R"({"resources":[]})", "x"));
  }

  TEST_CASE("upstream documents nested too deeply are refused before parsing") {
    // nlohmann parses "[[[[..." iteratively, but copies and dump() recurse once per level.
    const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
    auto index = nuget::parse_service_index(
        R"({"resources":[{"@id":"https://up/flat/","@type":"PackageBaseAddress/3.0.0","x":)" + deep +
            "}]}",
        "https://up/v3/index.json");
    REQUIRE_FALSE(index);
    CHECK(index.error().code == arca::Errc::upstream_error);
    CHECK(index.error().message == "the upstream service index nests more than 256 levels deep");
    auto reg = nuget::parse_registration(
        R"({"items":[{"catalogEntry":{"id":"Foo","version":"1.0.0","tags":)" + deep + "}}]}");
    REQUIRE_FALSE(reg);
    CHECK(reg.error().message.find("nests more than 256 levels") != std::string::npos);
    auto flat = nuget::parse_flat_index(R"({"versions":["1.0.0"],"x":)" + deep + "}");
    REQUIRE_FALSE(flat.has_value());
    CHECK(flat.error().message.find("nests more than 256 levels") != std::string::npos);
    // Real documents nest a handful of levels.
    const std::string ok = std::string(200, '[') + std::string(200, ']');
    CHECK(nuget::parse_flat_index(R"({"versions":["1.0.0"],"x":)" + ok + "}").has_value());
  }

  TEST_CASE("upstream registration: inlined leaves, pages to fetch, hashes, unlisted") {
    const std::string body = R"({"items":[
      {"@id":"https://up/reg/foo/index.json#page/1.0.0/1.0.0","items":[
        {"catalogEntry":{"id":"Foo","version":"1.0.0","listed":true,"published":"2020-01-01T00:00:00Z",
          "packageHash":"aGFzaA==","packageHashAlgorithm":"SHA512"},
         "packageContent":"https://up/flat/foo/1.0.0/foo.1.0.0.nupkg"},
        {"catalogEntry":{"id":"Foo","version":"0.1.0","published":"1900-01-01T00:00:00+00:00"}},
        {"catalogEntry":{"id":"Foo","version":"not a version"}}]},
      {"@id":"https://up/reg/foo/page/2.0.0/3.0.0.json","lower":"2.0.0","upper":"3.0.0"}]})";
    auto r = nuget::parse_registration(body);
    REQUIRE(r);
    REQUIRE(r->leaves.size() == 2);
    CHECK(r->leaves[0].lower_version == "1.0.0");
    CHECK(r->leaves[0].package_hash == "aGFzaA==");
    CHECK(r->leaves[0].package_content == "https://up/flat/foo/1.0.0/foo.1.0.0.nupkg");
    CHECK_FALSE(r->leaves[0].manifest.contains("packageHash"));
    CHECK_FALSE(r->leaves[1].listed);
    REQUIRE(r->page_urls.size() == 1);
    CHECK(r->page_urls[0] == "https://up/reg/foo/page/2.0.0/3.0.0.json");
    CHECK_FALSE(nuget::parse_registration("{}"));
    CHECK_FALSE(nuget::parse_registration("not json"));
    auto flat = nuget::parse_flat_index(R"({"versions":["1.0.0","1.0.0-BETA","bad"]})");
    REQUIRE(flat.has_value());
    CHECK(*flat == std::vector<std::string>{"1.0.0", "1.0.0-beta"});
  }
}
