// The one door between Unbound and dnsverdict: the six dynlib entry points and the inplace
// callbacks. Translates Unbound structures into plain values, asks policy.h what to do, and
// writes the decision back into Unbound structures. No exception leaves this file: every
// exported function and callback is noexcept and catches at its boundary.
//
// The paths a query takes and how each gets its verdict (docs/module.md has the long form):
//  - recursion: operate(module_event_new) answers a blocked name itself; the answer is never
//    cached. Passed queries are checked again at module_event_moddone for listed names in
//    the answer's CNAME chain (the CNAME-chain trigger).
//  - message cache: a listed name never enters it. The query_response callback sets
//    no_cache_store on any query whose upstream response holds a listed name (before the
//    iterator stores it); passed queries of listed names (exempt clients, tcp-only, internal
//    sub-queries) run with no_cache_store; after a hot swap the caches are swept for names
//    the new store lists. The reply_cache callback writes hit lines for cached log/tag
//    answers and counts any listed name it still sees (it cannot change the answer).
//  - several clients of one query: the reply callback runs once per waiting client and
//    rewrites the answer for that client (blocked for the blocked, real for the exempt
//    where the real answer exists), with the EDE and the hit line per client.
// Counting (docs/counters.md): every hit that reaches a client, on both reply paths, is
// recorded once per client in submit_hit(); the stats flusher thread stores the counts.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "unbound/headers.h"
#include "unbound/running_unbound.h"
#include "unbound/subquery.h"

#include "client_addr.h"
#include "dns_name.h"
#include "hit_counters.h"
#include "hit_log.h"
#include "module_chain.h"
#include "module_config.h"
#include "policy.h"
#include "prometheus.h"
#include "stats_flusher.h"
#include "store_guard.h"
#include "store_holder.h"
#include "verdict_store.h"

#define DNSVERDICT_EXPORT extern "C" __attribute__((visibility("default")))

