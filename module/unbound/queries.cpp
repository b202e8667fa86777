#include "unbound/glue.h"

#include "unbound/subquery.h"

#include <new>

namespace dnsverdict::glue {

// operate() helpers.

void finish_with_rcode(module_qstate* qstate, int id, int rcode) noexcept {
  qstate->return_rcode = rcode;
  qstate->return_msg = nullptr;
  qstate->ext_state[id] = module_finished;
}

void pass_on(module_qstate* qstate, int id) noexcept { qstate->ext_state[id] = module_wait_module; }

// Asks the next modules for the redirect target (same type and class) in a sub-query, so
// that clients get the walled garden's address after the CNAME, as a stub resolver that does
// not chase CNAMEs needs. False (answer the CNAME alone) for a CNAME or ANY query, a cycle,
// or no memory.
bool follow_redirect(module_qstate* qstate, int id, const Decision& decision) noexcept {
  if (qstate->qinfo.qtype == kTypeCname || qstate->qinfo.qtype == LDNS_RR_TYPE_ANY) return false;
  query_info ask{};
  ask.qname = static_cast<std::uint8_t*>(regional_alloc_init(
      qstate->region, decision.redirect_target.data(), decision.redirect_target.size()));
  if (ask.qname == nullptr) return false;
  ask.qname_len = decision.redirect_target.size();
  ask.qtype = qstate->qinfo.qtype;
  ask.qclass = qstate->qinfo.qclass;
  ask.local_alias = nullptr;
  if ((*qstate->env->detect_cycle)(qstate, &ask, BIT_RD, 0, 0)) return false;
  module_qstate* sub = nullptr;
  if (!attach_subquery(qstate, &ask, BIT_RD, 0, 0, &sub)) return false;
  qstate->ext_state[id] = module_wait_subquery;
  return true;
}

// The redirect target's answer arrived: append its answer records (and its rcode) to the
// CNAME this module answered with. Copies into the super-query's region.
void take_redirect_answer(module_qstate* sub, module_qstate* super) noexcept {
  dns_msg* msg = super->return_msg;
  if (msg == nullptr || msg->rep == nullptr || sub->return_msg == nullptr ||
      sub->return_msg->rep == nullptr)
    return;
  reply_info* target = sub->return_msg->rep;
  int rcode = FLAGS_GET_RCODE(target->flags);
  if (sub->return_rcode != LDNS_RCODE_NOERROR ||
      (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN))
    return;  // SERVFAIL and the like: the CNAME alone says more
  reply_info* rep = msg->rep;
  std::size_t count = rep->an_numrrsets + target->an_numrrsets;
  auto** rrsets = static_cast<ub_packed_rrset_key**>(
      regional_alloc_zero(super->region, count * sizeof(ub_packed_rrset_key*)));
  if (rrsets == nullptr) return;
  std::size_t used = 0;
  for (std::size_t i = 0; i < rep->an_numrrsets; ++i) rrsets[used++] = rep->rrsets[i];
  for (std::size_t i = 0; i < target->an_numrrsets; ++i) {
    ub_packed_rrset_key* copy = packed_rrset_copy_region(target->rrsets[i], super->region, 0);
    if (copy == nullptr) return;  // out of memory: keep the CNAME alone
    rrsets[used++] = copy;
  }
  rep->rrsets = rrsets;
  rep->an_numrrsets = used;
  rep->rrset_count = used;
  rep->flags = (rep->flags & ~0xfu) | static_cast<std::uint16_t>(rcode);
}

// A copy of `lookup` in `region`, its owner key included; null when out of memory.
LookupResult* keep_lookup(regional* region, const LookupResult& lookup) noexcept {
  auto* kept = static_cast<LookupResult*>(regional_alloc(region, sizeof(LookupResult)));
  if (kept == nullptr) return nullptr;
  new (kept) LookupResult(lookup);
  if (!lookup.owner_key.empty()) {
    auto* key = static_cast<char*>(
        regional_alloc_init(region, lookup.owner_key.data(), lookup.owner_key.size()));
    if (key == nullptr) return nullptr;
    kept->owner_key = std::string_view(key, lookup.owner_key.size());
  }
  return kept;
}

// A new query: decide for the first waiting client (or for no client: prefetch).
void handle_new(ModuleState& state, module_qstate* qstate, int id) noexcept {
  auto* query = static_cast<QueryState*>(regional_alloc_zero(qstate->region, sizeof(QueryState)));
  qstate->minfo[id] = query;
  std::uint64_t generation = 0;
  const VerdictStore* store = state.holder->current(generation);
  if (store == nullptr) {
    if (state.config.fail_mode == FailMode::kClosed) {
      finish_with_rcode(qstate, id, LDNS_RCODE_SERVFAIL);
    } else {
      pass_on(qstate, id);
    }
    return;
  }
  if (query == nullptr) {  // out of memory in the region: let it resolve
    pass_on(qstate, id);
    return;
  }
  query->generation = generation;
  if (!policy_applies(qstate->qinfo.qclass)) {
    pass_on(qstate, id);
    return;
  }
  NameKey key;
  LookupResult lookup = lookup_name(*store, qstate->qinfo.qname, qstate->qinfo.qname_len, key);
  count_lookup(state, lookup);
  if (!lookup.hit()) {
    pass_on(qstate, id);
    return;
  }
  query->verdict = true;
  query->owner = qstate->qinfo.qname;
  query->owner_len = qstate->qinfo.qname_len;

  if (dnsverdict_is_subquery(qstate)) {
    // The iterator or validator needs this name to resolve another one (a name server's
    // address, a DS): let it resolve and keep it out of the cache. The verdict stays set: a
    // client that joins this lookup while it runs gets its own decision in reply_callback.
    if (blocks_anyone(lookup.rule, *store, state.config)) {
      qstate->no_cache_store = 1;
      query->keep_uncached = true;
    }
    pass_on(qstate, id);
    return;
  }

  dnsverdict_client client;
  bool has_client = dnsverdict_first_client(qstate, &client) != 0;
  QueryContext context =
      client_context(state.config, qstate->qinfo.qtype, has_client ? &client : nullptr);
  Decision decision = decide(lookup, *store, state.config, context);
  if (decision.blocks_someone) {  // the real answer is per client
    qstate->no_cache_store = 1;
    query->keep_uncached = true;
  }

  if (!decision.blocked() || decision.response == Response::kTruncate) {
    // Resolve: log/tag/exempt answers are real; tcp-only truncates per UDP client.
    pass_on(qstate, id);
    return;
  }
  if (decision.response == Response::kDrop) {
    // No reply means no reply callback: the hit line is written here, for the first client.
    submit_hit(state, decision, lookup, *store, qstate->qinfo, client, "");
    qstate->is_drop = 1;
    query->module_answered = true;
    finish_with_rcode(qstate, id, LDNS_RCODE_NOERROR);
    return;
  }
  reply_info* rep = build_reply(qstate->region, qstate->qinfo, decision, state.config.answer_ttl,
                                query->owner, query->owner_len, nullptr, 0);
  auto* msg = static_cast<dns_msg*>(regional_alloc_zero(qstate->region, sizeof(dns_msg)));
  if (rep == nullptr || msg == nullptr) {
    finish_with_rcode(qstate, id, LDNS_RCODE_SERVFAIL);  // never leak a blocked name
    return;
  }
  msg->qinfo = qstate->qinfo;
  msg->rep = rep;
  qstate->return_msg = msg;
  qstate->return_rcode = LDNS_RCODE_NOERROR;
  query->module_answered = true;
  query->answered_lookup = keep_lookup(qstate->region, lookup);
  cache_blocked_answer(state, qstate, *store, lookup, decision, generation, rep);
  if (decision.response == Response::kRedirect && follow_redirect(qstate, id, decision)) {
    query->following_redirect = true;  // finished in operate() once inform_super ran
    return;
  }
  qstate->ext_state[id] = module_finished;
}

// The next modules are done: look for listed names in the answer's CNAME chain, and re-check
// the query name when a new store arrived while it resolved or this module never saw the
// query start (a module after it made the query: dns64's own A lookup starts at dns64).
void handle_done(ModuleState& state, module_qstate* qstate, int id) noexcept {
  qstate->ext_state[id] = module_finished;
  if (!policy_applies(qstate->qinfo.qclass)) return;
  QueryState* query = query_state(qstate, id);
  bool started_below = query == nullptr;
  if (started_below) {
    query = static_cast<QueryState*>(regional_alloc_zero(qstate->region, sizeof(QueryState)));
    if (query == nullptr) return;
    qstate->minfo[id] = query;
  }
  if (query->verdict) {
    if (query->keep_uncached) purge_cached(qstate, *query);
    return;
  }
  std::uint64_t generation = 0;
  const VerdictStore* store = state.holder->current(generation);
  if (store == nullptr) return;

  bool recheck = started_below || query->generation != generation;
  if (started_below && dnsverdict_is_subquery(qstate) &&
      (qstate->qinfo.qtype == kTypeA || qstate->qinfo.qtype == kTypeAaaa)) {
    // The iterator looked a name server's address up itself.
    note_name_server_host(state, *store, qstate->qinfo.qname, qstate->qinfo.qname_len);
  }
  bool found = false;
  if (recheck && blocks_someone(state, *store, qstate->qinfo.qname, qstate->qinfo.qname_len)) {
    found = true;
    query->owner = qstate->qinfo.qname;
    query->owner_len = qstate->qinfo.qname_len;
  } else if (qstate->return_msg != nullptr && qstate->return_msg->rep != nullptr) {
    reply_info* rep = qstate->return_msg->rep;
    for (std::size_t i = 0; i < rep->an_numrrsets && !found; ++i) {
      ub_packed_rrset_key* rrset = rep->rrsets[i];
      if (blocks_someone(state, *store, rrset->rk.dname, rrset->rk.dname_len)) {
        found = true;
        query->chain = true;
        query->chain_index = static_cast<std::uint16_t>(i);
        query->owner = rrset->rk.dname;
        query->owner_len = rrset->rk.dname_len;
      }
    }
  }
  if (!found && qstate->return_msg != nullptr && qstate->return_msg->rep != nullptr) {
    // The chain ends in a listed name without records of the type asked: it has none, or
    // the iterator took the name's blocked answer from the message cache (blocked_cache.cpp).
    // Its verdict applies after the whole chain, with the hit line of the CNAME-chain
    // trigger, as native RPZ (Unbound 1.22 and later) applies a rule on a CNAME's target.
    reply_info* rep = qstate->return_msg->rep;
    if (rep->an_numrrsets != 0) {
      ub_packed_rrset_key* last = rep->rrsets[rep->an_numrrsets - 1];
      auto* data = static_cast<packed_rrset_data*>(last->entry.data);
      if (ntohs(last->rk.type) == kTypeCname && data != nullptr && data->count == 1 &&
          data->rr_len[0] > 2 &&
          blocks_someone(state, *store, data->rr_data[0] + 2, data->rr_len[0] - 2)) {
        found = true;
        query->chain = true;
        query->chain_index = static_cast<std::uint16_t>(rep->an_numrrsets);
        query->owner = data->rr_data[0] + 2;
        query->owner_len = data->rr_len[0] - 2;
      }
    }
  }
  if (!found && qstate->return_msg != nullptr && qstate->return_msg->rep != nullptr) {
    // The address trigger: an address rule lists an A or AAAA record of the answer (any
    // rrset of the chain). As RPZ's IP trigger does, the answer keeps the CNAME chain up to
    // the name holding the address, and the rule's verdict replaces that name's records.
    reply_info* rep = qstate->return_msg->rep;
    for (std::size_t i = 0; i < rep->an_numrrsets; ++i) {
      LookupResult lookup = listed_address(*store, *rep->rrsets[i], *query);
      if (!lookup.hit()) continue;
      count_lookup(state, lookup);
      query->verdict = true;
      query->chain = i > 0;
      query->chain_index = static_cast<std::uint16_t>(i);
      query->owner = rep->rrsets[i]->rk.dname;
      query->owner_len = rep->rrsets[i]->rk.dname_len;
      // A log or tag rule leaves the answer as it is, cache included.
      if (blocks_someone(state, *store, lookup)) purge_cached(qstate, *query);
      return;
    }
  }
  if (!found && query->ns_trigger != 0 && !dnsverdict_is_subquery(qstate)) {
    // The name-server trigger, recorded from an upstream response: the rule's verdict
    // replaces the answer for the query name. Looked up again in the current store.
    query->ns_chosen = true;
    NameKey key;
    LookupResult lookup = lookup_trigger(*store, *query, key);
    if (lookup.hit()) {
      count_lookup(state, lookup);
      query->verdict = true;
      query->chain = false;
      query->owner = qstate->qinfo.qname;
      query->owner_len = qstate->qinfo.qname_len;
      if (blocks_someone(state, *store, lookup)) purge_cached(qstate, *query);
      return;
    }
    query->ns_chosen = false;
  }
  if (!found) return;
  query->verdict = true;
  purge_cached(qstate, *query);
}

}  // namespace dnsverdict::glue
