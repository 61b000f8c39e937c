// The strict reader, the writer and the environment overrides
// (config/json_io.hpp), through parse_config() and to_json(): key by key,
// types and ranges, duplicate keys, malformed JSON, writing back.
#include "config/config_loader.hpp"
#include "config/listen_address.hpp"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/config_problems.hpp"

namespace tenantrt {
namespace {

using namespace config_testing;

// -- reading ------------------------------------------------------------------------

TEST(ConfigLoader, ReadsPoolSettingsFlatInsideEachCluster) {
  auto cfg = parse(R"({"clusters": {"eu": {"uri": "mongodb://eu-1:27017", "pool_per_tenant": true,
      "max_pool_size": 40, "min_pool_size": 5, "max_idle_time_ms": 1, "wait_queue_timeout_ms": 2,
      "socket_timeout_ms": 3, "server_selection_timeout_ms": 4, "connect_timeout_ms": 5}},
      "default_cluster": "eu"})");
  const auto& eu = cfg.clusters.at("eu");
  EXPECT_EQ(eu.uri, "mongodb://eu-1:27017");
  EXPECT_TRUE(eu.pool_per_tenant);
  EXPECT_EQ(eu.pool.max_pool_size, 40u);
  EXPECT_EQ(eu.pool.min_pool_size, 5u);
  EXPECT_EQ(eu.pool.max_idle_time_ms, 1u);
  EXPECT_EQ(eu.pool.wait_queue_timeout_ms, 2u);
  EXPECT_EQ(eu.pool.socket_timeout_ms, 3u);
  EXPECT_EQ(eu.pool.server_selection_timeout_ms, 4u);
  EXPECT_EQ(eu.pool.connect_timeout_ms, 5u);
}

TEST(ConfigLoader, ClustersKeyReplacesTheBuiltInDefaultAndNamesEachCluster) {
  auto cfg
    = parse(R"({"clusters": {"eu": {}, "us": {"max_pool_size": 3}}, "default_cluster": "eu"})");
  ASSERT_EQ(cfg.clusters.size(), 2u);
  EXPECT_EQ(cfg.clusters.count("default"), 0u);
  EXPECT_EQ(cfg.clusters.at("eu").name, "eu");
  EXPECT_EQ(cfg.clusters.at("us").name, "us");
  EXPECT_EQ(cfg.clusters.at("eu").pool.max_pool_size, 10u); // unset keys keep defaults
  EXPECT_EQ(cfg.clusters.at("us").pool.max_pool_size, 3u);
}

TEST(ConfigLoader, ReadsEverySection) {
  auto cfg = parse(R"({
    "routing": {"exact": {"org42": "default"}, "prefix": {"eu-": "default"}},
    "database_template": "app_{id}", "main_database": "shared", "main_cluster": "default",
    "pool_maintenance_interval_ms": 250,
    "registry": {"max_tenant_connections": 7, "idle_timeout_ms": 8, "cleanup_interval_ms": 900,
                 "evict_lru_when_full": false, "wait_queue_timeout_ms": 10, "max_waiters": 0,
                 "main_ping_interval_ms": 12,
                 "quarantine": {"max_crashes": 1, "crash_window_ms": 2, "backoff_ms": 3,
                                "max_backoff_ms": 4}},
    "executor": {"threads": 2, "max_queue": 3}, "scheduler": {"threads": 4},
    "logging": {"level": "debug"}})");
  EXPECT_EQ(cfg.routing.exact.at("org42"), "default");
  EXPECT_EQ(cfg.routing.prefix.at("eu-"), "default");
  EXPECT_EQ(cfg.database_template, "app_{id}");
  EXPECT_EQ(cfg.main_database, "shared");
  EXPECT_EQ(cfg.main_cluster, "default");
  EXPECT_EQ(cfg.pool_maintenance_interval_ms, 250u);
  EXPECT_EQ(cfg.registry.max_tenant_connections, 7u);
  EXPECT_EQ(cfg.registry.idle_timeout_ms, 8u);
  EXPECT_EQ(cfg.registry.cleanup_interval_ms, 900u);
  EXPECT_FALSE(cfg.registry.evict_lru_when_full);
  EXPECT_EQ(cfg.registry.wait_queue_timeout_ms, 10u);
  EXPECT_EQ(cfg.registry.max_waiters, 0u);
  EXPECT_EQ(cfg.registry.main_ping_interval_ms, 12u);
  EXPECT_EQ(cfg.registry.quarantine.max_crashes, 1u);
  EXPECT_EQ(cfg.registry.quarantine.crash_window_ms, 2u);
  EXPECT_EQ(cfg.registry.quarantine.backoff_ms, 3u);
  EXPECT_EQ(cfg.registry.quarantine.max_backoff_ms, 4u);
  EXPECT_EQ(cfg.executor.threads, 2u);
  EXPECT_EQ(cfg.executor.max_queue, 3u);
  EXPECT_EQ(cfg.scheduler.threads, 4u);
  EXPECT_EQ(cfg.logging.level, "debug");
}

