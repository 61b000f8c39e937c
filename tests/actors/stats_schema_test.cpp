// The metrics replies as one contract between the daemon and tenantctl:
// every field tenantctl reads (stats_schema::tenantctl_reads) is in the
// replies actors/stats_json renders, here from a real observation with one
// cluster, one tenant that did work, a sample and a warning; and tenantctl
// renders those replies with no field shown as missing ("-").

#include "actors/stats_schema.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/metrics_sample.hpp"
#include "actors/metrics_warnings.hpp"
#include "actors/prometheus_exposition.hpp"
#include "actors/stats_json.hpp"
#include "config/runtime_config.hpp"
#include "tools/tenantctl_render.hpp"

namespace tenantrt {
namespace {

using nlohmann::json;
namespace schema = stats_schema;

struct StatsSchemaTest : ::testing::Test {
  runtime_config config = [] {
    runtime_config c;
    c.metrics.warn_total_connections = 1; // two open: high_connection_count
    return c;
  }();
  observation obs = [] {
    registry_stats registry;
    registry.active_tenants = 1;
    registry.max_tenants = 5;
    registry.created_total = 1;
    registry.main_database = "main";
    registry.main_state = "connected";
    tenant_stats row;
    row.tenant = "acme";
    row.database = "tenant_acme";
    row.cluster = "default";
    row.state = "active";
    row.last_used_unix_ms = 1714564800000;
    row.idle_ms = 1500;
    row.use_count = 3;
    row.counters.ops = 3;
    for (uint64_t latency_us : {120, 250, 900})
      row.counters.latency.record(latency_us);
    registry.tenants.push_back(row);
    pool_counters pool;
    pool.open = 2;
    pool.idle = 2;
    pool.max_pool_size = 10;
    pool.min_pool_size = 2;
    pool.created_total = 2;
    return observation_of(registry, {{"default", pool}});
  }();
  std::vector<warning> warnings = compute_warnings(config, obs, warning_inputs{});
  std::deque<metrics_sample> history{
    sample_of(obs, interval_since(sample_baselines{}, obs), iso8601_utc(wall_unix_ms()))};

  /// The reply of the given kind, rendered by actors/stats_json.
  json reply(schema::reply_kind kind) {
    switch (kind) {
      case schema::reply_kind::stats:
        return json::parse(stats_reply(obs, warnings, history, tenant_detail::counters));
      case schema::reply_kind::details:
        return json::parse(stats_reply(obs, warnings, history, tenant_detail::with_latency));
      case schema::reply_kind::history:
        return json::parse(history_reply(history, 0));
      case schema::reply_kind::health:
        return json::parse(health_reply(obs, warnings));
      case schema::reply_kind::metrics: {
        prometheus_exposition exposition;
        exposition.update(obs, history.back(), warnings, health_status(obs, warnings), 3, 0, 10);
        return json::parse(metrics_reply(exposition.render()));
      }
    }
    return json{};
  }
};

/// Walks keys[i...] down from node; appends every place a key is missing.
void collect_missing(const json& node, const schema::field_path& path, size_t i,
                     const std::string& where, std::vector<std::string>* missing) {
  if (i == path.keys.size() || path.keys[i] == nullptr)
    return;
  const char* key = path.keys[i];
  if (std::string_view{key} == schema::each) {
    if (!(node.is_array() || node.is_object()) || node.empty()) {
      missing->push_back(where + "/" + key + " (nothing to step into)");
      return;
    }
    for (auto& element : node)
      collect_missing(element, path, i + 1, where + "/" + key, missing);
    return;
  }
  if (!node.is_object() || !node.contains(key)) {
    missing->push_back(where + "/" + key);
    return;
  }
  collect_missing(node.at(key), path, i + 1, where + "/" + key, missing);
}

const char* name_of(schema::reply_kind kind) {
  switch (kind) {
    case schema::reply_kind::stats: return "stats";
    case schema::reply_kind::details: return "details";
    case schema::reply_kind::history: return "history";
    case schema::reply_kind::health: return "health";
    case schema::reply_kind::metrics: return "metrics";
  }
  return "?";
}

TEST_F(StatsSchemaTest, EveryFieldTenantctlReadsIsInTheRepliesMetricsWrites) {
  ASSERT_EQ(obs.pools.size(), 1u);
  ASSERT_EQ(obs.registry.tenants.size(), 1u);
  ASSERT_FALSE(warnings.empty());
  std::map<schema::reply_kind, json> replies;
  std::vector<std::string> missing;
  for (auto& path : schema::tenantctl_reads) {
    if (replies.count(path.reply) == 0)
      replies[path.reply] = reply(path.reply);
    collect_missing(replies[path.reply], path, 0, name_of(path.reply), &missing);
  }
  EXPECT_EQ(replies.size(), 5u) << "a path for every reply tenantctl renders";
  std::string list;
  for (auto& place : missing)
    list += "\n  " + place;
  EXPECT_TRUE(missing.empty()) << "tenantctl reads fields the metrics replies lack:" << list;
}

/// The words of text that mark a field tenantctl did not find.
std::vector<std::string> missing_marks(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream words{text};
  for (std::string word; words >> word;)
    if (word == "-" || word == "(-)")
      out.push_back(word);
  return out;
}

TEST_F(StatsSchemaTest, TenantctlRendersRealRepliesWithNoFieldMissing) {
  ctl::render_options options;
  for (auto kind : {schema::reply_kind::stats, schema::reply_kind::details}) {
    auto text = ctl::render_stats(reply(kind), options);
    EXPECT_TRUE(missing_marks(text).empty()) << name_of(kind) << ":\n" << text;
    EXPECT_NE(text.find("main database  main (connected)"), std::string::npos) << text;
    EXPECT_NE(text.find("WARN high_connection_count"), std::string::npos) << text;
  }
  auto history_text = ctl::render_history(reply(schema::reply_kind::history), options);
  EXPECT_TRUE(missing_marks(history_text).empty()) << history_text;
  auto health_text = ctl::render_health(reply(schema::reply_kind::health), options);
  EXPECT_EQ(health_text.rfind("health: degraded\n", 0), 0u) << health_text;
  EXPECT_NE(ctl::render_reply("metrics", reply(schema::reply_kind::metrics), options)
              .find("tenantrt_connections 2"),
            std::string::npos);
}

} // namespace
} // namespace tenantrt
