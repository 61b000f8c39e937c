#include "config/config_loader.hpp"
#include "config/listen_address.hpp"
#include "config/uri.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace tenantrt {
namespace {

namespace fs = std::filesystem;

testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << part << "\" not in: " << text;
}

testing::AssertionResult lacks(const std::string& text, std::string_view part) {
  if (text.find(part) == std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << part << "\" leaked in: " << text;
}

/// No variable set: tests never read the real environment.
std::optional<std::string> no_environment(const char*) { return std::nullopt; }

environment_lookup environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const char* name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end())
      return std::nullopt;
    return found->second;
  };
}

runtime_config parse(const std::string& text) { return parse_config(text, no_environment); }

/// The problems parse_config() throws for text (empty when it parses).
std::vector<config_problem> problems_of(const std::string& text,
                                        const environment_lookup& env = no_environment) {
  try {
    parse_config(text, env);
  } catch (const config_error& error) {
    return error.problems();
  }
  return {};
}

std::string listed(const std::vector<config_problem>& problems) {
  std::string text;
  for (const auto& p : problems)
    text += "  " + p.path + ": " + p.reason + "\n";
  return text;
}

/// Exactly one problem, at path, whose reason contains part.
void expect_single_problem(const std::vector<config_problem>& problems, const std::string& path,
                           std::string_view part) {
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].path, path);
  EXPECT_TRUE(contains(problems[0].reason, part));
}

void expect_single_problem(const runtime_config& cfg, const std::string& path,
                           std::string_view part) {
  expect_single_problem(validate(cfg), path, part);
}

