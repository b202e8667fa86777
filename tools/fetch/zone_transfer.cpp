#include "zone_transfer.h"

#include <ldns/ldns.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace dnsverdict {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const noexcept { Free(pointer); }
};
using Packet = std::unique_ptr<ldns_pkt, Deleter<ldns_pkt, ldns_pkt_free>>;
using Record = std::unique_ptr<ldns_rr, Deleter<ldns_rr, ldns_rr_free>>;
using Rdf = std::unique_ptr<ldns_rdf, Deleter<ldns_rdf, ldns_rdf_deep_free>>;
using Buffer = std::unique_ptr<ldns_buffer, Deleter<ldns_buffer, ldns_buffer_free>>;
void free_bytes(std::uint8_t* bytes) { std::free(bytes); }
using Bytes = std::unique_ptr<std::uint8_t, Deleter<std::uint8_t, free_bytes>>;
void free_char(char* text) { std::free(text); }
void free_address(sockaddr_storage* address) { std::free(address); }
using Text = std::unique_ptr<char, Deleter<char, free_char>>;

class Socket {
 public:
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// A record as a master-file line without its newline.
std::string record_line(const ldns_rr* rr) {
  Text text(ldns_rr2str(rr));
  std::string line = text ? text.get() : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// What identifies a record for IXFR deletions: canonical form, TTL ignored.
std::string record_identity(const ldns_rr* rr) {
  Record copy(ldns_rr_clone(rr));
  ldns_rr2canonical(copy.get());
  ldns_rr_set_ttl(copy.get(), 0);
  return record_line(copy.get());
}

std::uint32_t soa_serial(const ldns_rr* rr) {
  return ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
}

bool is_soa(const ldns_rr* rr) { return ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA; }

class Transfer {
 public:
  explicit Transfer(const ZoneRequest& request)
      : request_(request), label_(fmt::format("{} from {}", request.zone, request.primary)) {}

  // The answer records of the whole transfer, in order. `ixfr_from`: ask for an IXFR.
  std::vector<Record> run(std::optional<std::uint32_t> ixfr_from, ldns_pkt_rcode& rcode);
  [[noreturn]] void fail(std::string_view reason) const {
    throw FetchError(fmt::format("{}: {}", label_, reason));
  }

 private:
  Packet make_query(std::optional<std::uint32_t> ixfr_from);
  void verify(ldns_pkt* response, const std::uint8_t* wire, std::size_t size, bool first);

  const ZoneRequest& request_;
  std::string label_;
  Rdf mac_;  // the MAC the next response's TSIG chains from
};

Packet Transfer::make_query(std::optional<std::uint32_t> ixfr_from) {
  Rdf zone(ldns_dname_new_frm_str(request_.zone.c_str()));
  if (!zone) fail("not a zone name");
  Packet query;
  if (ixfr_from) {
    ldns_rr* soa = nullptr;
    std::string text = fmt::format("{} 0 IN SOA . . {} 0 0 0 0", request_.zone, *ixfr_from);
    if (ldns_rr_new_frm_str(&soa, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
      fail("cannot build the IXFR query");
    query.reset(ldns_pkt_ixfr_request_new(zone.release(), LDNS_RR_CLASS_IN, 0, soa));
  } else {
    query.reset(ldns_pkt_query_new(zone.release(), LDNS_RR_TYPE_AXFR, LDNS_RR_CLASS_IN, 0));
  }
  if (!query) fail("cannot build the query");
  ldns_pkt_set_random_id(query.get());
  if (request_.tsig) {
    const TsigKey& key = *request_.tsig;
    ldns_status status = ldns_pkt_tsig_sign(query.get(), key.name.c_str(), key.secret.c_str(),
                                            300, key.algorithm.c_str(), nullptr);
    if (status != LDNS_STATUS_OK)
      fail(fmt::format("cannot sign with TSIG key {}: {}", key.name,
                       ldns_get_errorstr_by_id(status)));
    mac_.reset(ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(query.get()), 3)));
  }
  return query;
}

void Transfer::verify(ldns_pkt* response, const std::uint8_t* wire, std::size_t size,
                      bool first) {
  if (!request_.tsig) return;
  if (!ldns_pkt_tsig(response)) fail("a message of the transfer is not signed with TSIG");
  // Each message's MAC covers the previous one's: the request's for the first.
  bool ok = ldns_pkt_tsig_verify_next(response, wire, size, request_.tsig->name.c_str(),
                                      request_.tsig->secret.c_str(), mac_.get(), first ? 0 : 1);
  mac_.reset(ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(response), 3)));
  if (!ok) fail(fmt::format("the TSIG of the answer does not verify with key {}",
                            request_.tsig->name));
}

