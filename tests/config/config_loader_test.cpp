// The loader's public face (config/config_loader.hpp): the defaults, every
// problem reported together, config_error's text, files and the example
// files, no secret in a problem. The reader's own rules are in
// json_io_test.cpp, the checks in config_checks_test.cpp, reload planning in
// reload_plan_test.cpp.
#include "config/config_loader.hpp"
#include "config/listen_address.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/config_problems.hpp"

namespace tenantrt {
namespace {

using namespace config_testing;

namespace fs = std::filesystem;

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

// -- reader and checks together --------------------------------------------------------------

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

// -- secrets ---------------------------------------------------------------------------------

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

} // namespace
} // namespace tenantrt
