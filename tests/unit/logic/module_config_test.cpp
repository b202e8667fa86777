#include "module_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace dnsverdict {
namespace {

// The error parse_config reports for `text` (read as t.conf), or "no error".
std::string message(const char* text) {
  try {
    parse_config(text, "t.conf");
  } catch (const ConfigError& error) {
    return std::string(error.what());
  }
  return std::string("no error");
}

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
  EXPECT_EQ(message("\nfail-mode: ajar\n"), "t.conf:2: fail-mode: expected open or closed, got \"ajar\"");
  EXPECT_EQ(message("exempt: 10.0.0.0/33\n").rfind("t.conf:1: exempt: prefix length 33", 0), 0u);
  EXPECT_EQ(message("sinkhole-ipv4: ::1\n"), "t.conf:1: sinkhole-ipv4: not an IPv4 address: \"::1\"");
  EXPECT_EQ(message("colour: blue\n"), "t.conf:1: colour: unknown key");
  EXPECT_EQ(message("confidence-tag: 90\n").rfind("t.conf:1: confidence-tag: must not be above", 0), 0u);
  EXPECT_EQ(message("check-interval: 5ms\n"), "t.conf:1: check-interval: expected 10ms to 3600s");
}

std::string config_error(const std::string& text) {
  try {
    parse_config(text, "t.conf");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "no error";
}

TEST(ModuleConfig, AHashInsideQuotesIsPartOfTheValue) {
  ModuleConfig config = parse_config(
      "store: \"/srv/feeds#2/verdicts.mdb\"  # the second feed folder\n"
      "hit-log: '/var/log/#hits.jsonl'\n"
      "stats-resolver-name: \"resolver#1\"\n",
      "t.conf");
  EXPECT_EQ(config.store_path, "/srv/feeds#2/verdicts.mdb");
  EXPECT_EQ(config.hit_log_path, "/var/log/#hits.jsonl");
  EXPECT_EQ(config.stats_resolver_name, "resolver#1");
  // Outside quotes `#` still starts a comment.
  EXPECT_EQ(parse_config("store: /s.mdb# note\n", "t.conf").store_path, "/s.mdb");
}

TEST(ModuleConfig, AnUnterminatedQuoteIsAnError) {
  EXPECT_EQ(config_error("\nstore: \"/srv/feeds#2/verdicts.mdb\n"),
            "t.conf:2: store: unterminated quote");
  EXPECT_EQ(config_error("hit-log: '/var/log/hits.jsonl\n"), "t.conf:1: hit-log: unterminated quote");
  EXPECT_EQ(config_error("store: \"/s.mdb\" /t.mdb\n"),
            "t.conf:1: store: unexpected text after the closing quote");
}

TEST(ModuleConfig, DurationsTooLargeToConvertAreErrors) {
  for (const char* value : {"1e300s", "99999999999999999999999s", "9223372036854775808ms",
                            "inf", "nan", "1e3s"}) {
    EXPECT_EQ(config_error(std::string("check-interval: ") + value + "\n"),
              "t.conf:1: check-interval: expected a duration such as 1s or 250ms")
        << value;
  }
  EXPECT_EQ(config_error("check-interval: 3601s\n"), "t.conf:1: check-interval: expected 10ms to 3600s");
  EXPECT_EQ(parse_config("check-interval: 0.5s\n", "t.conf").check_interval.count(), 500);
  EXPECT_EQ(parse_config("check-interval: 3600\n", "t.conf").check_interval.count(), 3600000);
}

TEST(ModuleConfig, ThresholdConflictNamesTheLineOfTheLastThresholdSet) {
  // confidence-tag defaulted (50): the error is at confidence-block's line.
  EXPECT_EQ(config_error("store: /s.mdb\nconfidence-block: 40\n"),
            "t.conf:2: confidence-block: must not be below confidence-tag (50)");
  // Both set: whichever came last is the one that conflicts.
  EXPECT_EQ(config_error("confidence-tag: 90\n\nconfidence-block: 85\n"),
            "t.conf:3: confidence-block: must not be below confidence-tag (90)");
  EXPECT_EQ(config_error("confidence-block: 85\n\nconfidence-tag: 90\n"),
            "t.conf:3: confidence-tag: must not be above confidence-block (85)");
  EXPECT_EQ(config_error("confidence-tag: 90\n"),
            "t.conf:1: confidence-tag: must not be above confidence-block (80)");
}

TEST(ModuleConfig, StatsDefaultsCountNothing) {
  ModuleConfig config = parse_config("store: /s.mdb\n", "t.conf");
  EXPECT_EQ(config.stats_store_path, "");
  EXPECT_EQ(config.stats_flush_interval.count(), 60);
  EXPECT_EQ(config.stats_retention_days, 30u);
  EXPECT_EQ(config.stats_resolver_name, "");
  EXPECT_EQ(config.prometheus_file, "");
  EXPECT_EQ(config.stats_max_rules, 100000u);
}

TEST(ModuleConfig, StatsValues) {
  ModuleConfig config = parse_config(
      "stats-store: /var/lib/dnsverdict/stats.mdb\nstats-flush-interval: 5\n"
      "stats-retention-days: 0\nstats-resolver-name: \"resolver-1.fra\"\n"
      "prometheus-file: /var/lib/prometheus/node-exporter/dnsverdict.prom\n"
      "stats-max-rules: 2000\n",
      "t.conf");
  EXPECT_EQ(config.stats_store_path, "/var/lib/dnsverdict/stats.mdb");
  EXPECT_EQ(config.stats_flush_interval.count(), 5);
  EXPECT_EQ(config.stats_retention_days, 0u);
  EXPECT_EQ(config.stats_resolver_name, "resolver-1.fra");
  EXPECT_EQ(config.prometheus_file, "/var/lib/prometheus/node-exporter/dnsverdict.prom");
  EXPECT_EQ(config.stats_max_rules, 2000u);
}

TEST(ModuleConfig, StatsErrorsNameFileLineAndKey) {
  EXPECT_EQ(message("stats-flush-interval: 0\n"),
            "t.conf:1: stats-flush-interval: expected 1 to 3600 seconds");
  EXPECT_EQ(message("stats-flush-interval: 3601\n"),
            "t.conf:1: stats-flush-interval: expected 1 to 3600 seconds");
  EXPECT_EQ(message("stats-flush-interval: 1m\n"),
            "t.conf:1: stats-flush-interval: expected 1 to 3600 seconds");
  EXPECT_EQ(message("stats-retention-days: -1\n"),
            "t.conf:1: stats-retention-days: expected 0 (keep all) to 36500 days");
  EXPECT_EQ(message("stats-resolver-name: two words\n"),
            "t.conf:1: stats-resolver-name: expected printable characters without spaces");
  EXPECT_EQ(message("stats-max-rules: 0\n"), "t.conf:1: stats-max-rules: expected 1 to 10000000 rules");
  EXPECT_EQ(message("\nprometheus-file: /tmp/d.prom\n"),
            "t.conf:2: prometheus-file: needs stats-store (it is written from it)");
  EXPECT_EQ(message("store: /s.mdb\nstats-store: /s.mdb\n"),
            "t.conf:2: stats-store: must not be the verdict store");
  EXPECT_EQ(message("stats-store: /st.mdb\nprometheus-file: /tmp/d.prom\n"), "no error");
}

TEST(ModuleConfig, StatsStorageAndPrivacyKeys) {
  ModuleConfig defaults = parse_config("stats-store: /s/stats.mdb\n", "t.conf");
  EXPECT_EQ(defaults.stats_map_size, std::size_t{4} << 30);
  EXPECT_EQ(defaults.stats_memory_budget, std::size_t{128} << 20);
  EXPECT_EQ(defaults.stats_hash_key_file, "");  // the flusher uses /s/stats.mdb.key
  ModuleConfig config = parse_config(
      "stats-store: /s/stats.mdb\nstats-map-size: 512m\nstats-memory-budget: 64M\n"
      "stats-hash-key-file: /etc/dnsverdict/stats.key\n",
      "t.conf");
  EXPECT_EQ(config.stats_map_size, std::size_t{512} << 20);
  EXPECT_EQ(config.stats_memory_budget, std::size_t{64} << 20);
  EXPECT_EQ(config.stats_hash_key_file, "/etc/dnsverdict/stats.key");
  EXPECT_EQ(parse_config("stats-map-size: 1t\n", "t.conf").stats_map_size, std::size_t{1} << 40);
  EXPECT_EQ(message("stats-map-size: 4x\n"),
            "t.conf:1: stats-map-size: expected a size from 1m to 1t (such as 512m or 4g)");
  EXPECT_EQ(message("stats-map-size: 512k\n"),
            "t.conf:1: stats-map-size: expected a size from 1m to 1t (such as 512m or 4g)");
  EXPECT_EQ(message("stats-map-size: 2t\n"),
            "t.conf:1: stats-map-size: expected a size from 1m to 1t (such as 512m or 4g)");
  EXPECT_EQ(message("\nstats-memory-budget: 0\n"),
            "t.conf:2: stats-memory-budget: expected a size from 1m to 64g (such as 128m)");
  EXPECT_EQ(message("stats-hash-key-file: /k\n"),
            "t.conf:1: stats-hash-key-file: needs stats-store (the key is for its hashes)");
}

TEST(ModuleConfig, HitLogRateLimits) {
  ModuleConfig defaults = parse_config("store: /s.mdb\n", "t.conf");
  EXPECT_EQ(defaults.hit_log_rate_limit, 10u);
  EXPECT_EQ(defaults.hit_log_rate_interval.count(), 60);
  EXPECT_EQ(defaults.hit_log_max_lines_per_second, 1000u);

  ModuleConfig config = parse_config(
      "hit-log-rate-limit: 3\nhit-log-rate-interval: 10s\nhit-log-max-lines-per-second: 0\n",
      "t.conf");
  EXPECT_EQ(config.hit_log_rate_limit, 3u);
  EXPECT_EQ(config.hit_log_rate_interval.count(), 10);
  EXPECT_EQ(config.hit_log_max_lines_per_second, 0u);
  EXPECT_EQ(parse_config("hit-log-rate-interval: 3600\n", "t.conf").hit_log_rate_interval.count(),
            3600);
  EXPECT_EQ(parse_config("hit-log-rate-limit: 0\n", "t.conf").hit_log_rate_limit, 0u);
}

TEST(ModuleConfig, HitLogRateLimitErrorsNameFileLineAndKey) {
  EXPECT_EQ(message("hit-log-rate-limit: -1\n"),
            "t.conf:1: hit-log-rate-limit: expected 0 (no limit) to 1000000 lines");
  EXPECT_EQ(message("hit-log-rate-limit: ten\n"),
            "t.conf:1: hit-log-rate-limit: expected 0 (no limit) to 1000000 lines");
  EXPECT_EQ(message("\nhit-log-rate-interval: soon\n"),
            "t.conf:2: hit-log-rate-interval: expected a duration such as 60s");
  EXPECT_EQ(message("hit-log-rate-interval: 0\n"),
            "t.conf:1: hit-log-rate-interval: expected whole seconds from 1s to 3600s");
  EXPECT_EQ(message("hit-log-rate-interval: 1500ms\n"),
            "t.conf:1: hit-log-rate-interval: expected whole seconds from 1s to 3600s");
  EXPECT_EQ(message("hit-log-rate-interval: 3601s\n"),
            "t.conf:1: hit-log-rate-interval: expected whole seconds from 1s to 3600s");
  EXPECT_EQ(message("hit-log-max-lines-per-second: 10000001\n"),
            "t.conf:1: hit-log-max-lines-per-second: expected 0 (no cap) to 10000000 lines");
}

}  // namespace
}  // namespace dnsverdict