TEST(ConfigLoader, ReadsControlMetricsAndShutdown) {
  auto cfg = parse(R"({
    "control": {"listen": ["localhost:7071", "unix:/run/t.sock"], "token": "0123456789abcdef",
                "max_line_bytes": 4096, "max_clients": 3, "client_idle_timeout_ms": 1000},
    "metrics": {"sample_interval_ms": 500, "history_size": 7, "warn_total_connections": 0,
                "warn_tenant_limit_percent": 100, "prometheus_top_tenants": 0,
                "http_listen": "[::1]:9464"},
    "shutdown": {"drain_timeout_ms": 1}})");
  EXPECT_EQ(cfg.control.listen, (std::vector<std::string>{"localhost:7071", "unix:/run/t.sock"}));
  EXPECT_EQ(cfg.control.token, "0123456789abcdef");
  EXPECT_EQ(cfg.control.max_line_bytes, 4096u);
  EXPECT_EQ(cfg.control.max_clients, 3u);
  EXPECT_EQ(cfg.control.client_idle_timeout_ms, 1000u);
  EXPECT_EQ(cfg.metrics.sample_interval_ms, 500u);
  EXPECT_EQ(cfg.metrics.history_size, 7u);
  EXPECT_EQ(cfg.metrics.warn_total_connections, 0u);
  EXPECT_EQ(cfg.metrics.warn_tenant_limit_percent, 100u);
  EXPECT_EQ(cfg.metrics.prometheus_top_tenants, 0u);
  EXPECT_EQ(cfg.metrics.http_listen, "[::1]:9464");
  EXPECT_EQ(cfg.shutdown.drain_timeout_ms, 1u);
}

TEST(ConfigLoader, ControlListenAcceptsASingleString) {
  auto cfg = parse(R"({"control": {"listen": "unix:/run/tenantrt/control.sock"}})");
  EXPECT_EQ(cfg.control.listen, std::vector<std::string>{"unix:/run/tenantrt/control.sock"});
  // Written back as the array it stands for.
  EXPECT_EQ(to_json(cfg)["control"]["listen"],
            nlohmann::ordered_json::array({"unix:/run/tenantrt/control.sock"}));
}

TEST(ConfigLoader, ControlListenRejectsOtherTypesAndNamesTheBadElement) {
  expect_single_problem(problems_of(R"({"control": {"listen": 7070}})"), "control.listen",
                        "expected array of strings or a string, got unsigned integer 7070");
  // The bad element is named by its index; the others are still checked.
  auto problems = problems_of(R"({"control": {"listen": ["127.0.0.1:1", 2, "0.0.0.0:3"]}})");
  ASSERT_EQ(problems.size(), 2u) << listed(problems);
  EXPECT_EQ(problems[0].path, "control.listen[1]");
  EXPECT_TRUE(contains(problems[0].reason, "expected string"));
  EXPECT_EQ(problems[1].path, "control.listen[2]");
  EXPECT_TRUE(contains(problems[1].reason, "needs control.token"));
}