namespace dnsverdict {
namespace {

// Health counters for the Prometheus file, one cache line per worker thread: `lookups` grows
// on every query, so one shared atomic would be a cache line all threads fight over. Summed by
// the flusher thread (module_health).
struct alignas(64) HealthSlot {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> errors{0};
};
inline constexpr std::size_t kHealthSlots = 64;

std::atomic<std::size_t> next_health_slot{0};

// This thread's slot. Unbound's workers of one generation start one after another, so they
// get consecutive numbers: distinct slots for up to kHealthSlots threads.
std::size_t health_slot_index() noexcept {
  thread_local const std::size_t slot =
      next_health_slot.fetch_add(1, std::memory_order_relaxed) % kHealthSlots;
  return slot;
}

// How often each worker looks for a pending cache sweep, and when the follow-up sweep runs.
inline constexpr long kTickMicros = 50000;
inline constexpr std::int64_t kFollowUpDelayNanos = 2'000'000'000;
// Bins of one cache slab per sweep step (about as many entries): a step stays near a
// millisecond, and the worker serves its clients between steps.
inline constexpr std::size_t kSweepBins = 4096;

std::int64_t steady_nanos() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A module instance's number: a worker thread keeps the one its sweep timer belongs to
// (a reload makes a new instance, possibly at the same address).
std::atomic<std::uint64_t> next_instance{1};

// A cache sweep in progress (kSweepBins bins of one slab per step).
struct SweepJob {
  std::shared_ptr<const VerdictStore> store;  // null: no sweep in progress
  std::uint64_t target = 0;                   // the sweep request this job answers
  bool follow_up = false;
  bool incomplete = false;
  std::size_t slab = 0;       // message cache slabs first, then the rrset cache's
  std::size_t bin = 0;        // the next bin of that slab
  std::size_t slab_bins = 0;  // the slab's bins when its walk started
  std::size_t steps = 0;
  std::uint64_t checked = 0;
  std::uint64_t messages = 0;
  std::uint64_t rrsets = 0;
  std::int64_t started_nanos = 0;       // steady_nanos()
  std::int64_t longest_step_nanos = 0;  // how long one worker stopped serving, at most
};

struct Ticker;  // a worker's sweep timer

struct ModuleState {
  ModuleState();
  ~ModuleState();
  ModuleConfig config;
  std::unique_ptr<HitLog> hit_log;
  std::unique_ptr<StoreHolder> holder;
  module_env* env = nullptr;
  bool ede_enabled = false;  // unbound.conf `ede: yes`
  std::atomic<std::uint64_t> cache_leaks{0};
  std::atomic<bool> leak_reported{false};
  std::atomic<bool> no_store_reported{false};
  HealthSlot health[kHealthSlots];
  // The cache sweep: the watcher thread asks for one per swap, worker timers run it.
  const std::uint64_t instance = next_instance.fetch_add(1);
  std::atomic<std::uint64_t> sweep_requested{0};
  std::atomic<std::uint64_t> sweep_done{0};
  std::atomic<std::int64_t> follow_up_due{0};  // steady_nanos(); 0: none
  std::mutex sweep_mutex;
  SweepJob sweep_job;  // under sweep_mutex
  std::mutex tickers_mutex;
  std::vector<std::unique_ptr<Ticker>> tickers;
  std::unique_ptr<HitCounters> counters;  // null when stats-store is empty or did not open
  // Last: destroyed first, so its final flush runs while the counters, the store holder and
  // the hit log its health callback reads are still alive.
  StatsFlusher flusher;
};

// Counts one lookup made for a query (the health counters of the Prometheus file).
void count_lookup(ModuleState& state, const LookupResult& lookup) noexcept {
  HealthSlot& slot = state.health[health_slot_index()];
  slot.lookups.fetch_add(1, std::memory_order_relaxed);
  if (lookup.hit()) {
    slot.hits.fetch_add(1, std::memory_order_relaxed);
  } else if (lookup.status == LookupStatus::kError) {
    slot.errors.fetch_add(1, std::memory_order_relaxed);
  }
}

// Runs on the flusher thread.
ModuleHealth module_health(const ModuleState& state) {
  ModuleHealth health;
  if (std::shared_ptr<const VerdictStore> store = state.holder->current_shared()) {
    health.store_loaded = true;
    health.store_build_id = store->info().build_id;
    health.store_build_time = store->info().build_time;
  }
  for (const HealthSlot& slot : state.health) {
    health.lookups += slot.lookups.load(std::memory_order_relaxed);
    health.hits += slot.hits.load(std::memory_order_relaxed);
    health.errors += slot.errors.load(std::memory_order_relaxed);
  }
  if (const HitLog* log = state.hit_log.get()) {
    health.hit_log_dropped = log->dropped();
    health.hit_log_configured = true;
    health.hit_log_open = log->is_open();
    health.hit_log_written = log->written();
    health.hit_log_suppressed = log->suppressed();
    health.hit_log_open_errors = log->open_errors();
    health.hit_log_write_errors = log->write_errors();
  }
  return health;
}

// Per query state, in the query's region (trivially destructible, freed with the region).
struct QueryState {
  std::uint64_t generation = 0;    // store generation when the query arrived
  bool module_answered = false;    // operate() answered for the first client's class
  bool verdict = false;            // the reply callback has work: a listed name is involved
  bool chain = false;              // the listed name sits in the answer's CNAME chain
  bool saved_valid = false;        // `saved` holds the real answer's header
  std::uint16_t chain_index = 0;   // answer rrsets before the listed name
  std::uint8_t* owner = nullptr;   // the listed name (wire); the qname unless `chain`
  std::size_t owner_len = 0;
  reply_info saved;                // the real answer's header, restored for exempt clients
  bool following_redirect = false; // a sub-query resolves the redirect target
  bool keep_uncached = false;      // a listed name resolved for someone it does not block
  const reply_info* saved_for = nullptr;  // the reply `saved` was taken from
};

std::int64_t now_seconds() noexcept { return static_cast<std::int64_t>(::time(nullptr)); }

std::int64_t now_micros() noexcept {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_usec;
}

ModuleState* state_of(module_env* env, int id) noexcept {
  auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
  return loader != nullptr ? static_cast<ModuleState*>(loader->dyn_env) : nullptr;
}

// Verdicts are about Internet names: class IN, and class ANY, which would otherwise ask the
// very same data around them. Other classes (CHAOS, HESIOD) hold no IN data and pass.
bool policy_applies(std::uint16_t qclass) noexcept {
  return qclass == LDNS_RR_CLASS_IN || qclass == LDNS_RR_CLASS_ANY;
}

// The store lookup for a wire name; `key` must outlive the result (owner_key points into it).
LookupResult lookup_name(const VerdictStore& store, const std::uint8_t* wire, std::size_t size,
                         NameKey& key) noexcept {
  if (!make_name_key(wire, size, key)) return {};
  return store.lookup(key, now_seconds());
}

// The client-independent question: does a listed name block someone?
bool blocks_someone(const ModuleState& state, const VerdictStore& store, const std::uint8_t* wire,
                    std::size_t size) noexcept {
  NameKey key;
  LookupResult lookup = lookup_name(store, wire, size, key);
  return lookup.hit() && lookup.rule.action != Action::kAllow &&
         is_blocking(graded_action(lookup.rule, state.config));
}

// ---------------------------------------------------------------------------------------------
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

QueryState* query_state(module_qstate* qstate, int id) noexcept {
  return static_cast<QueryState*>(qstate->minfo[id]);
}

void submit_hit(ModuleState& state, const Decision& decision, const LookupResult& lookup,
                const VerdictStore& store, const query_info& qinfo,
                const dnsverdict_client& client, const char* note) noexcept {
  if (!decision.hit) return;
  if (state.counters) {
    // Whatever the action: the counters measure who asked, not what was done.
    HitEvent hit;
    hit.rule_key = lookup.owner_key;
    hit.kind = lookup.rule.kind;
    if (const CampaignRecord* campaign = store.campaign(lookup.rule.campaign)) {
      hit.campaign = campaign->name;
    }
    hit.client = ClientAddress::from(client.family, client.address);
    hit.time = now_seconds();
    state.counters->record_hit(hit);
  }
  if (!state.hit_log) return;
  HitRecord record;
  fill_hit_record(record, decision, lookup, store,
                  {reinterpret_cast<const char*>(qinfo.qname), qinfo.qname_len}, qinfo.qtype,
                  now_micros());
  if (note != nullptr && *note != '\0' && record.note.empty()) record.note.assign(note);
  if (client.family != 0) record.set_client(client.family, client.address, client.port);
  state.hit_log->submit(record);
}

// ---------------------------------------------------------------------------------------------
// Cache sweep after a hot swap: names the new store blocks leave the message and rrset caches.
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
};

struct SweepSlab {
  std::string names;
  std::vector<SweepItem> items;

