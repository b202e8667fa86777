// The secret client addresses are hashed with before they reach a sketch (hit_counters.h).
//
// A sketch register keeps bits of a hash of each client address. Unkeyed, anyone who can
// read the stats store could hash an address and test whether it asked for a rule in an
// hour. Keyed with a secret per deployment, the registers say nothing about an address
// without the key. Resolvers whose stats are merged share the key (the same key file), or
// the same client would count once per resolver; the stats store records the key's
// fingerprint (never the key) and refuses buckets hashed with another.
//
// The hash is SipHash-2-4 (Aumasson and Bernstein, 2012): a pseudorandom function with a
// 128-bit key, so the fingerprint (the hash of a fixed text) and the sketches reveal nothing
// of the key. XXH3 with a secret would be cheaper but is no PRF: for 4- to 8-byte inputs
// (an IPv4 address) its output is an invertible mix of the input XOR a key-derived
// constant, so one known (address, hash) pair would give the key away.
//
// Thread safety: a ClientHashKey is an immutable value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dnsverdict {

class ClientHashKey {
 public:
  static constexpr std::size_t kBytes = 16;

  // The key made of 16 bytes (k0 little-endian from the first 8, k1 from the next 8).
  static ClientHashKey from_bytes(const std::uint8_t (&bytes)[kBytes]) noexcept;
  // 32 hex digits (either case), surrounding white space ignored; nullopt otherwise.
  static std::optional<ClientHashKey> parse(std::string_view text);
  // A new key from the kernel's random source. Throws std::system_error when it fails.
  static ClientHashKey random();

  // 32 lowercase hex digits (what the key file holds).
  std::string to_text() const;
  // SipHash-2-4 of the bytes under this key.
  std::uint64_t hash(const void* data, std::size_t size) const noexcept;
  // 16 hex digits that tell keys apart without revealing them: the key's hash of a fixed
  // text.
  std::string fingerprint() const;

  friend bool operator==(const ClientHashKey& a, const ClientHashKey& b) noexcept {
    return a.k0_ == b.k0_ && a.k1_ == b.k1_;
  }
  friend bool operator!=(const ClientHashKey& a, const ClientHashKey& b) noexcept {
    return !(a == b);
  }

 private:
  std::uint64_t k0_ = 0;
  std::uint64_t k1_ = 0;
};

// The key in the file at `path` (32 hex digits and a newline). When there is no file, a
// new random key is written there first: mode 0600, created through a temporary file
// (O_EXCL | O_NOFOLLOW) and hard-linked into place, so two processes racing to create it
// end with the same key; `created` tells whether this call made it. Throws StoreError
// naming the path when the file cannot be read or created, or does not hold a key.
ClientHashKey load_or_create_client_key(const std::string& path, bool& created);

}  // namespace dnsverdict
