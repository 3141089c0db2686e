#include "auth/token.hpp"

#include "common/digest.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include <array>

namespace arca::auth {

namespace {

constexpr std::string_view k_prefix = "arca1.";

std::string mac(const std::string& secret, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string s = base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (auto& c : s) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
  }
  return s;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '-')
      s += '+';
    else if (c == '_')
      s += '/';
    else if (std::isalnum(static_cast<unsigned char>(c)))
      s += c;
    else
      return std::nullopt;
  }
  while (s.size() % 4) s += '=';
  auto bytes = base64_decode(s);
  // Only the canonical spelling: the unused low bits of the last character must be zero, or
  // one MAC would have four spellings (RFC 4648 §3.5) and a token several equivalent strings.
  if (!bytes || base64url_encode(*bytes) != text) return std::nullopt;
  return bytes;
}

TokenService::TokenService(std::string secret) : secret_(std::move(secret)) {}

std::string TokenService::generate_secret() {
  std::string s(32, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size()));
  return s;
}

std::string TokenService::issue(const TokenClaims& c) const {
  std::string nonce(12, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
  nlohmann::json j = {{"d", c.domain},       {"o", c.owner},       {"k", c.access_key_id},
                      {"e", c.expires_unix}, {"i", c.issued_unix}, {"n", base64url_encode(nonce)}};
  std::string payload = base64url_encode(j.dump());
  std::string signed_part = std::string(k_prefix) + payload;
  return signed_part + "." + base64url_encode(mac(secret_, signed_part));
}

Result<TokenClaims> TokenService::verify(std::string_view token,
                                         std::chrono::system_clock::time_point now) const {
  if (token.rfind(k_prefix, 0) != 0 || token.size() > 4096) {
    return make_error(Errc::unauthorized, "the authorization token is not one arca issued");
  }
  auto dot = token.rfind('.');
  if (dot == std::string_view::npos || dot < k_prefix.size()) {
    return make_error(Errc::unauthorized, "the authorization token is malformed");
  }
  std::string_view signed_part = token.substr(0, dot);
  auto given = base64url_decode(token.substr(dot + 1));
  if (!given || !constant_time_equal(*given, mac(secret_, signed_part))) {
    return make_error(Errc::unauthorized, "the authorization token is invalid");
  }
  auto payload = base64url_decode(signed_part.substr(k_prefix.size()));
  if (!payload) return make_error(Errc::unauthorized, "the authorization token is malformed");
  auto j = nlohmann::json::parse(*payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::unauthorized, "the authorization token is malformed");
  }
  TokenClaims c;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  c.domain = str("d");
  c.owner = str("o");
  c.access_key_id = str("k");
  c.expires_unix = num("e");
  c.issued_unix = num("i");
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (c.expires_unix <= now_s)
    return make_error(Errc::unauthorized, "the authorization token has expired");
  return c;
}

}  // namespace arca::auth
