// The control socket's commands: one handler per command, looked up in a table.
#include "actors/control_commands.hpp"

#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/send.hpp>

#include "actors/protocol.hpp"
#include "runtime/command_document.hpp"
#include "runtime/logging.hpp"
#include "runtime/tenant_naming.hpp"

namespace tenantrt {

namespace {

using nlohmann::ordered_json;

ordered_json reply_for_error(const std::optional<ordered_json>& id, const caf::error& err) {
  auto reply = control::error_reply(id, errc_of(err), message_of(err));
  // command_failed carries the server's reply: scripts want its code.
  if (auto server_reply = reply_of(err); !server_reply.empty()) {
    auto parsed = ordered_json::parse(server_reply, nullptr, false);
    if (!parsed.is_discarded())
      reply["reply"] = std::move(parsed);
  }
  return reply;
}

/// The reply to a successful exec: the server's reply under "reply".
ordered_json exec_reply(const std::optional<ordered_json>& id, const std::string& reply_text) {
  auto reply = ordered_json::parse(reply_text, nullptr, false);
  if (reply.is_discarded())
    return control::error_reply(id, errc::internal, "the server's reply is not valid JSON");
  return control::ok_reply(id, ordered_json{{"reply", std::move(reply)}});
}

/// The reply to an exec that ran on the fast path, as reply_for_error would
/// have answered it through the registry.
ordered_json reply_for_outcome(const std::optional<ordered_json>& id, result& outcome) {
  if (outcome.code == errc::none)
    return exec_reply(id, outcome.reply_json);
  auto reply = control::error_reply(id, outcome.code, outcome.message);
  if (!outcome.reply_json.empty()) {
    auto parsed = ordered_json::parse(outcome.reply_json, nullptr, false);
    if (!parsed.is_discarded())
      reply["reply"] = std::move(parsed);
  }
  return reply;
}

/// Runs an exec through services.run_active; false when the tenant is not active
/// (then the registry takes it). The reply line is rendered on the executor
/// thread that ran the command and comes back as a ctl_line_atom message.
bool run_active(control_broker* self, connection_handle hdl, uint64_t serial,
                const std::optional<ordered_json>& id, const std::string& tenant,
                const std::string& command_json) {
  auto& st = self->state;
  if (!st.services.run_active)
    return false;
  // Weak: a command still running must not keep the broker alive after it stopped.
  caf::weak_actor_ptr me = self->ctrl();
  return st.services.run_active(tenant, command_json, [me, hdl, serial, id](result outcome) {
    auto line = control::to_line(reply_for_outcome(id, outcome));
    if (auto strong = me.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), ctl_line_atom::value, hdl, serial,
                     std::move(line));
  });
}

/// Parses a JSON object produced by another actor; nullopt if it is not one.
std::optional<ordered_json> parse_object(const std::string& text) {
  auto parsed = ordered_json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::nullopt;
  return parsed;
}

/// Renders an answer into the client's reply line. A big answer (an exec
/// reply can be 16 MB) is parsed and dumped on the executor: that takes
/// hundreds of milliseconds, which the I/O thread shared by every broker must
/// not spend. Its line comes back as a ctl_line_atom message.
template <class Result, class Render>
void render_and_settle(control_broker* self, connection_handle hdl, uint64_t serial,
                       const std::optional<ordered_json>& id, Result& value, Render render) {
  auto& st = self->state;
  if constexpr (std::is_same_v<Result, std::string>) {
    if (value.size() > st.limits.inline_render_max_bytes && st.services.run_blocking) {
      auto text = std::make_shared<std::string>(std::move(value));
      caf::weak_actor_ptr me = self->ctrl();
      auto job = [me, hdl, serial, id, text, render] {
        auto line = control::to_line(render(id, *text));
        if (auto strong = me.lock())
          caf::anon_send(caf::actor_cast<caf::actor>(strong), ctl_line_atom::value, hdl, serial,
                         std::move(line));
      };
      if (st.services.run_blocking(std::move(job)))
        return;
      value = std::move(*text); // Refused: render here after all.
    }
  }
  settle(self, hdl, serial, render(id, value));
}

/// Sends a request to dest and settles the client's reply from its answer.
template <class Result, class Handle, class Render, class... Ts>
void ask(control_broker* self, connection_handle hdl, uint64_t serial,
         const std::optional<ordered_json>& id, const Handle& dest, const char* what,
         caf::timespan timeout, Render render, Ts... xs) {
  if (!dest) {
    settle(self, hdl, serial,
           control::error_reply(id, errc::internal, std::string{what} + " is not available"));
    return;
  }
  self->request(dest, timeout, xs...)
    .then(
      [=](Result& value) {
        if (find_client(self, hdl, serial) == nullptr)
          return; // Gone: rendering would be wasted.
        render_and_settle(self, hdl, serial, id, value, render);
      },
      [=](caf::error& err) { settle(self, hdl, serial, reply_for_error(id, err)); });
}

/// stats, details, history, health, metrics: the metrics actor's JSON object
/// becomes the reply's fields.
template <class... Ts>
void ask_metrics(control_broker* self, connection_handle hdl, uint64_t serial,
                 const std::optional<ordered_json>& id, Ts... xs) {
  auto render = [](const std::optional<ordered_json>& id, const std::string& text) {
    auto fields = parse_object(text);
    if (!fields)
      return control::error_reply(id, errc::internal,
                                  "the metrics actor's answer is not a JSON object");
    return control::ok_reply(id, *fields);
  };
  ask<std::string>(self, hdl, serial, id, self->state.services.metrics, "the metrics actor",
                   self->state.limits.request_timeout, render, xs...);
}

/// config and reload: run the hook on the executor; the answer comes back
/// as a ctl_job_atom message.
void start_job(control_broker* self, connection_handle hdl, uint64_t serial,
               const control::request& req) {
  auto& st = self->state;
  auto& hook = req.cmd == control::command::config ? st.services.config_json : st.hooks.reload;
  if (!hook || !st.services.run_blocking) {
    settle(self, hdl, serial,
           control::error_reply(req.id, errc::internal,
                                std::string{control::to_string(req.cmd)}
                                  + " is not available on this control socket"));
    return;
  }
  auto job = ++st.next_job;
  // Weak: a queued job must not keep the broker alive after it stopped.
  caf::weak_actor_ptr me = self->ctrl();
  auto run = [me, job, hook] {
    bool ok = true;
    std::string text;
    try {
      text = hook().dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    } catch (const std::exception& e) {
      ok = false;
      text = e.what();
    } catch (...) {
      ok = false;
      text = "unknown failure";
    }
    if (auto strong = me.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), ctl_job_atom::value, job, ok,
                     std::move(text));
  };
  if (!st.services.run_blocking(std::move(run))) {
    settle(self, hdl, serial,
           control::error_reply(req.id, errc::overloaded,
                                "the runtime's executor refused the job; try again later"));
    return;
  }
  st.jobs.emplace(job, control_job{hdl, serial, req.id, req.cmd});
  self->delayed_send(self, st.limits.request_timeout, ctl_job_timeout_atom::value, job);
}

