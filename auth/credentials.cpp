#include "auth/credentials.hpp"

#include "common/log.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace arca::auth {

namespace {

using Props = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) {
    ++b;
  }
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

std::optional<std::string> prop(const Props& props, std::string_view key) {
  for (const auto& [k, v] : props) {
    if (k == key) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Error fail(std::string_view provider, Errc code, std::string_view why) {
  return make_error(code, std::string(provider) + ": " + std::string(why));
}

std::string form_encode(const Props& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) {
      out += '&';
    }
    out += uri_encode(k, false) + "=" + uri_encode(v, false);
  }
  return out;
}

struct UrlParts {
  std::string host;  // with :port when not the scheme's default
  std::string path;
  std::string query;
};

std::optional<UrlParts> split_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return std::nullopt;
  }
  UrlParts p;
  p.host = std::string(parsed->encoded_host_address());
  if (parsed->has_port()) {
    p.host += ":" + std::string(parsed->port());
  }
  p.path = std::string(parsed->encoded_path());
  if (p.path.empty()) {
    p.path = "/";
  }
  p.query = std::string(parsed->encoded_query());
  return p;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') {
    s.pop_back();
  }
  return s;
}

// Parses an STS query-API answer: <XResponse><XResult><Credentials>...</Credentials>. Errors
// carry the STS error code and message (which never echo secrets).
Result<AwsCredentials> parse_sts(std::string_view provider, const HttpResponse& response,
                                 std::string_view action) {
  pugi::xml_document doc;
  auto ok = doc.load_buffer(response.body.data(), response.body.size());
  if (response.status / 100 != 2) {
    std::string why = std::string(action) + " returned HTTP " + std::to_string(response.status);
    if (ok) {
      auto err = doc.first_element_by_path("ErrorResponse/Error");
      if (err) {
        why +=
            " (" + std::string(err.child_value("Code")) + ": " + err.child_value("Message") + ")";
      }
    }
    return fail(provider, response.status == 403 ? Errc::forbidden : Errc::upstream_error, why);
  }
  if (!ok) {
    return fail(provider, Errc::upstream_error, std::string(action) + " returned invalid XML");
  }
  std::string path = std::string(action) + "Response/" + std::string(action) + "Result/Credentials";
  auto c = doc.first_element_by_path(path.c_str());
  if (!c) {
    return fail(provider, Errc::upstream_error,
                std::string(action) + " response has no Credentials element");
  }
  AwsCredentials out;
  out.provider = std::string(provider);
  out.keys.access_key_id = trim(c.child_value("AccessKeyId"));
  out.keys.secret_access_key = trim(c.child_value("SecretAccessKey"));
  out.keys.session_token = trim(c.child_value("SessionToken"));
  out.expiration = parse_iso8601(trim(c.child_value("Expiration")));
  if (out.keys.access_key_id.empty() || out.keys.secret_access_key.empty() ||
      out.keys.session_token.empty() || !out.expiration) {
    return fail(provider, Errc::upstream_error,
                std::string(action) + " response is missing a credential field");
  }
  return out;
}

// Parses the JSON the ECS agent and IMDS answer with (and credential_process prints).
Result<AwsCredentials> parse_json_credentials(std::string_view provider, std::string_view body,
                                              std::string_view token_key, bool require_version) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(provider, Errc::upstream_error, "credentials response is not a JSON object");
  }
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (require_version) {
    auto v = j.find("Version");
    if (v == j.end() || !v->is_number_integer() || v->get<int>() != 1) {
      return fail(provider, Errc::upstream_error, "credential_process output needs \"Version\": 1");
    }
  }
  if (auto code = j.find("Code"); code != j.end() && code->is_string() && *code != "Success") {
    return fail(provider, Errc::upstream_error,
                "credentials response has Code " + code->get<std::string>());
  }
  AwsCredentials out;
  out.provider = std::string(provider);
  out.keys.access_key_id = str("AccessKeyId");
  out.keys.secret_access_key = str("SecretAccessKey");
  out.keys.session_token = str(std::string(token_key).c_str());
  if (out.keys.access_key_id.empty() || out.keys.secret_access_key.empty()) {
    return fail(provider, Errc::upstream_error,
                "credentials response lacks AccessKeyId or SecretAccessKey");
  }
  auto exp = str("Expiration");
  if (!exp.empty()) {
    out.expiration = parse_iso8601(exp);
    if (!out.expiration) {
      return fail(provider, Errc::upstream_error, "credentials response has a bad Expiration");
    }
  }
  return out;
}

