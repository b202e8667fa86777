#include "unbound/glue.h"

#include <algorithm>
#include <string>
#include <vector>

namespace dnsverdict::glue {

// Cache sweep after a hot swap: names the new store blocks leave the message and rrset caches,
// and so do A and AAAA rrsets holding an address it blocks (with every message built on them)
// and every cached blocked answer (blocked_cache.cpp).
//
// It runs on Unbound's worker threads, from a timer on each worker's event loop, never on the
// store watcher thread: Unbound deletes and recreates its caches during `unbound-control
// reload` (a changed cache size) after stopping the workers but before it calls this
// module's deinit, so only a worker thread is sure the tables it walks exist. A worker runs
// a timer callback holding no cache lock, so the sweep cannot deadlock on the worker's own
// locks either. A step takes a few thousand entries (kSweepBins bins of one slab) and the
// worker serves its clients between steps; under the slab's locks a step only copies names,
// the store lookups come after.

// One cache entry copied out under its slab's lock.
struct SweepItem {
  std::uint32_t offset = 0;  // of the wire name in SweepSlab::names
  std::uint16_t size = 0;
  std::uint16_t type = 0;
  std::uint16_t rrclass = 0;
  std::uint32_t flags = 0;
  hashvalue_type hash = 0;
  std::uint32_t addresses_offset = 0;  // of an A/AAAA rrset's addresses in SweepSlab::addresses
  std::uint32_t address_count = 0;
  bool blocked_answer = false;  // a message with no records: maybe a cached blocked answer
};

// An NS rrset's target, copied out under its slab's lock.
struct SweepHost {
  std::uint32_t offset = 0;  // in SweepSlab::hosts
  std::uint16_t size = 0;
};

struct SweepSlab {
  bool with_addresses = false;  // copy A/AAAA rrsets' addresses too (the store has address rules)
  bool with_hosts = false;      // copy NS rrsets' targets too (blocked answers are cached)
  std::string names;
  std::string addresses;
  std::string hosts;
  std::vector<SweepItem> items;
  std::vector<SweepHost> host_items;

  void add(const std::uint8_t* name, std::size_t size, std::uint16_t type, std::uint16_t rrclass,
           std::uint32_t flags, hashvalue_type hash) {
    items.push_back({static_cast<std::uint32_t>(names.size()), static_cast<std::uint16_t>(size),
                     type, rrclass, flags, hash, 0, 0});
    names.append(reinterpret_cast<const char*>(name), size);
  }
  void add_addresses(const packed_rrset_data& data, std::size_t address_size) {
    SweepItem& item = items.back();
    item.addresses_offset = static_cast<std::uint32_t>(addresses.size());
    for (std::size_t r = 0; r < data.count; ++r) {
      const std::uint8_t* address = rdata_address(data.rr_data[r], data.rr_len[r], address_size);
      if (address == nullptr) continue;
      addresses.append(reinterpret_cast<const char*>(address), address_size);
      ++item.address_count;
    }
  }
  void add_hosts(const packed_rrset_data& data) {
    for (std::size_t r = 0; r < data.count; ++r) {
      if (data.rr_len[r] <= 2) continue;
      std::size_t size = wire_name_length(data.rr_data[r] + 2, data.rr_len[r] - 2);
      if (size == 0) continue;
      host_items.push_back({static_cast<std::uint32_t>(hosts.size()),
                            static_cast<std::uint16_t>(size)});
      hosts.append(reinterpret_cast<const char*>(data.rr_data[r] + 2), size);
    }
  }
  const std::uint8_t* host(const SweepHost& item) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(hosts.data()) + item.offset;
  }
  const std::uint8_t* name(const SweepItem& item) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(names.data()) + item.offset;
  }
  const std::uint8_t* address(const SweepItem& item, std::size_t index) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(addresses.data()) + item.addresses_offset +
           index * (item.type == kTypeA ? 4 : 16);
  }
};

void collect_message(lruhash_entry* entry, void* argument) {
  auto* key = static_cast<msgreply_entry*>(entry->key);
  try {
    auto* slab = static_cast<SweepSlab*>(argument);
    slab->add(key->key.qname, key->key.qname_len, key->key.qtype, key->key.qclass, 0,
              entry->hash);
    const auto* rep = static_cast<const reply_info*>(entry->data);
    slab->items.back().blocked_answer = rep != nullptr && is_cached_blocked_answer(*rep);
  } catch (...) {  // out of memory: this entry is not checked (the sweep reports it)
  }
}

