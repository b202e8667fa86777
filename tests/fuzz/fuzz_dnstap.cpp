// dnstap Frame Streams read from arbitrary bytes (a temporary file: LogSource takes a path,
// and decompresses gzip when the bytes start with its magic). Properties: a stream that is
// not dnstap is one ToolError; every record handed out has a client and a valid wire name.
#include <cstddef>
#include <cstdint>

#include "diagnostics.h"
#include "dns_name.h"
#include "fuzz_support.h"
#include "log_dnstap.h"
#include "log_source.h"

using namespace dnsverdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::TemporaryFile file(fuzz::as_text(data, size), "dnstap");
  DnstapCounters counters;
  try {
    LogSource source(file.path());
    detect_log_format(source.peek());
    read_dnstap(
        source,
        [](const QueryRecord& record) {
          FUZZ_CHECK(record.client.family == 4 || record.client.family == 6);
          FUZZ_CHECK(record.name.empty());
          const auto* wire = reinterpret_cast<const std::uint8_t*>(record.name_wire.data());
          FUZZ_CHECK(wire_name_length(wire, record.name_wire.size()) == record.name_wire.size());
          NameKey key;
          FUZZ_CHECK(make_name_key(wire, record.name_wire.size(), key));
        },
        [](std::uint64_t, const std::string& reason) { FUZZ_CHECK(!reason.empty()); }, counters);
  } catch (const ToolError&) {
    return 0;
  }
  FUZZ_CHECK(counters.queries + counters.responses + counters.other + counters.malformed >=
             counters.frames);
  return 0;
}