  void add(const std::uint8_t* name, std::size_t size, std::uint16_t type, std::uint16_t rrclass,
           std::uint32_t flags, hashvalue_type hash) {
    items.push_back({static_cast<std::uint32_t>(names.size()), static_cast<std::uint16_t>(size),
                     type, rrclass, flags, hash});
    names.append(reinterpret_cast<const char*>(name), size);
  }
  const std::uint8_t* name(const SweepItem& item) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(names.data()) + item.offset;
  }
};

void collect_message(lruhash_entry* entry, void* argument) {
  auto* key = static_cast<msgreply_entry*>(entry->key);
  try {
    static_cast<SweepSlab*>(argument)->add(key->key.qname, key->key.qname_len, key->key.qtype,
                                           key->key.qclass, 0, entry->hash);
  } catch (...) {  // out of memory: this entry is not checked (the sweep reports it)
  }
}

void collect_rrset(lruhash_entry* entry, void* argument) {
  auto* key = static_cast<ub_packed_rrset_key*>(entry->key);
  try {
    static_cast<SweepSlab*>(argument)->add(key->rk.dname, key->rk.dname_len, ntohs(key->rk.type),
                                           ntohs(key->rk.rrset_class), key->rk.flags, entry->hash);
  } catch (...) {
  }
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
    for (const SweepItem& item : slab.items) {
      if (!blocks_someone(state, *job.store, slab.name(item), item.size)) continue;
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
             "and %llu rrsets of listed names removed in %.1f ms (%zu steps, longest %.1f ms)%s",
             job.follow_up ? "follow-up " : "", job.store->info().build_id.c_str(),
             static_cast<unsigned long long>(job.checked),
             static_cast<unsigned long long>(job.messages),
             static_cast<unsigned long long>(job.rrsets), millis, job.steps,
             static_cast<double>(job.longest_step_nanos) / 1e6,
             job.incomplete ? " (INCOMPLETE: out of memory)" : "");
  }
  if (!job.follow_up) {
    // Queries in flight at the swap may still cache a step of their resolution (checked
    // against the old store): look once more when they have had time to finish.
    state.follow_up_due.store(steady_nanos() + kFollowUpDelayNanos, std::memory_order_relaxed);
  }
  state.sweep_done.store(job.target, std::memory_order_release);
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
    state.follow_up_due.store(0, std::memory_order_relaxed);
    job.store = state.holder->current_shared();
    if (!job.store) {  // no store: nothing is listed
      state.sweep_done.store(requested, std::memory_order_release);
      return false;
    }
    job.target = primary ? requested : state.sweep_done.load(std::memory_order_relaxed);
    job.follow_up = !primary;
    job.started_nanos = steady_nanos();
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

