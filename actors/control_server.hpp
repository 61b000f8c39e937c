#pragma once
// The JSON control socket of tenantrtd: a CAF 0.17 broker that serves
// newline-delimited JSON (actors/control_protocol.hpp) on loopback TCP and/or
// Unix sockets, and turns each request into a message to the registry or the
// metrics actor, or into a job on the runtime's executor (config, reload).
//
// Talked to by: operators' tools (tenantctl, scripts) over the sockets; the
// daemon, which spawns it, forwards reloads (reload_atom, runtime_config) and
// stops it with an exit message. It stands above the facade: what it uses of
// the runtime comes from a tenantrt::runtime (control_services_of), only the
// reload of the config file comes from the daemon (control_hooks).
//
//   client --line--> broker --request(...).then--> registry / metrics
//     ^                 |  \--services.run_blocking--> executor --anon_send--+
//     +----reply line---+<----------------------------------------------------+
//                       \--services.run_active (exec of an active tenant)----+
//                           runs on the executor, line rendered there too
//
// Three files: control_listeners binds the sockets, control_server (this
// header; control_server_private.hpp inside) is the broker, control_commands
// holds one handler per command.
//
// The broker runs on the middleman's single I/O thread, shared with every
// other broker: it never blocks, and big answers are rendered on the executor.
// Replies may leave out of order (a slow exec does not hold back a stats);
// clients match them by "id". Per client, requests beyond a number in flight
// are answered overloaded at once, and a client that stops reading while its
// unread replies are over a cap is closed. A client with no request in flight
// that sent nothing for control.client_idle_timeout_ms gets idle_timeout and
// is closed (one periodic sweep, armed while clients are connected).
//
// Messages. The broker is untyped (a caf::io::broker), so this list is its
// interface; the atoms are in actors/protocol.hpp.
//   from the daemon (tenantrtd, or a test):
//     (control_addrs_atom) -> std::vector<std::string>
//         the addresses listened on, ports resolved ("127.0.0.1:40123").
//     (reload_atom, runtime_config)               no reply
//         applies the control section: token (never cleared while a listener
//         is not loopback), max_line_bytes, max_clients, idle timeout,
//         allow_exec; a changed listen list only logs (needs a restart).
//     (drain_atom) -> bool (true)
//         closes the listeners and removes the unix socket files; new
//         requests get shutting_down, those in flight still get replies.
//     exit_msg                                    (send_exit)
//         kill: quits at once. Any other reason: quits (user_shutdown) once
//         no request is in flight, draining meanwhile, at the latest 2 s later.
//   from the middleman (CAF io): new_connection_msg, new_data_msg,
//     data_transferred_msg, connection_closed_msg, acceptor_closed_msg and
//     the two *_passivated_msg.
//   from itself, sent by its own jobs on the executor or by its timers:
//     (ctl_job_atom, uint64_t job, bool ok, std::string text)
//         a config/reload hook ended: the reply fields as JSON text, or the
//         failure's message.
//     (ctl_line_atom, connection_handle, uint64_t serial, std::string line)
//         a reply line rendered on the executor (big answers, fast-path exec).
//     (ctl_job_timeout_atom, uint64_t job)       a job outlived request_timeout.
//     (ctl_idle_sweep_atom, uint64_t generation) time to close idle clients.
//     (drain_deadline_atom)                      the grace after exit_msg ended.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>
#include <nlohmann/json.hpp>

#include "actors/protocol.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

class runtime;

/// What the control server uses of the runtime below it: control_services_of
/// takes it from a tenantrt::runtime; tests fill it with stubs and fakes.
struct control_services {
  registry_actor registry;
  metrics_actor metrics;
  /// Effective configuration, secrets redacted (blocking-safe: may take a lock).
  std::function<nlohmann::ordered_json()> config_json;
  /// Runs blocking work off the broker's thread (the runtime's executor); false if refused.
  std::function<bool(std::function<void()>)> run_blocking;
  /// Optional fast path for exec (runtime::try_run_active): runs the command of
  /// an active tenant without the registry; false sends it to the registry.
  std::function<bool(const std::string& tenant, const std::string& command_json,
                     std::function<void(result)> done)>
    run_active;
  /// Drain time for evict (shutdown.drain_timeout_ms).
  caf::timespan evict_drain_timeout;
};

/// What only the program above the control server can do (the dependency
/// points up, so it is passed down as a hook).
struct control_hooks {
  /// Re-reads the config file and applies it; returns the reply fields
  /// ({"applied": [...], "needsRestart": [...]}); throws std::exception whose what() is safe to show.
  /// Empty: reload answers internal ("not available on this control socket").
  std::function<nlohmann::ordered_json()> reload;
};

/// rt's registry and metrics actor, its effective configuration (to_json,
/// redacted), its executor (post_blocking), its fast path (try_run_active)
/// and its shutdown.drain_timeout_ms. rt must outlive the control server.
control_services control_services_of(runtime& rt);

/// Limits of the server that are not configuration.
struct control_server_limits {
  /// How long a request to the registry or metrics actor may take before the
  /// client gets a timeout error.
  caf::timespan request_timeout = std::chrono::seconds{30};
  /// Replies written but not yet taken by a client's socket. Over this, a
  /// reply closes the client instead unless the socket took bytes since the
  /// previous reply that found it over; over four times this, it always does.
  size_t max_pending_output_bytes = size_t{4} << 20;
  /// Requests of one client in flight; beyond this many, a request is
  /// answered at once with overloaded.
  size_t max_inflight_per_client = 128;
  /// Answers (JSON text) bigger than this are turned into reply lines on the
  /// executor (services.run_blocking), not on the I/O thread.
  size_t inline_render_max_bytes = 64 * 1024;
};

/// Listens on every address of cfg.listen (TCP on the given loopback/host
/// address only; unix: socket file created with mode 0600, a stale file
/// replaced, removed on exit). Returns the broker, or an error naming the
/// address and the reason (address in use, bad path, non-loopback without
/// token...); the error's first context element is that text (a string).
/// The sockets are bound before it returns, so a client may connect at once.
caf::expected<caf::actor> spawn_control_server(caf::actor_system& system,
                                               const control_config& cfg,
                                               control_services services, control_hooks hooks,
                                               control_server_limits limits = {});

/// The control server of rt (tenantrtd's): in rt's actor system, with rt's
/// control section and control_services_of(rt).
caf::expected<caf::actor> spawn_control_server(runtime& rt, control_hooks hooks,
                                               control_server_limits limits = {});

} // namespace tenantrt
