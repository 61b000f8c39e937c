#pragma once
// The facade's actors, for CAF services: the typed handles of the registry
// (run, acquire, evict, stats, ... as in actors/protocol.hpp) and of the
// metrics actor of a tenantrt::runtime, and the conversion of their errors
// into the facade's result. Services that do not use CAF never include it.
//
//   tenantrt::runtime rt{system, config};
//   auto registry = tenantrt::runtime_access::registry(rt);
//   self->request(registry, timeout, tenantrt::run_atom::value, "org42", cmd) ...

#include <caf/error.hpp>

#include "actors/protocol.hpp"
#include "runtime/runtime.hpp"

namespace tenantrt {

class runtime_access {
public:
  /// The registry: the one door to tenants, limits and reaping.
  static registry_actor registry(const runtime& rt);
  /// The metrics actor (samples, warnings, JSON and Prometheus renderings).
  static metrics_actor metrics(const runtime& rt);
};

/// A result from an error raised by the actors (code, message, server reply).
result result_from_error(const caf::error& err);

} // namespace tenantrt
