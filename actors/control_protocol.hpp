#pragma once
// The control socket's wire protocol as pure functions (no CAF, no I/O), so
// it can be unit-tested and fuzzed on its own: a line splitter that enforces
// control.max_line_bytes, the parser that turns one request line into a
// validated request or an error reply, and the builders of every reply line.
// control.listen entries are read by the one address grammar,
// config/listen_address.hpp (its names are brought in below).
//
// Used by: the control server broker (actors/control_server.hpp), which
// splits and parses the lines, and its command handlers
// (actors/control_commands.hpp), which build the replies; the fuzzer
// tests/fuzz/control_protocol_fuzz.cpp and tests/actors/control_protocol_test.cpp.
//
// Wire format, one JSON object per line in each direction:
//   request  {"id": <any, optional>, "cmd": "<name>", "token": "...", ...fields}
//   success  {"id": <same>, "ok": true, ...fields}
//   failure  {"id": <same>, "ok": false, "error": {"code": "...", "message": "..."}}
// "id" is echoed verbatim when the request carried one (even `null`). It is
// omitted when the request had none or could not be parsed (bad_json), and
// in the line_too_long / too_many_clients / idle_timeout replies, which
// answer no request.
// A reply never contains the token.
//
// Namespace tenantrt::control is the protocol's vocabulary (commands,
// protocol_errc, requests, replies). tenantctl's presentation of the replies
// (tables, colours, exit statuses) is tools/ business, in tenantrt::ctl
// (tools/tenantctl_render.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/listen_address.hpp"
#include "runtime/errc.hpp"

