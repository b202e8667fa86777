#include "diagnostics.h"

#include <fmt/format.h>

namespace dnsverdict {

void Diagnostics::emit(std::string_view file, std::size_t line, std::string_view prefix,
                       std::string_view reason) {
  std::string message = line > 0 ? fmt::format("{}:{}: {}{}", file, line, prefix, reason)
                                 : fmt::format("{}: {}{}", file, prefix, reason);
  if (out_ != nullptr) fmt::print(out_, "{}\n", message);
  if (kept_ < keep_) {
    messages_ += message;
    messages_ += '\n';
    ++kept_;
  }
}

void Diagnostics::error(std::string_view file, std::size_t line, std::string_view reason) {
  ++errors_;
  if (defer_)
    deferred_.push_back({true, std::string(file), line, std::string(reason)});
  else
    emit(file, line, "", reason);
  if (errors_ > max_errors_)
    throw ToolError(fmt::format("{}:{}: giving up after {} errors (--max-errors {})", file, line,
                                errors_, max_errors_));
}

void Diagnostics::warning(std::string_view file, std::size_t line, std::string_view reason) {
  ++warnings_;
  if (defer_)
    deferred_.push_back({false, std::string(file), line, std::string(reason)});
  else
    emit(file, line, "warning: ", reason);
}

void Diagnostics::replay(const Diagnostics& deferred) {
  for (const Report& report : deferred.deferred_) {
    if (report.error)
      error(report.file, report.line, report.reason);
    else
      warning(report.file, report.line, report.reason);
  }
}

}  // namespace dnsverdict
