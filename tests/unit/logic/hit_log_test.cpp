#include "hit_log.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dns_name.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

using namespace std::chrono_literals;
using testing::read_file;
using testing::TempDir;

// A strict reader for the one shape the log writes: a flat object whose values are strings,
// unsigned integers or null. Returns false on anything that is not valid JSON (raw control
// characters, bad escapes, invalid UTF-8, trailing bytes). String values come back decoded,
// with \u00XX as the byte XX; null as "<null>".
class FlatJson {
 public:
  static bool parse(std::string_view text, std::map<std::string, std::string>& fields) {
    FlatJson reader(text);
    return reader.object(fields);
  }

 private:
  explicit FlatJson(std::string_view text) : text_(text) {}

  bool object(std::map<std::string, std::string>& fields) {
    if (!take('{')) return false;
    if (take('}')) return at_end();
    for (;;) {
      std::string key, value;
      if (!string(key) || !take(':') || !this->value(value)) return false;
      if (!fields.emplace(key, value).second) return false;  // duplicate key
      if (take('}')) return at_end();
      if (!take(',')) return false;
    }
  }
  bool value(std::string& out) {
    if (peek() == '"') return string(out);
    if (text_.substr(at_, 4) == "null") {
      at_ += 4;
      out = "<null>";
      return true;
    }
    std::size_t start = at_;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
    if (at_ == start || (text_[start] == '0' && at_ - start > 1)) return false;
    out = std::string(text_.substr(start, at_ - start));
    return true;
  }
  bool string(std::string& out) {
    if (!take('"')) return false;
    while (at_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (at_ >= text_.size()) return false;
        char e = text_[at_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.push_back(e);
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            if (at_ + 4 > text_.size()) return false;
            unsigned code = 0;
            for (int i = 0; i < 4; ++i) {
              char h = text_[at_++];
              code <<= 4;
              if (h >= '0' && h <= '9')
                code |= h - '0';
              else if (h >= 'a' && h <= 'f')
                code |= h - 'a' + 10;
              else if (h >= 'A' && h <= 'F')
                code |= h - 'A' + 10;
              else
                return false;
            }
            out.push_back(code < 0x100 ? static_cast<char>(code) : '?');
            break;
          }
          default:
            return false;
        }
      } else if (c >= 0x80) {
        // Raw non-ASCII must be UTF-8: a lead byte and its continuation bytes.
        int follow = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c <= 0xdf ? 1 : -1;
        if (follow < 0 || c > 0xf4) return false;
        out.push_back(static_cast<char>(c));
        for (int i = 0; i < follow; ++i) {
          if (at_ >= text_.size() || (static_cast<unsigned char>(text_[at_]) & 0xc0) != 0x80)
            return false;
          out.push_back(text_[at_++]);
        }
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    return false;
  }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  bool take(char c) {
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  bool at_end() const { return at_ == text_.size(); }

  std::string_view text_;
  std::size_t at_ = 0;
};

std::map<std::string, std::string> parse_line(const std::string& line) {
  std::map<std::string, std::string> fields;
  EXPECT_TRUE(FlatJson::parse(line, fields)) << line;
  return fields;
}

std::string wire_of(std::string_view text) {
  std::string wire, error;
  EXPECT_TRUE(parse_name(text, wire, error)) << error;
  return wire;
}
std::string key_of(std::string_view text) {
  std::string key, error;
  EXPECT_TRUE(text_to_key(text, key, error)) << error;
  return key;
}

HitRecord sample_record() {
  HitRecord record;
  record.time_us = 1795676400123456;  // 2026-11-26T07:00:00.123456Z
  in_addr address{};
  inet_pton(AF_INET, "192.0.2.7", &address);
  record.set_client(AF_INET, &address, 53124);
  record.qname_wire.assign(wire_of("www.Example.com"));
  record.qtype = 1;
  record.action_applied = Action::kNxdomain;
  record.rule_action = Action::kNxdomain;
  record.rule_key.assign(key_of("example.com"));
  record.kind = RuleKind::kSubtree;
  record.confidence = 90;
  record.campaign.assign("phish-2026");
  record.category.assign("phishing");
  record.source.assign("urlhaus.rpz");
  record.build_id.assign("0123456789abcdef0123456789abcdef");
  return record;
}

std::vector<std::string> lines_of(const std::string& content) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\n', start);
    EXPECT_NE(end, std::string::npos) << "the file ends inside a line";
    if (end == std::string::npos) break;
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Waits (up to a generous limit, so a slow sanitizer build still passes) for `done`.
template <typename Predicate>
bool eventually(Predicate done) {
  auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Holds the writer thread in its cycle hook until opened.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

// What the log reported through its logger, in order.
class Messages {
 public:
  HitLog::Logger logger() {
    return [this](HitLog::Severity severity, const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back((severity == HitLog::Severity::kError ? "error: " : "info: ") + message);
    };
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

HitLog::Options options_for(const std::string& path) {
  HitLog::Options options;
  options.path = path;
  return options;
}

std::unique_ptr<HitLog> open_log(HitLog::Options options) {
  std::string error;
  auto log = HitLog::open(std::move(options), error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

TEST(FormatHitJson, WritesEveryField) {
  EXPECT_EQ(format_hit_json(sample_record()),
            "{\"time\":\"2026-11-26T07:00:00.123456Z\",\"client\":\"192.0.2.7\","
            "\"client_port\":53124,\"qname\":\"www.example.com\",\"qtype\":\"A\","
            "\"action\":\"nxdomain\",\"rule_action\":\"nxdomain\",\"rule\":\"example.com\","
            "\"kind\":\"subtree\",\"trigger\":\"qname\",\"campaign\":\"phish-2026\","
            "\"category\":\"phishing\",\"source\":\"urlhaus.rpz\",\"confidence\":90,"
            "\"build_id\":\"0123456789abcdef0123456789abcdef\"}");
}

TEST(FormatHitJson, OptionalFields) {
  HitRecord record = sample_record();
  record.set_client(0, nullptr, 0);
  record.campaign.assign("");
  record.category.assign("");
  record.source.assign("");
  record.note.assign("below-threshold");
  record.action_applied = Action::kLog;
  auto fields = parse_line(format_hit_json(record));
  EXPECT_EQ(fields["client"], "<null>");
  EXPECT_EQ(fields.count("client_port"), 0u);
  EXPECT_EQ(fields["campaign"], "<null>");
  EXPECT_EQ(fields["category"], "<null>");
  EXPECT_EQ(fields["source"], "<null>");
  EXPECT_EQ(fields["note"], "below-threshold");
  EXPECT_EQ(fields["action"], "log");
  EXPECT_EQ(fields["rule_action"], "nxdomain");
  EXPECT_EQ(parse_line(format_hit_json(sample_record())).count("note"), 0u);
}

TEST(FormatHitJson, ClientAddresses) {
  HitRecord record = sample_record();
  in6_addr address6{};
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::53", &address6), 1);
  record.set_client(AF_INET6, &address6, 0);
  auto fields = parse_line(format_hit_json(record));
  EXPECT_EQ(fields["client"], "2001:db8::53");
  EXPECT_EQ(fields.count("client_port"), 0u);
}

TEST(FormatHitJson, Times) {
  HitRecord record = sample_record();
  record.time_us = 0;
  EXPECT_EQ(parse_line(format_hit_json(record))["time"], "1970-01-01T00:00:00.000000Z");
  record.time_us = -1;
  EXPECT_EQ(parse_line(format_hit_json(record))["time"], "1969-12-31T23:59:59.999999Z");
  record.time_us = 1709210096000007;  // a leap day
  EXPECT_EQ(parse_line(format_hit_json(record))["time"], "2024-02-29T12:34:56.000007Z");

  // The same calendar as the C library's, from 1901 to 2200.
  for (std::int64_t seconds = -2145916800; seconds < 7258118400; seconds += 86400 * 13 + 3607) {
    std::time_t clock = static_cast<std::time_t>(seconds);
    std::tm utc{};
    ASSERT_NE(gmtime_r(&clock, &utc), nullptr);
    char expected[40];
    std::strftime(expected, sizeof expected, "%Y-%m-%dT%H:%M:%S.654321Z", &utc);
    record.time_us = seconds * 1000000 + 654321;
    ASSERT_EQ(parse_line(format_hit_json(record))["time"], expected) << seconds;
  }
}

TEST(FormatHitJson, QueryTypes) {
  const std::pair<std::uint16_t, const char*> expected[] = {
      {1, "A"},      {2, "NS"},    {5, "CNAME"}, {6, "SOA"},     {12, "PTR"},
      {15, "MX"},    {16, "TXT"},  {28, "AAAA"}, {33, "SRV"},    {64, "SVCB"},
      {65, "HTTPS"}, {255, "ANY"}, {0, "TYPE0"}, {99, "TYPE99"}, {65535, "TYPE65535"}};
  HitRecord record = sample_record();
  for (auto [qtype, name] : expected) {
    record.qtype = qtype;
    EXPECT_EQ(parse_line(format_hit_json(record))["qtype"], name);
  }
}

TEST(FormatHitJson, EscapesHostileNames) {
  // Labels holding a quote, a backslash, NUL, control bytes, a dot, 0x7f and 0xff.
  const std::string labels[] = {std::string("a\"b"),
                                std::string("c\\d"),
                                std::string("\0\x01\n\x1f", 4),
                                std::string("e.f"),
                                std::string("\x7f\xff\x80", 3),
                                std::string("</script>")};
  std::string wire;
  for (const std::string& label : labels) {
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
  }
  wire.push_back('\0');
  ASSERT_NE(wire_name_length(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()), 0u);

  HitRecord record = sample_record();
  record.qname_wire.assign(wire);
  record.rule_key.assign(key_of("e\\.f.\\060\\047script\\062"));
  const std::string line = format_hit_json(record);
  for (unsigned char c : line) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << line;  // plain ASCII
  auto fields = parse_line(line);
  EXPECT_EQ(fields["qname"], name_to_text(wire));
  EXPECT_EQ(fields["qname"],
            "a\\034b.c\\\\d.\\000\\001\\010\\031.e\\.f.\\127\\255\\128.\\060\\047script\\062");
  EXPECT_EQ(fields["rule"], "e\\.f.\\060\\047script\\062");

  // The name round-trips: what the log shows parses back to the same name.
  EXPECT_EQ(wire_of(fields["qname"]), wire);
}

TEST(FormatHitJson, EscapesText) {
  HitRecord record = sample_record();
  record.campaign.assign(std::string("q\"b\\n\0\t\x7f", 8));
  record.category.assign("caf\xc3\xa9 \xe2\x82\xac");  // valid UTF-8 passes as it is
  record.source.assign("latin\xe9\xff.txt");           // not UTF-8: \u00XX
  record.note.assign("\xed\xa0\x80");                  // a surrogate is not UTF-8 either
  const std::string line = format_hit_json(record);
  EXPECT_NE(line.find(R"("campaign":"q\"b\\n\u0000\u0009\u007f")"), std::string::npos) << line;
  EXPECT_NE(line.find("\"category\":\"caf\xc3\xa9 \xe2\x82\xac\""), std::string::npos) << line;
  EXPECT_NE(line.find(R"("source":"latin\u00e9\u00ff.txt")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("note":"\u00ed\u00a0\u0080")"), std::string::npos) << line;
  auto fields = parse_line(line);
  EXPECT_EQ(fields["campaign"], std::string("q\"b\\n\0\t\x7f", 8));
}

TEST(BoundedText, TruncatesOnCharacterBoundaries) {
  BoundedText<8> text;
  text.assign("abcdefghij");
  EXPECT_EQ(text.view(), "abcdefgh");
  text.assign("abcdef\xc3\xa9");  // exactly full
  EXPECT_EQ(text.view(), "abcdef\xc3\xa9");
  text.assign("abcdefg\xc3\xa9");  // the two-byte character would be cut: left out
  EXPECT_EQ(text.view(), "abcdefg");
  text.assign("abcdef\xe2\x82\xac");  // three bytes, two fit: left out
  EXPECT_EQ(text.view(), "abcdef");
  text.assign("abcdefg\xff\xff");  // not UTF-8: cut anywhere
  EXPECT_EQ(text.view(), "abcdefg\xff");
  text.assign("");
  EXPECT_TRUE(text.empty());
}

TEST(HitLog, OpenFailsOnlyWithoutCapacity) {
  TempDir dir;
  HitLog::Options options = options_for(dir.file("hits.log"));
  options.capacity_lines = 0;
  std::string error;
  EXPECT_EQ(HitLog::open(options, error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(HitLog, AppendsOneLinePerHit) {
  TempDir dir;
  const std::string path = dir.write("hits.log", "earlier line\n");
  auto log = open_log(options_for(path));
  HitRecord record = sample_record();
  ASSERT_TRUE(log->submit(record));
  record.qtype = 28;
  ASSERT_TRUE(log->submit(record));
  ASSERT_TRUE(eventually([&] { return log->written() == 2; }));
  EXPECT_EQ(log->dropped(), 0u);
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "earlier line");
  EXPECT_EQ(lines[1], format_hit_json(sample_record()));
  EXPECT_EQ(parse_line(lines[2])["qtype"], "AAAA");
}

TEST(HitLog, ReusedCellsCarryNoStaleText) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.capacity_lines = 1;
  auto log = open_log(options);
  HitRecord long_text = sample_record();
  long_text.campaign.assign(std::string(64, 'x'));
  long_text.note.assign("exempt-client");
  HitRecord short_text = sample_record();
  short_text.campaign.assign("y");
  ASSERT_TRUE(log->submit(long_text));
  ASSERT_TRUE(eventually([&] { return log->written() == 1; }));
  ASSERT_TRUE(log->submit(short_text));  // into the same cell
  log.reset();
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], format_hit_json(long_text));
  EXPECT_EQ(lines[1], format_hit_json(short_text));
}

TEST(HitLog, DestructorDrainsTheQueue) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.flush_interval = 1h;  // the writer only wakes up for the destructor
  auto log = open_log(options);
  HitRecord record = sample_record();
  for (int i = 0; i < 500; ++i) {
    record.confidence = static_cast<std::uint8_t>(i % 101);
    ASSERT_TRUE(log->submit(record));
  }
  log.reset();
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 500u);
  EXPECT_EQ(parse_line(lines[499])["confidence"], std::to_string(499 % 101));
}

TEST(HitLog, HalfFullQueueWakesTheWriter) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.capacity_lines = 8;
  options.flush_interval = 1h;
  auto log = open_log(options);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 4; }));
  EXPECT_EQ(lines_of(read_file(path)).size(), 4u);
}

