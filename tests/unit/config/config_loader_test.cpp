#include "config/config_loader.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
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
  auto env = environment({{"MONGODB_URI", ""}, {"TENANTRT_LOG_LEVEL", ""}});
  auto cfg = parse_config(R"({"logging": {"level": "warn"}})", env);
  EXPECT_EQ(cfg.clusters.at("default").uri, "mongodb://127.0.0.1:27017");
  EXPECT_EQ(cfg.logging.level, "warn");
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
                                   "registry", "executor", "scheduler", "logging"}));
  EXPECT_EQ(json["clusters"]["default"].size(), 9u); // uri, pool_per_tenant, 7 pool settings
  EXPECT_EQ(json["clusters"]["default"]["max_pool_size"], 10);
  EXPECT_EQ(json["registry"].size(), 8u);
  EXPECT_EQ(json["registry"]["quarantine"].size(), 4u);
  EXPECT_TRUE(json["routing"]["exact"].is_object());
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
    "executor": {"threads": 4}, "scheduler": {"threads": 2}, "logging": {"level": "trace"}})");
  auto written = to_json(cfg, redaction::reveal_secrets);
  auto reread = parse(written.dump(2));
  EXPECT_EQ(to_json(reread, redaction::reveal_secrets), written);
  EXPECT_EQ(reread.clusters.at("eu").uri, "mongodb://u:p@eu-1:27017/?tls=true");
  EXPECT_EQ(reread.clusters.at("eu").name, "eu");
  EXPECT_EQ(reread.registry.quarantine.max_crashes, 9u);
  EXPECT_EQ(reread.main_cluster, "us");
}

} // namespace
} // namespace tenantrt
