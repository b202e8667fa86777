// What a feed's bytes are (feed_content) and the per-feed safety valve (feed_input).
#include <gtest/gtest.h>

#include <string>

#include "feed_content.h"
#include "feed_input.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

using testing::gzip;

std::string refusal(std::string content) {
  try {
    feed_text("f", std::move(content));
  } catch (const NotAFeedError& error) {
    return error.what();
  }
  return "";
}

TEST(FeedContent, TextPassesAsItIs) {
  EXPECT_EQ(feed_text("f", "evil.example\n"), "evil.example\n");
  EXPECT_EQ(feed_text("f", ""), "");
  EXPECT_EQ(feed_text("f", "\xEF\xBB\xBF" "b\xC3\xBC" "cher.example\r\n"),
            "\xEF\xBB\xBF" "b\xC3\xBC" "cher.example\r\n");  // BOM, UTF-8, CRLF
}

TEST(FeedContent, GzipIsReadAsWhatItHolds) {
  EXPECT_EQ(feed_text("f", gzip("a.example\nb.example\n")), "a.example\nb.example\n");
  EXPECT_EQ(feed_text("f", gzip("a.example\n") + gzip("b.example\n")), "a.example\nb.example\n");
  std::string truncated = gzip(std::string(10000, 'x'));
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(refusal(truncated), "f: damaged or truncated gzip content, not a feed");
  EXPECT_EQ(refusal(gzip(std::string(5000, 'a'))).find("f: gzip content larger"), std::string::npos);
  try {
    feed_text("f", gzip(std::string(5000, 'a')), 1000);
    FAIL() << "over the limit";
  } catch (const NotAFeedError& error) {
    EXPECT_STREQ(error.what(), "f: gzip content larger than 1000 bytes, not a feed");
  }
}

TEST(FeedContent, BinaryContentSaysWhatItLooksLike) {
  EXPECT_EQ(refusal(std::string("PK\x03\x04", 4) + "zipped"), "f: binary content (a zip archive), not a feed");
  EXPECT_EQ(refusal("BZh91AY&SY"), "f: binary content (bzip2-compressed content), not a feed");
  EXPECT_EQ(refusal(std::string("\xFD" "7zXZ\0\0", 7)), "f: binary content (xz-compressed content), not a feed");
  EXPECT_EQ(refusal("%PDF-1.7\n"), "f: binary content (a PDF document), not a feed");
  EXPECT_EQ(refusal(std::string("a.example\n\0\0\0", 13)), "f: binary content, not a feed");
  EXPECT_EQ(refusal(std::string(100, '\x01')), "f: binary content, not a feed");
}

TEST(FeedContent, HtmlIsAnErrorPageNotAFeed) {
  EXPECT_EQ(refusal("\n  <!doctype HTML><html><head><TITLE> 404 Not Found </TITLE>"),
            "f: an HTML page (\"404 Not Found\"), not a feed");
  EXPECT_EQ(refusal("<html><body>gone</body></html>"), "f: an HTML page, not a feed");
  // A feed that mentions HTML further down is still a feed.
  EXPECT_EQ(refusal("# lists <html> pages\nevil.example\n"), "");
}

TEST(FeedContent, MostlyErrorsIsNotAFeedOfThatFormat) {
  EXPECT_NO_THROW(check_mostly_parsed("f", "csv", 10, 9));
  EXPECT_NO_THROW(check_mostly_parsed("f", "csv", 0, 0));
  try {
    check_mostly_parsed("f", "hosts", 1, 3);
    FAIL();
  } catch (const NotAFeedError& error) {
    EXPECT_STREQ(error.what(), "f: 3 of 4 entries are errors: not a hosts feed");
  }
}

TEST(FeedValve, RefusesAFeedThatShrinksBelowItsRatioOrComesBackEmpty) {
  EXPECT_EQ(feed_valve_refusal("f", 4, 8, 0.5), std::nullopt);
  EXPECT_EQ(feed_valve_refusal("f", 3, 8, 0.5),
            "f: 3 entries, fewer than 50% of the 8 of its last good copy");
  EXPECT_EQ(feed_valve_refusal("f", 0, 1, 0.5),
            "f: 0 entries, fewer than 50% of the 1 of its last good copy");
  EXPECT_EQ(feed_valve_refusal("f", 0, 1, 0.0), std::nullopt);   // disabled
  EXPECT_EQ(feed_valve_refusal("f", 0, 0, 0.5), std::nullopt);   // nothing known before
  EXPECT_EQ(feed_valve_refusal("f", 80, 100, 0.9),
            "f: 80 entries, fewer than 90% of the 100 of its last good copy");
  EXPECT_EQ(feed_valve_refusal("f", 1000, 10, 0.5), std::nullopt);  // growth is fine
}

}  // namespace
}  // namespace dnsverdict
