// Query-log formats. Where a program was available here, the lines are real: the fixtures in
// tests/data/querylogs/ were written by the programs themselves on loopback (see
// tests/data/querylogs/README.md for the exact configurations):
//   unbound-epoch.log           Unbound 1.17.1, logfile:, log-queries + log-replies
//   unbound-ascii.log           the same with log-time-ascii: yes
//   unbound-syslog.log          use-syslog: yes, rsyslog 8.2302 RSYSLOG_TraditionalFileFormat
//   unbound-syslog-rfc3339.log  the same through an RFC 3339 (date-rfc3339) rsyslog template
//   bind-plain.log              BIND 9.18.49 querylog, channel with print-time no
//   bind-time.log               print-time yes; print-category yes; print-severity yes
//   bind-iso.log                print-time iso8601-utc
// Zeek is not packaged for Debian 12: its lines below follow the dns.log in Zeek's
// documentation ("Zeek Log Formats and Inspection", docs.zeek.org) field by field.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "diagnostics.h"
#include "estimator.h"
#include "log_formats.h"
#include "log_reader.h"
#include "log_source.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

// tests/data/querylogs/, found from this file's own path (CMake compiles it by absolute path).
const std::string kData = [] {
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/unit/")) + "/data/querylogs/";
}();

struct Parsed {
  LogFormat format = LogFormat::kAuto;
  std::vector<QueryRecord> records;
  std::vector<std::string> names, clients, types;
  std::size_t skipped = 0, malformed = 0;
};

Parsed parse_file(const std::string& path, ParserOptions options = {}) {
  LogSource source(path);
  Parsed parsed;
  parsed.format = detect_log_format(source.peek());
  LogLineParser parser(parsed.format, options);
  LogLines lines(source);
  std::string_view line;
  std::string reason;
  while (lines.next(line)) {
    QueryRecord record;
    switch (parser.parse(line, record, reason)) {
      case ParseStatus::kRecord:
        parsed.records.push_back(record);
        parsed.names.emplace_back(record.name);
        parsed.clients.push_back(record.client.to_text());
        parsed.types.emplace_back(record.type);
        break;
      case ParseStatus::kSkip: ++parsed.skipped; break;
      case ParseStatus::kMalformed: ++parsed.malformed; break;
    }
  }
  return parsed;
}

class UtcZone : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

using LogFormatsTest = UtcZone;

TEST_F(LogFormatsTest, UnboundLogfileEpoch) {
  Parsed parsed = parse_file(kData + "unbound-epoch.log");
  EXPECT_EQ(parsed.format, LogFormat::kUnbound);
  ASSERT_EQ(parsed.records.size(), 16u);  // 8 queries, each logged again as a reply
  EXPECT_EQ(parsed.malformed, 0u);
  EXPECT_EQ(parsed.records[0].time, 1795678073);
  EXPECT_EQ(parsed.clients[0], "127.0.0.1");
  EXPECT_EQ(parsed.names[0], "baidugif.com.");
  EXPECT_EQ(parsed.types[0], "A");
  EXPECT_EQ(parsed.records[0].kind, MessageKind::kQuery);
  EXPECT_EQ(parsed.records[1].kind, MessageKind::kResponse);
  EXPECT_EQ(parsed.clients[12], "::1");
  EXPECT_EQ(parsed.types[12], "AAAA");
  // Startup notices, statistics and the histogram are not queries.
  EXPECT_EQ(parsed.skipped, 10u);
}

TEST_F(LogFormatsTest, UnboundLogTimeAscii) {
  Parsed parsed = parse_file(kData + "unbound-ascii.log", ParserOptions{2026});
  EXPECT_EQ(parsed.format, LogFormat::kUnbound);
  ASSERT_EQ(parsed.records.size(), 16u);
  EXPECT_EQ(parsed.malformed, 0u);
  EXPECT_EQ(parsed.records[0].time, 1795678075);  // Nov 26 07:27:55 2026, local (UTC here)
  EXPECT_EQ(parsed.names[2], "www.qqjpeg.com.");
}

TEST_F(LogFormatsTest, UnboundThroughSyslog) {
  Parsed traditional = parse_file(kData + "unbound-syslog.log", ParserOptions{2026});
  EXPECT_EQ(traditional.format, LogFormat::kUnbound);
  ASSERT_EQ(traditional.records.size(), 6u);
  EXPECT_EQ(traditional.records[0].time, 1795678098);  // Nov 26 07:28:18
  EXPECT_EQ(traditional.names[0], "baidugif.com.");
  Parsed precise = parse_file(kData + "unbound-syslog-rfc3339.log");
  EXPECT_EQ(precise.format, LogFormat::kUnbound);
  ASSERT_EQ(precise.records.size(), 6u);
  EXPECT_EQ(precise.records[0].time, 1795678098);  // 2026-11-26T07:28:18.963611+00:00
  EXPECT_EQ(precise.malformed, 0u);
}