TEST(HitLog, StalledWriterDropsAndCounts) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  Gate gate;
  HitLog::Options options = options_for(path);
  options.capacity_lines = 4;
  options.writer_cycle_hook = [&gate] { gate.wait(); };
  auto log = open_log(options);

  HitRecord record = sample_record();
  int accepted = 0, refused = 0;
  for (int i = 0; i < 20; ++i) (log->submit(record) ? accepted : refused)++;
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(refused, 16);
  EXPECT_EQ(log->dropped(), 16u);
  EXPECT_EQ(log->written(), 0u);

  gate.open();
  ASSERT_TRUE(eventually([&] { return log->written() == 4; }));
  EXPECT_TRUE(log->submit(record));  // room again
  log.reset();
  EXPECT_EQ(lines_of(read_file(path)).size(), 5u);
}

TEST(HitLog, ManyThreadsCountsAddUp) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.capacity_lines = 256;  // small, so that some submits find the queue full
  options.flush_interval = 1ms;
  auto log = open_log(options);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::atomic<std::uint64_t> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HitRecord record = sample_record();
      record.confidence = static_cast<std::uint8_t>(t);
      for (int i = 0; i < kPerThread; ++i) {
        record.qtype = static_cast<std::uint16_t>(i);
        (log->submit(record) ? accepted : refused).fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(eventually([&] { return log->written() == accepted.load(); }));
  EXPECT_EQ(log->dropped(), refused.load());
  EXPECT_EQ(accepted + refused, std::uint64_t{kThreads} * kPerThread);
  const std::uint64_t written = log->written();
  log.reset();

  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), written);
  // Each thread's lines come out in the order it submitted them.
  std::map<std::string, long> last_qtype;
  for (const std::string& line : lines) {
    auto fields = parse_line(line);
    ASSERT_EQ(fields.size(), 15u) << line;
    std::string qtype = fields["qtype"];
    long number = qtype.rfind("TYPE", 0) == 0 ? std::stol(qtype.substr(4)) : -1;
    if (number < 0) continue;  // a mnemonic
    auto [previous, inserted] = last_qtype.emplace(fields["confidence"], number);
    if (!inserted) {
      EXPECT_LT(previous->second, number);
      previous->second = number;
    }
  }
}

