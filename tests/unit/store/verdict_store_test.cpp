// Lookup semantics, metadata, failure handling and atomic publication of verdict stores,
// built through the real rule set and writer.
#include "verdict_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "diagnostics.h"
#include "rule_set.h"
#include "store_writer.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

using testing::TempDir;

constexpr std::int64_t kNow = 1'800'000'000;

struct Spec {
  Spec(std::string name, RuleKind kind = RuleKind::kSubtree, Action action = Action::kNxdomain,
       std::uint8_t confidence = 100, bool allowlist = false, std::int64_t expires = 0,
       std::string campaign = {})
      : name(std::move(name)), kind(kind), action(action), confidence(confidence),
        allowlist(allowlist), expires(expires), campaign(std::move(campaign)) {}
  std::string name;
  RuleKind kind;
  Action action;
  std::uint8_t confidence;
  bool allowlist;
  std::int64_t expires;
  std::string campaign;
};

void add(RuleSet& rules, std::uint16_t source, const Spec& spec, std::uint32_t line = 1) {
  RuleDraft draft;
  std::string error;
  EXPECT_TRUE(text_to_key(spec.name, draft.key, error)) << error;
  draft.kind = spec.kind;
  draft.action = spec.action;
  draft.confidence = spec.confidence;
  draft.allowlist = spec.allowlist;
  draft.expires = spec.expires;
  draft.source = source;
  draft.line = line;
  draft.campaign = rules.intern_campaign(spec.campaign);
  rules.add(std::move(draft));
}

std::shared_ptr<const VerdictStore> build(const std::string& path,
                                          const std::vector<std::vector<Spec>>& sources,
                                          PublishOptions options = {}) {
  RuleSet rules;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SourceRecord record;
    record.file = "source" + std::to_string(i + 1);
    record.role = "block";
    std::uint16_t id = rules.add_source(record);
    std::uint32_t line = 0;
    for (const auto& spec : sources[i]) add(rules, id, spec, ++line);
  }
  rules.finalize();
  write_store(rules, path, options);
  return VerdictStore::open(path);
}

// A store's bytes without the checksum trailer: a store as an older compiler wrote it, which
// is read unverified (the tests below damage LMDB's pages behind the checksum's back).
std::string without_trailer(std::string bytes) {
  EXPECT_EQ(bytes.compare(bytes.size() - kChecksumTrailerSize, 8, kChecksumMagic), 0);
  bytes.resize(bytes.size() - kChecksumTrailerSize);
  return bytes;
}

LookupResult find(const VerdictStore& store, std::string_view name, std::int64_t now = kNow) {
  std::string wire, error;
  EXPECT_TRUE(parse_name(name, wire, error));
  return store.lookup_wire(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), now);
}

std::optional<Action> action_for(const VerdictStore& store, std::string_view name,
                                 std::int64_t now = kNow) {
  LookupResult result = find(store, name, now);
  EXPECT_NE(result.status, LookupStatus::kError) << name;
  if (!result.hit()) return std::nullopt;
  return result.rule.action;
}

