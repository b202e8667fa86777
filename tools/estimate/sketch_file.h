// Sketch files: the mergeable partial result of `dnsverdict estimate --emit-sketch FILE`,
// combined by `dnsverdict merge`. One log shard per machine, one sketch per shard; merging
// the sketches gives the figures one run over all shards would (estimator.h says which parts
// are exactly equal).
//
// Layout (integers little-endian, varints LEB128; byte_codec.h):
//   "DVSKETCH" magic (8 bytes), u8 format version (kSketchFormatVersion),
//   u64 payload length, payload, u64 XXH3-64 of the payload.
// Payload: limits, flags, store build id, input counters, all-clients set, time window,
// entities (kind, name, campaign, action, counters, client and site sets, hour and day bins, beacon
// sample, client sketch), suspect table. A reader refuses another version rather than guess.
#pragma once

#include <string>
#include <string_view>

#include "estimator.h"

namespace dnsverdict {

// Version 2: sites (IPv6 /64s) per entity; the beacon sample keeps per-hour query slots and
// IPv6 address spans.
inline constexpr std::uint8_t kSketchFormatVersion = 2;

std::string encode_sketch(const EstimateState& state);
// Throws ToolError("NAME: reason") for a file that is not a sketch, another version, or damaged.
EstimateState decode_sketch(std::string_view bytes, std::string_view name);

// Write atomically (temporary file + rename); read the whole file. Both throw ToolError.
void write_sketch_file(const std::string& path, const EstimateState& state);
EstimateState read_sketch_file(const std::string& path);

}  // namespace dnsverdict
