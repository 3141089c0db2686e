// Unit tests for formats/nuget/v2feed: query options, $filter and $orderby parsing and
// evaluation, paging, latest flags, prerelease / SemVer 2.0 / unlisted hiding, entry keys, and
// the Atom / OData documents (escaping, typed properties, next links).
#include "formats/nuget/v2feed.hpp"

#include <pugixml.hpp>

#include <doctest/doctest.h>

#include <ostream>
#include <string>
#include <vector>

namespace v2 = arca::formats::nuget::v2;

// doctest prints results through boost::system::result's operator<<, which needs these.
namespace arca::formats::nuget::v2 {
std::ostream& operator<<(std::ostream& os, const Query& q) { return os << q.filter; }
std::ostream& operator<<(std::ostream& os, const EntryKey& k) { return os << k.id << ' ' << k.version; }
std::ostream& operator<<(std::ostream& os, const std::vector<Package>& ps) { return os << ps.size(); }
}  // namespace arca::formats::nuget::v2

namespace {

v2::Package pkg(std::string id, std::string version, bool prerelease = false, bool semver2 = false,
                bool listed = true) {
  v2::Package p;
  p.id = std::move(id);
  p.version = std::move(version);
  p.is_prerelease = prerelease;
  p.is_semver2 = semver2;
  p.listed = listed;
  p.authors = "arca";
  p.description = "package " + p.id;
  p.published = "2026-01-0" + std::to_string(1 + p.version.size() % 9) + "T00:00:00Z";
  return p;
}

std::vector<v2::Package> catalog() {
  return {
      pkg("Foo", "1.0.0"),
      pkg("Foo", "2.0.0"),
      pkg("Foo", "10.0.0"),
      pkg("Foo", "11.0.0-beta", true),
      pkg("Foo", "12.0.0-rc.1", true, true),
      pkg("Foo", "13.0.0", false, false, false),  // unlisted
      pkg("bar", "0.9.0"),
      pkg("Baz", "1.0.0-alpha", true),
  };
}

std::vector<std::string> keys(const std::vector<v2::Package>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.id + "@" + p.version);
  return out;
}

std::vector<v2::Package> run(std::string_view raw, const std::vector<v2::Package>& all,
                             uint64_t* total = nullptr) {
  auto q = v2::parse_query(raw);
  REQUIRE_MESSAGE(q, raw);
  auto r = v2::apply(*q, all, total);
  REQUIRE_MESSAGE(r, raw);
  return *r;
}

using Keys = std::vector<std::string>;

}  // namespace

