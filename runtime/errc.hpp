#pragma once
// The runtime's failures: one enum, one wire string per value. Every result
// carries one; so does every caf::error the actors report (make_error below).
// The control socket's own framing errors (a malformed line, a bad token) are
// actors/control_protocol.hpp's protocol_errc; the two sets of wire strings
// are disjoint (tested).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caf {
class error;
} // namespace caf

namespace tenantrt {

enum class errc : uint8_t {
  /// Not an error (value 0 so a default-constructed code means success).
  none = 0,
  /// A tenant id fails [A-Za-z0-9_-]{1,64} or maps to a reserved database.
  invalid_tenant_id,
  /// max_tenant_connections reached, nothing evictable within the wait.
  tenant_limit_reached,
  /// The tenant's actor died while the operation was in flight.
  tenant_crashed,
  /// The tenant crashed too often and is in back-off.
  tenant_quarantined,
  /// No pooled connection became free within wait_queue_timeout_ms.
  pool_wait_timeout,
  /// The server could not be reached (refused, reset, no suitable server).
  server_unreachable,
  /// The server did not answer within socket_timeout_ms.
  timeout,
  /// The server answered with an error (code and message in the text).
  command_failed,
  /// The command document is not valid JSON / extended JSON or not a command.
  bad_command,
  /// The runtime is draining or stopped; no new work is taken.
  shutting_down,
  /// Too much queued blocking work; the caller should back off.
  overloaded,
  /// A routing rule or the config names a cluster that does not exist.
  unknown_cluster,
  /// A bug: something the runtime did not expect.
  internal,
};

/// Wire string of a code, e.g. "pool_wait_timeout".
std::string_view to_string(errc code) noexcept;

/// Inverse of to_string; nullopt for unknown strings.
std::optional<errc> errc_from_string(std::string_view text) noexcept;

/// Every value, for tests and documentation.
inline constexpr errc all_errcs[] = {
  errc::none,           errc::invalid_tenant_id,  errc::tenant_limit_reached,
  errc::tenant_crashed, errc::tenant_quarantined, errc::pool_wait_timeout,
  errc::server_unreachable, errc::timeout,        errc::command_failed,
  errc::bad_command,    errc::shutting_down,      errc::overloaded,
  errc::unknown_cluster, errc::internal,
};

// --- errc as caf::error. Declared here, beside the enum (as CAF's sec.hpp
// does); defined with the actors (actors/errc_caf.cpp), the floor that links
// CAF, so only code that has a caf::error calls them.

/// Error category of every failure the actors report.
inline constexpr char error_category_name[] = "tenantrt";

/// A caf::error carrying code and a human message (never a secret); with
/// command_failed, the server's reply JSON rides along as second context field.
/// @relates errc
caf::error make_error(errc code, std::string message, std::string reply_json = {});

/// The errc of an error: ours as is, CAF's mapped (a dead receiver becomes
/// tenant_crashed, a request timeout becomes timeout, anything else internal).
/// @relates errc
errc errc_of(const caf::error& err);

/// The human message of an error made by make_error (CAF's rendering otherwise).
std::string message_of(const caf::error& err);

/// The server reply carried by a command_failed error, empty otherwise.
std::string reply_of(const caf::error& err);

} // namespace tenantrt
