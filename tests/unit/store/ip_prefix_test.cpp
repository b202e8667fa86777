// Text forms of address prefixes: CIDR parsing and printing, host bits, rpz-ip owner labels.
#include "ip_prefix.h"

#include <gtest/gtest.h>

namespace dnsverdict {
namespace {

IpPrefix parsed(const std::string& text) {
  IpPrefix prefix;
  std::string error;
  EXPECT_TRUE(parse_ip_prefix(text, prefix, error)) << text << ": " << error;
  return prefix;
}

TEST(IpPrefix, ParsesAddressesAndCidr) {
  EXPECT_EQ(format_ip_prefix(parsed("47.100.164.28")), "47.100.164.28/32");
  EXPECT_EQ(format_ip_prefix(parsed("47.100.164.28"), false), "47.100.164.28");
  EXPECT_EQ(format_ip_prefix(parsed("10.0.0.0/8")), "10.0.0.0/8");
  EXPECT_EQ(format_ip_prefix(parsed("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(format_ip_prefix(parsed("2001:DB8::/32")), "2001:db8::/32");
  EXPECT_EQ(format_ip_prefix(parsed("::1"), false), "::1");
  EXPECT_EQ(parsed("::ffff:1.2.3.4").family, 6);
  EXPECT_EQ(parsed("2001:db8::/128").length, 128);
}

TEST(IpPrefix, RejectsMalformedText) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/33", "1.2.3.4/",
                           "1.2.3.4/-1", "1.2.3.4/8x", "2001:db8::/129", "2001:db8:::1",
                           "example.com", "1.2.3.4 ", "01.2.3.4"}) {
    IpPrefix prefix;
    std::string error;
    EXPECT_FALSE(parse_ip_prefix(text, prefix, error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(IpPrefix, HostBitsAreReportedAndCleared) {
  IpPrefix prefix = parsed("10.1.2.3/8");
  EXPECT_TRUE(mask_host_bits(prefix));
  EXPECT_EQ(format_ip_prefix(prefix), "10.0.0.0/8");
  EXPECT_FALSE(mask_host_bits(prefix));
  IpPrefix v6 = parsed("2001:db8::ff/121");
  EXPECT_TRUE(mask_host_bits(v6));
  EXPECT_EQ(format_ip_prefix(v6), "2001:db8::80/121");
  IpPrefix all = parsed("255.255.255.255/0");
  EXPECT_TRUE(mask_host_bits(all));
  EXPECT_EQ(format_ip_prefix(all), "0.0.0.0/0");
}

TEST(IpPrefix, Encloses) {
  EXPECT_TRUE(prefix_encloses(parsed("10.0.0.0/8"), parsed("10.1.0.0/16")));
  EXPECT_TRUE(prefix_encloses(parsed("10.0.0.0/8"), parsed("10.0.0.0/8")));
  EXPECT_FALSE(prefix_encloses(parsed("10.1.0.0/16"), parsed("10.0.0.0/8")));
  EXPECT_FALSE(prefix_encloses(parsed("0.0.0.0/0"), parsed("::/0")));
}

std::string from_rpz(const std::string& labels) {
  IpPrefix prefix;
  std::string error;
  if (!parse_rpz_ip_labels(labels, prefix, error)) return "error: " + error;
  return format_ip_prefix(prefix);
}

TEST(IpPrefix, RpzIpLabels) {
  EXPECT_EQ(from_rpz("32.28.164.100.47"), "47.100.164.28/32");
  EXPECT_EQ(from_rpz("24.0.2.0.192"), "192.0.2.0/24");
  EXPECT_EQ(from_rpz("128.1.zz.db8.2001"), "2001:db8::1/128");
  EXPECT_EQ(from_rpz("48.zz.1.db8.2001"), "2001:db8:1::/48");
  EXPECT_EQ(from_rpz("128.ZZ.1"), "1::/128");
  EXPECT_EQ(from_rpz("64.0.0.0.0.0.1.DB8.2001"), "2001:db8:1::/64");
  EXPECT_EQ(from_rpz("0.zz"), "::/0");
  for (const char* bad : {"33.1.2.3.4", "32.1.2.3", "32.1.2.3.256", "x.1.2.3.4", "129.zz.1",
                          "64.zz.1.zz", "64.1.2.3.4.5.6.7.8.9", "64.12345.zz", "64.g.zz"})
    EXPECT_EQ(from_rpz(bad).rfind("error: rpz-ip: ", 0), 0u) << bad << " " << from_rpz(bad);
  EXPECT_EQ(rpz_ip_labels(parsed("47.100.164.28")), "32.28.164.100.47");
  EXPECT_EQ(rpz_ip_labels(parsed("2001:db8::1")), "128.1.zz.db8.2001");
  EXPECT_EQ(rpz_ip_labels(parsed("2001:db8:0:1::/64")), "64.zz.1.0.db8.2001");
  EXPECT_EQ(rpz_ip_labels(parsed("2001:db8:0:1:1:1:1:1")), "128.1.1.1.1.1.0.db8.2001");
  EXPECT_EQ(rpz_ip_labels(parsed("::/0")), "0.zz");
  for (const char* text : {"2001:db8::1", "1::", "::1", "1:0:0:2::3/128", "10.0.0.0/8"})
    EXPECT_EQ(from_rpz(rpz_ip_labels(parsed(text))), format_ip_prefix(parsed(text))) << text;
}

}  // namespace
}  // namespace dnsverdict
