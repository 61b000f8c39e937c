// The control socket's broker: clients, request intake, idle sweep, reload, drain and stop.
#include "actors/control_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_clock.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/receive_policy.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/control_commands.hpp"
#include "actors/control_listeners.hpp"
#include "actors/control_protocol.hpp"
#include "actors/control_server_private.hpp"
#include "actors/runtime_access.hpp"
#include "config/config_loader.hpp"
#include "config/listen_address.hpp"
#include "runtime/logging.hpp"
#include "runtime/runtime.hpp"

namespace tenantrt {

const char* control_server_state::name = "control_server";

namespace {

using nlohmann::ordered_json;

/// Bytes asked of each read; a line may span many reads.
constexpr size_t read_chunk_bytes = 16 * 1024;

// --- the reply path (find_client, send_reply and settle are declared in
// control_server_private.hpp for the command handlers)

/// A client that stopped reading must not pin its unsent replies: shut the
/// socket down so CAF's graceful close (which drains first) ends at once.
void drop_client(control_broker* self, connection_handle hdl) {
  auto fd = static_cast<caf::io::network::native_socket>(hdl.id());
  if (self->valid(hdl) && caf::io::network::conn_hdl_from_socket(fd) == hdl)
    ::shutdown(fd, SHUT_RDWR);
  self->close(hdl);
  self->state.clients.erase(hdl);
}

/// Writes one reply line to a client that is still there.
void send_line(control_broker* self, connection_handle hdl, uint64_t serial,
               const std::string& line) {
  auto* client = find_client(self, hdl, serial);
  if (client == nullptr)
    return; // Gone while its request ran.
  if (!self->valid(hdl)) {
    self->state.clients.erase(hdl);
    return;
  }
  // Over the cap, a client must have taken bytes since the last reply that
  // found it over the cap: one that reads slowly (or got a burst of big
  // replies in one go) goes on, one that stopped reading is closed after at
  // most one more reply; past four times the cap it is closed regardless.
  auto cap = self->state.limits.max_pending_output_bytes;
  if (client->pending_output > cap) {
    if (!client->took_output || client->pending_output > 4 * cap) {
      log().warn("control: closing {}: {} bytes of replies unread (limit {})", client->peer,
                 client->pending_output, cap);
      drop_client(self, hdl);
      return;
    }
    client->took_output = false;
  }
  self->write(hdl, line.size(), line.data());
  self->flush(hdl);
  client->pending_output += line.size();
}

void quit_when_settled(control_broker* self);

/// The reply line to a request that was in flight.
void settle_line(control_broker* self, connection_handle hdl, uint64_t serial,
                 const std::string& line) {
  if (auto* client = find_client(self, hdl, serial); client != nullptr && client->inflight > 0) {
    // A client whose slow request just ended was busy until now, not idle.
    if (--client->inflight == 0)
      client->last_activity = self->clock().now();
  }
  send_line(self, hdl, serial, line);
  quit_when_settled(self);
}

} // namespace

control_client* find_client(control_broker* self, connection_handle hdl, uint64_t serial) {
  auto i = self->state.clients.find(hdl);
  if (i == self->state.clients.end() || i->second.serial != serial)
    return nullptr;
  return &i->second;
}

void send_reply(control_broker* self, connection_handle hdl, uint64_t serial,
                const ordered_json& reply) {
  send_line(self, hdl, serial, control::to_line(reply));
}

/// The reply to a request that was in flight.
void settle(control_broker* self, connection_handle hdl, uint64_t serial,
            const ordered_json& reply) {
  settle_line(self, hdl, serial, control::to_line(reply));
}

namespace {

// --- requests: parsed, checked, then dispatched (control_commands.cpp)

void handle_line(control_broker* self, connection_handle hdl, uint64_t serial,
                 const std::string& line) {
  if (control::is_blank(line))
    return; // Not a request: no reply.
  auto* client = find_client(self, hdl, serial);
  if (client == nullptr)
    return;
  auto& st = self->state;
  auto parsed = control::parse_request(line, st.config.token);
  if (parsed.valid && st.draining) {
    send_reply(self, hdl, serial,
               control::error_reply(parsed.valid->id, errc::shutting_down,
                                    "tenantrtd is shutting down; no new work is taken"));
    return;
  }
  if (parsed.valid && parsed.valid->cmd == control::command::exec
      && !exec_allowed(st.config)) {
    // Refused before anything reaches the registry: no tenant, no server.
    send_reply(self, hdl, serial,
               control::exec_disabled_reply(parsed.valid->id, st.config.allow_exec.has_value()));
    return;
  }
  if (!parsed.valid) {
    auto& code = parsed.error_reply["error"]["code"];
    if (code == control::to_string(control::protocol_errc::unauthorized)
        && !client->warned_unauthorized) {
      client->warned_unauthorized = true;
      log().warn("control: unauthorized request from {}", client->peer);
    }
    send_reply(self, hdl, serial, parsed.error_reply);
    return;
  }
  dispatch(self, hdl, *client, std::move(*parsed.valid));
}

// --- idle clients

/// The sweep's period for a timeout: a quarter of it, so a client is closed
/// at most a quarter late, but at least once a second, so even the default
/// 5 min closes within 1 s of the deadline. A scan of the clients map once a
/// second while clients are connected costs nothing next to serving them, and
/// one timer for all clients needs no re-arming on every byte received. The
/// floor only matters for the sub-second timeouts tests use (the loader
/// refuses timeouts under 1 s).
caf::timespan idle_sweep_period(caf::timespan timeout) {
  constexpr caf::timespan ceiling = std::chrono::seconds{1};
  constexpr caf::timespan floor = std::chrono::milliseconds{10};
  return std::clamp<caf::timespan>(timeout / 4, floor, ceiling);
}

caf::timespan idle_timeout(const control_server_state& st) {
  return std::chrono::milliseconds{st.config.client_idle_timeout_ms};
}

/// Schedules the next sweep unless one is due already, the timeout is off,
/// no client is connected, or the server is draining (clients are then
/// closed by the stop, as before the idle timeout existed).
void arm_idle_sweep(control_broker* self) {
  auto& st = self->state;
  if (st.sweep_armed || st.config.client_idle_timeout_ms == 0 || st.clients.empty()
      || st.draining || st.quitting)
    return;
  st.sweep_armed = true;
  // Anonymous: a sweep still pending when the broker quits must not hold a
  // reference to the broker (ASan saw the broker leaked at tenantrtd's exit).
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), idle_sweep_period(idle_timeout(st)),
                         ctl_idle_sweep_atom::value, st.sweep_generation);
}

