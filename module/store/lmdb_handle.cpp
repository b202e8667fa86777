#include "lmdb_handle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dnsverdict {

std::string lmdb_message(std::string_view what, int code) {
  std::string message(what);
  message += ": ";
  message += mdb_strerror(code);  // covers LMDB's own codes and errno values
  return message;
}

void check_lmdb(int code, std::string_view what) {
  if (code != MDB_SUCCESS) throw StoreError(lmdb_message(what, code), code);
}

void check_meta_pages(const std::string& path) {
  // LMDB 0.9's layout (mdb.c, MDB_page, MDB_meta, MDB_db; 64-bit): a page header of 16 bytes
  // whose u16 at 10 holds the flags (P_META 0x08); then u32 magic 0xBEEFC0DE, u32 version 1,
  // the map address and size (8 bytes each), the free and the main database's records (48
  // bytes each: the free one's first u32 is the page size, each one's u64 at 40 its root
  // page), and the u64 last page. The first meta page is at 0, the second one page size on.
  constexpr std::uint16_t kMetaFlag = 0x08;
  constexpr std::uint32_t kMagic = 0xBEEFC0DE;
  constexpr std::uint64_t kNoPage = ~std::uint64_t{0};  // an empty database's root
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StoreError(path + ": " + std::strerror(errno), errno);
  std::uint64_t offset = 0;
  for (int meta = 0; meta < 2; ++meta) {
    unsigned char page[144];
    ssize_t got = ::pread(fd, page, sizeof page, static_cast<off_t>(offset));
    std::uint16_t flags;
    std::uint32_t magic, version, page_size;
    std::uint64_t free_root, main_root, last_page;
    std::memcpy(&flags, page + 10, sizeof flags);
    std::memcpy(&magic, page + 16, sizeof magic);
    std::memcpy(&version, page + 20, sizeof version);
    std::memcpy(&page_size, page + 40, sizeof page_size);
    std::memcpy(&free_root, page + 80, sizeof free_root);
    std::memcpy(&main_root, page + 128, sizeof main_root);
    std::memcpy(&last_page, page + 136, sizeof last_page);
    if (got != static_cast<ssize_t>(sizeof page) || (flags & kMetaFlag) == 0 || magic != kMagic ||
        version != 1)
      break;  // not LMDB, or not this version: mdb_env_open says which
    if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) {
      ::close(fd);
      throw StoreError(path + ": damaged LMDB meta page (page size " + std::to_string(page_size) +
                       ")");
    }
    // Pages 0 and 1 are the meta pages: a root there fails an assertion (abort) in LMDB.
    for (std::uint64_t root : {free_root, main_root}) {
      if (root != kNoPage && (root < 2 || root > last_page)) {
        ::close(fd);
        throw StoreError(path + ": damaged LMDB meta page (root page " + std::to_string(root) +
                         " of " + std::to_string(last_page) + ")");
      }
    }
    offset = page_size;
  }
  ::close(fd);
}

void check_file_complete(MDB_env* env, const std::string& path) {
  MDB_envinfo info;
  MDB_stat stat;
  check_lmdb(mdb_env_info(env, &info), path);
  check_lmdb(mdb_env_stat(env, &stat), path);
  int fd = -1;
  check_lmdb(mdb_env_get_fd(env, &fd), path);
  struct stat file;
  if (::fstat(fd, &file) != 0) throw StoreError(path + ": cannot stat the opened file");
  auto needed = static_cast<std::uint64_t>(info.me_last_pgno + 1) * stat.ms_psize;
  if (static_cast<std::uint64_t>(file.st_size) < needed)
    throw StoreError(path + ": the file is truncated (" + std::to_string(file.st_size) + " of " +
                     std::to_string(needed) + " bytes)");
}

FileMappings FileMappings::of(MDB_env* env) {
  FileMappings mappings;
  int fd = -1;
  struct stat file;
  if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS || ::fstat(fd, &file) != 0) return mappings;
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return mappings;
  char line[8192];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long long low = 0, high = 0, offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    if (std::sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &low, &high, &offset, &major, &minor,
                    &inode) != 6 ||
        inode != static_cast<unsigned long long>(file.st_ino) ||
        makedev(major, minor) != file.st_dev || offset != 0)
      continue;
    auto size = static_cast<unsigned long long>(file.st_size);
    Range range;
    range.begin = static_cast<std::uintptr_t>(low);
    range.end = static_cast<std::uintptr_t>(high - low < size ? high : low + size);
    mappings.ranges_.push_back(range);
  }
  std::fclose(maps);
  return mappings;
}

bool FileMappings::contains(const void* data, std::size_t size) const noexcept {
  if (ranges_.empty()) return true;
  auto address = reinterpret_cast<std::uintptr_t>(data);
  for (const Range& range : ranges_)
    if (address >= range.begin && address <= range.end && size <= range.end - address) return true;
  return false;
}

}  // namespace dnsverdict
