#include "prefix_table.h"

#include <stdexcept>

namespace dnsverdict {
namespace {

constexpr char kMagic[8] = {'D', 'V', 'P', 'R', 'E', 'F', 'X', '1'};
constexpr std::uint32_t kVersion = 1;

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  out.append(bytes, sizeof value);
}

template <typename T>
T get(std::string_view bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

}  // namespace

bool prefix_order(const IpPrefix& a, const IpPrefix& b) noexcept {
  if (a.family != b.family) return a.family < b.family;
  if (a.bytes != b.bytes) return a.bytes < b.bytes;
  return a.length < b.length;
}

bool PrefixTableView::attach(std::string_view table) noexcept {
  *this = PrefixTableView();
  if (table.size() < kPrefixTableHeaderSize || std::memcmp(table.data(), kMagic, 8) != 0 ||
      get<std::uint32_t>(table, 8) != kVersion)
    return false;
  auto v4 = get<std::uint64_t>(table, 16);
  auto v6 = get<std::uint64_t>(table, 24);
  auto record_bytes = get<std::uint64_t>(table, 32);
  std::uint64_t room = table.size() - kPrefixTableHeaderSize;
  if (v4 > room / kPrefixEntrySize || v6 > room / kPrefixEntrySize ||
      (v4 + v6) > room / kPrefixEntrySize ||
      record_bytes != room - (v4 + v6) * kPrefixEntrySize || v4 + v6 >= kNoParent)
    return false;
  entries_ = reinterpret_cast<const unsigned char*>(table.data()) + kPrefixTableHeaderSize;
  v4_count_ = v4;
  v6_count_ = v6;
  records_ = table.substr(kPrefixTableHeaderSize + (v4 + v6) * kPrefixEntrySize);
  return true;
}

std::string build_prefix_table(const std::vector<PrefixTableEntry>& entries) {
  std::uint64_t v4 = 0, record_bytes = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const IpPrefix& prefix = entries[i].prefix;
    IpPrefix masked = prefix;
    if ((prefix.family != 4 && prefix.family != 6) || prefix.length > prefix.max_length() ||
        mask_host_bits(masked))
      throw std::invalid_argument("build_prefix_table: bad prefix " + format_ip_prefix(prefix));
    if (i > 0 && !prefix_order(entries[i - 1].prefix, prefix))
      throw std::invalid_argument("build_prefix_table: prefixes out of order or repeated");
    if (entries[i].record.empty())
      throw std::invalid_argument("build_prefix_table: empty record");
    v4 += prefix.family == 4;
    record_bytes += entries[i].record.size();
  }
  if (record_bytes > 0xffffffffu || entries.size() >= kNoParent)
    throw std::length_error("address rules exceed the 4 GiB the table's offsets can address");

  std::string out;
  out.reserve(kPrefixTableHeaderSize + entries.size() * kPrefixEntrySize + record_bytes);
  out.append(kMagic, 8);
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, 0);
  put<std::uint64_t>(out, v4);
  put<std::uint64_t>(out, entries.size() - v4);
  put<std::uint64_t>(out, record_bytes);
  put<std::uint64_t>(out, 0);
  // The enclosing prefixes of the current one, innermost last.
  std::vector<std::uint32_t> open;
  std::uint32_t offset = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const IpPrefix& prefix = entries[i].prefix;
    while (!open.empty() && !prefix_encloses(entries[open.back()].prefix, prefix)) open.pop_back();
    out.append(reinterpret_cast<const char*>(prefix.bytes.data()), 16);
    out.push_back(static_cast<char>(prefix.length));
    out.append(3, '\0');
    put<std::uint32_t>(out, open.empty() ? kNoParent : open.back());
    put<std::uint32_t>(out, offset);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(entries[i].record.size()));
    offset += static_cast<std::uint32_t>(entries[i].record.size());
    open.push_back(static_cast<std::uint32_t>(i));
  }
  for (const auto& entry : entries) out.append(entry.record);
  return out;
}

}  // namespace dnsverdict