namespace dnsverdict {
namespace {

const ClientGroup& group_of(const ModuleConfig& config, const char* address) {
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET, address, bytes) == 1) return config.group_for(AF_INET, bytes);
  inet_pton(AF_INET6, address, bytes);
  return config.group_for(AF_INET6, bytes);
}

TEST(ModuleConfigGroups, LongestNetworkWinsAndTheRestAreDefault) {
  ModuleConfig config = parse_config(
      "client-group: office 10.0.0.0/8\n"
      "client-group: security 10.1.0.0/16, 2001:db8:5::/48\n"
      "client-group: office 192.0.2.0/24\n"  // adds a network to office
      "group-mode: office monitor\n"
      "group-categories: security malware C2\n"
      "group-campaigns: security LookAlike\n"
      "group-confidence: security 10 20\n"
      "group-categories: default malware\n",
      "t.conf");
  ASSERT_EQ(config.groups.size(), 2u);
  EXPECT_EQ(group_of(config, "10.2.3.4").name, "office");
  EXPECT_EQ(group_of(config, "10.1.3.4").name, "security");
  EXPECT_EQ(group_of(config, "192.0.2.9").name, "office");
  EXPECT_EQ(group_of(config, "::ffff:10.1.0.1").name, "security");  // IPv4-mapped
  EXPECT_EQ(group_of(config, "2001:db8:5::1").name, "security");
  EXPECT_EQ(group_of(config, "11.0.0.1").name, "default");
  EXPECT_EQ(config.group_for(0, nullptr).name, "default");
  const ClientGroup& office = config.groups[0];
  EXPECT_EQ(office.mode, GroupMode::kMonitor);
  EXPECT_TRUE(office.applies("anything", ""));
  const ClientGroup& security = config.groups[1];
  EXPECT_TRUE(security.applies("c2", ""));  // names compared without regard to case
  EXPECT_TRUE(security.applies("", "lookalike"));
  EXPECT_FALSE(security.applies("adult", "Other"));
  EXPECT_EQ(security.confidence_tag, 10);
  EXPECT_EQ(security.confidence_block, 20);
  EXPECT_EQ(config.default_group.categories, std::vector<std::string>{"malware"});
}

