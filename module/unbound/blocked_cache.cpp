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
// them and resolved again: harmless. None is stored while a sweep (or its follow-up) is
// due or running, and one stored as a swap came is removed again at once.
//
// The iterator reads the message cache too, for its own lookups, which no module sees
// before: a name server's address (an A or AAAA answer without records marks the host as
// having none, and a zone it alone serves stops resolving), DS, DNSKEY and NS. Types the
// iterator and validator look up for themselves are never stored. An A or AAAA answer is not
// stored for a name in ModuleState::name_server_hosts, the listed names seen as a name
// server's host: the targets of every NS rrset in an upstream response (query_response
// callback) and in the rrset cache (every sweep), the stub-host and forward-host names of
// unbound.conf (every sweep), and the names the iterator looked up itself (operate() at
// module_event_moddone). A name joining the set has its stored answers removed; a full set
// stops the storing (and the next sweep removes what is stored).

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

// Types the iterator or validator also looks up for themselves (delegations, DNSSEC), and
// ANY: never stored.
bool cacheable_type(std::uint16_t type) noexcept {
  switch (type) {
    case LDNS_RR_TYPE_NS:
    case LDNS_RR_TYPE_SOA:
    case LDNS_RR_TYPE_DS:
    case LDNS_RR_TYPE_RRSIG:
    case LDNS_RR_TYPE_NSEC:
    case LDNS_RR_TYPE_DNSKEY:
    case LDNS_RR_TYPE_NSEC3:
    case LDNS_RR_TYPE_ANY:
      return false;
    default:
      return true;
  }
}

bool is_address_type(std::uint16_t type) noexcept { return type == kTypeA || type == kTypeAaaa; }

// No sweep is due or running: one that is would not see an answer stored now.
bool no_sweep_pending(const ModuleState& state) noexcept {
  // This order: a job clears follow_up_due after it sets sweep_running.
  return state.sweep_done.load() == state.sweep_requested.load() &&
         state.follow_up_due.load() == 0 && !state.sweep_running.load();
}

// May the iterator take a stored answer of `type` for `name` as a name server's address?
bool may_serve_iterator(const ModuleState& state, const std::uint8_t* name, std::size_t size,
                        std::uint16_t type) noexcept {
  if (!is_address_type(type)) return false;
  return state.name_server_hosts.full() ||
         state.name_server_hosts.holds(HostSet::hash_name(name, size));
}

// The blocked answers a name can have in the message cache as a host: A, and AAAA under both
// hash values (Unbound hashes an AAAA question with the CD bit apart, for dns64).
void remove_address_answers(module_env* env, const std::uint8_t* name, std::size_t size) noexcept {
  if (env == nullptr || env->msg_cache == nullptr) return;
  auto* wire = const_cast<std::uint8_t*>(name);
  msg_cache_remove(env, wire, size, kTypeA, LDNS_RR_CLASS_IN, 0);
  msg_cache_remove(env, wire, size, kTypeAaaa, LDNS_RR_CLASS_IN, 0);
  msg_cache_remove(env, wire, size, kTypeAaaa, LDNS_RR_CLASS_IN, BIT_CD);
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
  if (!state.caches_blocked_answers || env == nullptr || env->msg_cache == nullptr) return;
  const query_info& qinfo = qstate->qinfo;
  if (qinfo.qclass != LDNS_RR_CLASS_IN || !cacheable_type(qinfo.qtype)) return;
  if (!no_sweep_pending(state) ||
      may_serve_iterator(state, qinfo.qname, qinfo.qname_len, qinfo.qtype)) {
    return;
  }
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
  // Stored, then checked again: a host noted, a swap or a sweep started meanwhile did not
  // see this answer (note_name_server_host adds before it removes).
  if (!no_sweep_pending(state) || state.holder->generation() != generation ||
      may_serve_iterator(state, qinfo.qname, qinfo.qname_len, qinfo.qtype)) {
    msg_cache_remove(env, qinfo.qname, qinfo.qname_len, qinfo.qtype, qinfo.qclass,
                     qstate->query_flags);
  }
}

void start_blocked_answer_cache(ModuleState& state) noexcept {
  const config_file* cfg = state.env != nullptr ? state.env->cfg : nullptr;
  // Not with exempt clients (their answer is the real one), nor with serve-expired, which
  // would answer it past its TTL, so past the rule's expiry.
  state.caches_blocked_answers = cfg != nullptr && !cfg->serve_expired &&
                                 state.config.exempt.empty();
  if (!state.caches_blocked_answers) return;
  try {
    for (const config_stub* list : {cfg->stubs, cfg->forwards}) {
      for (const config_stub* zone = list; zone != nullptr; zone = zone->next) {
        for (const config_strlist* host = zone->hosts; host != nullptr; host = host->next) {
          // `name`, `name@port` or `name#tls-auth-name`.
          std::string_view text(host->str != nullptr ? host->str : "");
          text = text.substr(0, std::min(text.find('@'), text.find('#')));
          std::string wire;
          std::string error;
          if (parse_name(text, wire, error)) state.stub_forward_hosts.push_back(std::move(wire));
        }
      }
    }
  } catch (...) {  // out of memory: store nothing rather than guess
    state.caches_blocked_answers = false;
    return;
  }
  if (const VerdictStore* store = state.holder->current()) {
    for (const std::string& host : state.stub_forward_hosts) {
      note_name_server_host(state, *store, reinterpret_cast<const std::uint8_t*>(host.data()),
                            host.size());
    }
  }
}

void note_name_server_host(ModuleState& state, const VerdictStore& store,
                           const std::uint8_t* name, std::size_t size) noexcept {
  if (!state.caches_blocked_answers || !keeps_out_of_cache(state, store, name, size)) return;
  std::uint64_t hash = HostSet::hash_name(name, size);
  if (state.name_server_hosts.holds(hash)) return;  // its answers left when it was added
  state.name_server_hosts.add(hash);  // added, or the set is full: nothing more is stored
  remove_address_answers(state.env, name, size);
}

void note_name_server_hosts(ModuleState& state, const VerdictStore& store,
                            const ub_packed_rrset_key& rrset) noexcept {
  if (!state.caches_blocked_answers || ntohs(rrset.rk.type) != LDNS_RR_TYPE_NS) return;
  const auto* data = static_cast<const packed_rrset_data*>(rrset.entry.data);
  if (data == nullptr) return;
  for (std::size_t r = 0; r < data->count; ++r) {
    if (data->rr_len[r] <= 2) continue;
    const std::uint8_t* target = data->rr_data[r] + 2;
    std::size_t size = wire_name_length(target, data->rr_len[r] - 2);
    if (size != 0) note_name_server_host(state, store, target, size);
  }
}

}  // namespace dnsverdict::glue