fs::path examples_dir() {
#ifdef TENANTRT_SOURCE_DIR
  return fs::path{TENANTRT_SOURCE_DIR} / "config" / "examples";
#else
  return fs::path{__FILE__}.parent_path().parent_path().parent_path().parent_path() / "config"
         / "examples";
#endif
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// -- defaults -----------------------------------------------------------------------

TEST(ConfigLoader, DefaultsAreTheDocumentedValues) {
  runtime_config cfg;
  ASSERT_EQ(cfg.clusters.size(), 1u);
  const auto& cluster = cfg.clusters.at("default");
  EXPECT_EQ(cluster.name, "default");
  EXPECT_EQ(cluster.uri, "mongodb://127.0.0.1:27017");
  EXPECT_FALSE(cluster.pool_per_tenant);
  EXPECT_EQ(cluster.pool.max_pool_size, 10u);
  EXPECT_EQ(cluster.pool.min_pool_size, 2u);
  EXPECT_EQ(cluster.pool.max_idle_time_ms, 60000u);
  EXPECT_EQ(cluster.pool.wait_queue_timeout_ms, 10000u);
  EXPECT_EQ(cluster.pool.socket_timeout_ms, 45000u);
  EXPECT_EQ(cluster.pool.server_selection_timeout_ms, 30000u);
  EXPECT_EQ(cluster.pool.connect_timeout_ms, 30000u);
  EXPECT_EQ(cfg.default_cluster, "default");
  EXPECT_TRUE(cfg.routing.exact.empty());
  EXPECT_TRUE(cfg.routing.prefix.empty());
  EXPECT_EQ(cfg.database_template, "tenant_{id}");
  EXPECT_EQ(cfg.main_database, "main");
  EXPECT_EQ(cfg.main_cluster, "");
  EXPECT_EQ(cfg.pool_maintenance_interval_ms, 1000u);
  EXPECT_EQ(cfg.registry.max_tenant_connections, 50u);
  EXPECT_EQ(cfg.registry.idle_timeout_ms, 300000u);
  EXPECT_EQ(cfg.registry.cleanup_interval_ms, 300000u);
  EXPECT_TRUE(cfg.registry.evict_lru_when_full);
  EXPECT_EQ(cfg.registry.wait_queue_timeout_ms, 5000u);
  EXPECT_EQ(cfg.registry.max_waiters, 1000u);
  EXPECT_EQ(cfg.registry.main_ping_interval_ms, 10000u);
  EXPECT_EQ(cfg.registry.quarantine.max_crashes, 3u);
  EXPECT_EQ(cfg.registry.quarantine.crash_window_ms, 60000u);
  EXPECT_EQ(cfg.registry.quarantine.backoff_ms, 30000u);
  EXPECT_EQ(cfg.registry.quarantine.max_backoff_ms, 600000u);
  EXPECT_EQ(cfg.executor.threads, 16u);
  EXPECT_EQ(cfg.executor.max_queue, 10000u);
  EXPECT_EQ(cfg.scheduler.threads, 0u);
  EXPECT_EQ(cfg.logging.level, "info");
  EXPECT_EQ(cfg.control.listen, std::vector<std::string>{"127.0.0.1:7070"});
  EXPECT_EQ(cfg.control.token, "");
  EXPECT_EQ(cfg.control.max_line_bytes, 65536u);
  EXPECT_EQ(cfg.control.max_clients, 64u);
  EXPECT_EQ(cfg.control.client_idle_timeout_ms, 300000u);
  EXPECT_EQ(cfg.control.allow_exec, std::nullopt);
  EXPECT_EQ(cfg.metrics.sample_interval_ms, 10000u);
  EXPECT_EQ(cfg.metrics.history_size, 100u);
  EXPECT_EQ(cfg.metrics.warn_total_connections, 30u);
  EXPECT_EQ(cfg.metrics.warn_tenant_limit_percent, 80u);
  EXPECT_EQ(cfg.metrics.prometheus_top_tenants, 20u);
  EXPECT_EQ(cfg.metrics.http_listen, "");
  EXPECT_EQ(cfg.shutdown.drain_timeout_ms, 10000u);
}

TEST(ConfigLoader, ControlMetricsAndShutdownDefaultWhenLeftOut) {
  auto cfg = parse(R"({"control": {}, "metrics": {"history_size": 5}})");
  EXPECT_EQ(to_json(cfg)["control"], to_json(runtime_config{})["control"]);
  EXPECT_EQ(cfg.metrics.history_size, 5u);
  EXPECT_EQ(cfg.metrics.sample_interval_ms, 10000u);
  EXPECT_EQ(cfg.shutdown.drain_timeout_ms, 10000u);
}

TEST(ConfigLoader, DefaultsValidate) {
  EXPECT_TRUE(validate(runtime_config{}).empty()) << listed(validate(runtime_config{}));
}

TEST(ConfigLoader, EmptyObjectYieldsDefaults) {
  EXPECT_EQ(to_json(parse("{}")), to_json(runtime_config{}));
}

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

TEST(ConfigLoader, AllowExecDefaultsFromTheListenAddresses) {
  control_config control;
  control.token = "0123456789abcdef";
  control.listen = {"127.0.0.1:7070", "unix:/run/t.sock", "localhost:1", "[::1]:2", "127.9.9.9:3"};
  EXPECT_TRUE(exec_allowed(control));
  control.listen = {"unix:/run/t.sock"};
  EXPECT_TRUE(exec_allowed(control));
  // One address reachable from other hosts turns the default off.
  for (auto address : {"0.0.0.0:7070", "192.168.1.10:7070", "[::]:7070"}) {
    control.listen = {"unix:/run/t.sock", address};
    EXPECT_FALSE(exec_allowed(control)) << address;
  }
  // An address that does not parse counts as non-loopback (the safe side).
  control.listen = {"127.0.0.1:7070", "db.example.net:7070"};
  EXPECT_FALSE(exec_allowed(control));
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

TEST(ConfigLoader, ReportsEveryProblemTogether) {
  auto problems = problems_of(R"({
    "clusters": {"eu": {"uri": "http://eu-1", "max_pool_size": "many", "min_pool_size": 99}},
    "default_cluster": "us",
    "executor": {"threads": 0, "max_queue": -3},
    "logging": {"level": "loud", "colour": true}
  })");
  std::vector<std::string> paths;
  for (const auto& p : problems)
    paths.push_back(p.path);
  std::vector<std::string> expected_paths{
    "clusters.eu.max_pool_size", // reading problems first, in document order
    "executor.max_queue",        "logging.colour",
    "clusters.eu.uri", // then semantic ones
    "clusters.eu.min_pool_size", "default_cluster", "executor.threads", "logging.level",
  };
  EXPECT_EQ(paths, expected_paths) << listed(problems);
}

TEST(ConfigLoader, ConfigErrorListsOneLinePerProblem) {
  try {
    parse(R"({"executor": {"threads": 0}, "logging": {"level": "loud"}})");
    FAIL() << "expected config_error";
  } catch (const config_error& error) {
    std::string what = error.what();
    EXPECT_EQ(what, "executor.threads: must be at least 1, got 0\n"
                    "logging.level: \"loud\" is not a log level; use one of trace, debug, info, "
                    "warn, error, critical, off");
    EXPECT_TRUE(error.source().empty());
  }
}

TEST(ConfigLoader, SkipsSemanticEchoesOfUnreadableValues) {
  // default_cluster could not be read, so "names cluster default" would only confuse.
  auto problems = problems_of(R"({"clusters": {"eu": {}}, "default_cluster": 7})");
  expect_single_problem(problems, "default_cluster", "expected string");
}

// -- semantic checks, one rule each -------------------------------------------------------

TEST(ConfigLoader, RequiresAtLeastOneCluster) {
  expect_single_problem(problems_of(R"({"clusters": {}})"), "clusters",
                        "at least one cluster is required");
}

TEST(ConfigLoader, DefaultClusterMustExist) {
  runtime_config cfg;
  cfg.default_cluster = "eu";
  expect_single_problem(cfg, "default_cluster", "names cluster \"eu\", which is not configured");
}

TEST(ConfigLoader, MainClusterMustExistWhenSet) {
  runtime_config cfg;
  cfg.main_cluster = "";
  EXPECT_TRUE(validate(cfg).empty());
  cfg.main_cluster = "shared";
  expect_single_problem(cfg, "main_cluster", "\"shared\"");
}

TEST(ConfigLoader, RoutingTargetsMustExist) {
  runtime_config cfg;
  cfg.routing.exact["org42"] = "analytics";
  cfg.routing.prefix["eu-"] = "eu";
  auto problems = validate(cfg);
  ASSERT_EQ(problems.size(), 2u) << listed(problems);
  EXPECT_EQ(problems[0].path, "routing.exact.org42");
  EXPECT_TRUE(contains(problems[0].reason, "\"analytics\""));
  EXPECT_EQ(problems[1].path, "routing.prefix.eu-");
}

TEST(ConfigLoader, UriMustNotBeEmpty) {
  runtime_config cfg;
  cfg.clusters["default"].uri = "";
  expect_single_problem(cfg, "clusters.default.uri", "must not be empty");
}

TEST(ConfigLoader, UriMustUseAMongodbScheme) {
  runtime_config cfg;
  for (auto uri : {"http://h", "mongodb:/h", "127.0.0.1:27017", "MONGODB://h"}) {
    cfg.clusters["default"].uri = uri;
    expect_single_problem(cfg, "clusters.default.uri",
                          "must start with mongodb:// or mongodb+srv://");
  }
  for (auto uri : {"mongodb://h", "mongodb+srv://cluster0.example.net/?retryWrites=true",
                   "mongodb://u:p@h1:1,h2:2/db?replicaSet=rs0", "mongodb://[::1]:27017"}) {
    cfg.clusters["default"].uri = uri;
    EXPECT_TRUE(validate(cfg).empty()) << uri << "\n" << listed(validate(cfg));
  }
}

TEST(ConfigLoader, UriMustNameAHost) {
  runtime_config cfg;
  for (auto uri : {"mongodb://", "mongodb://u:p@/db", "mongodb:///db", "mongodb+srv://?x=1"}) {
    cfg.clusters["default"].uri = uri;
    expect_single_problem(cfg, "clusters.default.uri", "names no host");
  }
  cfg.clusters["default"].uri = "mongodb://h1,,h2";
  expect_single_problem(cfg, "clusters.default.uri", "empty entry in its host list");
}

TEST(ConfigLoader, SrvUriTakesOneHostWithoutPort) {
  runtime_config cfg;
  cfg.clusters["default"].uri = "mongodb+srv://a.example.net,b.example.net";
  expect_single_problem(cfg, "clusters.default.uri", "exactly one host name");
  cfg.clusters["default"].uri = "mongodb+srv://a.example.net:27017";
  expect_single_problem(cfg, "clusters.default.uri", "no port");
}

TEST(ConfigLoader, ProblemQuotingAUriNeverContainsThePassword) {
  runtime_config cfg;
  for (auto uri :
       {"mongdb://admin:hunter2@h", "mongodb://admin:hunter2@", "mongodb://admin:hunter2@h,,x",
        "mongodb+srv://admin:hunter2@h:1", "http://h/?tlsCertificateKeyFilePassword=hunter2"}) {
    cfg.clusters["default"].uri = uri;
    auto problems = validate(cfg);
    ASSERT_EQ(problems.size(), 1u) << uri;
    EXPECT_TRUE(lacks(problems[0].reason, "hunter2"));
    EXPECT_TRUE(contains(problems[0].reason, "***"));
  }
}

TEST(ConfigLoader, MaxPoolSizeMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.clusters["default"].pool.max_pool_size = 0;
  cfg.clusters["default"].pool.min_pool_size = 0;
  expect_single_problem(cfg, "clusters.default.max_pool_size", "must be at least 1, got 0");
}

TEST(ConfigLoader, MinPoolSizeMustNotExceedMax) {
  runtime_config cfg;
  cfg.clusters["default"].pool.min_pool_size = 11;
  expect_single_problem(cfg, "clusters.default.min_pool_size",
                        "must not exceed max_pool_size (10)");
  cfg.clusters["default"].pool.min_pool_size = 10;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, PoolTimeoutsMustBePositive) {
  for (auto key : {"max_idle_time_ms", "wait_queue_timeout_ms", "socket_timeout_ms",
                   "server_selection_timeout_ms", "connect_timeout_ms"}) {
    auto text
      = std::string{R"({"clusters": {"c": {")"} + key + R"(": 0}}, "default_cluster": "c"})";
    expect_single_problem(problems_of(text), std::string{"clusters.c."} + key,
                          "must be at least 1");
  }
}

TEST(ConfigLoader, MaxTenantConnectionsMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.registry.max_tenant_connections = 0;
  expect_single_problem(cfg, "registry.max_tenant_connections", "must be at least 1, got 0");
}

TEST(ConfigLoader, CleanupIntervalMustBeAtLeast100Ms) {
  runtime_config cfg;
  cfg.registry.cleanup_interval_ms = 99;
  expect_single_problem(cfg, "registry.cleanup_interval_ms", "must be at least 100, got 99");
  cfg.registry.cleanup_interval_ms = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, IdleTimeoutMustBeAtLeastOneMs) {
  runtime_config cfg;
  cfg.registry.idle_timeout_ms = 0;
  expect_single_problem(cfg, "registry.idle_timeout_ms", "must be at least 1");
}

TEST(ConfigLoader, RegistryTimersMustBePositive) {
  for (auto key : {"wait_queue_timeout_ms", "main_ping_interval_ms"}) {
    auto text = std::string{R"({"registry": {")"} + key + R"(": 0}})";
    expect_single_problem(problems_of(text), std::string{"registry."} + key, "must be at least 1");
  }
  expect_single_problem(problems_of(R"({"pool_maintenance_interval_ms": 0})"),
                        "pool_maintenance_interval_ms", "must be at least 1");
}

TEST(ConfigLoader, QuarantineBackoffMustBeConsistent) {
  runtime_config cfg;
  cfg.registry.quarantine.max_backoff_ms = 1000;
  expect_single_problem(cfg, "registry.quarantine.max_backoff_ms",
                        "must be at least backoff_ms (30000)");
  cfg = runtime_config{};
  cfg.registry.quarantine.crash_window_ms = 0;
  expect_single_problem(cfg, "registry.quarantine.crash_window_ms", "must be at least 1");
}

TEST(ConfigLoader, ExecutorThreadsMustBeBetween1And1024) {
  runtime_config cfg;
  cfg.executor.threads = 0;
  expect_single_problem(cfg, "executor.threads", "must be at least 1, got 0");
  cfg.executor.threads = 1025;
  expect_single_problem(cfg, "executor.threads", "must be at most 1024, got 1025");
  cfg.executor.threads = 1024;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ExecutorMaxQueueMustBeAtLeastOne) {
  runtime_config cfg;
  cfg.executor.max_queue = 0;
  expect_single_problem(cfg, "executor.max_queue", "must be at least 1");
}

TEST(ConfigLoader, SchedulerThreadsAtMost1024) {
  runtime_config cfg;
  cfg.scheduler.threads = 5000;
  expect_single_problem(cfg, "scheduler.threads", "must be at most 1024");
}

TEST(ConfigLoader, LogLevelMustBeKnown) {
  runtime_config cfg;
  for (auto level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    cfg.logging.level = level;
    EXPECT_TRUE(validate(cfg).empty()) << level;
  }
  for (auto level : {"", "INFO", "warning", "verbose"}) {
    cfg.logging.level = level;
    expect_single_problem(cfg, "logging.level", "is not a log level");
  }
}

TEST(ConfigLoader, DatabaseTemplateNeedsIdExactlyOnce) {
  runtime_config cfg;
  cfg.database_template = "tenants";
  expect_single_problem(cfg, "database_template", "has none");
  cfg.database_template = "{id}_{id}";
  expect_single_problem(cfg, "database_template", "has it 2 times");
  cfg.database_template = "{id}";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, DatabaseTemplateMustYieldValidNamesAndSaysWhichCharacter) {
  runtime_config cfg;
  for (auto [database_template, what] :
       std::vector<std::pair<std::string, std::string>>{{"tenant.{id}", "'.' at position 6"},
                                                        {"t/{id}", "'/' at position 1"},
                                                        {"t {id}", "' ' at position 1"},
                                                        {"t${id}", "'$'"},
                                                        {"t*{id}", "'*'"},
                                                        {"t<{id}", "'<'"},
                                                        {"t>{id}", "'>'"},
                                                        {"t:{id}", "':'"},
                                                        {"t|{id}", "'|'"},
                                                        {"t?{id}", "'?'"},
                                                        {"t\"{id}", "'\"'"},
                                                        {"t\\{id}", "'\\'"},
                                                        {std::string{"t\0{id}", 6}, "byte 0x00"}}) {
    cfg.database_template = database_template;
    expect_single_problem(cfg, "database_template", what);
  }
}

TEST(ConfigLoader, DatabaseTemplateMustLeaveRoomForAnId) {
  runtime_config cfg;
  cfg.database_template = std::string(62, 'd') + "{id}"; // 63 bytes with a 1-character id
  EXPECT_TRUE(validate(cfg).empty());
  cfg.database_template = std::string(63, 'd') + "{id}";
  expect_single_problem(cfg, "database_template", "64 bytes; MongoDB allows at most 63");
}

TEST(ConfigLoader, MainDatabaseMustBeAValidUnreservedName) {
  runtime_config cfg;
  for (auto [name, what] :
       std::vector<std::pair<std::string, std::string>>{{"admin", "reserved"},
                                                        {"Local", "reserved"},
                                                        {"config", "reserved"},
                                                        {"my.db", "'.'"},
                                                        {"", "empty"},
                                                        {std::string(64, 'm'), "at most 63"}}) {
    cfg.main_database = name;
    expect_single_problem(cfg, "main_database", what);
  }
}

TEST(ConfigLoader, RoutingExactKeysMustBeValidTenantIds) {
  runtime_config cfg;
  cfg.routing.exact["org.42"] = "default";
  expect_single_problem(cfg, "routing.exact[\"org.42\"]", "contains '.' at position 3");
}

TEST(ConfigLoader, RoutingPrefixKeysMustBeNonEmptyTenantIdCharacters) {
  runtime_config cfg;
  cfg.routing.prefix[""] = "default";
  expect_single_problem(cfg, "routing.prefix[\"\"]", "empty prefix would match every tenant");
  cfg.routing.prefix.clear();
  cfg.routing.prefix["eu/"] = "default";
  expect_single_problem(cfg, "routing.prefix[\"eu/\"]", "'/'");
  cfg.routing.prefix.clear();
  cfg.routing.prefix["eu-"] = "default";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlListenNeedsAtLeastOneAddress) {
  expect_single_problem(problems_of(R"({"control": {"listen": []}})"), "control.listen",
                        "at least one address is required");
}

TEST(ConfigLoader, ControlUnixPathMustBeAbsoluteAndFitSunPath) {
  runtime_config cfg;
  cfg.control.listen = {"unix:"};
  expect_single_problem(cfg, "control.listen[0]", "names no socket path");
  cfg.control.listen = {"unix:run/t.sock"};
  expect_single_problem(cfg, "control.listen[0]", "absolute");
  cfg.control.listen = {"unix:" + std::string{"/t\0x", 4}};
  expect_single_problem(cfg, "control.listen[0]", "NUL");
  cfg.control.listen = {"unix:/" + std::string(106, 's')}; // 107 bytes + NUL = sun_path
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
  cfg.control.listen = {"unix:/" + std::string(107, 's')};
  expect_single_problem(cfg, "control.listen[0]", "socket path of 108 bytes; at most 107");
}

TEST(ConfigLoader, ControlHostPortNeedsAPortFrom1To65535) {
  runtime_config cfg;
  for (auto address : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                       "127.0.0.1:http", "127.0.0.1:+80", "127.0.0.1:000080", "[::1]"}) {
    cfg.control.listen = {address};
    auto problems = validate(cfg);
    ASSERT_EQ(problems.size(), 1u) << address << "\n" << listed(problems);
    EXPECT_EQ(problems[0].path, "control.listen[0]");
    EXPECT_TRUE(contains(problems[0].reason, "port")) << address;
  }
  for (auto address : {"127.0.0.1:1", "127.0.0.1:65535", "[::1]:7070"}) {
    cfg.control.listen = {address};
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
}

TEST(ConfigLoader, ControlHostMustBeIpv4LocalhostOrBracketedIpv6) {
  runtime_config cfg;
  cfg.control.token = "0123456789abcdef"; // so only the host's form is judged
  for (auto [address, what] : std::vector<std::pair<std::string, std::string>>{
         {":7070", "has no host"},
         {"example.com:7070", "names are not resolved"},
         {"LOCALHOST:7070", "names are not resolved"},
         {"256.0.0.1:7070", "IPv4 address"},
         {"127.0.0:7070", "IPv4 address"},
         {"127.0.0.01:7070", "IPv4 address"},
         {"::1:7070", "in brackets"},
         {"[::1:7070", "without a closing ']'"},
         {"[zz::1]:7070", "no valid IPv6"},
         {"[]:7070", "no valid IPv6"},
         {"tcp://127.0.0.1:7070", "without a scheme or path"}}) {
    cfg.control.listen = {address};
    expect_single_problem(cfg, "control.listen[0]", what);
  }
  for (auto address : {"0.0.0.0:7070", "10.1.2.3:7070", "localhost:7070", "[::]:7070",
                       "[fe80::1]:7070", "unix:/run/t.sock"}) {
    cfg.control.listen = {address};
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
}

TEST(ConfigLoader, NonLoopbackControlAddressNeedsAToken) {
  runtime_config cfg;
  for (auto address : {"0.0.0.0:7070", "10.1.2.3:7070", "128.0.0.1:7070", "[::]:7070",
                       "[::ffff:127.0.0.1]:7070", "[2001:db8::1]:7070"}) {
    cfg.control.listen = {"unix:/run/t.sock", address};
    expect_single_problem(cfg, "control.listen[1]",
                          "a non-loopback control address needs control.token");
  }
  // Loopback (any 127.x, localhost, [::1]) and unix sockets need none.
  cfg.control.listen = {"127.0.0.1:1", "127.255.3.4:2", "localhost:3", "[::1]:4",
                        "[0:0:0:0:0:0:0:1]:5", "unix:/run/t.sock"};
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
  cfg.control.listen = {"0.0.0.0:7070"};
  cfg.control.token = "0123456789abcdef";
  EXPECT_TRUE(validate(cfg).empty()) << listed(validate(cfg));
}

TEST(ConfigLoader, ControlTokenNeedsAtLeast16CharactersWhenSet) {
  runtime_config cfg;
  cfg.control.token = std::string(15, 't');
  expect_single_problem(cfg, "control.token", "must be at least 16 characters when set, got 15");
  cfg.control.token = std::string(16, 't');
  EXPECT_TRUE(validate(cfg).empty());
  cfg.control.token = "";
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlMaxLineBytesBetween1024And16MiB) {
  runtime_config cfg;
  cfg.control.max_line_bytes = 1023;
  expect_single_problem(cfg, "control.max_line_bytes", "must be at least 1024, got 1023");
  cfg.control.max_line_bytes = 16777217;
  expect_single_problem(cfg, "control.max_line_bytes", "must be at most 16777216");
  for (uint32_t bytes : {1024u, 16777216u}) {
    cfg.control.max_line_bytes = bytes;
    EXPECT_TRUE(validate(cfg).empty()) << bytes;
  }
}

TEST(ConfigLoader, ControlMaxClientsBetween1And65536) {
  runtime_config cfg;
  cfg.control.max_clients = 0;
  expect_single_problem(cfg, "control.max_clients", "must be at least 1, got 0");
  cfg.control.max_clients = 65537;
  expect_single_problem(cfg, "control.max_clients", "must be at most 65536");
  cfg.control.max_clients = 65536;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, ControlClientIdleTimeoutIsZeroOrBetween1000And86400000) {
  runtime_config cfg;
  cfg.control.client_idle_timeout_ms = 999;
  expect_single_problem(cfg, "control.client_idle_timeout_ms",
                        "must be 0 (no idle timeout) or at least 1000 ms, got 999");
  cfg.control.client_idle_timeout_ms = 1;
  expect_single_problem(cfg, "control.client_idle_timeout_ms", "at least 1000 ms, got 1");
  cfg.control.client_idle_timeout_ms = 86400001;
  expect_single_problem(cfg, "control.client_idle_timeout_ms",
                        "must be at most 86400000 ms (one day; use 0 for no idle timeout), got "
                        "86400001");
  cfg.control.client_idle_timeout_ms = 4294967295u;
  expect_single_problem(cfg, "control.client_idle_timeout_ms", "must be at most 86400000 ms");
  for (uint32_t ms : {0u, 1000u, 300000u, 86400000u}) {
    cfg.control.client_idle_timeout_ms = ms;
    EXPECT_TRUE(validate(cfg).empty()) << ms << "\n" << listed(validate(cfg));
  }
  // The same through the file, with the key's full path.
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 999}})"),
                        "control.client_idle_timeout_ms", "or at least 1000 ms, got 999");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 86400001}})"),
                        "control.client_idle_timeout_ms", "must be at most 86400000 ms");
  EXPECT_EQ(parse(R"({"control": {"client_idle_timeout_ms": 0}})").control.client_idle_timeout_ms,
            0u);
}

