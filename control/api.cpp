#include "control/api.hpp"

#include "common/digest.hpp"
#include "common/url.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

namespace arca::control::api {

using json = nlohmann::json;

namespace {

std::string constraint_message(std::string_view member, std::string_view value,
                               std::string_view what) {
  std::string shown(value.substr(0, 120));
  return "1 validation error detected: Value '" + shown + "' at '" + std::string(member) +
         "' failed to satisfy constraint: " + std::string(what);
}

std::optional<ApiError> check_length(std::string_view member, std::string_view value, size_t min,
                                     size_t max) {
  if (value.size() < min) {
    return validation_error(constraint_message(
        member, value, "Member must have length greater than or equal to " + std::to_string(min)));
  }
  if (value.size() > max) {
    return validation_error(constraint_message(
        member, value, "Member must have length less than or equal to " + std::to_string(max)));
  }
  return std::nullopt;
}

std::optional<ApiError> check_pattern(std::string_view member, std::string_view value,
                                      const std::regex& re, std::string_view pattern) {
  if (!std::regex_match(value.begin(), value.end(), re)) {
    return validation_error(constraint_message(
        member, value, "Member must satisfy regular expression pattern: " + std::string(pattern)));
  }
  return std::nullopt;
}

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}
bool has_space(std::string_view s) {
  for (unsigned char c : s) {
    if (std::isspace(c)) return true;
  }
  return false;
}

std::optional<ApiError> check_enum(std::string_view member, std::string_view value,
                                   std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (a == value) return std::nullopt;
  }
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  return validation_error(
      constraint_message(member, value, "Member must satisfy enum value set: [" + list + "]"));
}

std::optional<ApiError> check_no_space(std::string_view member, std::string_view value, size_t min,
                                       size_t max) {
  if (auto e = check_length(member, value, min, max)) return e;
  if (has_space(value) || has_control_chars(value)) {
    return validation_error(
        constraint_message(member, value, "Member must satisfy regular expression pattern: \\S+"));
  }
  return std::nullopt;
}

std::optional<ApiError> check_integer(std::string_view member, std::string_view value, int64_t min,
                                      int64_t max, int64_t& out) {
  if (value.empty() || value.size() > 18) {
    return validation_error(constraint_message(member, value, "Member must be an integer"));
  }
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9')
      return validation_error(constraint_message(member, value, "Member must be an integer"));
    n = n * 10 + (c - '0');
  }
  if (n < min) {
    return validation_error(constraint_message(
        member, value, "Member must have value greater than or equal to " + std::to_string(min)));
  }
  if (n > max) {
    return validation_error(constraint_message(
        member, value, "Member must have value less than or equal to " + std::to_string(max)));
  }
  out = n;
  return std::nullopt;
}

// Checks one query value by the shape of the member it binds to.
std::optional<ApiError> check_query_value(std::string_view name, std::string_view value) {
  if (name == "domain") return check_domain_name(name, value);
  if (name == "domain-owner" || name == "administrator-account")
    return check_account_id(name, value);
  if (name == "repository" || name == "source-repository" || name == "destination-repository" ||
      name == "repository-prefix") {
    return check_repository_name(name, value);
  }
  if (name == "format") {
    return check_enum(name, value,
                      {"npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"});
  }
  if (name == "namespace" || name == "package" || name == "version" || name == "package-prefix") {
    return check_package_part(name, value);
  }
  if (name == "asset") {
    if (auto e = check_length(name, value, 1, 255)) return e;
    if (has_control_chars(value)) {
      return validation_error(constraint_message(
          name, value, "Member must satisfy regular expression pattern: \\P{C}+"));
    }
    return std::nullopt;
  }
  if (name == "revision") return check_no_space(name, value, 1, 50);
  if (name == "policy-revision") return check_no_space(name, value, 1, 100);
  if (name == "next-token") return check_no_space(name, value, 1, 2000);
  if (name == "resourceArn") return check_no_space(name, value, 1, 1011);
  if (name == "max-results") {
    int64_t n;
    return check_integer(name, value, 1, 1000, n);
  }
  if (name == "duration") {
    int64_t n = 0;
    if (auto e = check_integer(name, value, 0, 43200, n)) return e;
    if (n != 0 && n < 900) {
      return validation_error(
          constraint_message(name, value, "Member must be 0 or between 900 and 43200 seconds"));
    }
    return std::nullopt;
  }
  if (name == "external-connection") {
    static const std::regex re("[A-Za-z0-9][A-Za-z0-9._\\-:]{1,99}");
    if (auto e = check_length(name, value, 2, 100)) return e;
    return check_pattern(name, value, re, "[A-Za-z0-9][A-Za-z0-9._\\-:]{1,99}");
  }
  if (name == "status") return check_status(name, value);
  if (name == "sortBy") return check_enum(name, value, {"PUBLISHED_TIME"});
  if (name == "originType") return check_enum(name, value, {"INTERNAL", "EXTERNAL", "UNKNOWN"});
  if (name == "publish" || name == "upstream") return check_enum(name, value, {"ALLOW", "BLOCK"});
  if (name == "unfinished") return check_enum(name, value, {"true", "false"});
  if (name == "endpointType") return check_enum(name, value, {"dualstack", "ipv4"});
  return std::nullopt;
}

}  // namespace