TEST_F(LogFormatsTest, UnboundSyslogZoneOffsetsAndDays) {
  LogLineParser parser(LogFormat::kUnbound, ParserOptions{2020});
  QueryRecord record;
  std::string reason;
  // rsyslog's RFC 3339 time with an offset; journald's short-iso without the colon.
  ASSERT_EQ(parser.parse("2020-11-13T18:18:56.000123+08:00 gw unbound: [77:0] info: 192.0.2.7 "
                         "qqjpeg.com. A IN",
                         record, reason),
            ParseStatus::kRecord);
  EXPECT_EQ(record.time, 1605262736);  // 10:18:56Z
  ASSERT_EQ(parser.parse("2020-11-13T18:18:56+0800 gw unbound[77]: [77:0] info: 192.0.2.7 "
                         "qqjpeg.com. A IN",
                         record, reason),
            ParseStatus::kRecord);
  EXPECT_EQ(record.time, 1605262736);
  // RFC 3164 pads a one-digit day with a space.
  ASSERT_EQ(parser.parse("Nov  3 18:18:56 gw unbound: [77:0] info: 192.0.2.7 qqjpeg.com. A IN",
                         record, reason),
            ParseStatus::kRecord);
  EXPECT_EQ(record.time, 1604427536);
}

TEST_F(LogFormatsTest, BindQueryLogWithEachChannelPrefix) {
  for (const char* file : {"bind-plain.log", "bind-time.log", "bind-iso.log"}) {
    SCOPED_TRACE(file);
    Parsed parsed = parse_file(kData + file);
    EXPECT_EQ(parsed.format, LogFormat::kBind);
    ASSERT_EQ(parsed.records.size(), 6u);
    EXPECT_EQ(parsed.malformed, 0u);
    EXPECT_EQ(parsed.names[0], "baidugif.com");
    EXPECT_EQ(parsed.clients[0], "127.0.0.1");
    EXPECT_EQ(parsed.types[0], "A");
    EXPECT_EQ(parsed.clients[4], "::1");
    EXPECT_EQ(parsed.types[4], "AAAA");
    EXPECT_EQ(parsed.types[5], "TXT");
  }
  EXPECT_EQ(parse_file(kData + "bind-time.log").records[0].time, 1795678108);  // 07:28:28.725
  EXPECT_EQ(parse_file(kData + "bind-iso.log").records[0].time, 1795678108);
}

TEST_F(LogFormatsTest, BindOlderAndViewForms) {
  LogLineParser parser(LogFormat::kBind);
  QueryRecord record;
  std::string reason;
  // BIND 9.10 and earlier: no "@0x..." client object.
  ASSERT_EQ(parser.parse("client 192.0.2.9#5353 (163pics.com): query: 163pics.com IN A + (192.0.2.53)",
                         record, reason),
            ParseStatus::kRecord);
  EXPECT_EQ(record.name, "163pics.com");
  ASSERT_EQ(parser.parse("13-Nov-2020 18:18:56.123 client @0x7f00 192.0.2.9#5353 (a.example): view "
                         "internal: query: a.example IN AAAA +E(0) (192.0.2.53)",
                         record, reason),
            ParseStatus::kRecord);
  EXPECT_EQ(record.type, "AAAA");
  // Other query-category messages are not queries.
  EXPECT_EQ(parser.parse("client @0x7f00 192.0.2.9#5353 (x.example): query (cache) 'x.example/A/IN' "
                         "denied",
                         record, reason),
            ParseStatus::kSkip);
  EXPECT_EQ(parser.parse("client @0x7f00 nonsense (x.example): query: x.example IN A +", record, reason),
            ParseStatus::kMalformed);
}

constexpr const char* kZeekTsv =
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    "#unset_field\t-\n"
    "#path\tdns\n"
    "#open\t2020-11-13-18-18-56\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\t"
    "qclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\t"
    "rejected\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\t"
    "count\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\t"
    "vector[interval]\tbool\n"
    "1605262736.305988\tCHhAvVGS1DHFjwGM9\t192.168.4.76\t36844\t192.168.4.1\t53\tudp\t19671\t"
    "0.066852\tbaidugif.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t47.100.164.28\t"
    "600.000000\tF\n"
    "1605262737.306059\tCHhAvVGS1DHFjwGM9\t2001:db8::76\t36844\t192.168.4.1\t53\tudp\t8555\t"
    "0.048518\tqqjpeg.com\t1\tC_INTERNET\t28\tAAAA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF\n"
    "1605262738.1\tC5bLoe2Mvxqhawzqqd\t192.168.4.76\t5353\t224.0.0.251\t5353\tudp\t0\t-\t-\t-\t-\t"
    "-\t-\t-\t-\tF\tF\tF\tF\t0\t-\t-\tF\n"
    "#close\t2020-11-13-18-19-00\n";

