#pragma once
// The CodeArtifact REST-JSON API (2018-09-22) as pure functions: the operation table (method,
// path, query names), input validation by the model's lengths, patterns and enums, error
// bodies, pagination tokens, ARNs and timestamps. No sockets, no store.
//
// Thread-safety: free functions and immutable tables; safe from any thread.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace arca::control::api {

// An error as the service sends it: HTTP status, x-amzn-ErrorType, JSON body.
struct ApiError {
  unsigned status = 500;
  std::string type;  // e.g. "ResourceNotFoundException"
  std::string message;
  std::string resource_id;    // ConflictException / ResourceNotFoundException
  std::string resource_type;  // domain, repository, package, package-version, asset
  std::string reason;         // ValidationException: FIELD_VALIDATION_FAILED, CANNOT_PARSE, ...
};

ApiError validation_error(std::string message, std::string reason = "FIELD_VALIDATION_FAILED");

// Reads string member `member` of a request body into `out`. Absent or null: an error only when
// `required` (worded as the service words it); present but not a string: an error.
std::optional<ApiError> body_string(const nlohmann::json& body, const char* member,
                                    std::string& out, bool required = false);
ApiError not_found(std::string message, std::string resource_type = {},
                   std::string resource_id = {});
ApiError conflict(std::string message, std::string resource_type = {},
                  std::string resource_id = {});
ApiError quota_exceeded(std::string message, std::string resource_type = {},
                        std::string resource_id = {});
ApiError access_denied(std::string message);
ApiError internal_error(std::string message);
ApiError unknown_operation(std::string_view method, std::string_view path);

// {"message": ..., plus resourceId/resourceType/reason when set}
std::string error_body(const ApiError& error);

// One operation of the model.
struct Operation {
  std::string_view name;                   // "CreateDomain"
  std::string_view method;                 // "POST"
  std::string_view path;                   // "/v1/domain"
  std::vector<std::string_view> query;     // allowed query parameter names
  std::vector<std::string_view> required;  // required query parameter names
};

// Every operation this issue serves (the model's 48 minus package groups and origin controls).
const std::vector<Operation>& operations();
// The operation for a method and path; nullptr when none.
const Operation* find_operation(std::string_view method, std::string_view path);

using Query = std::map<std::string, std::string>;

// Decodes a raw query string into `out`. Errors: malformed percent-encoding, repeated names.
std::optional<ApiError> parse_query(std::string_view raw, Query& out);
// Checks the names (unknown ones are refused), required ones and each value's shape.
std::optional<ApiError> check_query(const Operation& op, const Query& query);

// Validation of single members by model shape. `member` names the field in the message.
std::optional<ApiError> check_domain_name(std::string_view member, std::string_view value);
std::optional<ApiError> check_repository_name(std::string_view member, std::string_view value);
std::optional<ApiError> check_account_id(std::string_view member, std::string_view value);
std::optional<ApiError> check_package_part(std::string_view member,
                                           std::string_view value);  // name/ns/version
std::optional<ApiError> check_description(std::string_view member, std::string_view value);
std::optional<ApiError> check_tag(std::string_view key, std::string_view value);
std::optional<ApiError> check_policy_document(std::string_view value);
std::optional<ApiError> check_status(std::string_view member, std::string_view value);
bool valid_format(std::string_view format);

// maxResults: 1..1000 (absent: `fallback`).
std::optional<ApiError> parse_max_results(const std::optional<std::string>& value, int fallback,
                                          int& out);

// Opaque pagination tokens: the last key of the previous page, encoded.
std::string encode_next_token(std::string_view last_key);
std::optional<std::string> decode_next_token(std::string_view token);

// arn:aws:codeartifact:REGION:OWNER:domain/D, repository/D/R, package/D/R/FORMAT/NS/NAME.
std::string domain_arn(std::string_view region, std::string_view owner, std::string_view domain);
std::string repository_arn(std::string_view region, std::string_view owner, std::string_view domain,
                           std::string_view repo);
std::string package_arn(std::string_view region, std::string_view owner, std::string_view domain,
                        std::string_view repo, std::string_view format, std::string_view ns,
                        std::string_view name);

struct ParsedArn {
  std::string region, account, kind;  // kind: "domain" or "repository"
  std::string domain, repository;
};
std::optional<ParsedArn> parse_arn(std::string_view arn);

// rest-json timestamps are epoch seconds (fractional).
nlohmann::json timestamp(int64_t unix_ms);

// Default external connection upstreams for the public:* names the service knows.
struct KnownConnection {
  std::string_view name, format, url;
};
const std::vector<KnownConnection>& known_external_connections();

}  // namespace arca::control::api
