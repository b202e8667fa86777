// The module's state and the functions the parts of the glue share.
//
// module/unbound/ is the one door between Unbound and dnsverdict, split by concern:
//  - entry_points.cpp: the six dynlib entry points (init, deinit, operate, ...);
//  - queries.cpp: what operate() does with a new query and a finished one;
//  - callbacks.cpp: the inplace callbacks (reply, reply_cache, query_response);
//  - answers.cpp: blocked answers built in a query's region, the per-client rewrite;
//  - blocked_cache.cpp: blocked answers every client gets alike, stored in the message cache;
//  - cache.cpp: the cache sweep after a hot swap and the purge of listed names;
//  - state.cpp: health counters, hit submission (hit log and counters);
//  - client.c: the structures whose headers do not compile as C++ (client addresses);
//  - headers.h, subquery.h, running_unbound.*: what differs between Unbound versions.
// These files translate Unbound structures into plain values, ask policy.h what to do, and
// write the decision back into Unbound structures. No exception leaves them: every exported
// function and callback is noexcept and catches at its boundary. Everything else under
// module/ is plain C++ that includes no Unbound header.
//
// The paths a query takes and how each gets its verdict (docs/module.md has the long form):
//  - recursion: operate(module_event_new) answers a blocked name itself; an NXDOMAIN or
//    NODATA that every client gets alike is stored in the message cache unless the name is a
//    name server's host (blocked_cache.cpp). Passed queries are checked again at
//    module_event_moddone for listed names in the answer's CNAME chain (the CNAME-chain
//    trigger).
//  - message cache: a listed name's real answer never enters it. The query_response callback sets
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
#pragma once

#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "unbound/headers.h"
#include "unbound/client.h"

#include "address_trigger.h"
#include "dns_name.h"
#include "hit_counters.h"
#include "hit_log.h"
#include "host_set.h"
#include "module_config.h"
#include "pass_memo.h"
#include "policy.h"
#include "prometheus.h"
#include "stats_flusher.h"
#include "store_holder.h"
#include "verdict_store.h"

namespace dnsverdict::glue {

// Health counters for the Prometheus file, one cache line per worker thread: `lookups` grows
// on every query, so one shared atomic would be a cache line all threads fight over. Summed by
// the flusher thread (module_health).
struct alignas(64) HealthSlot {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> errors{0};
};
inline constexpr std::size_t kHealthSlots = 64;

inline std::atomic<std::size_t> next_health_slot{0};

// This thread's slot. Unbound's workers of one generation start one after another, so they
// get consecutive numbers: distinct slots for up to kHealthSlots threads.
// Trivial and initial-exec (see detail::holder_thread_cache in store_holder.h): no guard
// and no __tls_get_addr call per query. 0: not taken yet.
inline thread_local std::size_t health_slot_plus_one __attribute__((tls_model("initial-exec"))) = 0;

inline std::size_t health_slot_index() noexcept {
  std::size_t slot = health_slot_plus_one;
  if (slot == 0) {
    slot = next_health_slot.fetch_add(1, std::memory_order_relaxed) % kHealthSlots + 1;
    health_slot_plus_one = slot;
  }
  return slot - 1;
}

// How often each worker looks for a pending cache sweep, and when the follow-up sweep runs.
inline constexpr long kTickMicros = 50000;
inline constexpr std::int64_t kFollowUpDelayNanos = 2'000'000'000;
// Bins of one cache slab per sweep step (about as many entries): a step stays near a
// millisecond, and the worker serves its clients between steps.
inline constexpr std::size_t kSweepBins = 4096;

inline std::int64_t steady_nanos() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A module instance's number: a worker thread keeps the one its sweep timer belongs to
// (a reload makes a new instance, possibly at the same address).
inline std::atomic<std::uint64_t> next_instance{1};

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
  // The store's name-server rules changed: every message leaves the cache (and every CNAME
  // and DNAME rrset, from which Unbound builds answers), so that each answer is resolved
  // again through the delegation the rules judge.
  bool flush_messages = false;
};

struct Ticker;  // a worker's sweep timer

