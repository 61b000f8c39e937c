// tenantrtd: the tenantrt runtime as a foreground daemon (systemd Type=simple,
// see tools/tenantrtd.service) with its JSON control socket, driven by
// tenantctl.
//
//   tenantrtd --config FILE [--log-level L] [--log-format text|json]
//
// Signals (taken by sigwait on the main thread; blocked before any thread
// exists so the runtime's and CAF's threads inherit the mask):
//   SIGHUP           re-read FILE and apply it, as the control command `reload`
//   SIGTERM, SIGINT  the control server stops accepting (new requests on open
//                    connections get shutting_down), in-flight operations
//                    drain up to shutdown.drain_timeout_ms and every request
//                    gets its reply, every connection closes, exit 0. A driver
//                    call still blocked a few seconds past the deadline is
//                    abandoned: the process exits anyway (the kernel closes
//                    its socket).
//
// Exit status: 0 after a signalled stop; 2 when it cannot start with this
// configuration (config_error, a URI the driver refuses, a control address
// that cannot be bound, bad arguments); 1 for any other failure.

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>

#include "actors/control_server.hpp"
#include "config/config_loader.hpp"
#include "runtime/logging.hpp"
#include "runtime/runtime.hpp"

namespace {

using nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

/// Exit statuses of tenantrtd.
enum class daemon_exit : int {
  /// Stopped by SIGTERM / SIGINT after draining.
  stopped = 0,
  /// Failed after start for another reason.
  failed = 1,
  /// Could not start with this configuration or these arguments.
  bad_config = 2,
};

/// How log lines look.
enum class log_format {
  /// The runtime's pattern: "2024-05-01T12:00:00.123 info [tenantrt] message".
  text,
  /// One JSON object per line: {"time","level","logger","message"}.
  json,
};

/// spdlog formatter writing one JSON object per line. nlohmann::json does the
/// escaping (quotes, control characters) and replaces invalid UTF-8, so every
/// line parses whatever a message contains; a pattern flag could not.
class json_log_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto level = spdlog::level::to_string_view(msg.level);
    ordered_json line{{"time", utc_time(msg.time)},
                      {"level", std::string{level.data(), level.size()}},
                      {"logger", std::string{msg.logger_name.data(), msg.logger_name.size()}},
                      {"message", std::string{msg.payload.data(), msg.payload.size()}}};
    auto text = line.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_log_formatter>();
  }

private:
  /// ISO-8601 UTC with milliseconds: "2024-05-01T12:00:00.123Z".
  static std::string utc_time(spdlog::log_clock::time_point when) {
    auto since_epoch = when.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    std::time_t whole = static_cast<std::time_t>(seconds.count());
    std::tm parts{};
    gmtime_r(&whole, &parts);
    char buffer[32];
    auto length = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
    std::snprintf(buffer + length, sizeof buffer - length, ".%03dZ",
                  static_cast<int>(millis.count()));
    return buffer;
  }
};

/// Everything the command line sets.
struct daemon_options {
  std::string config_path;
  /// Overrides logging.level (and TENANTRT_LOG_LEVEL) at start and on reload.
  std::string log_level;
  log_format format = log_format::text;
};

/// The problems of a rejected configuration, one per entry, "file: path: reason".
std::vector<std::string> problem_lines(const tenantrt::config_error& e) {
  std::vector<std::string> out;
  for (auto& problem : e.problems()) {
    std::string line = e.source().empty() ? std::string{} : e.source() + ": ";
    if (!problem.path.empty())
      line += problem.path + ": ";
    out.push_back(line + problem.reason);
  }
  if (out.empty())
    out.push_back(e.what());
  return out;
}

/// A failure before the logger is in charge of stderr's format: a plain line
/// in text mode, a JSON log line in json mode.
void report_start_failure(log_format format, const std::string& line) {
  if (format == log_format::json)
    tenantrt::log().error("{}", line);
  else
    std::fprintf(stderr, "tenantrtd: %s\n", line.c_str());
}

/// "1.4 ms" for log lines.
std::string millis_since(steady::time_point started) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - started);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f ms", static_cast<double>(us.count()) / 1000.0);
  return buffer;
}

/// What SIGHUP and the control command `reload` share: re-read the file,
/// apply it, tell the control server. Serialised, and refused once the
/// daemon is stopping (the runtime may be half shut down by then).
class reloader {
public:
  reloader(tenantrt::runtime& rt, std::string config_path, std::string log_level_override)
    : rt_(rt), config_path_(std::move(config_path)),
      log_level_override_(std::move(log_level_override)) {}

