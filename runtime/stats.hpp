#pragma once
// The runtime's figures as plain structs: what a tenant gate counts, what the
// registry reports about its tenants, and what the facade's stats() returns.
// The actors carry them in messages (inspect() in actors/protocol.hpp); the
// metrics actor renders them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tenantrt {

/// Latency of a tenant's operations: totals plus a log2 histogram in µs
/// (bucket i counts ops with latency < 2^i µs, the last bucket the rest).
struct latency_summary {
  static constexpr size_t bucket_count = 24;
  uint64_t count = 0;
  uint64_t sum_us = 0;
  uint64_t max_us = 0;
  std::vector<uint64_t> buckets = std::vector<uint64_t>(bucket_count, 0);

  void record(uint64_t latency_us);
  /// Upper bound of the bucket holding quantile q (0..1), in µs; 0 when empty.
  uint64_t quantile_us(double q) const;
};

/// What a tenant actor knows about itself.
struct tenant_counters {
  uint32_t inflight = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  latency_summary latency;
};

/// One row of the registry's view, joined with the tenant's own counters.
struct tenant_stats {
  std::string tenant;
  std::string database;
  std::string cluster;
  /// "active" or "draining".
  std::string state;
  /// Wall-clock time of the last use, ms since the Unix epoch.
  int64_t last_used_unix_ms = 0;
  int64_t idle_ms = 0;
  uint64_t use_count = 0;
  /// Operations routed through the registry and not finished yet.
  uint32_t inflight = 0;
  tenant_counters counters;
};

/// The registry's answer to stats_atom.
struct registry_stats {
  uint32_t active_tenants = 0;
  uint32_t max_tenants = 0;
  /// Tenant actors told to stop that have not terminated yet.
  uint32_t draining_tenants = 0;
  uint32_t waiters = 0;
  uint32_t inflight = 0;
  uint64_t created_total = 0;
  uint64_t reaped_total = 0;
  uint64_t evicted_total = 0;
  uint64_t crashed_total = 0;
  uint64_t limit_timeouts_total = 0;
  std::vector<std::string> quarantined;
  std::string main_database;
  /// "connected", "connecting" or "disconnected".
  std::string main_state;
  std::vector<tenant_stats> tenants;
};

} // namespace tenantrt
