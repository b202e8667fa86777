#include "http_fetch.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace dnsverdict {
namespace {

struct Transfer {
  std::string body;
  std::string etag;
  std::string last_modified;
  std::uint64_t max_bytes = 0;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t bytes = size * count;
  if (transfer->body.size() + bytes > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, bytes);
  return bytes;
}

std::string_view trim_header(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  return value;
}

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  // A redirect's headers come first: only the last response's count.
  if (line.rfind("HTTP/", 0) == 0) {
    transfer->etag.clear();
    transfer->last_modified.clear();
  } else if (header_is(line, "etag")) {
    transfer->etag = std::string(trim_header(line.substr(5)));
  } else if (header_is(line, "last-modified")) {
    transfer->last_modified = std::string(trim_header(line.substr(14)));
  }
  return size * count;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

HttpResponse fetch_http(const HttpRequest& request) {
  global_init();
  std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  if (!handle) throw FetchError(fmt::format("{}: cannot start libcurl", request.url));
  CURL* curl = handle.get();
  Transfer transfer;
  transfer.max_bytes = request.max_bytes;
  char error_text[CURL_ERROR_SIZE] = "";

  struct curl_slist* headers = nullptr;
  if (!request.etag.empty())
    headers = curl_slist_append(headers, ("If-None-Match: " + request.etag).c_str());
  if (!request.last_modified.empty())
    headers = curl_slist_append(headers, ("If-Modified-Since: " + request.last_modified).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, curl_slist_free_all);

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl decodes
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(request.timeout_seconds, 15L));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_bytes));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "dnsverdict/" DNSVERDICT_VERSION);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());

  CURLcode code = curl_easy_perform(curl);
  if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED)
    throw FetchError(fmt::format("{}: larger than the limit of {} bytes (max-size)", request.url,
                                 request.max_bytes));
  if (code != CURLE_OK)
    throw FetchError(fmt::format("{}: {}", request.url,
                                 error_text[0] != '\0' ? error_text : curl_easy_strerror(code)));
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  HttpResponse response;
  response.etag = std::move(transfer.etag);
  response.last_modified = std::move(transfer.last_modified);
  if (status == 304) {
    response.unchanged = true;
    return response;
  }
  if (status != 200) throw FetchError(fmt::format("{}: HTTP status {}", request.url, status));
  response.body = std::move(transfer.body);
  return response;
}

}  // namespace dnsverdict
