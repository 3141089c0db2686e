#pragma once
// AWS Signature Version 4: one canonical-request implementation used both to sign outgoing
// requests (issue 8: arca calling a real CodeArtifact) and to verify incoming ones (the /v1/
// control plane). Checked against the AWS SigV4 test suite (../shared/reference/sigv4/).
//
// Rules implemented (non-S3 services): the path is normalized (dot segments removed, empty
// segments collapsed) unless told otherwise, then URI-encoded once more (so a path that is
// already percent-encoded on the wire is encoded twice); query parameters are decoded, encoded
// with the RFC 3986 unreserved set (%20, never '+') and sorted by key, then value; header
// names are lower-cased, values trimmed with inner whitespace runs collapsed, repeated headers
// joined with ','.
//
// Thread-safety: free functions and plain values; safe from any thread.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::auth {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding of everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash).
std::string uri_encode(std::string_view s, bool keep_slash);
// Decodes %XX escapes; an invalid escape is kept literally ('+' stays '+').
std::string uri_decode(std::string_view s);

// The canonical URI of a path as given (as on the wire for verification).
std::string canonical_uri(std::string_view path, bool normalize = true);
// The canonical query string of a raw query (without '?'). Parameters named in `skip`
// (e.g. X-Amz-Signature for presigned URLs) are left out.
std::string canonical_query(std::string_view raw_query, const std::vector<std::string>& skip = {});
// "name:value\n" lines of the named (lower-case, sorted) headers.
std::string canonical_headers(const HeaderList& headers,
                              const std::vector<std::string>& signed_names);

std::string canonical_request(std::string_view method, std::string_view path,
                              std::string_view query, const HeaderList& headers,
                              const std::vector<std::string>& signed_names,
                              std::string_view payload_hash, bool normalize = true);
// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>"
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);
std::array<uint8_t, 32> signing_key(std::string_view secret, std::string_view date8,
                                    std::string_view region, std::string_view service);
// Hex HMAC-SHA256 of the string to sign with the signing key.
std::string signature(const std::array<uint8_t, 32>& key, std::string_view string_to_sign);

std::string hex_sha256(std::string_view data);
// "20150830T123600Z" and back.
std::string amz_date(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s);

// --- Signing ---

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

struct SignOptions {
  std::string region;
  std::string service;
  bool normalize_path = true;
  // Adds x-amz-content-sha256 (the body's hash) as a signed header.
  bool sign_body = false;
  // Adds X-Amz-Security-Token after signing instead of signing it.
  bool omit_session_token = false;
};

// Adds X-Amz-Date, X-Amz-Security-Token (with a session token), x-amz-content-sha256 (with
// sign_body) and Authorization to `headers`, signing every header present except those that
// proxies rewrite (user-agent, expect, connection, transfer-encoding, x-amzn-trace-id).
// Prereq: `headers` contains Host.
void sign(std::string_view method, std::string_view path, std::string_view query,
          HeaderList& headers, std::string_view body, const Credentials& credentials,
          const SignOptions& options, std::chrono::system_clock::time_point now);

// --- Verification ---

struct IncomingRequest {
  std::string_view method;
  std::string_view path;   // as on the wire
  std::string_view query;  // as on the wire, without '?'
  const HeaderList* headers = nullptr;
  std::string_view body;
};

struct VerifyOptions {
  std::string service = "codeartifact";
  // Scope region that is accepted; empty accepts any.
  std::string region;
  std::chrono::seconds max_skew{15 * 60};
};

struct Verified {
  std::string access_key_id;
};

// A failure in the terms AWS uses: the error type (x-amzn-ErrorType) and message; always 403.
struct VerifyFailure {
  std::string type;  // MissingAuthenticationTokenException, IncompleteSignatureException,
                     // UnrecognizedClientException, InvalidSignatureException
  std::string message;
};

struct VerifyResult {
  std::optional<Verified> ok;
  VerifyFailure failure;
  explicit operator bool() const { return ok.has_value(); }
};

// Secret key of an access key id, or nullopt if unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Verifies an Authorization-header SigV4 request. The payload hash is the signed
// x-amz-content-sha256 header when present, else the SHA-256 of the body (the AWS CLI sends no
// such header). Never reveals the expected signature.
VerifyResult verify(const IncomingRequest& request, const SecretLookup& lookup,
                    const VerifyOptions& options, std::chrono::system_clock::time_point now);

}  // namespace arca::auth
