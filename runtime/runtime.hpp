#pragma once
// The embedding facade: what a C++ service uses without knowing CAF.
//
//   tenantrt::runtime rt{tenantrt::load_config("tenantrt.json")};
//   auto r = rt.run_command("org42", R"({"find":"orders","filter":{}})"_json).get();
//   rt.run_command("org43", cmd, [](tenantrt::result r) { ... });
//   auto now = rt.execute("org42", cmd); // blocking, on the calling thread
//   auto s = rt.stats();
//   rt.shutdown(std::chrono::seconds{10});
//
// It owns (or borrows) a CAF actor system, the blocking executor, the
// physical pools (mongo_backend), the registry actor and the pool
// maintainer. This header declares it without CAF: its implementation, which
// wires the actor system, lives with the actors (actors/runtime_impl.cpp). A
// CAF service gets the typed registry and metrics handles from
// actors/runtime_access.hpp and can talk to the registry directly.
//
// Fast path: once a tenant is active, its commands skip the actors. The
// facade finds the tenant's gate in the directory the registry publishes,
// enters it, and runs the command (execute: on the caller's thread;
// run_command: on the executor), then leaves it with the outcome. The first
// command of a tenant, and any command while its gate is closed (being
// retired), goes through the registry, which enforces the limits.

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/runtime_config.hpp"
#include "runtime/errc.hpp"
#include "runtime/result.hpp"
#include "runtime/stats.hpp"

namespace caf {
class actor_system;
class actor_system_config;
} // namespace caf

namespace tenantrt {

/// A snapshot of the registry and of every cluster's physical pool.
struct runtime_stats {
  registry_stats registry;
  std::map<std::string, pool_counters> pools;
  /// Physical connections open across every pool.
  uint64_t total_connections = 0;
};

/// What reload() did, as JSON paths of the keys that changed.
struct reload_result {
  /// Changed and in effect now.
  std::vector<std::string> applied;
  /// Changed but kept at the running value until a restart.
  std::vector<std::string> needs_restart;
};

class runtime {
public:
  /// Starts a runtime with its own actor system. Throws std::runtime_error if
  /// a cluster URI cannot be parsed by the driver.
  explicit runtime(runtime_config config);

  /// Starts a runtime inside an existing CAF actor system (a CAF service).
  runtime(caf::actor_system& system, runtime_config config);

  /// Drains (shutdown with the default 10 s) unless shutdown() already ran.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Runs a command on the tenant's database; the future never throws for
  /// runtime failures, it carries them in result::code.
  std::future<result> run_command(const std::string& tenant_id, const nlohmann::json& command);
  std::future<result> run_command(const std::string& tenant_id,
                                  const nlohmann::ordered_json& command);

  /// Same, completing through a callback. The callback runs on one of the
  /// runtime's threads: it must not block (hand heavy work elsewhere).
  void run_command(const std::string& tenant_id, const nlohmann::json& command,
                   completion callback);
  void run_command(const std::string& tenant_id, const nlohmann::ordered_json& command,
                   completion callback);

  /// Runs the command on the calling thread and returns its result: for a
  /// thread that would wait for the future anyway, this saves two thread
  /// hand-offs (to the executor and back). Blocks up to the pool's wait queue
  /// timeout plus the socket timeout. A tenant's first command (or one made
  /// while the tenant is being retired) still goes through the registry.
  result execute(const std::string& tenant_id, const nlohmann::json& command);
  result execute(const std::string& tenant_id, const nlohmann::ordered_json& command);

  /// The fast path alone, for services that deliver results their own way
  /// (tenantrtd's control server): when tenant_id is active, runs
  /// command_json (JSON text, key order kept) through its gate on the
  /// executor, calls done with the outcome on the thread that ran it and
  /// returns true. False, with nothing run and done dropped, when the tenant
  /// is not active, is being retired or the runtime is stopped: then send the
  /// command through the registry instead (actors/runtime_access.hpp).
  bool try_run_active(const std::string& tenant_id, const std::string& command_json,
                      completion done);

  /// Runs a command on the main database (the service's shared data).
  std::future<result> run_main_command(const nlohmann::ordered_json& command);

  /// Registry and pool figures; throws std::runtime_error if the registry
  /// does not answer within timeout.
  runtime_stats stats(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Reaps idle tenants now; returns their ids.
  std::vector<std::string> cleanup(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Retires one tenant now (after its in-flight work); false if not active.
  bool evict(const std::string& tenant_id,
             std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Stops taking work, drains in-flight operations up to drain_timeout,
  /// stops every actor and closes every connection. Returns true when all
  /// work finished in time. Idempotent.
  bool shutdown(std::chrono::milliseconds drain_timeout = std::chrono::seconds{10});

  /// shutdown() without stopping the actor system it owns: for a service
  /// whose own actors in that system (e.g. tenantrtd's control server) must
  /// still send the drained operations' replies. shutdown() later only waits
  /// for the system. Returns what shutdown() would; idempotent.
  bool drain(std::chrono::milliseconds drain_timeout = std::chrono::seconds{10});

  /// Applies what can change at run time (limits, timeouts, thresholds,
  /// log level) from next and reports what needs a restart.
  reload_result reload(const runtime_config& next);

  /// Runs blocking work (file I/O, ...) on the runtime's executor, off the
  /// actors' threads; false when the executor refuses it (full or stopped).
  bool post_blocking(std::function<void()> job);

  /// The actor system the runtime's actors live in.
  caf::actor_system& system();

  /// The configuration in effect (a copy: reload() may change it).
  runtime_config config() const;

private:
  friend class runtime_access;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tenantrt
