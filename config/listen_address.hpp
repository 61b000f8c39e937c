#pragma once
// The one listen-address grammar, "HOST:PORT" | "[IPv6]:PORT" | "unix:/path",
// and what follows from an address: whether only this machine can reach it,
// and whether exec may be offered on it. The config loader checks
// control.listen and metrics.http_listen with it, the control server binds
// what it parses, the metrics endpoint tests loopback with it and tenantctl
// reads --socket with it.
//
// Hosts are numeric (an IPv4 dotted quad without leading zeros, or an IPv6
// address in brackets) or localhost (read as 127.0.0.1): resolving names would
// make the bound address depend on DNS. Ports are 0-65535 (0: the system
// picks one; the config loader asks for 1-65535). A unix socket path is
// absolute and fits sun_path (107 bytes and the NUL).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/runtime_config.hpp"

namespace tenantrt {

/// The longest unix socket path: sockaddr_un::sun_path holds 108 bytes with the NUL.
inline constexpr std::size_t max_unix_path_bytes = 107;

/// One address, parsed.
struct listen_address {
  enum class kind : uint8_t {
    /// A TCP host and port.
    tcp,
    /// A unix socket file.
    unix_socket,
  };
  kind type = kind::tcp;
  /// tcp: numeric IPv4 or IPv6 address, without brackets ("localhost" becomes 127.0.0.1).
  std::string host;
  /// tcp: the port; 0 lets the system pick one.
  uint16_t port = 0;
  /// unix_socket: the socket file's path.
  std::string path;
  /// tcp on 127.0.0.0/8 or ::1, or a unix socket: only this machine reaches it.
  bool loopback = false;
};

/// What parse_listen_address made of a text.
struct listen_address_result {
  std::optional<listen_address> address;
  /// Why the text is not an address, when address is empty; phrased to follow
  /// the quoted text, e.g. "has no port (expected HOST:PORT)".
  std::string error;
};

/// Parses text by the grammar above.
listen_address_result parse_listen_address(std::string_view text);

/// The address in the form parse_listen_address reads.
std::string to_string(const listen_address& address);

/// The effective control.allow_exec: its explicit value, else true when every
/// control.listen address is loopback (127.x.x.x, localhost, [::1]) or a unix
/// socket, false otherwise (exec can read and write every tenant's data, so
/// it is not offered to the network unless asked for). An address that does
/// not parse counts as non-loopback.
bool exec_allowed(const control_config& control);

} // namespace tenantrt
