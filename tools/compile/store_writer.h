// Writes a verdict store (store_format.h) from a finalized RuleSet and publishes it
// atomically: the store is written to a temporary file beside the target, its checksum
// trailer appended (store_checksum.h), synced and meanwhile checked by opening it with the
// reader, then renamed over the target and the folder synced. A failure at any step leaves
// the previous store untouched and removes the temporary file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rule_set.h"

namespace dnsverdict {

struct PublishOptions {
  // Refuse to replace an existing store when the new one has fewer than this fraction of
  // its rules (a truncated feed must not silently unblock everything). 0 disables.
  double min_ratio = 0.5;
  bool force = false;  // publish even when the safety valve refuses
  std::int64_t build_time = 0;  // 0: now
  // The rules of the store being replaced, when the caller has opened it already (0: there
  // is none, or it is damaged); unset: write_store opens it.
  std::optional<std::uint64_t> previous_rules;
};

struct PublishResult {
  std::string build_id;
  std::uint64_t bytes = 0;
  std::uint64_t keys = 0;
  std::uint64_t previous_rules = 0;  // rules in the store that was replaced (0: none)
};

// Throws ToolError: safety valve ("refusing to replace X: N rules < 50% of M; --force"),
// I/O or LMDB failures, each with the path.
PublishResult write_store(const RuleSet& rules, const std::string& target,
                          const PublishOptions& options);

}  // namespace dnsverdict
