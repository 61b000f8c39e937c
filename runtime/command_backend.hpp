#pragma once
// The seam between tenant actors and the driver. Actors hand a command (JSON
// text, key order preserved) to a tenant_channel and get the result through a
// completion (runtime/result.hpp), called on a foreign thread: from an actor
// it must only enqueue a message (caf::anon_send), never touch actor state.
// Production: mongo_backend (blocking_executor + cluster_pool). Unit tests: a
// fake whose completions the test fires by hand.

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "runtime/result.hpp"

namespace tenantrt {

/// Where one tenant's data lives, resolved from its id by tenant_naming.
struct tenant_target {
  std::string tenant_id;
  std::string database;
  std::string cluster;
};

/// One tenant's path to its database. Destroying it releases what open()
/// reserved (with pool_per_tenant: the tenant's own pool and its sockets).
class tenant_channel {
public:
  virtual ~tenant_channel() = default;
  /// Runs command_json on the tenant's database; never blocks the caller.
  virtual void submit(std::string command_json, completion done) = 0;
  /// Runs command_json on the calling thread and returns the outcome (the
  /// facade's blocking fast path: no hand-off to the executor). The default
  /// waits for submit(); backends that can run inline override it.
  virtual result run_now(std::string command_json) {
    auto promise = std::make_shared<std::promise<result>>();
    auto outcome = promise->get_future();
    submit(std::move(command_json),
           [promise](result done) { promise->set_value(std::move(done)); });
    return outcome.get();
  }
};

class command_backend {
public:
  virtual ~command_backend() = default;
  /// A channel for target; nullptr and *error set when target.cluster is unknown.
  virtual std::shared_ptr<tenant_channel> open(const tenant_target& target,
                                               std::string* error) = 0;
  /// Runs command_json on the main database; never blocks the caller.
  virtual void submit_main(std::string command_json, completion done) = 0;
};

} // namespace tenantrt
