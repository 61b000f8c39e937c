// run_on_pool() and run_on_client() against the dev-mongo server: what a
// command returns (replies, server errors, bad commands, timeouts, auth
// failures without the password) and what it does to the pool's connections
// (kept after a server error, replaced after a timeout, a read retried once
// after a restart, a write never).

#include "runtime/command_runner.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "runtime/cluster_pool.hpp"
#include "runtime/errc.hpp"
#include "tests/support/pool_fixture.hpp"
#include "tools/support/tcp_census.hpp"

namespace tenantrt {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using devtools::count_established_to_port;

constexpr auto ping_json = R"({"ping": 1})";

class CommandRunnerTest : public testing::pool_fixture {};

TEST_F(CommandRunnerTest, QuickRestartIsInvisibleToReadsButNotToWrites) {
  auto settings = small_settings();
  settings.min_pool_size = 2;
  auto& pool = make_pool(settings);
  pool.maintain();
  ASSERT_EQ(sockets_become(2), 2u);
  server_->stop();
  server_->start(); // both idle sockets are dead, used < 1 s ago
  // A read on a dead pooled socket is retried once on a fresh connection.
  for (int i = 0; i < 3; ++i) {
    auto outcome = run_on_pool(pool, "tenant_a", R"({"find": "orders", "filter": {}})");
    EXPECT_EQ(outcome.code, errc::none) << "read " << i << ": " << outcome.message;
  }
  // Two live sockets again before the write. If this thread was slow (the
  // sockets sat unused for over 1 s while dev-mongo restarted), the driver
  // reconnected the first read's client itself, nothing failed, and the
  // other pooled client still holds a dead socket the books count as open: a
  // plain maintain() sees its minimum met. Past max_idle_time_ms, maintain()
  // pings the warm minimum and replaces what is dead, whichever way it went.
  clock_.advance(std::chrono::milliseconds{settings.max_idle_time_ms} + 1s);
  pool.maintain();
  ASSERT_EQ(sockets_become(2), 2u);

  server_->stop();
  server_->start();
  // A write may have reached the old server: never retried, the caller
  // decides. (If this thread was slow and the socket sat unused for over
  // 1 s, the driver's own closed-socket check reconnects before sending and
  // the write simply succeeds.)
  auto write = run_on_pool(pool, "tenant_a", R"({"insert": "orders", "documents": [{"_id": 1}]})");
  ASSERT_TRUE(write.code == errc::server_unreachable || write.code == errc::none)
    << to_string(write.code) << ": " << write.message;
  if (write.code == errc::server_unreachable) {
    auto found = run_on_pool(pool, "tenant_a", R"({"find": "orders", "filter": {}})");
    ASSERT_EQ(found.code, errc::none) << found.message;
    EXPECT_EQ(found.reply_json.find("\"_id\""), std::string::npos)
      << "the failed write must not have been retried: " << found.reply_json;
    auto again
      = run_on_pool(pool, "tenant_a", R"({"insert": "orders", "documents": [{"_id": 1}]})");
    EXPECT_EQ(again.code, errc::none) << "the failed write cleared the pool: " << again.message;
  }
}

TEST_F(CommandRunnerTest, ServerErrorBecomesCommandFailedWithServerMessage) {
  auto& pool = make_pool(small_settings());
  auto outcome = run_on_pool(pool, "tenant_a", R"({"noSuchCommand": 1})");
  EXPECT_EQ(outcome.code, errc::command_failed);
  EXPECT_NE(outcome.message.find("noSuchCommand"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("code 59"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.reply_json.find("\"ok\""), std::string::npos) << outcome.reply_json;
  EXPECT_NE(outcome.reply_json.find("errmsg"), std::string::npos) << outcome.reply_json;
  // The connection is fine after a server error: kept, not discarded.
  EXPECT_EQ(pool.counters().closed_total, 0u);
  EXPECT_EQ(pool.counters().idle, 1u);
}

TEST_F(CommandRunnerTest, MalformedCommandIsBadCommandAndTakesNoConnection) {
  auto& pool = make_pool(small_settings());
  for (const char* text : {"{\"ping\": ", "not json", "[1, 2]", "{}", "", "{\"$numberLong\": 5}",
                           R"({"insert": "x", "documents": [{"a": 1}], "$db": "admin"})"}) {
    auto outcome = run_on_pool(pool, "admin", text);
    EXPECT_EQ(outcome.code, errc::bad_command) << "for: " << text << " -> " << outcome.message;
  }
  EXPECT_EQ(pool.counters().created_total, 0u);
  EXPECT_EQ(count_established_to_port(port_), 0u);
}

TEST_F(CommandRunnerTest, StageNamingAnotherDatabaseIsBadCommandAndTakesNoConnection) {
  auto& pool = make_pool(small_settings());
  auto outcome = run_on_pool(
    pool, "tenant_a",
    R"({"aggregate": "orders", "pipeline": [{"$out": {"db": "tenant_b", "coll": "x"}}], "cursor": {}})");
  EXPECT_EQ(outcome.code, errc::bad_command) << outcome.message;
  EXPECT_NE(outcome.message.find("'$out' names database 'tenant_b'"), std::string::npos)
    << outcome.message;
  EXPECT_EQ(pool.counters().created_total, 0u);
  EXPECT_EQ(count_established_to_port(port_), 0u);
}

TEST_F(CommandRunnerTest, InsertThenFindReturnsTheDocument) {
  auto& pool = make_pool(small_settings());
  auto inserted = run_on_pool(
    pool, "tenant_a",
    R"({"insert": "orders", "documents": [{"_id": 1, "item": "book", "qty": {"$numberLong": "5"}}]})");
  ASSERT_EQ(inserted.code, errc::none) << inserted.message;
  EXPECT_NE(inserted.reply_json.find("\"n\" : 1"), std::string::npos) << inserted.reply_json;

  auto found = run_on_pool(pool, "tenant_a", R"({"find": "orders", "filter": {"item": "book"}})");
  ASSERT_EQ(found.code, errc::none) << found.message;
  EXPECT_NE(found.reply_json.find("\"item\" : \"book\""), std::string::npos) << found.reply_json;
  EXPECT_NE(found.reply_json.find("\"qty\" : 5"), std::string::npos) << found.reply_json;

  auto elsewhere = run_on_pool(pool, "tenant_b", R"({"find": "orders", "filter": {}})");
  ASSERT_EQ(elsewhere.code, errc::none) << elsewhere.message;
  EXPECT_EQ(elsewhere.reply_json.find("book"), std::string::npos) << "databases are separate";
}

TEST_F(CommandRunnerTest, SlowReplyIsTimeoutAndTheConnectionIsReplaced) {
  auto settings = small_settings();
  settings.socket_timeout_ms = 300;
  auto& pool = make_pool(settings);
  auto armed = run_on_pool(pool, "admin",
                           R"({"configureFailPoint": "failCommand", "mode": {"times": 1},
      "data": {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 1500}})");
  ASSERT_EQ(armed.code, errc::none) << armed.message;

  auto started = steady_clock::now();
  auto outcome = run_on_pool(pool, "tenant_a", R"({"find": "orders", "filter": {}})");
  EXPECT_EQ(outcome.code, errc::timeout) << outcome.message;
  EXPECT_LT(steady_clock::now() - started, 1200ms);
  EXPECT_EQ(pool.counters().closed_total, 1u) << "a timed-out connection is discarded";
  EXPECT_EQ(run_on_pool(pool, "tenant_a", R"({"find": "orders", "filter": {}})").code, errc::none);
}

TEST_F(CommandRunnerTest, AuthenticationFailureNeverShowsThePassword) {
  auto settings = small_settings();
  auto uri = server_->uri();
  auto with_credentials = "mongodb://alice:s3cr3t%21Pa55@" + uri.substr(uri.find("://") + 3);
  cluster_pool pool{pool_identity{"secret", {}}, with_credentials, settings};
  // dev-mongo has no users: the driver's SCRAM handshake is refused.
  auto outcome = run_on_pool(pool, "admin", ping_json);
  EXPECT_EQ(outcome.code, errc::command_failed) << outcome.message;
  EXPECT_NE(outcome.message.find("authentication failed"), std::string::npos) << outcome.message;
  EXPECT_EQ(outcome.message.find("s3cr3t"), std::string::npos) << outcome.message;
  EXPECT_EQ(outcome.reply_json.find("s3cr3t"), std::string::npos) << outcome.reply_json;
}

} // namespace
} // namespace tenantrt
