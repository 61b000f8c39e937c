#include "config/listen_address.hpp"

#include <algorithm>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace tenantrt {

namespace {

constexpr std::string_view unix_scheme = "unix:";

listen_address_result refused(std::string why) {
  return {std::nullopt, std::move(why)};
}

/// A dotted-quad IPv4 literal's first octet; nullopt if host is not one.
/// Leading zeros are refused: inet_aton would read them as octal.
std::optional<unsigned> ipv4_first_octet(std::string_view host) {
  std::optional<unsigned> first;
  for (int part = 0; part < 4; ++part) {
    auto dot = host.find('.');
    if ((part < 3) == (dot == std::string_view::npos))
      return std::nullopt;
    auto digits = host.substr(0, dot);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
      return std::nullopt;
    unsigned octet = 0;
    for (char c : digits) {
      if (c < '0' || c > '9')
        return std::nullopt;
      octet = octet * 10 + static_cast<unsigned>(c - '0');
    }
    if (octet > 255)
      return std::nullopt;
    if (!first)
      first = octet;
    host.remove_prefix(dot == std::string_view::npos ? host.size() : dot + 1);
  }
  return first;
}

listen_address_result parse_unix(std::string_view path) {
  if (path.empty())
    return refused("names no socket path after unix:");
  if (path.front() != '/')
    return refused("needs an absolute socket path (unix:/...)");
  if (path.find('\0') != std::string_view::npos)
    return refused("has a NUL byte in its socket path");
  if (path.size() > max_unix_path_bytes)
    return refused("has a socket path of " + std::to_string(path.size()) + " bytes; at most "
                   + std::to_string(max_unix_path_bytes) + " fit in sun_path");
  listen_address out;
  out.type = listen_address::kind::unix_socket;
  out.path = std::string{path};
  out.loopback = true;
  return {std::move(out), {}};
}

listen_address_result parse_tcp(std::string_view text) {
  // An IPv6 host holds colons itself: the port follows its closing bracket.
  bool bracketed = !text.empty() && text.front() == '[';
  auto host_end = bracketed ? text.find(']') : text.rfind(':');
  if (bracketed && host_end == std::string_view::npos)
    return refused("has '[' without a closing ']'");
  if (bracketed)
    ++host_end;
  if (host_end == std::string_view::npos || host_end >= text.size() || text[host_end] != ':')
    return refused("has no port (expected HOST:PORT)");
  auto host = text.substr(0, host_end);
  auto port = text.substr(host_end + 1);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  unsigned long number = 0;
  bool port_ok
    = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), is_digit);
  if (port_ok) {
    number = std::stoul(std::string{port});
    port_ok = number <= 65535;
  }
  if (!port_ok)
    return refused("needs a port from 0 to 65535 after the last ':'");
  if (host.empty())
    return refused("has no host (use 127.0.0.1 for this machine only)");
  listen_address out;
  out.port = static_cast<uint16_t>(number);
  if (host.front() == '[') {
    in6_addr address{};
    out.host = std::string{host.substr(1, host.size() >= 2 ? host.size() - 2 : 0)};
    if (host.size() < 3 || host.back() != ']'
        || ::inet_pton(AF_INET6, out.host.c_str(), &address) != 1)
      return refused("has no valid IPv6 address between [ and ]");
    out.loopback = std::memcmp(&address, &in6addr_loopback, sizeof address) == 0;
    return {std::move(out), {}};
  }
  if (host == "localhost") {
    out.host = "127.0.0.1";
    out.loopback = true;
    return {std::move(out), {}};
  }
  if (auto first = ipv4_first_octet(host)) {
    out.host = std::string{host};
    out.loopback = *first == 127;
    return {std::move(out), {}};
  }
  if (host.find('/') != std::string_view::npos)
    return refused("must be HOST:PORT without a scheme or path");
  if (host.find(':') != std::string_view::npos)
    return refused("needs its IPv6 host in brackets, e.g. [::1]:7070");
  return refused("needs an IPv4 address, localhost or [IPv6] as host (names are not resolved)");
}

} // namespace

listen_address_result parse_listen_address(std::string_view text) {
  if (text.substr(0, unix_scheme.size()) == unix_scheme)
    return parse_unix(text.substr(unix_scheme.size()));
  return parse_tcp(text);
}

std::string to_string(const listen_address& address) {
  if (address.type == listen_address::kind::unix_socket)
    return std::string{unix_scheme} + address.path;
  auto host = address.host.find(':') == std::string::npos ? address.host
                                                          : "[" + address.host + "]";
  return host + ":" + std::to_string(address.port);
}

bool exec_allowed(const control_config& control) {
  if (control.allow_exec)
    return *control.allow_exec;
  return std::all_of(control.listen.begin(), control.listen.end(), [](const std::string& text) {
    auto parsed = parse_listen_address(text);
    return parsed.address && parsed.address->loopback;
  });
}

} // namespace tenantrt
