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

LookupResult listed_address(const VerdictStore& store, const ub_packed_rrset_key& rrset,
                            QueryState& query) noexcept {
  std::uint16_t type = ntohs(rrset.rk.type);
  std::size_t size = type == kTypeA ? 4 : type == kTypeAaaa ? 16 : 0;
  auto* data = static_cast<const packed_rrset_data*>(rrset.entry.data);
  if (size == 0 || data == nullptr || !store.has_address_rules()) return {};
  for (std::size_t r = 0; r < data->count; ++r) {
    const std::uint8_t* address = rdata_address(data->rr_data[r], data->rr_len[r], size);
    if (address == nullptr) continue;
    NameKey key;
    LookupResult lookup = lookup_address(store, address, size, key);
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
