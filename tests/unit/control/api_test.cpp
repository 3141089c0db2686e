// The CodeArtifact API's pure parts: operation table, query checks by model shape, errors,
// pagination tokens, ARNs.

#include "control/api.hpp"

#include <doctest/doctest.h>

namespace ca = arca::control::api;

TEST_SUITE("control::api") {
  TEST_CASE("the operation table: every operation of the issue, by method and path") {
    CHECK(ca::operations().size() == 37);
    auto* op = ca::find_operation("POST", "/v1/domain");
    REQUIRE(op);
    CHECK(op->name == "CreateDomain");
    CHECK(ca::find_operation("GET", "/v1/domain")->name == "DescribeDomain");
    CHECK(ca::find_operation("DELETE", "/v1/repository/permissions/policies")->name ==
          "DeleteRepositoryPermissionsPolicy");
    CHECK(ca::find_operation("POST", "/v1/package/versions/update_status")->name ==
          "UpdatePackageVersionsStatus");
    CHECK(ca::find_operation("PATCH", "/v1/domain") == nullptr);
    CHECK(ca::find_operation("GET", "/v1/package-group") ==
          nullptr);  // package groups: a later issue
  }

  TEST_CASE("query parsing and checks") {
    ca::Query q;
    CHECK_FALSE(ca::parse_query("domain=my-domain&domain-owner=111122223333", q));
    CHECK(q.at("domain") == "my-domain");
    auto* op = ca::find_operation("GET", "/v1/domain");
    CHECK_FALSE(ca::check_query(*op, q));

    ca::Query dup;
    auto e = ca::parse_query("domain=a&domain=b", dup);
    REQUIRE(e);
    CHECK(e->type == "ValidationException");
    ca::Query bad;
    CHECK(ca::parse_query("domain=%zz", bad));

    ca::Query unknown{{"domain", "ok-name"}, {"bogus", "1"}};
    auto u = ca::check_query(*op, unknown);
    REQUIRE(u);
    CHECK(u->message.find("bogus") != std::string::npos);

    ca::Query missing;
    auto m = ca::check_query(*op, missing);
    REQUIRE(m);
    CHECK(m->message.find("'domain'") != std::string::npos);
    CHECK(m->status == 400);
  }

  TEST_CASE("values by model shape") {
    CHECK_FALSE(ca::check_domain_name("domain", "my-domain"));
    CHECK(ca::check_domain_name("domain", "My-Domain"));
    CHECK(ca::check_domain_name("domain", "a"));
    CHECK(ca::check_domain_name("domain", std::string(51, 'a')));
    CHECK(ca::check_domain_name("domain", "ends-"));
    CHECK_FALSE(ca::check_repository_name("repository", "My_Repo.1"));
    CHECK(ca::check_repository_name("repository", "-x"));
    CHECK(ca::check_repository_name("repository", std::string(101, 'r')));
    CHECK_FALSE(ca::check_account_id("domain-owner", "111122223333"));
    CHECK(ca::check_account_id("domain-owner", "11112222333a"));
    CHECK_FALSE(ca::check_package_part("package", "left-pad"));
    CHECK(ca::check_package_part("package", "a/b"));
    CHECK(ca::check_package_part("package", "a b"));
    CHECK(ca::check_package_part("package", "a#b"));
    CHECK(ca::check_package_part("package", std::string(256, 'p')));
    CHECK(ca::check_policy_document("not json"));
    CHECK_FALSE(ca::check_policy_document("{\"Version\":\"2012-10-17\"}"));
    CHECK(ca::check_status("status", "Gone"));
    CHECK_FALSE(ca::check_status("status", "Archived"));

    auto* token_op = ca::find_operation("POST", "/v1/authorization-token");
    CHECK_FALSE(ca::check_query(*token_op, ca::Query{{"domain", "d1"}, {"duration", "0"}}));
    CHECK_FALSE(ca::check_query(*token_op, ca::Query{{"domain", "d1"}, {"duration", "900"}}));
    CHECK(ca::check_query(*token_op, ca::Query{{"domain", "d1"}, {"duration", "899"}}));
    CHECK(ca::check_query(*token_op, ca::Query{{"domain", "d1"}, {"duration", "43201"}}));
    CHECK(ca::check_query(*token_op, ca::Query{{"domain", "d1"}, {"duration", "-5"}}));

    int max = 0;
    CHECK_FALSE(ca::parse_max_results(std::nullopt, 100, max));
    CHECK(max == 100);
    CHECK_FALSE(ca::parse_max_results(std::string("1000"), 100, max));
    CHECK(max == 1000);
    CHECK(ca::parse_max_results(std::string("0"), 100, max));
    CHECK(ca::parse_max_results(std::string("1001"), 100, max));
    CHECK(ca::parse_max_results(std::string("ten"), 100, max));
  }

  TEST_CASE("errors, tokens, ARNs, timestamps") {
    auto e = ca::not_found("Domain not found: x", "domain", "x");
    CHECK(e.status == 404);
    CHECK(e.type == "ResourceNotFoundException");
    auto body = nlohmann::json::parse(ca::error_body(e));
    CHECK(body["message"] == "Domain not found: x");
    CHECK(body["resourceType"] == "domain");
    CHECK(ca::conflict("c").status == 409);
    CHECK(ca::validation_error("v").status == 400);
    CHECK(ca::quota_exceeded("q").status == 402);

    std::string key = std::string("npm\x1f") + "ns\x1fname";
    auto t = ca::encode_next_token(key);
    for (char c : t)
      CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '='));
    CHECK(ca::decode_next_token(t) == key);
    CHECK_FALSE(ca::decode_next_token("%%%"));

    CHECK(ca::domain_arn("us-east-1", "111122223333", "d") ==
          "arn:aws:codeartifact:us-east-1:111122223333:domain/d");
    CHECK(ca::repository_arn("us-east-1", "111122223333", "d", "r") ==
          "arn:aws:codeartifact:us-east-1:111122223333:repository/d/r");
    auto arn = ca::parse_arn("arn:aws:codeartifact:us-east-1:111122223333:repository/d/r");
    REQUIRE(arn);
    CHECK(arn->kind == "repository");
    CHECK(arn->domain == "d");
    CHECK(arn->repository == "r");
    CHECK(ca::parse_arn("arn:aws:codeartifact:us-east-1:111122223333:domain/d")->kind == "domain");
    CHECK_FALSE(ca::parse_arn("arn:aws:s3:::bucket"));
    CHECK_FALSE(ca::parse_arn("arn:aws:codeartifact:us-east-1:111122223333:package/d/r/npm//x"));
    CHECK(ca::timestamp(1'700'000'000'000) == 1'700'000'000);
    CHECK(ca::timestamp(1'700'000'000'500).get<double>() == doctest::Approx(1'700'000'000.5));
  }
}
