#include "unbound/glue.h"

#include <algorithm>
#include <type_traits>

namespace dnsverdict::glue {

// Blocked answers in Unbound's message cache: an NXDOMAIN or NODATA answer that every client
// gets alike is stored like an upstream answer, so that the next query for the name is a
// cache hit (answered by the worker, no query state) instead of a pass through the module
// chain. The reply_cache callback then writes its hit line, counts it and adds the EDE, as
// the reply callback does for an answer made in operate().
//
// Such an answer holds no records at all (no SOA: see docs/module.md, "Answers"), which is
// how the cache sweep knows it (is_cached_blocked_answer): every swap's sweep removes all
// of them, whatever the new store says, so that a removed or changed rule is never answered
// from the cache once the sweep has run; `init` does the same for a cache kept across
// `unbound-control reload_keep_cache`. Upstream answers without any record are removed with
// them and resolved again: harmless.

namespace {

// Unbound 1.26 added `is_valrec` to dns_cache_store (a validation lookup's answer): this
// answer is never one. Which signature this Unbound has is read from the function's type.
template <typename Store>
int call_dns_cache_store(Store store, module_env* env, query_info* qinfo, reply_info* rep,
                         std::uint32_t flags, time_t started) noexcept {
  if constexpr (std::is_invocable_v<Store, module_env*, query_info*, reply_info*, int, time_t,
                                    int, regional*, std::uint32_t, time_t, int>) {
    return (*store)(env, qinfo, rep, 0, 0, 0, nullptr, flags, started, 0);
  } else {
    return (*store)(env, qinfo, rep, 0, 0, 0, nullptr, flags, started);
  }
}

bool cacheable_response(Response response) noexcept {
  return response == Response::kNxdomain || response == Response::kNodata;
}

}  // namespace

bool is_cached_blocked_answer(const reply_info& rep) noexcept {
  int rcode = FLAGS_GET_RCODE(rep.flags);
  return rep.rrset_count == 0 && (rcode == LDNS_RCODE_NXDOMAIN || rcode == LDNS_RCODE_NOERROR) &&
         (rep.flags & BIT_TC) == 0;
}

// The answer does not depend on the client: nobody is exempt, and every group (the ungrouped
// clients included) gets the same NXDOMAIN or NODATA. Transport (tcp-only), monitor groups,
// categories, campaigns and per-group thresholds all show up as a different decision.
bool same_answer_for_every_client(const ModuleState& state, const VerdictStore& store,
                                  const LookupResult& lookup, std::uint16_t qtype,
                                  Response response) noexcept {
  const ModuleConfig& config = state.config;
  if (!config.exempt.empty() || !cacheable_response(response)) return false;
  QueryContext context;
  context.qtype = qtype;
  context.client_exempt = false;
  context.group = &config.default_group;
  for (std::size_t i = 0;; ++i) {
    for (bool udp : {true, false}) {
      context.udp = udp;
      if (decide(lookup, store, config, context).response != response) return false;
    }
    if (i == config.groups.size()) return true;
    context.group = &config.groups[i];
  }
}

void cache_blocked_answer(ModuleState& state, module_qstate* qstate, const VerdictStore& store,
                          const LookupResult& lookup, const Decision& decision,
                          std::uint64_t generation, reply_info* rep) noexcept {
  module_env* env = qstate->env;
  if (env == nullptr || env->cfg == nullptr || env->msg_cache == nullptr) return;
  if (qstate->qinfo.qclass != LDNS_RR_CLASS_IN) return;
  // serve-expired would answer it past its TTL, so past the rule's expiry.
  if (env->cfg->serve_expired) return;
  if (!same_answer_for_every_client(state, store, lookup, qstate->qinfo.qtype,
                                    decision.response)) {
    return;
  }
  std::int64_t ttl = state.config.answer_ttl;
  if (lookup.rule.expires != 0) {
    ttl = std::min<std::int64_t>(ttl, lookup.rule.expires - now_seconds());
  }
  if (ttl <= 0) return;
  // A store swapped in since this query's lookup: its sweep may have passed already.
  if (state.holder->generation() != generation) return;
  rep->ttl = static_cast<time_t>(ttl);
  rep->prefetch_ttl = rep->ttl;
  rep->serve_expired_ttl = rep->ttl;
  call_dns_cache_store(&dns_cache_store, env, &qstate->qinfo, rep, qstate->query_flags,
                       *env->now);
}

}  // namespace dnsverdict::glue