TEST(ConfigLoader, NulByteIsMalformedJsonNotTheEndOfTheFile) {
  // Without the check, nlohmann stops at the NUL and ignores what follows.
  auto problems = problems_of(std::string{"{}\0{\"registry\": 5}", 18});
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].path, "");
  EXPECT_TRUE(contains(problems[0].reason, "NUL byte at offset 2"));
}

// -- control.allow_exec ------------------------------------------------------------------------

TEST(ConfigLoader, DefaultControlSocketIsLoopbackOnlyWithExecAllowed) {
  auto cfg = parse("{}");
  ASSERT_EQ(cfg.control.listen, std::vector<std::string>{"127.0.0.1:7070"});
  EXPECT_EQ(cfg.control.token, "");
  EXPECT_EQ(cfg.control.allow_exec, std::nullopt);
  EXPECT_TRUE(exec_allowed(cfg.control));
  // Without a token, no address other hosts can reach is accepted at all.
  for (auto address : {"0.0.0.0:7070", "10.1.2.3:7070", "[::]:7070", "[2001:db8::1]:7070"}) {
    cfg.control.listen = {address};
    expect_single_problem(cfg, "control.listen[0]", "needs control.token");
  }
}

TEST(ConfigLoader, AllowExecExplicitValueWinsOverTheDefault) {
  auto on = parse(R"({"control": {"listen": ["0.0.0.0:7070"], "token": "0123456789abcdef",
                                    "allow_exec": true}})");
  EXPECT_EQ(on.control.allow_exec, std::optional<bool>{true});
  EXPECT_TRUE(exec_allowed(on.control));
  auto off = parse(R"({"control": {"allow_exec": false}})");
  EXPECT_EQ(off.control.allow_exec, std::optional<bool>{false});
  EXPECT_FALSE(exec_allowed(off.control));
  auto unset = parse(R"({"control": {"allow_exec": null}})");
  EXPECT_EQ(unset.control.allow_exec, std::nullopt);
  EXPECT_TRUE(exec_allowed(unset.control));
}

TEST(ConfigLoader, AllowExecRejectsOtherTypes) {
  expect_single_problem(problems_of(R"({"control": {"allow_exec": "yes"}})"), "control.allow_exec",
                        "expected boolean or null, got string");
  expect_single_problem(problems_of(R"({"control": {"allow_exec": 1}})"), "control.allow_exec",
                        "expected boolean or null, got unsigned integer 1");
  expect_single_problem(problems_of(R"({"control": {"allow_exec": [true]}})"),
                        "control.allow_exec", "expected boolean or null, got array");
}

TEST(ConfigLoader, AllowExecIsWrittenBackAsSetOrNull) {
  runtime_config cfg;
  EXPECT_TRUE(to_json(cfg)["control"]["allow_exec"].is_null());
  cfg.control.allow_exec = false;
  EXPECT_EQ(to_json(cfg)["control"]["allow_exec"], false);
  // What to_json() writes reads back as the same tri-state.
  for (std::optional<bool> value : {std::optional<bool>{}, std::optional<bool>{true},
                                    std::optional<bool>{false}}) {
    cfg.control.allow_exec = value;
    auto back = parse(to_json(cfg, redaction::reveal_secrets).dump());
    EXPECT_EQ(back.control.allow_exec, value);
  }
}

// -- what the reader refuses -----------------------------------------------------------------

TEST(ConfigLoader, RejectsUnknownKeyWithItsPath) {
  auto problems
    = problems_of(R"({"clusters": {"eu": {"max_poolsize": 5}}, "default_cluster": "eu"})");
  expect_single_problem(problems, "clusters.eu.max_poolsize", "unknown key");
  EXPECT_TRUE(contains(problems[0].reason, "max_pool_size")); // lists what is expected
}

TEST(ConfigLoader, RejectsUnknownKeysAtEveryLevel) {
  auto problems = problems_of(R"({"pool": {}, "registry": {"quarantine": {"window": 1}}})");
  ASSERT_EQ(problems.size(), 2u) << listed(problems); // in document order
  EXPECT_EQ(problems[0].path, "pool");
  EXPECT_EQ(problems[1].path, "registry.quarantine.window");
}

