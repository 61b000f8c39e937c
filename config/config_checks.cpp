#include "config/config_checks.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/json_io.hpp"
#include "config/listen_address.hpp"
#include "config/names.hpp"
#include "config/uri.hpp"

namespace tenantrt {

namespace {

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};

constexpr uint32_t max_threads = 1024;
constexpr uint32_t min_cleanup_interval_ms = 100;
constexpr std::size_t min_token_length = 16;
constexpr uint32_t min_request_line_bytes = 1024;
constexpr uint32_t max_request_line_bytes = 16 * 1024 * 1024;
constexpr uint32_t max_control_clients = 65536;
/// Shorter would close a script's connection between two of its requests.
constexpr uint32_t min_client_idle_timeout_ms = 1000;
/// One day: longer is no timeout at all in practice; 0 says so plainly.
constexpr uint32_t max_client_idle_timeout_ms = 86400000;
constexpr uint32_t min_sample_interval_ms = 100;
constexpr uint32_t max_history_size = 100000;
constexpr std::string_view unix_scheme = "unix:";

/// A configured port is fixed: 0 (the system picks) would leave clients
/// guessing where to connect.
constexpr const char* port_range = "needs a port from 1 to 65535 after the last ':'";

/// Why template cannot name tenant databases, if it cannot.
std::optional<std::string> database_template_problem(const std::string& database_template) {
  constexpr std::string_view placeholder = "{id}";
  std::size_t count = 0;
  for (auto at = database_template.find(placeholder); at != std::string::npos;
       at = database_template.find(placeholder, at + placeholder.size()))
    ++count;
  if (count == 0)
    return "must contain {id} exactly once; " + printable_quoted(database_template)
           + " has none, so every tenant would share one database";
  if (count > 1)
    return "must contain {id} exactly once; " + printable_quoted(database_template) + " has it "
           + std::to_string(count) + " times";
  // Tenant ids add only [A-Za-z0-9_-]: a one-character id shows every problem of
  // the fixed part. Longer ids are refused at resolve time once the name would
  // pass 63 bytes (a 64-character id never fits beside any fixed text).
  auto name = database_name_for(database_template, "a");
  if (auto problem = database_name_problem(name))
    return printable_quoted(database_template)
           + " yields unusable database names; for tenant id \"a\": " + *problem;
  return std::nullopt;
}

std::string cluster_list(const runtime_config& cfg) {
  std::string names;
  for (const auto& [name, cluster] : cfg.clusters)
    names += (names.empty() ? "" : ", ") + printable_quoted(name);
  return names.empty() ? "none" : names;
}

} // namespace

config_checker::config_checker(const runtime_config& cfg) :
  cfg_(cfg) {}

problem_list config_checker::run() {
  check_clusters();
  check_cluster_name(cfg_.default_cluster, "default_cluster");
  if (!cfg_.main_cluster.empty())
    check_cluster_name(cfg_.main_cluster, "main_cluster");
  check_routing();
  if (auto problem = database_template_problem(cfg_.database_template))
    add("database_template", *problem);
  if (auto problem = database_name_problem(cfg_.main_database))
    add("main_database", *problem);
  at_least(cfg_.pool_maintenance_interval_ms, 1, "pool_maintenance_interval_ms");
  check_registry();
  at_least(cfg_.executor.threads, 1, "executor.threads");
  at_most(cfg_.executor.threads, max_threads, "executor.threads");
  at_least(cfg_.executor.max_queue, 1, "executor.max_queue");
  at_most(cfg_.scheduler.threads, max_threads, "scheduler.threads");
  check_log_level();
  check_control();
  check_metrics();
  at_least(cfg_.shutdown.drain_timeout_ms, 1, "shutdown.drain_timeout_ms");
  return std::move(out_);
}

void config_checker::add(std::string path, std::string reason) {
  out_.push_back({std::move(path), std::move(reason)});
}

void config_checker::at_least(uint32_t value, uint32_t min, std::string path) {
  if (value < min)
    add(std::move(path),
        "must be at least " + std::to_string(min) + ", got " + std::to_string(value));
}