/// Sends the idle_timeout line and closes the client.
void close_idle_client(control_broker* self, connection_handle hdl, const control_client& client) {
  auto& st = self->state;
  log().info("control: closing {}: no request for {} ms (control.client_idle_timeout_ms)",
             client.peer, st.config.client_idle_timeout_ms);
  if (!self->valid(hdl)) {
    st.clients.erase(hdl);
    return;
  }
  if (client.pending_output > 0) {
    // Earlier replies are still stuck in its socket: it does not read, and a
    // graceful close would wait for it. The last line could not arrive either.
    drop_client(self, hdl);
    return;
  }
  auto line = control::to_line(control::idle_timeout_reply(st.config.client_idle_timeout_ms));
  self->write(hdl, line.size(), line.data());
  self->flush(hdl);
  self->close(hdl); // Sends the line, then closes.
  st.clients.erase(hdl);
}

/// Closes every client with no request in flight that has been silent for
/// the timeout, then schedules the next sweep if clients remain.
void sweep_idle_clients(control_broker* self) {
  auto& st = self->state;
  st.sweep_armed = false;
  if (st.config.client_idle_timeout_ms == 0 || st.draining || st.quitting)
    return;
  auto now = self->clock().now();
  auto timeout = idle_timeout(st);
  std::vector<connection_handle> idle;
  for (auto& [hdl, client] : st.clients)
    if (client.inflight == 0 && now - client.last_activity >= timeout)
      idle.push_back(hdl);
  // Closing erases from the map: not while walking it.
  for (auto hdl : idle)
    if (auto i = st.clients.find(hdl); i != st.clients.end())
      close_idle_client(self, hdl, i->second);
  arm_idle_sweep(self);
}

void apply_reload(control_broker* self, const control_config& next) {
  auto& st = self->state;
  if (next.listen != st.config.listen)
    log().warn("control: control.listen changed; the control socket keeps listening on {} until "
               "a restart",
               joined(st.addresses));
  if (next.token.empty() && st.needs_token) {
    log().error("control: refusing to clear control.token while listening on a non-loopback "
                "address; the old token stays");
  } else {
    st.config.token = next.token;
  }
  st.config.max_line_bytes = next.max_line_bytes;
  st.config.max_clients = next.max_clients;
  if (next.client_idle_timeout_ms != st.config.client_idle_timeout_ms) {
    // Applies to every client, from its last activity: restart the sweep
    // at the new period (the one scheduled before is ignored when it comes).
    st.config.client_idle_timeout_ms = next.client_idle_timeout_ms;
    ++st.sweep_generation;
    st.sweep_armed = false;
    arm_idle_sweep(self);
  }
  // Derived (when unset) from the addresses in effect, not the new file's.
  st.config.allow_exec = next.allow_exec;
  for (auto& [hdl, client] : st.clients)
    client.splitter.set_max_line_bytes(next.max_line_bytes);
}

