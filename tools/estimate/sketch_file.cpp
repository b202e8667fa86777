#include "sketch_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "byte_codec.h"
#include "diagnostics.h"

namespace dnsverdict {
namespace {

constexpr std::string_view kMagic = "DVSKETCH";

void put_bins(std::string& out, const std::map<std::int64_t, TimeBin>& bins) {
  codec::put_varint(out, bins.size());
  for (const auto& [index, bin] : bins) {
    codec::put_signed(out, index);
    codec::put_varint(out, bin.queries);
    bin.clients.serialize(out);
  }
}

bool get_bins(std::string_view& in, std::map<std::int64_t, TimeBin>& bins) {
  std::uint64_t count;
  if (!codec::get_varint(in, count) || count > in.size()) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::int64_t index;
    TimeBin bin;
    if (!codec::get_signed(in, index) || !codec::get_varint(in, bin.queries) ||
        !bin.clients.deserialize(in))
      return false;
    bins.emplace(index, std::move(bin));
  }
  return true;
}

void put_counters(std::string& out, const InputCounters& c) {
  for (std::uint64_t value : {c.lines, c.records, c.queries, c.responses_ignored, c.malformed,
                              c.skipped, c.bad_names, c.matched, c.inputs})
    codec::put_varint(out, value);
}

bool get_counters(std::string_view& in, InputCounters& c) {
  for (std::uint64_t* value : {&c.lines, &c.records, &c.queries, &c.responses_ignored, &c.malformed,
                               &c.skipped, &c.bad_names, &c.matched, &c.inputs})
    if (!codec::get_varint(in, *value)) return false;
  return true;
}

bool decode_payload(std::string_view in, EstimateState& state) {
  std::uint64_t clients, per_bin, beacon, suspect_names, entity_count;
  std::uint8_t suspects;
  std::string_view build_id;
  if (!codec::get_varint(in, clients) || !codec::get_varint(in, per_bin) ||
      !codec::get_varint(in, beacon) || !codec::get_varint(in, suspect_names) ||
      !codec::get_u8(in, suspects) || !codec::get_string(in, build_id))
    return false;
  EstimateLimits limits;
  limits.clients = static_cast<std::uint32_t>(clients);
  limits.clients_per_bin = static_cast<std::uint32_t>(per_bin);
  limits.beacon_sample = static_cast<std::uint32_t>(beacon);
  limits.suspect_names = static_cast<std::uint32_t>(suspect_names);
  state = EstimateState(limits, suspects != 0);
  state.store_build_id = std::string(build_id);
  if (!get_counters(in, state.counters) || !state.all_clients.deserialize(in) ||
      !codec::get_signed(in, state.first_time) || !codec::get_signed(in, state.last_time) ||
      !codec::get_varint(in, entity_count) || entity_count > in.size())
    return false;
  for (std::uint64_t i = 0; i < entity_count; ++i) {
    EntityStats entity(limits);
    std::uint8_t kind;
    std::string_view name, campaign, action;
    if (!codec::get_u8(in, kind) || (kind != 1 && kind != 2) || !codec::get_string(in, name) ||
        !codec::get_string(in, campaign) || !codec::get_string(in, action) ||
        !codec::get_varint(in, entity.queries) || !entity.clients.deserialize(in) ||
        !entity.sites.deserialize(in) || !entity.networks_v4.deserialize(in) || !entity.networks_v6.deserialize(in) ||
        !codec::get_signed(in, entity.first_seen) || !codec::get_signed(in, entity.last_seen) ||
        !get_bins(in, entity.hours) || !get_bins(in, entity.days) || !entity.beacon.deserialize(in) ||
        !entity.client_sketch.deserialize(in))
      return false;
    entity.kind = static_cast<EntityKind>(kind);
    entity.name = std::string(name);
    entity.campaign = std::string(campaign);
    entity.action = std::string(action);
    auto key = std::make_pair(entity.kind, entity.name);
    state.entities.emplace(std::move(key), std::move(entity));
  }
  return state.suspects.deserialize(in) && in.empty();
}

}  // namespace

