#pragma once
// Digests of asset bytes (OpenSSL EVP), hex and base64 helpers.
// Thread-safety: Hasher is not thread-safe; the free functions are.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace arca {

using Sha256 = std::array<uint8_t, 32>;
using Sha512 = std::array<uint8_t, 64>;
using Sha1 = std::array<uint8_t, 20>;
using Md5 = std::array<uint8_t, 16>;

// Every digest a package manager may ask for, computed in one pass.
struct Digests {
  Sha256 sha256{};
  Sha512 sha512{};
  Sha1 sha1{};
  Md5 md5{};
};

// Computes SHA-256, SHA-512, SHA-1 and MD5 of a byte stream in one pass.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void update(std::span<const uint8_t> bytes);
  void update(std::string_view bytes) {
    update(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  // Prereq: called once; the hasher is spent afterwards.
  Digests finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Digests digest_of(std::string_view bytes);
Sha256 sha256_of(std::string_view bytes);

std::string to_hex(std::span<const uint8_t> bytes);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) {
  return to_hex(std::span<const uint8_t>(a.data(), a.size()));
}
// Lower- or upper-case hex; nullopt if not exactly 2*N hex digits.
template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex(std::string_view hex);

std::string base64_encode(std::span<const uint8_t> bytes);
inline std::string base64_encode(std::string_view s) {
  return base64_encode(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
template <size_t N>
std::string base64_encode(const std::array<uint8_t, N>& a) {
  return base64_encode(std::span<const uint8_t>(a.data(), a.size()));
}
// Standard alphabet with padding; whitespace is ignored. nullopt on malformed input.
std::optional<std::string> base64_decode(std::string_view text);

// Subresource Integrity string ("sha512-<base64>") for npm's dist.integrity.
std::string sri_sha512(const Sha512& d);

// Constant-time comparison for secrets.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace arca