// ---------------------------------------------------------------------------------------------
// Callbacks.

// Upstream response, before the iterator caches anything from it: a response holding a
// listed name (as an owner or a CNAME/DNAME target) is not cached.
int query_response_callback(module_qstate* qstate, dns_msg* response, int, void* argument) noexcept {
  try {
    auto* state = static_cast<ModuleState*>(argument);
    if (state == nullptr || response == nullptr || response->rep == nullptr ||
        qstate->no_cache_store) {
      return 1;
    }
    const VerdictStore* store = state->holder->current();
    if (store == nullptr) return 1;
    reply_info* rep = response->rep;
    for (std::size_t i = 0; i < rep->rrset_count; ++i) {
      ub_packed_rrset_key* rrset = rep->rrsets[i];
      if (blocks_someone(*state, *store, rrset->rk.dname, rrset->rk.dname_len)) {
        qstate->no_cache_store = 1;
        return 1;
      }
      std::uint16_t type = ntohs(rrset->rk.type);
      if ((type == LDNS_RR_TYPE_CNAME || type == LDNS_RR_TYPE_DNAME) && rrset->entry.data) {
        auto* data = static_cast<packed_rrset_data*>(rrset->entry.data);
        for (std::size_t r = 0; r < data->count; ++r) {
          if (data->rr_len[r] > 2 &&
              blocks_someone(*state, *store, data->rr_data[r] + 2, data->rr_len[r] - 2)) {
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

// An answer from the message cache (qstate is null). It cannot be changed: listed names are
// kept out of the cache; here cached log/tag answers get their hit lines, and anything listed
// that still shows up is counted and reported once.
int reply_cache_callback(query_info* qinfo, module_qstate*, reply_info*, int, edns_data*,
                         edns_option**, comm_reply* repinfo, regional*, timeval*, int,
                         void* argument) noexcept {
  try {
    auto* state = static_cast<ModuleState*>(argument);
    if (state == nullptr || qinfo == nullptr || !policy_applies(qinfo->qclass)) return 1;
    const VerdictStore* store = state->holder->current();
    if (store == nullptr) return 1;
    NameKey key;
    LookupResult lookup = lookup_name(*store, qinfo->qname, qinfo->qname_len, key);
    count_lookup(*state, lookup);
    if (!lookup.hit()) return 1;
    dnsverdict_client client;
    dnsverdict_reply_client(repinfo, &client);
    QueryContext context{qinfo->qtype, state->config.is_exempt(client.family, client.address),
                         client.is_udp != 0};
    Decision decision = decide(lookup, *store, state->config, context);
    if (decision.blocked()) {
      // The client got the real data. Expected only between a swap and the end of the cache
      // sweep it asks for; otherwise a name escaped this module and that is reported.
      state->cache_leaks.fetch_add(1, std::memory_order_relaxed);
      bool sweeping = state->sweep_done.load(std::memory_order_acquire) !=
                      state->sweep_requested.load(std::memory_order_acquire);
      if (!sweeping && !state->leak_reported.exchange(true)) {
        log_warn("dnsverdict: a cached answer for a blocked name was served (counted; "
                 "reported once)");
      }
      decision.applied = Action::kAllow;
      decision.note = sweeping ? "served-from-cache-before-sweep" : "served-from-cache";
    }
    submit_hit(*state, decision, lookup, *store, *qinfo, client, "cache");
  } catch (...) {
  }
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
    const VerdictStore* store = state->holder->current();
    if (store == nullptr) return 1;

    NameKey key;
    LookupResult lookup = lookup_name(*store, query->owner, query->owner_len, key);
    dnsverdict_client client;
    dnsverdict_reply_client(repinfo, &client);
    QueryContext context{qinfo->qtype, state->config.is_exempt(client.family, client.address),
                         client.is_udp != 0};
    Decision decision = decide(lookup, *store, state->config, context);

    if (query->module_answered) {
      // The module's blocked answer is the only one there is; an exempt client that joined a
      // blocked query gets it too (docs/module.md), and its hit line says so.
      if (!decision.blocked()) {
        decision = decide(lookup, *store, state->config, QueryContext{qinfo->qtype, false, true});
        decision.note = "exempt-client-joined-blocked-query";
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

    if (decision.blocked() && edns != nullptr && edns->edns_present && state->ede_enabled &&
        state->config.ede != EdeChoice::kNone && opt_list_out != nullptr) {
      std::string text = ede_text(decision, lookup, *store);
      edns_opt_list_append_ede(opt_list_out, region,
                               static_cast<sldns_ede_code>(state->config.ede), text.c_str());
    }
    submit_hit(*state, decision, lookup, *store, *qinfo, client, query->chain ? "cname-chain" : "");
  } catch (...) {
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
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
    if (is_blocking(graded_action(lookup.rule, state.config))) {
      qstate->no_cache_store = 1;
      query->keep_uncached = true;
    }
    pass_on(qstate, id);
    return;
  }

  dnsverdict_client client;
  bool has_client = dnsverdict_first_client(qstate, &client) != 0;
  QueryContext context{qstate->qinfo.qtype,
                       has_client && state.config.is_exempt(client.family, client.address),
                       has_client ? client.is_udp != 0 : true};
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
  if (decision.response == Response::kRedirect && follow_redirect(qstate, id, decision)) {
    query->following_redirect = true;  // finished in operate() once inform_super ran
    return;
  }
  qstate->ext_state[id] = module_finished;
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
  rrset_cache_remove(qstate->env->rrset_cache, query.owner, query.owner_len, qinfo.qtype,
                     qinfo.qclass, 0);
  if (query.chain) {
    msg_cache_remove(qstate->env, query.owner, query.owner_len, qinfo.qtype, qinfo.qclass,
                     qstate->query_flags);
    rrset_cache_remove(qstate->env->rrset_cache, query.owner, query.owner_len, kTypeCname,
                       qinfo.qclass, 0);
  }
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
  if (!found) return;
  query->verdict = true;
  purge_cached(qstate, *query);
}

const char* severity_prefix(StoreHolder::Severity severity) noexcept {
  switch (severity) {
    case StoreHolder::Severity::kError: return "error";
    case StoreHolder::Severity::kWarning: return "warning";
    case StoreHolder::Severity::kInfo: break;
  }
  return "info";
}

// Starts the counters and their flusher. Counting is an observation, not a verdict: while
// the stats store cannot be opened the module resolves without counts, and the flusher
// logs it once and keeps trying in the background.
void start_counting(ModuleState& state) {
  HitCounters::Options counter_options;
  // One shard per worker thread (and a spare): no two workers share a shard's mutex.
  int threads = state.env->cfg != nullptr ? std::max(1, state.env->cfg->num_threads) : 15;
  counter_options.shards = static_cast<std::size_t>(threads) + 1;
  counter_options.max_rules = state.config.stats_max_rules;
  counter_options.memory_budget = state.config.stats_memory_budget;
  state.counters = std::make_unique<HitCounters>(counter_options);

  StatsFlusher::Options options;
  options.counters = state.counters.get();
  options.stats_path = state.config.stats_store_path;
  options.prometheus_path = state.config.prometheus_file;
  options.resolver = state.config.stats_resolver_name;
  options.interval = state.config.stats_flush_interval;
  options.retention_days = state.config.stats_retention_days;
  options.map_size = state.config.stats_map_size;
  options.key_path = state.config.stats_hash_key_file;
  const ModuleState* raw = &state;
  options.health = [raw] { return module_health(*raw); };
  options.logger = [](StatsFlusher::Severity severity, const std::string& message) {
    if (severity == StatsFlusher::Severity::kInfo) {
      log_info("dnsverdict: stats: %s", message.c_str());
    } else {
      log_err("dnsverdict: stats: %s", message.c_str());
    }
  };
  std::string error;
  if (!state.flusher.start(std::move(options), error)) {
    log_err("dnsverdict: stats store disabled, nothing is counted: %s", error.c_str());
    state.counters.reset();
  }
}

// What a reload finds of the instance before it. Unbound's dynlib loader closes the module
// on every reload; pin_module() keeps it loaded (RTLD_NODELETE), so this outlives instances.
struct ProcessMemory {
  bool started = false;                    // an init succeeded in this process
  std::optional<ModuleConfig> last_config; // the configuration last loaded without error
};

ProcessMemory& process_memory() noexcept {
  static ProcessMemory memory;
  return memory;
}

// Keeps this shared object loaded until the process exits, whatever the loader closes: a
// reload runs the same code with the same statics (a new dnsverdict.so takes effect on a
// restart, not on a reload).
void pin_module() noexcept {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&pin_module), &self) == 0 || self.dli_fname == nullptr ||
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) {
    log_warn("dnsverdict: cannot pin the module in memory; a reload with a broken "
             "configuration will not fall back to the previous one");
  }
}

}  // namespace
}  // namespace dnsverdict

using namespace dnsverdict;

DNSVERDICT_EXPORT int init(module_env* env, int id) noexcept {
  // Before anything reads Unbound's structures: they are laid out as in the Unbound this
  // module was compiled against, which must be the one running (a reload cannot change it).
  std::string mismatch = unbound_mismatch();
  if (!mismatch.empty()) {
    log_err("%s", mismatch.c_str());
    return 0;
  }
  // At first start a problem refuses to start Unbound (return 0: Unbound exits, loudly). On a
  // reload the same return would stop a running resolver: there every problem is logged and
  // the module goes on with what it has.
  ProcessMemory& memory = process_memory();
  const bool reloading = memory.started;
  if (!reloading) {
    pin_module();
    if (!install_store_guard()) {
      log_warn("dnsverdict: cannot install the SIGBUS handler: a store file rewritten in "
               "place (instead of renamed over) can crash Unbound");
    }
  }
  try {
    auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
    auto state = std::make_unique<ModuleState>();
    state->env = env;
    state->ede_enabled = env->cfg != nullptr && env->cfg->ede;
    const char* module_config = env->cfg != nullptr && env->cfg->module_conf != nullptr
                                    ? env->cfg->module_conf : "";
    std::string chain_error = check_module_chain(module_config, id);
    if (!chain_error.empty()) {
      log_err("dnsverdict: %s; supported: %s%s", chain_error.c_str(), kSupportedModuleChains,
              reloading ? "; LISTED NAMES MAY LEAK until module-config is fixed" : "");
      if (!reloading) return 0;
    }
    std::string config_path = config_path_from_environment();
    try {
      state->config = load_config(config_path);
      memory.last_config = state->config;
    } catch (const std::exception& error) {
      if (!reloading || !memory.last_config) {
        log_err("dnsverdict: %s", error.what());
        return 0;
      }
      log_err("dnsverdict: %s; RELOAD KEEPS THE PREVIOUS CONFIGURATION (fix the file and "
              "reload again; `dnsverdict check-config %s` checks it)",
              error.what(), config_path.c_str());
      state->config = *memory.last_config;
    }
    if (!state->config.hit_log_path.empty()) {
      // Never a reason to fail init: a file that cannot be opened is logged and retried.
      HitLog::Options options;
      options.path = state->config.hit_log_path;
      options.capacity_lines = state->config.hit_log_capacity;
      options.limits.per_client = state->config.hit_log_rate_limit;
      options.limits.interval = state->config.hit_log_rate_interval;
      options.limits.lines_per_second = state->config.hit_log_max_lines_per_second;
      options.logger = [](HitLog::Severity severity, const std::string& message) {
        if (severity == HitLog::Severity::kInfo) {
          log_info("dnsverdict: hit log: %s", message.c_str());
        } else {
          log_err("dnsverdict: hit log: %s", message.c_str());
        }
      };
      std::string error;
      state->hit_log = HitLog::open(std::move(options), error);
      if (!state->hit_log) log_err("dnsverdict: hit log disabled: %s", error.c_str());
    }

    ModuleState* raw = state.get();
    StoreHolder::Options options;
    options.path = state->config.store_path;
    options.check_interval = state->config.check_interval;
    options.logger = [](StoreHolder::Severity severity, const std::string& message) {
      if (severity == StoreHolder::Severity::kInfo) {
        log_info("dnsverdict: %s", message.c_str());
      } else {
        log_err("dnsverdict: %s: %s", severity_prefix(severity), message.c_str());
      }
    };
    options.on_swap = [raw](const std::shared_ptr<const VerdictStore>&,
                            const std::shared_ptr<const VerdictStore>&) {
      raw->sweep_requested.fetch_add(1, std::memory_order_release);  // the workers sweep
    };
    state->holder = std::make_unique<StoreHolder>(std::move(options));

    std::string error;
    if (state->holder->load(error)) {
      std::shared_ptr<const VerdictStore> store = state->holder->current_shared();
      log_info("dnsverdict %s built for Unbound %s, store %s build %s (%llu rules)",
               DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, store->path().c_str(),
               store->info().build_id.c_str(),
               static_cast<unsigned long long>(store->info().rule_count));
    } else if (state->config.fail_mode == FailMode::kClosed) {
      log_err("dnsverdict %s built for Unbound %s: NO STORE: %s; fail-mode closed: every query "
              "is answered SERVFAIL until a store can be opened",
              DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, error.c_str());
    } else {
      log_err("dnsverdict %s built for Unbound %s: NO STORE: %s; fail-mode open: queries are "
              "answered WITHOUT verdicts until a store can be opened",
              DNSVERDICT_VERSION, DNSVERDICT_UNBOUND_VERSION, error.c_str());
    }
    if (state->holder->current() != nullptr && state->env->msg_cache != nullptr &&
        state->env->rrset_cache != nullptr &&
        (count_slabhash_entries(state->env->msg_cache) != 0 ||
         count_slabhash_entries(&state->env->rrset_cache->table) != 0)) {
      // `unbound-control reload_keep_cache`: the kept cache may hold names this store lists.
      // No worker runs during init, so the sweep runs here, whole.
      state->sweep_requested.store(1, std::memory_order_release);
      sweep_now(*state);
    }
    if (!state->holder->start()) {
      log_err("dnsverdict: cannot start the store watcher thread: new stores are not picked "
              "up until the next reload");
      if (!reloading) return 0;
    }
    if (!state->config.stats_store_path.empty()) start_counting(*state);

    // Without these callbacks cached answers, CNAME chains and joined clients would pass
    // unchecked: refuse to start rather than run half-blind.
    if (!loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&reply_callback),
                                             inplace_cb_reply, raw, env, id) ||
        !loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&reply_cache_callback),
                                             inplace_cb_reply_cache, raw, env, id) ||
        !loader->inplace_cb_register_wrapped(reinterpret_cast<void*>(&query_response_callback),
                                             inplace_cb_query_response, raw, env, id)) {
      log_err("dnsverdict: cannot register Unbound's inplace callbacks (out of memory)%s",
              reloading ? "; cached answers and joined clients go UNCHECKED until the next "
                          "reload" : "");
      if (!reloading) {
        state->flusher.stop();
        state->holder->stop();
        return 0;
      }
    }
    loader->dyn_env = state.release();
    memory.started = true;
    return 1;
  } catch (const std::exception& error) {
    log_err("dnsverdict: init failed: %s%s", error.what(),
            reloading ? "; queries are answered WITHOUT verdicts until the next reload" : "");
  } catch (...) {
    log_err("dnsverdict: init failed%s",
            reloading ? "; queries are answered WITHOUT verdicts until the next reload" : "");
  }
  return reloading ? 1 : 0;
}