// Slots of ModuleState::name_server_hosts (1 MiB): full at half of them.
inline constexpr std::size_t kNameServerHostSlots = std::size_t{1} << 17;

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
  std::atomic<bool> sweep_running{false};  // a job (primary or follow-up) has started
  std::mutex sweep_mutex;
  SweepJob sweep_job;  // under sweep_mutex
  std::string swept_name_server_digest;  // of the last store swept; under sweep_mutex
  bool flush_again = false;  // the follow-up sweep flushes too; under sweep_mutex
  std::mutex tickers_mutex;
  std::vector<std::unique_ptr<Ticker>> tickers;
  // Blocked answers in the message cache (blocked_cache.cpp): whether this configuration
  // stores any, and the listed names seen as name servers' hosts, whose A and AAAA answers
  // it never stores. `stub_forward_hosts`: the stub-host and forward-host names of
  // unbound.conf (wire format), checked against every store.
  bool caches_blocked_answers = false;
  HostSet name_server_hosts{kNameServerHostSlots};
  std::vector<std::string> stub_forward_hosts;
  std::unique_ptr<HitCounters> counters;  // null when stats-store is empty or did not open
  // Each worker thread's memo of cached names the filter rejected (pass_memo.h), made at
  // its first cached answer and freed with this instance.
  std::mutex memos_mutex;
  std::vector<PassMemo::Pointer> memos;  // under memos_mutex
  // Last: destroyed first, so its final flush runs while the counters, the store holder and
  // the hit log its health callback reads are still alive.
  StatsFlusher flusher;
};

// Counts one lookup made for a query (the health counters of the Prometheus file).
inline void count_lookup(ModuleState& state, LookupStatus status) noexcept {
  HealthSlot& slot = state.health[health_slot_index()];
  slot.lookups.fetch_add(1, std::memory_order_relaxed);
  if (status == LookupStatus::kHit) {
    slot.hits.fetch_add(1, std::memory_order_relaxed);
  } else if (status == LookupStatus::kError) {
    slot.errors.fetch_add(1, std::memory_order_relaxed);
  }
}
inline void count_lookup(ModuleState& state, const LookupResult& lookup) noexcept {
  count_lookup(state, lookup.status);
}

// Runs on the flusher thread.
ModuleHealth module_health(const ModuleState& state);

// The memo this thread uses for `state` (trivial and initial-exec, as health_slot_plus_one).
struct MemoBinding {
  std::uint64_t instance = 0;  // ModuleState::instance; 0: none yet
  PassMemo* memo = nullptr;    // null: none could be allocated (the thread goes without)
};
inline thread_local MemoBinding memo_binding __attribute__((tls_model("initial-exec")));

// Allocates this thread's memo for `state` (once per thread and instance). Never throws.
PassMemo* bind_pass_memo(ModuleState& state) noexcept;

inline PassMemo* thread_pass_memo(ModuleState& state) noexcept {
  const MemoBinding& binding = memo_binding;
  if (binding.instance == state.instance) return binding.memo;
  return bind_pass_memo(state);
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
  // An address in the answer is listed (an address rule): the rule is looked up by
  // `address`; `owner` (and `address_owner`) is the name whose A or AAAA rrset holds it,
  // `chain` and `chain_index` say where it sits in the answer's CNAME chain.
  std::uint8_t address_size = 0;  // 4 or 16; 0: the trigger is a name
  std::uint8_t address[16] = {};
  std::uint16_t address_type = 0;
  std::uint8_t* address_owner = nullptr;
  std::size_t address_owner_len = 0;
  // A name server of a delegation the iterator asked for this query is listed (RPZ's NSDNAME
  // or NSIP trigger), seen by query_response_callback: its name (a copy in the query's
  // region) or its address and the listed prefix length. Applied at module_event_moddone when
  // no name or address rule matched (`ns_chosen`).
  std::uint8_t ns_trigger = 0;  // 0: none; kNsName or kNsAddress
  bool ns_chosen = false;
  std::uint8_t ns_address_size = 0;
  std::uint8_t ns_prefix_length = 0;
  std::uint8_t ns_address[16] = {};
  std::uint8_t* ns_name = nullptr;
  std::size_t ns_name_len = 0;
  static constexpr std::uint8_t kNsName = 1, kNsAddress = 2;
  // The lookup operate() answered with (`module_answered`), its owner key in the query's
  // region: the reply callback takes it instead of looking up again while the store is of
  // `generation`.
  LookupResult* answered_lookup = nullptr;
};

