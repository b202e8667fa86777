// Sharded runs: the sketches of shards, merged, must equal one run over all the data —
// byte for byte in the sketch encoding, with exact client sets and with HyperLogLog ones.
#include <gtest/gtest.h>

#include <string>

#include "diagnostics.h"
#include "estimator.h"
#include "log_formats.h"
#include "population_sim.h"
#include "sketch_file.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

class SketchMergeTest : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  testing::TempDir folder;
  testing::SimConfig config;
  testing::SimResult simulation;
  std::string store;

  void SetUp() override {
    config.days = 2;
    config.infected_devices = 150;
    config.clean_clients = 200;
    simulation = testing::simulate_population(config);
    store = testing::build_store(folder.file("s.store"),
                                 {{FeedFormat::kCsv, testing::campaign_feed(config, "lookalike-images")}});
  }

  // Runs the estimator over the queries whose index % shards == shard.
  EstimateState run(std::size_t shard, std::size_t shards, std::uint64_t budget) {
    EstimatorOptions options;
    options.memory_budget = budget;
    options.suspects = true;
    Estimator estimator(VerdictStore::open(store), options);
    LogLineParser parser(LogFormat::kUnbound);
    QueryRecord query;
    std::string reason;
    for (std::size_t i = shard; i < simulation.queries.size(); i += shards) {
      std::string line = testing::unbound_line(simulation.queries[i]);
      EXPECT_EQ(parser.parse(line, query, reason), ParseStatus::kRecord);
      estimator.add(query);
      ++estimator.state().counters.lines;
    }
    ++estimator.state().counters.inputs;
    return estimator.state();
  }
};

TEST_P(SketchMergeTest, ShardsMergedEqualOneRun) {
  std::uint64_t budget = GetParam();
  EstimateState single = run(0, 1, budget);
  EstimateState merged;
  for (std::size_t shard = 0; shard < 3; ++shard) {
    std::string path = folder.file("shard-" + std::to_string(shard) + ".sketch");
    write_sketch_file(path, run(shard, 3, budget));
    EstimateState read = read_sketch_file(path);
    if (shard == 0) merged = std::move(read);
    else merged.merge(read);
  }
  EXPECT_EQ(merged.counters.inputs, 3u);
  merged.counters.inputs = single.counters.inputs;  // the one figure that counts files
  const EntityStats& campaign = single.entities.at({EntityKind::kCampaign, "lookalike-images"});
  EXPECT_EQ(campaign.clients.exact(), budget >= (1u << 22)) << "the small budget must sketch";
  EXPECT_EQ(encode_sketch(merged), encode_sketch(single));
  EXPECT_EQ(merged.entities.at({EntityKind::kCampaign, "lookalike-images"}).clients, campaign.clients);
}

// A budget that keeps everything exact, and one so small that every large set is sketched.
INSTANTIATE_TEST_SUITE_P(Budgets, SketchMergeTest, ::testing::Values(1ull << 30, 1ull << 16));

TEST_F(SketchMergeTest, RefusesDamagedForeignAndMismatchedSketches) {
  EstimateState state = run(0, 1, 1ull << 30);
  std::string bytes = encode_sketch(state);
  EXPECT_NO_THROW(decode_sketch(bytes, "ok"));
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  EXPECT_THROW(decode_sketch(damaged, "damaged"), ToolError);
  EXPECT_THROW(decode_sketch(bytes.substr(0, bytes.size() - 3), "short"), ToolError);
  std::string other_version = bytes;
  other_version[8] = 99;
  try {
    decode_sketch(other_version, "v99");
    FAIL() << "accepted another version";
  } catch (const ToolError& error) {
    EXPECT_NE(std::string(error.what()).find("version 99"), std::string::npos) << error.what();
  }
  EXPECT_THROW(decode_sketch("hello", "text"), ToolError);

  EstimateState other_store = state;
  other_store.store_build_id = "0123";
  EXPECT_THROW(state.merge(other_store), ToolError);
  EstimateState other_budget = run(0, 2, 1ull << 20);
  EXPECT_THROW(state.merge(other_budget), ToolError);
}

}  // namespace
}  // namespace dnsverdict
