#include <gtest/gtest.h>

#include "dns_name.h"
#include "feed.h"
#include "feed_fields.h"
#include "feed_test_support.h"

namespace dnsverdict {
namespace {

using testing::ParsedFeed;

std::string normalised(std::string_view text) {
  std::string key, error;
  EXPECT_TRUE(feed_name_to_key(text, key, error)) << text << ": " << error;
  return key_to_text(key);
}

std::string rejection(std::string_view text) {
  std::string key, error;
  EXPECT_FALSE(feed_name_to_key(text, key, error)) << text << " was accepted";
  return error;
}

std::vector<std::string> all_lines(std::string_view content) {
  std::vector<std::string> lines;
  LineReader reader(content);
  std::string_view line;
  while (reader.next(line)) {
    lines.emplace_back(line);
    EXPECT_EQ(reader.line_number(), lines.size());
  }
  return lines;
}

TEST(LineReader, SplitsLfAndCrlfAndSkipsByteOrderMark) {
  using Lines = std::vector<std::string>;
  EXPECT_EQ(all_lines("a\nb\n"), (Lines{"a", "b"}));
  EXPECT_EQ(all_lines("a\r\nb\r\n"), (Lines{"a", "b"}));
  EXPECT_EQ(all_lines("a\r\n\r\nc"), (Lines{"a", "", "c"}));
  EXPECT_EQ(all_lines("\xEF\xBB\xBFx.example\r\n"), (Lines{"x.example"}));
  EXPECT_EQ(all_lines(""), Lines{});
  EXPECT_EQ(all_lines("\xEF\xBB\xBF"), Lines{});
  EXPECT_EQ(all_lines("\n"), Lines{""});
}

TEST(FeedName, NormalisesCaseDotsAndBlanks) {
  EXPECT_EQ(normalised("Example.COM"), "example.com");
  EXPECT_EQ(normalised("  example.com.\t"), "example.com");
  EXPECT_EQ(normalised("_dmarc.example.com"), "_dmarc.example.com");
  std::string key, error;
  ASSERT_TRUE(feed_name_to_key("WWW.Example.com.", key, error));
  EXPECT_EQ(key, std::string("\3com\7example\3www", 16));
}

TEST(FeedName, DecodesEscapes) {
  EXPECT_EQ(normalised("a\\.b.example"), "a\\.b.example");
  EXPECT_EQ(normalised("\\065bc.example"), "abc.example");
  // An escaped final dot is part of the label, not the root.
  std::string key, error;
  ASSERT_TRUE(feed_name_to_key("a\\.", key, error)) << error;
  EXPECT_EQ(key, std::string("\2a.", 3));
}

TEST(FeedName, ConvertsInternationalisedNames) {
  EXPECT_EQ(normalised("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalised("BÜCHER.example."), "xn--bcher-kva.example");
  EXPECT_EQ(normalised("xn--bcher-kva.example"), "xn--bcher-kva.example");
  // Non-transitional: ß stays ß (IDNA2008), it is not mapped to "ss".
  EXPECT_EQ(normalised("faß.example"), "xn--fa-hia.example");
  EXPECT_NE(rejection("\xff\xfe.example").find("internationalized"), std::string::npos);
}

TEST(FeedName, RejectsInvalidNamesWithAReason) {
  EXPECT_EQ(rejection(""), "empty name");
  EXPECT_EQ(rejection("   "), "empty name");
  EXPECT_EQ(rejection("."), "empty name");
  EXPECT_EQ(rejection("a..example"), "empty label");
  EXPECT_EQ(rejection(".example"), "empty label");
  EXPECT_EQ(rejection("example.com.."), "empty label");
  EXPECT_EQ(rejection(std::string(64, 'a') + ".example"), "label longer than 63 octets");
  EXPECT_EQ(normalised(std::string(63, 'a') + ".example"), std::string(63, 'a') + ".example");
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
  EXPECT_EQ(rejection(long_name), "name longer than 255 octets");
  // 3 * 64 + 62 + 1 = 255 octets in wire form: the longest name there is.
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                        std::string(63, 'c') + "." + std::string(61, 'd');
  EXPECT_EQ(normalised(longest), longest);
  EXPECT_EQ(rejection(longest + "d"), "name longer than 255 octets");
  EXPECT_NE(rejection("http://example.com/").find("':'"), std::string::npos);
  EXPECT_NE(rejection("bad name.example").find("space"), std::string::npos);
  EXPECT_NE(rejection("foo*.example").find("wildcard"), std::string::npos);
  EXPECT_EQ(rejection("a.example\\"), "escape at end of name");
}

TEST(FeedFormat, NamesRoundTrip) {
  for (FeedFormat format :
       {FeedFormat::kAuto, FeedFormat::kRpz, FeedFormat::kHosts, FeedFormat::kDomains,
        FeedFormat::kAdblock, FeedFormat::kCsv, FeedFormat::kJsonl})
    EXPECT_EQ(parse_format(format_name(format)), format);
  EXPECT_EQ(parse_format("RPZ"), FeedFormat::kRpz);
  EXPECT_EQ(parse_format("list"), FeedFormat::kDomains);
  EXPECT_EQ(parse_format("ndjson"), FeedFormat::kJsonl);
  EXPECT_EQ(parse_format("yaml"), std::nullopt);
}

TEST(FeedFormat, DetectsEachFormat) {
  EXPECT_EQ(detect_format("$TTL 300\n@ SOA ns. admin. 1 1 1 1 1\n"), FeedFormat::kRpz);
  EXPECT_EQ(detect_format("; policy\n$ORIGIN rpz.example.\n"), FeedFormat::kRpz);
  EXPECT_EQ(detect_format("bad.example CNAME .\n"), FeedFormat::kRpz);
  EXPECT_EQ(detect_format("bad.example 60 IN CNAME rpz-drop.\n"), FeedFormat::kRpz);
  EXPECT_EQ(detect_format("# hosts\n127.0.0.1 localhost\n0.0.0.0 ads.example\n"),
            FeedFormat::kHosts);
  EXPECT_EQ(detect_format(":: ads.example\n"), FeedFormat::kHosts);
  EXPECT_EQ(detect_format("\xEF\xBB\xBF[Adblock Plus 2.0]\n! Title: x\n"), FeedFormat::kAdblock);
  EXPECT_EQ(detect_format("! comment\n||ads.example^\n"), FeedFormat::kAdblock);
  EXPECT_EQ(detect_format("@@||ok.example^\n"), FeedFormat::kAdblock);
  EXPECT_EQ(detect_format("Domain,Action,Confidence\r\nbad.example,drop,90\r\n"), FeedFormat::kCsv);
  EXPECT_EQ(detect_format("\"first_seen\",\"domain\"\n"), FeedFormat::kCsv);
  EXPECT_EQ(detect_format("{\"domain\": \"bad.example\"}\n"), FeedFormat::kJsonl);
  EXPECT_EQ(detect_format("# list\nbad.example\n1.example\n"), FeedFormat::kDomains);
  EXPECT_EQ(detect_format(""), FeedFormat::kDomains);
  // A domain named like an address family is not a hosts line without a second token.
  EXPECT_EQ(detect_format("10.example\n"), FeedFormat::kDomains);
}

TEST(FeedFormat, DetectionLooksOnlyAtTheBeginning) {
  std::string content;
  while (content.size() < 64 * 1024) content += "bad.example\n";
  content += "0.0.0.0 late.example\n";
  EXPECT_EQ(detect_format(content), FeedFormat::kDomains);
}

TEST(ParseFeed, AutoDetectsAndDispatches) {
  ParsedFeed feed(FeedFormat::kAuto, "0.0.0.0 ads.example\n");
  EXPECT_EQ(feed.added(), 1u);
  ASSERT_NE(feed.self("ads.example"), nullptr);
  EXPECT_EQ(feed.self("ads.example")->action, Action::kNxdomain);
}

TEST(FieldHelpers, ParsesTimestamps) {
  std::string error;
  EXPECT_EQ(parse_timestamp("1704164645", error), 1704164645);
  EXPECT_EQ(parse_timestamp("2024-01-02T03:04:05Z", error), 1704164645);
  EXPECT_EQ(parse_timestamp("2024-01-02 03:04:05", error), 1704164645);
  EXPECT_EQ(parse_timestamp("2024-01-02T03:04:05.250Z", error), 1704164645);
  EXPECT_EQ(parse_timestamp("2024-01-02T05:04:05+02:00", error), 1704164645);
  EXPECT_EQ(parse_timestamp("2024-01-02", error), 1704153600);
  EXPECT_EQ(parse_timestamp("1970-01-01", error), 0);
  EXPECT_EQ(parse_timestamp("2024-02-29", error), 1709164800);
  for (const char* bad : {"", "2023-02-29", "2024-13-01", "2024-1-2", "yesterday",
                          "2024-01-02T25:00:00Z", "2024-01-02T03:04:05Q", "-5"}) {
    EXPECT_EQ(parse_timestamp(bad, error), std::nullopt) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(FieldHelpers, ParsesConfidence) {
  std::string error;
  EXPECT_EQ(parse_confidence("0", error), 0);
  EXPECT_EQ(parse_confidence(" 95 ", error), 95);
  EXPECT_EQ(parse_confidence("100", error), 100);
  for (const char* bad : {"101", "-1", "", "high", "9.5", "1000"})
    EXPECT_EQ(parse_confidence(bad, error), std::nullopt) << bad;
  EXPECT_EQ(error, "confidence \"1000\" is not an integer from 0 to 100");
}

TEST(FieldHelpers, ParsesAddressLists) {
  std::string data, error;
  ASSERT_TRUE(parse_address_list("10.66.66.66, fd00::6666", data, error)) << error;
  EXPECT_EQ(addresses_to_text(data), "10.66.66.66,fd00::6666");
  data.clear();
  EXPECT_FALSE(parse_address_list("10.0.0.1,nope", data, error));
  EXPECT_EQ(error, "\"nope\" is not an IPv4 or IPv6 address");
  EXPECT_FALSE(parse_address_list(" , ", data, error));
}

// The one time syntax of the command line: what feeds accept, now, and offsets either way.
TEST(TimeArgument, AcceptsFeedTimesNowAndOffsets) {
  const std::int64_t now = 1767225600;  // 2026-01-01T00:00:00Z
  std::string error;
  auto parse = [&](std::string_view text) { return parse_time_argument(text, now, error); };
  EXPECT_EQ(parse("1735689600"), 1735689600);
  EXPECT_EQ(parse("2027-01-01"), 1798761600);
  EXPECT_EQ(parse("2027-01-01T00:00Z"), 1798761600);
  EXPECT_EQ(parse("2027-01-01T01:00:00+01:00"), 1798761600);
  EXPECT_EQ(parse("now"), now);
  EXPECT_EQ(parse("+7d"), now + 7 * 86400);
  EXPECT_EQ(parse("-48h"), now - 48 * 3600);
  EXPECT_EQ(parse("48h"), now - 48 * 3600);  // a bare offset looks back, as `--since 48h`
  EXPECT_EQ(parse("+30m"), now + 1800);
  EXPECT_EQ(parse("-90s"), now - 90);
  for (const char* bad : {"", "yesterday", "+d", "7w", "+-1d", "2027-13-01", "1.5h"}) {
    error.clear();
    EXPECT_FALSE(parse(bad)) << bad;
    EXPECT_NE(error.find("is not a time (unix seconds, 2026-01-31, 2026-01-31T14:00Z, now, or "
                         "an offset from now: +7d, -48h or 48h, +30m, +90s)"),
              std::string::npos)
        << bad << ": " << error;
  }
}

}  // namespace
}  // namespace dnsverdict
