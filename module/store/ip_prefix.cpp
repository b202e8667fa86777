#include "ip_prefix.h"

#include <arpa/inet.h>

#include <charconv>
#include <vector>

namespace dnsverdict {
namespace {

bool parse_decimal(std::string_view text, unsigned max, unsigned& value) {
  if (text.empty() || text.size() > 3) return false;
  auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), value);
  return code == std::errc() && end == text.data() + text.size() && value <= max;
}

std::vector<std::string_view> split_labels(std::string_view text) {
  std::vector<std::string_view> labels;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find('.', start);
    labels.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return labels;
    start = dot + 1;
  }
}

bool equals_lower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((text[i] | 0x20) != lower[i]) return false;
  return true;
}

}  // namespace

bool parse_ip_prefix(std::string_view text, IpPrefix& prefix, std::string& error) {
  std::string_view address = text;
  std::string_view length_text;
  std::size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    address = text.substr(0, slash);
    length_text = text.substr(slash + 1);
  }
  IpPrefix parsed;
  std::string copy(address);  // inet_pton needs a terminated string
  if (address.find(':') != std::string_view::npos) {
    parsed.family = 6;
    if (::inet_pton(AF_INET6, copy.c_str(), parsed.bytes.data()) != 1) {
      error = "not an IPv6 address: \"" + copy + "\"";
      return false;
    }
  } else if (::inet_pton(AF_INET, copy.c_str(), parsed.bytes.data()) != 1) {
    error = "not an IP address or prefix: \"" + std::string(text) + "\"";
    return false;
  }
  parsed.length = parsed.max_length();
  if (slash != std::string_view::npos) {
    unsigned length = 0;
    if (!parse_decimal(length_text, parsed.max_length(), length)) {
      error = "bad prefix length \"" + std::string(length_text) + "\" (0-" +
              std::to_string(parsed.max_length()) + " for IPv" + std::to_string(parsed.family) + ")";
      return false;
    }
    parsed.length = static_cast<std::uint8_t>(length);
  }
  prefix = parsed;
  return true;
}

bool mask_host_bits(IpPrefix& prefix) noexcept {
  bool changed = false;
  for (std::size_t i = 0; i < prefix.bytes.size(); ++i) {
    std::size_t first_bit = i * 8;
    std::uint8_t keep = 0;
    if (first_bit + 8 <= prefix.length) keep = 0xff;
    else if (first_bit < prefix.length) keep = static_cast<std::uint8_t>(0xff << (8 - (prefix.length - first_bit)));
    if ((prefix.bytes[i] & ~keep) != 0) changed = true;
    prefix.bytes[i] &= keep;
  }
  return changed;
}

bool prefix_encloses(const IpPrefix& outer, const IpPrefix& inner) noexcept {
  if (outer.family != inner.family || outer.length > inner.length) return false;
  IpPrefix masked = inner;
  masked.length = outer.length;
  mask_host_bits(masked);
  return masked.bytes == outer.bytes;
}

std::string format_ip_prefix(const IpPrefix& prefix, bool always_length) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(prefix.family == 4 ? AF_INET : AF_INET6, prefix.bytes.data(), text, sizeof text);
  std::string out(text);
  if (always_length || prefix.length != prefix.max_length())
    out += "/" + std::to_string(prefix.length);
  return out;
}

bool parse_rpz_ip_labels(std::string_view labels_text, IpPrefix& prefix, std::string& error) {
  std::vector<std::string_view> labels = split_labels(labels_text);
  IpPrefix parsed;
  std::size_t address_labels = labels.size() - 1;
  bool has_zz = false;
  for (std::size_t i = 1; i < labels.size(); ++i) has_zz = has_zz || equals_lower(labels[i], "zz");
  parsed.family = !has_zz && address_labels == 4 ? 4 : 6;
  unsigned length = 0;
  if (!parse_decimal(labels[0], parsed.max_length(), length)) {
    error = "rpz-ip: bad prefix length \"" + std::string(labels[0]) + "\" (0-" +
            std::to_string(parsed.max_length()) + " for IPv" + std::to_string(parsed.family) + ")";
    return false;
  }
  parsed.length = static_cast<std::uint8_t>(length);
  if (parsed.family == 4) {
    for (std::size_t i = 0; i < 4; ++i) {
      unsigned octet = 0;
      if (!parse_decimal(labels[4 - i], 255, octet)) {
        error = "rpz-ip: bad IPv4 octet \"" + std::string(labels[4 - i]) + "\"";
        return false;
      }
      parsed.bytes[i] = static_cast<std::uint8_t>(octet);
    }
  } else {
    if (has_zz ? address_labels > 7 : address_labels != 8) {
      error = "rpz-ip: \"" + std::string(labels_text) +
              "\" is neither 4 IPv4 octets nor 8 IPv6 words (\"zz\" for a run of zeros)";
      return false;
    }
    // Words in address order: labels reversed, "zz" expanded.
    std::vector<std::uint16_t> words;
    bool seen_zz = false;
    for (std::size_t i = labels.size() - 1; i >= 1; --i) {
      std::string_view label = labels[i];
      if (equals_lower(label, "zz")) {
        if (seen_zz) {
          error = "rpz-ip: \"zz\" appears twice";
          return false;
        }
        seen_zz = true;
        words.insert(words.end(), 8 - address_labels + 1, 0);
        continue;
      }
      unsigned word = 0;
      auto [end, code] = std::from_chars(label.data(), label.data() + label.size(), word, 16);
      if (label.empty() || label.size() > 4 || code != std::errc() ||
          end != label.data() + label.size()) {
        error = "rpz-ip: bad IPv6 word \"" + std::string(label) + "\"";
        return false;
      }
      words.push_back(static_cast<std::uint16_t>(word));
    }
    for (std::size_t i = 0; i < 8; ++i) {
      parsed.bytes[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
      parsed.bytes[2 * i + 1] = static_cast<std::uint8_t>(words[i] & 0xff);
    }
  }
  prefix = parsed;
  return true;
}

std::string rpz_ip_labels(const IpPrefix& prefix) {
  std::string out = std::to_string(prefix.length);
  if (prefix.family == 4) {
    for (int i = 3; i >= 0; --i) out += "." + std::to_string(prefix.bytes[static_cast<std::size_t>(i)]);
    return out;
  }
  std::uint16_t words[8];
  for (std::size_t i = 0; i < 8; ++i)
    words[i] = static_cast<std::uint16_t>(prefix.bytes[2 * i] << 8 | prefix.bytes[2 * i + 1]);
  // The longest run of two or more zero words (the first of equal runs) becomes "zz".
  int best_start = -1, best_size = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && words[j] == 0) ++j;
    if (j - i > best_size) best_start = i, best_size = j - i;
    i = j == i ? i + 1 : j;
  }
  char hex[8];
  for (int i = 7; i >= 0; --i) {
    if (best_start >= 0 && i >= best_start && i < best_start + best_size) {
      if (i == best_start) out += ".zz";
      continue;
    }
    auto [end, code] = std::to_chars(hex, hex + sizeof hex, words[i], 16);
    (void)code;
    out += "." + std::string(hex, end);
  }
  return out;
}

}  // namespace dnsverdict
