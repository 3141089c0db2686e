#include "common/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace arca {

struct Hasher::State {
  EVP_MD_CTX* sha256 = EVP_MD_CTX_new();
  EVP_MD_CTX* sha512 = EVP_MD_CTX_new();
  EVP_MD_CTX* sha1 = EVP_MD_CTX_new();
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  State() {
    if (!sha256 || !sha512 || !sha1 || !md5 || !EVP_DigestInit_ex(sha256, EVP_sha256(), nullptr) ||
        !EVP_DigestInit_ex(sha512, EVP_sha512(), nullptr) ||
        !EVP_DigestInit_ex(sha1, EVP_sha1(), nullptr) || !EVP_DigestInit_ex(md5, EVP_md5(), nullptr)) {
      throw std::bad_alloc();
    }
  }
  ~State() {
    EVP_MD_CTX_free(sha256);
    EVP_MD_CTX_free(sha512);
    EVP_MD_CTX_free(sha1);
    EVP_MD_CTX_free(md5);
  }
};

Hasher::Hasher() : state_(std::make_unique<State>()) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const uint8_t> bytes) {
  EVP_DigestUpdate(state_->sha256, bytes.data(), bytes.size());
  EVP_DigestUpdate(state_->sha512, bytes.data(), bytes.size());
  EVP_DigestUpdate(state_->sha1, bytes.data(), bytes.size());
  EVP_DigestUpdate(state_->md5, bytes.data(), bytes.size());
}

Digests Hasher::finish() {
  Digests d;
  unsigned int n = 0;
  EVP_DigestFinal_ex(state_->sha256, d.sha256.data(), &n);
  EVP_DigestFinal_ex(state_->sha512, d.sha512.data(), &n);
  EVP_DigestFinal_ex(state_->sha1, d.sha1.data(), &n);
  EVP_DigestFinal_ex(state_->md5, d.md5.data(), &n);
  return d;
}

Digests digest_of(std::string_view bytes) {
  Hasher h;
  h.update(bytes);
  return h.finish();
}

Sha256 sha256_of(std::string_view bytes) {
  Sha256 out{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_digits[bytes[i] >> 4];
    out[2 * i + 1] = k_digits[bytes[i] & 0xf];
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex(std::string_view hex) {
  if (hex.size() != 2 * N) return std::nullopt;
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}
template std::optional<std::array<uint8_t, 16>> from_hex<16>(std::string_view);
template std::optional<std::array<uint8_t, 20>> from_hex<20>(std::string_view);
template std::optional<std::array<uint8_t, 32>> from_hex<32>(std::string_view);
template std::optional<std::array<uint8_t, 64>> from_hex<64>(std::string_view);

std::string base64_encode(std::span<const uint8_t> bytes) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
    out.push_back(k_alphabet[v >> 18 & 63]);
    out.push_back(k_alphabet[v >> 12 & 63]);
    out.push_back(k_alphabet[v >> 6 & 63]);
    out.push_back(k_alphabet[v & 63]);
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = bytes[i] << 16;
    out.push_back(k_alphabet[v >> 18 & 63]);
    out.push_back(k_alphabet[v >> 12 & 63]);
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = bytes[i] << 16 | bytes[i + 1] << 8;
    out.push_back(k_alphabet[v >> 18 & 63]);
    out.push_back(k_alphabet[v >> 12 & 63]);
    out.push_back(k_alphabet[v >> 6 & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') { ++pad; continue; }
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    else return std::nullopt;
    if (pad) return std::nullopt;  // data after padding
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  if (pad > 2 || bits >= 6) return std::nullopt;
  return out;
}

std::string sri_sha512(const Sha512& d) { return "sha512-" + base64_encode(d); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace arca
