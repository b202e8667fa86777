// Error reporting for the offline tools: every problem in an input is reported as
// "file:line: what is wrong", counted, and the run gives up once --max-errors is exceeded.
#pragma once

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dnsverdict {

// A failure the tools report and exit 1 on (the message is complete, ready to print).
class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad command line: exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Diagnostics {
 public:
  // `max_errors`: how many input errors are tolerated; one more throws ToolError.
  // `out`: where messages go (nullptr: nowhere; tests read messages()).
  explicit Diagnostics(std::size_t max_errors = 100, std::FILE* out = stderr, std::size_t keep = 50)
      : max_errors_(max_errors), out_(out), keep_(keep) {}

  // Reports one bad input line. Throws ToolError once the count exceeds max_errors.
  void error(std::string_view file, std::size_t line, std::string_view reason);
  // A remark that is not an error (does not count towards max_errors).
  void warning(std::string_view file, std::size_t line, std::string_view reason);

  // A Diagnostics that prints nothing but keeps its reports, to replay() them later into
  // another, in order: for a part of a feed parsed on another thread, whose reports must come
  // after those of the part before it. It gives up (throws ToolError) at the same limit.
  static Diagnostics deferred(std::size_t max_errors) {
    Diagnostics kept(max_errors, nullptr, 0);
    kept.defer_ = true;
    return kept;
  }
  // Reports again here what `deferred` kept: printed, counted and limited (throws ToolError
  // past max_errors) as if each had been reported here in the first place.
  void replay(const Diagnostics& deferred);

  std::size_t max_errors() const noexcept { return max_errors_; }
  std::size_t errors() const noexcept { return errors_; }
  std::size_t warnings() const noexcept { return warnings_; }
  // The first `keep` messages, newline-separated, for tests and summaries.
  const std::string& messages() const noexcept { return messages_; }

 private:
  void emit(std::string_view file, std::size_t line, std::string_view prefix,
            std::string_view reason);

  std::size_t max_errors_;
  std::FILE* out_;
  std::size_t keep_;
  std::size_t kept_ = 0;
  std::size_t errors_ = 0;
  std::size_t warnings_ = 0;
  std::string messages_;
  struct Report {
    bool error;
    std::string file;
    std::size_t line;
    std::string reason;
  };
  bool defer_ = false;
  std::vector<Report> deferred_;
};

}  // namespace dnsverdict
