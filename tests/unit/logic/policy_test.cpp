#include "policy.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace dnsverdict {
namespace {

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FeedDefaults sinkhole;
    sinkhole.action = Action::kSinkhole;
    sinkhole.campaign = "Camp";
    FeedDefaults low;
    low.confidence = 60;
    testing::build_store(dir_.file("s.mdb"), {{FeedFormat::kDomains, "blocked.test\n"},
                                              {FeedFormat::kDomains, "sink.test\n", sinkhole},
                                              {FeedFormat::kDomains, "low.test\n", low}});
    store_ = VerdictStore::open(dir_.file("s.mdb"));
    config_ = parse_config("", "t");
  }
  Decision decide_for(const char* name, QueryContext context) {
    std::string key, error;
    EXPECT_TRUE(text_to_key(name, key_text_, error));
    std::string wire;
    parse_name(name, wire, error);
    make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), key_);
    lookup_ = store_->lookup(key_, 0);
    return decide(lookup_, *store_, config_, context);
  }
  testing::TempDir dir_;
  std::shared_ptr<const VerdictStore> store_;
  ModuleConfig config_;
  NameKey key_;
  LookupResult lookup_;
  std::string key_text_;
};

TEST_F(PolicyTest, BlocksGradesAndExempts) {
  EXPECT_EQ(decide_for("blocked.test", {kTypeA, false, true}).response, Response::kNxdomain);
  EXPECT_EQ(decide_for("www.blocked.test", {kTypeA, false, true}).response, Response::kNxdomain);
  Decision exempt = decide_for("blocked.test", {kTypeA, true, true});
  EXPECT_EQ(exempt.response, Response::kPass);
  EXPECT_TRUE(exempt.hit);
  EXPECT_TRUE(exempt.blocks_someone);
  Decision low = decide_for("low.test", {kTypeA, false, true});
  EXPECT_EQ(low.response, Response::kPass);
  EXPECT_EQ(low.applied, Action::kTag);
  EXPECT_FALSE(decide_for("other.test", {kTypeA, false, true}).hit);
}

TEST_F(PolicyTest, ClientGroupsBringTheirOwnPolicy) {
  config_ = parse_config(
      "client-group: pilot 10.0.0.0/8\ngroup-mode: pilot monitor\n"
      "client-group: strict 10.1.0.0/16\ngroup-confidence: strict 10 50\n"
      "client-group: camp 10.2.0.0/16\ngroup-campaigns: camp camp\n"
      "group-categories: default nothing-listed\n",
      "t");
  const ClientGroup& pilot = config_.groups[0];
  const ClientGroup& strict = config_.groups[1];
  const ClientGroup& camp = config_.groups[2];
  QueryContext context{kTypeA, false, true, &pilot};
  Decision monitored = decide_for("blocked.test", context);
  EXPECT_EQ(monitored.response, Response::kPass);
  EXPECT_EQ(monitored.applied, Action::kLog);
  EXPECT_STREQ(monitored.note, "monitor-group");
  EXPECT_TRUE(monitored.blocks_someone);  // the strict group blocks it: never cached
  context.group = &strict;
  EXPECT_EQ(decide_for("low.test", context).response, Response::kNxdomain);  // 60 >= 50
  context.group = &config_.default_group;  // only a category no rule has: nothing applies
  Decision outside = decide_for("blocked.test", context);
  EXPECT_FALSE(outside.hit);
  EXPECT_EQ(outside.response, Response::kPass);
  context.group = &camp;  // only campaign "Camp" (any case)
  EXPECT_EQ(decide_for("sink.test", context).response, Response::kSinkhole);
  EXPECT_FALSE(decide_for("blocked.test", context).hit);
  lookup_ = {};
  EXPECT_FALSE(blocks_anyone(store_->lookup(key_, 0).rule, *store_, parse_config(
      "client-group: pilot 10.0.0.0/8\ngroup-mode: pilot monitor\ngroup-mode: default monitor\n",
      "t")));
}

TEST_F(PolicyTest, SinkholeByTypeAndEdeText) {
  Decision a = decide_for("sink.test", {kTypeA, false, true});
  EXPECT_EQ(a.response, Response::kSinkhole);
  EXPECT_EQ(a.sinkhole, config_.default_sinkhole);
  EXPECT_EQ(decide_for("sink.test", {15, false, true}).response, Response::kNodata);
  EXPECT_EQ(ede_text(a, lookup_, *store_), "dnsverdict: sinkhole (campaign Camp)");
}

}  // namespace
}  // namespace dnsverdict