std::vector<Record> Transfer::run(std::optional<std::uint32_t> ixfr_from, ldns_pkt_rcode& rcode) {
  std::string address = request_.primary;
  std::uint16_t port = 53;
  std::size_t at = address.rfind('@');
  if (at != std::string::npos) {
    port = static_cast<std::uint16_t>(std::stoul(address.substr(at + 1)));
    address.resize(at);
  }
  Rdf rdf(ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, address.c_str()));
  if (!rdf) rdf.reset(ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, address.c_str()));
  if (!rdf) fail("the primary is not an IP address");
  std::size_t address_size = 0;
  std::unique_ptr<sockaddr_storage, Deleter<sockaddr_storage, free_address>> peer(ldns_rdf2native_sockaddr_storage(rdf.get(), port, &address_size));
  timeval timeout{request_.timeout_seconds, 0};

  Packet query = make_query(ixfr_from);
  Buffer wire(ldns_buffer_new(LDNS_MAX_PACKETLEN));
  if (ldns_pkt2buffer_wire(wire.get(), query.get()) != LDNS_STATUS_OK) fail("cannot encode the query");
  Socket socket(ldns_tcp_connect2(peer.get(), static_cast<socklen_t>(address_size), timeout));
  if (socket.get() < 0) fail(fmt::format("cannot connect: {}", std::strerror(errno)));
  if (ldns_tcp_send_query(wire.get(), socket.get(), peer.get(),
                          static_cast<socklen_t>(address_size)) == 0)
    fail("cannot send the query");

  // RFC 1995 / 5936: the transfer ends with the SOA that started it: the second SOA of an
  // AXFR; in an IXFR, the new SOA where the next deletion sequence would begin. A lone SOA
  // answers an IXFR when the copy we hold is current.
  std::vector<Record> records;
  std::uint64_t bytes = 0;
  bool incremental = false;
  std::size_t soa_count = 0;
  for (bool first = true;; first = false) {
    std::size_t size = 0;
    Bytes bytes_read(ldns_tcp_read_wire_timeout(socket.get(), &size, timeout));
    if (!bytes_read) fail(records.empty() ? "no answer (timeout or connection closed)"
                                          : "the transfer ended early");
    bytes += size;
    if (bytes > request_.max_bytes * 2 + 65536)
      fail(fmt::format("larger than the limit of {} bytes (max-size)", request_.max_bytes));
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, bytes_read.get(), size) != LDNS_STATUS_OK) fail("a malformed answer");
    Packet response(raw);
    verify(response.get(), bytes_read.get(), size, first);
    rcode = ldns_pkt_get_rcode(response.get());
    if (rcode != LDNS_RCODE_NOERROR) return {};
    ldns_rr_list* answer = ldns_pkt_answer(response.get());
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
      Record rr(ldns_rr_clone(ldns_rr_list_rr(answer, i)));
      if (records.empty() && !is_soa(rr.get())) fail("the answer does not start with an SOA");
      bool soa = is_soa(rr.get());
      if (records.size() == 1 && ixfr_from && soa && soa_serial(rr.get()) == *ixfr_from &&
          soa_serial(rr.get()) != soa_serial(records[0].get()))
        incremental = true;
      if (soa) ++soa_count;
      records.push_back(std::move(rr));
      std::uint32_t final_serial = soa_serial(records[0].get());
      if (records.size() > 1 && soa && soa_serial(records.back().get()) == final_serial) {
        // AXFR: the closing SOA. IXFR: the new serial at an even SOA position (every
        // difference sequence holds two SOAs), i.e. not the start of an addition.
        if (!incremental || soa_count % 2 == 0) return records;
      }
    }
    if (records.size() == 1 && ixfr_from && ldns_rr_list_rr_count(answer) == 1)
      return records;  // a lone SOA: nothing newer than what we hold
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

}  // namespace

