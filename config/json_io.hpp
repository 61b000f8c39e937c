#pragma once
// The configuration to and from JSON, for config/*.cpp only.
//
// The key tables (visit_fields), the strict reader (types, ranges, duplicate
// keys), the writer behind to_json(), the environment overrides, and the
// JSON-path helpers every problem's path is built with. Used by the loader,
// the checks and the reload plan; the public face is config/config_loader.hpp.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

using problem_list = std::vector<config_problem>;

// -- JSON paths ------------------------------------------------------------------

/// "parent.key"; keys a dot would make ambiguous (e.g. "a.b") as parent["a.b"].
std::string join_path(const std::string& parent, std::string_view key);

/// True when path is under (or is) an already reported path: a semantic
/// problem there is only the echo of a value that could not be read.
bool is_under(const std::string& path, const std::string& reported);

/// A JSON value's type for a problem ("unsigned integer 7", "string", ...).
std::string describe_type(const nlohmann::ordered_json& value);

// -- the key tables -------------------------------------------------------------

/// What a string field holds: URIs lose their password when written out,
/// secrets their whole value (and a problem never quotes either).
enum class text_kind { plain, uri, secret };

// [[maybe_unused]] for clang: used only in a static_assert.
template <class>
[[maybe_unused]] inline constexpr bool unknown_section = false;

// One table of keys per struct, walked by the reader and by to_json(), so the
// two cannot drift apart. A visitor is called as v(key, field) and, for
// strings, v(key, field, kind); nested structs recurse through the visitor.
template <class Visitor, class Section>
void visit_fields(Visitor& v, Section& s) {
  using type = std::remove_const_t<Section>;
  if constexpr (std::is_same_v<type, runtime_config>) {
    v("clusters", s.clusters);
    v("default_cluster", s.default_cluster, text_kind::plain);
    v("routing", s.routing);
    v("database_template", s.database_template, text_kind::plain);
    v("main_database", s.main_database, text_kind::plain);
    v("main_cluster", s.main_cluster, text_kind::plain);
    v("pool_maintenance_interval_ms", s.pool_maintenance_interval_ms);
    v("registry", s.registry);
    v("executor", s.executor);
    v("scheduler", s.scheduler);
    v("logging", s.logging);
    v("control", s.control);
    v("metrics", s.metrics);
    v("shutdown", s.shutdown);
  } else if constexpr (std::is_same_v<type, cluster_config>) {
    // name is the cluster's key in "clusters"; pool settings sit flat beside uri.
    v("uri", s.uri, text_kind::uri);
    v("pool_per_tenant", s.pool_per_tenant);
    visit_fields(v, s.pool);
  } else if constexpr (std::is_same_v<type, pool_settings>) {
    v("max_pool_size", s.max_pool_size);
    v("min_pool_size", s.min_pool_size);
    v("max_idle_time_ms", s.max_idle_time_ms);
    v("wait_queue_timeout_ms", s.wait_queue_timeout_ms);
    v("socket_timeout_ms", s.socket_timeout_ms);
    v("server_selection_timeout_ms", s.server_selection_timeout_ms);
    v("connect_timeout_ms", s.connect_timeout_ms);
  } else if constexpr (std::is_same_v<type, routing_config>) {
    v("exact", s.exact);
    v("prefix", s.prefix);
  } else if constexpr (std::is_same_v<type, registry_config>) {
    v("max_tenant_connections", s.max_tenant_connections);
    v("idle_timeout_ms", s.idle_timeout_ms);
    v("cleanup_interval_ms", s.cleanup_interval_ms);
    v("evict_lru_when_full", s.evict_lru_when_full);
    v("wait_queue_timeout_ms", s.wait_queue_timeout_ms);
    v("max_waiters", s.max_waiters);
    v("main_ping_interval_ms", s.main_ping_interval_ms);
    v("quarantine", s.quarantine);
  } else if constexpr (std::is_same_v<type, quarantine_config>) {
    v("max_crashes", s.max_crashes);
    v("crash_window_ms", s.crash_window_ms);
    v("backoff_ms", s.backoff_ms);
    v("max_backoff_ms", s.max_backoff_ms);
  } else if constexpr (std::is_same_v<type, executor_config>) {
    v("threads", s.threads);
    v("max_queue", s.max_queue);
  } else if constexpr (std::is_same_v<type, scheduler_config>) {
    v("threads", s.threads);
  } else if constexpr (std::is_same_v<type, logging_config>) {
    v("level", s.level, text_kind::plain);
  } else if constexpr (std::is_same_v<type, control_config>) {
    v("listen", s.listen);
    v("token", s.token, text_kind::secret);
    v("max_line_bytes", s.max_line_bytes);
    v("max_clients", s.max_clients);
    v("client_idle_timeout_ms", s.client_idle_timeout_ms);
    v("allow_exec", s.allow_exec);
  } else if constexpr (std::is_same_v<type, metrics_config>) {
    v("sample_interval_ms", s.sample_interval_ms);
    v("history_size", s.history_size);
    v("warn_total_connections", s.warn_total_connections);
    v("warn_tenant_limit_percent", s.warn_tenant_limit_percent);
    v("prometheus_top_tenants", s.prometheus_top_tenants);
    v("http_listen", s.http_listen, text_kind::plain);
  } else if constexpr (std::is_same_v<type, shutdown_config>) {
    v("drain_timeout_ms", s.drain_timeout_ms);
  } else {
    static_assert(unknown_section<type>, "visit_fields: add the struct's key table");
  }
}

// -- reading --------------------------------------------------------------------

/// Parses text, reporting keys that occur twice in one object (the parser
/// would keep the last silently). nullopt after a syntax error.
std::optional<nlohmann::ordered_json> parse_document(const std::string& text, problem_list& out);

/// Reads document (a JSON object) into cfg key by key, in document order:
/// unknown keys, wrong types and out-of-range numbers go to out, and a field
/// that cannot be read keeps its default.
void read_config(const nlohmann::ordered_json& document, runtime_config& cfg, problem_list& out);

/// Applies the environment overrides; returns (JSON path, variable) of each.
std::vector<std::pair<std::string, std::string>> apply_environment(runtime_config& cfg,
                                                                   const environment_lookup& env);

} // namespace tenantrt
