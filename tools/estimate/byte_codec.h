// Little-endian integers, varints and length-prefixed strings for the sketch files
// (sketch_file.h). Writers append to a std::string; readers consume a string_view and return
// false on truncation, so a damaged file is reported instead of read past its end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dnsverdict::codec {

inline void put_u8(std::string& out, std::uint8_t value) { out.push_back(static_cast<char>(value)); }

inline void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

inline void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Signed values (times) zigzag-encoded so small negatives stay short.
inline void put_signed(std::string& out, std::int64_t value) {
  put_varint(out, (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
}

inline void put_string(std::string& out, std::string_view value) {
  put_varint(out, value.size());
  out.append(value);
}

inline void put_double(std::string& out, double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_u64(out, bits);
}

inline bool get_u8(std::string_view& in, std::uint8_t& value) {
  if (in.empty()) return false;
  value = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  return true;
}

inline bool get_u64(std::string_view& in, std::uint64_t& value) {
  if (in.size() < 8) return false;
  value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<std::uint8_t>(in[static_cast<std::size_t>(i)]);
  in.remove_prefix(8);
  return true;
}

inline bool get_varint(std::string_view& in, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto byte = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

inline bool get_signed(std::string_view& in, std::int64_t& value) {
  std::uint64_t raw;
  if (!get_varint(in, raw)) return false;
  value = static_cast<std::int64_t>(raw >> 1) ^ -static_cast<std::int64_t>(raw & 1);
  return true;
}

inline bool get_string(std::string_view& in, std::string_view& value) {
  std::uint64_t size;
  if (!get_varint(in, size) || size > in.size()) return false;
  value = in.substr(0, size);
  in.remove_prefix(size);
  return true;
}

inline bool get_double(std::string_view& in, double& value) {
  std::uint64_t bits;
  if (!get_u64(in, bits)) return false;
  std::memcpy(&value, &bits, sizeof value);
  return true;
}

}  // namespace dnsverdict::codec