TEST(HitLog, ReopensOnRequest) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.flush_interval = 5ms;
  auto log = open_log(options);
  ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 1; }));

  // A rotation that renames and at once creates an empty file at the path, then signals.
  ASSERT_EQ(std::rename(path.c_str(), dir.file("hits.log.1").c_str()), 0);
  dir.write("hits.log", "");
  log->request_reopen();
  ASSERT_TRUE(eventually([&] { return log->reopens() >= 1; }));
  ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 2; }));
  log.reset();
  EXPECT_EQ(lines_of(read_file(dir.file("hits.log.1"))).size(), 1u);
  EXPECT_EQ(lines_of(read_file(path)).size(), 1u);
}

TEST(HitLog, ReopensWhenThePathNamesAnotherFile) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.flush_interval = 5ms;
  auto log = open_log(options);
  ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 1; }));

  // Renamed away without a signal and without a new file: the writer notices and creates one.
  ASSERT_EQ(std::rename(path.c_str(), dir.file("hits.log.1").c_str()), 0);
  ASSERT_TRUE(eventually([&] { return log->reopens() == 1; }));
  ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 2; }));

  // Removed: created again.
  ASSERT_EQ(std::remove(path.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return log->reopens() == 2; }));
  ASSERT_TRUE(log->submit(sample_record()));
  log.reset();
  EXPECT_EQ(lines_of(read_file(dir.file("hits.log.1"))).size(), 1u);
  EXPECT_EQ(lines_of(read_file(path)).size(), 1u);
  EXPECT_EQ(read_file(path), format_hit_json(sample_record()) + "\n");
}

