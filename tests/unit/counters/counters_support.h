// Fixtures of the counter tests: a fixed client-hash key, and counter options that count
// with it from the start (the module's counters wait for the stats store's key instead).
#pragma once

#include "client_hash.h"
#include "hit_counters.h"

namespace dnsverdict::testing {

inline ClientHashKey client_key() {
  return *ClientHashKey::parse("000102030405060708090a0b0c0d0e0f");
}

inline HitCounters::Options counting(HitCounters::Options options = {}) {
  options.client_key = client_key();
  return options;
}

}  // namespace dnsverdict::testing
