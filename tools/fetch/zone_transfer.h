// Fetching an RPZ by zone transfer from its primary with ldns: IXFR from the serial of the
// copy we hold (RFC 1995), AXFR when we hold none or the primary cannot answer incrementally,
// TSIG-signed (RFC 8945) when a key is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http_fetch.h"

namespace dnsverdict {

struct TsigKey {
  std::string name;       // "transfer-key."
  std::string algorithm;  // "hmac-sha256"
  std::string secret;     // base64
};

struct ZoneRequest {
  std::string zone;     // "rpz.example."
  std::string primary;  // "192.0.2.1@53", "2001:db8::1@5353", or an address alone (port 53)
  std::optional<TsigKey> tsig;
  long timeout_seconds = 60;
  std::uint64_t max_bytes = std::uint64_t{256} << 20;  // of the zone's text
};

struct ZoneResponse {
  enum class Method { kUnchanged, kAxfr, kIxfr };
  Method method = Method::kAxfr;
  std::uint32_t serial = 0;
  // The whole zone as master-file text, one record per line, the SOA first (what the RPZ
  // parser reads). Empty when unchanged.
  std::string text;
};

std::string_view method_name(ZoneResponse::Method method) noexcept;

// Transfers request.zone. `held` is the zone text of the copy we hold (as returned before) or
// empty; `held_serial` its serial. With a copy, asks for an IXFR and applies the differences
// to it (an AXFR-style answer replaces it); a primary that refuses IXFR is asked for an AXFR.
// Throws FetchError("ZONE from PRIMARY: reason") for a network error, a timeout, an error rcode,
// a TSIG that does not verify, a malformed or oversized transfer.
ZoneResponse transfer_zone(const ZoneRequest& request, std::string_view held,
                           std::uint32_t held_serial);

// The serial of the SOA that starts `text` (zone text as above); nullopt when it has none.
std::optional<std::uint32_t> zone_text_serial(std::string_view text);

}  // namespace dnsverdict
