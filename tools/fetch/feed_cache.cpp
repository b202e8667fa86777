#include "feed_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "diagnostics.h"

namespace dnsverdict {
namespace {

// One read into a string of the file's size: held feeds can be hundreds of megabytes.
std::optional<std::string> read_file_if_any(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw ToolError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string content;
  struct stat info;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode))
    content.resize(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  for (;;) {
    if (done == content.size()) content.resize(done + (1 << 16));
    ssize_t got = ::read(fd, content.data() + done, content.size() - done);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      throw ToolError(fmt::format("{}: cannot read: {}", path, std::strerror(saved)));
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  content.resize(done);
  return content;
}

void write_atomically(const std::string& path, std::string_view content) {
  std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw ToolError(fmt::format("{}: cannot write: {}", temp, std::strerror(errno)));
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t wrote = ::write(fd, content.data() + done, content.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      int saved = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      throw ToolError(fmt::format("{}: cannot write: {}", temp, std::strerror(saved)));
    }
    done += static_cast<std::size_t>(wrote);
  }
  int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp.c_str());
    throw ToolError(fmt::format("{}: cannot replace: {}", path, std::strerror(saved)));
  }
}

// True when the file at `path` holds exactly `content`; false when it differs or cannot be
// read. Comparing costs a read of the file, in the page cache when it was written recently:
// much less than writing, syncing and replacing it.
bool holds(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat info;
  bool same = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
              static_cast<std::uint64_t>(info.st_size) == content.size();
  constexpr std::size_t kChunk = 1 << 20;
  std::unique_ptr<char[]> buffer(same ? new char[kChunk] : nullptr);
  std::size_t done = 0;
  while (same && done < content.size()) {
    ssize_t got = ::read(fd, buffer.get(), std::min(kChunk, content.size() - done));
    if (got < 0 && errno == EINTR) continue;
    same = got > 0 && std::memcmp(buffer.get(), content.data() + done,
                                  static_cast<std::size_t>(got)) == 0;
    if (same) done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return same;
}

}  // namespace

std::string FeedCache::base_path(std::string_view origin) const {
  std::string readable;
  for (char c : origin.substr(origin.size() > 60 ? origin.size() - 60 : 0)) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    readable.push_back(keep ? c : '_');
  }
  return fmt::format("{}/{}-{:016x}", folder_, readable, XXH3_64bits(origin.data(), origin.size()));
}

std::optional<CachedFeed> FeedCache::load(std::string_view origin, bool with_text) const {
  std::string base = base_path(origin);
  std::optional<std::string> meta = read_file_if_any(base + ".meta");
  if (!meta) return std::nullopt;
  CachedFeed feed;
  if (with_text) {
    std::optional<std::string> text = read_file_if_any(base + ".feed");
    if (!text) return std::nullopt;
    feed.text = std::move(*text);
  } else {
    struct stat info;
    if (::stat((base + ".feed").c_str(), &info) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throw ToolError(fmt::format("{}.feed: cannot read: {}", base, std::strerror(errno)));
    }
  }
  std::istringstream lines(*meta);
  std::string line;
  while (std::getline(lines, line)) {
    std::size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string key = line.substr(0, space), value = line.substr(space + 1);
    try {
      if (key == "origin") feed.origin = value;
      else if (key == "etag") feed.etag = value;
      else if (key == "last-modified") feed.last_modified = value;
      else if (key == "serial") feed.serial = static_cast<std::uint32_t>(std::stoul(value));
      else if (key == "entries") feed.entries = std::stoull(value);
      else if (key == "time") feed.time = std::stoll(value);
    } catch (const std::exception&) {
      throw ToolError(fmt::format("{}.meta: bad value for {}: \"{}\"", base, key, value));
    }
  }
  if (feed.origin != origin) return std::nullopt;  // a hash collision: not our copy
  return feed;
}

void FeedCache::load_text(CachedFeed& feed) const {
  std::string path = base_path(feed.origin) + ".feed";
  std::optional<std::string> text = read_file_if_any(path);
  if (!text) throw ToolError(fmt::format("{}: the last good copy is gone", path));
  feed.text = std::move(*text);
}

void FeedCache::save(const CachedFeed& feed) const {
  std::error_code error;
  std::filesystem::create_directories(folder_, error);
  if (error) throw ToolError(fmt::format("{}: cannot create the feed cache: {}", folder_, error.message()));
  std::string base = base_path(feed.origin);
  std::string meta = fmt::format("origin {}\nentries {}\ntime {}\n", feed.origin, feed.entries, feed.time);
  if (!feed.etag.empty()) meta += fmt::format("etag {}\n", feed.etag);
  if (!feed.last_modified.empty()) meta += fmt::format("last-modified {}\n", feed.last_modified);
  if (feed.serial) meta += fmt::format("serial {}\n", *feed.serial);
  // A feed that arrives unchanged keeps its text file: only its metadata is new.
  if (!holds(base + ".feed", feed.text)) write_atomically(base + ".feed", feed.text);
  write_atomically(base + ".meta", meta);
}

}  // namespace dnsverdict
