#include "lmdb_handle.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

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
