#include "store_checksum.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "lmdb_handle.h"

namespace dnsverdict {
namespace {

constexpr std::size_t kMagicSize = 8;
// Read on the stack: a store opened every few seconds allocates no buffer for it.
constexpr std::size_t kChunk = 64 << 10;

[[noreturn]] void io_error(const std::string& path, const char* what) {
  int code = errno;
  throw StoreError(path + ": " + what + ": " + std::strerror(code), code);
}

// XXH3-128 of the first `length` octets of `fd`.
XXH128_hash_t hash_prefix(int fd, std::uint64_t length, const std::string& path) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                  &XXH3_freeState);
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) throw std::bad_alloc();
  std::array<unsigned char, kChunk> buffer;
  std::uint64_t offset = 0;
  while (offset < length) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, length - offset));
    ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      io_error(path, "cannot read the store");
    }
    if (got == 0) throw StoreError(path + ": the store is damaged (the file shrank while read)");
    XXH3_128bits_update(state.get(), buffer.data(), static_cast<std::size_t>(got));
    offset += static_cast<std::uint64_t>(got);
  }
  return XXH3_128bits_digest(state.get());
}

std::string hex(const XXH128_hash_t& hash) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(hash.high64),
                static_cast<unsigned long long>(hash.low64));
  return text;
}

void put_u64(unsigned char* out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}
std::uint64_t get_u64(const unsigned char* in) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | in[i];
  return value;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string describe(const StoreChecksum& checksum) {
  if (checksum.state == ChecksumState::kVerified) return "verified (XXH3-128 " + checksum.hash + ")";
  return "none (written by an older dnsverdict compile; not verified)";
}

void append_checksum_trailer(const std::string& path) {
  Fd file;
  file.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (file.fd < 0) io_error(path, "cannot open the store to checksum it");
  struct stat info;
  if (::fstat(file.fd, &info) != 0) io_error(path, "cannot stat the store");
  auto length = static_cast<std::uint64_t>(info.st_size);
  XXH128_hash_t hash = hash_prefix(file.fd, length, path);
  unsigned char trailer[kChecksumTrailerSize];
  std::memcpy(trailer, kChecksumMagic, kMagicSize);
  put_u64(trailer + 8, length);
  put_u64(trailer + 16, hash.high64);
  put_u64(trailer + 24, hash.low64);
  std::size_t written = 0;
  while (written < sizeof trailer) {
    ssize_t rc = ::pwrite(file.fd, trailer + written, sizeof trailer - written,
                          static_cast<off_t>(length + written));
    if (rc < 0) {
      if (errno == EINTR) continue;
      io_error(path, "cannot write the checksum");
    }
    written += static_cast<std::size_t>(rc);
  }
}

StoreChecksum verify_checksum(int fd, std::uint64_t size, const std::string& path) {
  StoreChecksum result;
  unsigned char trailer[kChecksumTrailerSize];
  bool has_magic = false;
  if (size >= kChecksumTrailerSize) {
    ssize_t got = ::pread(fd, trailer, sizeof trailer, static_cast<off_t>(size - sizeof trailer));
    if (got < 0) io_error(path, "cannot read the store");
    has_magic = got == static_cast<ssize_t>(sizeof trailer) &&
                std::memcmp(trailer, kChecksumMagic, kMagicSize) == 0;
  }
  if (!has_magic) {
    if (size % 512 == 0) return result;  // an older store: LMDB pages only
    throw StoreError(path + ": the store is damaged (its checksum trailer is missing or damaged: "
                     "not a verdict store, or a damaged one)");
  }
  std::uint64_t covered = get_u64(trailer + 8);
  if (covered != size - kChecksumTrailerSize)
    throw StoreError(path + ": the store is damaged (its checksum trailer covers " +
                     std::to_string(covered) + " octets of " +
                     std::to_string(size - kChecksumTrailerSize) + ")");
  XXH128_hash_t expected{get_u64(trailer + 24), get_u64(trailer + 16)};  // low64, high64
  XXH128_hash_t actual = hash_prefix(fd, covered, path);
  if (!XXH128_isEqual(expected, actual))
    throw StoreError(path + ": the store is damaged (checksum mismatch: the file has XXH3-128 " +
                     hex(actual) + ", its trailer says " + hex(expected) + ")");
  result.state = ChecksumState::kVerified;
  result.hash = hex(actual);
  return result;
}

}  // namespace dnsverdict
