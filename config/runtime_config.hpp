#pragma once
// What the user sets: plain structs whose default member initialisers are the
// documented defaults (docs/configuration.md). Filled only by load_config()
// in config/config_loader.hpp, which validates every key and names the JSON
// path of each problem. Nothing here converts or checks values.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tenantrt {

/// Physical pool settings of one cluster (defaults: the Node.js report's).
struct pool_settings {
  /// Cap on application connections of the pool (monitoring shares them).
  uint32_t max_pool_size = 10;
  /// Connections opened at start and kept warm; idle closing stops here.
  uint32_t min_pool_size = 2;
  /// An idle connection older than this is closed (down to min_pool_size).
  uint32_t max_idle_time_ms = 60000;
  /// How long a checkout waits for a free connection before pool_wait_timeout.
  uint32_t wait_queue_timeout_ms = 10000;
  /// Driver socket timeout for one command.
  uint32_t socket_timeout_ms = 45000;
  /// Driver server selection timeout.
  uint32_t server_selection_timeout_ms = 30000;
  /// Driver TCP connect timeout.
  uint32_t connect_timeout_ms = 30000;
};

/// One named MongoDB deployment.
struct cluster_config {
  std::string name;
  /// mongodb:// URI; may carry credentials (never logged, see redact_uri).
  std::string uri = "mongodb://127.0.0.1:27017";
  /// true: each tenant gets its own pool (strict isolation, the Node.js
  /// report's layout); false: tenants of this cluster share one pool.
  bool pool_per_tenant = false;
  pool_settings pool;
};

/// Which cluster a tenant id lives on: exact id first, then the longest
/// matching prefix, then default_cluster.
struct routing_config {
  std::map<std::string, std::string> exact;
  std::map<std::string, std::string> prefix;
};

/// Quarantine of tenants whose actor keeps crashing.
struct quarantine_config {
  /// More than this many crashes inside crash_window_ms quarantines a tenant.
  uint32_t max_crashes = 3;
  uint32_t crash_window_ms = 60000;
  /// First quarantine length; doubles on each repeat, capped at max_backoff_ms.
  uint32_t backoff_ms = 30000;
  uint32_t max_backoff_ms = 600000;
};

/// Limits and timers of the registry actor.
struct registry_config {
  /// Never more live tenant actors than this.
  uint32_t max_tenant_connections = 50;
  /// A tenant unused this long is reaped.
  uint32_t idle_timeout_ms = 300000;
  /// Period of the registry's cleanup tick.
  uint32_t cleanup_interval_ms = 300000;
  /// At the limit, evict the least recently used tenant with nothing in flight.
  bool evict_lru_when_full = true;
  /// How long an acquire waits at the limit before tenant_limit_reached.
  uint32_t wait_queue_timeout_ms = 5000;
  /// Bound on callers waiting at the limit; beyond it they fail at once.
  uint32_t max_waiters = 1000;
  /// Period of the main database's health ping.
  uint32_t main_ping_interval_ms = 10000;
  quarantine_config quarantine;
};

/// Bounded thread pool that runs every blocking driver call.
struct executor_config {
  uint32_t threads = 16;
  /// Queued jobs beyond this are refused with the error code overloaded.
  uint32_t max_queue = 10000;
};

/// Threads of CAF's scheduler (actors only; no driver call runs there).
struct scheduler_config {
  /// 0: one per core.
  uint32_t threads = 0;
};

/// The JSON control socket (tenantrtd).
struct control_config {
  /// Addresses to listen on: "127.0.0.1:PORT" (a host:port; non-loopback
  /// hosts need a token) and/or "unix:/path" (socket file mode 0600).
  std::vector<std::string> listen{"127.0.0.1:7070"};
  /// When set, every request must carry it as "token" (compared in
  /// constant time). Required for a non-loopback listen address.
  std::string token;
  /// A request line longer than this gets line_too_long; the rest is discarded.
  uint32_t max_line_bytes = 65536;
  /// Clients beyond this get too_many_clients and are closed.
  uint32_t max_clients = 64;
  /// A client with no request in flight that sent no byte for this long (nor
  /// had a request answered) gets idle_timeout and is closed. 0: never.
  /// Otherwise 1000 to 86400000.
  uint32_t client_idle_timeout_ms = 300000;
  /// Whether the exec command may run command documents. Unset (the
  /// default) means: allowed when every listen address is loopback or a unix
  /// socket, refused (exec_disabled) as soon as one is reachable from other
  /// hosts. exec_allowed() in config/listen_address.hpp derives the value.
  std::optional<bool> allow_exec;
};

/// The metrics actor: sampling, history, warnings, Prometheus.
struct metrics_config {
  uint32_t sample_interval_ms = 10000;
  /// Samples kept (the Node.js report's "last 100 data points").
  uint32_t history_size = 100;
  /// high_connection_count above this many physical connections.
  uint32_t warn_total_connections = 30;
  /// tenant_limit_near at this percentage of max_tenant_connections.
  uint32_t warn_tenant_limit_percent = 80;
  /// Per-tenant Prometheus series: only the top N tenants by use.
  uint32_t prometheus_top_tenants = 20;
  /// "127.0.0.1:PORT" serves GET /metrics over HTTP; empty: off.
  std::string http_listen;
};

/// Stopping tenantrtd (SIGTERM / SIGINT).
struct shutdown_config {
  /// In-flight work gets this long to finish; the rest fails with shutting_down.
  uint32_t drain_timeout_ms = 10000;
};

struct logging_config {
  /// trace, debug, info, warn, error, critical, off
  std::string level = "info";
};

/// The whole configuration file.
struct runtime_config {
  std::map<std::string, cluster_config> clusters{
    {"default", cluster_config{"default", "mongodb://127.0.0.1:27017", false, pool_settings{}}}};
  /// Cluster for tenants no routing rule names; MONGODB_URI overrides its uri.
  std::string default_cluster = "default";
  routing_config routing;
  /// Database name of a tenant; {id} is replaced by the tenant id.
  std::string database_template = "tenant_{id}";
  /// The service's shared database, held open on main_cluster.
  std::string main_database = "main";
  /// Cluster of the main database; empty means default_cluster.
  std::string main_cluster;
  /// Period of the pools' maintenance (idle closing, warm top-up).
  uint32_t pool_maintenance_interval_ms = 1000;
  registry_config registry;
  executor_config executor;
  scheduler_config scheduler;
  logging_config logging;
  control_config control;
  metrics_config metrics;
  shutdown_config shutdown;
};

} // namespace tenantrt