TEST(VerdictStore, KindsCoverTheRightNames) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{
                                            {"exact.test", RuleKind::kExact},
                                            {"tree.test", RuleKind::kSubtree},
                                            {"wild.test", RuleKind::kWildcard},
                                        }});
  EXPECT_EQ(action_for(*store, "exact.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "a.exact.test"), std::nullopt);
  EXPECT_EQ(action_for(*store, "tree.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "a.b.tree.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "wild.test"), std::nullopt);
  EXPECT_EQ(action_for(*store, "x.wild.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "y.x.wild.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "test"), std::nullopt);
  EXPECT_EQ(action_for(*store, "other.test"), std::nullopt);
  EXPECT_EQ(action_for(*store, "xtree.test"), std::nullopt);
  EXPECT_EQ(action_for(*store, "TREE.Test"), Action::kNxdomain);
}

TEST(VerdictStore, MostSpecificRuleWins) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{
                                            {"evil.test", RuleKind::kSubtree, Action::kNxdomain},
                                            {"cdn.evil.test", RuleKind::kExact, Action::kAllow},
                                            {"x.cdn.evil.test", RuleKind::kWildcard, Action::kSinkhole},
                                        }});
  EXPECT_EQ(action_for(*store, "a.evil.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*store, "cdn.evil.test"), Action::kAllow);
  EXPECT_EQ(action_for(*store, "z.cdn.evil.test"), Action::kNxdomain);  // exact covers no children
  EXPECT_EQ(action_for(*store, "x.cdn.evil.test"), Action::kNxdomain);  // wildcard skips apex
  EXPECT_EQ(action_for(*store, "q.x.cdn.evil.test"), Action::kSinkhole);
  LookupResult result = find(*store, "q.x.cdn.evil.test");
  EXPECT_EQ(result.owner_labels, 4);
  EXPECT_EQ(result.rule.kind, RuleKind::kWildcard);
}

TEST(VerdictStore, ExpiredRulesAreNotApplied) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"),
                     {{
                         {"evil.test", RuleKind::kSubtree, Action::kNxdomain},
                         {"a.evil.test", RuleKind::kExact, Action::kSinkhole, 100, false, kNow},
                     }});
  EXPECT_EQ(action_for(*store, "a.evil.test", kNow - 1), Action::kSinkhole);
  EXPECT_EQ(action_for(*store, "a.evil.test", kNow), Action::kNxdomain);  // falls back
}

TEST(VerdictStore, ConflictsForOneNameAreDeterministic) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"),
                     {{
                          {"conf.test", RuleKind::kExact, Action::kLog, 90},
                          {"strict.test", RuleKind::kExact, Action::kSinkhole, 80},
                          {"allow.test", RuleKind::kExact, Action::kDrop, 100},
                      },
                      {
                          {"conf.test", RuleKind::kExact, Action::kDrop, 60},
                          {"strict.test", RuleKind::kExact, Action::kRefuse, 80},
                          {"allow.test", RuleKind::kExact, Action::kAllow, 10},
                      }});
  EXPECT_EQ(action_for(*store, "conf.test"), Action::kLog);        // higher confidence
  EXPECT_EQ(action_for(*store, "strict.test"), Action::kRefuse);   // then stricter action
  EXPECT_EQ(action_for(*store, "allow.test"), Action::kAllow);     // allow beats block
  EXPECT_EQ(find(*store, "strict.test").rule.source, 2);
}

TEST(VerdictStore, AllowlistBeatsMoreSpecificBlocks) {
  TempDir dir;
  auto store =
      build(dir.file("s.mdb"), {{
                                    {"bad.good.test", RuleKind::kExact, Action::kNxdomain},
                                    {"x.good.test", RuleKind::kSubtree, Action::kDrop},
                                    {"log.good.test", RuleKind::kExact, Action::kLog},
                                    {"good.test", RuleKind::kSubtree, Action::kAllow, 100, true},
                                    {"other.test", RuleKind::kExact, Action::kNxdomain},
                                }});
  EXPECT_EQ(action_for(*store, "bad.good.test"), Action::kAllow);
  EXPECT_EQ(action_for(*store, "y.x.good.test"), Action::kAllow);
  EXPECT_EQ(action_for(*store, "log.good.test"), Action::kLog);  // non-blocking rules stay
  EXPECT_EQ(action_for(*store, "other.test"), Action::kNxdomain);
  EXPECT_TRUE(find(*store, "bad.good.test").rule.flags & kFlagAllowlist);
}