TEST(ConfigLoader, ControlClientIdleTimeoutRejectsOtherTypes) {
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": "5m"}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got string");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": 1500.5}})"),
                        "control.client_idle_timeout_ms",
                        "expected unsigned integer, got floating-point number 1500.5");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": -1}})"),
                        "control.client_idle_timeout_ms", "must not be negative, got -1");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": null}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got null");
  expect_single_problem(problems_of(R"({"control": {"client_idle_timeout_ms": false}})"),
                        "control.client_idle_timeout_ms", "expected unsigned integer, got boolean");
}

TEST(ConfigLoader, MetricsSampleIntervalAtLeast100Ms) {
  runtime_config cfg;
  cfg.metrics.sample_interval_ms = 99;
  expect_single_problem(cfg, "metrics.sample_interval_ms", "must be at least 100, got 99");
  cfg.metrics.sample_interval_ms = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsHistorySizeBetween1And100000) {
  runtime_config cfg;
  cfg.metrics.history_size = 0;
  expect_single_problem(cfg, "metrics.history_size", "must be at least 1, got 0");
  cfg.metrics.history_size = 100001;
  expect_single_problem(cfg, "metrics.history_size", "must be at most 100000");
  cfg.metrics.history_size = 100000;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsWarnTenantLimitPercentBetween1And100) {
  runtime_config cfg;
  cfg.metrics.warn_tenant_limit_percent = 0;
  expect_single_problem(cfg, "metrics.warn_tenant_limit_percent", "must be at least 1, got 0");
  cfg.metrics.warn_tenant_limit_percent = 101;
  expect_single_problem(cfg, "metrics.warn_tenant_limit_percent", "must be at most 100, got 101");
  cfg.metrics.warn_tenant_limit_percent = 100;
  EXPECT_TRUE(validate(cfg).empty());
}