ApiError validation_error(std::string message, std::string reason) {
  return ApiError{400, "ValidationException", std::move(message), {}, {}, std::move(reason)};
}
ApiError not_found(std::string message, std::string resource_type, std::string resource_id) {
  return ApiError{404,
                  "ResourceNotFoundException",
                  std::move(message),
                  std::move(resource_id),
                  std::move(resource_type),
                  {}};
}
ApiError conflict(std::string message, std::string resource_type, std::string resource_id) {
  return ApiError{409,
                  "ConflictException",
                  std::move(message),
                  std::move(resource_id),
                  std::move(resource_type),
                  {}};
}
ApiError quota_exceeded(std::string message, std::string resource_type, std::string resource_id) {
  return ApiError{402,
                  "ServiceQuotaExceededException",
                  std::move(message),
                  std::move(resource_id),
                  std::move(resource_type),
                  {}};
}
ApiError access_denied(std::string message) {
  return ApiError{403, "AccessDeniedException", std::move(message), {}, {}, {}};
}
ApiError internal_error(std::string message) {
  return ApiError{500, "InternalServerException", std::move(message), {}, {}, {}};
}
ApiError unknown_operation(std::string_view method, std::string_view path) {
  return ApiError{404,
                  "UnknownOperationException",
                  "no CodeArtifact operation is " + std::string(method) + " " +
                      std::string(path.substr(0, 200)),
                  {},
                  {},
                  {}};
}

