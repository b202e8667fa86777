#include "dns_name.h"

#include <cstring>

namespace dnsverdict {
namespace {

inline std::uint8_t lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

bool parse_name(std::string_view text, std::string& wire, std::string& error) {
  wire.clear();
  if (text.empty() || text == ".") {
    wire.push_back('\0');
    return true;
  }
  std::string label;
  auto finish_label = [&]() -> bool {
    if (label.empty()) {
      error = "empty label";
      return false;
    }
    if (label.size() > kMaxLabelOctets) {
      error = "label longer than 63 octets";
      return false;
    }
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
    label.clear();
    return true;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (!finish_label()) return false;
      if (i + 1 == text.size()) break;  // trailing dot: absolute name
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        error = "escape at end of name";
        return false;
      }
      char next = text[i + 1];
      if (is_digit(next)) {
        if (i + 3 >= text.size() || !is_digit(text[i + 2]) || !is_digit(text[i + 3])) {
          error = "bad \\DDD escape";
          return false;
        }
        int value = (next - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (value > 255) {
          error = "\\DDD escape above 255";
          return false;
        }
        label.push_back(static_cast<char>(lower(static_cast<std::uint8_t>(value))));
        i += 3;
      } else {
        label.push_back(static_cast<char>(lower(static_cast<std::uint8_t>(next))));
        i += 1;
      }
      continue;
    }
    label.push_back(static_cast<char>(lower(static_cast<std::uint8_t>(c))));
  }
  if (!label.empty() && !finish_label()) return false;
  wire.push_back('\0');
  if (wire.size() > kMaxNameOctets) {
    error = "name longer than 255 octets";
    return false;
  }
  return true;
}

std::string name_to_text(std::string_view wire) {
  std::string text;
  std::size_t i = 0;
  while (i < wire.size()) {
    auto length = static_cast<std::uint8_t>(wire[i]);
    if (length == 0) break;
    if (!text.empty()) text.push_back('.');
    for (std::size_t j = 1; j <= length && i + j < wire.size(); ++j) {
      auto c = static_cast<std::uint8_t>(wire[i + j]);
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '*';
      if (plain) {
        text.push_back(static_cast<char>(c));
      } else if (c == '.' || c == '\\') {
        text.push_back('\\');
        text.push_back(static_cast<char>(c));
      } else {
        char escaped[5] = {'\\', static_cast<char>('0' + c / 100),
                           static_cast<char>('0' + (c / 10) % 10), static_cast<char>('0' + c % 10),
                           0};
        text += escaped;
      }
    }
    i += length + 1u;
  }
  if (text.empty()) text = ".";
  return text;
}

std::size_t wire_name_length(const std::uint8_t* wire, std::size_t size) noexcept {
  std::size_t i = 0;
  while (i < size) {
    std::uint8_t length = wire[i];
    if (length == 0) return i + 1 <= kMaxNameOctets ? i + 1 : 0;
    if (length > kMaxLabelOctets) return 0;  // compression pointer or reserved label type
    i += length + 1u;
    if (i >= kMaxNameOctets) return 0;
  }
  return 0;
}

namespace {

// ASCII uppercase to lowercase in eight octets at once; other octets (length octets, bytes of
// 0x80 and above) are left alone.
inline std::uint64_t lower_word(std::uint64_t word) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  std::uint64_t low7 = word & ~kHigh;
  std::uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');
  std::uint64_t above_z = low7 + kOnes * (0x80 - 'Z' - 1);
  std::uint64_t upper = at_least_a & ~above_z & ~word & kHigh;
  return word | (upper >> 2);
}

}  // namespace

void ascii_lowercase(char* text, std::size_t size) noexcept {
  for (std::size_t at = 0; at < size; at += 8) {
    std::uint64_t word = 0;
    std::size_t chunk = size - at < 8 ? size - at : 8;
    std::memcpy(&word, text + at, chunk);
    word = lower_word(word);
    std::memcpy(text + at, &word, chunk);
  }
}

bool make_name_key(const std::uint8_t* wire, std::size_t size, NameKey& key) noexcept {
  // One pass collects the label offsets and checks the name; labels are then copied in
  // reverse order and the whole key is lowercased a word at a time (whole words: `bytes` has
  // room for the last one, and what lies past `out` is never read as part of the key).
  std::uint8_t starts[kMaxLabels];
  std::size_t labels = 0, i = 0;
  for (;;) {
    if (i >= size || i >= kMaxNameOctets) return false;
    std::uint8_t length = wire[i];
    if (length == 0) break;
    if (length > kMaxLabelOctets || labels == kMaxLabels) return false;  // pointer or junk
    starts[labels++] = static_cast<std::uint8_t>(i);
    i += length + 1u;
  }
  std::size_t out = 0;
  for (std::size_t n = 0; n < labels; ++n) {
    const std::uint8_t* label = wire + starts[labels - 1 - n];
    std::size_t label_size = label[0] + 1u;
    std::memcpy(key.bytes + out, label, label_size);
    out += label_size;
    key.prefix_end[n] = static_cast<std::uint8_t>(out);
  }
  for (std::size_t at = 0; at < out; at += 8) {
    std::uint64_t word;
    std::memcpy(&word, key.bytes + at, 8);
    word = lower_word(word);
    std::memcpy(key.bytes + at, &word, 8);
  }
  key.size = static_cast<std::uint16_t>(out);
  key.label_count = static_cast<std::uint8_t>(labels);
  return true;
}

std::string key_to_wire(std::string_view key) {
  // Collect label offsets of the key, then emit them in reverse.
  std::size_t starts[kMaxLabels];
  std::size_t labels = 0;
  for (std::size_t i = 0; i < key.size() && labels < kMaxLabels;
       i += static_cast<std::uint8_t>(key[i]) + 1u)
    starts[labels++] = i;
  std::string wire;
  wire.reserve(key.size() + 1);
  for (std::size_t n = labels; n-- > 0;) {
    auto length = static_cast<std::uint8_t>(key[starts[n]]);
    wire.append(key.substr(starts[n], length + 1u));
  }
  wire.push_back('\0');
  return wire;
}

bool text_to_key(std::string_view text, std::string& key, std::string& error) {
  std::string wire;
  if (!parse_name(text, wire, error)) return false;
  NameKey name_key;
  if (!make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), name_key)) {
    error = "invalid name";
    return false;
  }
  key.assign(name_key.view());
  return true;
}

}  // namespace dnsverdict
