#include "tools/support/tcp_census.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace tenantrt::devtools {
namespace {

// Port of an "ADDRESS:PORT" field (hex, e.g. "0100007F:6989"); -1 if malformed.
long port_of(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return -1;
  try {
    return std::stol(address.substr(colon + 1), nullptr, 16);
  } catch (const std::exception&) {
    return -1;
  }
}

// Adds the (local, remote) pairs of matching entries of one table to
// sockets; a missing tcp6 table (IPv6 off) adds nothing. A set, because the
// kernel's table walk can list a socket twice while connections open.
void collect(const char* path, uint16_t port, tcp_state state, bool required,
             std::set<std::string>& sockets) {
  std::ifstream in(path);
  if (!in) {
    if (required)
      throw std::runtime_error(std::string("cannot read ") + path);
    return;
  }
  std::string line;
  std::getline(in, line); // column headers
  while (std::getline(in, line)) {
    // sl local_address rem_address st ...
    std::istringstream fields(line);
    std::string slot, local, remote, st;
    if (!(fields >> slot >> local >> remote >> st))
      continue;
    long state_value = -1;
    try {
      state_value = std::stol(st, nullptr, 16);
    } catch (const std::exception&) {
      continue;
    }
    if (state_value == static_cast<int>(state) && port_of(remote) == port)
      sockets.insert(local + ">" + remote);
  }
}

} // namespace

size_t count_to_port(uint16_t port, tcp_state state) {
  std::set<std::string> sockets;
  collect("/proc/net/tcp", port, state, true, sockets);
  collect("/proc/net/tcp6", port, state, false, sockets);
  return sockets.size();
}

size_t count_established_to_port(uint16_t port) {
  return count_to_port(port, tcp_state::established);
}

size_t wait_for_connection_count(uint16_t port, const std::function<bool(size_t)>& pred,
                                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto count = count_established_to_port(port);
    if (pred(count) || std::chrono::steady_clock::now() >= deadline)
      return count;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace tenantrt::devtools