void config_checker::at_most(uint32_t value, uint32_t max, std::string path) {
  if (value > max)
    add(std::move(path),
        "must be at most " + std::to_string(max) + ", got " + std::to_string(value));
}

void config_checker::check_clusters() {
  if (cfg_.clusters.empty())
    add("clusters", "at least one cluster is required");
  for (const auto& [name, cluster] : cfg_.clusters) {
    auto path = join_path("clusters", name);
    if (name.empty())
      add(path, "a cluster name must not be empty");
    if (cluster.name != name)
      add(path,
          "cluster_config::name " + printable_quoted(cluster.name) + " differs from its key");
    if (auto problem = uri_problem(cluster.uri))
      add(join_path(path, "uri"), *problem);
    const auto& pool = cluster.pool;
    at_least(pool.max_pool_size, 1, join_path(path, "max_pool_size"));
    if (pool.min_pool_size > pool.max_pool_size)
      add(join_path(path, "min_pool_size"), "must not exceed max_pool_size ("
                                              + std::to_string(pool.max_pool_size) + "), got "
                                              + std::to_string(pool.min_pool_size));
    at_least(pool.max_idle_time_ms, 1, join_path(path, "max_idle_time_ms"));
    at_least(pool.wait_queue_timeout_ms, 1, join_path(path, "wait_queue_timeout_ms"));
    at_least(pool.socket_timeout_ms, 1, join_path(path, "socket_timeout_ms"));
    at_least(pool.server_selection_timeout_ms, 1, join_path(path, "server_selection_timeout_ms"));
    at_least(pool.connect_timeout_ms, 1, join_path(path, "connect_timeout_ms"));
  }
}

void config_checker::check_cluster_name(const std::string& name, std::string path) {
  // With no cluster at all, "at least one cluster" says it all.
  if (!cfg_.clusters.empty() && cfg_.clusters.count(name) == 0)
    add(std::move(path), "names cluster " + printable_quoted(name)
                           + ", which is not configured (clusters: " + cluster_list(cfg_) + ")");
}

void config_checker::check_routing() {
  for (const auto& [tenant, cluster] : cfg_.routing.exact) {
    auto path = join_path("routing.exact", tenant);
    if (auto problem = tenant_id_problem(tenant))
      add(path, *problem);
    check_cluster_name(cluster, path);
  }
  for (const auto& [prefix, cluster] : cfg_.routing.prefix) {
    auto path = join_path("routing.prefix", prefix);
    if (prefix.empty())
      add(path, "an empty prefix would match every tenant; use default_cluster instead");
    else if (auto problem = tenant_id_problem(prefix))
      add(path, "no tenant id could match this prefix: " + *problem);
    check_cluster_name(cluster, path);
  }
}

void config_checker::check_registry() {
  const auto& r = cfg_.registry;
  at_least(r.max_tenant_connections, 1, "registry.max_tenant_connections");
  at_least(r.idle_timeout_ms, 1, "registry.idle_timeout_ms");
  at_least(r.cleanup_interval_ms, min_cleanup_interval_ms, "registry.cleanup_interval_ms");
  at_least(r.wait_queue_timeout_ms, 1, "registry.wait_queue_timeout_ms");
  at_least(r.main_ping_interval_ms, 1, "registry.main_ping_interval_ms");
  const auto& q = r.quarantine;
  at_least(q.crash_window_ms, 1, "registry.quarantine.crash_window_ms");
  at_least(q.backoff_ms, 1, "registry.quarantine.backoff_ms");
  if (q.max_backoff_ms < q.backoff_ms)
    add("registry.quarantine.max_backoff_ms", "must be at least backoff_ms ("
                                                + std::to_string(q.backoff_ms) + "), got "
                                                + std::to_string(q.max_backoff_ms));
}

void config_checker::check_log_level() {
  const auto& level = cfg_.logging.level;
  if (std::find(log_levels.begin(), log_levels.end(), level) != log_levels.end())
    return;
  std::string choices;
  for (auto name : log_levels)
    choices += (choices.empty() ? "" : ", ") + std::string{name};
  add("logging.level", printable_quoted(level) + " is not a log level; use one of " + choices);
}

