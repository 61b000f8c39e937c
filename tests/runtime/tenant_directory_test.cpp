// tenant_directory: tenant id -> the gate of its live tenant actor. A miss is
// nullptr; withdraw removes an entry only while it still holds that gate.

#include "runtime/tenant_directory.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

std::shared_ptr<tenant_gate> make_gate() { return std::make_shared<tenant_gate>(nullptr); }

TEST(TenantDirectoryTest, FindOnAMissIsNull) {
  tenant_directory directory;
  EXPECT_EQ(directory.find("acme"), nullptr);
  EXPECT_EQ(directory.find(""), nullptr);
  EXPECT_EQ(directory.size(), 0u);
}

TEST(TenantDirectoryTest, FindReturnsThePublishedGate) {
  tenant_directory directory;
  auto acme = make_gate();
  auto globex = make_gate();
  directory.publish("acme", acme);
  directory.publish("globex", globex);
  EXPECT_EQ(directory.size(), 2u);
  EXPECT_EQ(directory.find("acme"), acme);
  EXPECT_EQ(directory.find("globex"), globex);
  EXPECT_EQ(directory.find("initech"), nullptr);
  EXPECT_EQ(directory.find("ACME"), nullptr) << "ids are case-sensitive";
}

TEST(TenantDirectoryTest, PublishReplacesTheEntry) {
  tenant_directory directory;
  auto old_gate = make_gate();
  auto new_gate = make_gate();
  directory.publish("acme", old_gate);
  directory.publish("acme", new_gate);
  EXPECT_EQ(directory.size(), 1u);
  EXPECT_EQ(directory.find("acme"), new_gate);
  EXPECT_EQ(old_gate.use_count(), 1) << "the directory let go of the replaced gate";
}

TEST(TenantDirectoryTest, WithdrawWithAnotherGateLeavesTheEntry) {
  tenant_directory directory;
  auto old_gate = make_gate();
  auto new_gate = make_gate();
  directory.publish("acme", old_gate);
  directory.publish("acme", new_gate);
  // The retired actor's withdraw arrives after its successor was published.
  directory.withdraw("acme", old_gate.get());
  EXPECT_EQ(directory.find("acme"), new_gate);
  EXPECT_EQ(directory.size(), 1u);
  directory.withdraw("acme", nullptr);
  EXPECT_EQ(directory.find("acme"), new_gate);
  EXPECT_EQ(directory.size(), 1u);
}

TEST(TenantDirectoryTest, WithdrawWithTheHeldGateRemovesOnlyThatEntry) {
  tenant_directory directory;
  auto acme = make_gate();
  auto globex = make_gate();
  directory.publish("acme", acme);
  directory.publish("globex", globex);
  directory.withdraw("acme", acme.get());
  EXPECT_EQ(directory.find("acme"), nullptr);
  EXPECT_EQ(directory.find("globex"), globex);
  EXPECT_EQ(directory.size(), 1u);
  EXPECT_EQ(acme.use_count(), 1) << "the directory let go of the withdrawn gate";
  // Withdrawing again, or a tenant never published, changes nothing.
  directory.withdraw("acme", acme.get());
  directory.withdraw("initech", globex.get());
  EXPECT_EQ(directory.size(), 1u);
  EXPECT_EQ(directory.find("globex"), globex);
}

TEST(TenantDirectoryTest, GateFoundStaysUsableAfterWithdraw) {
  tenant_directory directory;
  directory.publish("acme", make_gate());
  auto found = directory.find("acme");
  ASSERT_NE(found, nullptr);
  directory.withdraw("acme", found.get());
  EXPECT_EQ(directory.size(), 0u);
  // The caller's reference keeps the gate alive.
  EXPECT_TRUE(found->try_enter());
  found->leave(result{}, tenant_gate::time_point{});
  EXPECT_EQ(found->inflight(), 0u);
}

TEST(TenantDirectoryTest, PublishAfterWithdrawServesTheNewGate) {
  tenant_directory directory;
  auto first = make_gate();
  directory.publish("acme", first);
  directory.withdraw("acme", first.get());
  auto second = make_gate();
  directory.publish("acme", second);
  EXPECT_EQ(directory.find("acme"), second);
  EXPECT_EQ(directory.size(), 1u);
}

} // namespace
} // namespace tenantrt
