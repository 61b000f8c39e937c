#pragma once
// The registry as the microbenchmarks see it: a real CAF actor system (the
// threaded scheduler, not the test coordinator), the registry spawned the way
// the runtime facade spawns it, an instant_backend in place of MongoDB, and a
// scoped_actor to talk to it. Shared by registry_acquire_bench and
// idle_tenant_memory so both measure the same thing.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/protocol.hpp"
#include "actors/registry.hpp"
#include "bench/instant_backend.hpp"
#include "config/config_loader.hpp"
#include "runtime/logging.hpp"

namespace tenantrt::bench {

/// Tenant ids of the benchmarks: "tenant00000", "tenant00001", ... (all the
/// same length, so every id string costs the same).
inline std::string tenant_id(size_t index) {
  char id[32];
  std::snprintf(id, sizeof id, "tenant%05zu", index);
  return id;
}

class bench_registry {
public:
  /// Requests carry no timeout, like the facade's run requests: in CAF 0.17
  /// a request's timeout stays scheduled in the actor clock after the reply
  /// arrives, and would show up as heap per operation. A wedged registry is
  /// caught by ctest's TIMEOUT instead.
  static constexpr caf::infinite_t request_timeout = caf::infinite;

  /// A registry allowing max_tenants live tenants; the other settings are the
  /// documented defaults (idle timeout 5 min: nothing is reaped while measuring).
  explicit bench_registry(uint32_t max_tenants,
                          uint32_t idle_timeout_ms = registry_config{}.idle_timeout_ms) {
    config_.registry.max_tenant_connections = max_tenants;
    config_.registry.idle_timeout_ms = idle_timeout_ms;
    config_.logging.level = "warn"; // one info line per created tenant would dominate
    auto problems = validate(config_);
    if (!problems.empty())
      throw config_error(std::move(problems));
    set_log_level(config_.logging.level);
    system_config_.set("logger.console-verbosity", caf::atom("quiet"));
    system_config_.set("logger.file-verbosity", caf::atom("quiet"));
    system_ = std::make_unique<caf::actor_system>(system_config_);
    self_ = std::make_unique<caf::scoped_actor>(*system_);
    registry_ = system_->spawn(registry_impl, config_,
                               std::static_pointer_cast<command_backend>(backend_),
                               std::shared_ptr<tenant_directory>{});
  }

  bench_registry(const bench_registry&) = delete;
  bench_registry& operator=(const bench_registry&) = delete;

  /// Drains the registry (every tenant stops), then stops the system.
  ~bench_registry() {
    (*self_)
      ->request(registry_, std::chrono::seconds{60}, drain_atom::value,
                caf::timespan{std::chrono::seconds{10}})
      .receive([](bool) {}, [](caf::error&) {});
    registry_ = nullptr;
    self_.reset();
    system_.reset();
  }

  /// One acquire round trip; throws with the registry's message on failure.
  tenant_actor acquire(const std::string& tenant) {
    tenant_actor out;
    caf::error failure;
    (*self_)
      ->request(registry_, request_timeout, acquire_atom::value, tenant)
      .receive([&](tenant_actor& actor) { out = std::move(actor); },
               [&](caf::error& err) { failure = std::move(err); });
    if (failure)
      throw std::runtime_error("acquire " + tenant + " failed: " + message_of(failure));
    return out;
  }

  /// Acquires tenants[0..n) with up to `window` requests in flight (the
  /// registry serves them in order); throws on the first failure. The
  /// actors are appended to *actors when given.
  void acquire_pipelined(const std::vector<std::string>& tenants, size_t window = 1000,
                         std::vector<tenant_actor>* actors = nullptr) {
    using handle = decltype((*self_)->request(registry_, request_timeout, acquire_atom::value,
                                              std::string{}));
    std::vector<handle> in_flight;
    in_flight.reserve(window);
    for (size_t first = 0; first < tenants.size(); first += window) {
      auto last = std::min(tenants.size(), first + window);
      in_flight.clear();
      for (auto i = first; i < last; ++i)
        in_flight.push_back(
          (*self_)->request(registry_, request_timeout, acquire_atom::value, tenants[i]));
      caf::error failure;
      for (auto& h : in_flight)
        h.receive(
          [&](tenant_actor& actor) {
            if (actors != nullptr)
              actors->push_back(std::move(actor));
          },
                  [&](caf::error& err) {
                    if (!failure)
                      failure = std::move(err);
                  });
      if (failure)
        throw std::runtime_error("acquire failed: " + message_of(failure));
    }
  }

  /// Asks each tenant for its counters (pipelined). When every answer is in,
  /// each actor has processed what was sent to it before (its first idle
  /// timer, the acquire's touch), so nothing is left running in the
  /// background of a measurement.
  void settle(const std::vector<tenant_actor>& actors, size_t window = 1000) {
    using handle
      = decltype((*self_)->request(tenant_actor{}, request_timeout, stats_atom::value));
    std::vector<handle> in_flight;
    in_flight.reserve(window);
    for (size_t first = 0; first < actors.size(); first += window) {
      auto last = std::min(actors.size(), first + window);
      in_flight.clear();
      for (auto i = first; i < last; ++i)
        in_flight.push_back((*self_)->request(actors[i], request_timeout, stats_atom::value));
      caf::error failure;
      for (auto& h : in_flight)
        h.receive([](tenant_counters&) {},
                  [&](caf::error& err) {
                    if (!failure)
                      failure = std::move(err);
                  });
      if (failure)
        throw std::runtime_error("tenant stats failed: " + message_of(failure));
    }
  }

  /// One run round trip (registry -> tenant -> backend -> tenant -> registry).
  std::string run(const std::string& tenant, const std::string& command_json) {
    std::string out;
    caf::error failure;
    (*self_)
      ->request(registry_, request_timeout, run_atom::value, tenant, command_json)
      .receive([&](std::string& reply) { out = std::move(reply); },
               [&](caf::error& err) { failure = std::move(err); });
    if (failure)
      throw std::runtime_error("run on " + tenant + " failed: " + message_of(failure));
    return out;
  }

  /// The registry's stats (asks every tenant for its counters too).
  registry_stats stats() {
    registry_stats out;
    caf::error failure;
    (*self_)
      ->request(registry_, request_timeout, stats_atom::value)
      .receive([&](registry_stats& s) { out = std::move(s); },
               [&](caf::error& err) { failure = std::move(err); });
    if (failure)
      throw std::runtime_error("stats failed: " + message_of(failure));
    return out;
  }

  caf::scoped_actor& self() { return *self_; }
  const registry_actor& registry() const { return registry_; }
  const instant_backend& backend() const { return *backend_; }

private:
  // Declaration order is destruction order in reverse: the system goes before
  // the config it was built from; the backend outlives the registry's copy.
  std::shared_ptr<instant_backend> backend_ = std::make_shared<instant_backend>();
  runtime_config config_;
  caf::actor_system_config system_config_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<caf::scoped_actor> self_;
  registry_actor registry_;
};

} // namespace tenantrt::bench
