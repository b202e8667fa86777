// dnstap input (log_dnstap.cpp): Frame Streams files whose content type is
// "protobuf:dnstap.Dnstap", as written by `fstrm_capture`, Unbound (`dnstap-enable`), BIND
// (`dnstap { client; }`), Knot Resolver and others. CLIENT_QUERY and CLIENT_RESPONSE
// messages become QueryRecords: query_address -> client, query_time_sec -> time, and the
// question of the wire-format query_message (or response_message) -> name and type. The
// frames are read with libfstrm's reader and decoded with protobuf-c code generated from
// dnstap.proto (tools/estimate/dnstap.proto); nothing here parses either format by hand.
//
// Built only when libfstrm and protobuf-c are found (DNSVERDICT_HAVE_DNSTAP).
#pragma once

#include <cstdint>
#include <functional>

#include "log_formats.h"
#include "log_source.h"

namespace dnsverdict {

struct DnstapCounters {
  std::uint64_t frames = 0;
  std::uint64_t queries = 0;    // CLIENT_QUERY
  std::uint64_t responses = 0;  // CLIENT_RESPONSE
  std::uint64_t other = 0;      // other message types (resolver, forwarder, auth, ...)
  std::uint64_t malformed = 0;  // undecodable frames or DNS messages
};

// True when this build reads dnstap.
bool dnstap_supported() noexcept;

// Reads every frame of `source` and calls `visit` for each client query or response (the
// record's views are valid during the call only). `on_malformed(frame_number, reason)` hears
// about each undecodable frame. Throws ToolError when the stream is not Frame Streams, its
// content type is not dnstap, or the build has no dnstap support.
void read_dnstap(LogSource& source, const std::function<void(const QueryRecord&)>& visit,
                 const std::function<void(std::uint64_t, const std::string&)>& on_malformed,
                 DnstapCounters& counters);

}  // namespace dnsverdict