std::string home_file(const EnvLookup& env, const char* override_var, const char* leaf) {
  if (auto v = env(override_var)) {
    if (v->rfind("~/", 0) == 0) {
      return env("HOME").value_or("") + v->substr(1);
    }
    return *v;
  }
  return env("HOME").value_or("") + "/.aws/" + leaf;
}

}  // namespace

// --- Helpers ---

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') {
      return std::nullopt;
    }
    return std::string(v);
  };
}

std::optional<std::string> find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> parse_iso8601(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 19) {
    return std::nullopt;
  }
  std::string head(s.substr(0, 19));
  if (std::sscanf(head.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      ++i;
    }
    rest.remove_prefix(i);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    std::string o(rest.substr(1));
    if (std::sscanf(o.c_str(), "%2d:%2d", &oh, &om) != 2) {
      return std::nullopt;
    }
    offset = (rest[0] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t - offset);
}

const std::vector<std::pair<std::string, std::string>>* IniFile::section(
    std::string_view name) const {
  for (const auto& [n, props] : sections) {
    if (n == name) {
      return &props;
    }
  }
  return nullptr;
}

IniFile parse_ini(std::string_view text) {
  IniFile ini;
  std::vector<std::pair<std::string, std::string>>* current = nullptr;
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string::npos) {
        current = nullptr;
        continue;
      }
      // "[ profile  x ]" → "profile x"
      std::istringstream words(line.substr(1, close - 1));
      std::string word, name;
      while (words >> word) {
        name += (name.empty() ? "" : " ") + word;
      }
      auto it = std::find_if(ini.sections.begin(), ini.sections.end(),
                             [&](const auto& s) { return s.first == name; });
      if (it == ini.sections.end()) {
        ini.sections.emplace_back(name, std::vector<std::pair<std::string, std::string>>{});
        current = &ini.sections.back().second;
      } else {
        current = &it->second;
      }
      continue;
    }
    if (current == nullptr || indented) {
      continue;  // outside a section, or a nested sub-property
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    std::string key = lower(trim(line.substr(0, eq)));
    std::string value = trim(line.substr(eq + 1));
    // Inline comments need whitespace before '#' or ';' (botocore's rule).
    for (size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') &&
          std::isspace(static_cast<unsigned char>(value[i - 1]))) {
        value = trim(value.substr(0, i));
        break;
      }
    }
    auto existing = std::find_if(current->begin(), current->end(),
                                 [&](const auto& kv) { return kv.first == key; });
    if (existing != current->end()) {
      existing->second = value;
    } else {
      current->emplace_back(key, value);
    }
  }
  return ini;
}

