#include "client_hash.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "lmdb_handle.h"

namespace dnsverdict {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kFingerprintText[] = "dnsverdict client-hash key fingerprint";

inline std::uint64_t rotate(std::uint64_t value, int bits) noexcept {
  return value << bits | value >> (64 - bits);
}

inline std::uint64_t load_le64(const std::uint8_t* bytes) noexcept {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | bytes[i];
  return value;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() noexcept {
    v0 += v1;
    v1 = rotate(v1, 13);
    v1 ^= v0;
    v0 = rotate(v0, 32);
    v2 += v3;
    v3 = rotate(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotate(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotate(v1, 17);
    v1 ^= v2;
    v2 = rotate(v2, 32);
  }
  void compress(std::uint64_t block) noexcept {
    v3 ^= block;
    round();
    round();
    v0 ^= block;
  }
};

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex64(std::uint64_t value) {
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) text[static_cast<std::size_t>(i)] = kHexDigits[value & 15];
  return text;
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int code = errno) {
  throw StoreError(path + ": " + what + (code != 0 ? std::string(": ") + std::strerror(code) : ""),
                   code);
}

// Writes `text` to `path` mode 0600, never replacing anything there: a temporary file, then
// link(). False when `path` appeared meanwhile (another process created it).
bool create_exclusively(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(temporary.c_str(), kFlags, 0600);
  if (fd < 0 && errno == EEXIST && ::unlink(temporary.c_str()) == 0)
    fd = ::open(temporary.c_str(), kFlags, 0600);
  if (fd < 0) fail(temporary, "cannot create");
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                 ::fsync(fd) == 0;
  int code = errno;
  if (::close(fd) != 0 && written) {
    written = false;
    code = errno;
  }
  if (!written) {
    ::unlink(temporary.c_str());
    fail(temporary, "cannot write", code);
  }
  int linked = ::link(temporary.c_str(), path.c_str());
  code = errno;
  ::unlink(temporary.c_str());
  if (linked == 0) return true;
  if (code == EEXIST) return false;
  fail(path, "cannot create", code);
}

}  // namespace

ClientHashKey ClientHashKey::from_bytes(const std::uint8_t (&bytes)[kBytes]) noexcept {
  ClientHashKey key;
  key.k0_ = load_le64(bytes);
  key.k1_ = load_le64(bytes + 8);
  return key;
}

std::optional<ClientHashKey> ClientHashKey::parse(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.size() != 2 * kBytes) return std::nullopt;
  std::uint8_t bytes[kBytes];
  for (std::size_t i = 0; i < kBytes; ++i) {
    int high = hex_value(text[2 * i]), low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return from_bytes(bytes);
}

ClientHashKey ClientHashKey::random() {
  std::uint8_t bytes[kBytes];
  std::size_t filled = 0;
  while (filled < kBytes) {
    ssize_t got = ::getrandom(bytes + filled, kBytes - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    filled += static_cast<std::size_t>(got);
  }
  return from_bytes(bytes);
}

std::string ClientHashKey::to_text() const {
  std::string text;
  for (std::uint64_t half : {k0_, k1_})
    for (int i = 0; i < 8; ++i, half >>= 8) {
      text.push_back(kHexDigits[(half >> 4) & 15]);
      text.push_back(kHexDigits[half & 15]);
    }
  return text;
}

std::uint64_t ClientHashKey::hash(const void* data, std::size_t size) const noexcept {
  SipState state{0x736f6d6570736575ULL ^ k0_, 0x646f72616e646f6dULL ^ k1_,
                 0x6c7967656e657261ULL ^ k0_, 0x7465646279746573ULL ^ k1_};
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  const std::size_t whole = size - size % 8;
  for (std::size_t offset = 0; offset < whole; offset += 8) state.compress(load_le64(bytes + offset));
  std::uint64_t last = static_cast<std::uint64_t>(size) << 56;
  for (std::size_t i = whole; i < size; ++i) last |= std::uint64_t{bytes[i]} << (8 * (i - whole));
  state.compress(last);
  state.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) state.round();
  return state.v0 ^ state.v1 ^ state.v2 ^ state.v3;
}

std::string ClientHashKey::fingerprint() const {
  return hex64(hash(kFingerprintText, sizeof kFingerprintText - 1));
}

ClientHashKey load_or_create_client_key(const std::string& path, bool& created) {
  created = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream content;
      content << in.rdbuf();
      std::optional<ClientHashKey> key = ClientHashKey::parse(content.str());
      if (!key) fail(path, "not a client-hash key (expected 32 hex digits)", 0);
      return *key;
    }
    if (errno != ENOENT) fail(path, "cannot read");
    ClientHashKey key = ClientHashKey::random();
    if (create_exclusively(path, key.to_text() + "\n")) {
      created = true;
      return key;
    }
    // Another process created it meanwhile: use theirs.
  }
  fail(path, "cannot read", 0);
}

}  // namespace dnsverdict