TEST(VerdictStore, MetadataAndTables) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"),
                     {{
                         {"a.test", RuleKind::kSubtree, Action::kSinkhole, 95, false, 0, "lookalike"},
                         {"b.test", RuleKind::kExact, Action::kLog},
                         {"c.test", RuleKind::kWildcard, Action::kNxdomain},
                     }});
  const StoreInfo& info = store->info();
  EXPECT_EQ(info.format_version, kStoreFormatVersion);
  EXPECT_EQ(info.rule_count, 3u);
  EXPECT_EQ(info.key_count, 3u);
  EXPECT_EQ(info.build_id.size(), 32u);
  EXPECT_EQ(info.meta.at("count.action.sinkhole"), "1");
  EXPECT_EQ(info.meta.at("count.kind.wildcard"), "1");
  LookupResult result = find(*store, "x.a.test");
  ASSERT_TRUE(result.hit());
  ASSERT_NE(store->campaign(result.rule.campaign), nullptr);
  EXPECT_EQ(store->campaign(result.rule.campaign)->name, "lookalike");
  ASSERT_NE(store->source(result.rule.source), nullptr);
  EXPECT_EQ(store->source(result.rule.source)->file, "source1");
  EXPECT_EQ(store->source(result.rule.source)->rules, 3u);
  std::size_t records = 0;
  store->for_each([&](std::string_view, const RuleSlots&) { return ++records > 0; });
  EXPECT_EQ(records, 3u);
}

TEST(VerdictStore, SameInputGivesSameBuildId) {
  TempDir dir;
  auto first = build(dir.file("a.mdb"), {{{"a.test"}, {"b.test"}}});
  auto second = build(dir.file("b.mdb"), {{{"b.test"}, {"a.test"}}});
  auto third = build(dir.file("c.mdb"), {{{"a.test"}, {"c.test"}}});
  EXPECT_EQ(first->info().build_id, second->info().build_id);
  EXPECT_NE(first->info().build_id, third->info().build_id);
}

TEST(VerdictStore, BrokenFilesAreClearErrors) {
  TempDir dir;
  auto expect_error = [](const std::string& path, const std::string& fragment) {
    try {
      VerdictStore::open(path);
      ADD_FAILURE() << path << " opened";
    } catch (const StoreError& error) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    }
  };
  expect_error(dir.file("missing.mdb"), "missing");
  expect_error(dir.write("empty.mdb", ""), "empty");
  expect_error(dir.write("garbage.mdb", std::string(100000, 'x')), "not a verdict store");
  std::string good = dir.file("good.mdb");
  build(good, {{{"a.test"}, {"b.test"}}});
  std::string bytes = testing::read_file(good);
  expect_error(dir.write("truncated.mdb", bytes.substr(0, 4096)), "");
  // Cut inside the data pages: LMDB opens it, and touching the missing pages would SIGBUS.
  std::vector<Spec> many;
  for (int i = 0; i < 20000; ++i) many.push_back({"n" + std::to_string(i) + ".test"});
  std::string big = dir.file("big.mdb");
  build(big, {many});
  std::string big_bytes = without_trailer(testing::read_file(big));
  expect_error(dir.write("half.mdb", big_bytes.substr(0, big_bytes.size() / 2)), "truncated");
  // A plain LMDB file without our databases.
  {
    MDB_env* env;
    mdb_env_create(&env);
    std::string path = dir.file("other.mdb");
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    MDB_txn* txn;
    mdb_txn_begin(env, nullptr, 0, &txn);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    expect_error(path, "no \"meta\" database");
  }
}

// Found by fuzz_verdict_store_file: LMDB checks page numbers, not the sizes inside a page. A
// node whose data size runs past the end of the file made open() copy memory beyond the file
// (a fault, or other memory).
TEST(VerdictStore, ValuePastTheEndOfTheFileIsRefused) {
  TempDir dir;
  std::string good = dir.file("good.mdb");
  build(good, {{{"a.test"}}});
  std::string bytes = without_trailer(testing::read_file(good));
  // LMDB's leaf node: u16 size (low), u16 size (high), u16 flags, u16 key size, key, data.
  std::string key = meta::kFormatVersion;
  std::size_t at = bytes.find(std::string(1, static_cast<char>(key.size())) + '\0' + key);
  ASSERT_NE(at, std::string::npos);
  ASSERT_GE(at, 6u);
  bytes[at - 4] = '\x10';  // 1 MiB more: past the end of the file, inside LMDB's map
  std::string damaged = dir.write("damaged.mdb", bytes);
  try {
    VerdictStore::open(damaged);
    ADD_FAILURE() << "opened";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("runs past the end of the file"), std::string::npos)
        << error.what();
  }
}

