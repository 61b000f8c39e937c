#pragma once
// Metrics warnings and health: the rules that read an observation and raise warnings.
//
// The metrics actor computes them at each sample (and logs each raised and
// cleared once) and on demand for stats, details and health, whose replies
// render them (actors/stats_json.hpp); the Prometheus exposition counts them
// by code. Pure functions of their input, no CAF.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/metrics_sample.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

/// Every warning code, for the Prometheus warning gauge.
inline constexpr const char* warning_codes[] = {"high_connection_count", "tenant_limit_near",
                                                "pool_saturated",        "wait_timeouts",
                                                "cluster_unreachable",   "tenant_quarantined"};

/// One warning raised: a code of warning_codes, a message for operators, and
/// the figure that crossed its threshold.
struct warning {
  std::string code;
  std::string message;
  uint64_t value = 0;
  uint64_t threshold = 0;
  /// Set for per-cluster warnings.
  std::string cluster;
  /// Set for tenant_quarantined.
  std::vector<std::string> tenants;

  /// How raising and clearing are tracked: one per code and cluster.
  std::string key() const { return cluster.empty() ? code : code + "/" + cluster; }
};

/// What the warning rules look at besides the observation itself.
struct warning_inputs {
  /// Pool wait timeouts plus tenant-limit timeouts in the last interval.
  uint64_t wait_timeouts = 0;
  /// Consecutive observations with the main database disconnected.
  uint32_t main_down_streak = 0;
  /// Per cluster: consecutive samples with open < min_pool_size.
  std::map<std::string, uint32_t> shortfall_streaks;
};

/// Whether a cluster's pool shows the unreachable pattern right now.
bool short_of_minimum(const pool_counters& pool);

/// The warnings an observation raises, in a fixed order of the rules.
std::vector<warning> compute_warnings(const runtime_config& config, const observation& obs,
                                      const warning_inputs& in);

/// "down" while the main database is disconnected, else "degraded" with any
/// warning, else "ok".
std::string health_status(const observation& obs, const std::vector<warning>& warnings);

/// Inputs for warnings computed on demand between samples: the streaks of
/// the last sample if the condition still holds, and the wait timeouts of
/// the last interval or since it, whichever is larger.
warning_inputs on_demand_inputs(const warning_inputs& at_last_sample,
                                const interval_figures& since_last_sample,
                                const observation& obs);

/// Logs each warning raised since the previous call (warn) and each cleared
/// (info), once; `raised` keeps the keys in between.
void log_warning_changes(std::set<std::string>& raised, const std::vector<warning>& warnings);

} // namespace tenantrt
