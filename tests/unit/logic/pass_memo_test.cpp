#include "pass_memo.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns_name.h"

namespace dnsverdict {
namespace {

std::string wire(const char* name) {
  std::string out, error;
  EXPECT_TRUE(parse_name(name, out, error)) << error;
  return out;
}

const std::uint8_t* octets(const std::string& name) {
  return reinterpret_cast<const std::uint8_t*>(name.data());
}

TEST(PassMemo, RemembersANameUnderItsGenerationOnly) {
  PassMemo::Pointer memo = PassMemo::allocate();
  ASSERT_NE(memo, nullptr);
  std::string name = wire("www.example.com");
  int answer = 0;
  EXPECT_FALSE(memo->remembers(&answer, octets(name), name.size(), 1));  // empty
  memo->remember(&answer, octets(name), name.size(), 1);
  EXPECT_TRUE(memo->remembers(&answer, octets(name), name.size(), 1));
  // A swap: a verdict of the store before does not hold.
  EXPECT_FALSE(memo->remembers(&answer, octets(name), name.size(), 2));
  // Generation 0 (no store) never matches, not even a slot taken under it.
  memo->remember(&answer, octets(name), name.size(), 0);
  EXPECT_FALSE(memo->remembers(&answer, octets(name), name.size(), 0));
}

TEST(PassMemo, TheHintNeverStandsForTheName) {
  PassMemo::Pointer memo = PassMemo::allocate();
  ASSERT_NE(memo, nullptr);
  int answer = 0, other_answer = 0;
  std::string name = wire("www.example.com");
  memo->remember(&answer, octets(name), name.size(), 7);
  // The same slot hint, another name: a freed answer's address reused for another name.
  for (const char* other : {"www.example.net", "ww.example.com", "www.example.com.evil",
                            "example.com"}) {
    std::string other_name = wire(other);
    EXPECT_FALSE(memo->remembers(&answer, octets(other_name), other_name.size(), 7)) << other;
  }
  std::string upper = name;  // wire() folds case: "WWW.example.com" as a client may ask
  upper[1] = 'W', upper[2] = 'W', upper[3] = 'W';
  EXPECT_FALSE(memo->remembers(&answer, octets(upper), upper.size(), 7));
  // The same name under another hint: a slot of its own, not yet remembered.
  EXPECT_FALSE(memo->remembers(&other_answer, octets(name), name.size(), 7));
  // A name that differs only in case is remembered as asked, and replaces the slot's name.
  memo->remember(&answer, octets(upper), upper.size(), 7);
  EXPECT_TRUE(memo->remembers(&answer, octets(upper), upper.size(), 7));
  EXPECT_FALSE(memo->remembers(&answer, octets(name), name.size(), 7));
}

TEST(PassMemo, LongNamesAreNotRemembered) {
  PassMemo::Pointer memo = PassMemo::allocate();
  ASSERT_NE(memo, nullptr);
  int answer = 0;
  std::string longest = wire("abcdefghijklmnopqrstuvwxyz0123456789a.example");  // 47 octets
  ASSERT_EQ(longest.size(), PassMemo::kMaxName);
  memo->remember(&answer, octets(longest), longest.size(), 3);
  EXPECT_TRUE(memo->remembers(&answer, octets(longest), longest.size(), 3));
  std::string longer = wire("abcdefghijklmnopqrstuvwxyz0123456789ab.example");  // 48
  memo->remember(&answer, octets(longer), longer.size(), 3);
  EXPECT_FALSE(memo->remembers(&answer, octets(longer), longer.size(), 3));
  // The slot still holds the shorter name: a long name does not overwrite it.
  EXPECT_TRUE(memo->remembers(&answer, octets(longest), longest.size(), 3));
}

TEST(PassMemo, ManyAnswersSpreadOverTheSlots) {
  // Answers allocated one after another (as a resolver's cache fills): 2,000 distinct hints
  // 112 octets apart, remembered, then asked again. A hint whose set two later ones took is
  // forgotten: about 2.5% of 2,000 at random in 8,192 sets of two.
  PassMemo::Pointer memo = PassMemo::allocate();
  ASSERT_NE(memo, nullptr);
  std::vector<char> answers(2000 * 112);
  std::vector<std::string> names;
  for (int i = 0; i < 2000; ++i) names.push_back(wire(("pass" + std::to_string(i) + ".lab").c_str()));
  for (int i = 0; i < 2000; ++i) {
    memo->remember(&answers[i * 112], octets(names[i]), names[i].size(), 1);
  }
  int remembered = 0;
  for (int i = 0; i < 2000; ++i) {
    remembered += memo->remembers(&answers[i * 112], octets(names[i]), names[i].size(), 1);
  }
  EXPECT_GE(remembered, 1900);
}

TEST(PassMemo, ASetKeepsItsTwoLatestNames) {
  PassMemo::Pointer memo = PassMemo::allocate();
  ASSERT_NE(memo, nullptr);
  // Three hints of one set.
  std::vector<char> answers(1 << 20);
  std::vector<const void*> hints{&answers[0]};
  std::size_t set = PassMemo::set_index(hints[0]);
  for (std::size_t at = 16; hints.size() < 3 && at < answers.size(); at += 16) {
    if (PassMemo::set_index(&answers[at]) == set) hints.push_back(&answers[at]);
  }
  ASSERT_EQ(hints.size(), 3u);
  std::vector<std::string> names{wire("one.test"), wire("two.test"), wire("three.test")};
  auto remembered = [&](int i) {
    return memo->remembers(hints[i], octets(names[i]), names[i].size(), 1);
  };
  memo->remember(hints[0], octets(names[0]), names[0].size(), 1);
  memo->remember(hints[1], octets(names[1]), names[1].size(), 1);
  EXPECT_TRUE(remembered(0));
  EXPECT_TRUE(remembered(1));
  // Remembered again under its own hint: replaced in place, the other name stays.
  memo->remember(hints[1], octets(names[1]), names[1].size(), 1);
  EXPECT_TRUE(remembered(0));
  memo->remember(hints[2], octets(names[2]), names[2].size(), 1);
  EXPECT_FALSE(remembered(0));  // the oldest goes
  EXPECT_TRUE(remembered(1));
  EXPECT_TRUE(remembered(2));
}

}  // namespace
}  // namespace dnsverdict
