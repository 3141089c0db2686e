// Package groups: pattern syntax, normalization, most-specific matching, STRONG/WEAK, origin
// restrictions with INHERIT.

#include "repo/package_groups.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

namespace pg = arca::repo::groups;

namespace {

pg::Group group(std::string pattern) {
  pg::Group g;
  g.pattern = std::move(pattern);
  return g;
}

}  // namespace

TEST_SUITE("repo::groups") {
  TEST_CASE("pattern syntax") {
    std::string error;
    struct Case {
      const char* text;
      bool ok;
      pg::Kind kind;
    };
    const Case cases[] = {
        {"/*", true, pg::Kind::root},
        {"/npm/*", true, pg::Kind::format},
        {"/maven/com.anycompany~", true, pg::Kind::namespace_prefix},
        {"/npm/space/*", true, pg::Kind::namespace_all},
        {"/pypi//*", true, pg::Kind::namespace_all},
        {"/npm//*", true, pg::Kind::namespace_all},
        {"/npm/space/anycompany-ui~", true, pg::Kind::name_prefix},
        {"/maven/org.apache.logging.log4j/log4j-core$", true, pg::Kind::exact},
        {"/pypi//requests$", true, pg::Kind::exact},
        {"/npm//lodash$", true, pg::Kind::exact},
        {"*", false, pg::Kind::root},
        {"/", false, pg::Kind::root},
        {"npm/*", false, pg::Kind::root},
        {"/python//requests$", false, pg::Kind::root},  // the model's format token is pypi
        {"/npm", false, pg::Kind::root},
        {"/npm/space", false, pg::Kind::root},
        {"/npm/space/ui", false, pg::Kind::root},
        {"/npm/sp*ce/*", false, pg::Kind::root},
        {"/npm/space/u*", false, pg::Kind::root},
        {"/npm/space/ui-~", false, pg::Kind::root},  // '~' must follow a word character
        {"/npm/space/ui/x$", false, pg::Kind::root},
        {"/pypi/ns/*", false, pg::Kind::root},  // pypi has no namespaces
        {"/pypi/ns~", false, pg::Kind::root},
        {"/maven//x$", false, pg::Kind::root},  // maven always has one
        {"/npm/space/u i$", false, pg::Kind::root},
        {"/npm/*/x$", false, pg::Kind::root},
        {"/npm/space/$", false, pg::Kind::root},
    };
    for (auto& c : cases) {
      CAPTURE(c.text);
      auto p = pg::parse_pattern(c.text, error);
      CHECK(p.has_value() == c.ok);
      if (p && c.ok) CHECK(p->kind == c.kind);
    }
    CHECK_FALSE(pg::parse_pattern(std::string(521, 'a'), error));
  }

  TEST_CASE("normalization and folding") {
    CHECK(pg::normalize_name("pypi", "My_Package..Name") == "my-package-name");
    CHECK(pg::normalize_name("nuget", "Newtonsoft.Json") == "newtonsoft.json");
    CHECK(pg::normalize_name("npm", "MyPkg") == "MyPkg");
    CHECK(pg::normalize_name("cargo", "Corp_Thing") == "corp-thing");
    CHECK(pg::normalize_namespace("swift", "Apple") == "apple");
    CHECK(pg::fold("Foo--Bar_.baz") == "foo.bar.baz");
  }

  TEST_CASE("the matching table") {
    pg::GroupIndex index;
    for (const char* p : {"/npm/*",
                          "/npm//*",
                          "/npm/space/*",
                          "/npm/space/anycompany-ui~",
                          "/npm/space/ui~",
                          "/npm/space/ui-kit$",
                          "/npm//lodash$",
                          "/npm//AsyncStorage$",
                          "/npm//asyncStorage$",
                          "/maven/*",
                          "/maven/com~",
                          "/maven/com.anycompany~",
                          "/maven/com.anycompany/*",
                          "/maven/org.apache.logging.log4j/log4j-core$",
                          "/pypi//*",
                          "/pypi//django~",
                          "/pypi//my-package$",
                          "/nuget//newtonsoft.json$",
                          "/swift/apple/*",
                          "/npm/Space/*",
                          "/npm//foo-bar$"}) {
      index.put(group(p));
    }
    struct Case {
      const char* format;
      const char* ns;
      const char* name;
      const char* group;
      pg::Association association;
    };
    using A = pg::Association;
    const Case cases[] = {
        // npm, namespaced.
        {"npm", "space", "ui-kit", "/npm/space/ui-kit$", A::strong},
        {"npm", "space", "ui", "/npm/space/ui~", A::strong},
        {"npm", "space", "ui-button", "/npm/space/ui~", A::strong},
        {"npm", "space", "uikit", "/npm/space/*", A::strong},  // word boundary
        {"npm", "space", "anycompany-ui", "/npm/space/anycompany-ui~", A::strong},
        {"npm", "space", "anycompany-ui-react", "/npm/space/anycompany-ui~", A::strong},
        {"npm", "space", "anycompany-uix", "/npm/space/*", A::strong},
        {"npm", "space", "other", "/npm/space/*", A::strong},
        {"npm", "Space", "other", "/npm/Space/*", A::strong},  // case-distinct groups coexist
        {"npm", "SPACE", "other", "/npm/space/*", A::weak},
        {"npm", "space", "UI-Kit", "/npm/space/ui-kit$", A::weak},
        {"npm", "space", "ui_kit", "/npm/space/ui-kit$", A::weak},
        {"npm", "space", "ui.kit", "/npm/space/ui-kit$", A::weak},
        {"npm", "other", "x", "/npm/*", A::strong},
        // npm, unscoped.
        {"npm", "", "lodash", "/npm//lodash$", A::strong},
        {"npm", "", "Lodash", "/npm//lodash$", A::weak},
        {"npm", "", "lodash-es", "/npm//*", A::strong},
        {"npm", "", "AsyncStorage", "/npm//AsyncStorage$", A::strong},
        {"npm", "", "asyncStorage", "/npm//asyncStorage$", A::strong},
        {"npm", "", "asyncstorage", "/npm//AsyncStorage$", A::weak},
        {"npm", "", "foo..bar", "/npm//foo-bar$", A::weak},
        {"npm", "", "foo_bar", "/npm//foo-bar$", A::weak},
        {"npm", "", "foobar", "/npm//*", A::strong},
        // maven.
        {"maven", "org.apache.logging.log4j", "log4j-core",
         "/maven/org.apache.logging.log4j/log4j-core$", A::strong},
        {"maven", "org.apache.logging.log4j", "log4j-api", "/maven/*", A::strong},
        {"maven", "com.anycompany", "lib", "/maven/com.anycompany/*", A::strong},
        {"maven", "com.anycompany.sub", "lib", "/maven/com.anycompany~", A::strong},
        {"maven", "com.anycompanyx", "lib", "/maven/com~", A::strong},
        {"maven", "com", "lib", "/maven/com~", A::strong},
        {"maven", "comx", "lib", "/maven/*", A::strong},
        {"maven", "COM.example", "lib", "/maven/com~", A::weak},
        // pypi (normalized before matching).
        {"pypi", "", "Django", "/pypi//django~", A::strong},
        {"pypi", "", "django-rest-framework", "/pypi//django~", A::strong},
        {"pypi", "", "djangox", "/pypi//*", A::strong},
        {"pypi", "", "My_Package", "/pypi//my-package$", A::strong},
        {"pypi", "", "requests", "/pypi//*", A::strong},
        // nuget, swift, formats without groups.
        {"nuget", "", "Newtonsoft.Json", "/nuget//newtonsoft.json$", A::strong},
        {"nuget", "", "Other", "/*", A::strong},
        {"swift", "Apple", "swift-nio", "/swift/apple/*", A::strong},
        {"cargo", "", "serde", "/*", A::strong},
        {"generic", "ns", "thing", "/*", A::strong},
    };
    CHECK(std::size(cases) >= 30);
    for (auto& c : cases) {
      CAPTURE(c.format);
      CAPTURE(c.ns);
      CAPTURE(c.name);
      auto m = index.match(c.format, c.ns, c.name);
      REQUIRE(m.group);
      CHECK(m.group->pattern == c.group);
      CHECK(m.association == c.association);
    }
  }

  TEST_CASE("Unicode: folding, word characters and word boundaries") {
    // Folding lower-cases beyond ASCII (UTF-8 decoded); malformed bytes are kept as they are.
    const std::pair<const char*, const char*> folds[] = {
        {"Ünïcode-Straße", "ünïcode.straße"},
        {"ΑΒΓ_Ωmega", "αβγ.ωmega"},
        {"ПРИВЕТ..Мир", "привет.мир"},
        {"ŁÓDŹ-Ÿ", "łódź.ÿ"},
        {"ＡＢＣ", "ａｂｃ"},
        {"İx", "ix"},
        {"日本-Tools", "日本.tools"},
        {"A\xFF\x42", "a\xFF\x62"},  // "A<FF>B": the malformed byte is kept
        {"\xC3", "\xC3"},            // truncated sequence
    };
    for (auto& [in, out] : folds) {
      CAPTURE(in);
      CHECK(pg::fold(in) == out);
    }
    // '~' must follow a letter, digit or mark: any non-ASCII code point except punctuation,
    // spaces and symbols of the blocks known to hold none.
    const std::pair<const char*, bool> patterns[] = {
        {"/npm//café~", true},        // Latin-1 letter
        {"/npm//日本~", true},        // CJK ideographs
        {"/npm//x²~", true},          // superscript two (a number)
        {"/npm//Ωmega~", true},       // Greek
        {"/npm//foo\u2013~", false},  // en dash
        {"/npm//foo\u00B7~", false},  // middle dot
        {"/npm//foo\u00A0~", false},  // no-break space
        {"/npm//foo\u3001~", false},  // ideographic comma
        {"/npm//foo\xC3~", false},    // malformed UTF-8
    };
    for (auto& [text, ok] : patterns) {
      CAPTURE(text);
      std::string error;
      CHECK(pg::parse_pattern(text, error).has_value() == ok);
    }
    pg::GroupIndex index;
    for (const char* p : {"/npm//*", "/npm//café~", "/npm//über$", "/npm//Ωmega~", "/npm//日本~"}) {
      index.put(group(p));
    }
    struct Case {
      const char* name;
      const char* group;
      pg::Association association;
    };
    using A = pg::Association;
    const Case cases[] = {
        {"café", "/npm//café~", A::strong},
        {"café-au-lait", "/npm//café~", A::strong},
        {"café\u2013noir", "/npm//café~", A::strong},  // en dash ends the word
        {"cafés", "/npm//*", A::strong},               // 's' continues it
        {"caféé", "/npm//*", A::strong},               // so does a non-ASCII letter
        {"CAFÉ", "/npm//café~", A::weak},
        {"Café-Crème", "/npm//café~", A::weak},
        {"über", "/npm//über$", A::strong},
        {"Über", "/npm//über$", A::weak},
        {"ÜBER", "/npm//über$", A::weak},
        {"Ωmega-x", "/npm//Ωmega~", A::strong},
        {"ωmega-x", "/npm//Ωmega~", A::weak},
        {"日本-tools", "/npm//日本~", A::strong},
        {"日本語", "/npm//*", A::strong},
    };
    for (auto& c : cases) {
      CAPTURE(c.name);
      auto m = index.match("npm", "", c.name);
      REQUIRE(m.group);
      CHECK(m.group->pattern == c.group);
      CHECK(m.association == c.association);
    }
  }

  TEST_CASE("hierarchy: parents, children, removal re-parents") {
    pg::GroupIndex index;
    for (const char* p : {"/npm/*", "/npm/space/*", "/npm/space/ui~", "/npm/space/ui-kit~",
                          "/npm/space/ui-kit$", "/maven/com~", "/maven/com.a~", "/maven/com.a/*"}) {
      index.put(group(p));
    }
    auto parent = [&](const char* p) {
      auto* g = index.parent(p);
      return g ? g->pattern : std::string("-");
    };
    CHECK(parent("/*") == "-");
    CHECK(parent("/npm/*") == "/*");
    CHECK(parent("/npm/space/*") == "/npm/*");
    CHECK(parent("/npm/space/ui~") == "/npm/space/*");
    CHECK(parent("/npm/space/ui-kit~") == "/npm/space/ui~");
    CHECK(parent("/npm/space/ui-kit$") == "/npm/space/ui-kit~");
    CHECK(parent("/maven/com~") == "/*");
    CHECK(parent("/maven/com.a~") == "/maven/com~");
    CHECK(parent("/maven/com.a/*") == "/maven/com.a~");
    CHECK(index.children("/npm/space/*").size() == 1);
    CHECK(index.children("/*").size() == 2);
    CHECK_FALSE(index.remove("/*"));
    CHECK(index.remove("/npm/space/ui~"));
    CHECK(parent("/npm/space/ui-kit~") == "/npm/space/*");
    CHECK_FALSE(index.remove("/npm/space/ui~"));
  }

  TEST_CASE("origin restrictions: INHERIT, specific repositories, WEAK blocks") {
    pg::GroupIndex index;
    auto npm = group("/npm/*");
    npm.modes[static_cast<size_t>(pg::RestrictionType::publish)] = pg::Mode::block;
    npm.modes[static_cast<size_t>(pg::RestrictionType::external_upstream)] =
        pg::Mode::allow_specific_repositories;
    npm.allowed[static_cast<size_t>(pg::RestrictionType::external_upstream)] = {"npm-store"};
    index.put(std::move(npm));
    index.put(group("/npm/space/*"));
    index.put(group("/npm//lodash$"));

    auto r = index.origin_restrictions("npm", "space", "x");
    CHECK(r.group->pattern == "/npm/space/*");
    CHECK_FALSE(r.allows(pg::RestrictionType::publish, "repo"));
    CHECK(r.allows(pg::RestrictionType::external_upstream, "npm-store"));
    CHECK_FALSE(r.allows(pg::RestrictionType::external_upstream, "other"));
    CHECK(r.allows(pg::RestrictionType::internal_upstream, "any"));
    auto e = index.effective(*index.find("/npm/space/*"), pg::RestrictionType::publish);
    CHECK(e.mode == pg::Mode::block);
    REQUIRE(e.source);
    CHECK(e.source->pattern == "/npm/*");

    auto weak = index.origin_restrictions("npm", "", "Lodash");
    CHECK(weak.association == pg::Association::weak);
    for (auto t : pg::k_restriction_types) CHECK_FALSE(weak.allows(t, "repo"));

    auto other = index.origin_restrictions("pypi", "", "requests");
    CHECK(other.group->pattern == "/*");
    for (auto t : pg::k_restriction_types) CHECK(other.allows(t, "repo"));
  }

  TEST_CASE("lookup does not scan: many groups at one depth") {
    pg::GroupIndex index;
    for (int i = 0; i < 5000; ++i) {
      index.put(group("/npm//pkg" + std::to_string(i) + "$"));
      index.put(group("/npm/scope" + std::to_string(i) + "/*"));
    }
    CHECK(index.size() == 10001);
    CHECK(index.match("npm", "", "pkg4321").group->pattern == "/npm//pkg4321$");
    CHECK(index.match("npm", "scope77", "x").group->pattern == "/npm/scope77/*");
    CHECK(index.match("npm", "", "nothing").group->pattern == "/*");
  }
}