void collect_rrset(lruhash_entry* entry, void* argument) {
  auto* key = static_cast<ub_packed_rrset_key*>(entry->key);
  auto* slab = static_cast<SweepSlab*>(argument);
  try {
    std::uint16_t type = ntohs(key->rk.type);
    slab->add(key->rk.dname, key->rk.dname_len, type, ntohs(key->rk.rrset_class), key->rk.flags,
              entry->hash);
    if (slab->with_addresses && (type == kTypeA || type == kTypeAaaa) && entry->data != nullptr) {
      slab->add_addresses(*static_cast<packed_rrset_data*>(entry->data), type == kTypeA ? 4 : 16);
    }
    if (slab->with_hosts && type == LDNS_RR_TYPE_NS && entry->data != nullptr) {
      slab->add_hosts(*static_cast<packed_rrset_data*>(entry->data));
    }
  } catch (...) {
  }
}

// An address of the rrset is blocked by an address rule of the store.
bool blocks_address(const ModuleState& state, const VerdictStore& store, const SweepSlab& slab,
                    const SweepItem& item) noexcept {
  std::size_t size = item.type == kTypeA ? 4 : 16;
  for (std::size_t i = 0; i < item.address_count; ++i) {
    NameKey key;
    if (blocks_someone(state, store, lookup_address(store, slab.address(item, i), size, key))) return true;
  }
  return false;
}

// Like Unbound's lruhash_traverse (same locks, same order), for the bins [from, to) only:
// the table lock, which every lookup in this slab needs, is held for one step's bins.
// Returns the table's bin count seen under that lock.
std::size_t traverse_bins(lruhash* table, std::size_t from, std::size_t to,
                          void (*visit)(lruhash_entry*, void*), void* argument) {
  lock_quick_lock(&table->lock);
  std::size_t bins = table->size;
  for (std::size_t i = from; i < to && i < table->size; ++i) {
    lock_quick_lock(&table->array[i].lock);
    for (lruhash_entry* entry = table->array[i].overflow_list; entry != nullptr;
         entry = entry->overflow_next) {
      lock_rw_rdlock(&entry->lock);
      visit(entry, argument);
      lock_rw_unlock(&entry->lock);
    }
    lock_quick_unlock(&table->array[i].lock);
  }
  lock_quick_unlock(&table->lock);
  return bins;
}

// One step: the next kSweepBins bins of the current slab (message cache slabs first, then
// the rrset cache's). False when every slab is done.
bool sweep_slab(ModuleState& state, SweepJob& job) noexcept {
  module_env* env = state.env;
  if (env == nullptr || env->msg_cache == nullptr || env->rrset_cache == nullptr) return false;
  slabhash* messages = env->msg_cache;
  slabhash* rrsets = &env->rrset_cache->table;
  bool is_message = job.slab < messages->size;
  std::size_t index = is_message ? job.slab : job.slab - messages->size;
  if (!is_message && index >= rrsets->size) return false;
  lruhash* table = is_message ? messages->array[index] : rrsets->array[index];
  try {
    SweepSlab slab;
    slab.with_addresses = !is_message && job.store->has_address_rules();
    slab.with_hosts = !is_message && state.caches_blocked_answers;
    std::size_t bins = traverse_bins(table, job.bin, job.bin + kSweepBins,
                                     is_message ? &collect_message : &collect_rrset, &slab);
    // Grown since the last step: its entries were rehashed, walk it again from the start.
    job.bin = job.slab_bins != 0 && bins != job.slab_bins ? 0 : job.bin + kSweepBins;
    job.slab_bins = bins;
    if (job.bin >= job.slab_bins) {  // this slab is done
      ++job.slab;
      job.bin = 0;
      job.slab_bins = 0;
    }
    job.checked += slab.items.size();
    // Delegations cached before this store: their listed hosts join the set (and their
    // blocked answers leave) before any blocked answer is stored again.
    for (const SweepHost& host : slab.host_items) {
      note_name_server_host(state, *job.store, slab.host(host), host.size);
    }
    for (const SweepItem& item : slab.items) {
      // Blocked answers (blocked_cache.cpp) leave at every swap, whatever the new store says:
      // their rule may be gone or answer otherwise now.
      bool flushed = (is_message && item.blocked_answer) ||
                     (job.flush_messages &&
                      (is_message || item.type == kTypeCname || item.type == LDNS_RR_TYPE_DNAME));
      // A message leaves with its rrsets: a cached message whose rrset was removed is no
      // longer answered from the cache (Unbound checks each rrset's id).
      if (!flushed && !blocks_someone(state, *job.store, slab.name(item), item.size) &&
          (item.address_count == 0 || !blocks_address(state, *job.store, slab, item))) {
        continue;
      }
      if (is_message) {
        query_info key{};
        key.qname = const_cast<std::uint8_t*>(slab.name(item));
        key.qname_len = item.size;
        key.qtype = item.type;
        key.qclass = item.rrclass;
        slabhash_remove(messages, item.hash, &key);
        ++job.messages;
      } else {
        rrset_cache_remove(env->rrset_cache, const_cast<std::uint8_t*>(slab.name(item)),
                           item.size, item.type, item.rrclass, item.flags);
        ++job.rrsets;
      }
    }
  } catch (...) {
    job.incomplete = true;  // out of memory: part of this slab went unchecked
    ++job.slab;
    job.bin = 0;
    job.slab_bins = 0;
  }
  return true;
}