TEST_F(LogFormatsTest, ZeekTsvWithFieldsHeader) {
  testing::TempDir folder;
  Parsed parsed = parse_file(folder.write("dns.log", kZeekTsv));
  EXPECT_EQ(parsed.format, LogFormat::kZeekTsv);
  ASSERT_EQ(parsed.records.size(), 2u);
  EXPECT_EQ(parsed.records[0].time, 1605262736);
  EXPECT_EQ(parsed.clients[0], "192.168.4.76");
  EXPECT_EQ(parsed.names[0], "baidugif.com");
  EXPECT_EQ(parsed.types[1], "AAAA");
  EXPECT_EQ(parsed.clients[1], "2001:db8::76");
  EXPECT_EQ(parsed.malformed, 0u);
}

// Found by fuzz_log_zeek_tsv: a "#separator" that is not \xHH threw std::invalid_argument
// out of the parser, ending the whole estimate run.
TEST_F(LogFormatsTest, ZeekTsvBadSeparatorIsAMalformedLine) {
  LogLineParser parser(LogFormat::kZeekTsv);
  QueryRecord record;
  std::string reason;
  EXPECT_EQ(parser.parse("#separator \\xZ9", record, reason), ParseStatus::kMalformed);
  EXPECT_NE(reason.find("#separator"), std::string::npos);
  EXPECT_EQ(parser.parse("#separator \\x09", record, reason), ParseStatus::kSkip);
  EXPECT_EQ(parser.parse("#fields\tts\tid.orig_h\tquery", record, reason), ParseStatus::kSkip);
  ASSERT_EQ(parser.parse("1605262736.3\t192.0.2.1\ta.example", record, reason),
            ParseStatus::kRecord)
      << reason;
  EXPECT_EQ(record.name, "a.example");
}

// Found by fuzz_log_unbound: a "[digits]" time of 19 or more digits overflowed int64_t.
TEST_F(LogFormatsTest, UnboundEpochTooLongIsNotATime) {
  LogLineParser parser(LogFormat::kUnbound);
  QueryRecord record;
  std::string reason;
  EXPECT_NE(parser.parse("[17956111111111111111111] unbound[1:0] info: 192.0.2.1 a.example. A IN",
                         record, reason),
            ParseStatus::kRecord);
}

TEST_F(LogFormatsTest, ZeekJson) {
  // LogAscii::use_json = T; the second line with json_timestamps = JSON::TS_ISO8601.
  const char* log =
      "{\"ts\":1605262736.123071,\"uid\":\"CHFRflzsgM15k9et4\",\"id.orig_h\":\"192.168.75.169\","
      "\"id.orig_p\":58506,\"id.resp_h\":\"192.168.75.1\",\"id.resp_p\":53,\"proto\":\"udp\","
      "\"trans_id\":50763,\"rtt\":0.022633075714111329,\"query\":\"163image.com\",\"qclass\":1,"
      "\"qclass_name\":\"C_INTERNET\",\"qtype\":1,\"qtype_name\":\"A\",\"rcode\":0,\"rcode_name\":"
      "\"NOERROR\",\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"answers\":["
      "\"39.98.228.46\"],\"TTLs\":[600.0],\"rejected\":false}\n"
      "{\"ts\":\"2020-11-13T10:18:57.000000Z\",\"uid\":\"C2\",\"id.orig_h\":\"192.168.75.170\","
      "\"id.orig_p\":1,\"id.resp_h\":\"192.168.75.1\",\"id.resp_p\":53,\"proto\":\"udp\","
      "\"query\":\"163pics.com\",\"qtype_name\":\"AAAA\"}\n";
  testing::TempDir folder;
  Parsed parsed = parse_file(folder.write("dns.json", log));
  EXPECT_EQ(parsed.format, LogFormat::kZeekJson);
  ASSERT_EQ(parsed.records.size(), 2u);
  EXPECT_EQ(parsed.records[0].time, 1605262736);
  EXPECT_EQ(parsed.names[0], "163image.com");
  EXPECT_EQ(parsed.clients[0], "192.168.75.169");
  EXPECT_EQ(parsed.records[1].time, 1605262737);
  EXPECT_EQ(parsed.types[1], "AAAA");
}

