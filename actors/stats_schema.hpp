#pragma once
// The metrics actor's reply field names (stats, details, history, health, metrics), named once.
//
// Written by actors/stats_json.cpp, read by tenantctl (tools/tenantctl_render.cpp);
// docs/control-protocol.md describes the replies. Header-only and standard
// library only, because tenantctl links nothing but nlohmann_json. One
// namespace per JSON object; tenantctl_reads at the end lists every field
// tenantctl reads, and tests/actors/stats_schema_test.cpp checks that a
// rendered reply has each of them.

#include <array>

namespace tenantrt::stats_schema {

/// The stats and details replies.
namespace stats_reply {
/// When the reply was rendered: ISO-8601 UTC with milliseconds.
inline constexpr const char* timestamp = "timestamp";
/// The health status, as health_reply::status.
inline constexpr const char* status = "status";
/// The runtime's figures now (an object, see namespace stats).
inline constexpr const char* stats = "stats";
/// The last 10 samples, oldest first (objects, see namespace sample).
inline constexpr const char* recent_metrics = "recentMetrics";
/// The warnings now (objects, see namespace warning).
inline constexpr const char* warnings = "warnings";
} // namespace stats_reply

/// The "stats" object of stats and details.
namespace stats {
/// Physical connections open, all clusters.
inline constexpr const char* total_connections = "totalConnections";
/// The main database (an object, see namespace main_db).
inline constexpr const char* main_db = "mainDb";
/// The tenants (an object, see namespace tenant_dbs).
inline constexpr const char* tenant_dbs = "tenantDbs";
/// Each cluster's pool figures by cluster name (objects, see namespace pool).
inline constexpr const char* clusters = "clusters";
} // namespace stats

/// The "mainDb" object.
namespace main_db {
/// The main database's name.
inline constexpr const char* name = "name";
/// "connecting", "connected" or "disconnected".
inline constexpr const char* state = "state";
} // namespace main_db

/// The "tenantDbs" object: the registry's figures.
namespace tenant_dbs {
/// Tenants with a live actor.
inline constexpr const char* active_connections = "activeConnections";
/// registry.max_tenant_connections.
inline constexpr const char* max_connections = "maxConnections";
/// Tenant actors created since start (a tenant created again after a reap counts again).
inline constexpr const char* registered_tenants = "registeredTenants";
/// Tenant actors told to stop that have not terminated yet.
inline constexpr const char* draining_connections = "drainingConnections";
/// Callers waiting for a tenant slot at the tenant limit.
inline constexpr const char* waiters = "waiters";
/// Operations routed through the registry and not finished yet.
inline constexpr const char* inflight = "inflight";
/// Tenant actors created since start.
inline constexpr const char* created_total = "createdTotal";
/// Tenants reaped after their idle timeout, since start.
inline constexpr const char* reaped_total = "reapedTotal";
/// Tenants evicted (LRU at the limit or on request), since start.
inline constexpr const char* evicted_total = "evictedTotal";
/// Tenant actors crashed, since start.
inline constexpr const char* crashed_total = "crashedTotal";
/// Callers refused at the tenant limit (queue full or wait timed out), since start.
inline constexpr const char* limit_timeouts_total = "limitTimeoutsTotal";
/// Ids of the tenants quarantined after repeated crashes.
inline constexpr const char* quarantined = "quarantined";
/// One row per tenant, sorted by tenant id (objects, see namespace connection).
inline constexpr const char* connections = "connections";
} // namespace tenant_dbs

/// One row of "connections": a tenant.
namespace connection {
/// The tenant id.
inline constexpr const char* tenant = "tenant";
/// The tenant's database.
inline constexpr const char* database = "database";
/// The cluster the tenant is routed to.
inline constexpr const char* cluster = "cluster";
/// "active" or "draining".
inline constexpr const char* state = "state";
/// Wall-clock time of the last use, ISO-8601 UTC.
inline constexpr const char* last_used = "lastUsed";
/// Milliseconds since the last use.
inline constexpr const char* idle_ms = "idleMs";
/// Uses of the tenant's current actor.
inline constexpr const char* use_count = "useCount";
/// Operations in flight on the tenant.
inline constexpr const char* inflight = "inflight";
/// Operations finished by the tenant's current actor.
inline constexpr const char* ops = "ops";
/// Operations failed on the tenant's current actor.
inline constexpr const char* errors = "errors";
/// details only: the latency of the current actor's operations (see namespace latency).
inline constexpr const char* latency = "latency";
} // namespace connection

/// The "latency" object of a details row.
namespace latency {
/// Operations measured.
inline constexpr const char* count = "count";
/// Their latencies summed, in µs.
inline constexpr const char* sum_us = "sumUs";
/// The largest latency, in µs.
inline constexpr const char* max_us = "maxUs";
/// Median latency in µs (upper bound of its log2 bucket).
inline constexpr const char* p50_us = "p50Us";
/// 99th percentile latency in µs (upper bound of its log2 bucket).
inline constexpr const char* p99_us = "p99Us";
} // namespace latency

/// One value of "clusters": a cluster's pool (per-tenant pools summed in).
namespace pool {
/// Connections open.
inline constexpr const char* open = "open";
/// Connections checked out.
inline constexpr const char* in_use = "inUse";
/// Connections idle in the pool.
inline constexpr const char* idle = "idle";
/// Checkouts waiting for a connection.
inline constexpr const char* waiters = "waiters";
/// The configured max_pool_size.
inline constexpr const char* max_pool_size = "maxPoolSize";
/// The configured min_pool_size.
inline constexpr const char* min_pool_size = "minPoolSize";
/// Connections created, since start.
inline constexpr const char* created_total = "createdTotal";
/// Connections closed, since start.
inline constexpr const char* closed_total = "closedTotal";
/// Checkouts that gave up after wait_queue_timeout_ms, since start.
inline constexpr const char* wait_timeouts_total = "waitTimeoutsTotal";
/// New connections that could not reach the server, since start.
inline constexpr const char* connect_failures_total = "connectFailuresTotal";
/// Checkouts refused during a connect back-off, since start.
inline constexpr const char* backoff_rejections_total = "backoffRejectionsTotal";
/// The current connect back-off step in ms, 0 while the server answers.
inline constexpr const char* backoff_ms = "backoffMs";
/// Per-tenant pools summed into these figures (0 for a shared pool).
inline constexpr const char* tenant_pools = "tenantPools";
} // namespace pool

/// One sample of "recentMetrics" or of history's "samples".
namespace sample {
/// When the sample was taken: ISO-8601 UTC with milliseconds.
inline constexpr const char* timestamp = "timestamp";
/// Physical connections open at the sample, all clusters.
inline constexpr const char* total_connections = "totalConnections";
/// Tenants with a live actor at the sample.
inline constexpr const char* active_tenants = "activeTenants";
/// Operations in flight at the sample.
inline constexpr const char* inflight = "inflight";
/// Operations finished since the previous sample.
inline constexpr const char* ops = "ops";
/// Operations failed since the previous sample.
inline constexpr const char* errors = "errors";
/// Median latency of the operations since the previous sample, in µs.
inline constexpr const char* p50_us = "p50Us";
/// 99th percentile latency of the operations since the previous sample, in µs.
inline constexpr const char* p99_us = "p99Us";
/// Callers waiting at the sample: at the tenant limit plus for a pooled connection.
inline constexpr const char* waiters = "waiters";
/// Pool wait timeouts plus tenant-limit timeouts since the previous sample.
inline constexpr const char* wait_timeouts = "waitTimeouts";
} // namespace sample

/// One warning of "warnings".
namespace warning {
/// The warning code ("high_connection_count", "pool_saturated", ...).
inline constexpr const char* code = "code";
/// What is wrong, for operators.
inline constexpr const char* message = "message";
/// The figure that crossed the threshold.
inline constexpr const char* value = "value";
/// The threshold it crossed.
inline constexpr const char* threshold = "threshold";
/// Per-cluster warnings only: the cluster.
inline constexpr const char* cluster = "cluster";
/// tenant_quarantined only: the tenants quarantined.
inline constexpr const char* tenants = "tenants";
} // namespace warning

/// The history reply.
namespace history_reply {
/// The sample ring (or its newest `limit` samples), oldest first (see namespace sample).
inline constexpr const char* samples = "samples";
} // namespace history_reply

/// The health reply.
namespace health_reply {
/// "ok", "degraded" (any warning) or "down" (the main database is disconnected).
inline constexpr const char* status = "status";
/// The warnings now (see namespace warning).
inline constexpr const char* warnings = "warnings";
} // namespace health_reply

/// The metrics reply.
namespace metrics_reply {
/// The Prometheus exposition text.
inline constexpr const char* text = "text";
} // namespace metrics_reply

// --- what tenantctl reads

/// The reply a field is read from.
enum class reply_kind { stats, details, history, health, metrics };

/// A key of field_path::keys that stands for every element of an array, or
/// every member of an object (the clusters by name).
inline constexpr const char* each = "*";

/// Where a field sits in a reply: the keys from the reply object down.
struct field_path {
  reply_kind reply;
  /// Unused trailing keys are nullptr.
  std::array<const char*, 6> keys;
};

/// Every field tools/tenantctl_render.cpp reads from these replies. Add a
/// path here when tenantctl reads a new field.
inline constexpr field_path tenantctl_reads[] = {
  // stats (and details): the header lines.
  {reply_kind::stats, {stats_reply::timestamp}},
  {reply_kind::stats, {stats_reply::status}},
  {reply_kind::stats, {stats_reply::stats, stats::main_db, main_db::name}},
  {reply_kind::stats, {stats_reply::stats, stats::main_db, main_db::state}},
  {reply_kind::stats, {stats_reply::stats, stats::tenant_dbs, tenant_dbs::active_connections}},
  {reply_kind::stats, {stats_reply::stats, stats::tenant_dbs, tenant_dbs::max_connections}},
  {reply_kind::stats, {stats_reply::stats, stats::tenant_dbs, tenant_dbs::registered_tenants}},
  {reply_kind::stats, {stats_reply::stats, stats::total_connections}},
  // The tenant table.
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::tenant}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::state}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::idle_ms}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::use_count}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::inflight}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::ops}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::errors}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::cluster}},
  {reply_kind::stats,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::database}},
  // details: the latency columns.
  {reply_kind::details,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::latency,
    latency::count}},
  {reply_kind::details,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::latency,
    latency::sum_us}},
  {reply_kind::details,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::latency,
    latency::max_us}},
  {reply_kind::details,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::latency,
    latency::p50_us}},
  {reply_kind::details,
   {stats_reply::stats, stats::tenant_dbs, tenant_dbs::connections, each, connection::latency,
    latency::p99_us}},
  // The pool table.
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::open}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::in_use}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::idle}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::waiters}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::min_pool_size}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::max_pool_size}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::created_total}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::closed_total}},
  {reply_kind::stats, {stats_reply::stats, stats::clusters, each, pool::wait_timeouts_total}},
  // The connection chart and the warnings.
  {reply_kind::stats, {stats_reply::recent_metrics, each, sample::total_connections}},
  {reply_kind::stats, {stats_reply::warnings, each, warning::code}},
  {reply_kind::stats, {stats_reply::warnings, each, warning::message}},
  {reply_kind::stats, {stats_reply::warnings, each, warning::value}},
  {reply_kind::stats, {stats_reply::warnings, each, warning::threshold}},
  // health.
  {reply_kind::health, {health_reply::status}},
  {reply_kind::health, {health_reply::warnings, each, warning::code}},
  {reply_kind::health, {health_reply::warnings, each, warning::message}},
  {reply_kind::health, {health_reply::warnings, each, warning::value}},
  {reply_kind::health, {health_reply::warnings, each, warning::threshold}},
  // history: one row per sample.
  {reply_kind::history, {history_reply::samples, each, sample::timestamp}},
  {reply_kind::history, {history_reply::samples, each, sample::total_connections}},
  {reply_kind::history, {history_reply::samples, each, sample::active_tenants}},
  {reply_kind::history, {history_reply::samples, each, sample::inflight}},
  {reply_kind::history, {history_reply::samples, each, sample::ops}},
  {reply_kind::history, {history_reply::samples, each, sample::errors}},
  {reply_kind::history, {history_reply::samples, each, sample::p50_us}},
  {reply_kind::history, {history_reply::samples, each, sample::p99_us}},
  {reply_kind::history, {history_reply::samples, each, sample::waiters}},
  {reply_kind::history, {history_reply::samples, each, sample::wait_timeouts}},
  // metrics.
  {reply_kind::metrics, {metrics_reply::text}},
};

} // namespace tenantrt::stats_schema