void finish_sweep(ModuleState& state, SweepJob& job) noexcept {
  double millis = static_cast<double>(steady_nanos() - job.started_nanos) / 1e6;
  if (!job.follow_up || job.messages != 0 || job.rrsets != 0 || job.incomplete) {
    log_info("dnsverdict: %scache sweep for store build %s: %llu entries checked, %llu messages "
             "and %llu rrsets %s removed in %.1f ms (%zu steps, longest %.1f ms)%s",
             job.follow_up ? "follow-up " : "", job.store->info().build_id.c_str(),
             static_cast<unsigned long long>(job.checked),
             static_cast<unsigned long long>(job.messages),
             static_cast<unsigned long long>(job.rrsets),
             job.flush_messages ? "(every message and CNAME/DNAME: the name-server rules changed)"
                                : "of listed names or addresses",
             millis, job.steps,
             static_cast<double>(job.longest_step_nanos) / 1e6,
             job.incomplete ? " (INCOMPLETE: out of memory)" : "");
  }
  if (!job.follow_up) {
    // Queries in flight at the swap may still cache a step of their resolution (checked
    // against the old store): look once more when they have had time to finish.
    state.follow_up_due.store(steady_nanos() + kFollowUpDelayNanos, std::memory_order_relaxed);
  }
  state.sweep_done.store(job.target, std::memory_order_release);
  state.sweep_running.store(false);
  job = SweepJob{};
}

