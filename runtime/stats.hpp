#pragma once
// The runtime's figures as plain structs: what a pool and a tenant gate
// count, what the registry reports about its tenants, and what the facade's
// stats() returns.
// The actors carry them in messages (inspect() in actors/protocol.hpp); the
// metrics actor renders them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tenantrt {

/// A cluster_pool's counters (connections are mongoc clients; see
/// runtime/cluster_pool.hpp).
struct pool_counters {
  /// Connections open now: idle + in use + being connected by maintain().
  uint64_t open = 0;
  /// Connections handed out by checkout() and not yet returned.
  uint64_t in_use = 0;
  /// Connections waiting in the pool.
  uint64_t idle = 0;
  /// Checkouts waiting for a free connection.
  uint64_t waiters = 0;
  /// Connections ever created.
  uint64_t created_total = 0;
  /// Connections ever closed.
  uint64_t closed_total = 0;
  /// Checkouts that gave up after wait_queue_timeout_ms.
  uint64_t wait_timeouts_total = 0;
  /// New connections that could not reach the server (checkout or maintain()).
  uint64_t connect_failures_total = 0;
  /// Checkouts refused with server_unreachable during a connect back-off.
  uint64_t backoff_rejections_total = 0;
  /// Current back-off step in ms, 0 while the server answers (summed pools
  /// keep the largest).
  uint64_t backoff_ms = 0;
  /// Configured cap (summed when pools are summed).
  uint64_t max_pool_size = 0;
  /// Configured warm minimum (summed when pools are summed).
  uint64_t min_pool_size = 0;
  /// Per-tenant pools summed into these counters (0 for a shared pool).
  uint64_t tenant_pools = 0;

  /// Adds every field of other (used to sum per-tenant pools per cluster).
  pool_counters& operator+=(const pool_counters& other);
};

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