TEST(HitLog, RequestReopenIsHarmlessWithoutRotation) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  HitLog::Options options = options_for(path);
  options.flush_interval = 5ms;
  auto log = open_log(options);
  ASSERT_TRUE(log->submit(sample_record()));
  log->request_reopen();
  ASSERT_TRUE(eventually([&] { return log->reopens() == 1; }));
  ASSERT_TRUE(log->submit(sample_record()));
  log.reset();
  EXPECT_EQ(lines_of(read_file(path)).size(), 2u);
}

// The folder appears after the log started: it opens then, and the hits submitted while it
// could not open were dropped at once rather than queued.
TEST(HitLog, OpensOnceThePathCanBeOpened) {
  TempDir dir;
  const std::string path = dir.file("logs/hits.log");
  Messages messages;
  HitLog::Options options = options_for(path);
  options.capacity_lines = 4;
  options.flush_interval = 2ms;
  options.retry_interval = 5ms;
  options.logger = messages.logger();
  auto log = open_log(options);
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(log->is_open());
  ASSERT_EQ(messages.lines().size(), 1u);
  EXPECT_EQ(messages.lines()[0], "error: cannot open " + path +
                                     ": No such file or directory; hits are dropped until it "
                                     "opens (tried again every 5 ms)");

  HitRecord record = sample_record();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(log->submit(record));
  EXPECT_EQ(log->dropped(), 100u);
  ASSERT_TRUE(eventually([&] { return log->open_errors() >= 5; }));  // retried, quietly
  EXPECT_EQ(messages.lines().size(), 1u);

  ASSERT_EQ(::mkdir(dir.file("logs").c_str(), 0750), 0);
  ASSERT_TRUE(eventually([&] { return log->is_open(); }));
  ASSERT_EQ(messages.lines().size(), 2u);
  EXPECT_EQ(messages.lines()[1].rfind("info: " + path + " open again after ", 0), 0u)
      << messages.lines()[1];
  EXPECT_NE(messages.lines()[1].find("100 hits dropped meanwhile"), std::string::npos)
      << messages.lines()[1];
  record.qtype = 28;
  ASSERT_TRUE(log->submit(record));
  log.reset();
  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 1u);  // nothing from before it opened
  EXPECT_EQ(parse_line(lines[0])["qtype"], "AAAA");
}

