// The control socket's listeners: binding control.listen, handing the sockets to the broker.
#include "actors/control_listeners.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <caf/error.hpp>
#include <caf/io/abstract_broker.hpp>
#include <caf/sec.hpp>

namespace tenantrt {

namespace {

std::string errno_text(int code) {
  switch (code) {
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "address not available on this host";
    case EACCES:
    case EPERM: return "permission denied";
    case ENOENT: return "the directory does not exist";
    case ENOTDIR: return "a component of the path is not a directory";
    case EROFS: return "read-only file system";
    default: return std::strerror(code);
  }
}

/// The bound listener or why binding failed.
struct bind_result {
  std::optional<bound_listener> listener;
  std::string error;
};

bind_result bind_tcp(listen_address address) {
  bool v6 = address.host.find(':') != std::string::npos;
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(address.port);
    ::inet_pton(AF_INET6, address.host.c_str(), &sa->sin6_addr);
    length = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.host.c_str(), &sa->sin_addr);
    length = sizeof(sockaddr_in);
  }
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return {std::nullopt, "socket(): " + errno_text(errno)};
  int on = 1;
  // A restart must not fail on the previous process's TIME_WAIT sockets.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (v6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0
      || ::listen(fd, SOMAXCONN) != 0) {
    auto code = errno;
    ::close(fd);
    return {std::nullopt, errno_text(code)};
  }
  // Report the port the system picked for ":0".
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0)
    address.port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  bound_listener listener;
  listener.address = std::move(address);
  listener.fd = fd;
  return {std::move(listener), {}};
}

/// Whether a unix socket file has a live server behind it.
bool socket_file_in_use(const sockaddr_un& sa) {
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0)
    return false;
  int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
  auto code = errno;
  ::close(probe);
  // EAGAIN: a live listener whose backlog is full.
  return rc == 0 || code == EAGAIN || code == EINPROGRESS;
}

bind_result bind_unix(listen_address address) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, address.path.c_str(), address.path.size() + 1);
  struct stat existing {};
  if (::lstat(address.path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode))
      return {std::nullopt, "the path exists and is not a socket (refusing to replace it)"};
    if (socket_file_in_use(sa))
      return {std::nullopt, "address already in use (another process listens on this socket)"};
    // A stale file left by a process that did not exit cleanly.
    if (::unlink(address.path.c_str()) != 0 && errno != ENOENT)
      return {std::nullopt, "cannot remove the stale socket file: " + errno_text(errno)};
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return {std::nullopt, "socket(): " + errno_text(errno)};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    auto code = errno;
    ::close(fd);
    return {std::nullopt, errno_text(code)};
  }
  // Restrict the file before listen(): until then every connect() is
  // refused, so no one can slip in through the umask's wider mode.
  struct stat created {};
  if (::chmod(address.path.c_str(), S_IRUSR | S_IWUSR) != 0
      || ::lstat(address.path.c_str(), &created) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    auto code = errno;
    ::close(fd);
    ::unlink(address.path.c_str());
    return {std::nullopt, errno_text(code)};
  }
  bound_listener listener;
  listener.address = std::move(address);
  listener.fd = fd;
  listener.device = created.st_dev;
  listener.inode = created.st_ino;
  listener.has_file = true;
  return {std::move(listener), {}};
}

} // namespace

listener_set::~listener_set() {
  for (auto& l : listeners)
    if (l.fd >= 0)
      ::close(l.fd);
  remove_socket_files();
}

void listener_set::remove_socket_files() noexcept {
  for (auto& l : listeners) {
    if (!l.has_file)
      continue;
    l.has_file = false;
    struct stat st {};
    if (::lstat(l.address.path.c_str(), &st) == 0 && st.st_dev == l.device
        && st.st_ino == l.inode)
      ::unlink(l.address.path.c_str());
  }
}

caf::expected<std::shared_ptr<listener_set>> bind_listeners(const control_config& cfg) {
  if (cfg.listen.empty())
    return caf::make_error(caf::sec::invalid_argument, "control.listen names no address");
  auto listeners = std::make_shared<listener_set>();
  for (size_t index = 0; index < cfg.listen.size(); ++index) {
    auto where = "control.listen[" + std::to_string(index) + "] \"" + cfg.listen[index] + "\": ";
    auto parsed = parse_listen_address(cfg.listen[index]);
    if (!parsed.address)
      return caf::make_error(caf::sec::invalid_argument, where + parsed.error);
    if (!parsed.address->loopback && cfg.token.empty())
      return caf::make_error(caf::sec::invalid_argument,
                             where + "a non-loopback address needs control.token to be set");
    auto bound = parsed.address->type == listen_address::kind::tcp
                   ? bind_tcp(std::move(*parsed.address))
                   : bind_unix(std::move(*parsed.address));
    if (!bound.listener)
      return caf::make_error(caf::sec::cannot_open_port, where + bound.error);
    listeners->listeners.push_back(std::move(*bound.listener));
  }
  return listeners;
}

std::vector<adopted_listener> adopt_listeners(caf::io::abstract_broker& broker,
                                              listener_set& listeners) {
  std::vector<adopted_listener> adopted;
  for (auto& l : listeners.listeners) {
    // CAF adopts the descriptor: from here on it closes it.
    auto hdl = broker.add_doorman(l.fd);
    l.fd = -1;
    adopted.push_back({hdl, to_string(l.address), l.address.loopback});
  }
  return adopted;
}

} // namespace tenantrt