TEST(ConfigLoader, RejectsWrongTypeNamingTheExpectedType) {
  expect_single_problem(problems_of(R"({"executor": {"threads": "8"}})"), "executor.threads",
                        "expected unsigned integer, got string");
  expect_single_problem(problems_of(R"({"registry": {"evict_lru_when_full": 1}})"),
                        "registry.evict_lru_when_full", "expected boolean, got unsigned integer 1");
  expect_single_problem(problems_of(R"({"main_database": null})"), "main_database",
                        "expected string, got null");
  expect_single_problem(problems_of(R"({"routing": []})"), "routing", "expected object, got array");
  expect_single_problem(problems_of(R"({"routing": {"exact": {"org1": 5}}})"), "routing.exact.org1",
                        "expected string");
  expect_single_problem(
    problems_of(R"({"clusters": {"eu": "mongodb://x"}, "default_cluster": "eu"})"), "clusters.eu",
    "expected object, got string");
}

TEST(ConfigLoader, RejectsNegativeNumbers) {
  expect_single_problem(problems_of(R"({"executor": {"max_queue": -1}})"), "executor.max_queue",
                        "must not be negative, got -1");
}

TEST(ConfigLoader, RejectsNumbersAboveUint32) {
  expect_single_problem(problems_of(R"({"registry": {"idle_timeout_ms": 4294967296}})"),
                        "registry.idle_timeout_ms", "out of range: 4294967296 is above 4294967295");
  EXPECT_TRUE(problems_of(R"({"registry": {"idle_timeout_ms": 4294967295}})").empty());
}

TEST(ConfigLoader, RejectsFractionalNumbers) {
  expect_single_problem(problems_of(R"({"executor": {"threads": 1.5}})"), "executor.threads",
                        "expected unsigned integer, got floating-point number 1.5");
}

TEST(ConfigLoader, RejectsMalformedJsonWithTheParserPosition) {
  auto problems = problems_of("{\n  \"executor\": {\n    \"threads\" 4\n  }\n}");
  expect_single_problem(problems, "", "malformed JSON");
  EXPECT_TRUE(contains(problems[0].reason, "line 3, column"));
}

TEST(ConfigLoader, MalformedJsonNeverQuotesAPassword) {
  for (auto text : {R"({"clusters": {"a": {"uri": "mongodb://u:s3cr3t@h)",
                    "{\"clusters\": {\"a\": {\"uri\": \"mongodb://u:s3cr3t@h\x01\"}}}"}) {
    auto problems = problems_of(text);
    ASSERT_EQ(problems.size(), 1u) << listed(problems);
    EXPECT_TRUE(contains(problems[0].reason, "malformed JSON"));
    EXPECT_TRUE(lacks(problems[0].reason, "s3cr3t"));
  }
}

TEST(ConfigLoader, RejectsADocumentThatIsNotAnObject) {
  expect_single_problem(problems_of("[1, 2]"), "", "must be a JSON object, got array");
  expect_single_problem(problems_of(""), "", "malformed JSON");
}

TEST(ConfigLoader, RejectsDuplicateKeys) {
  expect_single_problem(problems_of(R"({"executor": {"threads": 4, "threads": 8}})"),
                        "executor.threads", "duplicate key");
}

TEST(ConfigLoader, QuotesOddKeysInPaths) {
  expect_single_problem(problems_of(R"({"registry": {"a.b": 1}})"), "registry[\"a.b\"]",
                        "unknown key");
}

// -- environment ------------------------------------------------------------------------

TEST(ConfigLoader, MongodbUriOverridesTheDefaultClustersUri) {
  auto env = environment({{"MONGODB_URI", "mongodb://from-env:27018"}});
  auto cfg
    = parse_config(R"({"clusters": {"a": {"uri": "mongodb://a:1"}, "b": {"uri": "mongodb://b:1"}},
                              "default_cluster": "b"})",
                   env);
  EXPECT_EQ(cfg.clusters.at("a").uri, "mongodb://a:1");
  EXPECT_EQ(cfg.clusters.at("b").uri, "mongodb://from-env:27018");
  EXPECT_EQ(parse_config("{}", env).clusters.at("default").uri, "mongodb://from-env:27018");
}

