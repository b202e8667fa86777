#include "feed_content.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace dnsverdict {
namespace {

constexpr std::size_t kSniffOctets = 8192;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string gunzip(std::string_view file, std::string_view content, std::size_t max_bytes) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header; concatenated members are read one after the other.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
    throw ToolError(fmt::format("{}: cannot start gzip decompression", file));
  std::string out;
  out.resize(std::min(max_bytes, std::max<std::size_t>(content.size() * 4, 1 << 16)));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(content.data()));
  stream.avail_in = static_cast<uInt>(content.size());
  std::size_t produced = 0;  // not total_out: inflateReset clears it between members
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= max_bytes) {
        inflateEnd(&stream);
        throw NotAFeedError(
            fmt::format("{}: gzip content larger than {} bytes, not a feed", file, max_bytes));
      }
      out.resize(std::min(max_bytes, out.size() * 2));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&stream, Z_NO_FLUSH);
    produced = out.size() - stream.avail_out;
    if (rc == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) break;  // truncated stream
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END)
    throw NotAFeedError(fmt::format("{}: damaged or truncated gzip content, not a feed", file));
  out.resize(produced);
  return out;
}

// The magic numbers of what is mistaken for a feed most often.
const char* known_binary(std::string_view head) {
  struct Magic {
    std::string_view bytes;
    const char* what;
  };
  static const Magic kMagics[] = {
      {"PK\x03\x04", "a zip archive"},
      {"BZh", "bzip2-compressed content"},
      {std::string_view("\xFD" "7zXZ\0", 6), "xz-compressed content"},
      {"\x28\xB5\x2F\xFD", "zstd-compressed content"},
      {"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"},
      {"\x7F" "ELF", "an executable"},
      {"%PDF", "a PDF document"},
      {"\x89PNG", "a PNG image"},
      {"\xFF\xD8\xFF", "a JPEG image"},
      {"GIF8", "a GIF image"},
      {"SQLite format 3", "an SQLite database"},
  };
  for (const Magic& magic : kMagics)
    if (starts_with(head, magic.bytes)) return magic.what;
  if (head.size() > 262 && head.substr(257, 5) == "ustar") return "a tar archive";
  return nullptr;
}

bool looks_binary(std::string_view head) {
  std::size_t control = 0;
  for (char c : head) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte == 0) return true;
    if (byte < 0x20 && byte != '\n' && byte != '\r' && byte != '\t' && byte != '\f') ++control;
  }
  return control * 20 > head.size();  // over 5%: no text feed looks like that
}

// The first non-blank text, lowercased, starts an HTML document.
bool looks_html(std::string_view head, std::string& title) {
  std::size_t start = head.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return false;
  std::string lower = lowercase(head.substr(start, 1024));
  if (!starts_with(lower, "<!doctype html") && !starts_with(lower, "<html") &&
      !starts_with(lower, "<head") && !starts_with(lower, "<body") &&
      !starts_with(lower, "<?xml"))
    return false;
  std::string whole = lowercase(head);
  std::size_t open = whole.find("<title>");
  std::size_t close = open == std::string::npos ? open : whole.find("</title>", open);
  if (close != std::string::npos) {
    std::string_view text = head.substr(open + 7, close - open - 7);
    std::size_t first = text.find_first_not_of(" \t\r\n");
    std::size_t last = text.find_last_not_of(" \t\r\n");
    if (first != std::string_view::npos) title = std::string(text.substr(first, last - first + 1));
  }
  return starts_with(lower, "<?xml") ? whole.find("<html") != std::string::npos : true;
}

}  // namespace

std::string feed_text(std::string_view file, std::string content, std::size_t max_bytes) {
  if (starts_with(content, "\x1F\x8B")) content = gunzip(file, content, max_bytes);
  std::string_view head = std::string_view(content).substr(0, kSniffOctets);
  if (const char* what = known_binary(head))
    throw NotAFeedError(fmt::format("{}: binary content ({}), not a feed", file, what));
  if (looks_binary(head))
    throw NotAFeedError(fmt::format("{}: binary content, not a feed", file));
  std::string title;
  if (looks_html(head, title))
    throw NotAFeedError(title.empty()
                            ? fmt::format("{}: an HTML page, not a feed", file)
                            : fmt::format("{}: an HTML page (\"{}\"), not a feed", file, title));
  return content;
}

void check_mostly_parsed(std::string_view file, std::string_view format, std::size_t entries,
                         std::size_t errors) {
  if (errors > entries)
    throw NotAFeedError(fmt::format("{}: {} of {} entries are errors: not a {} feed", file,
                                    errors, entries + errors, format));
}

}  // namespace dnsverdict