// logrotate renamed the file and the new path cannot be opened: the renamed file (soon
// compressed and deleted) gets no more lines; the log opens the path once it can.
TEST(HitLog, FailedReopenStopsWritingTheRenamedFile) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  Messages messages;
  HitLog::Options options = options_for(path);
  options.flush_interval = 2ms;
  options.retry_interval = 5ms;
  options.logger = messages.logger();
  auto log = open_log(options);
  ASSERT_TRUE(log->submit(sample_record()));
  ASSERT_TRUE(eventually([&] { return log->written() == 1; }));

  ASSERT_EQ(std::rename(path.c_str(), dir.file("hits.log.1").c_str()), 0);
  ASSERT_EQ(::mkdir(path.c_str(), 0750), 0);  // a folder in the way: cannot be opened to write
  ASSERT_TRUE(eventually([&] { return !log->is_open(); }));
  EXPECT_GE(log->open_errors(), 1u);
  EXPECT_FALSE(log->submit(sample_record()));
  // The writer closes the renamed file before it logs the failed open: wait for the line.
  ASSERT_TRUE(eventually([&] { return !messages.lines().empty(); }));
  ASSERT_EQ(messages.lines().size(), 1u);
  const std::string expected =
      "error: cannot open " + path + ": Is a directory; hits are dropped until it opens";
  EXPECT_EQ(messages.lines()[0].rfind(expected, 0), 0u) << messages.lines()[0];

  ASSERT_EQ(::rmdir(path.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return log->is_open(); }));
  EXPECT_EQ(log->reopens(), 1u);
  ASSERT_TRUE(log->submit(sample_record()));
  log.reset();
  EXPECT_EQ(lines_of(read_file(dir.file("hits.log.1"))).size(), 1u);
  EXPECT_EQ(lines_of(read_file(path)).size(), 1u);
}

