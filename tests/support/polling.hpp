#pragma once
// Waiting for an in-process condition that has no event to wait on (pool
// counters, asynchronous closes): poll it until it holds or a limit passes.

#include <chrono>
#include <thread>

namespace tenantrt::testing {

/// True once pred() holds; false if limit passes first.
template <class Predicate>
bool eventually(Predicate pred, std::chrono::milliseconds limit = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

} // namespace tenantrt::testing
