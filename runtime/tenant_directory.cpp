#include "runtime/tenant_directory.hpp"

#include <mutex>

namespace tenantrt {

std::shared_ptr<tenant_gate> tenant_directory::find(const std::string& tenant_id) const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  auto i = gates_.find(tenant_id);
  return i == gates_.end() ? nullptr : i->second;
}

void tenant_directory::publish(const std::string& tenant_id, std::shared_ptr<tenant_gate> gate) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  gates_[tenant_id] = std::move(gate);
}

void tenant_directory::withdraw(const std::string& tenant_id, const tenant_gate* gate) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto i = gates_.find(tenant_id);
  if (i != gates_.end() && i->second.get() == gate)
    gates_.erase(i);
}

size_t tenant_directory::size() const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  return gates_.size();
}

} // namespace tenantrt
