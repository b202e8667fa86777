#include "address_trigger.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <string>

namespace dnsverdict {
namespace {

std::string rule_name(const char* text, unsigned prefix_length) {
  std::uint8_t address[16];
  std::size_t size = 4;
  if (inet_pton(AF_INET, text, address) != 1) {
    EXPECT_EQ(inet_pton(AF_INET6, text, address), 1) << text;
    size = 16;
  }
  NameKey key;
  if (!address_rule_key(address, size, prefix_length, key)) return "(none)";
  return key_to_text(key.view());
}

TEST(AddressRuleKey, Ipv4IsRpzIpOwner) {
  EXPECT_EQ(rule_name("47.100.164.28", 32), "32.28.164.100.47.rpz-ip");
  EXPECT_EQ(rule_name("10.66.1.77", 24), "24.0.1.66.10.rpz-ip");  // masked to the prefix
  EXPECT_EQ(rule_name("10.66.1.77", 0), "0.0.0.0.0.rpz-ip");
  EXPECT_EQ(rule_name("10.66.1.77", 33), "(none)");
}

TEST(AddressRuleKey, Ipv6CompressesTheLongestZeroRun) {
  EXPECT_EQ(rule_name("2001:db8::", 32), "32.zz.db8.2001.rpz-ip");
  EXPECT_EQ(rule_name("2001:db8::1", 128), "128.1.zz.db8.2001.rpz-ip");
  EXPECT_EQ(rule_name("2001:db8:0:0:1:0:0:1", 128), "128.1.0.0.1.zz.db8.2001.rpz-ip");
  EXPECT_EQ(rule_name("2001:db8:1:2:3:4:5:6", 128), "128.6.5.4.3.2.1.db8.2001.rpz-ip");
  EXPECT_EQ(rule_name("2001:0:1:2:3:4:5:6", 128), "128.6.5.4.3.2.1.0.2001.rpz-ip");  // one zero
  EXPECT_EQ(rule_name("::", 0), "0.zz.rpz-ip");
  EXPECT_EQ(rule_name("fd66::1", 16), "16.zz.fd66.rpz-ip");
  EXPECT_EQ(rule_name("fd66::1", 129), "(none)");
}

TEST(RdataAddress, OnlyWellFormedRecords) {
  const std::uint8_t a[] = {0, 4, 10, 0, 0, 1};
  ASSERT_NE(rdata_address(a, sizeof a, 4), nullptr);
  EXPECT_EQ(rdata_address(a, sizeof a, 4)[0], 10);
  EXPECT_EQ(rdata_address(a, sizeof a, 16), nullptr);
  const std::uint8_t wrong_length[] = {0, 5, 10, 0, 0, 1};
  EXPECT_EQ(rdata_address(wrong_length, sizeof wrong_length, 4), nullptr);
}

}  // namespace
}  // namespace dnsverdict
