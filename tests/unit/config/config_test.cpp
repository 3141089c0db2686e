#include <doctest/doctest.h>

#include "config/config.hpp"

#include <fstream>
#include <sstream>
#include <string>

using arca::config::Config;
using arca::config::ConfigError;
using arca::config::parse_config;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_SUITE("config::Config") {
  TEST_CASE("the README shows the embedded default configuration as it is") {
    // ARCA_SOURCE_DIR comes from CMake.
    std::ifstream in(std::string(ARCA_SOURCE_DIR) + "/README.md");
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string readme = ss.str();
    const std::string intro = "default (`arca default-config`) is:\n\n```jsonc\n";
    auto start = readme.find(intro);
    REQUIRE(start != std::string::npos);
    start += intro.size();
    auto end = readme.find("```", start);
    REQUIRE(end != std::string::npos);
    std::string shown = readme.substr(start, end - start);
    std::string embedded(arca::config::default_config_text());
    while (!shown.empty() && shown.back() == '\n') shown.pop_back();
    while (!embedded.empty() && embedded.back() == '\n') embedded.pop_back();
    CHECK(shown == embedded);
  }

  TEST_CASE("the embedded default parses and has the documented shape") {
    Config c = parse_config(arca::config::default_config_text(), "default");
    CHECK(c.listen.host == "127.0.0.1");
    CHECK(c.listen.port == 5080);
    CHECK(c.data_dir == "./arca-data");
    REQUIRE(c.external_connections.count("public:npmjs") == 1);
    CHECK(c.external_connections.at("public:npmjs").format == "npm");
    CHECK(c.external_connections.at("public:npmjs").url == "https://registry.npmjs.org/");
    CHECK(c.external_connections.at("public:npmjs").metadata_ttl == std::chrono::seconds(300));
    REQUIRE(c.domains.size() == 1);
    CHECK(c.domains[0].name == "local");
    REQUIRE(c.external_connections.count("public:pypi") == 1);
    CHECK(c.external_connections.at("public:pypi").format == "pypi");
    CHECK(c.external_connections.at("public:pypi").url == "https://pypi.org/simple/");
    REQUIRE(c.external_connections.count("public:maven-central") == 1);
    CHECK(c.external_connections.at("public:maven-central").format == "maven");
    CHECK(c.external_connections.at("public:maven-central").url ==
          "https://repo.maven.apache.org/maven2/");
    REQUIRE(c.external_connections.count("public:nuget-org") == 1);
    CHECK(c.external_connections.at("public:nuget-org").format == "nuget");
    CHECK(c.external_connections.at("public:nuget-org").url ==
          "https://api.nuget.org/v3/index.json");
    REQUIRE(c.external_connections.count("public:crates-io") == 1);
    CHECK(c.external_connections.at("public:crates-io").format == "cargo");
    REQUIRE(c.domains[0].repositories.size() == 6);
    CHECK(c.domains[0].repositories[0].external_connection == "public:npmjs");
    CHECK(c.domains[0].repositories[1].name == "pypi-store");
    CHECK(c.domains[0].repositories[1].external_connection == "public:pypi");
    CHECK(c.domains[0].repositories[2].name == "maven-central-store");
    CHECK(c.domains[0].repositories[2].external_connection == "public:maven-central");
    CHECK(c.domains[0].repositories[3].name == "nuget-store");
    CHECK(c.domains[0].repositories[3].external_connection == "public:nuget-org");
    CHECK(c.domains[0].repositories[4].name == "cargo-store");
    CHECK(c.domains[0].repositories[4].external_connection == "public:crates-io");
    CHECK(c.domains[0].repositories[5].name == "main");
    CHECK(c.domains[0].repositories[5].upstreams ==
          std::vector<std::string>{"npm-store", "pypi-store", "maven-central-store", "nuget-store",
                                   "cargo-store"});
  }

  TEST_CASE("comments are allowed") {
    Config c = parse_config("{ // a comment\n \"listen\": \"0.0.0.0:81\" /* another */ }", "t");
    CHECK(c.listen.host == "0.0.0.0");
    CHECK(c.listen.port == 81);
  }

  TEST_CASE("unknown keys and wrong types name the JSON path") {
    CHECK(error_of(R"({"lisen": "x"})").find("lisen: unknown key") != std::string::npos);
    CHECK(error_of(R"({"upstream": {"read_timeout_ms": "5"}})").find("upstream.read_timeout_ms") !=
          std::string::npos);
    CHECK(error_of(R"({"domains": [{"name": "local", "repositories": [{"name": "main", "upstream": []}]}]})")
              .find("domains[0].repositories[0].upstream: unknown key") != std::string::npos);
    CHECK(error_of(R"({"external_connections": {"public:npmjs": {"url": 5}}})")
              .find("external_connections.public:npmjs.url") != std::string::npos);
    CHECK(error_of("{not json").find("not valid JSON") != std::string::npos);
  }

  TEST_CASE("cross references are validated") {
    CHECK(error_of(R"({"domains": [{"name": "local", "repositories": [{"name": "main", "upstreams": ["nope"]}]}]})")
              .find("unknown repository 'nope'") != std::string::npos);
    CHECK(error_of(R"({"domains": [{"name": "local", "repositories": [
             {"name": "aa", "upstreams": ["bb"]}, {"name": "bb", "upstreams": ["aa"]}]}]})")
              .find("cycle") != std::string::npos);
    CHECK(error_of(R"({"domains": [{"name": "local", "repositories": [{"name": "main", "external_connection": "x:y"}]}]})")
              .find("unknown external connection") != std::string::npos);
    CHECK(error_of(R"({"domains": [{"name": "v1", "repositories": []}]})").find("reserved") != std::string::npos);
    CHECK(error_of(R"({"domains": [{"name": "Bad_Name", "repositories": []}]})").find("not a valid domain name") !=
          std::string::npos);
    CHECK(error_of(R"({"external_connections": {"corp": {"url": "http://x/"}}})").find("format") != std::string::npos);
    CHECK(error_of(R"({"external_connections": {"public:npmjs": {"url": "ftp://x/"}}})").find("http") !=
          std::string::npos);
  }

  TEST_CASE("listen addresses") {
    arca::config::ListenerConfig l;
    arca::config::apply_listen(l, "[::1]:8080");
    CHECK(l.host == "::1");
    CHECK(l.port == 8080);
    CHECK_THROWS_AS(arca::config::apply_listen(l, "nohost"), ConfigError);
    CHECK_THROWS_AS(arca::config::apply_listen(l, "127.0.0.1:99999"), ConfigError);
    CHECK_THROWS_AS(arca::config::apply_listen(l, "127.0.0.1:x"), ConfigError);
  }

  TEST_CASE("npm urls get a trailing slash; ttl and limits parse") {
    Config c = parse_config(R"({"external_connections": {"public:npmjs": {"url": "http://127.0.0.1:9/r", "metadata_ttl_seconds": 0}},
                                "listener": {"publish_body_limit_bytes": 4096}, "cache": {"chunk_size_bytes": 65536}})",
                            "t");
    CHECK(c.external_connections.at("public:npmjs").url == "http://127.0.0.1:9/r/");
    CHECK(c.external_connections.at("public:npmjs").metadata_ttl.count() == 0);
    CHECK(c.listen.publish_body_limit_bytes == 4096);
    CHECK(c.cache.chunk_size_bytes == 65536);
  }

  TEST_CASE("npm.allow_unpublish: off by default, a boolean, no other npm keys") {
    CHECK_FALSE(parse_config("{}", "t").npm.allow_unpublish);
    CHECK(parse_config(R"({"npm": {"allow_unpublish": true}})", "t").npm.allow_unpublish);
    CHECK(error_of(R"({"npm": {"allow_unpublish": "yes"}})").find("npm.allow_unpublish") != std::string::npos);
    CHECK(error_of(R"({"npm": {"allow_unpublsh": true}})").find("npm.allow_unpublsh: unknown key") !=
          std::string::npos);
  }

  TEST_CASE("base urls get a trailing slash; a NuGet service index url is kept as it is") {
    Config c = parse_config(R"({"external_connections": {
        "public:crates-io": {"url": "https://index.crates.io"},
        "public:pypi": {"url": "https://pypi.org/simple"},
        "public:nuget-org": {"url": "https://api.nuget.org/v3/index.json"}}})", "t");
    CHECK(c.external_connections.at("public:crates-io").url == "https://index.crates.io/");
    CHECK(c.external_connections.at("public:pypi").url == "https://pypi.org/simple/");
    CHECK(c.external_connections.at("public:nuget-org").url == "https://api.nuget.org/v3/index.json");
  }

  TEST_CASE("anonymous access: allowed on a loopback listener unless configured") {
    Config c = parse_config("{}", "t");
    c.listen.host = "127.0.0.1";
    CHECK(anonymous_allowed(c, false));
    CHECK(anonymous_allowed(c, true));
    c.auth.anonymous_write = false;
    CHECK_FALSE(anonymous_allowed(c, true));
    c.listen.host = "0.0.0.0";
    CHECK_FALSE(anonymous_allowed(c, false));
    c.auth.anonymous_read = true;
    CHECK(anonymous_allowed(c, false));
  }

  TEST_CASE("public connection names give their format") {
    Config c = parse_config(R"({"external_connections": {"public:ruby-gems-org": {"url": "http://127.0.0.1:9/"}}})", "t");
    CHECK(c.external_connections.at("public:ruby-gems-org").format == "ruby");
  }

  TEST_CASE("auth: access keys, accounts, switches") {
    Config d = parse_config("{}", "t");
    CHECK(d.auth.access_keys.empty());
    CHECK(d.auth.default_account == "000000000000");
    CHECK(d.auth.allow_unsigned_loopback);
    CHECK_FALSE(d.auth.anonymous_read.has_value());
    CHECK(d.auth.max_token_duration_seconds == 43200);
    CHECK(d.region == "us-east-1");

    Config c = parse_config(R"({"region": "eu-west-1", "auth": {
        "access_keys": [{"access_key_id": "AKID1", "secret_access_key": "s1", "account": "111122223333"},
                        {"access_key_id": "AKID2", "secret_access_key": "s2"}],
        "allow_unsigned_loopback": false, "anonymous_read": true, "anonymous_write": false,
        "max_token_duration_seconds": 3600, "max_clock_skew_seconds": 300}})",
                            "t");
    CHECK(c.region == "eu-west-1");
    REQUIRE(c.auth.access_keys.size() == 2);
    CHECK(c.auth.access_keys[0].account == "111122223333");
    CHECK(c.auth.access_keys[1].account == "000000000000");  // default_account
    CHECK_FALSE(c.auth.allow_unsigned_loopback);
    CHECK(c.auth.anonymous_read == true);
    CHECK(c.auth.anonymous_write == false);
    CHECK(c.auth.max_token_duration_seconds == 3600);
    CHECK(c.auth.max_clock_skew == std::chrono::seconds(300));

    CHECK(error_of(R"({"auth": {"access_keys": [{"access_key_id": "A", "secret_access_key": "s", "account": "12"}]}})")
              .find("auth.access_keys[0].account") != std::string::npos);
    CHECK(error_of(R"({"auth": {"access_keys": [{"secret_access_key": "s"}]}})")
              .find("auth.access_keys[0].access_key_id") != std::string::npos);
    // Lifetimes under 900 s are allowed for tests (issue 8); 0 and over 43200 are not.
    CHECK(error_of(R"({"auth": {"max_token_duration_seconds": 0}})").find("auth.max_token_duration_seconds") !=
          std::string::npos);
    CHECK(error_of(R"({"auth": {"max_token_duration_seconds": 43201}})").find("auth.max_token_duration_seconds") !=
          std::string::npos);
    CHECK(parse_config(R"({"auth": {"max_token_duration_seconds": 5}})", "t").auth.max_token_duration_seconds == 5);
    CHECK(error_of(R"({"auth": {"tokens": 1}})").find("auth.tokens: unknown key") != std::string::npos);
    CHECK(error_of(R"({"auth": {"anonymous_read": "yes"}})").find("auth.anonymous_read") != std::string::npos);
  }

  TEST_CASE("a CodeArtifact external connection: the issue's example, defaults, bad fields") {
    Config c = parse_config(R"({ "external_connections": { "corp-shared": { "codeartifact": {
          "domain": "corp", "domain_owner": "111122223333", "region": "us-east-1", "repository": "shared",
          "endpoint": "https://codeartifact.us-east-1.amazonaws.com", "duration_seconds": 43200 },
          "metadata_ttl_seconds": 300 } },
      "domains": [ { "name": "local", "repositories": [ { "name": "main", "external_connection": "corp-shared" } ] } ] })",
                            "t");
    const auto& ec = c.external_connections.at("corp-shared");
    REQUIRE(ec.codeartifact);
    CHECK(ec.codeartifact->domain == "corp");
    CHECK(ec.codeartifact->domain_owner == "111122223333");
    CHECK(ec.codeartifact->region == "us-east-1");
    CHECK(ec.codeartifact->repository == "shared");
    CHECK(ec.codeartifact->endpoint == "https://codeartifact.us-east-1.amazonaws.com");
    CHECK(ec.codeartifact->duration_seconds == 43200);
    CHECK(ec.metadata_ttl == std::chrono::seconds(300));
    CHECK(ec.url.empty());
    // It serves every format CodeArtifact has an endpoint for.
    CHECK(ec.serves("npm"));
    CHECK(ec.serves("pypi"));
    CHECK(ec.serves("maven"));
    CHECK(ec.serves("nuget"));
    CHECK_FALSE(ec.serves("cargo-x"));

    Config d = parse_config(R"({ "external_connections": { "ca": { "codeartifact": {
          "domain": "corp", "domain_owner": "111122223333", "repository": "shared" } } } })", "t");
    CHECK(d.external_connections.at("ca").codeartifact->endpoint.empty());
    CHECK(d.external_connections.at("ca").codeartifact->region.empty());
    CHECK(d.external_connections.at("ca").codeartifact->duration_seconds == 43200);
    CHECK_FALSE(parse_config(R"({"external_connections": {"x": {"url": "http://h/", "format": "npm"}}})", "t")
                    .external_connections.at("x").serves("pypi"));

    const std::string head = R"({ "external_connections": { "ca": { )";
    auto bad = [&](const std::string& body) { return error_of(head + body + " } } }"); };
    const std::string ok = R"("domain": "corp", "domain_owner": "111122223333", "repository": "shared")";
    CHECK(bad(R"("codeartifact": {"domain": "C", "domain_owner": "111122223333", "repository": "shared"})")
              .find("external_connections.ca.codeartifact.domain:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {"domain": "corp", "domain_owner": "1234", "repository": "shared"})")
              .find("external_connections.ca.codeartifact.domain_owner: must be a 12-digit account id") !=
          std::string::npos);
    CHECK(bad(R"("codeartifact": {"domain": "corp", "domain_owner": "111122223333", "repository": "-x"})")
              .find("external_connections.ca.codeartifact.repository:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {)" + ok + R"(, "region": "mars"})")
              .find("external_connections.ca.codeartifact.region:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {)" + ok + R"(, "endpoint": "ftp://x"})")
              .find("external_connections.ca.codeartifact.endpoint:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {)" + ok + R"(, "duration_seconds": 60})")
              .find("external_connections.ca.codeartifact.duration_seconds:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {)" + ok + R"(, "duration_seconds": 50000})")
              .find("external_connections.ca.codeartifact.duration_seconds:") != std::string::npos);
    CHECK(bad(R"("codeartifact": {)" + ok + R"(, "domian": "x"})")
              .find("external_connections.ca.codeartifact.domian: unknown key") != std::string::npos);
    CHECK(bad(R"("url": "http://h/", "codeartifact": {)" + ok + "}")
              .find("external_connections.ca.url: not allowed with codeartifact") != std::string::npos);
    CHECK(bad(R"("format": "npm", "codeartifact": {)" + ok + "}")
              .find("external_connections.ca.format: not allowed with codeartifact") != std::string::npos);
  }
}
