#include "feed_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "feed_content.h"
#include "huge_pages.h"
#include "http_fetch.h"
#include "zone_transfer.h"

namespace dnsverdict {
namespace {

std::string read_input(const std::string& path) {
  if (path == "-") {
    std::stringstream buffer;
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  // One read into a string of the file's size: feeds can be hundreds of megabytes.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ToolError(fmt::format("{}: cannot read the feed: {}", path, std::strerror(errno)));
  struct stat info;
  std::string content;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) reserve_huge(content, static_cast<std::size_t>(info.st_size));
  char chunk[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      throw ToolError(fmt::format("{}: read error: {}", path, std::strerror(saved)));
    }
    content.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return content;
}

std::int64_t file_time(const std::string& path) {
  std::error_code error;
  auto time = std::filesystem::last_write_time(path, error);
  if (error) return 0;
  auto system = std::chrono::time_point_cast<std::chrono::seconds>(
      time - std::filesystem::file_time_type::clock::now() + std::chrono::system_clock::now());
  return system.time_since_epoch().count();
}

std::string read_secret(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ToolError(fmt::format("{}: cannot read the TSIG secret: {}", path, std::strerror(errno)));
  std::string secret;
  in >> secret;
  if (secret.empty()) throw ToolError(fmt::format("{}: the TSIG secret file is empty", path));
  return secret;
}

TsigKey parse_tsig(const std::string& text) {
  std::size_t first = text.find(':'), second = text.find(':', first + 1);
  TsigKey key;
  key.name = text.substr(0, first);
  if (key.name.back() != '.') key.name += '.';
  key.algorithm = text.substr(first + 1, second - first - 1);
  key.secret = read_secret(text.substr(second + 1));
  return key;
}

// Fetches the feed as it is now into `arrival`; throws FetchError or NotAFeedError.
void fetch_now(const FeedSource& feed, FeedArrival& arrival) {
  const FeedFetch& fetch = feed.fetch;
  const std::optional<CachedFeed>& held = arrival.last_good;
  if (!fetch.url.empty()) {
    HttpRequest request;
    request.url = fetch.url;
    request.ca_file = fetch.ca_file;
    request.timeout_seconds = fetch.timeout_seconds;
    request.max_bytes = fetch.max_bytes;
    if (held) {
      request.etag = held->etag;
      request.last_modified = held->last_modified;
    }
    HttpResponse response = fetch_http(request);
    if (response.unchanged && held) {
      arrival.text = held->text;
      arrival.status = "unchanged";
      arrival.fresh = *held;
    } else {
      if (response.unchanged)
        throw FetchError(fmt::format("{}: 304 Not Modified, but no copy is held", fetch.url));
      arrival.text = feed_text(fetch.url, std::move(response.body), fetch.max_bytes);
      arrival.status = "fetched";
      arrival.fresh.etag = response.etag;
      arrival.fresh.last_modified = response.last_modified;
    }
    if (!arrival.fresh.etag.empty())
      arrival.version = "etag " + arrival.fresh.etag;
    else if (!arrival.fresh.last_modified.empty())
      arrival.version = "last-modified " + arrival.fresh.last_modified;
    return;
  }
  ZoneRequest request;
  request.zone = fetch.zone;
  request.primary = fetch.primary;
  request.timeout_seconds = fetch.timeout_seconds;
  request.max_bytes = fetch.max_bytes;
  if (!fetch.tsig.empty()) request.tsig = parse_tsig(fetch.tsig);
  std::optional<std::uint32_t> held_serial = held ? held->serial : std::nullopt;
  ZoneResponse response =
      transfer_zone(request, held_serial ? std::string_view(held->text) : std::string_view(),
                    held_serial.value_or(0));
  if (response.method == ZoneResponse::Method::kUnchanged) {
    arrival.text = held->text;
    arrival.fresh = *held;
  } else {
    arrival.text = std::move(response.text);
    arrival.fresh.serial = response.serial;
  }
  arrival.status = std::string(method_name(response.method));
  arrival.version = fmt::format("serial {}", response.serial);
}

}  // namespace

FeedArrival obtain_feed(const FeedSource& feed, const FeedCache* cache, std::int64_t now) {
  FeedArrival arrival;
  if (feed.fetched()) {
    arrival.origin = !feed.fetch.url.empty()
                         ? feed.fetch.url
                         : fmt::format("{} {}", feed.fetch.zone, feed.fetch.primary);
  } else if (feed.path != "-") {
    arrival.origin = std::filesystem::absolute(feed.path).lexically_normal().string();
  }
  // A local file's held copy is read only if it is compiled instead (cmd_compile).
  if (cache && !arrival.origin.empty())
    arrival.last_good = cache->load(arrival.origin, feed.fetched());
  arrival.fresh.origin = arrival.origin;
  arrival.fresh.time = now;

  if (!feed.fetched()) {
    arrival.text = feed_text(feed.path, read_input(feed.path));
    arrival.status = "file";
    arrival.time = feed.path == "-" ? 0 : file_time(feed.path);
  } else {
    arrival.time = now;
    try {
      fetch_now(feed, arrival);
    } catch (const ToolError& error) {  // FetchError, NotAFeedError, a bad TSIG secret file
      if (!arrival.last_good) throw;
      arrival.failure = error.what();
      arrival.text.clear();
      arrival.version.clear();
    }
  }
  return arrival;
}

std::optional<std::string> feed_valve_refusal(std::string_view file, std::uint64_t entries,
                                              std::uint64_t previous, double ratio) {
  if (ratio <= 0 || previous == 0) return std::nullopt;
  if (entries > 0 && static_cast<double>(entries) >= ratio * static_cast<double>(previous))
    return std::nullopt;
  return fmt::format("{}: {} entries, fewer than {:.0f}% of the {} of its last good copy", file,
                     entries, ratio * 100, previous);
}

}  // namespace dnsverdict