std::string error_body(const ApiError& e) {
  json j = {{"message", e.message}};
  if (!e.resource_id.empty()) j["resourceId"] = e.resource_id;
  if (!e.resource_type.empty()) j["resourceType"] = e.resource_type;
  if (!e.reason.empty()) j["reason"] = e.reason;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const std::vector<Operation>& operations() {
  static const std::vector<std::string_view> k_pkg = {"domain", "domain-owner", "repository",
                                                      "format", "namespace",    "package"};
  auto with = [](std::vector<std::string_view> base, std::initializer_list<std::string_view> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  static const std::vector<Operation> k_ops = {
      {"AssociateExternalConnection",
       "POST",
       "/v1/repository/external-connection",
       {"domain", "domain-owner", "repository", "external-connection"},
       {"domain", "repository", "external-connection"}},
      {"CopyPackageVersions",
       "POST",
       "/v1/package/versions/copy",
       {"domain", "domain-owner", "source-repository", "destination-repository", "format",
        "namespace", "package"},
       {"domain", "source-repository", "destination-repository", "format", "package"}},
      {"CreateDomain", "POST", "/v1/domain", {"domain"}, {"domain"}},
      {"CreateRepository",
       "POST",
       "/v1/repository",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
      {"DeleteDomain", "DELETE", "/v1/domain", {"domain", "domain-owner"}, {"domain"}},
      {"DeleteDomainPermissionsPolicy",
       "DELETE",
       "/v1/domain/permissions/policy",
       {"domain", "domain-owner", "policy-revision"},
       {"domain"}},
      {"DeletePackage",
       "DELETE",
       "/v1/package",
       k_pkg,
       {"domain", "repository", "format", "package"}},
      {"DeletePackageVersions",
       "POST",
       "/v1/package/versions/delete",
       k_pkg,
       {"domain", "repository", "format", "package"}},
      {"DeleteRepository",
       "DELETE",
       "/v1/repository",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
      {"DeleteRepositoryPermissionsPolicy",
       "DELETE",
       "/v1/repository/permissions/policies",
       {"domain", "domain-owner", "repository", "policy-revision"},
       {"domain", "repository"}},
      {"DescribeDomain", "GET", "/v1/domain", {"domain", "domain-owner"}, {"domain"}},
      {"DescribePackage",
       "GET",
       "/v1/package",
       k_pkg,
       {"domain", "repository", "format", "package"}},
      {"DescribePackageVersion",
       "GET",
       "/v1/package/version",
       with(k_pkg, {"version"}),
       {"domain", "repository", "format", "package", "version"}},
      {"DescribeRepository",
       "GET",
       "/v1/repository",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
      {"DisassociateExternalConnection",
       "DELETE",
       "/v1/repository/external-connection",
       {"domain", "domain-owner", "repository", "external-connection"},
       {"domain", "repository", "external-connection"}},
      {"DisposePackageVersions",
       "POST",
       "/v1/package/versions/dispose",
       k_pkg,
       {"domain", "repository", "format", "package"}},
      {"GetAuthorizationToken",
       "POST",
       "/v1/authorization-token",
       {"domain", "domain-owner", "duration"},
       {"domain"}},
      {"GetDomainPermissionsPolicy",
       "GET",
       "/v1/domain/permissions/policy",
       {"domain", "domain-owner"},
       {"domain"}},
      {"GetPackageVersionAsset",
       "GET",
       "/v1/package/version/asset",
       with(k_pkg, {"version", "asset", "revision"}),
       {"domain", "repository", "format", "package", "version", "asset"}},
      {"GetPackageVersionReadme",
       "GET",
       "/v1/package/version/readme",
       with(k_pkg, {"version"}),
       {"domain", "repository", "format", "package", "version"}},
      {"GetRepositoryEndpoint",
       "GET",
       "/v1/repository/endpoint",
       {"domain", "domain-owner", "repository", "format", "endpointType"},
       {"domain", "repository", "format"}},
      {"GetRepositoryPermissionsPolicy",
       "GET",
       "/v1/repository/permissions/policy",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
      {"ListDomains", "POST", "/v1/domains", {}, {}},
      {"ListPackageVersionAssets",
       "POST",
       "/v1/package/version/assets",
       with(k_pkg, {"version", "max-results", "next-token"}),
       {"domain", "repository", "format", "package", "version"}},
      {"ListPackageVersionDependencies",
       "POST",
       "/v1/package/version/dependencies",
       with(k_pkg, {"version", "next-token"}),
       {"domain", "repository", "format", "package", "version"}},
      {"ListPackageVersions",
       "POST",
       "/v1/package/versions",
       with(k_pkg, {"status", "sortBy", "max-results", "next-token", "originType"}),
       {"domain", "repository", "format", "package"}},
      {"ListPackages",
       "POST",
       "/v1/packages",
       {"domain", "domain-owner", "repository", "format", "namespace", "package-prefix",
        "max-results", "next-token", "publish", "upstream"},
       {"domain", "repository"}},
      {"ListRepositories",
       "POST",
       "/v1/repositories",
       {"repository-prefix", "max-results", "next-token"},
       {}},
      {"ListRepositoriesInDomain",
       "POST",
       "/v1/domain/repositories",
       {"domain", "domain-owner", "administrator-account", "repository-prefix", "max-results",
        "next-token"},
       {"domain"}},
      {"ListTagsForResource", "POST", "/v1/tags", {"resourceArn"}, {"resourceArn"}},
      {"PublishPackageVersion",
       "POST",
       "/v1/package/version/publish",
       with(k_pkg, {"version", "asset", "unfinished"}),
       {"domain", "repository", "format", "package", "version", "asset"}},
      {"PutDomainPermissionsPolicy", "PUT", "/v1/domain/permissions/policy", {}, {}},
      {"PutRepositoryPermissionsPolicy",
       "PUT",
       "/v1/repository/permissions/policy",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
      {"TagResource", "POST", "/v1/tag", {"resourceArn"}, {"resourceArn"}},
      {"UntagResource", "POST", "/v1/untag", {"resourceArn"}, {"resourceArn"}},
      {"UpdatePackageVersionsStatus",
       "POST",
       "/v1/package/versions/update_status",
       k_pkg,
       {"domain", "repository", "format", "package"}},
      {"UpdateRepository",
       "PUT",
       "/v1/repository",
       {"domain", "domain-owner", "repository"},
       {"domain", "repository"}},
  };
  return k_ops;
}

const Operation* find_operation(std::string_view method, std::string_view path) {
  for (auto& op : operations()) {
    if (op.method == method && op.path == path) return &op;
  }
  return nullptr;
}

std::optional<ApiError> parse_query(std::string_view raw, Query& out) {
  size_t pos = 0;
  while (pos <= raw.size() && !raw.empty()) {
    auto amp = raw.find('&', pos);
    auto part = raw.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!part.empty()) {
      auto eq = part.find('=');
      auto key = percent_decode(part.substr(0, eq), /*plus_as_space=*/true);
      auto value =
          percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1),
                         /*plus_as_space=*/true);
      if (!key || !value)
        return validation_error("malformed percent-encoding in the query string", "CANNOT_PARSE");
      if (out.count(*key))
        return validation_error("query parameter '" + *key + "' is given more than once");
      out.emplace(std::move(*key), std::move(*value));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return std::nullopt;
}

std::optional<ApiError> check_query(const Operation& op, const Query& query) {
  for (auto& [name, value] : query) {
    if (std::find(op.query.begin(), op.query.end(), name) == op.query.end()) {
      return validation_error("unknown query parameter '" + name.substr(0, 100) + "' for " +
                              std::string(op.name));
    }
  }
  for (auto name : op.required) {
    if (!query.count(std::string(name))) {
      return validation_error("1 validation error detected: Value null at '" + std::string(name) +
                              "' failed to satisfy constraint: Member must not be null");
    }
  }
  for (auto& [name, value] : query) {
    if (auto e = check_query_value(name, value)) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> check_domain_name(std::string_view member, std::string_view value) {
  static const std::regex re("[a-z][a-z0-9\\-]{0,48}[a-z0-9]");
  if (auto e = check_length(member, value, 2, 50)) return e;
  return check_pattern(member, value, re, "[a-z][a-z0-9\\-]{0,48}[a-z0-9]");
}

std::optional<ApiError> check_repository_name(std::string_view member, std::string_view value) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._\\-]{1,99}");
  if (auto e = check_length(member, value, 2, 100)) return e;
  return check_pattern(member, value, re, "[A-Za-z0-9][A-Za-z0-9._\\-]{1,99}");
}

std::optional<ApiError> check_account_id(std::string_view member, std::string_view value) {
  static const std::regex re("[0-9]{12}");
  if (auto e = check_length(member, value, 12, 12)) return e;
  return check_pattern(member, value, re, "[0-9]{12}");
}

std::optional<ApiError> check_package_part(std::string_view member, std::string_view value) {
  if (auto e = check_length(member, value, 1, 255)) return e;
  for (unsigned char c : value) {
    if (c == '#' || c == '/' || std::isspace(c) || c < 0x20 || c == 0x7f) {
      return validation_error(constraint_message(
          member, value, "Member must satisfy regular expression pattern: [^#/\\s]+"));
    }
  }
  return std::nullopt;
}

std::optional<ApiError> check_description(std::string_view member, std::string_view value) {
  if (auto e = check_length(member, value, 0, 1000)) return e;
  if (has_control_chars(value)) {
    return validation_error(constraint_message(
        member, value, "Member must satisfy regular expression pattern: \\P{C}*"));
  }
  return std::nullopt;
}

std::optional<ApiError> check_tag(std::string_view key, std::string_view value) {
  if (auto e = check_length("tags.member.key", key, 1, 128)) return e;
  if (auto e = check_length("tags.member.value", value, 0, 256)) return e;
  if (has_control_chars(key) || has_control_chars(value)) {
    return validation_error(constraint_message(
        "tags.member.key", key, "Member must satisfy regular expression pattern: \\P{C}+"));
  }
  return std::nullopt;
}

std::optional<ApiError> check_policy_document(std::string_view value) {
  if (auto e = check_length("policyDocument", value, 1, 7168)) return e;
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return validation_error("the policy document is not a JSON object", "CANNOT_PARSE");
  }
  return std::nullopt;
}

std::optional<ApiError> check_status(std::string_view member, std::string_view value) {
  return check_enum(member, value,
                    {"Published", "Unfinished", "Unlisted", "Archived", "Disposed", "Deleted"});
}

bool valid_format(std::string_view f) {
  return f == "npm" || f == "pypi" || f == "maven" || f == "nuget" || f == "generic" ||
         f == "ruby" || f == "swift" || f == "cargo";
}

std::optional<ApiError> parse_max_results(const std::optional<std::string>& value, int fallback,
                                          int& out) {
  out = fallback;
  if (!value) return std::nullopt;
  int64_t n = 0;
  if (auto e = check_integer("maxResults", *value, 1, 1000, n)) return e;
  out = static_cast<int>(n);
  return std::nullopt;
}

std::string encode_next_token(std::string_view last_key) {
  std::string s = base64_encode(last_key);
  for (auto& c : s) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
  }
  return s;
}

std::optional<std::string> decode_next_token(std::string_view token) {
  std::string s(token);
  for (auto& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
  }
  return base64_decode(s);
}

std::string domain_arn(std::string_view region, std::string_view owner, std::string_view domain) {
  return "arn:aws:codeartifact:" + std::string(region) + ":" + std::string(owner) + ":domain/" +
         std::string(domain);
}
std::string repository_arn(std::string_view region, std::string_view owner, std::string_view domain,
                           std::string_view repo) {
  return "arn:aws:codeartifact:" + std::string(region) + ":" + std::string(owner) + ":repository/" +
         std::string(domain) + "/" + std::string(repo);
}
std::string package_arn(std::string_view region, std::string_view owner, std::string_view domain,
                        std::string_view repo, std::string_view format, std::string_view ns,
                        std::string_view name) {
  return "arn:aws:codeartifact:" + std::string(region) + ":" + std::string(owner) + ":package/" +
         std::string(domain) + "/" + std::string(repo) + "/" + std::string(format) + "/" +
         std::string(ns) + "/" + std::string(name);
}

std::optional<ParsedArn> parse_arn(std::string_view arn) {
  // arn:aws:codeartifact:REGION:ACCOUNT:RESOURCE
  std::vector<std::string_view> parts;
  size_t pos = 0;
  for (int i = 0; i < 5; ++i) {
    auto colon = arn.find(':', pos);
    if (colon == std::string_view::npos) return std::nullopt;
    parts.push_back(arn.substr(pos, colon - pos));
    pos = colon + 1;
  }
  std::string_view resource = arn.substr(pos);
  if (parts[0] != "arn" || parts[2] != "codeartifact") return std::nullopt;
  ParsedArn out;
  out.region = parts[3];
  out.account = parts[4];
  auto slash = resource.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  out.kind = resource.substr(0, slash);
  auto rest = resource.substr(slash + 1);
  if (out.kind == "domain") {
    if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
    out.domain = rest;
  } else if (out.kind == "repository") {
    auto s2 = rest.find('/');
    if (s2 == std::string_view::npos) return std::nullopt;
    out.domain = rest.substr(0, s2);
    out.repository = rest.substr(s2 + 1);
    if (out.domain.empty() || out.repository.empty() ||
        out.repository.find('/') != std::string::npos) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  return out;
}

json timestamp(int64_t unix_ms) {
  if (unix_ms % 1000 == 0) return unix_ms / 1000;
  return static_cast<double>(unix_ms) / 1000.0;
}

const std::vector<KnownConnection>& known_external_connections() {
  static const std::vector<KnownConnection> k = {
      {"public:npmjs", "npm", "https://registry.npmjs.org/"},
      {"public:pypi", "pypi", "https://pypi.org/simple/"},
      {"public:maven-central", "maven", "https://repo1.maven.org/maven2/"},
      {"public:maven-googleandroid", "maven", "https://maven.google.com/"},
      {"public:maven-gradleplugins", "maven", "https://plugins.gradle.org/m2/"},
      {"public:maven-commonsware", "maven", "https://repo.commonsware.com/"},
      {"public:maven-clojars", "maven", "https://repo.clojars.org/"},
      {"public:nuget-org", "nuget", "https://api.nuget.org/v3/index.json"},
      {"public:ruby-gems-org", "ruby", "https://rubygems.org/"},
      {"public:crates-io", "cargo", "https://index.crates.io/"},
  };
  return k;
}

std::optional<ApiError> body_string(const nlohmann::json& body, const char* member,
                                    std::string& out, bool required) {
  auto it = body.find(member);
  if (it == body.end() || it->is_null()) {
    if (required) {
      return validation_error(std::string("1 validation error detected: Value null at '") +
                              member + "' failed to satisfy constraint: Member must not be null");
    }
    return std::nullopt;
  }
  if (!it->is_string()) return validation_error(std::string("'") + member + "' must be a string");
  out = it->get<std::string>();
  return std::nullopt;
}

}  // namespace arca::control::api