// A full disk: every failed write is counted; the first is logged at once, the rest are
// summarised (here only when the log closes: the report interval is an hour).
TEST(HitLog, WriteErrorsAreCountedAndLoggedRateLimited) {
  Messages messages;
  HitLog::Options options = options_for("/dev/full");
  options.flush_interval = 2ms;
  options.error_report_interval = 1h;
  options.logger = messages.logger();
  auto log = open_log(options);
  ASSERT_TRUE(log->is_open());
  for (std::uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(log->submit(sample_record()));
    ASSERT_TRUE(eventually([&] { return log->write_errors() == i; }));
  }
  EXPECT_EQ(log->dropped(), 5u);
  EXPECT_EQ(log->written(), 0u);
  ASSERT_EQ(messages.lines().size(), 1u);
  EXPECT_EQ(messages.lines()[0],
            "error: cannot write to /dev/full: No space left on device; its "
            "lines are dropped until a write succeeds");
  log.reset();
  ASSERT_EQ(messages.lines().size(), 2u);
  EXPECT_EQ(messages.lines()[1].rfind("error: cannot write to /dev/full: 4 more failures in ", 0),
            0u)
      << messages.lines()[1];
  EXPECT_NE(messages.lines()[1].find("(last: No space left on device), 5 hits dropped since the "
                                     "first"),
            std::string::npos)
      << messages.lines()[1];
}

