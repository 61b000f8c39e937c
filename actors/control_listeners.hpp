#pragma once
// The control socket's listeners: binding control.listen, handing the sockets to the broker.
//
// Talked to by: spawn_control_server (actors/control_server.cpp), which binds
// before the broker exists so that errors reach its caller (a broker's init
// runs later, on the middleman's thread), and the broker, which adopts the
// bound sockets as doormen and removes the unix socket files when it drains
// or ends. Socket work only, as CAF keeps io/network/acceptor apart from
// io/broker: no request, no client.
//
//   bind_listeners(cfg) --listener_set--> broker: adopt_listeners --> doormen
//                                         broker drains/ends --> remove_socket_files

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/io/accept_handle.hpp>
#include <caf/io/fwd.hpp>

#include "config/listen_address.hpp"
#include "config/runtime_config.hpp"

namespace tenantrt {

/// A listening socket and, for a unix socket, the identity of its file.
struct bound_listener {
  listen_address address;
  int fd = -1;
  /// unix: the file created by bind(), removed on exit only if it is still ours.
  dev_t device = 0;
  ino_t inode = 0;
  bool has_file = false;
};

/// Owns the bound sockets until the broker adopts them, and the unix socket
/// files until the broker ends (or until an error aborts the spawn).
class listener_set {
public:
  listener_set() = default;
  listener_set(const listener_set&) = delete;
  listener_set& operator=(const listener_set&) = delete;

  /// Closes the sockets not adopted yet and removes the socket files.
  ~listener_set();

  /// Removes the unix socket files that are still the ones bind() created
  /// (another process may have replaced one since). Idempotent.
  void remove_socket_files() noexcept;

  std::vector<bound_listener> listeners;
};

/// Parses and binds every address of cfg.listen, in order: TCP on the given
/// loopback/host address only; unix: socket file created with mode 0600, a
/// stale file (no live server behind it) replaced. The error names the entry
/// ("control.listen[1] \"unix:/x\": reason") as the first context element
/// (a string); its code is sec::invalid_argument for an entry that is wrong
/// (or not loopback without control.token), sec::cannot_open_port when the
/// system refuses to bind it. What was bound before the error is undone.
caf::expected<std::shared_ptr<listener_set>> bind_listeners(const control_config& cfg);

/// A listener the broker adopted.
struct adopted_listener {
  caf::io::accept_handle handle;
  /// The address, its port resolved ("127.0.0.1:40123", "unix:/run/x.sock").
  std::string name;
  /// tcp on 127.0.0.0/8 or ::1, or a unix socket.
  bool loopback = false;
};

/// Makes each bound socket a doorman of broker, in order. CAF owns the
/// descriptors from then on (and closes them); the socket files stay in
/// listeners' charge.
std::vector<adopted_listener> adopt_listeners(caf::io::abstract_broker& broker,
                                              listener_set& listeners);

} // namespace tenantrt