  /// The control server to forward the control section to (set once spawned).
  void set_control_server(caf::actor control) {
    std::lock_guard<std::mutex> guard{mutex_};
    control_ = std::move(control);
  }

  /// Re-reads and applies the file: {"applied": [...], "needsRestart": [...]}.
  /// Throws std::runtime_error with a message safe to show (config_error
  /// messages never carry a password or the token).
  ordered_json reload() {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopping_)
      throw std::runtime_error("tenantrtd is shutting down; nothing reloaded");
    auto started = steady::now();
    tenantrt::runtime_config next;
    try {
      next = tenantrt::load_config(config_path_);
    } catch (const tenantrt::config_error& e) {
      auto lines = problem_lines(e);
      std::string message = "the config file was rejected, the running configuration stays: ";
      for (size_t i = 0; i < lines.size(); ++i)
        message += (i ? "; " : "") + lines[i];
      throw std::runtime_error(message);
    }
    if (!log_level_override_.empty())
      next.logging.level = log_level_override_;
    auto outcome = rt_.reload(next);
    if (control_)
      caf::anon_send(control_, tenantrt::reload_atom::value, rt_.config());
    tenantrt::log().info("reload of {} took {}", config_path_, millis_since(started));
    return ordered_json{{"applied", outcome.applied}, {"needsRestart", outcome.needs_restart}};
  }

  /// From now on reload() refuses; waits for a reload in progress.
  void stop() {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }

private:
  tenantrt::runtime& rt_;
  const std::string config_path_;
  const std::string log_level_override_;
  std::mutex mutex_;
  caf::actor control_;
  bool stopping_ = false;
};

/// The addresses the control server actually listens on (ports chosen by
/// the system for "HOST:0" included).
std::vector<std::string> listening_addresses(caf::actor_system& system, const caf::actor& control) {
  std::vector<std::string> out;
  caf::scoped_actor self{system};
  self->request(control, std::chrono::seconds{5}, tenantrt::control_addrs_atom::value)
    .receive([&](std::vector<std::string>& addresses) { out = std::move(addresses); },
             [&](caf::error&) {});
  return out;
}

/// Closes the control server's listeners; requests arriving on open
/// connections get shutting_down, those in flight still get their replies.
void drain_control_server(caf::actor_system& system, const caf::actor& control) {
  caf::scoped_actor self{system};
  self->request(control, std::chrono::seconds{5}, tenantrt::drain_atom::value)
    .receive([](bool) {},
             [](caf::error&) {
               tenantrt::log().warn("control server did not confirm the drain; draining anyway");
             });
}

/// Bounds the stop: a driver call blocked inside mongoc cannot be
/// interrupted, and waiting for its socket timeout would outlast any drain
/// deadline a supervisor (systemd's TimeoutStopSec) allows.
class stop_watchdog {
public:
  explicit stop_watchdog(std::chrono::milliseconds limit)
    : thread_([this, limit] {
        std::unique_lock<std::mutex> lock{mutex_};
        if (done_cv_.wait_for(lock, limit, [this] { return done_; }))
          return;
        tenantrt::log().error("stop took over {} ms: driver calls still blocked past the drain "
                              "deadline are abandoned; exiting now",
                              limit.count());
        tenantrt::log().flush();
        std::_Exit(0);
      }) {}

  ~stop_watchdog() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

/// Stops the control server and waits until it is gone (sockets closed,
/// unix socket files removed); replies still due get a short grace.
void stop_control_server(caf::actor_system& system, const caf::actor& control) {
  caf::scoped_actor self{system};
  self->monitor(control);
  self->send_exit(control, caf::exit_reason::user_shutdown);
  bool gone = false;
  self->receive_while([&] { return !gone; })(
    [&](const caf::down_msg&) { gone = true; },
    caf::after(std::chrono::seconds{5}) >> [&] {
      tenantrt::log().warn("control server did not stop within 5 s; draining anyway");
      gone = true;
    });
}

} // namespace

