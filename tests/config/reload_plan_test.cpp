// What a reload applies at once and what needs a restart
// (config/reload_plan.hpp), key by key, paths only.
#include "config/reload_plan.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/config_loader.hpp"
#include "tests/support/config_problems.hpp"

namespace tenantrt {
namespace {

using namespace config_testing;

// -- reload planning ----------------------------------------------------------------------

using json_pointer = nlohmann::ordered_json::json_pointer;

/// The running configuration of the reload tests: the defaults plus a second cluster, so
/// that settings naming a cluster can change without adding one.
nlohmann::ordered_json reload_base() {
  auto doc = to_json(runtime_config{}, redaction::reveal_secrets);
  doc["clusters"]["other"] = doc["clusters"]["default"];
  return doc;
}

runtime_config config_from(const nlohmann::ordered_json& doc) { return parse(doc.dump()); }

/// Pointers to the values to_json() writes, with empty objects (routing maps) as values.
void collect_leaves(const nlohmann::ordered_json& doc, const std::string& pointer,
                    std::vector<std::string>& out) {
  if (!doc.is_object() || doc.empty()) {
    out.push_back(pointer);
    return;
  }
  for (const auto& item : doc.items())
    collect_leaves(item.value(), pointer + "/" + item.key(), out);
}

enum class expect_effect { at_once, restart };

struct key_change {
  std::string pointer;           // what the new file changes
  nlohmann::ordered_json value;  // to what
  std::string path;              // what the plan must name
  expect_effect effect;
};

TEST(ConfigReload, SameConfigurationPlansNothing) {
  auto plan = plan_reload(config_from(reload_base()), config_from(reload_base()));
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.needs_restart.empty());
}

TEST(ConfigReload, ClassifiesEveryKeyOnItsOwn) {
  using e = expect_effect;
  std::vector<key_change> changes{
    {"/clusters/default/uri", "mongodb://db-9:27017", "clusters.default.uri", e::restart},
    {"/clusters/default/pool_per_tenant", true, "clusters.default.pool_per_tenant", e::restart},
    {"/clusters/default/max_pool_size", 20, "clusters.default.max_pool_size", e::at_once},
    {"/clusters/default/min_pool_size", 3, "clusters.default.min_pool_size", e::at_once},
    {"/clusters/default/max_idle_time_ms", 1, "clusters.default.max_idle_time_ms", e::at_once},
    {"/clusters/default/wait_queue_timeout_ms", 1, "clusters.default.wait_queue_timeout_ms",
     e::at_once},
    {"/clusters/default/socket_timeout_ms", 1, "clusters.default.socket_timeout_ms", e::at_once},
    {"/clusters/default/server_selection_timeout_ms", 1,
     "clusters.default.server_selection_timeout_ms", e::at_once},
    {"/clusters/default/connect_timeout_ms", 1, "clusters.default.connect_timeout_ms", e::at_once},
    {"/default_cluster", "other", "default_cluster", e::restart},
    {"/routing/exact", {{"org42", "other"}}, "routing.exact.org42", e::restart},
    {"/routing/prefix", {{"bi-", "other"}}, "routing.prefix.bi-", e::restart},
    {"/database_template", "t_{id}", "database_template", e::restart},
    {"/main_database", "core", "main_database", e::restart},
    {"/main_cluster", "other", "main_cluster", e::restart},
    {"/pool_maintenance_interval_ms", 500, "pool_maintenance_interval_ms", e::at_once},
    {"/registry/max_tenant_connections", 9, "registry.max_tenant_connections", e::at_once},
    {"/registry/idle_timeout_ms", 9, "registry.idle_timeout_ms", e::at_once},
    {"/registry/cleanup_interval_ms", 900, "registry.cleanup_interval_ms", e::at_once},
    {"/registry/evict_lru_when_full", false, "registry.evict_lru_when_full", e::at_once},
    {"/registry/wait_queue_timeout_ms", 9, "registry.wait_queue_timeout_ms", e::at_once},
    {"/registry/max_waiters", 9, "registry.max_waiters", e::at_once},
    {"/registry/main_ping_interval_ms", 9, "registry.main_ping_interval_ms", e::at_once},
    {"/registry/quarantine/max_crashes", 9, "registry.quarantine.max_crashes", e::at_once},
    {"/registry/quarantine/crash_window_ms", 9, "registry.quarantine.crash_window_ms",
     e::at_once},
    {"/registry/quarantine/backoff_ms", 9, "registry.quarantine.backoff_ms", e::at_once},
    {"/registry/quarantine/max_backoff_ms", 700000, "registry.quarantine.max_backoff_ms",
     e::at_once},
    {"/executor/threads", 4, "executor.threads", e::restart},
    {"/executor/max_queue", 9, "executor.max_queue", e::restart},
    {"/scheduler/threads", 2, "scheduler.threads", e::restart},
    {"/logging/level", "debug", "logging.level", e::at_once},
    {"/control/listen", {"127.0.0.1:7071"}, "control.listen", e::restart},
    {"/control/token", "0123456789abcdef", "control.token", e::at_once},
    {"/control/max_line_bytes", 2048, "control.max_line_bytes", e::at_once},
    {"/control/max_clients", 8, "control.max_clients", e::at_once},
    {"/control/client_idle_timeout_ms", 60000, "control.client_idle_timeout_ms", e::at_once},
    {"/control/allow_exec", false, "control.allow_exec", e::at_once},
    {"/metrics/sample_interval_ms", 500, "metrics.sample_interval_ms", e::at_once},
    {"/metrics/history_size", 9, "metrics.history_size", e::at_once},
    {"/metrics/warn_total_connections", 9, "metrics.warn_total_connections", e::at_once},
    {"/metrics/warn_tenant_limit_percent", 9, "metrics.warn_tenant_limit_percent", e::at_once},
    {"/metrics/prometheus_top_tenants", 9, "metrics.prometheus_top_tenants", e::at_once},
    {"/metrics/http_listen", "127.0.0.1:9464", "metrics.http_listen", e::restart},
    {"/shutdown/drain_timeout_ms", 500, "shutdown.drain_timeout_ms", e::at_once},
  };
  // A key added to to_json() must be classified here too.
  std::vector<std::string> leaves;
  collect_leaves(to_json(runtime_config{}), "", leaves);
  for (const auto& leaf : leaves) {
    auto covered = std::any_of(changes.begin(), changes.end(),
                               [&](const key_change& c) { return c.pointer == leaf; });
    EXPECT_TRUE(covered) << leaf << " has no reload expectation";
  }
  auto running = config_from(reload_base());
  for (const auto& change : changes) {
    auto doc = reload_base();
    doc[json_pointer{change.pointer}] = change.value;
    auto plan = plan_reload(running, config_from(doc));
    const auto& hit = change.effect == e::at_once ? plan.applied : plan.needs_restart;
    const auto& miss = change.effect == e::at_once ? plan.needs_restart : plan.applied;
    EXPECT_EQ(hit, std::vector<std::string>{change.path}) << change.pointer;
    EXPECT_TRUE(miss.empty()) << change.pointer;
  }
}

TEST(ConfigReload, ClientIdleTimeoutSwitchedOnOrOffAppliesAtOnce) {
  auto running = reload_base();
  auto off = running;
  off["control"]["client_idle_timeout_ms"] = 0;
  for (auto [from, to] : {std::pair{running, off}, std::pair{off, running}}) {
    auto plan = plan_reload(config_from(from), config_from(to));
    EXPECT_EQ(plan.applied, std::vector<std::string>{"control.client_idle_timeout_ms"});
    EXPECT_TRUE(plan.needs_restart.empty());
  }
}

TEST(ConfigReload, ClusterAddedOrRemovedNeedsARestart) {
  auto base = reload_base();
  auto fewer = base;
  fewer["clusters"].erase("other");
  auto more = base;
  more["clusters"]["analytics"] = base["clusters"]["default"];
  auto plan = plan_reload(config_from(base), config_from(fewer));
  EXPECT_EQ(plan.needs_restart, std::vector<std::string>{"clusters.other"});
  EXPECT_TRUE(plan.applied.empty());
  plan = plan_reload(config_from(base), config_from(more));
  EXPECT_EQ(plan.needs_restart, std::vector<std::string>{"clusters.analytics"});
  EXPECT_TRUE(plan.applied.empty());
}

TEST(ConfigReload, ListsPathsInFileOrderWithMapEntriesByName) {
  auto running = reload_base();
  running["clusters"]["b"] = running["clusters"]["default"];
  running["routing"]["exact"] = {{"t2", "other"}};
  auto next = reload_base();
  next["clusters"]["a"] = next["clusters"]["default"]; // added, sorts before "b" (removed)
  next["clusters"]["other"]["max_pool_size"] = 30;
  next["clusters"]["default"]["max_pool_size"] = 30;
  next["routing"]["exact"] = {{"t1", "other"}, {"t3", "other"}};
  next["registry"]["max_waiters"] = 1;
  next["logging"]["level"] = "warn";
  next["shutdown"]["drain_timeout_ms"] = 1;
  next["metrics"]["http_listen"] = "127.0.0.1:9000";
  auto plan = plan_reload(config_from(running), config_from(next));
  EXPECT_EQ(plan.applied,
            (std::vector<std::string>{"clusters.default.max_pool_size",
                                      "clusters.other.max_pool_size", "registry.max_waiters",
                                      "logging.level", "shutdown.drain_timeout_ms"}));
  EXPECT_EQ(plan.needs_restart,
            (std::vector<std::string>{"clusters.a", "clusters.b", "routing.exact.t1",
                                      "routing.exact.t2", "routing.exact.t3",
                                      "metrics.http_listen"}));
  // Stable: the same inputs give the same plan.
  auto again = plan_reload(config_from(running), config_from(next));
  EXPECT_EQ(again.applied, plan.applied);
  EXPECT_EQ(again.needs_restart, plan.needs_restart);
}

TEST(ConfigReload, SecretChangesShowOnlyTheirPaths) {
  auto running = reload_base();
  running["clusters"]["default"]["uri"] = "mongodb://svc:old-pass-1@db-1:27017";
  running["control"]["token"] = "old-token-0123456789";
  auto next = running;
  next["clusters"]["default"]["uri"] = "mongodb://svc:new-pass-2@db-1:27017"; // same redacted
  next["control"]["token"] = "new-token-0123456789";
  auto plan = plan_reload(config_from(running), config_from(next));
  EXPECT_EQ(plan.applied, std::vector<std::string>{"control.token"});
  EXPECT_EQ(plan.needs_restart, std::vector<std::string>{"clusters.default.uri"});
  for (const auto* list : {&plan.applied, &plan.needs_restart})
    for (const auto& path : *list)
      for (auto secret : {"pass-1", "pass-2", "old-token", "new-token"})
        EXPECT_TRUE(lacks(path, secret));
}

TEST(ConfigReload, QuotesOddClusterNamesAsProblemsDo) {
  auto running = reload_base();
  running["clusters"]["eu.west"] = running["clusters"]["default"];
  auto next = running;
  next["clusters"]["eu.west"]["min_pool_size"] = 0;
  auto plan = plan_reload(config_from(running), config_from(next));
  EXPECT_EQ(plan.applied, std::vector<std::string>{"clusters[\"eu.west\"].min_pool_size"});
}

} // namespace
} // namespace tenantrt
