#pragma once
// The clock a cluster_pool reads idle ages from, for tests: real time plus an
// offset the test advances, so connections age without sleeping.

#include <atomic>
#include <chrono>

#include "runtime/cluster_pool.hpp"

namespace tenantrt::testing {

class fake_pool_clock {
public:
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::now() + offset_.load();
  }
  /// Moves this clock forward by `by`.
  void advance(std::chrono::milliseconds by) { offset_.store(offset_.load() + by); }
  /// A pool_clock reading this clock (which must outlive the pool).
  pool_clock as_pool_clock() {
    return [this] { return now(); };
  }

private:
  std::atomic<std::chrono::milliseconds> offset_{std::chrono::milliseconds{0}};
};

} // namespace tenantrt::testing
