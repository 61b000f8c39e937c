#pragma once
// GoogleTest fixture: one cluster_pool against a dev-mongo of its own, with a fake clock.
//
// Shared by tests/runtime/cluster_pool_test.cpp (what the pool promises) and
// tests/runtime/command_runner_test.cpp (what a command run on it returns).
// Each test starts from a server with no connection to it, so the sockets the
// server sees (tcp_census) can be counted from outside the pool.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "config/runtime_config.hpp"
#include "runtime/cluster_pool.hpp"
#include "tests/support/fake_pool_clock.hpp"
#include "tools/support/dev_mongo_server.hpp"
#include "tools/support/tcp_census.hpp"

namespace tenantrt::testing {

class pool_fixture : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<devtools::dev_mongo_server>();
    port_ = server_->port();
    ASSERT_EQ(devtools::count_established_to_port(port_), 0u);
  }

  void TearDown() override {
    pool_.reset();
    server_.reset();
  }

  /// Small defaults that keep every test fast.
  static pool_settings small_settings() {
    pool_settings settings;
    settings.max_pool_size = 4;
    settings.min_pool_size = 0;
    settings.max_idle_time_ms = 60000;
    settings.wait_queue_timeout_ms = 5000;
    settings.socket_timeout_ms = 5000;
    settings.server_selection_timeout_ms = 1000;
    settings.connect_timeout_ms = 3000;
    return settings;
  }

  /// The pool of cluster "test" on the server, reading clock_.
  cluster_pool& make_pool(const pool_settings& settings) {
    pool_ = std::make_unique<cluster_pool>(pool_identity{"test", {}}, server_->uri(), settings,
                                           clock_.as_pool_clock());
    return *pool_;
  }

  /// Sockets to the server, once they settle on `wanted`.
  size_t sockets_become(size_t wanted) {
    return devtools::wait_for_connection_count(
      port_, [wanted](size_t n) { return n == wanted; }, std::chrono::seconds{5});
  }

  std::unique_ptr<devtools::dev_mongo_server> server_;
  uint16_t port_ = 0;
  fake_pool_clock clock_;
  std::unique_ptr<cluster_pool> pool_;
};

} // namespace tenantrt::testing