// LMDB trusts its pages: a damaged B-tree page crashes it (SIGBUS, SIGSEGV, an assertion)
// inside mdb_dbi_open or mdb_cursor_get. The checksum refuses the file before LMDB reads it.
TEST(VerdictStore, DamagedPageIsRefusedByTheChecksum) {
  TempDir dir;
  std::string good = dir.file("good.mdb");
  auto store = build(good, {{{"a.test"}}});
  EXPECT_EQ(store->checksum().state, ChecksumState::kVerified);
  EXPECT_EQ(store->checksum().hash.size(), 32u);
  std::string bytes = testing::read_file(good);
  ASSERT_EQ(bytes.size() % 4096, kChecksumTrailerSize);
  auto expect_damaged = [&](const std::string& name, const std::string& content,
                            const std::string& fragment) {
    std::string path = dir.write(name, content);
    try {
      VerdictStore::open(path);
      ADD_FAILURE() << name << " opened";
    } catch (const StoreError& error) {
      EXPECT_NE(std::string(error.what()).find(path + ": the store is damaged (" + fragment),
                std::string::npos)
          << error.what();
    }
  };
  // The main database's root (a leaf page, the last page here): every node pointer 64 KiB
  // on. Without the checksum, opening this file raised SIGBUS in mdb_dbi_open.
  std::string page_damage = bytes;
  std::size_t page = bytes.size() - kChecksumTrailerSize - 4096;
  for (std::size_t at = page + 16; at < page + 24; at += 2) {
    page_damage[at] = '\xf0';
    page_damage[at + 1] = '\xff';
  }
  expect_damaged("page.mdb", page_damage, "checksum mismatch");
  std::string one_bit = bytes;
  one_bit[4096 * 2 + 100] ^= 1;
  expect_damaged("bit.mdb", one_bit, "checksum mismatch");
  std::string trailer_damage = bytes;
  trailer_damage[bytes.size() - 1] ^= 1;
  expect_damaged("trailer.mdb", trailer_damage, "checksum mismatch");
  std::string magic_damage = bytes;
  magic_damage[bytes.size() - kChecksumTrailerSize] = 'X';
  expect_damaged("magic.mdb", magic_damage, "its checksum trailer is missing or damaged");
  std::string longer = bytes + std::string(kChecksumTrailerSize, '\0');
  expect_damaged("longer.mdb", longer, "its checksum trailer is missing or damaged");
  std::string cut = bytes.substr(0, bytes.size() - 4096);
  expect_damaged("cut.mdb", cut, "its checksum trailer is missing or damaged");
}

// Stores written before the checksum have LMDB's pages only: they open, marked unverified.
TEST(VerdictStore, StoreWithoutChecksumOpensUnverified) {
  TempDir dir;
  std::string path = dir.file("s.mdb");
  build(path, {{{"a.test"}}});
  std::string old = dir.write("old.mdb", without_trailer(testing::read_file(path)));
  auto store = VerdictStore::open(old);
  EXPECT_EQ(store->checksum().state, ChecksumState::kAbsent);
  EXPECT_EQ(action_for(*store, "a.test"), Action::kNxdomain);
  EXPECT_EQ(describe(store->checksum()),
            "none (written by an older dnsverdict compile; not verified)");
  EXPECT_EQ(describe(VerdictStore::open(path)->checksum()).rfind("verified (XXH3-128 ", 0), 0u);
}

