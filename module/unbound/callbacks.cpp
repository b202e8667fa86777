#include "unbound/glue.h"

#include <algorithm>
#include <string>

namespace dnsverdict::glue {

// Callbacks.

// A name server of the delegation that sent this response is listed (RPZ's NSDNAME and
// NSIP triggers): recorded for module_event_moddone (handle_done applies it), and the
// response is not cached when the rule blocks anyone. Checked on every upstream response of
// the query, so a listed delegation anywhere on its way (a CNAME's target too) counts.
void check_name_servers(const ModuleState& state, const VerdictStore& store,
                        module_qstate* qstate, int id) noexcept {
  if (!store.has_name_server_rules() || dnsverdict_is_subquery(qstate)) return;
  QueryState* query = query_state(qstate, id);
  if (query == nullptr) {  // a module after this one made the query (handle_done)
    query = static_cast<QueryState*>(regional_alloc_zero(qstate->region, sizeof(QueryState)));
    if (query == nullptr) return;
    qstate->minfo[id] = query;
  }
  if (query->ns_trigger == 0) {  // the first listed delegation counts
    LookupResult lookup = listed_name_server(store, qstate, *query);
    if (blocks_someone(state, store, lookup)) qstate->no_cache_store = 1;
  }
  if (qstate->no_cache_store) return;
  // A rule past its expiry applies again if the clock steps back: what it lists stays out
  // of the cache as well (keeps_out_of_cache()).
  QueryState scratch;
  if (blocks_someone(state, store, listed_name_server(store, qstate, scratch, kAnyTime))) {
    qstate->no_cache_store = 1;
  }
}

// Upstream response (or an auth zone's), before the iterator caches or uses anything from it:
// the hosts of its NS rrsets are noted (blocked_cache.cpp). A response holding a listed name
// (as an owner or a CNAME/DNAME target) or, in its answer, an address an address rule blocks,
// or that a listed name server sent, is not cached; nor is one a rule past its expiry would
// block (keeps_out_of_cache()).
int query_response_callback(module_qstate* qstate, dns_msg* response, int id,
                            void* argument) noexcept {
  try {
    auto* state = static_cast<ModuleState*>(argument);
    if (state == nullptr || response == nullptr || response->rep == nullptr) return 1;
    const VerdictStore* store = state->holder->current();
    if (store == nullptr) return 1;
    reply_info* rep = response->rep;
    if (state->caches_blocked_answers) {
      // The hosts of every delegation the iterator learns: a listed one's blocked answers
      // leave the message cache before the iterator looks for its addresses there.
      for (std::size_t i = 0; i < rep->rrset_count; ++i) {
        note_name_server_hosts(*state, *store, *rep->rrsets[i]);
      }
    }
    check_name_servers(*state, *store, qstate, id);
    if (qstate->no_cache_store) return 1;
    for (std::size_t i = 0; i < rep->rrset_count; ++i) {
      ub_packed_rrset_key* rrset = rep->rrsets[i];
      if (keeps_out_of_cache(*state, *store, rrset->rk.dname, rrset->rk.dname_len)) {
        qstate->no_cache_store = 1;
        return 1;
      }
      if (i < rep->an_numrrsets) {  // an address rule lists an address of the answer
        QueryState scratch;
        if (blocks_someone(*state, *store, listed_address(*store, *rrset, scratch)) ||
            blocks_someone(*state, *store, listed_address(*store, *rrset, scratch, kAnyTime))) {
          qstate->no_cache_store = 1;
          return 1;
        }
      }
      std::uint16_t type = ntohs(rrset->rk.type);
      if ((type == LDNS_RR_TYPE_CNAME || type == LDNS_RR_TYPE_DNAME) && rrset->entry.data) {
        auto* data = static_cast<packed_rrset_data*>(rrset->entry.data);
        for (std::size_t r = 0; r < data->count; ++r) {
          if (data->rr_len[r] > 2 &&
              keeps_out_of_cache(*state, *store, data->rr_data[r] + 2, data->rr_len[r] - 2)) {
            qstate->no_cache_store = 1;
            return 1;
          }
        }
      }
    }
  } catch (...) {
  }
  return 1;
}

namespace {

// The EDE (RFC 8914) of a blocked answer, for clients that sent EDNS.
void add_ede(const ModuleState& state, const Decision& decision, const LookupResult& lookup,
             const VerdictStore& store, edns_data* edns, edns_option** opt_list_out,
             regional* region) {
  if (decision.blocked() && edns != nullptr && edns->edns_present && state.ede_enabled &&
      state.config.ede != EdeChoice::kNone && opt_list_out != nullptr && region != nullptr) {
    std::string text = ede_text(decision, lookup, store);
    edns_opt_list_append_ede(opt_list_out, region,
                             static_cast<sldns_ede_code>(state.config.ede), text.c_str());
  }
}

// The cached answer is the blocked answer this decision gives (blocked_cache.cpp).
bool is_this_blocked_answer(const reply_info* rep, const Decision& decision) noexcept {
  if (rep == nullptr || !is_cached_blocked_answer(*rep)) return false;
  int rcode = FLAGS_GET_RCODE(rep->flags);
  return (decision.response == Response::kNxdomain && rcode == LDNS_RCODE_NXDOMAIN) ||
         (decision.response == Response::kNodata && rcode == LDNS_RCODE_NOERROR);
}

// The check of a cached answer whose name the thread's memo does not hold: the filter, and for
// a name it holds, the rule, the decision and the hit line. Apart from the callback, so that
// the memo's answer costs no more than its own frame.
__attribute__((noinline)) void check_cached_answer(ModuleState& state, const VerdictStore& store,
                                                   std::uint64_t generation, PassMemo* memo,
                                                   const query_info& qinfo, const reply_info* rep,
                                                   comm_reply* repinfo, edns_data* edns,
                                                   edns_option** opt_list_out,
                                                   regional* region) noexcept {
  try {
    // Most cached answers are for names no rule lists: the filter check alone tells, and
    // nothing else (the key, the result) is built for them.
    NameProbe probe;
    if (!store.probe_name(qinfo.qname, qinfo.qname_len, probe)) {
      if (memo != nullptr) memo->remember(rep, qinfo.qname, qinfo.qname_len, generation);
      count_lookup(state, LookupStatus::kMiss);
      return;
    }
    NameKey key;
    LookupResult lookup;
    store.lookup_probed(probe, qinfo.qname, qinfo.qname_len, key, kReadClock, lookup);
    count_lookup(state, lookup);
    if (!lookup.hit()) return;
    dnsverdict_client client;
    dnsverdict_reply_client(repinfo, &client);
    QueryContext context = client_context(state.config, qinfo.qtype, &client);
    Decision decision = decide(lookup, store, state.config, context);
    if (decision.blocked() && is_this_blocked_answer(rep, decision)) {
      // A blocked answer blocked_cache.cpp stored: its EDE and hit line, as reply_callback
      // gives the module's own answer.
      add_ede(state, decision, lookup, store, edns, opt_list_out, region);
      submit_hit(state, decision, lookup, store, qinfo, client, "");
      return;
    }
    if (decision.blocked()) {
      // The client got the real data. Expected only between a swap and the end of the cache
      // sweep it asks for; otherwise a name escaped this module and that is reported.
      state.cache_leaks.fetch_add(1, std::memory_order_relaxed);
      bool sweeping = state.sweep_done.load(std::memory_order_acquire) !=
                      state.sweep_requested.load(std::memory_order_acquire);
      if (!sweeping && !state.leak_reported.exchange(true)) {
        log_warn("dnsverdict: a cached answer for a blocked name was served (counted; "
                 "reported once)");
      }
      decision.applied = Action::kAllow;
      decision.note = sweeping ? "served-from-cache-before-sweep" : "served-from-cache";
    }
    submit_hit(state, decision, lookup, store, qinfo, client, "cache");
  } catch (...) {
  }
}

}  // namespace

// An answer from the message cache (qstate is null). It cannot be changed: the real answers
// of listed names are kept out of the cache; here cached log/tag answers get their hit lines,
// blocked answers stored by blocked_cache.cpp get theirs and their EDE as in reply_callback,
// and anything else listed that still shows up is counted and reported once. The thread's
// memo (pass_memo.h) holds the names of cached answers the filter rejected under the store in
// use, the answer's address picking the slot: a name asked again is checked once per store,
// not once per query.
int reply_cache_callback(query_info* qinfo, module_qstate*, reply_info* rep, int,
                         edns_data* edns, edns_option** opt_list_out, comm_reply* repinfo,
                         regional* region, timeval*, int, void* argument) noexcept {
  auto* state = static_cast<ModuleState*>(argument);
  if (state == nullptr || qinfo == nullptr || !policy_applies(qinfo->qclass)) return 1;
  std::uint64_t generation = 0;
  const VerdictStore* store = state->holder->current(generation);
  if (store == nullptr) return 1;
  PassMemo* memo = thread_pass_memo(*state);
  if (memo != nullptr && memo->remembers(rep, qinfo->qname, qinfo->qname_len, generation)) {
    count_lookup(*state, LookupStatus::kMiss);
    return 1;
  }
  check_cached_answer(*state, *store, generation, memo, *qinfo, rep, repinfo, edns, opt_list_out,
                      region);
  return 1;
}

// Once per client waiting for a query the modules answered. Gives each client its own
// verdict: rewrites the reply header in place (restored for the next client), adds the EDE
// and writes the hit line.
int reply_callback(query_info* qinfo, module_qstate* qstate, reply_info* rep, int rcode,
                   edns_data* edns, edns_option** opt_list_out, comm_reply* repinfo,
                   regional* region, timeval*, int id, void* argument) noexcept {
  try {
    auto* state = static_cast<ModuleState*>(argument);
    if (state == nullptr || qstate == nullptr) return 1;
    QueryState* query = query_state(qstate, id);
    if (query == nullptr || !query->verdict) return 1;
    std::uint64_t generation = 0;
    const VerdictStore* store = state->holder->current(generation);
    if (store == nullptr) return 1;

    NameKey key;
    LookupResult lookup = query->answered_lookup != nullptr && generation == query->generation
                              ? *query->answered_lookup
                              : lookup_trigger(*store, *query, key);
    dnsverdict_client client;
    dnsverdict_reply_client(repinfo, &client);
    QueryContext context = client_context(state->config, qinfo->qtype, &client);
    Decision decision = decide(lookup, *store, state->config, context);

    if (query->module_answered) {
      // The module's blocked answer is the only one there is; an exempt client, or one of a
      // group the rule does not block, that joined a blocked query gets it too
      // (docs/module.md), and its hit line says so.
      if (!decision.blocked()) {
        // The verdict of a group it blocks (the client's own group does not block it).
        QueryContext blocked = context;
        blocked.client_exempt = false;
        blocked.group = &state->config.default_group;
        decision = decide(lookup, *store, state->config, blocked);
        for (std::size_t i = 0; !decision.blocked() && i < state->config.groups.size(); ++i) {
          blocked.group = &state->config.groups[i];
          decision = decide(lookup, *store, state->config, blocked);
        }
        decision.note = context.client_exempt ? "exempt-client-joined-blocked-query"
                                              : "joined-blocked-query";
      }
    } else if (rcode == LDNS_RCODE_NOERROR && rep != nullptr) {
      // The real answer: blocked clients get it rewritten, the others get it restored.
      // Taken again for another reply: serve-expired can first send a stale copy of the
      // cached answer, and clients answered later get the fresh one.
      if (!query->saved_valid || query->saved_for != rep) {
        copy_header(query->saved, *rep);
        query->saved_valid = true;
        query->saved_for = rep;
      }
      if (decision.blocked()) {
        Decision effective = decision;
        if (effective.response == Response::kDrop) {
          effective.response = Response::kRefuse;  // one reply cannot be dropped alone
          effective.note = "drop-as-refused-for-joined-client";
        }
        std::size_t prefix = query->chain ? std::min<std::size_t>(query->chain_index,
                                                                  query->saved.an_numrrsets)
                                          : 0;
        reply_info* blocked =
            build_reply(region, *qinfo, effective, state->config.answer_ttl, query->owner,
                        query->owner_len, query->saved.rrsets, prefix);
        if (blocked != nullptr && keep_real_reply_for_supers(qstate, rep)) {
          copy_header(*rep, *blocked);
          // Unbound decided "secure" from the real answer before this callback: without
          // this, a validated answer's AD bit would mark the synthesized one as validated.
          dnsverdict_unmark_secure(qstate, repinfo);
        } else {
          effective.response = Response::kPass;  // out of memory: nothing better to send
        }
        decision = effective;
      } else {
        copy_header(*rep, query->saved);
      }
    } else if (decision.blocked()) {
      decision.applied = Action::kAllow;  // an error answer went out (SERVFAIL, ...)
      decision.note = "error-answer";
    }

    add_ede(*state, decision, lookup, *store, edns, opt_list_out, region);
    submit_hit(*state, decision, lookup, *store, *qinfo, client, "", trigger_of(*query));
  } catch (...) {
  }
  return 1;
}

}  // namespace dnsverdict::glue