std::string encode_sketch(const EstimateState& state) {
  std::string payload;
  codec::put_varint(payload, state.limits.clients);
  codec::put_varint(payload, state.limits.clients_per_bin);
  codec::put_varint(payload, state.limits.beacon_sample);
  codec::put_varint(payload, state.limits.suspect_names);
  codec::put_u8(payload, state.suspects_enabled ? 1 : 0);
  codec::put_string(payload, state.store_build_id);
  put_counters(payload, state.counters);
  state.all_clients.serialize(payload);
  codec::put_signed(payload, state.first_time);
  codec::put_signed(payload, state.last_time);
  codec::put_varint(payload, state.entities.size());
  for (const auto& [key, entity] : state.entities) {
    codec::put_u8(payload, static_cast<std::uint8_t>(entity.kind));
    codec::put_string(payload, entity.name);
    codec::put_string(payload, entity.campaign);
    codec::put_string(payload, entity.action);
    codec::put_varint(payload, entity.queries);
    entity.clients.serialize(payload);
    entity.sites.serialize(payload);
    entity.networks_v4.serialize(payload);
    entity.networks_v6.serialize(payload);
    codec::put_signed(payload, entity.first_seen);
    codec::put_signed(payload, entity.last_seen);
    put_bins(payload, entity.hours);
    put_bins(payload, entity.days);
    entity.beacon.serialize(payload);
    entity.client_sketch.serialize(payload);
  }
  state.suspects.serialize(payload);

  std::string out(kMagic);
  codec::put_u8(out, kSketchFormatVersion);
  codec::put_u64(out, payload.size());
  out += payload;
  codec::put_u64(out, XXH3_64bits(payload.data(), payload.size()));
  return out;
}

EstimateState decode_sketch(std::string_view bytes, std::string_view name) {
  if (bytes.size() < kMagic.size() + 1 + 16 || bytes.substr(0, kMagic.size()) != kMagic)
    throw ToolError(fmt::format("{}: not a dnsverdict sketch (made by `estimate --emit-sketch`)", name));
  bytes.remove_prefix(kMagic.size());
  std::uint8_t version = 0;
  std::uint64_t length = 0, checksum = 0;
  codec::get_u8(bytes, version);
  if (version != kSketchFormatVersion)
    throw ToolError(fmt::format("{}: sketch format version {}, this dnsverdict reads version {}",
                                name, version, kSketchFormatVersion));
  codec::get_u64(bytes, length);
  if (length + 8 != bytes.size())
    throw ToolError(fmt::format("{}: truncated or padded sketch ({} payload bytes announced, {} present)",
                                name, length, bytes.size() >= 8 ? bytes.size() - 8 : 0));
  std::string_view payload = bytes.substr(0, length);
  bytes.remove_prefix(length);
  codec::get_u64(bytes, checksum);
  if (checksum != XXH3_64bits(payload.data(), payload.size()))
    throw ToolError(fmt::format("{}: damaged sketch (checksum mismatch)", name));
  EstimateState state;
  if (!decode_payload(payload, state))
    throw ToolError(fmt::format("{}: damaged sketch (malformed payload)", name));
  return state;
}

void write_sketch_file(const std::string& path, const EstimateState& state) {
  std::string bytes = encode_sketch(state);
  std::string temporary = path + ".tmp";
  std::FILE* out = std::fopen(temporary.c_str(), "wb");
  if (out == nullptr) throw ToolError(fmt::format("{}: {}", temporary, std::strerror(errno)));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
  ok = std::fflush(out) == 0 && ok;
  ok = fsync(fileno(out)) == 0 && ok;
  ok = std::fclose(out) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    std::remove(temporary.c_str());
    throw ToolError(fmt::format("{}: {}", path, std::strerror(error)));
  }
}

EstimateState read_sketch_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ToolError(fmt::format("{}: {}", path, std::strerror(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return decode_sketch(buffer.str(), path);
}

}  // namespace dnsverdict
