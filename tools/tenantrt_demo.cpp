// tenantrt-demo: the embedding example that `make run` starts. A service
// embeds tenantrt::runtime without knowing CAF; here a few worker threads
// play that service, sending a mixed workload across a handful of tenants,
// and the stats are logged every few seconds until Ctrl-C (or --duration).

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/config_loader.hpp"
#include "runtime/logging.hpp"
#include "runtime/runtime.hpp"

namespace {

struct demo_options {
  std::string config_path = "config/examples/dev.json";
  unsigned tenants = 6;
  unsigned workers = 4;
  unsigned ops_per_second = 200;
  unsigned stats_interval_s = 5;
  unsigned duration_s = 0; // 0: until Ctrl-C / SIGTERM
};

/// One operation of the demo workload for a tenant, chosen at random.
nlohmann::ordered_json demo_command(std::mt19937& rng, unsigned sequence) {
  switch (rng() % 4) {
    case 0:
      return {{"insert", "orders"},
              {"documents", nlohmann::ordered_json::array(
                              {{{"sequence", sequence}, {"total", rng() % 1000}}})}};
    case 1:
      return {{"find", "orders"}, {"filter", {{"total", {{"$gt", 500}}}}}, {"limit", 5}};
    case 2:
      return {{"count", "orders"}};
    default:
      return {{"ping", 1}};
  }
}

void log_stats(tenantrt::runtime& rt, uint64_t ok, uint64_t failed) {
  auto s = rt.stats();
  tenantrt::log().info("stats: {} ops ok, {} failed | tenants {}/{} active, {} stopping, "
                       "{} waiting | main db '{}' {} | physical connections {}",
                       ok, failed, s.registry.active_tenants, s.registry.max_tenants,
                       s.registry.draining_tenants, s.registry.waiters,
                       s.registry.main_database, s.registry.main_state, s.total_connections);
  for (auto& [cluster, pool] : s.pools)
    tenantrt::log().info("  cluster {}: open {} (in use {}, idle {}), waiters {}, created {}, "
                         "closed {}, wait timeouts {}",
                         cluster, pool.open, pool.in_use, pool.idle, pool.waiters,
                         pool.created_total, pool.closed_total, pool.wait_timeouts_total);
  for (auto& t : s.registry.tenants)
    tenantrt::log().info("  tenant {:<12} uses {:>6} ops {:>6} errors {:>4} p99 {:>6} us idle {} ms",
                         t.tenant, t.use_count, t.counters.ops, t.counters.errors,
                         t.counters.latency.quantile_us(0.99), t.idle_ms);
}

} // namespace

int main(int argc, char** argv) {
  demo_options opts;
  CLI::App app{"tenantrt demo: an embedded runtime serving a demo workload"};
  app.add_option("--config", opts.config_path, "tenantrt JSON config file")->check(CLI::ExistingFile);
  app.add_option("--tenants", opts.tenants, "number of demo tenants")->check(CLI::Range(1u, 100000u));
  app.add_option("--workers", opts.workers, "client threads")->check(CLI::Range(1u, 256u));
  app.add_option("--rate", opts.ops_per_second, "target operations per second (all workers)")
    ->check(CLI::Range(1u, 1000000u));
  app.add_option("--stats-interval", opts.stats_interval_s, "seconds between stats lines")
    ->check(CLI::Range(1u, 3600u));
  app.add_option("--duration", opts.duration_s, "stop after this many seconds (0: until Ctrl-C)");
  CLI11_PARSE(app, argc, argv);

  // Signals are taken by sigwait below; block them before any thread exists
  // so the runtime's threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  tenantrt::runtime_config config;
  try {
    config = tenantrt::load_config(opts.config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenantrt-demo: %s\n", e.what());
    return 2;
  }
  tenantrt::runtime rt{config};

  std::atomic<bool> running{true};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> workers;
  auto pause = std::chrono::microseconds{1000000ull * opts.workers / opts.ops_per_second};
  for (unsigned w = 0; w < opts.workers; ++w)
    workers.emplace_back([&, w] {
      std::mt19937 rng{w + 1};
      unsigned sequence = 0;
      while (running) {
        auto tenant = "demo-org-" + std::to_string(1 + rng() % opts.tenants);
        auto r = rt.run_command(tenant, demo_command(rng, ++sequence)).get();
        if (r.ok()) {
          ++ok;
        } else {
          ++failed;
          tenantrt::log().warn("{}: {} ({})", tenant, r.message, to_string(r.code));
        }
        std::this_thread::sleep_for(pause); // pacing of the demo load, not synchronization
      }
    });

  auto started = std::chrono::steady_clock::now();
  timespec wait{static_cast<time_t>(opts.stats_interval_s), 0};
  for (;;) {
    int signal_number = sigtimedwait(&stop_signals, nullptr, &wait);
    if (signal_number > 0) {
      tenantrt::log().info("signal {}: stopping", signal_number);
      break;
    }
    log_stats(rt, ok, failed);
    if (opts.duration_s > 0
        && std::chrono::steady_clock::now() - started >= std::chrono::seconds{opts.duration_s})
      break;
  }
  running = false;
  for (auto& t : workers)
    t.join();
  log_stats(rt, ok, failed);
  bool drained = rt.shutdown(std::chrono::seconds{10});
  std::printf("demo finished: %llu ops ok, %llu failed, drained: %s\n",
              static_cast<unsigned long long>(ok.load()),
              static_cast<unsigned long long>(failed.load()), drained ? "yes" : "no");
  return failed == 0 ? 0 : 1;
}
