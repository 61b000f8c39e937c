// The control-socket replies of the metrics actor rendered as JSON, and the details log table.
#include "actors/stats_json.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "actors/stats_schema.hpp"
#include "runtime/logging.hpp"

namespace tenantrt {

namespace {

using json = nlohmann::ordered_json;
namespace field = stats_schema;

/// Samples shown as recentMetrics in stats and details.
constexpr size_t recent_samples = 10;

std::string dump_json(const json& reply) {
  // Replace rather than throw on a byte sequence that is not UTF-8.
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

json to_json(const warning& w) {
  json out{{field::warning::code, w.code},
           {field::warning::message, w.message},
           {field::warning::value, w.value},
           {field::warning::threshold, w.threshold}};
  if (!w.cluster.empty())
    out[field::warning::cluster] = w.cluster;
  if (!w.tenants.empty())
    out[field::warning::tenants] = w.tenants;
  return out;
}

json to_json(const std::vector<warning>& warnings) {
  json out = json::array();
  for (auto& w : warnings)
    out.push_back(to_json(w));
  return out;
}

json to_json(const metrics_sample& s) {
  namespace key = field::sample;
  return json{{key::timestamp, s.timestamp},
              {key::total_connections, s.total_connections},
              {key::active_tenants, s.active_tenants},
              {key::inflight, s.inflight},
              {key::ops, s.ops},
              {key::errors, s.errors},
              {key::p50_us, s.p50_us},
              {key::p99_us, s.p99_us},
              {key::waiters, s.waiters},
              {key::wait_timeouts, s.wait_timeouts}};
}

json samples_json(const std::deque<metrics_sample>& history, size_t limit) {
  json out = json::array();
  auto count = limit == 0 ? history.size() : std::min(limit, history.size());
  for (auto i = history.size() - count; i < history.size(); ++i)
    out.push_back(to_json(history[i]));
  return out;
}

json latency_json(const latency_summary& latency) {
  namespace key = field::latency;
  return json{{key::count, latency.count},
              {key::sum_us, latency.sum_us},
              {key::max_us, latency.max_us},
              {key::p50_us, latency.quantile_us(0.5)},
              {key::p99_us, latency.quantile_us(0.99)}};
}

json pool_json(const pool_counters& pool) {
  namespace key = field::pool;
  return json{{key::open, pool.open},
              {key::in_use, pool.in_use},
              {key::idle, pool.idle},
              {key::waiters, pool.waiters},
              {key::max_pool_size, pool.max_pool_size},
              {key::min_pool_size, pool.min_pool_size},
              {key::created_total, pool.created_total},
              {key::closed_total, pool.closed_total},
              {key::wait_timeouts_total, pool.wait_timeouts_total},
              {key::connect_failures_total, pool.connect_failures_total},
              {key::backoff_rejections_total, pool.backoff_rejections_total},
              {key::backoff_ms, pool.backoff_ms},
              {key::tenant_pools, pool.tenant_pools}};
}

json stats_json(const observation& obs, const std::vector<warning>& warnings,
                const std::deque<metrics_sample>& history, tenant_detail detail) {
  auto& r = obs.registry;
  json connections = json::array();
  for (auto& row : r.tenants) {
    namespace key = field::connection;
    json c{{key::tenant, row.tenant},
           {key::database, row.database},
           {key::cluster, row.cluster},
           {key::state, row.state},
           {key::last_used, iso8601_utc(row.last_used_unix_ms)},
           {key::idle_ms, row.idle_ms},
           {key::use_count, row.use_count},
           {key::inflight, inflight_of(row)},
           {key::ops, row.counters.ops},
           {key::errors, row.counters.errors}};
    if (detail == tenant_detail::with_latency)
      c[key::latency] = latency_json(row.counters.latency);
    connections.push_back(std::move(c));
  }
  json clusters = json::object();
  for (auto& [name, pool] : obs.pools)
    clusters[name] = pool_json(pool);
  namespace dbs = field::tenant_dbs;
  json tenant_dbs{{dbs::active_connections, r.active_tenants},
                  {dbs::max_connections, r.max_tenants},
                  // Tenant actors created since start (a tenant created
                  // again after a reap counts again).
                  {dbs::registered_tenants, r.created_total},
                  {dbs::draining_connections, r.draining_tenants},
                  {dbs::waiters, r.waiters},
                  {dbs::inflight, r.inflight},
                  {dbs::created_total, r.created_total},
                  {dbs::reaped_total, r.reaped_total},
                  {dbs::evicted_total, r.evicted_total},
                  {dbs::crashed_total, r.crashed_total},
                  {dbs::limit_timeouts_total, r.limit_timeouts_total},
                  {dbs::quarantined, r.quarantined},
                  {dbs::connections, std::move(connections)}};
  json main_db{{field::main_db::name, r.main_database}, {field::main_db::state, r.main_state}};
  json stats{{field::stats::total_connections, obs.total_connections},
             {field::stats::main_db, std::move(main_db)},
             {field::stats::tenant_dbs, std::move(tenant_dbs)},
             {field::stats::clusters, std::move(clusters)}};
  namespace key = field::stats_reply;
  return json{{key::timestamp, iso8601_utc(wall_unix_ms())},
              {key::status, health_status(obs, warnings)},
              {key::stats, std::move(stats)},
              {key::recent_metrics, samples_json(history, recent_samples)},
              {key::warnings, to_json(warnings)}};
}

} // namespace

std::string stats_reply(const observation& obs, const std::vector<warning>& warnings,
                        const std::deque<metrics_sample>& history, tenant_detail detail) {
  return dump_json(stats_json(obs, warnings, history, detail));
}

std::string history_reply(const std::deque<metrics_sample>& history, size_t limit) {
  return dump_json(json{{field::history_reply::samples, samples_json(history, limit)}});
}

std::string health_reply(const observation& obs, const std::vector<warning>& warnings) {
  return dump_json(json{{field::health_reply::status, health_status(obs, warnings)},
                        {field::health_reply::warnings, to_json(warnings)}});
}

std::string metrics_reply(const std::string& exposition_text) {
  return dump_json(json{{field::metrics_reply::text, exposition_text}});
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
