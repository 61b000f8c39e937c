#pragma once
// Where the facade's fast path finds a tenant's gate: tenant id -> the gate
// of its live tenant actor. Only the registry writes it (publish on create,
// withdraw before a tenant stops); any thread reads it. A miss is never an
// error: the caller takes the slow path through the registry, which creates
// the tenant within the limit and publishes it.

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "runtime/tenant_gate.hpp"

namespace tenantrt {

class tenant_directory {
public:
  /// The gate published for tenant_id, or nullptr.
  std::shared_ptr<tenant_gate> find(const std::string& tenant_id) const;

  /// Publishes (or replaces) the gate of tenant_id.
  void publish(const std::string& tenant_id, std::shared_ptr<tenant_gate> gate);

  /// Withdraws tenant_id's entry if it still holds gate.
  void withdraw(const std::string& tenant_id, const tenant_gate* gate);

  size_t size() const;

private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<tenant_gate>> gates_;
};

} // namespace tenantrt
