#pragma once
// What the facade (runtime/runtime.hpp) holds behind its pimpl: the actor
// system it owns or borrows, the executor, the pools, the directory of active
// tenants and the actors that run them. Only actors/runtime_impl.cpp, which
// defines every runtime member, reads it.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/protocol.hpp"
#include "runtime/blocking_executor.hpp"
#include "runtime/mongo_backend.hpp"
#include "runtime/runtime.hpp"
#include "runtime/tenant_directory.hpp"

namespace tenantrt {

struct runtime::impl {
  /// Spawns the actors and opens the pools.
  void start();
  /// The fast path when the tenant is active, else through the registry.
  void submit(const std::string& tenant_id, std::optional<std::string> command_text,
              std::string text_error, completion callback);
  bool try_run_active(const std::string& tenant_id, const std::string& command_json,
                      completion done);
  void submit_to_registry(const std::string& tenant_id, std::string command_text,
                          completion callback);
  result execute_text(const std::string& tenant_id, std::optional<std::string> command_text,
                      std::string text_error);

  runtime_config config_;
  std::unique_ptr<caf::actor_system_config> own_system_config_;
  std::unique_ptr<caf::actor_system> own_system_;
  caf::actor_system* system_ = nullptr;
  std::shared_ptr<blocking_executor> executor_;
  std::shared_ptr<mongo_backend> backend_;
  std::shared_ptr<tenant_directory> directory_;
  registry_actor registry_;
  relay_actor relay_;
  metrics_actor metrics_;
  pool_maintainer_actor maintainer_;
  /// Guards config_ against reload() racing config().
  mutable std::mutex config_mutex_;
  std::atomic<bool> stopped_{false};
  bool drained_ = false;
};

} // namespace tenantrt
