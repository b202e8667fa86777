#include "log_source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "diagnostics.h"

namespace dnsverdict {

LogSource::LogSource(const std::string& path) : name_(path == "-" ? "(stdin)" : path) {
  int fd = path == "-" ? dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ToolError(fmt::format("{}: {}", name_, std::strerror(errno)));
  struct stat status {};
  if (fstat(fd, &status) == 0) {
    if (S_ISDIR(status.st_mode)) {
      ::close(fd);
      throw ToolError(fmt::format("{}: is a folder", name_));
    }
    if (S_ISREG(status.st_mode)) size_ = static_cast<std::uint64_t>(status.st_size);
  }
  // zlib reads plain files transparently and inflates gzip (also concatenated members).
  file_ = gzdopen(fd, "rb");
  if (file_ == nullptr) {
    ::close(fd);
    throw ToolError(fmt::format("{}: cannot open (out of memory)", name_));
  }
  gzbuffer(file_, 1 << 18);
}

LogSource::~LogSource() {
  if (file_ != nullptr) gzclose(file_);
}

LogSource::LogSource(LogSource&& other) noexcept
    : name_(std::move(other.name_)),
      file_(other.file_),
      compressed_(other.compressed_),
      size_(other.size_),
      lookahead_(std::move(other.lookahead_)),
      lookahead_offset_(other.lookahead_offset_) {
  other.file_ = nullptr;
}

std::string_view LogSource::peek(std::size_t size) {
  if (lookahead_offset_ == 0 && lookahead_.size() < size) {
    std::size_t have = lookahead_.size();
    lookahead_.resize(size);
    while (have < size) {
      int got = gzread(file_, lookahead_.data() + have, static_cast<unsigned>(size - have));
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        throw ToolError(fmt::format("{}: {}", name_, code == Z_ERRNO ? std::strerror(errno) : message));
      }
      if (got == 0) break;
      have += static_cast<std::size_t>(got);
    }
    lookahead_.resize(have);
    compressed_ = gzdirect(file_) == 0;
  }
  if (lookahead_offset_ > lookahead_.size()) return {};
  return std::string_view(lookahead_).substr(lookahead_offset_, size);
}

std::size_t LogSource::read(char* buffer, std::size_t capacity) {
  if (lookahead_offset_ < lookahead_.size()) {
    std::size_t count = std::min(capacity, lookahead_.size() - lookahead_offset_);
    std::memcpy(buffer, lookahead_.data() + lookahead_offset_, count);
    lookahead_offset_ += count;
    if (lookahead_offset_ == lookahead_.size()) {
      lookahead_.clear();
      lookahead_.shrink_to_fit();
      lookahead_offset_ = 1;  // never peek again once reading has begun
    }
    return count;
  }
  if (capacity > INT_MAX) capacity = INT_MAX;
  int got = gzread(file_, buffer, static_cast<unsigned>(capacity));
  if (got < 0) {
    int code = 0;
    const char* message = gzerror(file_, &code);
    throw ToolError(fmt::format("{}: {}", name_, code == Z_ERRNO ? std::strerror(errno) : message));
  }
  if (got > 0) compressed_ = gzdirect(file_) == 0;
  return static_cast<std::size_t>(got);
}

std::uint64_t LogSource::position() const noexcept {
  z_off_t offset = gzoffset(file_);
  return offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
}

LogLines::LogLines(LogSource& source, std::size_t chunk_size)
    : source_(source), buffer_(chunk_size) {}

bool LogLines::refill() {
  if (at_end_) return false;
  // Keep the partial line at the front; grow when one line fills the whole buffer.
  std::size_t pending = end_ - begin_;
  if (begin_ > 0 && pending > 0) std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
  begin_ = 0;
  end_ = pending;
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
  std::size_t got = source_.read(buffer_.data() + end_, buffer_.size() - end_);
  if (got == 0) {
    at_end_ = true;
    return false;
  }
  end_ += got;
  return true;
}

bool LogLines::next(std::string_view& line) {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* newline = std::memchr(start, '\n', end_ - begin_);
    if (newline != nullptr) {
      std::size_t length = static_cast<std::size_t>(static_cast<const char*>(newline) - start);
      begin_ += length + 1;
      if (length > 0 && start[length - 1] == '\r') --length;
      line = std::string_view(start, length);
      ++line_number_;
      return true;
    }
    if (!refill()) {
      if (begin_ == end_) return false;
      // The last line has no newline.
      std::size_t length = end_ - begin_;
      const char* last = buffer_.data() + begin_;
      begin_ = end_;
      if (length > 0 && last[length - 1] == '\r') --length;
      line = std::string_view(last, length);
      ++line_number_;
      return true;
    }
  }
}

Progress::Progress(bool enabled, std::FILE* out)
    : enabled_(enabled && isatty(fileno(out)) == 1), out_(out) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

namespace {
std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) {
    bytes /= 1000;
    ++unit;
  }
  return fmt::format("{:.1f} {}", bytes, units[unit]);
}
std::string human_duration(double seconds) {
  auto total = static_cast<long long>(seconds);
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total / 60 % 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}
}  // namespace

void Progress::update(std::uint64_t bytes_done, std::uint64_t lines) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_print_ < std::chrono::milliseconds(250)) return;
  last_print_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(lines) / elapsed : 0;
  std::string text = human_bytes(static_cast<double>(bytes_done));
  if (total_bytes_ > 0) {
    double fraction = static_cast<double>(bytes_done) / static_cast<double>(total_bytes_);
    text += fmt::format(" of {} ({:.0f}%)", human_bytes(static_cast<double>(total_bytes_)),
                        fraction * 100);
    if (fraction > 0.001)
      text += fmt::format(", ETA {}", human_duration(elapsed / fraction - elapsed));
  }
  text += fmt::format(", {} lines, {:.2f} M lines/s", lines, rate / 1e6);
  fmt::print(out_, "\r{:<78}", text);
  std::fflush(out_);
  printed_ = true;
}

void Progress::finish() {
  if (!printed_) return;
  fmt::print(out_, "\r{:<78}\r", "");
  std::fflush(out_);
  printed_ = false;
}

}  // namespace dnsverdict