// The previous format (2: XXH3-keyed filter and index), a newer one and a strange one are
// refused by their version, with the version the build reads.
TEST(VerdictStore, OtherFormatVersionIsRefused) {
  for (const char* version : {"2", "4", "99"}) {
    TempDir dir;
    std::string path = dir.file("s.mdb");
    build(path, {{{"a.test"}}});
    dir.write("s.mdb", without_trailer(testing::read_file(path)));
    MDB_env* env;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 10);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    MDB_txn* txn;
    mdb_txn_begin(env, nullptr, 0, &txn);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, db::kMeta, 0, &dbi), 0);
    MDB_val key = to_val(meta::kFormatVersion), value = to_val(version);
    ASSERT_EQ(mdb_put(txn, dbi, &key, &value, 0), 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    append_checksum_trailer(path);
    try {
      VerdictStore::open(path);
      FAIL() << "opened version " << version;
    } catch (const StoreError& error) {
      std::string expected = std::string("store format version ") + version +
                             ", this build reads version " + std::to_string(kStoreFormatVersion);
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
  }
}

// A wire name is hashed and checked in the filter before its key is built: a name the filter
// rejects gets no key; a listed one (any case) gets its key and its owner, as lookup(key).
TEST(VerdictStore, WireLookupBuildsTheKeyOnlyForAFilterHit) {
  TempDir dir;
  auto store = build(dir.file("s.mdb"), {{{"tree.test", RuleKind::kSubtree},
                                          {"exact.longer-than-eight.test", RuleKind::kExact}}});
  auto wire_of = [](std::string_view name) {
    std::string wire, error;
    EXPECT_TRUE(parse_name(name, wire, error));
    return wire;
  };
  auto lookup = [&](const std::string& wire, NameKey& key, LookupResult& result) {
    return store->lookup_name(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), key,
                              kNow, result);
  };
  int keys_built = 0;
  for (int i = 0; i < 200; ++i) {
    NameKey key;
    LookupResult result;
    ASSERT_TRUE(lookup(wire_of("name" + std::to_string(i) + ".other.test"), key, result));
    EXPECT_FALSE(result.hit());
    EXPECT_NE(result.status, LookupStatus::kError);
    keys_built += key.label_count != 0;
  }
  // Only filter false positives (about 0.5% at 12 bits per key) build a key.
  EXPECT_LE(keys_built, 4);

  // parse_name lowercases: the mixed case is written into the wire name itself.
  std::string wire("\3WWW\4Tree\4TEST", 14);
  wire.push_back('\0');
  NameKey key;
  LookupResult result;
  ASSERT_TRUE(lookup(wire, key, result));
  ASSERT_TRUE(result.hit());
  EXPECT_EQ(result.owner_labels, 2);
  std::string expected_owner, error;
  ASSERT_TRUE(text_to_key("tree.test", expected_owner, error));
  EXPECT_EQ(result.owner_key, expected_owner);
  EXPECT_EQ(key.label_count, 3);

  NameKey exact_key;
  ASSERT_TRUE(lookup(wire_of("EXACT.Longer-Than-Eight.test"), exact_key, result));
  EXPECT_TRUE(result.hit());
  EXPECT_EQ(result.owner_labels, 3);

  // Not a wire name: false, as make_name_key refuses it.
  const std::uint8_t pointer[] = {0xc0, 0x0c};
  NameKey bad_key;
  EXPECT_FALSE(store->lookup_name(pointer, sizeof pointer, bad_key, kNow, result));
}