TEST(HitLog, WriteErrorSummariesComeAtMostOncePerInterval) {
  Messages messages;
  HitLog::Options options = options_for("/dev/full");
  options.flush_interval = 1ms;
  options.error_report_interval = 50ms;
  options.logger = messages.logger();
  auto log = open_log(options);
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 300ms) {
    log->submit(sample_record());
    std::this_thread::sleep_for(1ms);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const std::size_t reported = messages.lines().size();
  EXPECT_GE(log->write_errors(), 5u);
  EXPECT_GE(reported, 2u);  // the first, and at least one summary
  EXPECT_LE(reported, 1 + static_cast<std::size_t>(elapsed / 50ms) + 1);
}

// A disk at the edge of full: a failed write gives back what it took, the next write fits,
// the one after fails again. Here a pipe the test empties now and then does the same. The
// log says once that it cannot write, and that it writes again only once its writes have
// gone on succeeding for the recovery interval, not at every write that fits in between.
TEST(HitLog, AWriteBetweenFailuresIsNoRecovery) {
  TempDir dir;
  const std::string path = dir.file("hits.pipe");
  ASSERT_EQ(::mkfifo(path.c_str(), 0640), 0);
  const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  ASSERT_GE(::fcntl(reader, F_SETPIPE_SZ, 4096), 0);
  Messages messages;
  HitLog::Options options = options_for(path);
  options.flush_interval = 1ms;
  options.error_report_interval = 1h;
  options.recovery_interval = 2s;
  options.logger = messages.logger();
  auto log = open_log(options);
  ASSERT_TRUE(log->is_open());
  auto fill_until_a_write_fails = [&] {
    const std::uint64_t errors = log->write_errors();
    return eventually([&] {
      log->submit(sample_record());
      return log->write_errors() > errors;
    });
  };
  auto empty_the_pipe = [&] {
    char buffer[65536];
    while (::read(reader, buffer, sizeof buffer) > 0) {
    }
  };
  auto one_write_succeeds = [&] {
    const std::uint64_t written = log->written();
    log->submit(sample_record());
    return eventually([&] { return log->written() > written; });
  };
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(fill_until_a_write_fails());
    empty_the_pipe();
    ASSERT_TRUE(one_write_succeeds());
  }
  ASSERT_TRUE(fill_until_a_write_fails());
  EXPECT_EQ(messages.lines().size(), 1u) << ::testing::PrintToString(messages.lines());
  EXPECT_EQ(messages.lines().at(0),
            "error: cannot write to " + path +
                ": Resource temporarily unavailable; its lines are dropped until a write succeeds");
  empty_the_pipe();
  ASSERT_TRUE(one_write_succeeds());
  ASSERT_TRUE(eventually([&] { return messages.lines().size() >= 2; }));
  const std::vector<std::string> lines = messages.lines();
  EXPECT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[1].rfind("info: writing to " + path + " again after ", 0), 0u) << lines[1];
  log.reset();
  ::close(reader);
}

// A clock the test moves.
struct TestClock {
  std::atomic<std::int64_t> now_us{1795676400000000};  // 2026-11-26T07:00:00Z
  std::function<std::int64_t()> function() {
    return [this] { return now_us.load(); };
  }
};

HitRecord record_from(const char* client, std::int64_t time_us) {
  HitRecord record = sample_record();
  in_addr address{};
  inet_pton(AF_INET, client, &address);
  record.set_client(AF_INET, &address, 53124);
  record.time_us = time_us;
  return record;
}

std::vector<std::map<std::string, std::string>> summaries_in(const std::string& content) {
  std::vector<std::map<std::string, std::string>> found;
  for (const std::string& line : lines_of(content)) {
    auto fields = parse_line(line);
    if (fields.count("suppressed") != 0) found.push_back(fields);
  }
  return found;
}

