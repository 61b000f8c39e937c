#pragma once
// The control broker's state and reply path, shared by its two halves only.
//
// Private to the control server, as mongo-c-driver's *-private.h headers are:
// control_server.cpp (connections, idle sweep, reload, drain; it defines the
// functions declared here) and control_commands.cpp (one handler per command)
// include it; nothing else does. The public interface is
// actors/control_server.hpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/accept_handle.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/connection_handle.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/control_listeners.hpp"
#include "actors/control_protocol.hpp"
#include "actors/control_server.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

using connection_handle = caf::io::connection_handle;

/// One connected client.
struct control_client {
  /// Distinguishes this client from a later one on the same handle (CAF's
  /// connection handles are file descriptors, which the system reuses).
  uint64_t serial = 0;
  control::line_splitter splitter{0};
  /// Reply bytes written but not yet taken by the socket.
  size_t pending_output = 0;
  /// The socket took bytes since a reply last found pending_output over the cap.
  bool took_output = true;
  /// Requests sent on and not answered yet.
  size_t inflight = 0;
  /// When bytes last arrived from the client or its last request in flight
  /// was answered; the idle timeout counts from here while inflight is 0.
  caf::actor_clock::time_point last_activity;
  bool warned_unauthorized = false;
  /// For logs: the listener's address and the serial.
  std::string peer;
};

/// A config/reload job running on the executor.
struct control_job {
  connection_handle hdl;
  uint64_t serial = 0;
  std::optional<nlohmann::ordered_json> id;
  control::command cmd = control::command::config;
};

/// Everything the broker keeps; changed only on the broker's thread.
struct control_server_state {
  control_config config;
  control_services services;
  control_hooks hooks;
  control_server_limits limits;
  std::shared_ptr<listener_set> listeners;
  /// The addresses in effect (ports resolved).
  std::vector<std::string> addresses;
  std::unordered_map<caf::io::accept_handle, std::string> listener_names;
  std::unordered_map<connection_handle, control_client> clients;
  std::unordered_map<uint64_t, control_job> jobs;
  uint64_t next_serial = 0;
  uint64_t next_job = 0;
  /// Clients refused with too_many_clients since the start.
  uint64_t refused_clients = 0;
  /// An idle sweep is scheduled (with sweep_generation).
  bool sweep_armed = false;
  /// Bumped when the timeout changes: a sweep scheduled before is ignored.
  uint64_t sweep_generation = 0;
  /// Some listener is not loopback: the token must stay set.
  bool needs_token = false;
  /// The daemon is stopping: listeners closed, new requests answered
  /// shutting_down, requests in flight still get their replies.
  bool draining = false;
  /// Asked to exit: quits once no request is in flight (or at a deadline).
  bool quitting = false;
  caf::exit_reason quit_reason = caf::exit_reason::user_shutdown;

  ~control_server_state() {
    // Runs when the broker ends, whatever the reason.
    if (listeners)
      listeners->remove_socket_files();
  }

  static const char* name;
};

using control_broker = caf::stateful_actor<control_server_state, caf::io::broker>;

// --- the reply path (defined in control_server.cpp)

/// The client on hdl if it is still the one with this serial, else nullptr.
control_client* find_client(control_broker* self, connection_handle hdl, uint64_t serial);

/// Writes a reply that answers no request in flight (an error found before
/// the request was dispatched, or overloaded).
void send_reply(control_broker* self, connection_handle hdl, uint64_t serial,
                const nlohmann::ordered_json& reply);

/// The reply to a request that was in flight: counts it answered, writes it
/// if the client is still there, and ends a stopping broker with its last.
void settle(control_broker* self, connection_handle hdl, uint64_t serial,
            const nlohmann::ordered_json& reply);

} // namespace tenantrt