TEST_F(LogFormatsTest, SimpleCsv) {
  testing::TempDir folder;
  Parsed parsed = parse_file(folder.write(
      "q.csv", "time,client,qname,qtype\n1605262736,192.0.2.1,baidugif.com,A\n"
               "2020-11-13T10:18:57Z,2001:db8::1,qqjpeg.com.,AAAA\n"
               "yesterday,192.0.2.1,x.example,A\n"));
  EXPECT_EQ(parsed.format, LogFormat::kCsv);
  ASSERT_EQ(parsed.records.size(), 2u);
  EXPECT_EQ(parsed.records[1].time, 1605262737);
  EXPECT_EQ(parsed.clients[1], "2001:db8::1");
  EXPECT_EQ(parsed.malformed, 1u);
}

TEST_F(LogFormatsTest, FormatNames) {
  EXPECT_EQ(parse_log_format("zeek-json"), LogFormat::kZeekJson);
  EXPECT_EQ(parse_log_format("UNBOUND"), LogFormat::kUnbound);
  EXPECT_FALSE(parse_log_format("syslog"));
  EXPECT_EQ(detect_log_format("hello\nworld\n"), LogFormat::kAuto);
}

// Reading through log_reader: gzip, stdin-like sources, malformed lines with line numbers.
struct ReadFixture {
  testing::TempDir folder;
  std::string store;
  ReadFixture() {
    store = testing::build_store(folder.file("s.store"),
                                 {{FeedFormat::kCsv, "domain,action,campaign\nbaidugif.com,nxdomain,c\n"}});
  }
  EstimateState read(const std::string& path, LogReadOptions options, std::FILE* errors = nullptr) {
    Estimator estimator(VerdictStore::open(store), {});
    Progress progress(false);
    LogReadProgress run;
    options.errors = errors;
    read_query_log(path, options, estimator, progress, run);
    return estimator.state();
  }
};

TEST_F(LogFormatsTest, GzipIsReadTransparently) {
  ReadFixture fixture;
  std::string plain = testing::read_file(kData + "unbound-epoch.log");
  std::string path = fixture.folder.write("unbound.log.gz", testing::gzip(plain));
  EstimateState state = fixture.read(path, {});
  EXPECT_EQ(state.counters.lines, 26u);
  EXPECT_EQ(state.counters.queries, 8u);
  EXPECT_EQ(state.counters.responses_ignored, 8u);
  EXPECT_EQ(state.counters.matched, 2u);  // baidugif.com, twice
}

TEST_F(LogFormatsTest, RepliesAloneAreCounted) {
  ReadFixture fixture;
  std::string replies;
  for (const char* line : {"[1605262736] unbound[1:0] info: 192.0.2.1 baidugif.com. A IN NOERROR 0.000213 0 57",
                           "[1605262737] unbound[1:0] info: 192.0.2.2 baidugif.com. A IN NXDOMAIN 0.000000 1 57"})
    replies += std::string(line) + "\n";
  EstimateState state = fixture.read(fixture.folder.write("r.log", replies), {});
  EXPECT_EQ(state.counters.queries, 2u);
  EXPECT_EQ(state.counters.responses_ignored, 0u);
}

TEST_F(LogFormatsTest, MalformedLinesAreCountedAndShownWithLineNumbers) {
  ReadFixture fixture;
  std::string log =
      "[1605262736] unbound[1:0] info: 192.0.2.1 baidugif.com. A IN\n"
      "this is not a log line\n"
      "[1605262737] unbound[1:0] info: 192.0.2.1 baidugif.com. A\n"
      "[1605262738] unbound[1:0] info: 192.0.2.3 baidugif.com. A IN\n"
      "another bad line\n";
  std::string path = fixture.folder.write("bad.log", log);
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* errors = open_memstream(&buffer, &size);
  LogReadOptions options;
  options.show_errors = 2;
  EstimateState state = fixture.read(path, options, errors);
  std::fclose(errors);
  std::string shown(buffer, size);
  std::free(buffer);
  EXPECT_EQ(state.counters.malformed, 3u);
  EXPECT_EQ(state.counters.queries, 2u);
  EXPECT_NE(shown.find("bad.log:2: "), std::string::npos) << shown;
  EXPECT_NE(shown.find("bad.log:3: a query line has four fields"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("bad.log:5:"), std::string::npos) << "only the first two are shown";

  options.strict = true;
  EXPECT_THROW(fixture.read(path, options), ToolError);
}

TEST_F(LogFormatsTest, UnrecognisedInputIsAnError) {
  ReadFixture fixture;
  EXPECT_THROW(fixture.read(fixture.folder.write("x.txt", "hello\nworld\n"), {}), ToolError);
  EXPECT_THROW(fixture.read(fixture.folder.file("missing.log"), {}), ToolError);
}

}  // namespace
}  // namespace dnsverdict