inline std::int64_t now_seconds() noexcept { return static_cast<std::int64_t>(::time(nullptr)); }

inline std::int64_t now_micros() noexcept {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_usec;
}

inline ModuleState* state_of(module_env* env, int id) noexcept {
  auto* loader = static_cast<dynlibmod_env*>(env->modinfo[id]);
  return loader != nullptr ? static_cast<ModuleState*>(loader->dyn_env) : nullptr;
}

// Verdicts are about Internet names: class IN, and class ANY, which would otherwise ask the
// very same data around them. Other classes (CHAOS, HESIOD) hold no IN data and pass.
inline bool policy_applies(std::uint16_t qclass) noexcept {
  return qclass == LDNS_RR_CLASS_IN || qclass == LDNS_RR_CLASS_ANY;
}

// The store lookup for a wire name; `key` must outlive the result (owner_key points into it).
inline LookupResult lookup_name(const VerdictStore& store, const std::uint8_t* wire, std::size_t size,
                         NameKey& key) noexcept {
  LookupResult result;
  if (!store.lookup_name(wire, size, key, kReadClock, result)) result = LookupResult{};
  return result;
}

// The store lookup for an address (4 or 16 octets); a hit's owner_key is the address rule's
// name (address_trigger.h), in `key`.
// `now`: unix seconds, or kAnyTime for a rule whether it has expired or not.
inline LookupResult lookup_address(const VerdictStore& store, const std::uint8_t* address,
                                   std::size_t size, NameKey& key,
                                   std::int64_t now = now_seconds()) noexcept {
  AddressLookupResult found = store.lookup_address(address, size, now);
  LookupResult result = found.as_lookup();
  if (!found.hit()) return result;
  if (address_rule_key(address, size, found.prefix_length, key)) {
    result.owner_key = key.view();
    result.owner_labels = key.label_count;
  }
  return result;
}

// The rule of a name server recorded by listed_name_server(); a miss if none is.
LookupResult lookup_name_server(const VerdictStore& store, const QueryState& query,
                                NameKey& key) noexcept;

// The rule a query's trigger matches: its listed name, its listed address, or its listed
// name server.
inline LookupResult lookup_trigger(const VerdictStore& store, const QueryState& query,
                                   NameKey& key) noexcept {
  if (query.address_size != 0) return lookup_address(store, query.address, query.address_size, key);
  if (query.ns_chosen) return lookup_name_server(store, query, key);
  return lookup_name(store, query.owner, query.owner_len, key);
}

inline Trigger trigger_of(const QueryState& query) noexcept {
  if (query.address_size != 0) return Trigger::kAddress;
  if (query.ns_chosen)
    return query.ns_trigger == QueryState::kNsName ? Trigger::kNsdname : Trigger::kNsip;
  return query.chain ? Trigger::kCnameChain : Trigger::kQname;
}

// The client-independent question: does a listed name block someone?
bool blocks_someone(const ModuleState& state, const VerdictStore& store, const std::uint8_t* wire,
                    std::size_t size) noexcept;
// The same for a rule looked up any way.
bool blocks_someone(const ModuleState& state, const VerdictStore& store,
                    const LookupResult& lookup) noexcept;

// What the policy needs to know of a client.
inline QueryContext client_context(const ModuleConfig& config, std::uint16_t qtype,
                                   const dnsverdict_client* client) noexcept {
  QueryContext context;
  context.qtype = qtype;
  if (client == nullptr) return context;
  context.client_exempt = config.is_exempt(client->family, client->address);
  context.udp = client->is_udp != 0;
  context.group = &config.group_for(client->family, client->address);
  return context;
}

// Whether the answers holding a name are kept out of Unbound's cache: a rule that lists it
// blocks someone now, or would once the clock is back before the rule's expiry (a rule past
// its expiry applies again if the clock steps back, and Unbound would go on answering from
// its cache what it had stored meanwhile).
bool keeps_out_of_cache(const ModuleState& state, const VerdictStore& store,
                        const std::uint8_t* wire, std::size_t size) noexcept;