std::optional<Props> load_profile(const EnvLookup& env, std::string_view profile) {
  std::optional<Props> merged;
  auto merge = [&](const Props* props) {
    if (props == nullptr) {
      return;
    }
    if (!merged) {
      merged.emplace();
    }
    for (const auto& [k, v] : *props) {
      auto it = std::find_if(merged->begin(), merged->end(),
                             [&](const auto& kv) { return kv.first == k; });
      if (it != merged->end()) {
        it->second = v;
      } else {
        merged->emplace_back(k, v);
      }
    }
  };
  if (auto text = read_file(home_file(env, "AWS_CONFIG_FILE", "config"))) {
    IniFile ini = parse_ini(*text);
    const Props* p = ini.section("profile " + std::string(profile));
    if (p == nullptr && profile == "default") {
      p = ini.section("default");
    }
    merge(p);
  }
  if (auto text = read_file(home_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials"))) {
    IniFile ini = parse_ini(*text);
    merge(ini.section(profile));
  }
  return merged;
}

std::string resolve_region(std::string_view configured, const EnvLookup& env) {
  if (!configured.empty()) {
    return std::string(configured);
  }
  if (auto r = env("AWS_REGION")) {
    return *r;
  }
  if (auto r = env("AWS_DEFAULT_REGION")) {
    return *r;
  }
  if (auto props = load_profile(env, env("AWS_PROFILE").value_or("default"))) {
    if (auto r = prop(*props, "region")) {
      return *r;
    }
  }
  return {};
}

std::string sts_endpoint(const EnvLookup& env, std::string_view region) {
  if (auto e = env("AWS_ENDPOINT_URL_STS")) {
    return strip_slash(*e);
  }
  if (auto e = env("AWS_ENDPOINT_URL")) {
    return strip_slash(*e);
  }
  if (region.empty()) {
    return "https://sts.amazonaws.com";
  }
  return "https://sts." + std::string(region) + ".amazonaws.com";
}

// --- EnvProvider ---

boost::asio::awaitable<Result<AwsCredentials>> EnvProvider::resolve() {
  auto id = env_("AWS_ACCESS_KEY_ID");
  auto secret = env_("AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) {
    co_return fail(name(), Errc::not_found, "AWS_ACCESS_KEY_ID is not set");
  }
  if (!id || !secret) {
    co_return fail(name(), Errc::invalid_argument,
                   !id ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                       : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  AwsCredentials c;
  c.provider = std::string(name());
  c.keys.access_key_id = *id;
  c.keys.secret_access_key = *secret;
  c.keys.session_token = env_("AWS_SESSION_TOKEN").value_or("");
  co_return c;
}

// --- WebIdentityProvider ---

namespace {

// STS AssumeRoleWithWebIdentity (an unsigned call: the token file is the credential), for the
// environment variables and for profiles with web_identity_token_file.
boost::asio::awaitable<Result<AwsCredentials>> assume_role_with_web_identity(
    std::string provider, HttpFetcher& http, const EnvLookup& env, std::string role,
    std::string token_file, std::string session_name, std::string region) {
  auto token = read_file(token_file);
  if (!token || trim(*token).empty()) {
    co_return fail(provider, Errc::invalid_argument,
                   "cannot read the web identity token file " + token_file);
  }
  Props params{{"Action", "AssumeRoleWithWebIdentity"},
               {"Version", "2011-06-15"},
               {"RoleArn", role},
               {"RoleSessionName", session_name},
               {"WebIdentityToken", trim(*token)}};
  HttpRequest req;
  req.method = "POST";
  req.url = sts_endpoint(env, region) + "/";
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  req.headers.emplace_back("Accept", "application/xml");
  req.body = form_encode(params);
  auto response = co_await http.fetch(std::move(req));
  if (!response) {
    co_return fail(provider, response.error().code,
                   "STS AssumeRoleWithWebIdentity failed: " + response.error().message);
  }
  co_return parse_sts(provider, *response, "AssumeRoleWithWebIdentity");
}

}  // namespace

boost::asio::awaitable<Result<AwsCredentials>> WebIdentityProvider::resolve() {
  auto token_file = env_("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role = env_("AWS_ROLE_ARN");
  if (!token_file || !role) {
    co_return fail(name(), Errc::not_found,
                   "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set");
  }
  // Named locals: no class temporaries inside a co_await expression (ARCHITECTURE.md).
  std::string provider(name());
  std::string session = env_("AWS_ROLE_SESSION_NAME").value_or("arca");
  std::string region = resolve_region("", env_);
  co_return co_await assume_role_with_web_identity(provider, http_, env_, *role, *token_file,
                                                   session, region);
}

// --- ProfileProvider ---

boost::asio::awaitable<Result<AwsCredentials>> ProfileProvider::resolve() {
  auto profile = env_("AWS_PROFILE").value_or("default");
  co_return co_await resolve_profile(profile, 0);
}

boost::asio::awaitable<Result<AwsCredentials>> ProfileProvider::resolve_profile(std::string profile,
                                                                                int depth) {
  const std::string who = "profile " + profile;
  if (depth > 8) {
    co_return fail(name(), Errc::invalid_argument,
                   "source_profile chain too long (a cycle?) at " + who);
  }
  auto props = load_profile(env_, profile);
  if (!props) {
    co_return fail(name(), Errc::not_found, who + " not found in the shared config files");
  }
  auto role_arn = prop(*props, "role_arn");
  auto source = prop(*props, "source_profile");
  auto key_id = prop(*props, "aws_access_key_id");
  auto secret = prop(*props, "aws_secret_access_key");

  if (role_arn) {
    auto web_token_file = prop(*props, "web_identity_token_file");
    auto credential_source = prop(*props, "credential_source");
    if (!source && web_token_file) {
      std::string region = prop(*props, "region").value_or(resolve_region("", env_));
      std::string provider(name());
      std::string session = prop(*props, "role_session_name").value_or("arca");
      co_return co_await assume_role_with_web_identity(provider, http_, env_, *role_arn,
                                                       *web_token_file, session, region);
    }
    if (!source && !credential_source) {
      co_return fail(name(), Errc::invalid_argument,
                     who +
                         " has role_arn but no source_profile, credential_source or "
                         "web_identity_token_file");
    }
    Result<AwsCredentials> base = make_error(Errc::internal, "");
    std::string base_what = "source_profile of " + who;
    if (!source) {
      // credential_source: the role's source credentials come from one of the other providers.
      base_what = "credential_source " + *credential_source + " of " + who;
      if (*credential_source == "Environment") {
        EnvProvider provider(env_);
        base = co_await provider.resolve();
      } else if (*credential_source == "Ec2InstanceMetadata") {
        ImdsProvider provider(env_, http_);
        base = co_await provider.resolve();
      } else if (*credential_source == "EcsContainer") {
        EcsProvider provider(env_, http_);
        base = co_await provider.resolve();
      } else {
        co_return fail(name(), Errc::invalid_argument,
                       who + ": credential_source must be Environment, Ec2InstanceMetadata or "
                             "EcsContainer");
      }
    } else if (*source == profile) {
      // A profile that is its own source uses its static keys.
      if (!key_id || !secret) {
        co_return fail(name(), Errc::invalid_argument,
                       who + " is its own source_profile but has no keys");
      }
      AwsCredentials c;
      c.keys = {*key_id, *secret, prop(*props, "aws_session_token").value_or("")};
      base = std::move(c);
    } else {
      base = co_await resolve_profile(*source, depth + 1);
    }
    if (!base) {
      co_return fail(
          name(), base.error().code == Errc::not_found ? Errc::invalid_argument : base.error().code,
          base_what + ": " + base.error().message);
    }
    std::string region = resolve_region("", env_);
    if (auto r = prop(*props, "region")) {
      region = *r;
    }
    std::string sign_region = region.empty() ? "us-east-1" : region;
    Props params{
        {"Action", "AssumeRole"},
        {"Version", "2011-06-15"},
        {"RoleArn", *role_arn},
        {"RoleSessionName",
         prop(*props, "role_session_name")
             .value_or("arca-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                    clock_().time_since_epoch())
                                                    .count()))}};
    if (auto ext = prop(*props, "external_id")) {
      params.emplace_back("ExternalId", *ext);
    }
    if (auto dur = prop(*props, "duration_seconds")) {
      params.emplace_back("DurationSeconds", *dur);
    }
    HttpRequest req;
    req.method = "POST";
    req.url = sts_endpoint(env_, region) + "/";
    req.body = form_encode(params);
    auto parts = split_url(req.url);
    if (!parts) {
      co_return fail(name(), Errc::invalid_argument,
                     "bad STS endpoint " + log::redact_url(req.url));
    }
    req.headers.emplace_back("Host", parts->host);
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    SignOptions opts;
    opts.region = sign_region;
    opts.service = "sts";
    sign(req.method, parts->path, parts->query, req.headers, req.body, base->keys, opts, clock_());
    auto response = co_await http_.fetch(std::move(req));
    if (!response) {
      co_return fail(name(), response.error().code,
                     "STS AssumeRole for " + who + " failed: " + response.error().message);
    }
    auto assumed = parse_sts(name(), *response, "AssumeRole");
    if (!assumed) {
      co_return fail(name(), assumed.error().code, who + ": " + assumed.error().message);
    }
    co_return assumed;
  }

  if (key_id || secret) {
    if (!key_id || !secret) {
      co_return fail(name(), Errc::invalid_argument,
                     who + " needs both aws_access_key_id and aws_secret_access_key");
    }
    AwsCredentials c;
    c.provider = std::string(name());
    c.keys = {*key_id, *secret, prop(*props, "aws_session_token").value_or("")};
    co_return c;
  }

  if (auto command = prop(*props, "credential_process")) {
    auto ran = co_await runner_(*command);
    if (!ran) {
      co_return fail(name(), Errc::internal, "credential_process of " + who + " could not start");
    }
    const int status = ran->status;
    const std::string out = std::move(ran->out);
    if (status != 0) {
      // The output may hold secrets: report only the exit status.
      co_return fail(name(), Errc::upstream_error,
                     "credential_process of " + who + " exited with status " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status));
    }
    auto c = parse_json_credentials(name(), out, "SessionToken", true);
    if (!c) {
      co_return fail(name(), c.error().code,
                     "credential_process of " + who + ": " + c.error().message);
    }
    co_return c;
  }

  co_return fail(name(), Errc::not_found,
                 who + " has no credentials (keys, role_arn or credential_process)");
}

// --- EcsProvider ---

boost::asio::awaitable<Result<AwsCredentials>> EcsProvider::resolve() {
  std::string url;
  if (auto rel = env_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = "http://169.254.170.2" + *rel;
  } else if (auto full = env_("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    url = *full;
  } else {
    co_return fail(name(), Errc::not_found,
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set");
  }
  HttpRequest req;
  req.url = url;
  req.metadata = true;
  req.headers.emplace_back("Accept", "application/json");
  std::optional<std::string> token;
  if (auto file = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    token = read_file(*file);
    if (!token) {
      co_return fail(name(), Errc::invalid_argument,
                     "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
    }
    *token = trim(*token);
  } else {
    token = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (token) {
    req.headers.emplace_back("Authorization", *token);
  }
  auto response = co_await http_.fetch(std::move(req));
  if (!response) {
    co_return fail(name(), response.error().code,
                   "GET " + log::redact_url(url) + " failed: " + response.error().message);
  }
  if (response->status != 200) {
    co_return fail(
        name(), Errc::upstream_error,
        "GET " + log::redact_url(url) + " returned HTTP " + std::to_string(response->status));
  }
  co_return parse_json_credentials(name(), response->body, "Token", false);
}

// --- ImdsProvider ---

boost::asio::awaitable<Result<AwsCredentials>> ImdsProvider::resolve() {
  if (lower(env_("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") {
    co_return fail(name(), Errc::not_found, "disabled by AWS_EC2_METADATA_DISABLED");
  }
  std::string base =
      strip_slash(env_("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254"));

  HttpRequest token_req;
  token_req.method = "PUT";
  token_req.url = base + "/latest/api/token";
  token_req.metadata = true;
  token_req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  auto token = co_await http_.fetch(std::move(token_req));
  if (!token) {
    // Not on EC2 (or no route to IMDS): quietly not configured.
    co_return fail(name(), Errc::not_found,
                   "instance metadata service unreachable: " + token.error().message);
  }
  if (token->status != 200 || token->body.empty()) {
    co_return fail(name(), Errc::upstream_error,
                   "IMDSv2 session token request returned HTTP " + std::to_string(token->status));
  }
  const std::string session = trim(token->body);

  HttpRequest list_req;
  list_req.url = base + "/latest/meta-data/iam/security-credentials/";
  list_req.metadata = true;
  list_req.headers.emplace_back("X-aws-ec2-metadata-token", session);
  auto list = co_await http_.fetch(std::move(list_req));
  if (!list) {
    co_return fail(name(), list.error().code,
                   "listing the instance role failed: " + list.error().message);
  }
  if (list->status == 404) {
    co_return fail(name(), Errc::not_found, "the instance has no IAM role");
  }
  if (list->status != 200) {
    co_return fail(name(), Errc::upstream_error,
                   "listing the instance role returned HTTP " + std::to_string(list->status));
  }
  std::string role = trim(list->body.substr(0, list->body.find('\n')));
  if (role.empty() || role.find('/') != std::string::npos) {
    co_return fail(name(), Errc::upstream_error, "the instance role name is empty or invalid");
  }

  HttpRequest cred_req;
  cred_req.url = base + "/latest/meta-data/iam/security-credentials/" + role;
  cred_req.metadata = true;
  cred_req.headers.emplace_back("X-aws-ec2-metadata-token", session);
  auto creds = co_await http_.fetch(std::move(cred_req));
  if (!creds) {
    co_return fail(name(), creds.error().code,
                   "fetching credentials of role " + role + " failed: " + creds.error().message);
  }
  if (creds->status != 200) {
    co_return fail(
        name(), Errc::upstream_error,
        "fetching credentials of role " + role + " returned HTTP " + std::to_string(creds->status));
  }
  co_return parse_json_credentials(name(), creds->body, "Token", false);
}

// --- ChainProvider ---

ChainProvider::ChainProvider(std::vector<CredentialsProviderPtr>&& providers, Clock clock,
                             std::chrono::seconds refresh_early)
    : providers_(std::move(providers)), clock_(std::move(clock)), refresh_early_(refresh_early) {}

bool ChainProvider::usable(const AwsCredentials& c, TimePoint now, bool with_margin) const {
  if (!c.expiration) {
    return true;
  }
  return now < *c.expiration - (with_margin ? refresh_early_ : std::chrono::seconds(0));
}

void ChainProvider::invalidate() {
  std::lock_guard lock(mu_);
  cached_.reset();
}

boost::asio::awaitable<Result<AwsCredentials>> ChainProvider::resolve() {
  for (int round = 0; round < 2; ++round) {
    uint64_t seen = gate_.generation();
    {
      std::lock_guard lock(mu_);
      if (cached_ && usable(*cached_, clock_(), true)) {
        co_return *cached_;
      }
    }
    if (gate_.try_lead()) {
      auto fresh = co_await resolve_uncached();
      Result<AwsCredentials> out = make_error(Errc::internal, "");
      {
        std::lock_guard lock(mu_);
        if (fresh) {
          cached_ = *fresh;
          last_error_.reset();
          out = *fresh;
        } else {
          last_error_ = fresh.error();
          if (cached_ && usable(*cached_, clock_(), false)) {
            ARCA_LOG_WARN(
                "aws credentials: refresh failed, using the current ones until they "
                "expire: {}",
                fresh.error().message);
            out = *cached_;
          } else {
            out = fresh.error();
          }
        }
      }
      gate_.finish();
      co_return out;
    }
    co_await gate_.wait();
    if (gate_.generation() != seen) {
      std::lock_guard lock(mu_);
      if (cached_ && usable(*cached_, clock_(), false)) {
        co_return *cached_;
      }
      if (last_error_) {
        co_return *last_error_;
      }
    }
  }
  co_return make_error(Errc::unavailable, "aws credentials: no provider resolved");
}

boost::asio::awaitable<Result<AwsCredentials>> ChainProvider::resolve_uncached() {
  std::vector<size_t> order;
  std::optional<size_t> remembered;
  {
    std::lock_guard lock(mu_);
    remembered = remembered_;
  }
  if (remembered) {
    order.push_back(*remembered);
  }
  for (size_t i = 0; i < providers_.size(); ++i) {
    if (!remembered || i != *remembered) {
      order.push_back(i);
    }
  }
  std::string tried;
  Errc code = Errc::unauthorized;
  for (size_t i : order) {
    auto r = co_await providers_[i]->resolve();
    if (r) {
      if (!usable(*r, clock_(), false)) {
        r = make_error(Errc::unauthorized, std::string(providers_[i]->name()) +
                                               ": the credentials are already expired");
      } else {
        std::lock_guard lock(mu_);
        remembered_ = i;
        co_return r;
      }
    }
    if (r.error().code != Errc::not_found) {
      code = r.error().code;
    }
    tried += (tried.empty() ? "" : "; ") + r.error().message;
  }
  std::string message = "no AWS credentials: " + (tried.empty() ? "no providers" : tried);
  ARCA_LOG_WARN("aws credentials: {}", message);
  co_return make_error(code == Errc::not_found ? Errc::unauthorized : code, message);
}

Result<ProcessOutput> run_process_blocking(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return make_error(Errc::internal, "could not start");
  ProcessOutput result;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0 && result.out.size() < (1 << 20)) {
    result.out.append(buf.data(), n);
  }
  result.status = ::pclose(pipe);
  return result;
}

namespace {
boost::asio::awaitable<Result<ProcessOutput>> run_process_inline(std::string command) {
  co_return run_process_blocking(command);
}
}  // namespace

ProfileProvider::ProfileProvider(EnvLookup env, HttpFetcher& fetcher, Clock clock,
                                 ProcessRunner runner)
    : env_(std::move(env)),
      http_(fetcher),
      clock_(std::move(clock)),
      runner_(runner ? std::move(runner) : ProcessRunner(&run_process_inline)) {}

std::unique_ptr<ChainProvider> make_default_chain(const EnvLookup& env, HttpFetcher& fetcher,
                                                  Clock clock, ProcessRunner runner) {
  std::vector<CredentialsProviderPtr> providers;
  providers.push_back(std::make_unique<EnvProvider>(env));
  providers.push_back(std::make_unique<WebIdentityProvider>(env, fetcher));
  providers.push_back(std::make_unique<ProfileProvider>(env, fetcher, clock, std::move(runner)));
  providers.push_back(std::make_unique<EcsProvider>(env, fetcher));
  providers.push_back(std::make_unique<ImdsProvider>(env, fetcher));
  return std::make_unique<ChainProvider>(std::move(providers), std::move(clock));
}

}  // namespace arca::auth