TEST(ConfigLoader, MetricsHttpListenIsEmptyOrALoopbackHostPort) {
  runtime_config cfg;
  for (auto address : {"", "127.0.0.1:9464", "127.1.2.3:9464", "localhost:9464", "[::1]:9464"}) {
    cfg.metrics.http_listen = address;
    EXPECT_TRUE(validate(cfg).empty()) << address << "\n" << listed(validate(cfg));
  }
  cfg.control.token = "0123456789abcdef"; // a control token does not open /metrics up
  for (auto [address, what] : std::vector<std::pair<std::string, std::string>>{
         {"0.0.0.0:9464", "must use a loopback host"},
         {"10.0.0.5:9464", "must use a loopback host"},
         {"[::]:9464", "must use a loopback host"},
         {"9464", "has no port"},
         {"127.0.0.1:0", "port from 1 to 65535"},
         {"metrics.internal:9464", "names are not resolved"},
         {"unix:/run/metrics.sock", "TCP only"}}) {
    cfg.metrics.http_listen = address;
    expect_single_problem(cfg, "metrics.http_listen", what);
  }
}

TEST(ConfigLoader, ShutdownDrainTimeoutAtLeastOneMs) {
  expect_single_problem(problems_of(R"({"shutdown": {"drain_timeout_ms": 0}})"),
                        "shutdown.drain_timeout_ms", "must be at least 1, got 0");
}

