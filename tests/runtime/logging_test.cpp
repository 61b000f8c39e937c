// The runtime's logger helpers: the level names it takes, and lists in log lines.
#include "runtime/logging.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

TEST(Logging, JoinedSeparatesItemsWithCommas) {
  EXPECT_EQ(joined({"127.0.0.1:7070", "unix:/run/tenantrt/control.sock"}),
            "127.0.0.1:7070, unix:/run/tenantrt/control.sock");
  EXPECT_EQ(joined({"registry.idle_timeout_ms"}), "registry.idle_timeout_ms");
}

TEST(Logging, JoinedSaysNoneForAnEmptyList) { EXPECT_EQ(joined({}), "none"); }

TEST(Logging, SetLogLevelRefusesAnUnknownName) {
  auto before = log().level();
  EXPECT_FALSE(set_log_level("loud"));
  EXPECT_EQ(log().level(), before);
  EXPECT_TRUE(set_log_level("off"));
  EXPECT_EQ(log().level(), spdlog::level::off);
  log().set_level(before);
}

} // namespace
} // namespace tenantrt