DNSVERDICT_EXPORT void deinit(module_env* env, int id) noexcept {
  try {
    auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
    if (loader == nullptr) return;
    loader->inplace_cb_delete_wrapped(env, inplace_cb_reply, id);
    loader->inplace_cb_delete_wrapped(env, inplace_cb_reply_cache, id);
    loader->inplace_cb_delete_wrapped(env, inplace_cb_query_response, id);
    auto* state = static_cast<ModuleState*>(loader->dyn_env);
    loader->dyn_env = nullptr;
    if (state != nullptr) {
      state->flusher.stop();  // final flush: the last interval's counts are stored
      state->holder->stop();
      if (state->cache_leaks.load() != 0) {
        log_warn("dnsverdict: %llu cached answers of blocked names were served",
                 static_cast<unsigned long long>(state->cache_leaks.load()));
      }
      if (state->hit_log) {
        state->hit_log->close();  // drains the queue: the figures below are final
        log_info("dnsverdict: hit log: %llu lines written, %llu dropped, %llu left out by the "
                 "rate limits",
                 static_cast<unsigned long long>(state->hit_log->written()),
                 static_cast<unsigned long long>(state->hit_log->dropped()),
                 static_cast<unsigned long long>(state->hit_log->suppressed()));
      }
      delete state;
    }
  } catch (...) {
  }
}