// --- one handler per command: each settles its request exactly once, now or
// when the answer comes.

void serve_stats(control_broker* self, connection_handle hdl, uint64_t serial,
                 control::request& req) {
  ask_metrics(self, hdl, serial, req.id, stats_atom::value);
}

void serve_details(control_broker* self, connection_handle hdl, uint64_t serial,
                   control::request& req) {
  ask_metrics(self, hdl, serial, req.id, details_atom::value);
}

void serve_cleanup(control_broker* self, connection_handle hdl, uint64_t serial,
                   control::request& req) {
  auto& st = self->state;
  ask<std::vector<std::string>>(
    self, hdl, serial, req.id, st.services.registry, "the registry", st.limits.request_timeout,
    [](const std::optional<ordered_json>& id, const std::vector<std::string>& reaped) {
      return control::ok_reply(id, ordered_json{{"reaped", reaped.size()}, {"tenants", reaped}});
    },
    cleanup_atom::value);
}

void serve_history(control_broker* self, connection_handle hdl, uint64_t serial,
                   control::request& req) {
  ask_metrics(self, hdl, serial, req.id, history_atom::value, req.limit);
}

void serve_health(control_broker* self, connection_handle hdl, uint64_t serial,
                  control::request& req) {
  ask_metrics(self, hdl, serial, req.id, health_atom::value);
}

void serve_evict(control_broker* self, connection_handle hdl, uint64_t serial,
                 control::request& req) {
  auto& st = self->state;
  // A tenant that can never exist is a client mistake, not "not evicted".
  if (auto problem = tenant_id_problem(req.tenant)) {
    settle(self, hdl, serial, control::error_reply(req.id, errc::invalid_tenant_id, *problem));
    return;
  }
  // The registry answers only after draining the tenant: wait that long too.
  ask<bool>(
    self, hdl, serial, req.id, st.services.registry, "the registry",
    st.limits.request_timeout + st.services.evict_drain_timeout,
    [](const std::optional<ordered_json>& id, bool evicted) {
      return control::ok_reply(id, ordered_json{{"evicted", evicted}});
    },
    evict_atom::value, req.tenant, st.services.evict_drain_timeout);
}

