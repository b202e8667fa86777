// One text query-log format of `estimate` (FUZZ_LOG_FORMAT, set per target by CMakeLists.txt)
// parsed line by line from arbitrary bytes, after format detection on the same bytes.
// Properties: the parser never throws; a record names its query (presentation text, which
// the estimator then normalises) and has a client of family 0, 4 or 6; a malformed line
// says why.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_name.h"
#include "fuzz_support.h"
#include "log_formats.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view content = fuzz::as_text(data, size);
  detect_log_format(content);

  ParserOptions options;
  options.year = 2024;  // times without a year: the same result on every run
  LogLineParser parser(FUZZ_LOG_FORMAT, options);
  QueryRecord record;
  std::string reason, wire, error;
  while (!content.empty()) {
    std::size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    content = end == std::string_view::npos ? std::string_view() : content.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    reason.clear();
    switch (parser.parse(line, record, reason)) {
      case ParseStatus::kRecord:
        FUZZ_CHECK(record.client.family == 0 || record.client.family == 4 ||
                   record.client.family == 6);
        FUZZ_CHECK(record.name_wire.empty());
        text_to_key(record.name, wire, error);  // what the estimator does with the name
        break;
      case ParseStatus::kMalformed:
        FUZZ_CHECK(!reason.empty());
        break;
      case ParseStatus::kSkip:
        break;
    }
  }
  return 0;
}
