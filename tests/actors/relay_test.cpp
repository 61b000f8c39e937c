// The facade's relay on the deterministic test coordinator, in front of the
// real registry and a fake backend: answers reach each caller's callback once,
// drain waits for answers still due, and an unanswered reply still reports.

#include "actors/relay.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/registry.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_backend.hpp"

namespace tenantrt {
namespace {

/// What one callback received.
struct heard {
  int calls = 0;
  std::string reply;
  errc code = errc::none;
};

relay_reply listen(const std::shared_ptr<heard>& into) {
  return relay_reply{[into](std::string* reply, const caf::error* failure) {
    ++into->calls;
    if (reply != nullptr)
      into->reply = *reply;
    else
      into->code = errc_of(*failure);
  }};
}

struct RelayTest : testing::actor_fixture {
  std::shared_ptr<testing::fake_backend> backend = std::make_shared<testing::fake_backend>();
  registry_actor registry;
  relay_actor relay;

  RelayTest() {
    runtime_config config;
    registry = sys.spawn(registry_impl, config, std::static_pointer_cast<command_backend>(backend),
                         std::shared_ptr<tenant_directory>{});
    relay = sys.spawn(relay_impl, registry);
    run();
  }

  ~RelayTest() override {
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    run();
  }
};

TEST_F(RelayTest, CarriesARunToTheRegistryAndAnswersTheCallbackOnce) {
  auto ok = std::make_shared<heard>();
  caf::anon_send(relay, run_atom::value, std::string{"org1"}, std::string{R"({"ping":1})"},
                 listen(ok));
  run();
  EXPECT_EQ(ok->calls, 0); // at the server
  backend->finish_all("org1");
  run();
  EXPECT_EQ(ok->calls, 1);
  EXPECT_EQ(ok->reply, R"({"ok":1.0})");
  auto refused = std::make_shared<heard>();
  caf::anon_send(relay, run_atom::value, std::string{"../x"}, std::string{R"({"ping":1})"},
                 listen(refused));
  run();
  EXPECT_EQ(refused->calls, 1);
  EXPECT_EQ(refused->code, errc::invalid_tenant_id);
  auto main = std::make_shared<heard>();
  caf::anon_send(relay, main_atom::value, std::string{R"({"ping":1})"}, listen(main));
  run();
  EXPECT_EQ(main->calls, 1); // the fake completes main-database commands at once
  EXPECT_EQ(main->reply, R"({"ok":1.0})");
}

TEST_F(RelayTest, DrainWaitsForAnswersStillDueThenRefusesAndQuits) {
  auto due = std::make_shared<heard>();
  caf::anon_send(relay, run_atom::value, std::string{"org1"}, std::string{R"({"ping":1})"},
                 listen(due));
  run();
  caf::anon_send(relay, drain_atom::value);
  run();
  auto late = std::make_shared<heard>();
  caf::anon_send(relay, run_atom::value, std::string{"org2"}, std::string{R"({"ping":1})"},
                 listen(late));
  run();
  EXPECT_EQ(late->calls, 1);
  EXPECT_EQ(late->code, errc::shutting_down);
  EXPECT_EQ(due->calls, 0);
  backend->finish_all("org1");
  run();
  EXPECT_EQ(due->calls, 1); // delivered before the relay quit
  EXPECT_EQ(due->reply, R"({"ok":1.0})");
  auto after = std::make_shared<heard>();
  caf::anon_send(relay, run_atom::value, std::string{"org3"}, std::string{R"({"ping":1})"},
                 listen(after));
  run(); // the relay is gone: the message is dropped with its reply
  EXPECT_EQ(after->calls, 1);
  EXPECT_EQ(after->code, errc::shutting_down);
}

TEST(RelayReplyTest, ADroppedReplyReportsShuttingDownAndACopyAnswersOnlyOnce) {
  auto dropped = std::make_shared<heard>();
  { auto reply = listen(dropped); }
  EXPECT_EQ(dropped->calls, 1);
  EXPECT_EQ(dropped->code, errc::shutting_down);
  auto answered = std::make_shared<heard>();
  {
    auto reply = listen(answered);
    auto copy = reply;
    std::string text = R"({"ok":1})";
    copy.deliver(text);
    reply.fail(make_error(errc::timeout, "late"));
  }
  EXPECT_EQ(answered->calls, 1);
  EXPECT_EQ(answered->reply, R"({"ok":1})");
  EXPECT_EQ(answered->code, errc::none);
}

} // namespace
} // namespace tenantrt