TEST(ConfigLoader, ValidateChangesNothing) {
  runtime_config cfg;
  cfg.executor.threads = 0;
  cfg.logging.level = "LOUD";
  auto before = to_json(cfg, redaction::reveal_secrets);
  EXPECT_EQ(validate(cfg).size(), 2u);
  EXPECT_EQ(to_json(cfg, redaction::reveal_secrets), before);
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

// -- files ----------------------------------------------------------------------------------

class ConfigLoaderFile : public testing::Test {
protected:
  void TearDown() override {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }

  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_.string();
  }

  fs::path path_
    = fs::temp_directory_path() / ("tenantrt_config_test_" + std::to_string(::getpid()) + ".json");
};

TEST_F(ConfigLoaderFile, LoadsAFile) {
  auto cfg = load_config(write(R"({"executor": {"threads": 3}})"));
  EXPECT_EQ(cfg.executor.threads, 3u);
}

TEST_F(ConfigLoaderFile, ErrorsNameTheFile) {
  auto path = write(R"({"executor": {"threads": 0}})");
  try {
    load_config(path);
    FAIL() << "expected config_error";
  } catch (const config_error& error) {
    EXPECT_EQ(error.source(), path);
    EXPECT_EQ(std::string{error.what()}, path + ": executor.threads: must be at least 1, got 0");
    expect_single_problem(error.problems(), "executor.threads", "must be at least 1");
  }
}

