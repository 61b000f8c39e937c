// Fault: the server is at its connection limit (dev-mongo --max-connections
// N accepts and closes at once beyond N, as mongod does). tenantrt keeps
// working on the connections it has (callers wait for them), reports the
// refused ones as server_unreachable (counted in the pool's counters), keeps no more connections than the server
// lets it use, and never retries in a tight loop: the pool backs off, so the
// connection attempts the server refuses over a fixed window stay few.

#include <fstream>
#include <iostream>

#include "tests/support/fault_support.hpp"
#include "tests/support/polling.hpp"
#include "tools/support/dev_mongo_server.hpp"
#include "tools/support/tcp_census.hpp"

namespace tenantrt::faults {
namespace {

using devtools::count_established_to_port;
using devtools::dev_mongo_server;

/// Connections dev-mongo refused so far (one log line each).
size_t refusals_logged(const dev_mongo_server& server) {
  std::ifstream log{server.log_path()};
  std::string line;
  size_t n = 0;
  while (std::getline(log, line))
    if (line.find("connection refused because too many open connections") != std::string::npos)
      ++n;
  return n;
}

TEST(ConnectionLimit, PoolBacksOffAndReportsRefusalsAtTheServersLimit) {
  constexpr int limit = 3;
  dev_mongo_server server{dev_mongo_server::options{limit, 0}};
  auto port = server.port();
  auto config = small_timeout_config(server.uri());
  auto& pool = config.clusters.at("default").pool;
  pool.max_pool_size = 8; // more than the server allows
  pool.min_pool_size = 1;
  // The main database shares the pool; keep its ping quiet here.
  config.registry.main_ping_interval_ms = 10000;
  runtime rt{config};

  auto window_start = clock_type::now();
  auto refused_before = refusals_logged(server);
  {
    load_generator load{rt, 8};
    std::this_thread::sleep_for(6s); // the measured window
    load.stop();
    EXPECT_EQ(load.hung(), 0u);
    auto window_ms = ms_between(window_start, clock_type::now());
    auto refused = refusals_logged(server) - refused_before;
    auto all = load.records();
    auto codes = load_generator::by_code(all);
    auto counters = rt.stats().pools.at("default");

    // Work goes on over the connections the server accepted.
    EXPECT_GT(codes["ok"], 50u) << load_generator::describe(codes);
    // Refusals surface with a clear code (the caller whose new connection
    // was refused), never as internal errors or hangs; the other callers
    // wait for the connections the server accepted.
    for (auto& r : all) {
      if (!r.ok()) {
        EXPECT_TRUE(r.code == errc::server_unreachable || r.code == errc::pool_wait_timeout)
          << to_string(r.code) << ": " << r.message;
      }
    }
    EXPECT_GT(codes["server_unreachable"], 0u) << load_generator::describe(codes);
    EXPECT_GT(counters.connect_failures_total, 0u);
    // Not a tight loop: with 8 callers and no back-off every failed caller
    // would retry at once (a fresh client rescans every 500 ms within the
    // selection timeout: ~3 attempts per caller per second, ~100+ in the
    // window). With the back-off the server sees at most a few per second.
    double per_second = 1000.0 * static_cast<double>(refused) / static_cast<double>(window_ms);
    EXPECT_GT(refused, 0u) << "the limit was never reached";
    EXPECT_LT(per_second, 6.0) << refused << " refused connection attempts in " << window_ms
                               << " ms";

    // The pool holds no more than the server lets it use, and the kernel
    // agrees with its books once the load stopped.
    uint64_t open = 0;
    size_t sockets = 0;
    ASSERT_TRUE(testing::eventually(
      [&] {
        open = rt.stats().pools.at("default").open;
        sockets = count_established_to_port(port);
        return sockets == open;
      },
      10s))
      << "sockets " << sockets << " vs pool open " << open;
    EXPECT_LE(open, static_cast<uint64_t>(limit));

    std::cout << "[figures] connection limit " << limit << ", pool max " << pool.max_pool_size
              << ", 8 callers, " << window_ms << " ms: " << load_generator::describe(codes)
              << "refused attempts " << refused << " (" << per_second
              << "/s); pool connect failures " << counters.connect_failures_total
              << ", back-off rejections " << counters.backoff_rejections_total
              << ", back-off step now " << counters.backoff_ms << " ms; open " << open
              << " = sockets " << sockets << std::endl;
  }
  EXPECT_TRUE(rt.shutdown(10s));
}

} // namespace
} // namespace tenantrt::faults