void config_checker::check_control() {
  const auto& c = cfg_.control;
  if (c.listen.empty())
    add("control.listen", "at least one address is required");
  for (std::size_t i = 0; i < c.listen.size(); ++i) {
    const auto& address = c.listen[i];
    auto path = "control.listen[" + std::to_string(i) + "]";
    bool is_unix = std::string_view{address}.substr(0, unix_scheme.size()) == unix_scheme;
    auto parsed = parse_listen_address(address);
    if (!parsed.address)
      add(path, printable_quoted(address) + " " + parsed.error
                  + (is_unix ? "" : "; or use unix:/absolute/path"));
    else if (!is_unix && parsed.address->port == 0)
      add(path, printable_quoted(address) + " " + port_range + "; or use unix:/absolute/path");
    else if (!parsed.address->loopback && c.token.empty())
      // Other machines could drive (and stop) the runtime without a secret.
      add(path,
          printable_quoted(address) + ": a non-loopback control address needs control.token");
  }
  // Length only: the value is a secret.
  if (!c.token.empty() && c.token.size() < min_token_length)
    add("control.token", "must be at least " + std::to_string(min_token_length)
                           + " characters when set, got " + std::to_string(c.token.size()));
  at_least(c.max_line_bytes, min_request_line_bytes, "control.max_line_bytes");
  at_most(c.max_line_bytes, max_request_line_bytes, "control.max_line_bytes");
  at_least(c.max_clients, 1, "control.max_clients");
  at_most(c.max_clients, max_control_clients, "control.max_clients");
  // 0 switches the timeout off; a small value would be a mistake, not a choice.
  if (c.client_idle_timeout_ms != 0 && c.client_idle_timeout_ms < min_client_idle_timeout_ms)
    add("control.client_idle_timeout_ms",
        "must be 0 (no idle timeout) or at least " + std::to_string(min_client_idle_timeout_ms)
          + " ms, got " + std::to_string(c.client_idle_timeout_ms));
  if (c.client_idle_timeout_ms > max_client_idle_timeout_ms)
    add("control.client_idle_timeout_ms",
        "must be at most " + std::to_string(max_client_idle_timeout_ms)
          + " ms (one day; use 0 for no idle timeout), got "
          + std::to_string(c.client_idle_timeout_ms));
}

void config_checker::check_metrics() {
  const auto& m = cfg_.metrics;
  at_least(m.sample_interval_ms, min_sample_interval_ms, "metrics.sample_interval_ms");
  at_least(m.history_size, 1, "metrics.history_size");
  at_most(m.history_size, max_history_size, "metrics.history_size");
  at_least(m.warn_tenant_limit_percent, 1, "metrics.warn_tenant_limit_percent");
  at_most(m.warn_tenant_limit_percent, 100, "metrics.warn_tenant_limit_percent");
  if (m.http_listen.empty())
    return;
  if (std::string_view{m.http_listen}.substr(0, unix_scheme.size()) == unix_scheme) {
    add("metrics.http_listen", printable_quoted(m.http_listen)
                                 + " is not HOST:PORT; /metrics is served over TCP only, e.g. "
                                   "127.0.0.1:9464");
    return;
  }
  auto parsed = parse_listen_address(m.http_listen);
  if (!parsed.address)
    add("metrics.http_listen", printable_quoted(m.http_listen) + " " + parsed.error);
  else if (parsed.address->port == 0)
    add("metrics.http_listen", printable_quoted(m.http_listen) + " " + port_range);
  else if (!parsed.address->loopback)
    // GET /metrics has no authentication; tenant ids must not leave the host.
    add("metrics.http_listen", printable_quoted(m.http_listen)
                                 + " must use a loopback host (127.x.x.x, localhost or [::1])");
}

std::vector<config_problem> validate(const runtime_config& cfg) {
  return config_checker{cfg}.run();
}

} // namespace tenantrt