size_t requests_in_flight(const control_server_state& st) {
  size_t total = st.jobs.size();
  for (auto& [hdl, client] : st.clients)
    total += client.inflight;
  return total;
}

/// Once asked to exit, the last reply in flight ends the broker: clients get
/// every answer (or shutting_down) before their connection closes.
void quit_when_settled(control_broker* self) {
  if (self->state.quitting && requests_in_flight(self->state) == 0)
    self->quit(self->state.quit_reason);
}

/// No new connections or requests; what is in flight still gets its reply.
void begin_drain(control_broker* self) {
  auto& st = self->state;
  if (st.draining)
    return;
  st.draining = true;
  for (auto& [hdl, name] : st.listener_names)
    self->close(hdl);
  if (st.listeners)
    st.listeners->remove_socket_files();
  log().info("control: draining: listeners closed, {} clients connected, {} requests in flight",
             st.clients.size(), requests_in_flight(st));
}

caf::behavior control_server(control_broker* self, std::shared_ptr<listener_set> listeners,
                             control_config config, control_services services,
                             control_hooks hooks, control_server_limits limits) {
  // No reference to the state here: the handlers below capture by copy.
  self->state.config = std::move(config);
  self->state.services = std::move(services);
  self->state.hooks = std::move(hooks);
  self->state.limits = limits;
  self->state.listeners = listeners;
  for (auto& l : adopt_listeners(*self, *listeners)) {
    self->state.listener_names.emplace(l.handle, l.name);
    self->state.addresses.push_back(l.name);
    self->state.needs_token = self->state.needs_token || !l.loopback;
  }
  log().info("control: listening on {}{}", joined(self->state.addresses),
             exec_allowed(self->state.config)
               ? ""
               : "; exec disabled (control.allow_exec)");
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    auto inflight = requests_in_flight(st);
    log().info("control: stopping ({} clients connected, {} requests in flight)",
               st.clients.size(), inflight);
    // quit() closes the listeners and connections; the state's destructor
    // removes the unix socket files. Replies still due get a short grace.
    // (Closing a doorman by hand right before quit() leaks it inside CAF
    // 0.17's multiplexer: only drain when there is something to wait for.)
    st.quitting = true;
    st.quit_reason = msg.reason == caf::exit_reason::kill ? caf::exit_reason::kill
                                                           : caf::exit_reason::user_shutdown;
    if (msg.reason == caf::exit_reason::kill || inflight == 0) {
      self->quit(st.quit_reason);
      return;
    }
    begin_drain(self);
    self->delayed_send(self, std::chrono::seconds{2}, drain_deadline_atom::value);
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      auto source = st.listener_names.count(msg.source) ? st.listener_names[msg.source]
                                                        : std::string{"control"};
      if (st.clients.size() >= st.config.max_clients) {
        // A flood of connections must not flood the log: the 1st, 2nd, 4th,
        // 8th... refusal is logged, with the running total.
        auto refused = ++st.refused_clients;
        if ((refused & (refused - 1)) == 0)
          log().warn("control: refusing a client on {}: {} clients connected "
                     "(control.max_clients); {} refused since start",
                     source, st.clients.size(), refused);
        auto line = control::to_line(control::too_many_clients_reply(st.config.max_clients));
        self->write(msg.handle, line.size(), line.data());
        self->flush(msg.handle);
        self->close(msg.handle); // Sends the line, then closes.
        return;
      }
      auto& client = st.clients[msg.handle];
      client = control_client{};
      client.serial = ++st.next_serial;
      client.splitter.set_max_line_bytes(st.config.max_line_bytes);
      client.peer = source + " #" + std::to_string(client.serial);
      client.last_activity = self->clock().now();
      log().debug("control: client {} connected", client.peer);
      self->configure_read(msg.handle, caf::io::receive_policy::at_most(read_chunk_bytes));
      // data_transferred_msg tells how much of the output the socket took.
      self->ack_writes(msg.handle, true);
      arm_idle_sweep(self);
    },
    [=](const caf::io::new_data_msg& msg) {
      auto i = self->state.clients.find(msg.handle);
      if (i == self->state.clients.end())
        return;
      // Any bytes count, even part of a line: max_line_bytes bounds a dribble.
      i->second.last_activity = self->clock().now();
      auto serial = i->second.serial;
      auto max_line_bytes = i->second.splitter.max_line_bytes();
      auto items = i->second.splitter.feed(std::string_view{msg.buf.data(), msg.buf.size()});
      for (auto& item : items) {
        if (item.type == control::line_item::kind::too_long)
          send_reply(self, msg.handle, serial, control::line_too_long_reply(max_line_bytes));
        else
          handle_line(self, msg.handle, serial, item.text);
      }
    },
    [=](const caf::io::data_transferred_msg& msg) {
      auto i = self->state.clients.find(msg.handle);
      if (i == self->state.clients.end())
        return;
      auto& pending = i->second.pending_output;
      pending -= std::min<size_t>(pending, msg.written);
      i->second.took_output = true;
    },
    [=](const caf::io::connection_closed_msg& msg) {
      auto i = self->state.clients.find(msg.handle);
      if (i == self->state.clients.end())
        return;
      log().debug("control: client {} disconnected", i->second.peer);
      self->state.clients.erase(i);
      quit_when_settled(self);
    },
    [=](const caf::io::acceptor_closed_msg& msg) {
      if (self->state.draining)
        return; // Closed by begin_drain.
      auto i = self->state.listener_names.find(msg.handle);
      log().error("control: stopped listening on {}",
                  i != self->state.listener_names.end() ? i->second : std::string{"?"});
    },
    [=](const caf::io::connection_passivated_msg&) {},
    [=](const caf::io::acceptor_passivated_msg&) {},
    [=](ctl_job_atom, uint64_t job, bool ok, std::string& text) {
      finish_job(self, job, ok, text);
    },
    [=](ctl_line_atom, connection_handle hdl, uint64_t serial, const std::string& line) {
      settle_line(self, hdl, serial, line);
    },
    [=](ctl_job_timeout_atom, uint64_t job) { expire_job(self, job); },
    [=](ctl_idle_sweep_atom, uint64_t generation) {
      if (generation == self->state.sweep_generation)
        sweep_idle_clients(self);
    },
    [=](reload_atom, const runtime_config& next) { apply_reload(self, next.control); },
    [=](control_addrs_atom) { return self->state.addresses; },
    [=](drain_atom) {
      begin_drain(self);
      return true;
    },
    [=](drain_deadline_atom) {
      if (!self->state.quitting)
        return;
      log().warn("control: {} replies still due after the grace period; closing anyway",
                 requests_in_flight(self->state));
      self->quit(self->state.quit_reason);
    },
  };
}