TEST(HitLog, RateLimitSummarisesPerRuleAndClient) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  TestClock clock;
  HitLog::Options options = options_for(path);
  options.flush_interval = 2ms;
  options.limits.per_client = 3;
  options.limits.interval = std::chrono::seconds(60);
  options.clock = clock.function();
  auto log = open_log(options);
  const std::int64_t start = clock.now_us.load();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->submit(record_from("192.0.2.7", start + i)));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(log->submit(record_from("192.0.2.8", start + i)));
  ASSERT_TRUE(eventually([&] { return log->written() + log->suppressed() == 12; }));
  EXPECT_EQ(log->written(), 5u);
  EXPECT_EQ(log->suppressed(), 7u);
  EXPECT_EQ(log->summaries(), 0u);  // until the interval ends

  clock.now_us += 60 * 1000000;
  ASSERT_TRUE(eventually([&] { return log->summaries() == 1; }));
  ASSERT_TRUE(log->submit(record_from("192.0.2.7", clock.now_us.load())));  // a new interval
  ASSERT_TRUE(eventually([&] { return log->written() == 6; }));
  log.reset();

  auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[5],
            "{\"time\":\"2026-11-26T07:01:00.000000Z\",\"suppressed\":7,"
            "\"limit\":\"per-client\",\"client\":\"192.0.2.7\",\"rule\":\"example.com\","
            "\"kind\":\"subtree\",\"action\":\"nxdomain\",\"campaign\":\"phish-2026\","
            "\"first\":\"2026-11-26T07:00:00.000003Z\","
            "\"last\":\"2026-11-26T07:00:00.000009Z\"}");
  EXPECT_EQ(parse_line(lines[6])["client"], "192.0.2.7");
  EXPECT_EQ(parse_line(lines[6]).count("suppressed"), 0u);
}

TEST(HitLog, GlobalCapSummarisesPerRuleWhenTheLogCloses) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  TestClock clock;
  HitLog::Options options = options_for(path);
  options.limits.per_client = 100;
  options.limits.lines_per_second = 4;
  options.clock = clock.function();
  auto log = open_log(options);
  const std::int64_t start = clock.now_us.load();
  for (int i = 0; i < 10; ++i) {
    const std::string client = "198.51.100." + std::to_string(i + 1);
    ASSERT_TRUE(log->submit(record_from(client.c_str(), start + i)));
  }
  log.reset();  // the last interval's summaries are written on close
  const std::string content = read_file(path);
  EXPECT_EQ(lines_of(content).size(), 5u);
  auto summaries = summaries_in(content);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0]["suppressed"], "6");
  EXPECT_EQ(summaries[0]["limit"], "global");
  EXPECT_EQ(summaries[0]["client"], "<null>");
  EXPECT_EQ(summaries[0]["rule"], "example.com");
  EXPECT_EQ(summaries[0]["first"], "2026-11-26T07:00:00.000004Z");
}

TEST(HitLog, CreatesTheFileWithMode0640WhateverTheUmask) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  const mode_t saved = ::umask(077);
  auto log = open_log(options_for(path));
  ::umask(saved);
  ASSERT_TRUE(log->is_open());
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0640u);
}

TEST(HitLog, KeepsTheModeOfAnExistingFile) {
  TempDir dir;
  const std::string path = dir.write("hits.log", "");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto log = open_log(options_for(path));
  ASSERT_TRUE(log->is_open());
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0600u);
}

TEST(HitLog, RefusesASymbolicLink) {
  TempDir dir;
  const std::string target = dir.write("elsewhere", "");
  const std::string path = dir.file("hits.log");
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  Messages messages;
  HitLog::Options options = options_for(path);
  options.logger = messages.logger();
  auto log = open_log(options);
  EXPECT_FALSE(log->is_open());
  EXPECT_FALSE(log->submit(sample_record()));
  log.reset();
  EXPECT_EQ(read_file(target), "");
  ASSERT_EQ(messages.lines().size(), 1u);
  EXPECT_NE(messages.lines()[0].find("Too many levels of symbolic links"), std::string::npos)
      << messages.lines()[0];
}

TEST(HitLog, NeverWaitsForAFifoReader) {
  TempDir dir;
  const std::string path = dir.file("hits.log");
  ASSERT_EQ(::mkfifo(path.c_str(), 0640), 0);
  auto log = open_log(options_for(path));  // would block forever without O_NONBLOCK
  EXPECT_FALSE(log->is_open());
}

}  // namespace
}  // namespace dnsverdict