std::string_view method_name(ZoneResponse::Method method) noexcept {
  switch (method) {
    case ZoneResponse::Method::kUnchanged: return "unchanged";
    case ZoneResponse::Method::kAxfr: return "AXFR";
    case ZoneResponse::Method::kIxfr: return "IXFR";
  }
  return "?";
}

std::optional<std::uint32_t> zone_text_serial(std::string_view text) {
  std::string first(text.substr(0, text.find('\n')));
  ldns_rr* raw = nullptr;
  if (first.empty() || ldns_rr_new_frm_str(&raw, first.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
    return std::nullopt;
  Record rr(raw);
  if (!is_soa(rr.get())) return std::nullopt;
  return soa_serial(rr.get());
}

ZoneResponse transfer_zone(const ZoneRequest& request, std::string_view held,
                           std::uint32_t held_serial) {
  Transfer transfer(request);
  ZoneResponse response;
  ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
  std::optional<std::uint32_t> from;
  if (!held.empty()) from = held_serial;
  std::vector<Record> records = transfer.run(from, rcode);
  if (from && rcode != LDNS_RCODE_NOERROR) {  // a primary without IXFR: ask for everything
    from.reset();
    records = transfer.run(std::nullopt, rcode);
  }
  if (rcode != LDNS_RCODE_NOERROR) {
    Text name(ldns_pkt_rcode2str(rcode));
    transfer.fail(fmt::format("the primary answered {}", name ? name.get() : "an error"));
  }
  response.serial = soa_serial(records[0].get());
  std::vector<std::string> lines;
  if (records.size() == 1) {
    response.method = ZoneResponse::Method::kUnchanged;
    return response;
  }
  bool incremental = from && is_soa(records[1].get()) && soa_serial(records[1].get()) == *from &&
                     response.serial != *from;
  if (!incremental) {
    response.method = ZoneResponse::Method::kAxfr;
    for (std::size_t i = 0; i + 1 < records.size(); ++i) lines.push_back(record_line(records[i].get()));
  } else {
    response.method = ZoneResponse::Method::kIxfr;
    // The held zone, each record under its identity; deletions remove, additions add.
    std::vector<std::string> held_lines;
    std::unordered_map<std::string, std::size_t> index;
    std::size_t start = 0;
    while (start < held.size()) {
      std::size_t end = held.find('\n', start);
      if (end == std::string_view::npos) end = held.size();
      std::string line(held.substr(start, end - start));
      start = end + 1;
      ldns_rr* raw = nullptr;
      if (line.empty() || ldns_rr_new_frm_str(&raw, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
        continue;
      Record rr(raw);
      if (is_soa(rr.get())) continue;
      index[record_identity(rr.get())] = held_lines.size();
      held_lines.push_back(line);
    }
    std::vector<bool> deleted(held_lines.size(), false);
    bool adding = true;  // the first SOA (records[1]) starts a deletion sequence
    for (std::size_t i = 1; i + 1 < records.size(); ++i) {
      const ldns_rr* rr = records[i].get();
      if (is_soa(rr)) {
        adding = !adding;
        continue;
      }
      std::string identity = record_identity(rr);
      auto it = index.find(identity);
      if (adding) {
        if (it == index.end() || deleted[it->second]) {
          index[identity] = held_lines.size();
          held_lines.push_back(record_line(rr));
          deleted.push_back(false);
        }
      } else if (it != index.end()) {
        deleted[it->second] = true;
      }
    }
    lines.push_back(record_line(records[0].get()));
    for (std::size_t i = 0; i < held_lines.size(); ++i)
      if (!deleted[i]) lines.push_back(held_lines[i]);
  }
  response.text = join_lines(lines);
  if (response.text.size() > request.max_bytes)
    transfer.fail(fmt::format("larger than the limit of {} bytes (max-size)", request.max_bytes));
  return response;
}

}  // namespace dnsverdict
