#include "dns_name.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace dnsverdict {
namespace {

std::string wire_of(std::string_view text) {
  std::string wire, error;
  EXPECT_TRUE(parse_name(text, wire, error)) << text << ": " << error;
  return wire;
}

std::string parse_error(std::string_view text) {
  std::string wire, error;
  EXPECT_FALSE(parse_name(text, wire, error)) << text;
  return error;
}

TEST(DnsName, ParsesAndLowercases) {
  EXPECT_EQ(wire_of("WWW.Example.COM"), std::string("\3www\7example\3com\0", 17));
  EXPECT_EQ(wire_of("example.com."), wire_of("example.com"));
  EXPECT_EQ(wire_of("."), std::string(1, '\0'));
}

TEST(DnsName, DecodesEscapes) {
  EXPECT_EQ(wire_of("a\\.b.com"), std::string("\3a.b\3com\0", 9));
  EXPECT_EQ(wire_of("\\065\\000x.com"), std::string("\3a\0x\3com\0", 9));
  EXPECT_EQ(name_to_text(wire_of("a\\.b.com")), "a\\.b.com");
  EXPECT_EQ(name_to_text(wire_of("\\000\\255\\\"q.com")), "\\000\\255\\034q.com");
}

TEST(DnsName, RejectsInvalidNames) {
  EXPECT_EQ(parse_error("a..b"), "empty label");
  EXPECT_EQ(parse_error(".a"), "empty label");
  EXPECT_EQ(parse_error(std::string(64, 'a') + ".com"), "label longer than 63 octets");
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcde.";
  EXPECT_EQ(parse_error(long_name), "name longer than 255 octets");
  EXPECT_EQ(parse_error("a\\25"), "bad \\DDD escape");
  EXPECT_EQ(parse_error("a\\300.com"), "\\DDD escape above 255");
  EXPECT_EQ(parse_error("abc\\"), "escape at end of name");
  // Exactly 63 and exactly 255 octets are fine.
  std::string wire, error;
  EXPECT_TRUE(parse_name(std::string(63, 'a') + ".com", wire, error));
  std::string max_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                         std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_TRUE(parse_name(max_name, wire, error)) << error;
  EXPECT_EQ(wire.size(), 255u);
}

TEST(DnsName, KeyIsReversedLowercaseLabels) {
  std::string wire = std::string("\3WWW\4EvIl\3com\0", 14);
  NameKey key;
  ASSERT_TRUE(make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), key));
  EXPECT_EQ(key.label_count, 3);
  EXPECT_EQ(key.view(), std::string("\3com\4evil\3www", 13));
  EXPECT_EQ(key.prefix(1), std::string("\3com", 4));
  EXPECT_EQ(key.prefix(2), std::string("\3com\4evil", 9));
  EXPECT_EQ(key.prefix(3), key.view());
  EXPECT_EQ(key_to_text(key.view()), "www.evil.com");
  EXPECT_EQ(key_to_wire(key.view()), wire_of("www.evil.com"));
}

TEST(DnsName, KeyLowercasesOnlyAsciiLetters) {
  // Every octet value, in labels of 1 to 40 octets: only A-Z change, by exactly 0x20.
  for (int length = 1; length <= 40; ++length) {
    for (int first = 0; first < 256; first += 40) {
      std::string wire;
      for (int value = first; value < std::min(first + 40, 256);) {
        int size = std::min(length, std::min(first + 40, 256) - value);
        wire.push_back(static_cast<char>(size));
        for (int j = 0; j < size; ++j) wire.push_back(static_cast<char>(value++));
      }
      wire.push_back('\0');
      NameKey key;
      ASSERT_TRUE(make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), key));
      std::string lowered = wire;
      for (std::size_t i = 0; lowered[i] != '\0';) {
        std::size_t label = static_cast<unsigned char>(lowered[i]);
        for (std::size_t j = 1; j <= label; ++j)
          if (lowered[i + j] >= 'A' && lowered[i + j] <= 'Z') lowered[i + j] += 0x20;
        i += label + 1;
      }
      ASSERT_EQ(key_to_wire(key.view()), lowered) << "labels of " << length << " from " << first;
    }
  }
}

TEST(DnsName, KeyRejectsCompressionAndTruncation) {
  NameKey key;
  const std::uint8_t pointer[] = {3, 'w', 'w', 'w', 0xc0, 0x0c};
  EXPECT_FALSE(make_name_key(pointer, sizeof pointer, key));
  const std::uint8_t truncated[] = {3, 'w', 'w'};
  EXPECT_FALSE(make_name_key(truncated, sizeof truncated, key));
  const std::uint8_t root[] = {0};
  ASSERT_TRUE(make_name_key(root, 1, key));
  EXPECT_EQ(key.label_count, 0);
}

TEST(DnsName, AncestorKeysArePrefixes) {
  std::string parent, child, sibling, error;
  ASSERT_TRUE(text_to_key("evil.com", parent, error));
  ASSERT_TRUE(text_to_key("a.evil.com", child, error));
  ASSERT_TRUE(text_to_key("evilcom.com", sibling, error));
  EXPECT_EQ(child.compare(0, parent.size(), parent), 0);
  EXPECT_NE(sibling.compare(0, parent.size(), parent), 0);
}

}  // namespace
}  // namespace dnsverdict
