#include "log_dnstap.h"

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "diagnostics.h"
#include "dns_name.h"

#if DNSVERDICT_HAVE_DNSTAP
#include <fstrm.h>

#include "dnstap.pb-c.h"
#endif

namespace dnsverdict {

#if DNSVERDICT_HAVE_DNSTAP

namespace {

constexpr char kContentType[] = "protobuf:dnstap.Dnstap";

// Feeds libfstrm's reader from a LogSource, so dnstap may come gzip-compressed or on stdin.
// fstrm asks for a few bytes at a time (frame lengths); a buffer keeps that cheap.
struct SourceAdapter {
  LogSource* source;
  std::string buffer;
  std::size_t offset = 0;
  std::string error;  // a ToolError's message from the source, re-thrown after fstrm returns

  static fstrm_res open(void*) { return fstrm_res_success; }
  static fstrm_res close(void*) { return fstrm_res_success; }
  static fstrm_res read(void* object, void* data, std::size_t count) {
    auto* self = static_cast<SourceAdapter*>(object);
    auto* out = static_cast<char*>(data);
    std::size_t done = 0;
    try {
      while (done < count) {
        if (self->offset == self->buffer.size()) {
          self->buffer.resize(1 << 16);
          std::size_t got = self->source->read(self->buffer.data(), self->buffer.size());
          self->buffer.resize(got);
          self->offset = 0;
          if (got == 0) return fstrm_res_stop;
        }
        std::size_t take = std::min(count - done, self->buffer.size() - self->offset);
        std::memcpy(out + done, self->buffer.data() + self->offset, take);
        self->offset += take;
        done += take;
      }
    } catch (const std::exception& failure) {
      self->error = failure.what();
      return fstrm_res_failure;
    }
    return fstrm_res_success;
  }
};

// The question of a DNS message: name (wire, validated) and type. False when malformed.
bool read_question(const ProtobufCBinaryData& message, std::string_view& name, std::uint16_t& type) {
  if (message.len < 12 + 1 + 4) return false;
  const std::uint8_t* bytes = message.data;
  unsigned questions = static_cast<unsigned>(bytes[4] << 8 | bytes[5]);
  if (questions == 0) return false;
  std::size_t length = wire_name_length(bytes + 12, message.len - 12);
  if (length == 0 || 12 + length + 4 > message.len) return false;
  name = std::string_view(reinterpret_cast<const char*>(bytes + 12), length);
  type = static_cast<std::uint16_t>(bytes[12 + length] << 8 | bytes[12 + length + 1]);
  return true;
}

struct ReaderHandle {
  fstrm_reader* reader = nullptr;
  ~ReaderHandle() {
    if (reader != nullptr) fstrm_reader_destroy(&reader);
  }
};

}  // namespace

bool dnstap_supported() noexcept { return true; }

void read_dnstap(LogSource& source, const std::function<void(const QueryRecord&)>& visit,
                 const std::function<void(std::uint64_t, const std::string&)>& on_malformed,
                 DnstapCounters& counters) {
  SourceAdapter adapter{&source, {}, 0, {}};
  fstrm_rdwr* rdwr = fstrm_rdwr_init(&adapter);
  fstrm_rdwr_set_open(rdwr, &SourceAdapter::open);
  fstrm_rdwr_set_close(rdwr, &SourceAdapter::close);
  fstrm_rdwr_set_read(rdwr, &SourceAdapter::read);
  fstrm_reader_options* options = fstrm_reader_options_init();
  fstrm_reader_options_add_content_type(options, kContentType, sizeof kContentType - 1);
  ReaderHandle handle;
  handle.reader = fstrm_reader_init(options, &rdwr);  // takes ownership of rdwr
  fstrm_reader_options_destroy(&options);
  if (handle.reader == nullptr) throw ToolError(fmt::format("{}: cannot start a Frame Streams reader", source.name()));
  if (fstrm_reader_open(handle.reader) != fstrm_res_success) {
    if (!adapter.error.empty()) throw ToolError(adapter.error);
    throw ToolError(fmt::format("{}: not a Frame Streams file of content type {}", source.name(),
                                kContentType));
  }
  std::string type_buffer;
  QueryRecord record;
  for (;;) {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    fstrm_res result = fstrm_reader_read(handle.reader, &data, &size);
    if (result == fstrm_res_stop) break;
    if (result != fstrm_res_success) {
      if (!adapter.error.empty()) throw ToolError(adapter.error);
      on_malformed(counters.frames + 1, "damaged Frame Streams data (the rest of the file is skipped)");
      ++counters.malformed;
      break;
    }
    ++counters.frames;
    Dnstap__Dnstap* frame = dnstap__dnstap__unpack(nullptr, size, data);
    if (frame == nullptr) {
      ++counters.malformed;
      on_malformed(counters.frames, "frame is not a dnstap protobuf message");
      continue;
    }
    const Dnstap__Message* message = frame->message;
    if (frame->type != DNSTAP__DNSTAP__TYPE__MESSAGE || message == nullptr ||
        (message->type != DNSTAP__MESSAGE__TYPE__CLIENT_QUERY &&
         message->type != DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE)) {
      ++counters.other;
      dnstap__dnstap__free_unpacked(frame, nullptr);
      continue;
    }
    bool is_query = message->type == DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
    std::string reason;
    std::uint16_t type = 0;
    record.kind = is_query ? MessageKind::kQuery : MessageKind::kResponse;
    record.name = {};
    record.client = {};
    if (!message->has_query_address ||
        (message->query_address.len != 4 && message->query_address.len != 16)) {
      reason = "no query_address (4 or 16 bytes)";
    } else {
      record.client.family = message->query_address.len == 4 ? 4 : 6;
      std::memcpy(record.client.bytes, message->query_address.data, message->query_address.len);
      // Responses carry the query time too; fall back to the response time.
      record.time = message->has_query_time_sec ? static_cast<std::int64_t>(message->query_time_sec)
                    : message->has_response_time_sec
                        ? static_cast<std::int64_t>(message->response_time_sec)
                        : 0;
      const ProtobufCBinaryData* wire = nullptr;
      if (is_query && message->has_query_message) wire = &message->query_message;
      else if (!is_query && message->has_response_message) wire = &message->response_message;
      else if (message->has_query_message) wire = &message->query_message;
      if (wire == nullptr) reason = "no DNS message in the frame";
      else if (!read_question(*wire, record.name_wire, type)) reason = "DNS message without a valid question";
    }
    if (!reason.empty()) {
      ++counters.malformed;
      on_malformed(counters.frames, reason);
    } else {
      record.type = rr_type_name(type, type_buffer);
      is_query ? ++counters.queries : ++counters.responses;
      visit(record);
    }
    dnstap__dnstap__free_unpacked(frame, nullptr);
  }
}

#else  // no dnstap libraries at build time

bool dnstap_supported() noexcept { return false; }

void read_dnstap(LogSource& source, const std::function<void(const QueryRecord&)>&,
                 const std::function<void(std::uint64_t, const std::string&)>&, DnstapCounters&) {
  throw ToolError(fmt::format("{}: this dnsverdict was built without dnstap support (libfstrm, "
                              "protobuf-c; see scripts/install-deps.sh)",
                              source.name()));
}

#endif

}  // namespace dnsverdict