caf::error spawn_error(caf::sec code, std::string message) {
  return caf::make_error(code, std::move(message));
}

} // namespace

control_services control_services_of(runtime& rt) {
  control_services services;
  services.registry = runtime_access::registry(rt);
  services.metrics = runtime_access::metrics(rt);
  auto* runtime_ptr = &rt;
  services.config_json = [runtime_ptr] { return to_json(runtime_ptr->config()); };
  services.run_blocking = [runtime_ptr](std::function<void()> job) {
    return runtime_ptr->post_blocking(std::move(job));
  };
  services.run_active = [runtime_ptr](const std::string& tenant, const std::string& command_json,
                                      std::function<void(result)> done) {
    return runtime_ptr->try_run_active(tenant, command_json, std::move(done));
  };
  services.evict_drain_timeout = ms(rt.config().shutdown.drain_timeout_ms);
  return services;
}

caf::expected<caf::actor> spawn_control_server(caf::actor_system& system,
                                               const control_config& cfg,
                                               control_services services, control_hooks hooks,
                                               control_server_limits limits) {
  if (!system.has_middleman())
    return spawn_error(caf::sec::invalid_argument,
                       "the actor system has no io middleman (cfg.load<caf::io::middleman>())");
  auto listeners = bind_listeners(cfg);
  if (!listeners)
    return std::move(listeners.error());
  return system.middleman().spawn_broker(control_server, std::move(*listeners), cfg,
                                         std::move(services), std::move(hooks), limits);
}

caf::expected<caf::actor> spawn_control_server(runtime& rt, control_hooks hooks,
                                               control_server_limits limits) {
  return spawn_control_server(rt.system(), rt.config().control, control_services_of(rt),
                              std::move(hooks), limits);
}

} // namespace tenantrt