namespace tenantrt::control {

/// Failures of the control protocol itself. Failures of the runtime travel as
/// errc (runtime/errc.hpp) with errc's wire strings; the two sets of wire
/// strings are disjoint (tested).
enum class protocol_errc : uint8_t {
  /// The line is not JSON, or not a JSON object.
  bad_json,
  /// A field is missing or has the wrong type; the message names the field.
  bad_request,
  /// "cmd" names no command; the message lists the known ones.
  unknown_command,
  /// control.token is set and the request's "token" is wrong or missing.
  unauthorized,
  /// The line is longer than control.max_line_bytes; the rest was discarded.
  line_too_long,
  /// control.max_clients clients are connected; this one is closed.
  too_many_clients,
  /// The config file could not be re-read or applied; the old one stays.
  reload_failed,
  /// exec is switched off on this control socket (control.allow_exec is
  /// false, or unset while a listen address is reachable from other hosts).
  exec_disabled,
  /// The client had no request in flight and sent nothing for
  /// control.client_idle_timeout_ms; it is closed after this line.
  idle_timeout,
};

/// Wire string of a protocol error code, e.g. "bad_json".
std::string_view to_string(protocol_errc code) noexcept;

/// Every protocol error code, for tests and documentation.
inline constexpr protocol_errc all_protocol_errcs[] = {
  protocol_errc::bad_json,         protocol_errc::bad_request,
  protocol_errc::unknown_command,  protocol_errc::unauthorized,
  protocol_errc::line_too_long,    protocol_errc::too_many_clients,
  protocol_errc::reload_failed,    protocol_errc::exec_disabled,
  protocol_errc::idle_timeout,
};

/// The commands of the control socket.
enum class command : uint8_t {
  stats,   // Registry, pool and connection figures, recent samples, warnings.
  details, // stats plus per-tenant latency; logs the table at info.
  cleanup, // Reap idle tenants now.
  history, // The sample ring, oldest first ("limit" optional).
  health,  // ok | degraded | down, with the warnings.
  evict,   // Retire one tenant ("tenant"), draining its in-flight work first.
  exec,    // Run a command document for a tenant ("tenant", "command").
  config,  // The effective configuration, secrets redacted.
  reload,  // Re-read the config file and apply what can change at run time.
  metrics, // Prometheus exposition as "text".
};

/// Wire name of a command, e.g. "stats".
std::string_view to_string(command cmd) noexcept;

/// Inverse of to_string; nullopt for an unknown name.
std::optional<command> command_from_string(std::string_view name) noexcept;

/// Every command, in the order the unknown_command message lists them.
inline constexpr command all_commands[] = {
  command::stats,  command::details, command::cleanup, command::history,
  command::health, command::evict,   command::exec,    command::config,
  command::reload, command::metrics,
};

/// A request that passed validation: the command's fields are present and of
/// the right type (tenant ids and command documents are checked further by
/// the registry, which answers with an errc).
struct request {
  /// The request's "id" as sent; nullopt when it had none.
  std::optional<nlohmann::ordered_json> id;
  command cmd = command::stats;
  /// history: how many samples, newest last; 0 (the default) means all.
  uint32_t limit = 0;
  /// evict, exec: the tenant id.
  std::string tenant;
  /// exec: the command document as sent (extended JSON, key order kept).
  nlohmann::ordered_json command_document;
};

/// What parse_request made of a line: a request, or the reply to send.
struct parse_result {
  std::optional<request> valid;
  /// The error reply (a JSON object) when valid is empty.
  nlohmann::ordered_json error_reply;
};

/// Parses and validates one request line (without its '\n'). With a
/// non-empty expected_token, the request's "token" must match it (compared
/// in constant time) before anything else than the JSON syntax is looked at,
/// so an unauthenticated client learns nothing about the commands.
/// Checks, in order: bad_json, unauthorized, bad_request ("cmd"),
/// unknown_command, bad_request (the command's fields).
parse_result parse_request(std::string_view line, std::string_view expected_token);

/// Whether a line holds nothing but whitespace (the server skips such lines
/// without a reply: they are not requests).
bool is_blank(std::string_view line) noexcept;

/// Compares a secret with a candidate in time that depends only on the
/// candidate's length, never on the secret's content or length.
bool constant_time_equals(std::string_view secret, std::string_view candidate) noexcept;

// --- reply builders (each returns a JSON object; see to_line)

/// {"id": id, "ok": true} ("id" omitted when nullopt).
nlohmann::ordered_json ok_reply(const std::optional<nlohmann::ordered_json>& id);

/// ok_reply plus every field of fields (a JSON object) except "id" and "ok".
nlohmann::ordered_json ok_reply(const std::optional<nlohmann::ordered_json>& id,
                                const nlohmann::ordered_json& fields);

/// {"id": id, "ok": false, "error": {"code": code, "message": message}}.
nlohmann::ordered_json error_reply(const std::optional<nlohmann::ordered_json>& id,
                                   std::string_view code, std::string_view message);

/// A protocol failure.
nlohmann::ordered_json error_reply(const std::optional<nlohmann::ordered_json>& id,
                                   protocol_errc code, std::string_view message);

/// A runtime failure, with errc's wire string as the code.
nlohmann::ordered_json error_reply(const std::optional<nlohmann::ordered_json>& id, errc code,
                                   std::string_view message);

/// The reply to a line over max_line_bytes (no id: the line was not read).
nlohmann::ordered_json line_too_long_reply(size_t max_line_bytes);

/// The answer to exec while control.allow_exec is off; explicit_setting says
/// whether the config set it to false (else it is off by default because a
/// listen address is not loopback).
nlohmann::ordered_json exec_disabled_reply(const std::optional<nlohmann::ordered_json>& id,
                                           bool explicit_setting);

/// The one line a client beyond max_clients gets before it is closed.
nlohmann::ordered_json too_many_clients_reply(size_t max_clients);

/// The one line an idle client gets before it is closed (no id: it answers
/// no request); names the timeout and its key.
nlohmann::ordered_json idle_timeout_reply(uint64_t client_idle_timeout_ms);

/// One reply line: compact JSON plus '\n'. Invalid UTF-8 (from a server
/// reply or an exception message) is replaced, never thrown on.
std::string to_line(const nlohmann::ordered_json& reply);

// --- line splitting

/// One item cut from a client's byte stream.
struct line_item {
  enum class kind : uint8_t {
    line,     // A complete line, without '\n' (a '\r' before it is kept).
    too_long, // A line went over the limit; its bytes up to '\n' are dropped.
  };
  kind type = kind::line;
  std::string text;
};

/// Cuts a byte stream into '\n'-terminated lines of at most max_line_bytes
/// bytes (the '\n' not counted). A longer line is reported once, as soon as
/// it goes over the limit, and its remaining bytes are skipped without being
/// buffered, so memory stays below max_line_bytes whatever a client sends.
class line_splitter {
public:
  explicit line_splitter(size_t max_line_bytes);

  /// Feeds bytes; returns the complete lines and too_long reports, in order.
  std::vector<line_item> feed(std::string_view bytes);

  /// A new limit for the line being read and the next ones.
  void set_max_line_bytes(size_t max_line_bytes) noexcept { max_line_bytes_ = max_line_bytes; }

  size_t max_line_bytes() const noexcept { return max_line_bytes_; }

  /// Bytes of the unfinished line held (never more than max_line_bytes).
  size_t buffered_bytes() const noexcept { return partial_.size(); }

  /// Memory reserved for the unfinished line (never more than max_line_bytes).
  size_t buffer_capacity() const noexcept { return partial_.capacity(); }

  /// Whether the rest of an oversized line is being skipped.
  bool discarding() const noexcept { return discarding_; }

private:
  void append(std::string_view segment);
  void release() noexcept;

  size_t max_line_bytes_;
  // A vector, not a string: its reserve() allocates exactly what is asked,
  // which keeps the capacity under the limit (libstdc++'s string doubles).
  std::vector<char> partial_;
  bool discarding_ = false;
};

// --- listen addresses: the one grammar is config/listen_address.hpp.

using tenantrt::listen_address;
using tenantrt::listen_address_result;
using tenantrt::parse_listen_address;
using tenantrt::to_string;

} // namespace tenantrt::control
