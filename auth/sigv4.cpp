#include "auth/sigv4.hpp"

#include "common/digest.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace arca::auth {

namespace {

constexpr std::string_view k_algorithm = "AWS4-HMAC-SHA256";

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of whitespace (including folded line breaks) to one space.
std::string normalize_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::array<uint8_t, 32> hmac(std::string_view key, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}
std::string_view as_view(const std::array<uint8_t, 32>& a) {
  return std::string_view(reinterpret_cast<const char*>(a.data()), a.size());
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses "k=v, k=v" (the part of the Authorization header after the algorithm).
std::map<std::string, std::string> parse_auth_params(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    auto comma = s.find(',', pos);
    auto part =
        s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos)
      out[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    auto next = s.find(sep, pos);
    out.emplace_back(
        s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

std::string uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string canonical_uri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  if (!normalize) return uri_encode(path, true);
  std::vector<std::string_view> out;
  size_t pos = 0;
  bool trailing = false;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    auto seg =
        path.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    trailing = false;
    if (seg.empty() || seg == ".") {
      trailing = true;
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing = true;
    } else {
      out.push_back(seg);
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  std::string joined = "/";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) joined += '/';
    joined += out[i];
  }
  if (trailing && !out.empty()) joined += '/';
  return uri_encode(joined, true);
}

std::string canonical_query(std::string_view raw_query, const std::vector<std::string>& skip) {
  if (raw_query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& part : split(raw_query, '&')) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = uri_decode(std::string_view(part).substr(0, eq));
    std::string value =
        eq == std::string::npos ? "" : uri_decode(std::string_view(part).substr(eq + 1));
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    params.emplace_back(uri_encode(key, false), uri_encode(value, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string canonical_headers(const HeaderList& headers,
                              const std::vector<std::string>& signed_names) {
  std::string out;
  for (auto& name : signed_names) {
    std::string joined;
    bool any = false;
    for (auto& [k, v] : headers) {
      if (lower(k) != name) continue;
      if (any) joined += ',';
      joined += normalize_value(v);
      any = true;
    }
    out += name;
    out += ':';
    out += joined;
    out += '\n';
  }
  return out;
}

std::string canonical_request(std::string_view method, std::string_view path,
                              std::string_view query, const HeaderList& headers,
                              const std::vector<std::string>& signed_names,
                              std::string_view payload_hash, bool normalize) {
  std::string out;
  out += method;
  out += '\n';
  out += canonical_uri(path, normalize);
  out += '\n';
  out += canonical_query(query);
  out += '\n';
  out += canonical_headers(headers, signed_names);
  out += '\n';
  for (size_t i = 0; i < signed_names.size(); ++i) {
    if (i) out += ';';
    out += signed_names[i];
  }
  out += '\n';
  out += payload_hash;
  return out;
}

std::string hex_sha256(std::string_view data) { return to_hex(sha256_of(data)); }

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical) {
  std::string out(k_algorithm);
  out += '\n';
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += hex_sha256(canonical);
  return out;
}

std::array<uint8_t, 32> signing_key(std::string_view secret, std::string_view date8,
                                    std::string_view region, std::string_view service) {
  auto k_date = hmac("AWS4" + std::string(secret), date8);
  auto k_region = hmac(as_view(k_date), region);
  auto k_service = hmac(as_view(k_region), service);
  return hmac(as_view(k_service), "aws4_request");
}

std::string signature(const std::array<uint8_t, 32>& key, std::string_view sts) {
  return to_hex(hmac(as_view(key), sts));
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[20];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) { return std::stoi(std::string(s.substr(pos, len))); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

void sign(std::string_view method, std::string_view path, std::string_view query,
          HeaderList& headers, std::string_view body, const Credentials& credentials,
          const SignOptions& options, std::chrono::system_clock::time_point now) {
  const std::string date = amz_date(now);
  headers.emplace_back("X-Amz-Date", date);
  const std::string payload_hash = hex_sha256(body);
  if (options.sign_body) headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty() && !options.omit_session_token) {
    headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  static const std::vector<std::string> k_unsigned = {
      "authorization", "user-agent",        "expect",
      "connection",    "transfer-encoding", "x-amzn-trace-id"};
  std::vector<std::string> names;
  for (auto& [k, v] : headers) {
    auto n = lower(k);
    if (std::find(k_unsigned.begin(), k_unsigned.end(), n) != k_unsigned.end()) continue;
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  const std::string scope =
      date.substr(0, 8) + "/" + options.region + "/" + options.service + "/aws4_request";
  auto creq =
      canonical_request(method, path, query, headers, names, payload_hash, options.normalize_path);
  auto sts = string_to_sign(date, scope, creq);
  auto sig = signature(signing_key(credentials.secret_access_key, date.substr(0, 8), options.region,
                                   options.service),
                       sts);
  std::string signed_list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) signed_list += ';';
    signed_list += names[i];
  }
  if (!credentials.session_token.empty() && options.omit_session_token) {
    headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  headers.emplace_back("Authorization",
                       std::string(k_algorithm) + " Credential=" + credentials.access_key_id + "/" +
                           scope + ", SignedHeaders=" + signed_list + ", Signature=" + sig);
}

VerifyResult verify(const IncomingRequest& req, const SecretLookup& lookup,
                    const VerifyOptions& options, std::chrono::system_clock::time_point now) {
  VerifyResult result;
  auto fail = [&](std::string type, std::string message) {
    result.failure = VerifyFailure{std::move(type), std::move(message)};
    return result;
  };
  const HeaderList& headers = *req.headers;
  auto header = [&](std::string_view name) -> std::optional<std::string> {
    for (auto& [k, v] : headers) {
      if (lower(k) == name) return v;
    }
    return std::nullopt;
  };
  auto authorization = header("authorization");
  if (!authorization || authorization->empty()) {
    return fail("MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  std::string_view auth = *authorization;
  if (auth.rfind(k_algorithm, 0) != 0 || auth.size() <= k_algorithm.size() ||
      auth[k_algorithm.size()] != ' ') {
    return fail("IncompleteSignatureException",
                "Authorization header requires the AWS4-HMAC-SHA256 algorithm (SigV4)");
  }
  auto params = parse_auth_params(auth.substr(k_algorithm.size() + 1));
  auto credential = params.find("Credential");
  auto signed_headers = params.find("SignedHeaders");
  auto given_signature = params.find("Signature");
  if (credential == params.end() || signed_headers == params.end() ||
      given_signature == params.end()) {
    return fail(
        "IncompleteSignatureException",
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters");
  }
  auto cred_parts = split(credential->second, '/');
  if (cred_parts.size() != 5 || cred_parts[4] != "aws4_request" || cred_parts[1].size() != 8) {
    return fail("IncompleteSignatureException",
                "Credential must have the form <key id>/<date>/<region>/<service>/aws4_request");
  }
  const std::string& key_id = cred_parts[0];
  auto secret = lookup(key_id);
  if (!secret) {
    return fail("UnrecognizedClientException",
                "The security token included in the request is invalid.");
  }
  if (cred_parts[3] != options.service) {
    return fail("InvalidSignatureException",
                "Credential should be scoped to correct service: '" + options.service + "'.");
  }
  if (!options.region.empty() && cred_parts[2] != options.region) {
    return fail("InvalidSignatureException",
                "Credential should be scoped to a valid region, not '" + cred_parts[2] + "'.");
  }
  auto date_header = header("x-amz-date");
  if (!date_header) {
    return fail("IncompleteSignatureException",
                "Authorization header requires an X-Amz-Date header");
  }
  auto when = parse_amz_date(*date_header);
  if (!when)
    return fail("IncompleteSignatureException", "X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ");
  if (date_header->substr(0, 8) != cred_parts[1]) {
    return fail("InvalidSignatureException", "Credential date does not match X-Amz-Date");
  }
  if (*when < now - options.max_skew || *when > now + options.max_skew) {
    return fail("InvalidSignatureException",
                "Signature expired: " + *date_header + " is now earlier or later than " +
                    amz_date(now) + " by more than " +
                    std::to_string(options.max_skew.count() / 60) + " min.");
  }
  std::vector<std::string> names = split(signed_headers->second, ';');
  if (std::find(names.begin(), names.end(), "host") == names.end()) {
    return fail("InvalidSignatureException", "'Host' must be a signed header");
  }
  for (auto& n : names) {
    if (n != lower(n) || n.empty())
      return fail("InvalidSignatureException", "SignedHeaders must be lower-case");
    if (!header(n))
      return fail("InvalidSignatureException", "signed header '" + n + "' is missing");
  }
  if (!std::is_sorted(names.begin(), names.end())) {
    return fail("InvalidSignatureException", "SignedHeaders must be sorted");
  }
  std::string payload_hash;
  if (auto h = header("x-amz-content-sha256");
      h && std::find(names.begin(), names.end(), "x-amz-content-sha256") != names.end()) {
    payload_hash = *h;
  } else {
    payload_hash = hex_sha256(req.body);
  }
  auto creq =
      canonical_request(req.method, req.path, req.query, headers, names, payload_hash, true);
  const std::string scope = credential->second.substr(key_id.size() + 1);
  auto sts = string_to_sign(*date_header, scope, creq);
  auto expected = signature(signing_key(*secret, cred_parts[1], cred_parts[2], cred_parts[3]), sts);
  if (!constant_time_equal(expected, given_signature->second)) {
    return fail(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.");
  }
  result.ok = Verified{key_id};
  return result;
}

}  // namespace arca::auth
