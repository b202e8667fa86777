#include "address_trigger.h"

namespace dnsverdict {

namespace {

// Appends one label to a wire name being built; false when it would not fit.
class WireBuilder {
 public:
  bool label(const char* text, std::size_t size) noexcept {
    if (size == 0 || size > kMaxLabelOctets || used_ + 1 + size + 1 > kMaxNameOctets) return false;
    wire_[used_++] = static_cast<std::uint8_t>(size);
    for (std::size_t i = 0; i < size; ++i) wire_[used_++] = static_cast<std::uint8_t>(text[i]);
    return true;
  }
  bool number(unsigned value, unsigned base) noexcept {
    static constexpr char kDigits[] = "0123456789abcdef";
    char text[8];
    std::size_t size = 0;
    do {
      text[size++] = kDigits[value % base];
      value /= base;
    } while (value != 0 && size < sizeof text);
    for (std::size_t i = 0; i < size / 2; ++i) {
      char swap = text[i];
      text[i] = text[size - 1 - i];
      text[size - 1 - i] = swap;
    }
    return label(text, size);
  }
  bool finish(NameKey& key) noexcept {
    wire_[used_++] = 0;
    return make_name_key(wire_, used_, key);
  }

 private:
  std::uint8_t wire_[kMaxNameOctets];
  std::size_t used_ = 0;
};

}  // namespace

bool address_rule_key(const std::uint8_t* address, std::size_t size, unsigned prefix_length,
                      NameKey& key, std::string_view label) noexcept {
  if ((size != 4 && size != 16) || prefix_length > size * 8) return false;
  std::uint8_t masked[16] = {};
  for (std::size_t i = 0; i < size; ++i) {
    unsigned bits = prefix_length > i * 8 ? prefix_length - static_cast<unsigned>(i * 8) : 0;
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff00u >> bits);
    masked[i] = address[i] & mask;
  }
  WireBuilder wire;
  if (!wire.number(prefix_length, 10)) return false;
  if (size == 4) {
    for (std::size_t i = 4; i-- > 0;) {
      if (!wire.number(masked[i], 10)) return false;
    }
  } else {
    unsigned words[8];
    for (std::size_t i = 0; i < 8; ++i) words[i] = masked[2 * i] << 8 | masked[2 * i + 1];
    // The longest run of zero words (the first of equal runs, as RFC 5952 writes "::").
    std::size_t run_start = 8, run_length = 0;
    for (std::size_t i = 0; i < 8;) {
      if (words[i] != 0) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < 8 && words[end] == 0) ++end;
      if (end - i > run_length) {
        run_start = i;
        run_length = end - i;
      }
      i = end;
    }
    if (run_length < 2) run_start = 8;
    for (std::size_t i = 8; i-- > 0;) {
      if (run_start != 8 && i >= run_start && i < run_start + run_length) {
        if (i == run_start && !wire.label("zz", 2)) return false;
        continue;
      }
      if (!wire.number(words[i], 16)) return false;
    }
  }
  if (!wire.label(label.data(), label.size())) return false;
  return wire.finish(key);
}

bool name_server_rule_key(const std::uint8_t* wire, std::size_t size, NameKey& key) noexcept {
  std::size_t length = wire_name_length(wire, size);
  if (length == 0) return false;
  WireBuilder name;
  for (std::size_t at = 0; wire[at] != 0; at += 1 + wire[at]) {
    if (!name.label(reinterpret_cast<const char*>(wire + at + 1), wire[at])) return false;
  }
  if (!name.label(kRpzNsdnameLabel.data(), kRpzNsdnameLabel.size())) return false;
  return name.finish(key);
}

}  // namespace dnsverdict
