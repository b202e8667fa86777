// The compiler's rule set keeps drafts compact (keys in an arena, data interned): what it
// gives back after finalize() must be what was added, across arena chunks and append().
#include "rule_set.h"

#include <gtest/gtest.h>

#include <string>

#include "dns_name.h"
#include "hash_index.h"
#include "bloom_filter.h"

namespace dnsverdict {
namespace {

std::string key_of(const std::string& name) {
  std::string key, error;
  EXPECT_TRUE(text_to_key(name, key, error)) << error;
  return key;
}

// A name of about 100 octets, distinct for each (prefix, i).
std::string long_name(char prefix, int i) {
  return std::string(1, prefix) + std::to_string(i) + "." + std::string(60, 'x') + "." +
         std::string(30, 'y') + ".example";
}

RuleDraft sinkhole_draft(const std::string& name, std::string data, std::uint32_t line) {
  RuleDraft draft;
  draft.key = key_of(name);
  draft.action = Action::kSinkhole;
  draft.data = std::move(data);
  draft.line = line;
  draft.source = 1;
  return draft;
}

// The data of rule i: two values only, so that ids are shared.
std::string data_for(int i) { return i % 2 == 0 ? "data-even" : "data-odd"; }

TEST(RuleSet, KeysAndDataSurviveArenaChunksAndAppend) {
  // 2 x 100,000 keys of about 100 octets: more than two of the key arena's chunks each.
  constexpr int kEach = 100000;
  RuleSet rules;
  rules.add_source(SourceRecord{});
  RuleSet part;
  for (int i = 0; i < kEach; ++i) rules.add(sinkhole_draft(long_name('a', i), data_for(i), i + 1));
  // The second set numbers its data in its own order: its first data is the other value.
  for (int i = 0; i < kEach; ++i)
    part.add(sinkhole_draft(long_name('b', i), data_for(i + 1), kEach + i + 1));
  rules.append(std::move(part));
  EXPECT_EQ(rules.added(), 2u * kEach);
  rules.finalize();
  ASSERT_EQ(rules.records().size(), 2u * kEach);
  for (const FinalRecord& record : rules.records()) {
    // The name says which rule it was: "a<i>..." holds data_for(i), "b<i>..." data_for(i + 1).
    std::string name = key_to_text(record.key);
    int i = std::stoi(name.substr(1));
    std::string expected = data_for(name[0] == 'a' ? i : i + 1);
    RuleSlots slots = rules.slots(record);
    ASSERT_TRUE(slots.self.has_value()) << name;
    EXPECT_EQ(slots.self->data, expected) << name;
    EXPECT_EQ(slots.self->action, Action::kSinkhole) << name;
  }
}

TEST(RuleSet, DiscardedDraftsLeaveTheKeptOnesIntact) {
  RuleSet rules;
  rules.add_source(SourceRecord{});
  rules.add(sinkhole_draft("kept.example", "kept-data", 1));
  RuleSet::Mark mark = rules.mark();
  rules.add(sinkhole_draft("dropped.example", "dropped-data", 2));
  rules.discard_since(mark);
  rules.add(sinkhole_draft("later.example", "later-data", 3));
  rules.finalize();
  ASSERT_EQ(rules.records().size(), 2u);
  EXPECT_EQ(key_to_text(rules.records()[0].key), "kept.example");
  EXPECT_EQ(rules.slots(rules.records()[0]).self->data, "kept-data");
  EXPECT_EQ(key_to_text(rules.records()[1].key), "later.example");
  EXPECT_EQ(rules.slots(rules.records()[1]).self->data, "later-data");
}

TEST(HashIndexBuilder, WritesTheHeapWhereItIsGivenAndNoFurther) {
  const std::string a = key_of("a.example"), b = key_of("b.example");
  const std::size_t size = HashIndexBuilder::heap_entry_size(a.size(), 3) +
                           HashIndexBuilder::heap_entry_size(b.size(), 2);
  std::string heap(size + 1, '#');  // one octet past the end, which must stay untouched
  HashIndexBuilder builder(2, heap.data(), size);
  builder.add(a, filter_hash(a), "one");
  builder.add(b, filter_hash(b), "xy");
  EXPECT_EQ(builder.heap().size(), size);
  EXPECT_EQ(heap.back(), '#');
  EXPECT_THROW(builder.add(key_of("c.example"), filter_hash(key_of("c.example")), ""),
               std::length_error);
  EXPECT_EQ(heap.back(), '#');

  const std::string index = builder.finish_index();
  HashIndexView view;
  ASSERT_TRUE(view.attach(index, builder.heap()));
  std::string_view record;
  ASSERT_TRUE(view.find(a, filter_hash(a), record));
  EXPECT_EQ(record, "one");
  ASSERT_TRUE(view.find(b, filter_hash(b), record));
  EXPECT_EQ(record, "xy");
}

// The store writer fills the heap from both ends on two threads: entries put at their
// offsets, last first, make the heap add() makes; an entry past the end is refused.
TEST(HashIndexBuilder, EntriesPutAtTheirOffsetsMakeTheHeapAddMakes) {
  const std::string a = key_of("a.example"), b = key_of("b.example");
  const std::size_t first = HashIndexBuilder::heap_entry_size(a.size(), 3);
  const std::size_t size = first + HashIndexBuilder::heap_entry_size(b.size(), 2);
  std::string added(size, '#'), put(size + 1, '#');
  HashIndexBuilder adder(2, added.data(), size);
  adder.add(a, filter_hash(a), "one");
  adder.add(b, filter_hash(b), "xy");

  HashIndexBuilder putter(2, put.data(), size);
  putter.put_entry(first, b, "xy");
  putter.put_entry(0, a, "one");
  EXPECT_THROW(putter.put_entry(size - 2, key_of("c.example"), ""), std::length_error);
  EXPECT_THROW(putter.put_entry(size + 1, "", ""), std::length_error);
  putter.heap_complete();
  EXPECT_EQ(putter.heap(), adder.heap());
  EXPECT_EQ(put.back(), '#');
}

TEST(HashIndexBuilder, RefusesAHeapItsOffsetsCannotAddress) {
  EXPECT_THROW(HashIndexBuilder(1, nullptr, HashIndexBuilder::kMaxHeapSize + 1),
               std::length_error);
}

}  // namespace
}  // namespace dnsverdict