TEST(ModuleConfigGroups, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(message("client-group: kids\n"),
            "t.conf:1: client-group: expected a group name and at least one network");
  EXPECT_EQ(message("client-group: k!ds 10.0.0.0/8\n"),
            "t.conf:1: client-group: group name \"k!ds\": expected up to 32 letters, digits, - or _");
  EXPECT_EQ(message("client-group: default 10.0.0.0/8\n"),
            "t.conf:1: client-group: \"default\" is every client in no group: it has no networks");
  EXPECT_EQ(message("client-group: kids 10.0.0.0/33\n").rfind("t.conf:1: client-group: prefix length 33", 0), 0u);
  EXPECT_EQ(message("\ngroup-mode: kids monitor\n"), "t.conf:2: group-mode: no client-group \"kids\" above");
  EXPECT_EQ(message("client-group: kids 10.0.0.0/8\ngroup-mode: kids sleep\n"),
            "t.conf:2: group-mode: expected enforce or monitor, got \"sleep\"");
  EXPECT_EQ(message("group-confidence: default 90 10\n"),
            "t.conf:1: group-confidence: the tag threshold must not be above the block threshold");
  EXPECT_EQ(message("group-confidence: default 90\n"),
            "t.conf:1: group-confidence: expected a group name, then the tag and block thresholds (0 to 101)");
}

}  // namespace
}  // namespace dnsverdict