DNSVERDICT_EXPORT void operate(module_qstate* qstate, module_ev event, int id,
                               outbound_entry*) noexcept {
  try {
    ModuleState* state = state_of(qstate->env, id);
    if (state == nullptr) {  // a reload failed (logged): resolve without verdicts
      pass_on(qstate, id);
      return;
    }
    ensure_ticker(*state, qstate->env);
    switch (event) {
      case module_event_new:
      case module_event_pass:
        if (qstate->minfo[id] == nullptr) {
          handle_new(*state, qstate, id);
        } else if (query_state(qstate, id)->following_redirect) {
          qstate->ext_state[id] = module_finished;  // the target's answer is appended
        } else {
          pass_on(qstate, id);
        }
        return;
      case module_event_moddone:
        handle_done(*state, qstate, id);
        return;
      default:
        qstate->ext_state[id] = module_error;
        return;
    }
  } catch (...) {
    qstate->ext_state[id] = module_error;
  }
}

DNSVERDICT_EXPORT void inform_super(module_qstate* qstate, int id, module_qstate* super) noexcept {
  try {
    QueryState* query = super != nullptr ? query_state(super, id) : nullptr;
    if (query != nullptr && query->following_redirect) take_redirect_answer(qstate, super);
  } catch (...) {
  }
}

DNSVERDICT_EXPORT void clear(module_qstate* qstate, int id) noexcept {
  if (qstate != nullptr) qstate->minfo[id] = nullptr;  // lives in the query's region
}

DNSVERDICT_EXPORT size_t get_mem(module_env*, int) noexcept { return 0; }
