#pragma once
// Authorization tokens arca issues (GetAuthorizationToken) and accepts on the data plane.
//
// A token is "arca1.<payload>.<mac>", both parts base64url without padding, so it is safe in
// URL userinfo (pip), npm _authToken and HTTP Basic passwords. The payload carries the domain,
// its owner, the issuing access key, the expiry and a random nonce; the MAC is HMAC-SHA256 with
// a per-install secret. Tokens are never stored: verifying needs only the secret.
//
// Thread-safety: TokenService is immutable after construction; safe from any thread.

#include "common/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arca::auth {

struct TokenClaims {
  std::string domain;
  std::string owner;          // account id of the domain owner
  std::string access_key_id;  // who asked for it (empty for unsigned local requests)
  int64_t expires_unix = 0;   // seconds
  int64_t issued_unix = 0;
};

class TokenService {
 public:
  // Prereq: secret has at least 32 bytes.
  explicit TokenService(std::string secret);

  std::string issue(const TokenClaims& claims) const;
  // Errors: unauthorized (malformed, forged or expired token; the message says which, never
  // echoing the token).
  [[nodiscard]] Result<TokenClaims> verify(std::string_view token,
                                           std::chrono::system_clock::time_point now) const;

  // 32 random bytes (OpenSSL RAND_bytes) for a new install's secret.
  static std::string generate_secret();

 private:
  std::string secret_;
};

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace arca::auth