// The first address of an A or AAAA rrset that an address rule lists (any action): copies it
// into `query` and returns the lookup. A miss for other types or when the store has no
// address rules. `now`: as for lookup_address().
LookupResult listed_address(const VerdictStore& store, const ub_packed_rrset_key& rrset,
                            QueryState& query, std::int64_t now = now_seconds()) noexcept;

// The first name server of the delegation the iterator is asking for `qstate` that a
// name-server rule lists (any action), by name, then by address: recorded in `query` (its
// name copied into the query's region). A miss when the store has no name-server rules.
// `now`: as for lookup_address().
LookupResult listed_name_server(const VerdictStore& store, module_qstate* qstate,
                                QueryState& query, std::int64_t now = now_seconds()) noexcept;

inline QueryState* query_state(module_qstate* qstate, int id) noexcept {
  return static_cast<QueryState*>(qstate->minfo[id]);
}

// One hit that reached a client: counted, and written to the hit log.
void submit_hit(ModuleState& state, const Decision& decision, const LookupResult& lookup,
                const VerdictStore& store, const query_info& qinfo,
                const dnsverdict_client& client, const char* note,
                Trigger trigger = Trigger::kQname) noexcept;

// answers.cpp
reply_info* build_reply(regional* region, const query_info& qinfo, const Decision& decision,
                        std::uint32_t ttl, const std::uint8_t* owner, std::size_t owner_len,
                        ub_packed_rrset_key* const* prefix, std::size_t prefix_count) noexcept;
void copy_header(reply_info& to, const reply_info& from) noexcept;
bool keep_real_reply_for_supers(module_qstate* qstate, reply_info* rep) noexcept;

// blocked_cache.cpp
bool is_cached_blocked_answer(const reply_info& rep) noexcept;
bool same_answer_for_every_client(const ModuleState& state, const VerdictStore& store,
                                  const LookupResult& lookup, std::uint16_t qtype,
                                  Response response) noexcept;
// Stores a blocked answer made in operate() in the message cache when every client gets it
// alike (with answer-ttl, capped at the rule's expiry) and the iterator cannot take it for a
// name server's address; otherwise does nothing.
void cache_blocked_answer(ModuleState& state, module_qstate* qstate, const VerdictStore& store,
                          const LookupResult& lookup, const Decision& decision,
                          std::uint64_t generation, reply_info* rep) noexcept;
// Whether this configuration stores blocked answers at all (set once, at init), and the
// stub-host and forward-host names of unbound.conf.
void start_blocked_answer_cache(ModuleState& state) noexcept;
// `name` is (or was) a name server's host: if a rule of `store` could block it, it joins
// the set and its blocked A and AAAA answers leave the message cache.
void note_name_server_host(ModuleState& state, const VerdictStore& store,
                           const std::uint8_t* name, std::size_t size) noexcept;
// note_name_server_host for the targets of an NS rrset.
void note_name_server_hosts(ModuleState& state, const VerdictStore& store,
                            const ub_packed_rrset_key& rrset) noexcept;

// cache.cpp
bool sweep_step(ModuleState& state) noexcept;
void sweep_now(ModuleState& state) noexcept;
void ensure_ticker(ModuleState& state, module_env* env) noexcept;
void purge_cached(module_qstate* qstate, const QueryState& query) noexcept;

// callbacks.cpp
int query_response_callback(module_qstate* qstate, dns_msg* response, int id,
                            void* argument) noexcept;
int reply_cache_callback(query_info* qinfo, module_qstate*, reply_info*, int, edns_data*,
                         edns_option**, comm_reply* repinfo, regional*, timeval*, int,
                         void* argument) noexcept;
int reply_callback(query_info* qinfo, module_qstate* qstate, reply_info* rep, int rcode,
                   edns_data* edns, edns_option** opt_list_out, comm_reply* repinfo,
                   regional* region, timeval*, int id, void* argument) noexcept;

// queries.cpp
void finish_with_rcode(module_qstate* qstate, int id, int rcode) noexcept;
void pass_on(module_qstate* qstate, int id) noexcept;
void take_redirect_answer(module_qstate* sub, module_qstate* super) noexcept;
void handle_new(ModuleState& state, module_qstate* qstate, int id) noexcept;
void handle_done(ModuleState& state, module_qstate* qstate, int id) noexcept;

}  // namespace dnsverdict::glue
