// Reading query logs: a file or standard input, plain or gzip-compressed (recognised by its
// magic bytes, not its name), in large chunks, split into lines without copying them.
//
// Logs run to billions of lines, so nothing here reads a whole file or allocates per line:
// a LogSource hands out raw bytes, a LogLines splits a chunk buffer into string_views, and a
// Progress line on stderr (only when stderr is a terminal) says how far the run has got.
// None of these classes is thread-safe; use one per thread.
#pragma once

#include <zlib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

// One input: a file, or standard input for "-". Move-only; closes what it opened.
class LogSource {
 public:
  // Opens `path` ("-": standard input). Throws ToolError("path: reason") when it cannot.
  explicit LogSource(const std::string& path);
  ~LogSource();
  LogSource(LogSource&& other) noexcept;
  LogSource& operator=(LogSource&& other) = delete;
  LogSource(const LogSource&) = delete;
  LogSource& operator=(const LogSource&) = delete;

  // The first bytes of the (decompressed) content, up to `size`, without consuming them:
  // read() returns them again. Used to recognise the format. Throws ToolError.
  std::string_view peek(std::size_t size = 64 * 1024);
  // Reads up to `capacity` decompressed bytes; returns 0 at the end. Throws ToolError on a
  // read error or a damaged gzip stream (naming the file).
  std::size_t read(char* buffer, std::size_t capacity);

  const std::string& name() const noexcept { return name_; }
  bool compressed() const noexcept { return compressed_; }
  // Bytes of the file consumed so far (compressed bytes for gzip), for progress and ETA.
  std::uint64_t position() const noexcept;
  // The file's size, 0 when unknown (a pipe).
  std::uint64_t size() const noexcept { return size_; }

 private:
  std::string name_;
  gzFile file_ = nullptr;
  bool compressed_ = false;
  std::uint64_t size_ = 0;
  std::string lookahead_;  // peeked bytes not yet handed out
  std::size_t lookahead_offset_ = 0;
};

// Splits a LogSource into lines (LF or CRLF). Views stay valid until the next call to next().
class LogLines {
 public:
  explicit LogLines(LogSource& source, std::size_t chunk_size = 1 << 20);
  // The next line without its ending; false at the end. A last line without a newline
  // still counts. Throws ToolError from the source.
  bool next(std::string_view& line);
  std::uint64_t line_number() const noexcept { return line_number_; }

 private:
  bool refill();

  LogSource& source_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last valid byte
  bool at_end_ = false;
  std::uint64_t line_number_ = 0;
};

// "12.3 MB of 1.2 GB (1%), 1.45 M lines/s, ETA 2m10s" on one rewritten stderr line. Quiet
// when stderr is not a terminal or when disabled; prints at most a few times per second.
class Progress {
 public:
  explicit Progress(bool enabled, std::FILE* out = stderr);
  ~Progress();  // clears the line
  void set_total_bytes(std::uint64_t total) noexcept { total_bytes_ = total; }
  // Bytes done over all inputs and lines so far; cheap enough to call every few thousand lines.
  void update(std::uint64_t bytes_done, std::uint64_t lines);
  void finish();

 private:
  bool enabled_;
  std::FILE* out_;
  std::uint64_t total_bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  bool printed_ = false;
};

}  // namespace dnsverdict