TEST_F(ConfigLoaderFile, UnreadableFileIsNamed) {
  auto missing = (fs::temp_directory_path() / "tenantrt_no_such_config.json").string();
  try {
    load_config(missing);
    FAIL() << "expected config_error";
  } catch (const config_error& error) {
    EXPECT_TRUE(contains(error.what(), missing));
    EXPECT_TRUE(contains(error.what(), "No such file or directory"));
  }
  try {
    load_config(fs::temp_directory_path().string());
    FAIL() << "expected config_error";
  } catch (const config_error& error) {
    EXPECT_TRUE(contains(error.what(), "is a directory"));
  }
}

TEST(ConfigLoaderExamples, BothExampleFilesLoadAndValidate) {
  for (auto name : {"dev.json", "production.json"}) {
    auto path = examples_dir() / name;
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_NO_THROW(load_config(path.string())) << path;
    try {
      auto cfg = parse_config(read_file(path), no_environment);
      EXPECT_TRUE(validate(cfg).empty()) << name;
    } catch (const config_error& error) {
      ADD_FAILURE() << name << ":\n" << error.what();
    }
  }
}

TEST(ConfigLoaderExamples, ExampleFilesSpellOutEveryKey) {
  for (auto name : {"dev.json", "production.json"}) {
    auto text = read_file(examples_dir() / name);
    auto written = to_json(parse_config(text, no_environment), redaction::reveal_secrets);
    EXPECT_EQ(nlohmann::ordered_json::parse(text), written) << name << " should be:\n"
                                                            << written.dump(2);
  }
}

