// Metrics warnings and health: one rule per warning code, the health status, their log lines.
#include "actors/metrics_warnings.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "runtime/logging.hpp"

namespace tenantrt {

namespace {

/// The main database's cluster: main_cluster, else default_cluster.
const std::string& main_cluster_of(const runtime_config& config) {
  return config.main_cluster.empty() ? config.default_cluster : config.main_cluster;
}

/// Samples in a row a non-main cluster must stay below min_pool_size before
/// it is reported unreachable: the pool maintainer tops pools up every
/// pool_maintenance_interval_ms (normally far shorter than a sample
/// interval) and stops at the first ping that fails, so a shortfall that
/// outlives a whole interval means its pings keep failing.
constexpr uint32_t shortfall_samples_to_warn = 2;

} // namespace

bool short_of_minimum(const pool_counters& pool) {
  return pool.min_pool_size > 0 && pool.open < pool.min_pool_size;
}

std::vector<warning> compute_warnings(const runtime_config& config, const observation& obs,
                                      const warning_inputs& in) {
  std::vector<warning> out;
  auto& m = config.metrics;
  if (obs.total_connections > m.warn_total_connections)
    out.push_back({"high_connection_count",
                   fmt::format("{} physical connections open, above the threshold of {}",
                               obs.total_connections, m.warn_total_connections),
                   obs.total_connections, m.warn_total_connections, {}, {}});
  auto max_tenants = uint64_t{obs.registry.max_tenants};
  auto active = uint64_t{obs.registry.active_tenants};
  if (max_tenants > 0 && active * 100 >= uint64_t{m.warn_tenant_limit_percent} * max_tenants) {
    auto threshold = (uint64_t{m.warn_tenant_limit_percent} * max_tenants + 99) / 100;
    out.push_back({"tenant_limit_near",
                   fmt::format("{} of {} tenant connections active ({}% warns)", active,
                               max_tenants, m.warn_tenant_limit_percent),
                   active, threshold, {}, {}});
  }
  for (auto& [cluster, pool] : obs.pools) {
    // A checkout waits only when its pool has max_pool_size open; per-tenant
    // pools are summed per cluster, so there waiters alone say one is full.
    if (pool.waiters > 0 && (pool.open >= pool.max_pool_size || pool.tenant_pools > 0))
      out.push_back({"pool_saturated",
                     fmt::format("cluster '{}': {} of {} connections open and {} checkouts "
                                 "waiting",
                                 cluster, pool.open, pool.max_pool_size, pool.waiters),
                     pool.open, pool.max_pool_size, cluster, {}});
  }
  if (in.wait_timeouts > 0)
    out.push_back({"wait_timeouts",
                   fmt::format("{} caller(s) gave up waiting for a pooled connection or a "
                               "tenant slot in the last sample interval",
                               in.wait_timeouts),
                   in.wait_timeouts, 0, {}, {}});
  auto& main_cluster = main_cluster_of(config);
  if (in.main_down_streak > 0)
    out.push_back({"cluster_unreachable",
                   fmt::format("cluster '{}': the main database '{}' is disconnected (its "
                               "last ping or command did not reach the server)",
                               main_cluster, obs.registry.main_database),
                   in.main_down_streak, 1, main_cluster, {}});
  for (auto& [cluster, streak] : in.shortfall_streaks) {
    if (cluster == main_cluster || streak < shortfall_samples_to_warn)
      continue;
    auto pool = obs.pools.find(cluster);
    if (pool == obs.pools.end())
      continue;
    out.push_back({"cluster_unreachable",
                   fmt::format("cluster '{}': {} of at least {} connections open for {} samples "
                               "in a row; its pool cannot connect",
                               cluster, pool->second.open, pool->second.min_pool_size, streak),
                   streak, shortfall_samples_to_warn, cluster, {}});
  }
  if (!obs.registry.quarantined.empty()) {
    std::string names;
    for (auto& tenant : obs.registry.quarantined)
      names += (names.empty() ? "" : ", ") + tenant;
    out.push_back({"tenant_quarantined",
                   fmt::format("{} tenant(s) quarantined after repeated crashes: {}",
                               obs.registry.quarantined.size(), names),
                   obs.registry.quarantined.size(), 0, {}, obs.registry.quarantined});
  }
  return out;
}

std::string health_status(const observation& obs, const std::vector<warning>& warnings) {
  if (obs.registry.main_state == "disconnected")
    return "down";
  return warnings.empty() ? "ok" : "degraded";
}

warning_inputs on_demand_inputs(const warning_inputs& at_last_sample,
                                const interval_figures& since_last_sample,
                                const observation& obs) {
  warning_inputs in;
  auto since = since_last_sample.pool_wait_timeouts + since_last_sample.limit_timeouts;
  in.wait_timeouts = std::max(at_last_sample.wait_timeouts, since);
  if (obs.registry.main_state == "disconnected")
    in.main_down_streak = std::max<uint32_t>(at_last_sample.main_down_streak, 1);
  for (auto& [cluster, pool] : obs.pools) {
    auto streak = at_last_sample.shortfall_streaks.find(cluster);
    if (short_of_minimum(pool) && streak != at_last_sample.shortfall_streaks.end())
      in.shortfall_streaks[cluster] = streak->second;
  }
  return in;
}

void log_warning_changes(std::set<std::string>& raised, const std::vector<warning>& warnings) {
  std::set<std::string> now;
  for (auto& w : warnings) {
    now.insert(w.key());
    if (raised.count(w.key()) == 0)
      log().warn("metrics warning {}: {}", w.code, w.message);
  }
  for (auto& key : raised)
    if (now.count(key) == 0)
      log().info("metrics warning {} cleared", key);
  raised = std::move(now);
}

} // namespace tenantrt
