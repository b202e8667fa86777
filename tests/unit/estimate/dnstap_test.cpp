// dnstap input. Two sources of frames:
//  - tests/data/querylogs/unbound-dnstap.fstrm: written by a real Unbound 1.17.1 built with
//    --enable-dnstap (CLIENT_QUERY + CLIENT_RESPONSE) and recorded by fstrm_capture
//    (tests/data/querylogs/README.md);
//  - files made here with the real writer libraries (libfstrm's file writer, protobuf-c
//    packing dnstap.proto's generated messages), for the cases a capture rarely holds:
//    IPv6 clients, response-only captures, other message types, an undecodable frame.
#include <gtest/gtest.h>

#if DNSVERDICT_HAVE_DNSTAP
#include <fstrm.h>

#include <cstring>
#include <string>
#include <vector>

#include "dnstap.pb-c.h"
#include "diagnostics.h"
#include "estimator.h"
#include "log_dnstap.h"
#include "log_formats.h"
#include "log_reader.h"
#include "log_source.h"
#include "test_support.h"

namespace dnsverdict {
namespace {

const std::string kData = [] {
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/unit/")) + "/data/querylogs/";
}();

struct Read {
  std::vector<std::string> names, clients, types;
  std::vector<std::int64_t> times;
  std::vector<MessageKind> kinds;
  std::vector<std::uint64_t> malformed_frames;
  DnstapCounters counters;
};

Read read_file(const std::string& path) {
  LogSource source(path);
  EXPECT_EQ(detect_log_format(source.peek()), LogFormat::kDnstap);
  Read read;
  read_dnstap(
      source,
      [&](const QueryRecord& record) {
        read.names.push_back(name_to_text(std::string(record.name_wire)));
        read.clients.push_back(record.client.to_text());
        read.types.emplace_back(record.type);
        read.times.push_back(record.time);
        read.kinds.push_back(record.kind);
      },
      [&](std::uint64_t frame, const std::string&) { read.malformed_frames.push_back(frame); },
      read.counters);
  return read;
}

TEST(DnstapTest, RealUnboundCapture) {
  ASSERT_TRUE(dnstap_supported());
  Read read = read_file(kData + "unbound-dnstap.fstrm");
  EXPECT_EQ(read.counters.queries, 7u);
  EXPECT_EQ(read.counters.responses, 7u);
  EXPECT_EQ(read.counters.malformed, 0u);
  ASSERT_EQ(read.names.size(), 14u);
  EXPECT_EQ(read.names[0], "baidugif.com");
  EXPECT_EQ(read.clients[0], "127.0.0.1");
  EXPECT_EQ(read.types[0], "A");
  EXPECT_EQ(read.kinds[0], MessageKind::kQuery);
  EXPECT_EQ(read.times[0], 1795678288);
  bool saw_ipv6_aaaa = false;
  for (std::size_t i = 0; i < read.names.size(); ++i)
    saw_ipv6_aaaa = saw_ipv6_aaaa || (read.clients[i] == "::1" && read.types[i] == "AAAA" &&
                                      read.names[i] == "163image.com");
  EXPECT_TRUE(saw_ipv6_aaaa);
}

// A DNS query in wire format: header, one question.
std::string wire_query(const std::string& name, std::uint16_t type, bool response) {
  std::string message("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  if (response) message[2] = static_cast<char>(0x81);
  std::string wire, error;
  EXPECT_TRUE(parse_name(name, wire, error));
  message += wire;
  message.push_back(static_cast<char>(type >> 8));
  message.push_back(static_cast<char>(type & 0xff));
  message += std::string("\x00\x01", 2);
  return message;
}

struct Frame {
  Dnstap__Message__Type type;
  std::string address;  // 4 or 16 bytes
  std::string name;
  std::uint16_t qtype = 1;
  std::uint64_t time = 1605262736;
  bool garbage = false;  // not a protobuf message at all
};

// Writes the frames with libfstrm's file writer and protobuf-c, as a dnstap producer does.
void write_capture(const std::string& path, const std::vector<Frame>& frames) {
  fstrm_file_options* file_options = fstrm_file_options_init();
  fstrm_file_options_set_file_path(file_options, path.c_str());
  fstrm_writer_options* writer_options = fstrm_writer_options_init();
  const char type[] = "protobuf:dnstap.Dnstap";
  fstrm_writer_options_add_content_type(writer_options, type, sizeof type - 1);
  fstrm_writer* writer = fstrm_file_writer_init(file_options, writer_options);
  ASSERT_NE(writer, nullptr);
  for (const Frame& frame : frames) {
    std::string bytes;
    if (frame.garbage) {
      bytes = "\xff\xff\xff not protobuf";
    } else {
      Dnstap__Message message = DNSTAP__MESSAGE__INIT;
      message.type = frame.type;
      message.has_query_address = 1;
      message.query_address.data = reinterpret_cast<std::uint8_t*>(const_cast<char*>(frame.address.data()));
      message.query_address.len = frame.address.size();
      message.has_socket_family = 1;
      message.socket_family = frame.address.size() == 4 ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
      bool response = frame.type == DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
      std::string dns = wire_query(frame.name, frame.qtype, response);
      ProtobufCBinaryData dns_data{dns.size(), reinterpret_cast<std::uint8_t*>(dns.data())};
      if (response) {
        message.has_response_message = 1;
        message.response_message = dns_data;
        message.has_response_time_sec = 1;
        message.response_time_sec = frame.time;
      } else {
        message.has_query_message = 1;
        message.query_message = dns_data;
        message.has_query_time_sec = 1;
        message.query_time_sec = frame.time;
      }
      Dnstap__Dnstap outer = DNSTAP__DNSTAP__INIT;
      outer.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
      outer.message = &message;
      bytes.resize(dnstap__dnstap__get_packed_size(&outer));
      dnstap__dnstap__pack(&outer, reinterpret_cast<std::uint8_t*>(bytes.data()));
    }
    ASSERT_EQ(fstrm_writer_write(writer, bytes.data(), bytes.size()), fstrm_res_success);
  }
  fstrm_writer_destroy(&writer);
  fstrm_writer_options_destroy(&writer_options);
  fstrm_file_options_destroy(&file_options);
}

const std::string kV4("\xc0\x00\x02\x07", 4);  // 192.0.2.7
const std::string kV6("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09", 16);

TEST(DnstapTest, GeneratedFramesOfEveryKind) {
  testing::TempDir folder;
  std::string path = folder.file("made.fstrm");
  write_capture(path, {{DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, kV4, "QQJPEG.com", 1},
                       {DNSTAP__MESSAGE__TYPE__RESOLVER_QUERY, kV4, "qqjpeg.com", 1},
                       {DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, kV6, "www.163pics.com", 28},
                       {DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, kV4, "", 1, 0, true},
                       {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, kV4, "qqjpeg.com", 65, 1605262799}});
  Read read = read_file(path);
  EXPECT_EQ(read.counters.frames, 5u);
  EXPECT_EQ(read.counters.queries, 2u);
  EXPECT_EQ(read.counters.responses, 1u);
  EXPECT_EQ(read.counters.other, 1u);
  EXPECT_EQ(read.counters.malformed, 1u);
  ASSERT_EQ(read.malformed_frames, std::vector<std::uint64_t>{4});
  ASSERT_EQ(read.names.size(), 3u);
  EXPECT_EQ(read.names[0], "qqjpeg.com");
  EXPECT_EQ(read.clients[0], "192.0.2.7");
  EXPECT_EQ(read.clients[1], "2001:db8::9");
  EXPECT_EQ(read.types[1], "AAAA");
  EXPECT_EQ(read.types[2], "HTTPS");
  EXPECT_EQ(read.times[2], 1605262799);  // a response's own time when it has no query time
}

TEST(DnstapTest, ThroughTheLogReaderQueriesWinOverResponses) {
  testing::TempDir folder;
  std::string store = testing::build_store(
      folder.file("s.store"), {{FeedFormat::kCsv, "domain,action,campaign\nqqjpeg.com,nxdomain,c\n"}});
  auto estimate = [&](const std::vector<Frame>& frames) {
    std::string path = folder.file("f.fstrm");
    write_capture(path, frames);
    Estimator estimator(VerdictStore::open(store), {});
    Progress progress(false);
    LogReadProgress run;
    LogReadOptions options;
    options.errors = nullptr;
    read_query_log(path, options, estimator, progress, run);
    return estimator.state().counters;
  };
  InputCounters both = estimate({{DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, kV4, "qqjpeg.com"},
                                 {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, kV4, "qqjpeg.com"}});
  EXPECT_EQ(both.matched, 1u);
  EXPECT_EQ(both.responses_ignored, 1u);
  InputCounters responses = estimate({{DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, kV4, "qqjpeg.com"},
                                      {DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE, kV6, "qqjpeg.com"}});
  EXPECT_EQ(responses.matched, 2u);
}

TEST(DnstapTest, NotFrameStreams) {
  testing::TempDir folder;
  std::string path = folder.write("x.fstrm", std::string("\0\0\0\0garbage-control-frame", 26));
  LogSource source(path);
  DnstapCounters counters;
  EXPECT_THROW(read_dnstap(source, [](const QueryRecord&) {}, [](std::uint64_t, const std::string&) {},
                           counters),
               ToolError);
}

}  // namespace
}  // namespace dnsverdict

#else  // built without libfstrm / protobuf-c

TEST(DnstapTest, NotBuilt) { GTEST_SKIP() << "dnstap support needs libfstrm-dev, libprotobuf-c-dev"; }

#endif