TEST_SUITE("formats::nuget::v2") {
  TEST_CASE("query options are decoded") {
    auto q = v2::parse_query(
        "$filter=IsLatestVersion&$orderby=Id&$skip=30&$top=30&searchTerm='x%20y'&targetFramework=''"
        "&includePrerelease=false&semVerLevel=2.0.0&$inlinecount=allpages");
    REQUIRE(q);
    CHECK(q->filter == "IsLatestVersion");
    CHECK(q->orderby == "Id");
    CHECK(q->skip == 30);
    CHECK(q->top == 30);
    CHECK(q->search_term == "x y");
    CHECK(q->target_framework.empty());
    CHECK_FALSE(q->include_prerelease);
    CHECK(q->include_prerelease_given);
    CHECK(q->semver2);
    CHECK(q->count);
    CHECK_FALSE(q->id);

    auto f = v2::parse_query("id='Foo.Bar'&$top=1000&semVerLevel=1.0.0");
    REQUIRE(f);
    REQUIRE(f->id);
    CHECK(*f->id == "Foo.Bar");
    CHECK(f->top == 100);  // capped
    CHECK_FALSE(f->semver2);
    CHECK(f->include_prerelease);
    CHECK_FALSE(f->include_prerelease_given);

    auto quote = v2::parse_query("searchTerm='it''s'&$select=Id,Version&$format=atom");
    REQUIRE(quote);
    CHECK(quote->search_term == "it's");
    // '+' is a space, %2B a plus (form encoding, decoded by Boost.URL).
    auto plus = v2::parse_query("searchTerm='a+b%2Bc'&$filter=Id%20eq%20'x'");
    REQUIRE(plus);
    CHECK(plus->search_term == "a b+c");
    CHECK(plus->filter == "Id eq 'x'");
  }

  TEST_CASE("bad query options are invalid_argument") {
    for (const char* raw : {"$skip=-1", "$skip=abc", "$top=1e3", "$top=", "includePrerelease=yes",
                            "searchTerm='open", "$filter=%zz", "searchTerm='x%2'", "$top=%", "semVerLevel=two",
                            "$inlinecount=some", "$skip=99999999999999999999"}) {
      auto q = v2::parse_query(raw);
      CHECK_MESSAGE(!q, raw);
      if (!q) CHECK(q.error().code == arca::Errc::invalid_argument);
    }
  }

  TEST_CASE("unsupported or malformed $filter and $orderby are refused") {
    for (const char* f : {
             "Id eq",                           // missing operand
             "Id eq 'x' and",                   // dangling operator
             "(Id eq 'x'",                      // unbalanced
             "Id eq 'x')",                      // unbalanced
             "Nope eq 'x'",                     // unknown property
             "Id",                              // not boolean
             "Id eq 1",                         // type mismatch
             "IsPrerelease gt false",           // booleans do not order
             "DownloadCount add 1 eq 2",        // arithmetic
             "substringof('a')",                // arity
             "frobnicate(Id) eq 'x'",           // unknown function
             "Id eq 'unterminated",             // literal
             "Id eq 'x' or 3",                  // or over a number
             "not Id",                          // not over a string
             "Id eq 'x' Id",                    // trailing tokens
             "Id eq \"x\"",                     // not an OData literal
             "Published gt datetime'yesterday'",  // not a date
         }) {
      auto q = v2::parse_query(std::string("$filter=") + f);
      CHECK_MESSAGE(!q, f);
      if (!q) CHECK(q.error().code == arca::Errc::invalid_argument);
    }
    for (const char* o : {"Nope", "Id sideways", "Id,", "Id desc desc", "null"}) {
      auto q = v2::parse_query(std::string("$orderby=") + o);
      CHECK_MESSAGE(!q, o);
    }
  }

  TEST_CASE("nesting and size are bounded: deep input is a 400, not a stack overflow") {
    auto nested = [](size_t depth, std::string_view open, std::string_view inner,
                     std::string_view close) {
      std::string s;
      for (size_t i = 0; i < depth; ++i) s += open;
      s += inner;
      for (size_t i = 0; i < depth; ++i) s += close;
      return s;
    };
    // The reported crash: ~5,000 parentheses in a 10 KB URL. Far deeper input must not reach
    // the recursion either (it overflowed the stack before the limit existed).
    for (size_t depth : {101, 4'000, 5'000, 100'000}) {
      for (const auto& f : {nested(depth, "(", "IsLatestVersion", ")"),
                            nested(depth, "not ", "IsLatestVersion", ""),
                            nested(depth, "tolower(", "Id", ")") + " eq 'x'"}) {
        auto q = v2::parse_query("$filter=" + f);
        CHECK_MESSAGE(!q, depth);
        if (!q) {
          CHECK(q.error().code == arca::Errc::invalid_argument);
          const auto& m = q.error().message;
          CHECK_MESSAGE((m.find("nested more than 100 levels") != std::string::npos ||
                         m.find("is longer than 8192 bytes") != std::string::npos),
                        m);
        }
        v2::Query direct;  // apply() parses again: bounded there too
        direct.filter = f;
        auto all = catalog();
        CHECK_FALSE(v2::apply(direct, all));
      }
      auto o = v2::parse_query("$orderby=" + nested(depth, "tolower(", "Id", ")"));
      CHECK_MESSAGE(!o, depth);
    }
    auto deep = v2::parse_query("$filter=" + nested(101, "(", "IsLatestVersion", ")"));
    REQUIRE_FALSE(deep);
    CHECK(deep.error().message == "expression nested more than 100 levels deep at position 100");
    // 100 levels are fine, and evaluate.
    auto all = catalog();
    CHECK(keys(run("$filter=" + nested(100, "(", "IsLatestVersion", ")"), all)) ==
          Keys{"bar@0.9.0", "Foo@10.0.0"});
    CHECK(keys(run("$filter=" + nested(99, "not ", "IsPrerelease", "") + " and Id eq 'bar'", all)) ==
          Keys{"bar@0.9.0"});
    // Long and/or chains are not nesting (one node, any number of operands) as long as the
    // expression stays within its size bound.
    std::string chain = "Id eq 'bar'";
    for (int i = 0; i < 300; ++i) chain += " or Id eq 'x" + std::to_string(i) + "'";
    CHECK(keys(run("$filter=" + chain, all)) == Keys{"bar@0.9.0"});
    std::string ands = "Id eq 'bar'";
    for (int i = 0; i < 300; ++i) ands += " and IsLatestVersion";
    CHECK(keys(run("$filter=" + ands, all)) == Keys{"bar@0.9.0"});
    std::string huge = "Id eq '" + std::string(9000, 'a') + "'";
    auto h = v2::parse_query("$filter=" + huge);
    REQUIRE_FALSE(h);
    CHECK(h.error().message.find("$filter is longer than 8192 bytes") != std::string::npos);
  }

  TEST_CASE("default listing: listed versions, ordered by id then version") {
    auto all = catalog();
    uint64_t total = 0;
    auto r = run("", all, &total);
    // SemVer 2.0 and unlisted versions are hidden; prerelease shown (includePrerelease default).
    CHECK(keys(r) == Keys{"bar@0.9.0", "Baz@1.0.0-alpha", "Foo@1.0.0", "Foo@2.0.0", "Foo@10.0.0",
                          "Foo@11.0.0-beta"});
    CHECK(total == 6);
  }

  TEST_CASE("latest flags are computed per id over listed, visible versions") {
    auto all = catalog();
    auto r = run("$filter=IsLatestVersion", all);
    CHECK(keys(r) == Keys{"bar@0.9.0", "Foo@10.0.0"});  // Baz has no stable version
    auto a = run("$filter=IsAbsoluteLatestVersion", all);
    CHECK(keys(a) == Keys{"bar@0.9.0", "Baz@1.0.0-alpha", "Foo@11.0.0-beta"});
    // With SemVer 2.0 visible, the absolute latest of Foo is the SemVer 2.0 prerelease.
    auto s = run("$filter=IsAbsoluteLatestVersion&semVerLevel=2.0.0", all);
    CHECK(keys(s) == Keys{"bar@0.9.0", "Baz@1.0.0-alpha", "Foo@12.0.0-rc.1"});
    // The unlisted 13.0.0 is never latest, even where it is shown.
    auto f = run("id='foo'&semVerLevel=2.0.0", all);
    REQUIRE(f.size() == 6);
    CHECK(f.back().version == "13.0.0");
    CHECK_FALSE(f.back().is_latest_version);
    CHECK_FALSE(f.back().is_absolute_latest_version);
    CHECK(f[2].is_latest_version);
  }

  TEST_CASE("FindPackagesById: case-insensitive, unlisted shown, SemVer 2.0 only when asked") {
    auto all = catalog();
    CHECK(keys(run("id='FOO'", all)) ==
          Keys{"Foo@1.0.0", "Foo@2.0.0", "Foo@10.0.0", "Foo@11.0.0-beta", "Foo@13.0.0"});
    CHECK(keys(run("id='foo'&semVerLevel=2.0.0", all)).size() == 6);
    CHECK(run("id='nothing'", all).empty());
  }

  TEST_CASE("prerelease hiding and Search() terms") {
    auto all = catalog();
    all[6].tags = "tooling cli";
    all[7].title = "The Baz Library";
    CHECK(keys(run("includePrerelease=false", all)) ==
          Keys{"bar@0.9.0", "Foo@1.0.0", "Foo@2.0.0", "Foo@10.0.0"});
    CHECK(keys(run("searchTerm='CLI'", all)) == Keys{"bar@0.9.0"});
    CHECK(keys(run("searchTerm='library'", all)) == Keys{"Baz@1.0.0-alpha"});
    // Any term matches (as NuGet.Server's search did).
    CHECK(keys(run("searchTerm='library tooling'&$filter=IsAbsoluteLatestVersion", all)) ==
          Keys{"bar@0.9.0", "Baz@1.0.0-alpha"});
    CHECK(keys(run("searchTerm='fo'&includePrerelease=false&$filter=IsLatestVersion", all)) ==
          Keys{"Foo@10.0.0"});
  }

  TEST_CASE("$filter expressions the NuGet 2.x client sends, and more") {
    auto all = catalog();
    CHECK(keys(run("$filter=tolower(Id) eq 'foo' and Version eq '2.0.0'", all)) == Keys{"Foo@2.0.0"});
    CHECK(keys(run("$filter=Id eq 'Foo' and IsPrerelease eq false", all)) ==
          Keys{"Foo@1.0.0", "Foo@2.0.0", "Foo@10.0.0"});
    CHECK(keys(run("$filter=Id eq 'foo'", all)).empty());  // eq is exact; tolower() is not
    CHECK(keys(run("$filter=(tolower(Id) eq 'bar') or (tolower(Id) eq 'baz')", all)) ==
          Keys{"bar@0.9.0", "Baz@1.0.0-alpha"});
    CHECK(keys(run("$filter=not IsPrerelease and not (Id eq 'Foo')", all)) == Keys{"bar@0.9.0"});
    // and binds tighter than or.
    CHECK(keys(run("$filter=Id eq 'bar' or Id eq 'Foo' and Version eq '1.0.0'", all)) ==
          Keys{"bar@0.9.0", "Foo@1.0.0"});
    CHECK(keys(run("$filter=(Id eq 'bar' or Id eq 'Foo') and Version eq '1.0.0'", all)) ==
          Keys{"Foo@1.0.0"});
    CHECK(keys(run("$filter=substringof('ba', tolower(Id))", all)) == Keys{"bar@0.9.0", "Baz@1.0.0-alpha"});
    CHECK(keys(run("$filter=startswith(Id,'B') and endswith(Version,'alpha')", all)) ==
          Keys{"Baz@1.0.0-alpha"});
    CHECK(keys(run("$filter=length(Id) eq 3 and indexof(Id,'a') eq 1 and IsLatestVersion eq true", all)) ==
          Keys{"bar@0.9.0"});
    CHECK(keys(run("$filter=Title eq null and Id ne 'Foo'", all)) == Keys{"bar@0.9.0", "Baz@1.0.0-alpha"});
    CHECK(keys(run("$filter=Published gt datetime'2026-01-06T12:00:00' and Id eq 'Foo'", all)) ==
          Keys{"Foo@10.0.0"});  // published on the 7th; 1.0.0 on the 6th
    CHECK(keys(run("$filter=Version%20eq%20'1.0.0'%20and%20Id%20eq%20'Foo'", all)) == Keys{"Foo@1.0.0"});
    CHECK(keys(run("$filter=Version+eq+'1.0.0'+and+Id+eq+'Foo'", all)) == Keys{"Foo@1.0.0"});
    CHECK(keys(run("$filter=Id eq 'it''s'", all)).empty());
  }

  TEST_CASE("$orderby: versions as versions, several keys, desc") {
    auto all = catalog();
    CHECK(keys(run("id='Foo'&$orderby=Version desc", all)) ==
          Keys{"Foo@13.0.0", "Foo@11.0.0-beta", "Foo@10.0.0", "Foo@2.0.0", "Foo@1.0.0"});
    CHECK(keys(run("$filter=IsAbsoluteLatestVersion&$orderby=Id desc", all)) ==
          Keys{"Foo@11.0.0-beta", "Baz@1.0.0-alpha", "bar@0.9.0"});  // case-insensitive
    all[0].download_count = 5;
    all[6].download_count = 5;
    all[7].download_count = 9;
    CHECK(keys(run("includePrerelease=false&$orderby=DownloadCount desc,Id", all)) ==
          Keys{"bar@0.9.0", "Foo@1.0.0", "Foo@2.0.0", "Foo@10.0.0"});
    CHECK(keys(run("includePrerelease=false&$orderby=DownloadCount desc,tolower(Id) desc", all)) ==
          Keys{"Foo@1.0.0", "bar@0.9.0", "Foo@2.0.0", "Foo@10.0.0"});
    CHECK(keys(run("includePrerelease=false&$orderby=Published,Version desc", all)) ==
          Keys{"Foo@2.0.0", "Foo@1.0.0", "bar@0.9.0", "Foo@10.0.0"});
  }

  TEST_CASE("versions order by NuGet's rules, not as text") {
    std::vector<v2::Package> vs{pkg("V", "1.0.0-beta.10", true, true), pkg("V", "1.0.0.1"),
                                pkg("V", "1.0.0-beta.2", true, true), pkg("V", "1.0.0"),
                                pkg("V", "1.0.0-Beta", true), pkg("V", "9.0.0")};
    CHECK(keys(run("semVerLevel=2.0.0&$orderby=Version", vs)) ==
          Keys{"V@1.0.0-Beta", "V@1.0.0-beta.2", "V@1.0.0-beta.10", "V@1.0.0", "V@1.0.0.1", "V@9.0.0"});
    auto latest = run("semVerLevel=2.0.0&$filter=IsLatestVersion", vs);
    CHECK(keys(latest) == Keys{"V@9.0.0"});
  }

  TEST_CASE("paging with $skip and $top, total before paging") {
    std::vector<v2::Package> many;
    for (int i = 0; i < 250; ++i) many.push_back(pkg("P" + std::to_string(1000 + i), "1.0.0"));
    uint64_t total = 0;
    auto first = run("", many, &total);
    CHECK(first.size() == 100);
    CHECK(total == 250);
    CHECK(first.front().id == "P1000");
    auto last = run("$skip=200&$top=100", many, &total);
    CHECK(last.size() == 50);
    CHECK(last.front().id == "P1200");
    CHECK(run("$skip=300", many).empty());
    auto two = run("$skip=10&$top=2", many);
    CHECK(keys(two) == Keys{"P1010@1.0.0", "P1011@1.0.0"});
  }

  TEST_CASE("entry keys") {
    auto k = v2::parse_entry_key("(Id='Foo.Bar',Version='1.0.0-beta')");
    REQUIRE(k);
    CHECK(k->id == "Foo.Bar");
    CHECK(k->version == "1.0.0-beta");
    auto r = v2::parse_entry_key("(Version='2.0', Id='x')");
    REQUIRE(r);
    CHECK(r->id == "x");
    CHECK(r->version == "2.0");
    auto q = v2::parse_entry_key("(Id='a''b',Version='1')");
    REQUIRE(q);
    CHECK(q->id == "a'b");
    for (const char* bad : {"", "()", "(Id='x')", "(Id='x',Version='1',Extra='y')", "(Id=x,Version='1')",
                            "(Id='x',Id='y')", "(Id='x',Version='1'", "Id='x',Version='1'",
                            "(Id='',Version='1')", "(Id='x';Version='1')", "(Id='x' ,Version='1')junk"}) {
      auto e = v2::parse_entry_key(bad);
      CHECK_MESSAGE(!e, bad);
      if (!e) CHECK(e.error().code == arca::Errc::invalid_argument);
    }
  }

  TEST_CASE("an entry: Atom elements, typed properties, content src, escaping") {
    v2::Package p = pkg("Foo.Bar", "1.0.0-beta", true);
    p.description = "a <b>bold</b> & \"quoted\" 'text'\x01";
    p.dependencies = "Baz:[1.0.0, ):net45|Qux::";
    p.package_hash = "abc+/=";
    p.package_size = 1234;
    p.download_count = 7;
    p.tags = "one two";
    p.is_absolute_latest_version = true;
    std::string xml = v2::render_entry("http://127.0.0.1:5080/local/nuget/main/api/v2/", p);
    pugi::xml_document doc;
    REQUIRE(doc.load_string(xml.c_str()));
    auto entry = doc.child("entry");
    REQUIRE(entry);
    CHECK(std::string(entry.attribute("xmlns").value()) == "http://www.w3.org/2005/Atom");
    CHECK(std::string(entry.attribute("xmlns:d").value()) ==
          "http://schemas.microsoft.com/ado/2007/08/dataservices");
    CHECK(std::string(entry.attribute("xmlns:m").value()) ==
          "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata");
    CHECK(std::string(entry.child_value("id")) ==
          "http://127.0.0.1:5080/local/nuget/main/api/v2/Packages(Id='Foo.Bar',Version='1.0.0-beta')");
    CHECK(std::string(entry.child_value("title")) == "Foo.Bar");
    CHECK(std::string(entry.child("author").child_value("name")) == "arca");
    auto content = entry.child("content");
    CHECK(std::string(content.attribute("type").value()) == "application/zip");
    CHECK(std::string(content.attribute("src").value()) ==
          "http://127.0.0.1:5080/local/nuget/main/api/v2/package/Foo.Bar/1.0.0-beta");
    auto props = entry.child("m:properties");
    REQUIRE(props);
    CHECK(std::string(props.child_value("d:Id")) == "Foo.Bar");
    CHECK(std::string(props.child_value("d:Version")) == "1.0.0-beta");
    CHECK(std::string(props.child_value("d:NormalizedVersion")) == "1.0.0-beta");
    CHECK(std::string(props.child_value("d:Description")) == "a <b>bold</b> & \"quoted\" 'text'");
    CHECK(std::string(props.child_value("d:Dependencies")) == "Baz:[1.0.0, ):net45|Qux::");
    CHECK(std::string(props.child_value("d:PackageHash")) == "abc+/=");
    CHECK(std::string(props.child_value("d:PackageHashAlgorithm")) == "SHA512");
    CHECK(std::string(props.child_value("d:Tags")) == " one two ");
    auto check_typed = [&](const char* name, const char* type, const char* value) {
      auto n = props.child(name);
      REQUIRE_MESSAGE(n, name);
      CHECK_MESSAGE(std::string(n.attribute("m:type").value()) == type, name);
      CHECK_MESSAGE(std::string(n.child_value()) == value, name);
    };
    check_typed("d:IsLatestVersion", "Edm.Boolean", "false");
    check_typed("d:IsAbsoluteLatestVersion", "Edm.Boolean", "true");
    check_typed("d:IsPrerelease", "Edm.Boolean", "true");
    check_typed("d:Listed", "Edm.Boolean", "true");
    check_typed("d:RequireLicenseAcceptance", "Edm.Boolean", "false");
    check_typed("d:PackageSize", "Edm.Int64", "1234");
    check_typed("d:DownloadCount", "Edm.Int32", "7");
    check_typed("d:Published", "Edm.DateTime", p.published.substr(0, 19).c_str());
    CHECK(std::string(props.child("d:Title").attribute("m:null").value()) == "true");

    v2::Package unlisted = pkg("Foo", "1.0.0", false, false, false);
    pugi::xml_document u;
    REQUIRE(u.load_string(v2::render_entry("http://h/api/v2/", unlisted).c_str()));
    CHECK(std::string(u.child("entry").child("m:properties").child_value("d:Published")) ==
          "1900-01-01T00:00:00");
    CHECK(std::string(u.child("entry").child("m:properties").child_value("d:Listed")) == "false");
  }

  TEST_CASE("a feed: self link, entries, m:count and the next link") {
    std::vector<v2::Package> ps{pkg("A", "1.0.0"), pkg("B&C", "2.0.0")};
    std::string xml = v2::render_feed("http://h/api/v2/", "Packages", "Packages", ps,
                                      "Packages?$skip=100&$top=100", 250);
    pugi::xml_document doc;
    REQUIRE(doc.load_string(xml.c_str()));
    auto feed = doc.child("feed");
    REQUIRE(feed);
    CHECK(std::string(feed.attribute("xml:base").value()) == "http://h/api/v2/");
    CHECK(std::string(feed.child_value("id")) == "http://h/api/v2/Packages");
    CHECK(std::string(feed.child_value("title")) == "Packages");
    CHECK(std::string(feed.child_value("m:count")) == "250");
    int entries = 0;
    for (auto e = feed.child("entry"); e; e = e.next_sibling("entry")) ++entries;
    CHECK(entries == 2);
    auto next = feed.find_child_by_attribute("link", "rel", "next");
    REQUIRE(next);
    CHECK(std::string(next.attribute("href").value()) == "http://h/api/v2/Packages?$skip=100&$top=100");
    CHECK(xml.find("B&amp;C") != std::string::npos);

    std::string last = v2::render_feed("http://h/api/v2/", "Search", "Search", ps, "", std::nullopt);
    pugi::xml_document d2;
    REQUIRE(d2.load_string(last.c_str()));
    CHECK_FALSE(d2.child("feed").find_child_by_attribute("link", "rel", "next"));
    CHECK_FALSE(d2.child("feed").child("m:count"));
    CHECK(std::string(d2.child("feed").find_child_by_attribute("link", "rel", "self").attribute("title").value()) ==
          "Search");
  }

  TEST_CASE("service document, $metadata and errors are well-formed") {
    pugi::xml_document s;
    REQUIRE(s.load_string(v2::service_document("http://h/api/v2/").c_str()));
    CHECK(std::string(s.child("service").child("workspace").child("collection").attribute("href").value()) ==
          "Packages");

    pugi::xml_document m;
    REQUIRE(m.load_string(v2::metadata_document().c_str()));
    auto schema = m.child("edmx:Edmx").child("edmx:DataServices").child("Schema");
    REQUIRE(schema);
    auto type = schema.find_child_by_attribute("EntityType", "Name", "V2FeedPackage");
    REQUIRE(type);
    CHECK(type.find_child_by_attribute("Property", "Name", "IsAbsoluteLatestVersion"));
    CHECK(type.find_child_by_attribute("Property", "Name", "PackageHash"));
    auto container = schema.child("EntityContainer");
    CHECK(container.find_child_by_attribute("EntitySet", "Name", "Packages"));
    CHECK(container.find_child_by_attribute("FunctionImport", "Name", "Search"));
    CHECK(container.find_child_by_attribute("FunctionImport", "Name", "FindPackagesById"));

    pugi::xml_document e;
    REQUIRE(e.load_string(v2::error_document("BadRequest", "bad <query> & more").c_str()));
    CHECK(std::string(e.child("m:error").child_value("m:code")) == "BadRequest");
    CHECK(std::string(e.child("m:error").child_value("m:message")) == "bad <query> & more");
  }
}
