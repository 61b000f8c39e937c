#pragma once
// Counts TCP connections to a server port from the kernel's tables
// (/proc/net/tcp and /proc/net/tcp6), so tests can check what a pool really
// holds open without trusting the pool's own bookkeeping.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace tenantrt::devtools {

/// TCP states as numbered in /proc/net/tcp (include/net/tcp_states.h).
enum class tcp_state : int {
  established = 0x01,
  syn_sent = 0x02,
  syn_recv = 0x03,
  fin_wait1 = 0x04,
  fin_wait2 = 0x05,
  time_wait = 0x06,
  close = 0x07,
  close_wait = 0x08,
  last_ack = 0x09,
  listen = 0x0A,
  closing = 0x0B,
};

/// Sockets of this network namespace in `state` whose remote port is `port`,
/// i.e. the client ends of connections to a server on `port` (IPv4 and IPv6).
/// Throws std::runtime_error if /proc/net/tcp cannot be read.
size_t count_to_port(uint16_t port, tcp_state state);

/// Established TCP connections from this host to a server listening on `port`,
/// each (local, remote) pair counted once (the kernel can list a socket twice
/// while connections open),
/// counted from the client side in /proc/net/tcp and /proc/net/tcp6
/// (state 01, remote port == port), independent of any pool bookkeeping.
size_t count_established_to_port(uint16_t port);

/// Re-reads the count until pred(count) holds or timeout elapses; returns the last count.
/// (Polling an external condition every 20 ms — sockets close asynchronously.)
size_t wait_for_connection_count(uint16_t port, const std::function<bool(size_t)>& pred,
                                 std::chrono::milliseconds timeout);

} // namespace tenantrt::devtools
