#pragma once
// Metrics samples: the sample model, an observation of the runtime, deltas between samples.
//
// Used by the metrics actor (actors/metrics.hpp), which keeps the history and
// the baselines, and by what it computes from an observation: the warnings
// (actors/metrics_warnings.hpp), the control-socket replies
// (actors/stats_json.hpp) and the Prometheus exposition
// (actors/prometheus_exposition.hpp). No CAF here: pure functions of their
// input.
//
// Intervals are measured between samples: ops, errors, latency quantiles and
// wait timeouts of a sample are what changed since the previous sample.

#include <cstdint>
#include <map>
#include <string>

#include "runtime/cluster_pool.hpp"
#include "runtime/stats.hpp"

namespace tenantrt {

/// One point of the history; what changed since the previous sample.
struct metrics_sample {
  /// ISO-8601 UTC with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
  std::string timestamp;
  /// Physical connections open, all clusters (sum of pool_counters::open).
  uint64_t total_connections = 0;
  uint32_t active_tenants = 0;
  /// Operations in flight at the sample.
  uint64_t inflight = 0;
  /// Operations finished (and failed) since the previous sample.
  uint64_t ops = 0;
  uint64_t errors = 0;
  /// Latency quantiles of the operations since the previous sample, in µs:
  /// upper bounds of log2 buckets (see latency_summary), 0 without ops.
  uint64_t p50_us = 0;
  uint64_t p99_us = 0;
  /// Callers waiting now: at the tenant limit plus for a pooled connection.
  uint64_t waiters = 0;
  /// Pool wait timeouts plus tenant-limit timeouts since the previous sample.
  uint64_t wait_timeouts = 0;
};

/// A fresh look at the runtime: the registry's reply plus the pools.
struct observation {
  registry_stats registry;
  std::map<std::string, pool_counters> pools;
  uint64_t total_connections = 0;
  uint64_t pool_waiters = 0;
};

/// The observation of the registry's stats and the pools' counters (per
/// cluster); connections and pool waiters are summed over the clusters.
observation observation_of(registry_stats registry, std::map<std::string, pool_counters> pools);

/// Operations in flight: the tenants' own count (it includes work of callers
/// that acquired a tenant and run on it directly), never less than what the
/// registry routed.
uint64_t inflight_of(const tenant_stats& row);

// --- deltas between samples

/// The counters of the previous sample, where the next sample's deltas start.
struct sample_baselines {
  /// Each tenant's counters at the previous sample (tenants gone since are
  /// dropped: their work after that sample is lost to the deltas).
  std::map<std::string, tenant_counters> tenants;
  std::map<std::string, pool_counters> pools;
  uint64_t limit_timeouts_total = 0;
};

/// The baselines an observation leaves for the sample after it.
sample_baselines baselines_of(const observation& obs);

/// What changed since the baselines of the previous sample.
struct interval_figures {
  uint64_t ops = 0;
  uint64_t errors = 0;
  /// The interval's operations merged from the tenants' histogram deltas.
  /// max_us is an approximation: the largest lifetime maximum among the
  /// tenants that finished work in the interval (it only caps the quantiles).
  latency_summary latency;
  uint64_t pool_wait_timeouts = 0;
  uint64_t limit_timeouts = 0;
};

/// What changed between the baselines and the observation. A tenant whose
/// counters went down was restarted (a new actor): all its counts are new.
interval_figures interval_since(const sample_baselines& baselines, const observation& obs);

/// The sample of an observation, given the interval that led to it.
metrics_sample sample_of(const observation& obs, const interval_figures& interval,
                         std::string timestamp);

/// A sum over owners that may disappear (per-tenant pools closing): a smaller
/// value means counts left with an owner, and nothing new can be told apart.
uint64_t grown_or_zero(uint64_t now, uint64_t before);

// --- time stamps

/// Wall-clock time now, ms since the Unix epoch.
int64_t wall_unix_ms();

/// ISO-8601 UTC with milliseconds ("2024-05-01T12:00:00.123Z").
std::string iso8601_utc(int64_t unix_ms);

} // namespace tenantrt