TEST(ConfigLoader, LogLevelOverrideIsAppliedAndValidated) {
  EXPECT_EQ(parse_config("{}", environment({{"TENANTRT_LOG_LEVEL", "debug"}})).logging.level,
            "debug");
  auto problems = problems_of("{}", environment({{"TENANTRT_LOG_LEVEL", "chatty"}}));
  expect_single_problem(problems, "logging.level", "is not a log level");
  EXPECT_TRUE(contains(problems[0].reason, "environment variable TENANTRT_LOG_LEVEL"));
}

TEST(ConfigLoader, BadUriFromEnvironmentNamesTheVariableButNotThePassword) {
  auto problems = problems_of("{}", environment({{"MONGODB_URI", "mongo://u:topsecret@h"}}));
  expect_single_problem(problems, "clusters.default.uri", "environment variable MONGODB_URI");
  EXPECT_TRUE(lacks(problems[0].reason, "topsecret"));
}

TEST(ConfigLoader, EmptyEnvironmentValuesAreIgnored) {
  auto env = environment(
    {{"MONGODB_URI", ""}, {"TENANTRT_LOG_LEVEL", ""}, {"TENANTRT_CONTROL_TOKEN", ""}});
  auto cfg = parse_config(
    R"({"logging": {"level": "warn"}, "control": {"token": "file-token-0123456"}})", env);
  EXPECT_EQ(cfg.clusters.at("default").uri, "mongodb://127.0.0.1:27017");
  EXPECT_EQ(cfg.logging.level, "warn");
  EXPECT_EQ(cfg.control.token, "file-token-0123456");
}

TEST(ConfigLoader, ControlTokenOverrideIsAppliedAndValidated) {
  auto env = environment({{"TENANTRT_CONTROL_TOKEN", "env-token-abcdef0123"}});
  auto cfg = parse_config(R"({"control": {"token": "file-token-0123456"}})", env);
  EXPECT_EQ(cfg.control.token, "env-token-abcdef0123"); // the environment wins
  // It satisfies a non-loopback listen address, as a token in the file would.
  cfg = parse_config(R"({"control": {"listen": ["0.0.0.0:7070"]}})", env);
  EXPECT_EQ(cfg.control.token, "env-token-abcdef0123");
  auto problems = problems_of("{}", environment({{"TENANTRT_CONTROL_TOKEN", "envshort"}}));
  expect_single_problem(problems, "control.token", "got 8");
  EXPECT_TRUE(contains(problems[0].reason, "environment variable TENANTRT_CONTROL_TOKEN"));
  EXPECT_TRUE(lacks(problems[0].reason, "envshort"));
}

// -- redaction and writing back --------------------------------------------------------------

TEST(ConfigLoader, ToJsonWritesEveryKeyInTheFileLayout) {
  auto json = to_json(runtime_config{});
  std::vector<std::string> top;
  for (const auto& item : json.items())
    top.push_back(item.key());
  EXPECT_EQ(
    top, (std::vector<std::string>{"clusters", "default_cluster", "routing", "database_template",
                                   "main_database", "main_cluster", "pool_maintenance_interval_ms",
                                   "registry", "executor", "scheduler", "logging", "control",
                                   "metrics", "shutdown"}));
  EXPECT_EQ(json["clusters"]["default"].size(), 9u); // uri, pool_per_tenant, 7 pool settings
  EXPECT_EQ(json["clusters"]["default"]["max_pool_size"], 10);
  EXPECT_EQ(json["registry"].size(), 8u);
  EXPECT_EQ(json["registry"]["quarantine"].size(), 4u);
  EXPECT_TRUE(json["routing"]["exact"].is_object());
  EXPECT_EQ(json["control"].size(), 6u);
  EXPECT_EQ(json["control"]["client_idle_timeout_ms"], 300000);
  EXPECT_TRUE(json["control"]["allow_exec"].is_null()); // unset: derived from listen
  EXPECT_EQ(json["control"]["listen"], nlohmann::ordered_json::array({"127.0.0.1:7070"}));
  EXPECT_EQ(json["metrics"].size(), 6u);
  EXPECT_EQ(json["shutdown"].size(), 1u);
}