// A wire lookup hashes and probes only the label depths some key has, no deeper than the
// deepest (64 labels and more share one depth bit): it finds what lookup(key) finds, at every
// depth, and probe_name() alone turns away what no rule can match.
TEST(VerdictStore, WireLookupProbesOnlyTheDepthsKeysHave) {
  TempDir dir;
  std::string deep_owner;  // 66 labels
  for (int i = 0; i < 65; ++i) deep_owner += "d.";
  deep_owner += "test";
  auto shallow = build(dir.file("shallow.mdb"), {{{"tree.test", RuleKind::kSubtree},
                                                  {"tld", RuleKind::kExact}}});
  auto three = build(dir.file("three.mdb"), {{{"a.b.test", RuleKind::kExact}}});
  auto deep = build(dir.file("deep.mdb"), {{{deep_owner, RuleKind::kSubtree},
                                            {"tree.test", RuleKind::kWildcard}}});
  auto wire_of = [](const std::string& name) {
    std::string wire, error;
    EXPECT_TRUE(parse_name(name, wire, error)) << name << ": " << error;
    return wire;
  };
  auto probe = [&](const VerdictStore& store, const std::string& name, NameProbe& result) {
    std::string wire = wire_of(name);
    return store.probe_name(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(),
                            result);
  };
  // The wire lookup and the key lookup agree; returns the owner's labels (0: a miss).
  auto owner_labels = [&](const VerdictStore& store, const std::string& name) {
    LookupResult by_wire = find(store, name);
    std::string wire = wire_of(name);
    NameKey key;
    EXPECT_TRUE(make_name_key(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), key));
    LookupResult by_key = store.lookup(key, kNow);
    EXPECT_EQ(by_wire.status, by_key.status) << name;
    EXPECT_EQ(by_wire.owner_labels, by_key.owner_labels) << name;
    EXPECT_NE(by_wire.status, LookupStatus::kError) << name;
    return by_wire.hit() ? int{by_wire.owner_labels} : 0;
  };
  std::string deeper = "x.y.z." + deep_owner;  // 69 labels
  std::string long_unlisted;                   // 70 labels
  for (int i = 0; i < 69; ++i) long_unlisted += "u.";
  long_unlisted += "test";

  EXPECT_EQ(owner_labels(*shallow, "tld"), 1);
  EXPECT_EQ(owner_labels(*shallow, "x.tld"), 0);
  EXPECT_EQ(owner_labels(*shallow, "tree.test"), 2);
  EXPECT_EQ(owner_labels(*shallow, "a.b.c.d.e.tree.test"), 2);  // labels below 2 not hashed
  EXPECT_EQ(owner_labels(*shallow, deeper.substr(0, 4) + "tree.test"), 2);
  EXPECT_EQ(owner_labels(*shallow, long_unlisted), 0);
  EXPECT_EQ(owner_labels(*shallow, "tree." + long_unlisted), 0);

  EXPECT_EQ(owner_labels(*three, "a.b.test"), 3);
  EXPECT_EQ(owner_labels(*three, "x.a.b.test"), 0);
  EXPECT_EQ(owner_labels(*three, "b.test"), 0);

  EXPECT_EQ(owner_labels(*deep, deep_owner), 66);
  EXPECT_EQ(owner_labels(*deep, deeper), 66);
  EXPECT_EQ(owner_labels(*deep, deep_owner.substr(2)), 0);  // 65 labels: its parent
  EXPECT_EQ(owner_labels(*deep, long_unlisted), 0);
  EXPECT_EQ(owner_labels(*deep, "x.tree.test"), 2);
  std::string deep_under_tree;  // 67 labels under the wildcard
  for (int i = 0; i < 65; ++i) deep_under_tree += "w.";
  deep_under_tree += "tree.test";
  EXPECT_EQ(owner_labels(*deep, deep_under_tree), 2);

  // What no rule can match ends at the probe: a name shallower than every key, a name the
  // filter rejects at each depth keys have, a name that is not a wire name.
  NameProbe result;
  EXPECT_FALSE(probe(*three, "b.test", result));
  EXPECT_EQ(result.labels, 2);
  int turned_away = 0;
  for (int i = 0; i < 200; ++i) {
    turned_away += !probe(*shallow, "name" + std::to_string(i) + ".other.test", result);
    EXPECT_EQ(result.labels, 3);
  }
  EXPECT_GE(turned_away, 196);  // but for filter false positives (about 0.5%)
  EXPECT_TRUE(probe(*shallow, "www.tree.test", result));
  EXPECT_EQ(result.candidates & 0b110, 0b010u);  // depth 2 (tree.test); 3 has no key
  const std::uint8_t pointer[] = {0xc0, 0x0c};
  EXPECT_FALSE(shallow->probe_name(pointer, sizeof pointer, result));
  EXPECT_EQ(result.labels, -1);
}

