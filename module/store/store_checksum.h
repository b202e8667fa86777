// The checksum trailer of a verdict store, and its check before LMDB reads the file.
//
// LMDB trusts the pages of its file: a damaged B-tree page makes it read outside its map or
// fail an assertion (SIGSEGV, SIGBUS, abort), in whichever process opens the store — in the
// resolver, its store watcher thread. `dnsverdict compile` therefore appends, after LMDB's
// last page, 32 octets that cover every octet before them, and every reader verifies them
// before mdb_env_open:
//
//   offset 0   8  magic "DVSUM001"
//   offset 8   8  u64 little-endian: the length covered (the file's size less 32)
//   offset 16 16  XXH3-128 of those octets: high 64 bits, then low 64 bits, little-endian
//
// LMDB maps and reads only the pages its meta page says exist, so it never sees the trailer.
// An LMDB file's size is a multiple of its page size (512 to 65536, a power of two): a file
// whose size is a multiple of 512 and that ends without the magic is a store written before
// the trailer existed, accepted unverified; any other file without a valid trailer is
// refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dnsverdict {

inline constexpr std::size_t kChecksumTrailerSize = 32;
inline constexpr char kChecksumMagic[] = "DVSUM001";  // 8 octets, no terminator stored

enum class ChecksumState : std::uint8_t {
  kVerified,  // the trailer matched every octet before it
  kAbsent,    // no trailer: a store written by an older compiler, not verified
};

struct StoreChecksum {
  ChecksumState state = ChecksumState::kAbsent;
  std::string hash;  // XXH3-128 as 32 hex digits (kVerified only)
};

// "verified (XXH3-128 ...)" or "none (written by an older dnsverdict compile; not verified)".
std::string describe(const StoreChecksum& checksum);

// Appends the trailer to the complete LMDB file at `path` (not yet published). Throws
// StoreError naming the path (a read or write failure: disk full, ...).
void append_checksum_trailer(const std::string& path);

// Verifies the file open as `fd` (its size `size`), reading it with pread, never through a
// map: a file that shrinks meanwhile is an error, not a fault. Throws StoreError
// ("path: the store is damaged (checksum mismatch ...)" / "(checksum trailer ...)") or on a
// read failure.
StoreChecksum verify_checksum(int fd, std::uint64_t size, const std::string& path);

}  // namespace dnsverdict