TEST(ConfigLoader, ToJsonRedactsTheControlTokenUnlessAskedNotTo) {
  runtime_config cfg;
  EXPECT_EQ(to_json(cfg)["control"]["token"], ""); // unset stays visibly unset
  cfg.control.token = "tok-0123456789abcdef";
  EXPECT_EQ(to_json(cfg)["control"]["token"], "***");
  EXPECT_TRUE(lacks(to_json(cfg).dump(), "tok-0123456789abcdef"));
  EXPECT_EQ(to_json(cfg, redaction::reveal_secrets)["control"]["token"], "tok-0123456789abcdef");
}

TEST(ConfigLoader, ToJsonRedactsUrisUnlessAskedNotTo) {
  runtime_config cfg;
  cfg.clusters["default"].uri = "mongodb://svc:hunter2@db-1:27017/?tls=true";
  EXPECT_EQ(to_json(cfg)["clusters"]["default"]["uri"], "mongodb://svc:***@db-1:27017/?tls=true");
  EXPECT_TRUE(lacks(to_json(cfg).dump(), "hunter2"));
  EXPECT_EQ(to_json(cfg, redaction::reveal_secrets)["clusters"]["default"]["uri"],
            "mongodb://svc:hunter2@db-1:27017/?tls=true");
}

TEST(ConfigLoader, ToJsonRoundTripsThroughParseConfig) {
  auto cfg = parse(R"({
    "clusters": {"eu": {"uri": "mongodb://u:p@eu-1:27017/?tls=true", "pool_per_tenant": true,
                        "max_pool_size": 30, "min_pool_size": 0, "connect_timeout_ms": 3000},
                 "us": {"uri": "mongodb+srv://us.example.net"}},
    "default_cluster": "eu", "main_cluster": "us",
    "routing": {"exact": {"org42": "us"}, "prefix": {"us-": "us"}},
    "database_template": "t_{id}", "main_database": "core",
    "registry": {"max_tenant_connections": 500, "evict_lru_when_full": false,
                 "quarantine": {"max_crashes": 9}},
    "executor": {"threads": 4}, "scheduler": {"threads": 2}, "logging": {"level": "trace"},
    "control": {"listen": ["[::]:7070", "unix:/run/t.sock"], "token": "0123456789abcdef",
                "max_clients": 9, "client_idle_timeout_ms": 0},
    "metrics": {"history_size": 3, "http_listen": "localhost:9464"},
    "shutdown": {"drain_timeout_ms": 2500}})");
  auto written = to_json(cfg, redaction::reveal_secrets);
  auto reread = parse(written.dump(2));
  EXPECT_EQ(to_json(reread, redaction::reveal_secrets), written);
  EXPECT_EQ(reread.clusters.at("eu").uri, "mongodb://u:p@eu-1:27017/?tls=true");
  EXPECT_EQ(reread.clusters.at("eu").name, "eu");
  EXPECT_EQ(reread.registry.quarantine.max_crashes, 9u);
  EXPECT_EQ(reread.main_cluster, "us");
  EXPECT_EQ(reread.control.token, "0123456789abcdef");
  EXPECT_EQ(reread.control.listen, (std::vector<std::string>{"[::]:7070", "unix:/run/t.sock"}));
  EXPECT_EQ(reread.shutdown.drain_timeout_ms, 2500u);
  EXPECT_EQ(written["control"]["client_idle_timeout_ms"], 0);
  EXPECT_EQ(reread.control.client_idle_timeout_ms, 0u); // "never" survives, not the default
}

} // namespace
} // namespace tenantrt
