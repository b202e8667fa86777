// Starting a sub-query through module_env::attach_sub, whose signature differs between
// Unbound versions. Include after unbound/headers.h.
#ifndef DNSVERDICT_UNBOUND_SUBQUERY_H
#define DNSVERDICT_UNBOUND_SUBQUERY_H

#include <cstdint>
#include <type_traits>

namespace dnsverdict {

// Unbound 1.24.1 added the client info (views, tags: what respip and RPZ decide by) to
// attach_sub, between qinfo and qflags; before, a sub-query had none. The sub-query gets the
// super-query's, as dns64 passes it since then. Which signature this Unbound has is read from
// the member's type, so a tree with that change backported compiles too. Returns attach_sub's
// value: false when out of memory; *created is the new state, or null when one existed.
template <typename AttachSub>
bool call_attach_sub(AttachSub attach_sub, module_qstate* qstate, query_info* qinfo,
                     std::uint16_t flags, int prime, int valrec,
                     module_qstate** created) noexcept {
  // A template, so that only the branch this Unbound's signature takes is compiled.
  if constexpr (std::is_invocable_v<AttachSub, module_qstate*, query_info*, respip_client_info*,
                                    std::uint16_t, int, int, module_qstate**>) {
    return (*attach_sub)(qstate, qinfo, qstate->client_info, flags, prime, valrec, created) != 0;
  } else {
    return (*attach_sub)(qstate, qinfo, flags, prime, valrec, created) != 0;
  }
}

inline bool attach_subquery(module_qstate* qstate, query_info* qinfo, std::uint16_t flags,
                            int prime, int valrec, module_qstate** created) noexcept {
  return call_attach_sub(qstate->env->attach_sub, qstate, qinfo, flags, prime, valrec, created);
}

}  // namespace dnsverdict

#endif
