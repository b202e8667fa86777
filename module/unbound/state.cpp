// Health counters and hit submission (unbound/glue.h).
#include "unbound/glue.h"

#include <arpa/inet.h>

#include <cstring>

namespace dnsverdict::glue {

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

PassMemo* bind_pass_memo(ModuleState& state) noexcept {
  PassMemo* memo = nullptr;
  try {
    PassMemo::Pointer made = PassMemo::allocate();
    if (made != nullptr) {
      std::lock_guard<std::mutex> lock(state.memos_mutex);
      state.memos.push_back(std::move(made));
      memo = state.memos.back().get();
    }
  } catch (...) {  // out of memory: this thread answers without a memo
  }
  memo_binding.instance = state.instance;
  memo_binding.memo = memo;
  return memo;
}

// The client-independent question: does a listed name block someone?
bool blocks_someone(const ModuleState& state, const VerdictStore& store, const std::uint8_t* wire,
                    std::size_t size) noexcept {
  NameKey key;
  return blocks_someone(state, store, lookup_name(store, wire, size, key));
}

bool blocks_someone(const ModuleState& state, const VerdictStore& store,
                    const LookupResult& lookup) noexcept {
  return lookup.hit() && blocks_anyone(lookup.rule, store, state.config);
}

bool keeps_out_of_cache(const ModuleState& state, const VerdictStore& store,
                        const std::uint8_t* wire, std::size_t size) noexcept {
  NameProbe probe;
  if (!store.probe_name(wire, size, probe)) return false;
  NameKey key;
  LookupResult now;
  store.lookup_probed(probe, wire, size, key, kReadClock, now);
  if (blocks_someone(state, store, now)) return true;
  LookupResult any_time;  // the rule that applies when none of them has expired
  store.lookup_probed(probe, wire, size, key, kAnyTime, any_time);
  return blocks_someone(state, store, any_time);
}

LookupResult listed_address(const VerdictStore& store, const ub_packed_rrset_key& rrset,
                            QueryState& query, std::int64_t now) noexcept {
  std::uint16_t type = ntohs(rrset.rk.type);
  std::size_t size = type == kTypeA ? 4 : type == kTypeAaaa ? 16 : 0;
  auto* data = static_cast<const packed_rrset_data*>(rrset.entry.data);
  if (size == 0 || data == nullptr || !store.has_address_rules()) return {};
  for (std::size_t r = 0; r < data->count; ++r) {
    const std::uint8_t* address = rdata_address(data->rr_data[r], data->rr_len[r], size);
    if (address == nullptr) continue;
    NameKey key;
    LookupResult lookup = lookup_address(store, address, size, key, now);
    if (!lookup.hit()) continue;
    std::memcpy(query.address, address, size);
    query.address_size = static_cast<std::uint8_t>(size);
    query.address_type = type;
    query.address_owner = rrset.rk.dname;
    query.address_owner_len = rrset.rk.dname_len;
    lookup.owner_key = {};  // `key` ends here; lookup_trigger() makes it again
    return lookup;
  }
  return {};
}

namespace {

// What listed_name_server() looks for and finds, through dnsverdict_visit_delegation().
struct NameServerSearch {
  const VerdictStore* store;
  std::int64_t now;
  LookupResult found;
  const std::uint8_t* name = nullptr;  // the listed name server's name (the iterator's memory)
  std::size_t name_len = 0;
  std::uint8_t address[16] = {};
  std::size_t address_size = 0;
  unsigned prefix_length = 0;
};

int visit_name_server(const std::uint8_t* name, std::size_t size, void* argument) {
  auto* search = static_cast<NameServerSearch*>(argument);
  if (!search->store->has_nsdname_rules()) return 0;
  NameKey key;
  if (!name_server_rule_key(name, size, key)) return 0;
  LookupResult lookup = search->store->lookup(key, search->now);
  if (!lookup.hit()) return 0;
  search->found = lookup;
  search->found.owner_key = {};  // `key` ends here; lookup_name_server() makes it again
  search->name = name;
  search->name_len = size;
  return 1;
}

// The rule listing `address` by the longest prefix nsip rules use; a miss if none does.
LookupResult lookup_name_server_address(const VerdictStore& store, const std::uint8_t* address,
                                        std::size_t size, std::int64_t now, NameKey& key,
                                        unsigned* prefix_length) noexcept {
  for (std::uint8_t length : store.nsip_lengths(size == 4 ? 4 : 6)) {
    if (!address_rule_key(address, size, length, key, kRpzNsipLabel)) continue;
    LookupResult lookup = store.lookup(key, now);
    // Only the rule on the prefix's own name: its ancestors ("zz.db8.2001.rpz-nsip") are no
    // prefixes.
    if (lookup.hit() && lookup.owner_labels == key.label_count) {
      if (prefix_length != nullptr) *prefix_length = length;
      return lookup;
    }
  }
  return {};
}

int visit_name_server_address(const std::uint8_t* address, std::size_t size, void* argument) {
  auto* search = static_cast<NameServerSearch*>(argument);
  NameKey key;
  unsigned length = 0;
  LookupResult lookup =
      lookup_name_server_address(*search->store, address, size, search->now, key, &length);
  if (!lookup.hit()) return 0;
  search->found = lookup;
  search->found.owner_key = {};
  std::memcpy(search->address, address, size);
  search->address_size = size;
  search->prefix_length = length;
  return 1;
}

}  // namespace

LookupResult listed_name_server(const VerdictStore& store, module_qstate* qstate,
                                QueryState& query, std::int64_t now) noexcept {
  if (!store.has_name_server_rules()) return {};
  NameServerSearch search{&store, now, {}};
  if (!dnsverdict_visit_delegation(qstate, &visit_name_server, &visit_name_server_address,
                                   &search)) {
    return {};
  }
  if (search.name != nullptr) {
    auto* copy = static_cast<std::uint8_t*>(
        regional_alloc_init(qstate->region, search.name, search.name_len));
    if (copy == nullptr) return {};
    query.ns_trigger = QueryState::kNsName;
    query.ns_name = copy;
    query.ns_name_len = search.name_len;
  } else {
    query.ns_trigger = QueryState::kNsAddress;
    std::memcpy(query.ns_address, search.address, search.address_size);
    query.ns_address_size = static_cast<std::uint8_t>(search.address_size);
    query.ns_prefix_length = static_cast<std::uint8_t>(search.prefix_length);
  }
  return search.found;
}

LookupResult lookup_name_server(const VerdictStore& store, const QueryState& query,
                                NameKey& key) noexcept {
  if (query.ns_trigger == QueryState::kNsName) {
    if (!name_server_rule_key(query.ns_name, query.ns_name_len, key)) return {};
    return store.lookup(key, now_seconds());
  }
  if (query.ns_trigger == QueryState::kNsAddress) {
    if (!address_rule_key(query.ns_address, query.ns_address_size, query.ns_prefix_length, key,
                          kRpzNsipLabel)) {
      return {};
    }
    LookupResult lookup = store.lookup(key, now_seconds());
    if (lookup.hit() && lookup.owner_labels == key.label_count) return lookup;
    // The store changed since: any prefix of the address that a rule lists now.
    return lookup_name_server_address(store, query.ns_address, query.ns_address_size,
                                      now_seconds(), key, nullptr);
  }
  return {};
}

void submit_hit(ModuleState& state, const Decision& decision, const LookupResult& lookup,
                const VerdictStore& store, const query_info& qinfo,
                const dnsverdict_client& client, const char* note, Trigger trigger) noexcept {
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
  record.trigger = trigger;
  if (client.family != 0) record.set_client(client.family, client.address, client.port);
  state.hit_log->submit(record);
}

}  // namespace dnsverdict::glue
