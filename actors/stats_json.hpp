#pragma once
// The metrics actor's control-socket replies as JSON: stats, details, history, health, metrics.
//
// Rendered by the metrics actor (actors/metrics.cpp) from an observation, its
// warnings and the history; read by tenantctl (tools/tenantctl_render.cpp).
// Each reply is one JSON object as text, without "id" and "ok" (the control
// server adds those). Pure functions of their input apart from the reply's
// "timestamp" (the wall clock now); no CAF.

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "actors/metrics_sample.hpp"
#include "actors/metrics_warnings.hpp"

namespace tenantrt {

/// How much of each tenant a stats reply shows.
enum class tenant_detail {
  counters,     // stats: counters only.
  with_latency, // details: plus each tenant's latency figures.
};

/// The reply of stats (tenant_detail::counters) or details (with_latency):
/// health status, the runtime's figures, the recent samples and the warnings.
std::string stats_reply(const observation& obs, const std::vector<warning>& warnings,
                        const std::deque<metrics_sample>& history, tenant_detail detail);

/// The reply of history: the last `limit` samples, oldest first (0: all).
std::string history_reply(const std::deque<metrics_sample>& history, size_t limit);

/// The reply of health: the status and the warnings.
std::string health_reply(const observation& obs, const std::vector<warning>& warnings);

/// The reply of metrics: the Prometheus exposition text.
std::string metrics_reply(const std::string& exposition_text);

/// The details table, aligned, one log line per row (info).
void log_details_table(const observation& obs);

} // namespace tenantrt
