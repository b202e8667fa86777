#include "module_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace dnsverdict {
namespace {

TEST(ModuleConfig, DefaultsAndValues) {
  ModuleConfig config = parse_config(
      "# comment\nstore: /s.mdb\nfail-mode: closed\nanswer-ttl: 30\nexempt: 10.0.0.0/8, "
      "2001:db8::/32\ncheck-interval: 250ms\nede-code: filtered\n",
      "t.conf");
  EXPECT_EQ(config.store_path, "/s.mdb");
  EXPECT_EQ(config.fail_mode, FailMode::kClosed);
  EXPECT_EQ(config.answer_ttl, 30u);
  EXPECT_EQ(config.check_interval.count(), 250);
  EXPECT_EQ(config.ede, EdeChoice::kFiltered);
  EXPECT_EQ(config.confidence_tag, 50);
  EXPECT_EQ(config.confidence_block, 80);
  std::uint8_t inside[4], outside[4], mapped[16];
  inet_pton(AF_INET, "10.1.2.3", inside);
  inet_pton(AF_INET, "11.0.0.1", outside);
  inet_pton(AF_INET6, "::ffff:10.9.9.9", mapped);
  EXPECT_TRUE(config.is_exempt(AF_INET, inside));
  EXPECT_FALSE(config.is_exempt(AF_INET, outside));
  EXPECT_TRUE(config.is_exempt(AF_INET6, mapped));
}

TEST(ModuleConfig, ErrorsNameFileLineAndKey) {
  auto message = [](const char* text) {
    try {
      parse_config(text, "t.conf");
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("\nfail-mode: ajar\n"), "t.conf:2: fail-mode: expected open or closed, got \"ajar\"");
  EXPECT_EQ(message("exempt: 10.0.0.0/33\n").rfind("t.conf:1: exempt: prefix length 33", 0), 0u);
  EXPECT_EQ(message("sinkhole-ipv4: ::1\n"), "t.conf:1: sinkhole-ipv4: not an IPv4 address: \"::1\"");
  EXPECT_EQ(message("colour: blue\n"), "t.conf:1: colour: unknown key");
  EXPECT_EQ(message("confidence-tag: 90\n").rfind("t.conf:1: confidence-tag: must not be above", 0), 0u);
  EXPECT_EQ(message("check-interval: 5ms\n"), "t.conf:1: check-interval: expected 10ms to 3600s");
}

}  // namespace
}  // namespace dnsverdict
