// tenantctl: the operator's command line for a running tenantrtd. Each
// command is one request line on the control socket (newline-delimited
// JSON) and one reply line back; the reply is rendered as tables for humans
// or printed raw with --json for scripts.
//
//   tenantctl [--socket ADDR] [--token T] [--json] COMMAND [ARGS]
//
// Exit status: 0 ok, 1 degraded health or command error, 2 the daemon
// cannot be reached (see tools/tenantctl_render.hpp). The token is sent,
// never printed.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tools/tenantctl_render.hpp"

namespace {

using tenantrt::ctl::exit_status;
using tenantrt::ctl::socket_address;
using nlohmann::ordered_json;
using clock_type = std::chrono::steady_clock;

/// Replies larger than this are refused (a full `config` or `details` with
/// thousands of tenants stays far below).
constexpr std::size_t max_reply_bytes = 64u << 20;

/// The daemon could not be reached or did not answer (exit status 2).
struct unreachable_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Milliseconds left until deadline, at least 0, for poll().
int remaining_ms(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

/// One connection to the control socket; closes on destruction.
class control_connection {
public:
  control_connection(const socket_address& address, std::chrono::milliseconds timeout)
    : address_(address.to_string()), timeout_(timeout) {
    auto deadline = clock_type::now() + timeout;
    if (address.kind == socket_address::family::unix_path)
      connect_unix(address.path, deadline);
    else
      connect_tcp(address.host, address.port, deadline);
  }

  ~control_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  control_connection(const control_connection&) = delete;
  control_connection& operator=(const control_connection&) = delete;

  /// Sends one request line and returns the reply line carrying its id
  /// (lines for other ids, which this client never causes, are skipped).
  std::string round_trip(const ordered_json& request) {
    auto line = request.dump() + "\n";
    auto deadline = clock_type::now() + timeout_;
    send_all(line, deadline);
    for (;;) {
      auto reply = read_line(deadline);
      auto parsed = ordered_json::parse(reply, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("id")
          || parsed["id"] == request["id"])
        return reply;
    }
  }

private:
  [[noreturn]] void fail(const std::string& what, int error_number) const {
    throw unreachable_error("cannot reach tenantrtd at " + address_ + ": " + what
                            + (error_number ? std::string{": "} + std::strerror(error_number)
                                            : std::string{}));
  }

  /// Non-blocking connect bounded by deadline; the fd stays non-blocking.
  bool connect_fd(int fd, const sockaddr* address, socklen_t length,
                  clock_type::time_point deadline, int* error_number) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (::connect(fd, address, length) == 0)
      return true;
    if (errno != EINPROGRESS && errno != EAGAIN) {
      *error_number = errno;
      return false;
    }
    pollfd waiting{fd, POLLOUT, 0};
    int ready = ::poll(&waiting, 1, remaining_ms(deadline));
    if (ready <= 0) {
      *error_number = ready == 0 ? ETIMEDOUT : errno;
      return false;
    }
    int so_error = 0;
    socklen_t size = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &size);
    *error_number = so_error;
    return so_error == 0;
  }

