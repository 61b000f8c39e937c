// The one listen-address grammar (config/listen_address.hpp): what it reads,
// what it refuses, and the allow_exec default derived from the addresses
// (exec_allowed). The config loader's own rules on top of it (port 1-65535,
// a token for non-loopback control addresses) are in config_checks_test.cpp.
#include "config/listen_address.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

TEST(ListenAddressTest, ParsesListenAddresses) {
  auto v4 = parse_listen_address("127.0.0.1:7070");
  ASSERT_TRUE(v4.address) << v4.error;
  EXPECT_EQ(v4.address->type, listen_address::kind::tcp);
  EXPECT_EQ(v4.address->host, "127.0.0.1");
  EXPECT_EQ(v4.address->port, 7070);
  EXPECT_TRUE(v4.address->loopback);
  EXPECT_EQ(to_string(*v4.address), "127.0.0.1:7070");

  auto local = parse_listen_address("localhost:0");
  ASSERT_TRUE(local.address);
  EXPECT_EQ(local.address->host, "127.0.0.1");
  EXPECT_EQ(local.address->port, 0);

  auto v6 = parse_listen_address("[::1]:7070");
  ASSERT_TRUE(v6.address) << v6.error;
  EXPECT_TRUE(v6.address->loopback);
  EXPECT_EQ(to_string(*v6.address), "[::1]:7070");

  EXPECT_TRUE(parse_listen_address("127.8.9.10:1").address->loopback);
  EXPECT_FALSE(parse_listen_address("0.0.0.0:7070").address->loopback);
  EXPECT_FALSE(parse_listen_address("10.1.2.3:7070").address->loopback);
  EXPECT_FALSE(parse_listen_address("[::]:7070").address->loopback);

  auto unix_socket = parse_listen_address("unix:/run/tenantrt/control.sock");
  ASSERT_TRUE(unix_socket.address);
  EXPECT_EQ(unix_socket.address->type, listen_address::kind::unix_socket);
  EXPECT_EQ(unix_socket.address->path, "/run/tenantrt/control.sock");
  EXPECT_TRUE(unix_socket.address->loopback);
  EXPECT_EQ(to_string(*unix_socket.address), "unix:/run/tenantrt/control.sock");
}

TEST(ListenAddressTest, RefusesBadListenAddresses) {
  for (auto bad : {"", "7070", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:7o",
                   "example.com:7070", "::1:7070", "[::1]7070", "[::1]:", "unix:",
                   "[127.0.0.1]:1", "256.0.0.1:1"}) {
    auto result = parse_listen_address(bad);
    EXPECT_FALSE(result.address.has_value()) << bad;
    EXPECT_FALSE(result.error.empty()) << bad;
  }
  EXPECT_FALSE(parse_listen_address("unix:/" + std::string(200, 'p')).address.has_value());
}

TEST(ListenAddressTest, RefusesRelativeUnixPathsAndOctalLookingOctets) {
  EXPECT_FALSE(parse_listen_address("unix:run/t.sock").address.has_value());
  EXPECT_FALSE(parse_listen_address("127.0.0.01:7070").address.has_value());
  EXPECT_TRUE(parse_listen_address("unix:/" + std::string(106, 's')).address.has_value());
  EXPECT_FALSE(parse_listen_address("unix:/" + std::string(107, 's')).address.has_value());
}

TEST(ListenAddressTest, AllowExecDefaultsFromTheListenAddresses) {
  control_config control;
  control.token = "0123456789abcdef";
  control.listen = {"127.0.0.1:7070", "unix:/run/t.sock", "localhost:1", "[::1]:2", "127.9.9.9:3"};
  EXPECT_TRUE(exec_allowed(control));
  control.listen = {"unix:/run/t.sock"};
  EXPECT_TRUE(exec_allowed(control));
  // One address reachable from other hosts turns the default off.
  for (auto address : {"0.0.0.0:7070", "192.168.1.10:7070", "[::]:7070"}) {
    control.listen = {"unix:/run/t.sock", address};
    EXPECT_FALSE(exec_allowed(control)) << address;
  }
  // An address that does not parse counts as non-loopback (the safe side).
  control.listen = {"127.0.0.1:7070", "db.example.net:7070"};
  EXPECT_FALSE(exec_allowed(control));
}

} // namespace
} // namespace tenantrt