int main(int argc, char** argv) {
  daemon_options options;
  CLI::App app{"tenantrtd: the tenantrt runtime with its JSON control socket (a foreground "
               "daemon).\nSIGHUP reloads the config file; SIGTERM/SIGINT drain and stop."};
  app.add_option("-c,--config", options.config_path, "tenantrt JSON config file")->required();
  app.add_option("--log-level", options.log_level, "overrides logging.level")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  std::string format_name = "text";
  app.add_option("--log-format", format_name, "text (default) or json: one object per line")
    ->check(CLI::IsMember({"text", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : static_cast<int>(daemon_exit::bad_config);
  }

  options.format = format_name == "json" ? log_format::json : log_format::text;
  if (options.format == log_format::json)
    tenantrt::log().set_formatter(std::make_unique<json_log_formatter>());

  // Block before any thread exists (CAF's, the executor's, the driver's):
  // they inherit the mask and sigwait below is the only taker.
  // Reset first: a shell starts background jobs with SIGINT ignored.
  for (int stop_signal : {SIGINT, SIGTERM, SIGHUP})
    std::signal(stop_signal, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that hangs up must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  tenantrt::runtime_config config;
  try {
    config = tenantrt::load_config(options.config_path);
  } catch (const tenantrt::config_error& e) {
    for (auto& line : problem_lines(e))
      report_start_failure(options.format, line);
    return static_cast<int>(daemon_exit::bad_config);
  }
  if (!options.log_level.empty())
    config.logging.level = options.log_level;

  tenantrt::log().info("tenantrtd starting (pid {}) with {}", ::getpid(), options.config_path);
  std::unique_ptr<tenantrt::runtime> rt;
  try {
    rt = std::make_unique<tenantrt::runtime>(config);
  } catch (const std::exception& e) {
    // The runtime refuses what load_config cannot check, e.g. a URI the driver rejects.
    report_start_failure(options.format, std::string{"cannot start the runtime: "} + e.what());
    return static_cast<int>(daemon_exit::bad_config);
  }
  auto drain_timeout = std::chrono::milliseconds{config.shutdown.drain_timeout_ms};

  reloader reload{*rt, options.config_path, options.log_level};
  tenantrt::control_hooks hooks;
  hooks.reload = [&reload] { return reload.reload(); };
  auto spawned = tenantrt::spawn_control_server(*rt, std::move(hooks));
  if (!spawned) {
    const auto& context = spawned.error().context();
    std::string reason = context.match_element<std::string>(0)
                           ? context.get_as<std::string>(0)
                           : rt->system().render(spawned.error());
    tenantrt::log().error("cannot open the control socket: {}", reason);
    reload.stop();
    rt->shutdown(drain_timeout);
    return static_cast<int>(daemon_exit::bad_config);
  }
  caf::actor control = *spawned;
  reload.set_control_server(control);

  auto addresses = listening_addresses(rt->system(), control);
  const char* token_hint = config.control.token.empty() ? "" : " --token \"$TENANTRT_TOKEN\"";
  for (auto& address : addresses)
    tenantrt::log().info("tenantrtd ready on {}: tenantctl --socket {}{} stats", address, address,
                         token_hint);

  int signal_number = 0;
  for (;;) {
    if (sigwait(&signals, &signal_number) != 0)
      continue;
    if (signal_number != SIGHUP)
      break;
    try {
      auto outcome = reload.reload();
      auto applied = outcome["applied"].get<std::vector<std::string>>();
      auto needs_restart = outcome["needsRestart"].get<std::vector<std::string>>();
      tenantrt::log().info("SIGHUP: configuration reloaded; applied: {}; needs restart: {}",
                           tenantrt::joined(applied), tenantrt::joined(needs_restart));
    } catch (const std::exception& e) {
      tenantrt::log().error("SIGHUP: reload failed: {}", e.what());
    }
  }

  auto stopping = steady::now();
  tenantrt::log().info("{}: stopping; in-flight work has up to {} ms to finish",
                       signal_number == SIGINT ? "SIGINT" : "SIGTERM", drain_timeout.count());
  reload.stop();
  // Grace past the deadline: the control server's 2 s for replies still due,
  // and a moment for the pools to close.
  stop_watchdog watchdog{drain_timeout + std::chrono::seconds{4}};
  drain_control_server(rt->system(), control);
  bool drained = rt->drain(drain_timeout);
  stop_control_server(rt->system(), control);
  control = nullptr;
  rt->shutdown(drain_timeout);
  tenantrt::log().info("tenantrtd stopped in {} ({})", millis_since(stopping),
                       drained ? "all in-flight work finished"
                               : "drain timeout: unfinished work failed with shutting_down");
  return static_cast<int>(daemon_exit::stopped);
}
