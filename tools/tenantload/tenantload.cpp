// tenantload: scripted load tests. Runs a scenario (tools/scenarios/*.json)
// in one or more modes, one after another against the same server, and
// measures each from outside: sockets to the server port, latency, errors,
// CPU and memory. See load_target.hpp for the modes.
//
//   tenantload --scenario tools/scenarios/steady.json --dev-server --mode all
//              --report steady.json --plot steady.svg

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <mongoc/mongoc.h>

#include "config/config_loader.hpp"
#include "config/uri.hpp"
#include "tools/support/dev_mongo_server.hpp"
#include "tools/support/tcp_census.hpp"
#include "tools/tenantload/load_runner.hpp"
#include "tools/tenantload/svg_chart.hpp"

namespace {

using namespace tenantrt::load;

struct cli_options {
  std::string scenario_path;
  std::vector<std::string> modes;
  std::string uri;
  bool dev_server = false;
  std::string report_path;
  std::string plot_path;
  double duration_scale = 1.0;
  std::string control_address;
  std::string token;
  std::string tenantrtd_path;
  std::string log_level = "warn";
  uint64_t seed = 1;
  double settle_s = 20;
  bool interleave = false;
};

/// The port of the URI's first host (whose sockets are counted).
uint16_t first_port(const std::string& uri) {
  bson_error_t error;
  mongoc_uri_t* parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
  if (!parsed)
    throw std::runtime_error(std::string{"the driver refuses the URI: "} + error.message);
  const mongoc_host_list_t* hosts = mongoc_uri_get_hosts(parsed);
  uint16_t port = hosts ? hosts->port : 27017;
  mongoc_uri_destroy(parsed);
  return port;
}

/// tenantrtd next to this binary (the build tree puts both in one directory).
std::string sibling_tenantrtd() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    return "tenantrtd";
  return (self.parent_path() / "tenantrtd").string();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path};
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "tenantload: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  cli_options opts;
  CLI::App app{"tenantload: scripted load tests of tenantrt against the naive patterns"};
  app.add_option("--scenario", opts.scenario_path, "scenario JSON file (tools/scenarios/)")
    ->required()
    ->check(CLI::ExistingFile);
  app.add_option("--mode", opts.modes,
                 "runtime, runtime-async, daemon, naive, pool-per-tenant, direct or all "
                 "(repeatable; default all)");
  auto uri_option = app.add_option("--uri", opts.uri, "MongoDB URI of the server to load");
  app.add_flag("--dev-server", opts.dev_server,
               "start dev-mongo (tools/dev-mongo) on a free loopback port")
    ->excludes(uri_option);
  app.add_option("--report", opts.report_path, "write everything measured as JSON");
  app.add_option("--plot", opts.plot_path, "write connections and p99 latency as SVG");
  app.add_option("--duration-scale", opts.duration_scale,
                 "multiply every phase's duration (e.g. 0.5 for a quick run)")
    ->check(CLI::PositiveNumber);
  app.add_option("--control", opts.control_address,
                 "daemon mode: a running tenantrtd's control address (HOST:PORT or unix:/path); "
                 "default: start tenantrtd");
  app.add_option("--token", opts.token, "daemon mode: its control.token (default $TENANTRT_TOKEN)");
  app.add_option("--tenantrtd", opts.tenantrtd_path,
                 "daemon mode: tenantrtd binary (default: next to tenantload)");
  app.add_option("--log-level", opts.log_level, "log level of the runtime and the daemon")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--seed", opts.seed, "seed of the random tenant and operation choices");
  app.add_option("--settle", opts.settle_s,
                 "seconds to wait before each mode for the previous mode's sockets to close")
    ->check(CLI::NonNegativeNumber);
  app.add_flag("--interleave", opts.interleave,
               "run the modes at once, each worker's operations alternating between them: "
               "both see the same machine, for a fair latency comparison on a noisy host "
               "(sockets and CPU are then of the whole run)");
  CLI11_PARSE(app, argc, argv);

  if (opts.token.empty())
    if (const char* env = std::getenv("TENANTRT_TOKEN"))
      opts.token = env;
  if (opts.tenantrtd_path.empty())
    opts.tenantrtd_path = sibling_tenantrtd();
  if (opts.modes.empty())
    opts.modes = {"all"};
  std::vector<std::string> modes;
  for (auto& m : opts.modes) {
    if (m == "all") {
      modes.insert(modes.end(), all_modes().begin(), all_modes().end());
    } else if (std::find(all_modes().begin(), all_modes().end(), m) != all_modes().end()) {
      modes.push_back(m);
    } else {
      std::fprintf(stderr,
                   "tenantload: --mode %s: unknown mode (expected runtime, runtime-async, "
                   "daemon, naive, pool-per-tenant, direct or all)\n",
                   m.c_str());
      return 2;
    }
  }
  if (opts.interleave) {
    auto distinct = modes;
    std::sort(distinct.begin(), distinct.end());
    if (modes.size() < 2 || std::adjacent_find(distinct.begin(), distinct.end()) != distinct.end()) {
      std::fprintf(stderr, "tenantload: --interleave needs two or more different modes\n");
      return 2;
    }
  }
  if (opts.uri.empty() && !opts.dev_server) {
    std::fprintf(stderr, "tenantload: give --uri URI or --dev-server\n");
    return 2;
  }

  scenario s;
  try {
    s = load_scenario(opts.scenario_path);
  } catch (const scenario_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  scale_durations(s, opts.duration_scale);

  mongoc_init();
  std::unique_ptr<tenantrt::devtools::dev_mongo_server> dev_server;
  if (opts.dev_server) {
    try {
      dev_server = std::make_unique<tenantrt::devtools::dev_mongo_server>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tenantload: cannot start dev-mongo: %s\n", e.what());
      return 1;
    }
    opts.uri = dev_server->uri();
  }
  uint16_t port = 0;
  try {
    port = first_port(opts.uri);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenantload: --uri: %s\n", e.what());
    return 2;
  }

  auto config = s.tenantrt;
  for (auto& [name, cluster] : config.clusters)
    cluster.uri = opts.uri;
  config.logging.level = opts.log_level;
  config.metrics.http_listen.clear();
  daemon_options daemon;
  daemon.config = config;
  daemon.control_address = opts.control_address;
  daemon.token = opts.token;
  daemon.tenantrtd_path = opts.tenantrtd_path;
  daemon.log_level = opts.log_level;

  run_report report;
  report.scenario = s.name;
  report.description = s.description;
  report.started_at = utc_now_iso8601();
  report.server = tenantrt::redact_uri(opts.uri);
  report.server_port = port;
  report.duration_scale = opts.duration_scale;
  report.tenantrt_source = s.tenantrt_source;
  {
    auto& def = config.clusters.count(config.default_cluster)
                  ? config.clusters.at(config.default_cluster)
                  : config.clusters.begin()->second;
    report.tenantrt_settings = {
      {"clusters", config.clusters.size()},
      {"max_pool_size", def.pool.max_pool_size},
      {"min_pool_size", def.pool.min_pool_size},
      {"max_idle_time_ms", def.pool.max_idle_time_ms},
      {"pool_per_tenant", def.pool_per_tenant},
      {"max_tenant_connections", config.registry.max_tenant_connections},
      {"idle_timeout_ms", config.registry.idle_timeout_ms},
      {"cleanup_interval_ms", config.registry.cleanup_interval_ms},
      {"executor_threads", config.executor.threads}};
  }
  report.machine = read_machine_info();

  std::fprintf(stderr, "tenantload: scenario %s (%zu phases) against %s, modes:", s.name.c_str(),
               s.phases.size(), report.server.c_str());
  for (auto& m : modes)
    std::fprintf(stderr, " %s", m.c_str());
  std::fprintf(stderr, "\n");

  run_options run;
  run.server_port = port;
  run.progress = true;
  run.seed = opts.seed;
  bool all_ran = true;
  // Start from a quiet server: the previous mode's sockets are closed.
  auto settle = [&](const std::string& what) {
    auto left = tenantrt::devtools::wait_for_connection_count(
      port, [](size_t n) { return n == 0; },
      std::chrono::milliseconds{static_cast<int64_t>(opts.settle_s * 1000)});
    if (left > 0)
      std::fprintf(stderr, "tenantload: %zu connections to the server still open before %s\n",
                   left, what.c_str());
  };
  auto failed = [&](const std::string& mode, const std::string& why) {
    mode_result result;
    result.mode = mode;
    result.failure = why;
    all_ran = false;
    std::fprintf(stderr, "tenantload: mode %s failed: %s\n", mode.c_str(), why.c_str());
    return result;
  };
  auto done = [](const mode_result& result) {
    std::fprintf(stderr, "tenantload: %s done: %llu ops, %llu errors, peak %u connections\n",
                 result.mode.c_str(), static_cast<unsigned long long>(result.figures.ops),
                 static_cast<unsigned long long>(result.figures.error_total()),
                 result.connections_peak);
  };
  // One group of every mode with --interleave, else one group per mode.
  std::vector<std::vector<std::string>> groups;
  if (opts.interleave)
    groups.push_back(modes);
  else
    for (auto& mode : modes)
      groups.push_back({mode});
  for (auto& group : groups) {
    settle(group.front());
    std::vector<mode_result> results;
    try {
      std::vector<std::unique_ptr<load_target>> targets;
      std::vector<lane> lanes;
      for (auto& mode : group) {
        targets.push_back(tenantrt::load::make_target(mode, config, opts.uri, daemon));
        lanes.push_back({mode, targets.back().get()});
      }
      results = run_together(s, lanes, run);
      for (auto& target : targets)
        target->stop();
    } catch (const std::exception& e) {
      results.clear();
      for (auto& mode : group)
        results.push_back(failed(mode, e.what()));
    }
    for (auto& result : results) {
      done(result);
      report.modes.push_back(std::move(result));
    }
  }

  std::printf("%s", render_table(report).c_str());
  bool written = true;
  if (!opts.report_path.empty())
    written &= write_file(opts.report_path, to_json(report).dump(1) + "\n");
  if (!opts.plot_path.empty())
    written &= write_file(opts.plot_path, render_svg(report));
  dev_server.reset();
  mongoc_cleanup();
  return all_ran && written ? 0 : 1;
}