TEST(ConfigLoaderExamples, ExamplesHaveTheDocumentedSettings) {
  auto dev = parse_config(read_file(examples_dir() / "dev.json"), no_environment);
  EXPECT_EQ(dev.clusters.size(), 1u);
  EXPECT_EQ(dev.clusters.at("default").uri, "mongodb://127.0.0.1:27017");
  EXPECT_EQ(dev.registry.cleanup_interval_ms, 120000u);
  EXPECT_EQ(dev.logging.level, "info");
  auto production = parse_config(read_file(examples_dir() / "production.json"), no_environment);
  EXPECT_EQ(production.clusters.size(), 2u);
  EXPECT_EQ(production.clusters.count("analytics"), 1u);
  EXPECT_FALSE(production.routing.exact.empty());
  EXPECT_FALSE(production.routing.prefix.empty());
  EXPECT_EQ(production.registry.cleanup_interval_ms, 300000u);
  EXPECT_EQ(production.logging.level, "info");
  EXPECT_EQ(dev.control.listen,
            (std::vector<std::string>{"127.0.0.1:7070", "unix:/tmp/tenantrt.sock"}));
  EXPECT_EQ(production.control.listen,
            (std::vector<std::string>{"127.0.0.1:7070", "unix:/run/tenantrt/control.sock"}));
  for (const auto* cfg : {&dev, &production}) {
    // Left to its default, which allows exec on these loopback/unix sockets.
    EXPECT_EQ(cfg->control.allow_exec, std::nullopt);
    EXPECT_TRUE(exec_allowed(cfg->control));
    EXPECT_EQ(cfg->control.token, ""); // set through TENANTRT_CONTROL_TOKEN, never in a file
    EXPECT_EQ(cfg->metrics.http_listen, "127.0.0.1:9464");
    EXPECT_EQ(cfg->shutdown.drain_timeout_ms, 10000u);
  }
}