  void connect_unix(const std::string& path, clock_type::time_point deadline) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
      fail("socket path is longer than " + std::to_string(sizeof address.sun_path - 1)
             + " bytes",
           0);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      fail("socket", errno);
    int error_number = 0;
    if (!connect_fd(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address, deadline,
                    &error_number))
      fail("connect", error_number);
  }

  void connect_tcp(const std::string& host, uint16_t port, clock_type::time_point deadline) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* found = nullptr;
    auto service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
      fail(std::string{"resolve "} + host + ": " + ::gai_strerror(rc), 0);
    int error_number = 0;
    for (auto* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
      int fd = ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                        candidate->ai_protocol);
      if (fd < 0) {
        error_number = errno;
        continue;
      }
      if (connect_fd(fd, candidate->ai_addr, candidate->ai_addrlen, deadline, &error_number)) {
        fd_ = fd;
        break;
      }
      ::close(fd);
    }
    ::freeaddrinfo(found);
    if (fd_ < 0)
      fail("connect", error_number);
  }

  void send_all(const std::string& data, clock_type::time_point deadline) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd waiting{fd_, POLLOUT, 0};
        if (::poll(&waiting, 1, remaining_ms(deadline)) <= 0)
          fail("sending the request timed out", 0);
        continue;
      }
      fail("send", errno);
    }
  }

  std::string read_line(clock_type::time_point deadline) {
    for (;;) {
      if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
        auto line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      if (buffer_.size() > max_reply_bytes)
        fail("reply longer than " + std::to_string(max_reply_bytes) + " bytes", 0);
      pollfd waiting{fd_, POLLIN, 0};
      int ready = ::poll(&waiting, 1, remaining_ms(deadline));
      if (ready == 0)
        fail("no reply within " + std::to_string(timeout_.count() / 1000) + " s", 0);
      if (ready < 0) {
        if (errno == EINTR)
          continue;
        fail("poll", errno);
      }
      char chunk[65536];
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0)
        fail("the connection closed before a reply arrived", 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
          continue;
        fail("recv", errno);
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  int fd_ = -1;
  std::string address_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

/// Everything the command line sets.
struct ctl_options {
  std::string socket = "127.0.0.1:7070";
  std::string token;
  bool json = false;
  double timeout_s = 30;
  uint32_t history_limit = 0;
  std::string tenant;
  std::string command_json;
  double watch_interval_s = 2;
};

volatile std::sig_atomic_t interrupted = 0;

void on_interrupt(int) {
  interrupted = 1;
}

/// Sends one request and prints the reply; returns the exit status.
exit_status run_once(const socket_address& address, const ctl_options& options,
                     ordered_json request, const tenantrt::ctl::render_options& render,
                     const std::string& prefix = {}) {
  static uint64_t next_id = 1;
  const std::string cmd = request["cmd"].get<std::string>();
  ordered_json framed{{"id", next_id++}};
  for (auto& [key, value] : request.items())
    framed[key] = value;
  if (!options.token.empty())
    framed["token"] = options.token;

  control_connection connection{
    address, std::chrono::milliseconds{static_cast<int64_t>(options.timeout_s * 1000)}};
  auto line = connection.round_trip(framed);
  auto reply = nlohmann::json::parse(line, nullptr, false);
  if (options.json) {
    std::cout << prefix << line << "\n" << std::flush;
    return tenantrt::ctl::exit_status_of(cmd, reply);
  }
  if (reply.is_discarded() || !reply.is_object()) {
    std::cerr << "tenantctl: the daemon's reply is not a JSON object\n";
    return exit_status::failed;
  }
  auto status = tenantrt::ctl::exit_status_of(cmd, reply);
  if (cmd == "evict" && !reply.contains("tenant"))
    reply["tenant"] = request["tenant"].get<std::string>();
  if (reply.value("ok", false)) {
    std::cout << prefix << tenantrt::ctl::render_reply(cmd, reply, render) << std::flush;
  } else {
    std::cout << prefix << std::flush;
    std::cerr << "tenantctl: " << tenantrt::ctl::render_error(reply, render) << std::flush;
  }
  return status;
}

/// stats every interval until Ctrl-C; the screen is redrawn on a terminal.
exit_status watch(const socket_address& address, const ctl_options& options,
                  const tenantrt::ctl::render_options& render, bool terminal) {
  struct sigaction action {};
  action.sa_handler = on_interrupt; // no SA_RESTART: the wait below returns at once
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  auto interval = std::chrono::milliseconds{static_cast<int64_t>(options.watch_interval_s * 1000)};
  while (!interrupted) {
    std::string prefix;
    if (!options.json) {
      prefix = terminal ? "\x1b[H\x1b[2J" : "\n";
      char header[96];
      std::snprintf(header, sizeof header, "every %gs on %s, Ctrl-C to stop\n",
                    options.watch_interval_s, address.to_string().c_str());
      prefix += header;
    }
    auto status = run_once(address, options, {{"cmd", "stats"}}, render, prefix);
    if (status != exit_status::ok)
      return status;
    auto deadline = clock_type::now() + interval;
    while (!interrupted && clock_type::now() < deadline)
      ::poll(nullptr, 0, remaining_ms(deadline)); // EINTR on Ctrl-C
  }
  return exit_status::ok;
}

} // namespace

int main(int argc, char** argv) {
  ctl_options options;
  CLI::App app{"tenantctl: inspect and steer a running tenantrtd through its control socket.\n"
               "Exit status: 0 ok, 1 degraded health or command error, 2 daemon unreachable."};
  app.set_help_all_flag("--help-all", "help for every command");
  app.require_subcommand(1);
  app.fallthrough(); // global options may follow the command too
  app.add_option("-s,--socket", options.socket,
                 "control socket: HOST:PORT or unix:/path (default 127.0.0.1:7070)")
    ->envname("TENANTRT_SOCKET");
  app.add_option("--token", options.token, "control.token of the daemon (never printed)")
    ->envname("TENANTRT_TOKEN");
  app.add_flag("--json", options.json, "print the raw reply line instead of tables");
  app.add_option("--timeout", options.timeout_s, "seconds to wait for connect and reply (30)")
    ->check(CLI::Range(0.1, 3600.0));

  app.add_subcommand("stats", "tenants, pools, recent samples and warnings");
  app.add_subcommand("details", "stats with per-tenant latency; the daemon logs the table too");
  app.add_subcommand("cleanup", "reap idle tenants now");
  app.add_subcommand("health", "ok / degraded / down; exit status 0 only when ok");
  auto* history = app.add_subcommand("history", "the sampled history, oldest first");
  history->add_option("-n,--limit", options.history_limit, "last N samples (0: all)");
  auto* evict = app.add_subcommand("evict", "retire a tenant (after its in-flight work)");
  evict->add_option("tenant", options.tenant, "tenant id")->required();
  auto* exec = app.add_subcommand("exec", "run a MongoDB command on a tenant's database");
  exec->add_option("tenant", options.tenant, "tenant id")->required();
  exec->add_option("command", options.command_json,
                   "the command document as JSON (extended JSON accepted; - reads stdin)")
    ->required();
  app.add_subcommand("config", "the effective configuration, secrets redacted");
  app.add_subcommand("reload", "re-read the config file: what applied, what needs a restart");
  app.add_subcommand("metrics", "Prometheus exposition text");
  auto* watch_command = app.add_subcommand("watch", "stats every few seconds until Ctrl-C");
  watch_command->add_option("-i,--interval", options.watch_interval_s, "seconds between refreshes (2)")
    ->check(CLI::Range(0.1, 86400.0));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(exit_status::failed);
  }

  std::string address_error;
  auto address = tenantrt::ctl::parse_socket_address(options.socket, &address_error);
  if (!address) {
    std::cerr << "tenantctl: " << address_error << "\n";
    return static_cast<int>(exit_status::failed);
  }
  bool terminal = ::isatty(STDOUT_FILENO) == 1;
  tenantrt::ctl::render_options render;
  render.color = terminal && std::getenv("NO_COLOR") == nullptr;

  const std::string cmd = app.get_subcommands().front()->get_name();
  ordered_json request{{"cmd", cmd}};
  if (cmd == "history" && options.history_limit > 0)
    request["limit"] = options.history_limit;
  if (cmd == "evict")
    request["tenant"] = options.tenant;
  if (cmd == "exec") {
    std::string text = options.command_json;
    if (text == "-")
      text.assign(std::istreambuf_iterator<char>{std::cin}, std::istreambuf_iterator<char>{});
    // ordered: MongoDB reads the first key as the command's name.
    auto command = ordered_json::parse(text, nullptr, false);
    if (command.is_discarded() || !command.is_object()) {
      std::cerr << "tenantctl: exec: the command must be a JSON object, e.g. "
                   "'{\"find\":\"orders\",\"filter\":{}}'\n";
      return static_cast<int>(exit_status::failed);
    }
    request["tenant"] = options.tenant;
    request["command"] = std::move(command);
  }

  try {
    if (cmd == "watch")
      return static_cast<int>(watch(*address, options, render, terminal));
    return static_cast<int>(run_once(*address, options, std::move(request), render));
  } catch (const unreachable_error& e) {
    std::cerr << "tenantctl: " << e.what() << "\n";
    return static_cast<int>(exit_status::unreachable);
  }
}
