#pragma once
// The one outcome type of a command, on every floor: what the driver boundary
// produces, what a tenant channel completes with, what the actors carry and
// what the facade hands to the service.

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/errc.hpp"

namespace tenantrt {

/// Outcome of one command.
struct result {
  /// errc::none on success.
  errc code = errc::none;
  /// Why it failed (empty on success); never contains a secret.
  std::string message;
  /// The server's reply as relaxed extended JSON text (success, and
  /// command_failed when the server sent one); empty otherwise. A service
  /// that forwards replies as JSON sends this on as it is.
  std::string reply_json;
  /// Time from submit to completion, where the runtime measured it (the
  /// tenant's channel); zero otherwise.
  std::chrono::microseconds latency{0};

  bool ok() const noexcept { return code == errc::none; }
  /// reply_json parsed, or null when there is none. Parses on every call
  /// (a find's reply takes about 10 us): keep the value to read it twice.
  nlohmann::json reply() const;
};

/// Where a result is delivered. Called once, on a runtime thread (an executor
/// thread or the caller's): it must not block, and from inside an actor it
/// must only enqueue a message (caf::anon_send), never touch actor state.
using completion = std::function<void(result)>;

} // namespace tenantrt