// -- redaction and writing back --------------------------------------------------------------

TEST(ConfigLoader, RedactUriHidesThePasswordInEveryForm) {
  std::vector<std::pair<std::string, std::string>> cases{
    {"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"},
    {"mongodb://user:pw1@h:27017/db?tls=true", "mongodb://user:***@h:27017/db?tls=true"},
    {"mongodb+srv://user:pw2@cluster0.example.net/?retryWrites=true",
     "mongodb+srv://user:***@cluster0.example.net/?retryWrites=true"},
    {"mongodb://tenantrt:pw3@db-1:27017,db-2:27017/?replicaSet=rs0",
     "mongodb://tenantrt:***@db-1:27017,db-2:27017/?replicaSet=rs0"},
    {"mongodb://user@h/?authMechanism=MONGODB-X509",
     "mongodb://user@h/?authMechanism=MONGODB-X509"},
    {"mongodb://u:p%40w4@h", "mongodb://u:***@h"},
    {"mongodb://u:pw5/x?y@h/db", "mongodb://u:***@h/db"}, // unencoded / and ? in the password
    {"mongodb://u:p@w6@h", "mongodb://u:***@h"},          // unencoded @
    {"mongodb://h/?appName=me@home&tls=true", "mongodb://h/?appName=me@home&tls=true"},
    {"mongodb://u:pw7@h/?appName=me@home", "mongodb://u:***@h/?appName=me@home"},
    {"mongodb://h/?tlsCertificateKeyFilePassword=pw8&tls=true",
     "mongodb://h/?tlsCertificateKeyFilePassword=***&tls=true"},
    {"mongodb://h/?password=pw9", "mongodb://h/?password=***"},
    {"mongodb://h/?sslClientCertificateKeyPassword=pw10",
     "mongodb://h/?sslClientCertificateKeyPassword=***"},
    {"mongodb://h/?pass%77ord=pw11", "mongodb://h/?pass%77ord=***"},
    {"mongodb://k:pw12@h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:pw13",
     "mongodb://k:***@h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:***"},
    {"mongodb://u@h/?authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:pw14",
     "mongodb://u@h/?authMechanismProperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:***"},
    {"mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN%3Apw15",
     "mongodb://h/?authMechanismProperties=***"},
    {"mongodb://h/?a=1;secret=pw16", "mongodb://h/?a=1;secret=***"},
    {"user:pw17@h:27017", "user:***@h:27017"}, // no scheme at all
    {"mongdb://user:pw18@h", "mongdb://user:***@h"},
    {"", ""},
  };
  for (const auto& [uri, redacted] : cases) {
    EXPECT_EQ(redact_uri(uri), redacted) << uri;
    EXPECT_TRUE(lacks(redact_uri(uri), "pw")) << uri;
  }
}

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

TEST(ConfigLoader, ControlTokenNeverAppearsInAProblem) {
  const std::string token = "tok4a1b2c3d4e5f6g7";
  const std::string short_token = "tok4a1b2c3";
  auto bad_documents = std::vector<std::string>{
    R"({"control": {"token": ")" + short_token + R"("}})",
    R"({"control": {"token": ")" + short_token + R"(", "listen": "0.0.0.0:1"}})",
    R"({"control": {"token": ")" + token + R"(", "max_clients": 0}})",
    R"({"control": {"token": ")" + token + R"(", "token": ")" + token + R"("}})",
    R"({"control": {"token": ")" + token + R"(", "tokn": 1}})",
    R"({"metrics": {"token": ")" + token + R"("}})",
    R"({"control": {"token": ")" + token + R"(")",
    R"({"control": {"token": ")" + token + "\x01" + R"("}})",
    R"({"control": {"token": 4123456789012345678}})",
    R"({"control": {"token": [")" + token + R"("]}})",
  };
  for (const auto& text : bad_documents) {
    try {
      parse(text);
      ADD_FAILURE() << "expected config_error for " << text;
    } catch (const config_error& error) {
      EXPECT_TRUE(lacks(error.what(), short_token)) << text; // short_token is token's prefix
      EXPECT_TRUE(lacks(error.what(), "4123456789012345678")) << text;
    }
  }
  auto env = environment({{"TENANTRT_CONTROL_TOKEN", short_token}});
  for (const auto& text :
       {std::string{"{}"}, std::string{R"({"control": {"listen": ["[::]:1", "x"]}})"}}) {
    auto problems = problems_of(text, env);
    ASSERT_FALSE(problems.empty()) << text;
    for (const auto& problem : problems)
      EXPECT_TRUE(lacks(problem.path + problem.reason, short_token));
  }
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
