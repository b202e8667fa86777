#include "unbound/glue.h"

#include <arpa/inet.h>

#include <cstddef>
#include <cstring>

namespace dnsverdict::glue {

// Building answers in a query's region.

ub_packed_rrset_key* make_rrset(regional* region, const std::uint8_t* owner, std::size_t owner_len,
                                std::uint16_t type, std::uint16_t rrclass, std::uint32_t ttl,
                                const std::uint8_t* const* rdatas, const std::size_t* sizes,
                                std::size_t count) noexcept {
  auto* key = static_cast<ub_packed_rrset_key*>(regional_alloc_zero(region, sizeof(ub_packed_rrset_key)));
  if (key == nullptr) return nullptr;
  key->entry.key = key;
  key->rk.dname = static_cast<std::uint8_t*>(regional_alloc_init(region, owner, owner_len));
  if (key->rk.dname == nullptr) return nullptr;
  key->rk.dname_len = owner_len;
  key->rk.type = htons(type);
  key->rk.rrset_class = htons(rrclass);
  std::size_t data_size = 0;
  for (std::size_t i = 0; i < count; ++i) data_size += 2 + sizes[i];
  std::size_t header = sizeof(packed_rrset_data) +
                       count * (sizeof(std::size_t) + sizeof(std::uint8_t*) + sizeof(time_t));
  auto* data = static_cast<packed_rrset_data*>(regional_alloc_zero(region, header + data_size));
  if (data == nullptr) return nullptr;
  data->ttl = ttl;
  data->count = count;
  data->trust = rrset_trust_prim_noglue;
  data->security = sec_status_insecure;
  data->rr_len = reinterpret_cast<std::size_t*>(data + 1);
  data->rr_data = reinterpret_cast<std::uint8_t**>(data->rr_len + count);
  data->rr_ttl = reinterpret_cast<time_t*>(data->rr_data + count);
  auto* next = reinterpret_cast<std::uint8_t*>(data->rr_ttl + count);
  for (std::size_t i = 0; i < count; ++i) {
    data->rr_len[i] = 2 + sizes[i];
    data->rr_ttl[i] = ttl;
    data->rr_data[i] = next;
    next[0] = static_cast<std::uint8_t>(sizes[i] >> 8);
    next[1] = static_cast<std::uint8_t>(sizes[i] & 0xff);
    std::memcpy(next + 2, rdatas[i], sizes[i]);
    next += 2 + sizes[i];
  }
  key->entry.data = data;
  return key;
}

// The blocked answer to `qinfo` for `decision`: `prefix` answer rrsets first (the CNAME chain
// leading to the listed name), then what the decision synthesizes for `owner`. Null when the
// region is out of memory.
reply_info* build_reply(regional* region, const query_info& qinfo, const Decision& decision,
                        std::uint32_t ttl, const std::uint8_t* owner, std::size_t owner_len,
                        ub_packed_rrset_key* const* prefix, std::size_t prefix_count) noexcept {
  std::size_t capacity = prefix_count + 1;
  auto* rep = static_cast<reply_info*>(regional_alloc_zero(region, sizeof(reply_info)));
  auto** rrsets = static_cast<ub_packed_rrset_key**>(
      regional_alloc_zero(region, capacity * sizeof(ub_packed_rrset_key*)));
  if (rep == nullptr || rrsets == nullptr) return nullptr;
  rep->flags = BIT_QR | BIT_RA;
  rep->qdcount = 1;
  rep->ttl = ttl;
  rep->prefetch_ttl = ttl;
  rep->serve_expired_ttl = ttl;
  rep->security = sec_status_insecure;  // never "unchecked": the validator would SERVFAIL it
  rep->reason_bogus = LDNS_EDE_NONE;
  rep->rrsets = rrsets;
  std::size_t count = 0;
  // A REFUSED answer says nothing about the name: no chain.
  if (decision.response != Response::kRefuse) {
    for (std::size_t i = 0; i < prefix_count; ++i) rrsets[count++] = prefix[i];
  }
  switch (decision.response) {
    case Response::kNxdomain: rep->flags |= LDNS_RCODE_NXDOMAIN; break;
    case Response::kRefuse: rep->flags |= LDNS_RCODE_REFUSED; break;
    case Response::kTruncate: rep->flags |= BIT_TC; break;
    case Response::kSinkhole: {
      int family = qinfo.qtype == kTypeA ? AF_INET : AF_INET6;
      const std::uint8_t* rdatas[16];
      std::size_t sizes[16];
      std::size_t n = 0;
      for_each_address(decision.sinkhole, family, [&](const std::uint8_t* octets) {
        if (n < 16) {
          rdatas[n] = octets;
          sizes[n] = family == AF_INET ? 4 : 16;
          ++n;
        }
      });
      ub_packed_rrset_key* rrset =
          make_rrset(region, owner, owner_len, qinfo.qtype, LDNS_RR_CLASS_IN, ttl, rdatas, sizes, n);
      if (rrset == nullptr) return nullptr;
      rrsets[count++] = rrset;
      break;
    }
    case Response::kRedirect: {
      const auto* target = reinterpret_cast<const std::uint8_t*>(decision.redirect_target.data());
      std::size_t size = decision.redirect_target.size();
      ub_packed_rrset_key* rrset =
          make_rrset(region, owner, owner_len, kTypeCname, LDNS_RR_CLASS_IN, ttl, &target, &size, 1);
      if (rrset == nullptr) return nullptr;
      rrsets[count++] = rrset;
      break;
    }
    case Response::kNodata:
    case Response::kDrop:  // only for a joined client (see reply_callback): REFUSED-free NODATA
    case Response::kPass: break;
  }
  rep->an_numrrsets = count;
  rep->rrset_count = count;
  return rep;
}

// Copies the parts of a reply header that encoding reads (not the trailing rrset refs).
void copy_header(reply_info& to, const reply_info& from) noexcept {
  to.flags = from.flags;
  to.authoritative = from.authoritative;
  to.qdcount = from.qdcount;
  to.ttl = from.ttl;
  to.prefetch_ttl = from.prefetch_ttl;
  to.serve_expired_ttl = from.serve_expired_ttl;
  to.security = from.security;
  to.reason_bogus = from.reason_bogus;
  to.an_numrrsets = from.an_numrrsets;
  to.ns_numrrsets = from.ns_numrrsets;
  to.ar_numrrsets = from.ar_numrrsets;
  to.rrset_count = from.rrset_count;
  to.rrsets = from.rrsets;
}

// Unbound hands each waiting client's reply callback the reply the query state returns, and
// after the replies informs the queries that wait on this one (the iterator's lookups of a
// name server's address, the validator's DS and DNSKEY fetches) from qstate->return_msg.
// A blocked client's answer is written over the reply in place, so before the first rewrite
// the query state gets a copy of the real reply: those lookups always see the real answer.
// False when the copy cannot be made (out of memory): then nothing may be rewritten.
bool keep_real_reply_for_supers(module_qstate* qstate, reply_info* rep) noexcept {
  if (qstate->return_msg == nullptr || qstate->return_msg->rep != rep) return true;
  // Up to the trailing rrset refs: a region reply is allocated without them when it holds
  // no rrsets, and the copy's rrsets pointer keeps pointing at the original's array (a
  // rewrite replaces rep->rrsets, it never writes into that array).
  auto* real = static_cast<reply_info*>(
      regional_alloc_init(qstate->region, rep, offsetof(reply_info, ref)));
  if (real == nullptr) return false;
  qstate->return_msg->rep = real;
  return true;
}

}  // namespace dnsverdict::glue