// One step of the sweep, if one is due; true when more steps follow at once. Any worker may
// run it; the others skip while one does.
bool sweep_step(ModuleState& state) noexcept {
  std::unique_lock<std::mutex> lock(state.sweep_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  SweepJob& job = state.sweep_job;
  if (!job.store) {
    std::uint64_t requested = state.sweep_requested.load(std::memory_order_acquire);
    std::int64_t due = state.follow_up_due.load(std::memory_order_relaxed);
    bool primary = requested != state.sweep_done.load(std::memory_order_relaxed);
    if (!primary && (due == 0 || steady_nanos() < due)) return false;
    state.sweep_running.store(true);  // before follow_up_due clears: see no_sweep_pending()
    state.follow_up_due.store(0);
    job.store = state.holder->current_shared();
    if (!job.store) {  // no store: nothing is listed
      state.sweep_done.store(requested, std::memory_order_release);
      state.sweep_running.store(false);
      return false;
    }
    // unbound.conf's stub and forward hosts, against this store.
    for (const std::string& host : state.stub_forward_hosts) {
      note_name_server_host(state, *job.store, reinterpret_cast<const std::uint8_t*>(host.data()),
                            host.size());
    }
    job.target = primary ? requested : state.sweep_done.load(std::memory_order_relaxed);
    job.follow_up = !primary;
    job.started_nanos = steady_nanos();
    // New or changed name-server rules judge answers by the delegation that sent them, which
    // a cached message does not record: the messages go (removed rules need nothing).
    // The follow-up sweep flushes again: queries in flight at the swap were judged without
    // the new rules and may have cached their answers since.
    const std::string& digest = job.store->name_server_digest();
    job.flush_messages = primary ? !digest.empty() && digest != state.swept_name_server_digest
                                 : state.flush_again;
    state.swept_name_server_digest = digest;
    state.flush_again = primary && job.flush_messages;
  }
  std::int64_t step_started = steady_nanos();
  bool more = sweep_slab(state, job);
  if (more) ++job.steps;
  job.longest_step_nanos = std::max(job.longest_step_nanos, steady_nanos() - step_started);
  if (more) return true;
  finish_sweep(state, job);
  return false;
}

void sweep_now(ModuleState& state) noexcept {
  while (sweep_step(state)) {
  }
}

// A worker's timer. Unbound built on libevent runs a module's ub_event callbacks as they are;
// its own mini-event loop checks every callback against a list of Unbound's functions and
// would stop the resolver, so with it the sweep runs from operate() instead (on cache misses).
struct Ticker {
  ModuleState* state = nullptr;
  ub_event_base* base = nullptr;
  ub_event* event = nullptr;
};

#ifndef USE_MINI_EVENT
void tick(int, short, void* argument) noexcept {
  auto* ticker = static_cast<Ticker*>(argument);
  // The worker moves on to the newest store even while no query reaches it: a replaced
  // store is unmapped (and its deleted file's space freed) once every worker has.
  ticker->state->holder->current();
  bool more = sweep_step(*ticker->state);
  timeval next{0, more ? 0 : kTickMicros};
  if (ub_timer_add(ticker->event, ticker->base, &tick, ticker, &next) != 0) {
    log_err("dnsverdict: cannot re-arm the cache sweep timer of a worker");
  }
}

// Once per worker thread and module instance, from operate(): every worker that has filled
// a cache entry has a timer. Unbound deletes a worker's event base, which takes the pending
// timer off it, before it calls deinit; the ModuleState destructor frees the timers.
void ensure_ticker(ModuleState& state, module_env* env) noexcept {
  thread_local std::uint64_t ticking_for = 0;
  if (ticking_for == state.instance) return;
  ticking_for = state.instance;
  if (env->worker_base == nullptr) return;
  try {
    auto ticker = std::make_unique<Ticker>();
    ticker->state = &state;
    ticker->base = comm_base_internal(env->worker_base);
    ticker->event = ub_event_new(ticker->base, -1, UB_EV_TIMEOUT, &tick, ticker.get());
    timeval first{0, kTickMicros};
    if (ticker->event == nullptr ||
        ub_timer_add(ticker->event, ticker->base, &tick, ticker.get(), &first) != 0) {
      ub_event_free(ticker->event);
      log_err("dnsverdict: cannot start the cache sweep timer of a worker");
      return;
    }
    std::lock_guard<std::mutex> lock(state.tickers_mutex);
    state.tickers.push_back(std::move(ticker));
  } catch (...) {
    log_err("dnsverdict: cannot start the cache sweep timer of a worker (out of memory)");
  }
}
#else
void ensure_ticker(ModuleState& state, module_env*) noexcept { sweep_step(state); }
#endif

ModuleState::ModuleState() = default;

ModuleState::~ModuleState() {
  for (std::unique_ptr<Ticker>& ticker : tickers) ub_event_free(ticker->event);
}

// Removes a name's rrset of one type from the rrset cache under every flag value it can be
// cached with: the flags are part of the cache key. Unbound 1.22 added unverified glue
// (an address learned from a referral), 1.26 answers with a TTL of 0.
void remove_rrsets(module_env* env, std::uint8_t* name, std::size_t size, std::uint16_t type,
                   std::uint16_t rrclass) noexcept {
  static constexpr std::uint32_t kFlags[] = {
      0,
#ifdef PACKED_RRSET_UNVERIFIED_GLUE
      PACKED_RRSET_UNVERIFIED_GLUE,
#endif
#ifdef PACKED_RRSET_UPSTREAM_0TTL
      PACKED_RRSET_UPSTREAM_0TTL,
#endif
  };
  for (std::uint32_t flags : kFlags) {
    rrset_cache_remove(env->rrset_cache, name, size, type, rrclass, flags);
  }
}

// Takes what the modules after this one may have cached for a query of a listed name out of
// the message and rrset caches: the answer itself, and what the iterator cached on the way
// for the listed name (its own records, and its CNAME when it sits inside a chain). Modules
// may store whatever no_cache_store says (dns64 stores what passes through it): only this,
// after they are done, keeps the answer out.
void purge_cached(module_qstate* qstate, const QueryState& query) noexcept {
  qstate->no_cache_store = 1;
  const query_info& qinfo = qstate->qinfo;
  msg_cache_remove(qstate->env, qinfo.qname, qinfo.qname_len, qinfo.qtype, qinfo.qclass,
                   qstate->query_flags);
  remove_rrsets(qstate->env, query.owner, query.owner_len, qinfo.qtype, qinfo.qclass);
  if (query.chain) {
    msg_cache_remove(qstate->env, query.owner, query.owner_len, qinfo.qtype, qinfo.qclass,
                     qstate->query_flags);
    remove_rrsets(qstate->env, query.owner, query.owner_len, kTypeCname, qinfo.qclass);
  }
  if (query.address_size != 0 && query.address_owner != nullptr) {
    // The listed address's own records, and the answer cached for the name that holds them
    // (the end of a CNAME chain is cached under its own name too).
    remove_rrsets(qstate->env, query.address_owner, query.address_owner_len, query.address_type,
                  qinfo.qclass);
    msg_cache_remove(qstate->env, query.address_owner, query.address_owner_len,
                     query.address_type, qinfo.qclass, qstate->query_flags);
  }
}

}  // namespace dnsverdict::glue
