#pragma once
// What tenantctl prints, apart from the socket: the control socket's replies as text.
//
// Parsing --socket addresses, turning the reply lines into aligned tables
// (tools/tenantctl_table.hpp), totals, warnings and a small text chart, and
// mapping a reply to the exit status scripts and alerting rely on (0 ok, 1
// degraded or command error, 2 the daemon cannot be reached). Pure functions
// of their input, so the unit tests (tests/tools/tenantctl_render_test.cpp)
// check them without a daemon.
//
// Reply fields read here are the control socket's contract (issue 3,
// "Control socket"); the metrics replies' field names (stats, details,
// history, health, metrics) are those of actors/stats_schema.hpp, the header
// the daemon writes them with. A field that is missing renders as "-" rather
// than failing, so an older or newer daemon still gets readable output.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tenantrt::ctl {

/// Exit statuses of tenantctl.
enum class exit_status : int {
  /// The command succeeded (health: status ok).
  ok = 0,
  /// The daemon answered ok:false, health is degraded or down, or the
  /// command line was unusable.
  failed = 1,
  /// No answer: connection refused, no such socket file, timeout, or the
  /// connection closed before a reply line arrived.
  unreachable = 2,
};

/// Where the control socket is: "HOST:PORT" or "unix:/path".
struct socket_address {
  enum class family {
    /// TCP, a numeric host (localhost read as 127.0.0.1) and port.
    tcp,
    /// A Unix domain socket file.
    unix_path,
  };
  family kind = family::tcp;
  std::string host;
  uint16_t port = 0;
  std::string path;

  /// Back to the text form ("127.0.0.1:7070", "unix:/run/tenantrt/ctl.sock").
  std::string to_string() const;
};

/// Parses an address as given to --socket or TENANTRT_SOCKET by the daemon's
/// listen-address grammar (config/listen_address.hpp), port 1-65535; nullopt
/// with a reason in *error when it is not usable. "[::1]:7070" is accepted.
std::optional<socket_address> parse_socket_address(const std::string& text, std::string* error);

/// How to render.
struct render_options {
  /// ANSI colours (tenantctl sets it only when stdout is a terminal).
  bool color = false;
  /// Width of the history chart's bars, in characters.
  std::size_t chart_width = 40;
};

/// totalConnections of each sample (oldest first), 0 where absent.
std::vector<uint64_t> total_connections_of(const nlohmann::json& samples);

/// The reply of stats (or details, with latency columns): header lines,
/// tenant table with totals, cluster pool table, the connection chart of
/// recentMetrics and the warnings.
std::string render_stats(const nlohmann::json& reply, const render_options& options);

/// health: status line and warnings.
std::string render_health(const nlohmann::json& reply, const render_options& options);

/// history: one row per sample with a bar of totalConnections.
std::string render_history(const nlohmann::json& reply, const render_options& options);

/// Warnings as lines ("WARN code: message (value V, threshold T)"), or
/// "warnings: none".
std::string render_warnings(const nlohmann::json& warnings, const render_options& options);

/// The human output of any command's successful reply (cmd is the control
/// command: stats, details, cleanup, history, health, evict, exec, config,
/// reload, metrics). Unknown commands print the reply as indented JSON.
std::string render_reply(const std::string& cmd, const nlohmann::json& reply,
                         const render_options& options);

/// The line printed (on stderr) for an ok:false reply:
/// "error tenant_limit_reached: <message>".
std::string render_error(const nlohmann::json& reply, const render_options& options);

/// The exit status of a reply to cmd: failed for ok:false, for health not
/// "ok" and for a reply that is not a JSON object with "ok"; ok otherwise.
exit_status exit_status_of(const std::string& cmd, const nlohmann::json& reply);

} // namespace tenantrt::ctl