void serve_exec(control_broker* self, connection_handle hdl, uint64_t serial,
                control::request& req) {
  auto& st = self->state;
  // ordered_json kept the client's key order: the command name stays first.
  auto text = command_text(req.command_document);
  if (!text.text) {
    settle(self, hdl, serial, control::error_reply(req.id, errc::bad_command, text.error));
    return;
  }
  if (run_active(self, hdl, serial, req.id, req.tenant, *text.text))
    return;
  ask<std::string>(self, hdl, serial, req.id, st.services.registry, "the registry",
                   st.limits.request_timeout, exec_reply, run_atom::value, req.tenant,
                   std::move(*text.text));
}

void serve_config(control_broker* self, connection_handle hdl, uint64_t serial,
                  control::request& req) {
  start_job(self, hdl, serial, req);
}

void serve_reload(control_broker* self, connection_handle hdl, uint64_t serial,
                  control::request& req) {
  start_job(self, hdl, serial, req);
}

void serve_metrics(control_broker* self, connection_handle hdl, uint64_t serial,
                   control::request& req) {
  ask_metrics(self, hdl, serial, req.id, prometheus_atom::value);
}

/// Runs one command on the broker's thread; it must not block.
using command_handler = void (*)(control_broker* self, connection_handle hdl, uint64_t serial,
                                 control::request& req);

struct command_entry {
  control::command cmd;
  command_handler handler;
};

/// The handlers, looked up by command (PgBouncer's cmd_lookup in admin.c).
/// In the order of control::command, so a command's value is its index.
constexpr command_entry command_table[] = {
  {control::command::stats, serve_stats},     {control::command::details, serve_details},
  {control::command::cleanup, serve_cleanup}, {control::command::history, serve_history},
  {control::command::health, serve_health},   {control::command::evict, serve_evict},
  {control::command::exec, serve_exec},       {control::command::config, serve_config},
  {control::command::reload, serve_reload},   {control::command::metrics, serve_metrics},
};

/// Every command has its entry, at its own index.
constexpr bool command_table_is_complete() {
  if (std::size(command_table) != std::size(control::all_commands))
    return false;
  for (size_t index = 0; index < std::size(command_table); ++index)
    if (static_cast<size_t>(command_table[index].cmd) != index)
      return false;
  return true;
}
static_assert(command_table_is_complete(),
              "command_table needs one entry per control::command, in enum order");

} // namespace

void dispatch(control_broker* self, connection_handle hdl, control_client& client,
              control::request req) {
  auto serial = client.serial;
  auto& st = self->state;
  log().debug("control: {} from {}", control::to_string(req.cmd), client.peer);
  if (client.inflight >= st.limits.max_inflight_per_client) {
    send_reply(self, hdl, serial,
               control::error_reply(req.id, errc::overloaded,
                                    "too many requests in flight on this connection ("
                                      + std::to_string(st.limits.max_inflight_per_client)
                                      + "); wait for replies first"));
    return;
  }
  ++client.inflight;
  command_table[static_cast<size_t>(req.cmd)].handler(self, hdl, serial, req);
}

void finish_job(control_broker* self, uint64_t job, bool ok, const std::string& text) {
  auto i = self->state.jobs.find(job);
  if (i == self->state.jobs.end())
    return; // Timed out already.
  auto pending = std::move(i->second);
  self->state.jobs.erase(i);
  ordered_json reply;
  auto fields = ok ? parse_object(text) : std::nullopt;
  if (ok && !fields)
    reply = control::error_reply(pending.id, errc::internal,
                                 "the hook's answer is not a JSON object");
  else if (!ok && pending.cmd == control::command::reload)
    reply = control::error_reply(pending.id, control::protocol_errc::reload_failed, text);
  else if (!ok)
    reply = control::error_reply(pending.id, errc::internal, text);
  else if (pending.cmd == control::command::config)
    reply = control::ok_reply(pending.id, ordered_json{{"config", std::move(*fields)}});
  else
    reply = control::ok_reply(pending.id, *fields);
  settle(self, pending.hdl, pending.serial, reply);
}

void expire_job(control_broker* self, uint64_t job) {
  auto i = self->state.jobs.find(job);
  if (i == self->state.jobs.end())
    return;
  auto pending = std::move(i->second);
  self->state.jobs.erase(i);
  settle(self, pending.hdl, pending.serial,
         control::error_reply(pending.id, errc::timeout,
                              std::string{control::to_string(pending.cmd)}
                                + " did not finish in time; it may still complete"));
}

} // namespace tenantrt