TEST(VerdictStore, ManyThreadsLookUpAtOnce) {
  TempDir dir;
  std::vector<Spec> specs;
  for (int i = 0; i < 1000; ++i) specs.push_back({"n" + std::to_string(i) + ".test"});
  auto store = build(dir.file("s.mdb"), {specs});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round)
        for (int i = 0; i < 1000; ++i) {
          std::string name = "x.n" + std::to_string(i) + ".test";
          std::string wire, error;
          parse_name(name, wire, error);
          auto result = store->lookup_wire(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                           wire.size(), kNow);
          if (!result.hit()) ++wrong;
        }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(StorePublication, ReaderOfOldStoreKeepsWorkingAcrossRename) {
  TempDir dir;
  std::string path = dir.file("live.mdb");
  auto old_store = build(path, {{{"old.test"}}});
  FileIdentity before = old_store->identity();
  auto new_store = build(path, {{{"new.test"}, {"old2.test"}}});
  EXPECT_EQ(action_for(*old_store, "old.test"), Action::kNxdomain);
  EXPECT_EQ(action_for(*old_store, "new.test"), std::nullopt);
  EXPECT_EQ(action_for(*new_store, "new.test"), Action::kNxdomain);
  FileIdentity after;
  ASSERT_TRUE(file_identity(path, after));
  EXPECT_NE(before, after);
  // No temporary files are left beside the store.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(StorePublication, SafetyValveRefusesATruncatedFeed) {
  TempDir dir;
  std::string path = dir.file("live.mdb");
  std::vector<Spec> many;
  for (int i = 0; i < 100; ++i) many.push_back({"n" + std::to_string(i) + ".test"});
  std::string build_id = build(path, {many})->info().build_id;
  std::vector<Spec> few(many.begin(), many.begin() + 40);
  try {
    build(path, {few});
    FAIL() << "replaced";
  } catch (const ToolError& error) {
    EXPECT_NE(std::string(error.what()).find("refusing to replace"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("--force"), std::string::npos);
  }
  EXPECT_EQ(VerdictStore::open(path)->info().build_id, build_id);  // untouched
  std::vector<Spec> half(many.begin(), many.begin() + 50);
  EXPECT_EQ(build(path, {half})->info().rule_count, 50u);  // exactly half is allowed
  PublishOptions force;
  force.force = true;
  EXPECT_EQ(build(path, {few}, force)->info().rule_count, 40u);
  PublishOptions relaxed;
  relaxed.min_ratio = 0.1;
  EXPECT_EQ(build(path, {{{"one.test"}, {"two.test"}, {"three.test"}, {"four.test"}}}, relaxed)
                ->info()
                .rule_count,
            4u);
}

TEST(StorePublication, FailedWriteLeavesOldStore) {
  TempDir dir;
  std::string path = dir.file("live.mdb");
  std::string build_id = build(path, {{{"a.test"}}})->info().build_id;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  if (::geteuid() != 0) {  // root ignores the mode
    EXPECT_THROW(build(path, {{{"b.test"}}}), ToolError);
    EXPECT_EQ(VerdictStore::open(path)->info().build_id, build_id);
  }
  ::chmod(dir.path().c_str(), 0700);
  EXPECT_THROW(build(dir.file("no/such/folder/s.mdb"), {{{"b.test"}}}), ToolError);
  EXPECT_EQ(VerdictStore::open(path)->info().build_id, build_id);
}

}  // namespace
}  // namespace dnsverdict
