// The control-socket replies of the metrics actor rendered as JSON, and the details log table.
#include "actors/stats_json.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/logging.hpp"

namespace tenantrt {

namespace {

using json = nlohmann::ordered_json;

/// Samples shown as "recentMetrics" in stats and details.
constexpr size_t recent_samples = 10;

std::string dump_json(const json& reply) {
  // Replace rather than throw on a byte sequence that is not UTF-8.
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

json to_json(const warning& w) {
  json out{{"code", w.code}, {"message", w.message}, {"value", w.value},
           {"threshold", w.threshold}};
  if (!w.cluster.empty())
    out["cluster"] = w.cluster;
  if (!w.tenants.empty())
    out["tenants"] = w.tenants;
  return out;
}

json to_json(const std::vector<warning>& warnings) {
  json out = json::array();
  for (auto& w : warnings)
    out.push_back(to_json(w));
  return out;
}

json to_json(const metrics_sample& s) {
  return json{{"timestamp", s.timestamp},  {"totalConnections", s.total_connections},
              {"activeTenants", s.active_tenants}, {"inflight", s.inflight},
              {"ops", s.ops},              {"errors", s.errors},
              {"p50Us", s.p50_us},         {"p99Us", s.p99_us},
              {"waiters", s.waiters},      {"waitTimeouts", s.wait_timeouts}};
}

json samples_json(const std::deque<metrics_sample>& history, size_t limit) {
  json out = json::array();
  auto count = limit == 0 ? history.size() : std::min(limit, history.size());
  for (auto i = history.size() - count; i < history.size(); ++i)
    out.push_back(to_json(history[i]));
  return out;
}

json latency_json(const latency_summary& latency) {
  return json{{"count", latency.count},
              {"sumUs", latency.sum_us},
              {"maxUs", latency.max_us},
              {"p50Us", latency.quantile_us(0.5)},
              {"p99Us", latency.quantile_us(0.99)}};
}

json pool_json(const pool_counters& pool) {
  return json{{"open", pool.open},
              {"inUse", pool.in_use},
              {"idle", pool.idle},
              {"waiters", pool.waiters},
              {"maxPoolSize", pool.max_pool_size},
              {"minPoolSize", pool.min_pool_size},
              {"createdTotal", pool.created_total},
              {"closedTotal", pool.closed_total},
              {"waitTimeoutsTotal", pool.wait_timeouts_total},
              {"connectFailuresTotal", pool.connect_failures_total},
              {"backoffRejectionsTotal", pool.backoff_rejections_total},
              {"backoffMs", pool.backoff_ms},
              {"tenantPools", pool.tenant_pools}};
}

json stats_json(const observation& obs, const std::vector<warning>& warnings,
                const std::deque<metrics_sample>& history, tenant_detail detail) {
  auto& r = obs.registry;
  json connections = json::array();
  for (auto& row : r.tenants) {
    json c{{"tenant", row.tenant},
           {"database", row.database},
           {"cluster", row.cluster},
           {"state", row.state},
           {"lastUsed", iso8601_utc(row.last_used_unix_ms)},
           {"idleMs", row.idle_ms},
           {"useCount", row.use_count},
           {"inflight", inflight_of(row)},
           {"ops", row.counters.ops},
           {"errors", row.counters.errors}};
    if (detail == tenant_detail::with_latency)
      c["latency"] = latency_json(row.counters.latency);
    connections.push_back(std::move(c));
  }
  json clusters = json::object();
  for (auto& [name, pool] : obs.pools)
    clusters[name] = pool_json(pool);
  json tenant_dbs{{"activeConnections", r.active_tenants},
                  {"maxConnections", r.max_tenants},
                  // Tenant actors created since start (a tenant created
                  // again after a reap counts again).
                  {"registeredTenants", r.created_total},
                  {"drainingConnections", r.draining_tenants},
                  {"waiters", r.waiters},
                  {"inflight", r.inflight},
                  {"createdTotal", r.created_total},
                  {"reapedTotal", r.reaped_total},
                  {"evictedTotal", r.evicted_total},
                  {"crashedTotal", r.crashed_total},
                  {"limitTimeoutsTotal", r.limit_timeouts_total},
                  {"quarantined", r.quarantined},
                  {"connections", std::move(connections)}};
  json stats{{"totalConnections", obs.total_connections},
             {"mainDb", {{"name", r.main_database}, {"state", r.main_state}}},
             {"tenantDbs", std::move(tenant_dbs)},
             {"clusters", std::move(clusters)}};
  return json{{"timestamp", iso8601_utc(wall_unix_ms())},
              {"status", health_status(obs, warnings)},
              {"stats", std::move(stats)},
              {"recentMetrics", samples_json(history, recent_samples)},
              {"warnings", to_json(warnings)}};
}

} // namespace

std::string stats_reply(const observation& obs, const std::vector<warning>& warnings,
                        const std::deque<metrics_sample>& history, tenant_detail detail) {
  return dump_json(stats_json(obs, warnings, history, detail));
}

std::string history_reply(const std::deque<metrics_sample>& history, size_t limit) {
  return dump_json(json{{"samples", samples_json(history, limit)}});
}

std::string health_reply(const observation& obs, const std::vector<warning>& warnings) {
  return dump_json(json{{"status", health_status(obs, warnings)}, {"warnings", to_json(warnings)}});
}

std::string metrics_reply(const std::string& exposition_text) {
  return dump_json(json{{"text", exposition_text}});
}

void log_details_table(const observation& obs) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"tenant", "cluster", "database", "state", "idle_ms", "uses", "inflight", "ops",
                  "errors", "p50_us", "p99_us", "max_us"});
  for (auto& row : obs.registry.tenants) {
    auto& l = row.counters.latency;
    rows.push_back({row.tenant, row.cluster, row.database, row.state,
                    std::to_string(row.idle_ms), std::to_string(row.use_count),
                    std::to_string(inflight_of(row)), std::to_string(row.counters.ops),
                    std::to_string(row.counters.errors), std::to_string(l.quantile_us(0.5)),
                    std::to_string(l.quantile_us(0.99)), std::to_string(l.max_us)});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  log().info("details: {} of {} tenants active, {} physical connections, main database {} {}",
             obs.registry.active_tenants, obs.registry.max_tenants, obs.total_connections,
             obs.registry.main_database, obs.registry.main_state);
  for (auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      // Text columns left-aligned, numbers (from idle_ms on) right-aligned.
      line += c < 4 ? fmt::format("{:<{}}", row[c], widths[c])
                    : fmt::format("{:>{}}", row[c], widths[c]);
      if (c + 1 < row.size())
        line += "  ";
    }
    log().info("  {}", line);
  }
}

} // namespace tenantrt
