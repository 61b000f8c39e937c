// Metrics samples: observing the runtime, the deltas between samples, time stamps.
#include "actors/metrics_sample.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace tenantrt {

namespace {

/// A counter that only grows while its owner lives; a smaller value means a
/// new owner (e.g. a tenant reaped and created again), whose count is all new.
uint64_t grown(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

/// Whether a tenant's counters were restarted (a new actor) since `before`:
/// every one of them only grows while an actor lives. A new actor that has
/// already overtaken every figure of the old one is not told apart (its
/// interval then counts only what exceeds the old figures).
bool restarted(const tenant_counters& now, const tenant_counters& before) {
  return now.ops < before.ops || now.errors < before.errors
         || now.latency.count < before.latency.count
         || now.latency.sum_us < before.latency.sum_us
         || now.latency.max_us < before.latency.max_us;
}

} // namespace

observation observation_of(registry_stats registry, std::map<std::string, pool_counters> pools) {
  observation obs;
  obs.registry = std::move(registry);
  obs.pools = std::move(pools);
  for (auto& [cluster, pool] : obs.pools) {
    obs.total_connections += pool.open;
    obs.pool_waiters += pool.waiters;
  }
  return obs;
}

uint64_t inflight_of(const tenant_stats& row) {
  return std::max<uint64_t>(row.inflight, row.counters.inflight);
}

// --- deltas between samples

sample_baselines baselines_of(const observation& obs) {
  sample_baselines out;
  for (auto& row : obs.registry.tenants)
    out.tenants.emplace(row.tenant, row.counters);
  out.pools = obs.pools;
  out.limit_timeouts_total = obs.registry.limit_timeouts_total;
  return out;
}

uint64_t grown_or_zero(uint64_t now, uint64_t before) { return now >= before ? now - before : 0; }

interval_figures interval_since(const sample_baselines& baselines, const observation& obs) {
  interval_figures out;
  for (auto& row : obs.registry.tenants) {
    auto& now = row.counters;
    auto found = baselines.tenants.find(row.tenant);
    bool fresh = found == baselines.tenants.end() || restarted(now, found->second);
    static const tenant_counters zero;
    auto& before = fresh ? zero : found->second;
    out.ops += now.ops - before.ops;
    out.errors += now.errors - before.errors;
    auto count = now.latency.count - before.latency.count;
    if (count == 0)
      continue;
    out.latency.count += count;
    out.latency.sum_us += now.latency.sum_us - before.latency.sum_us;
    out.latency.max_us = std::max(out.latency.max_us, now.latency.max_us);
    for (size_t b = 0; b < out.latency.buckets.size() && b < now.latency.buckets.size(); ++b) {
      auto prior = b < before.latency.buckets.size() ? before.latency.buckets[b] : 0;
      out.latency.buckets[b] += grown(now.latency.buckets[b], prior);
    }
  }
  for (auto& [cluster, pool] : obs.pools) {
    auto found = baselines.pools.find(cluster);
    auto before = found == baselines.pools.end() ? 0 : found->second.wait_timeouts_total;
    out.pool_wait_timeouts += grown_or_zero(pool.wait_timeouts_total, before);
  }
  out.limit_timeouts = grown(obs.registry.limit_timeouts_total, baselines.limit_timeouts_total);
  return out;
}

metrics_sample sample_of(const observation& obs, const interval_figures& interval,
                         std::string timestamp) {
  metrics_sample s;
  s.timestamp = std::move(timestamp);
  s.total_connections = obs.total_connections;
  s.active_tenants = obs.registry.active_tenants;
  uint64_t tenant_inflight = 0;
  for (auto& row : obs.registry.tenants)
    tenant_inflight += inflight_of(row);
  s.inflight = std::max<uint64_t>(tenant_inflight, obs.registry.inflight);
  s.ops = interval.ops;
  s.errors = interval.errors;
  s.p50_us = interval.latency.quantile_us(0.5);
  s.p99_us = interval.latency.quantile_us(0.99);
  s.waiters = obs.registry.waiters + obs.pool_waiters;
  s.wait_timeouts = interval.pool_wait_timeouts + interval.limit_timeouts;
  return s;
}

// --- time stamps

int64_t wall_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string iso8601_utc(int64_t unix_ms) {
  auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  auto millis = unix_ms % 1000;
  if (millis < 0) { // before 1970: floor, not truncate
    millis += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis);
}

} // namespace tenantrt
