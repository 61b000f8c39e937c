// tenant_gate: in-flight count, counters (the buckets of latency_summary),
// close / try_close_idle and the drained notification. Time is passed in by
// hand (time_points built from microseconds); the concurrency test spins on
// atomics, never sleeps.

#include "runtime/tenant_gate.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actors/protocol.hpp"

namespace tenantrt {
namespace {

using namespace std::chrono_literals;
using time_point = tenant_gate::time_point;

/// A time `us` microseconds after the clock's epoch.
time_point at(int64_t us) { return time_point{std::chrono::microseconds{us}}; }

result outcome_of(errc code, int64_t latency_us) {
  result outcome;
  outcome.code = code;
  outcome.latency = std::chrono::microseconds{latency_us};
  return outcome;
}

result ok(int64_t latency_us = 10) { return outcome_of(errc::none, latency_us); }

/// A channel that only keeps what it was given (the gate never calls it).
class fake_channel : public tenant_channel {
public:
  void submit(std::string command_json, completion done) override {
    commands.push_back(std::move(command_json));
    completions.push_back(std::move(done));
  }
  std::vector<std::string> commands;
  std::vector<completion> completions;
};

/// A gate whose drained notifications are counted, with the state the gate
/// was in when each one ran.
class TenantGateTest : public ::testing::Test {
protected:
  TenantGateTest() : gate(std::make_shared<fake_channel>()) {
    gate.set_on_drained([this] {
      ++drained;
      if (!gate.closed() || gate.inflight() != 0)
        ++drained_in_wrong_state;
    });
  }

  tenant_gate gate;
  std::atomic<int> drained{0};
  std::atomic<int> drained_in_wrong_state{0};
};

// --- channel, enter / leave, counters --------------------------------------

TEST(TenantGateChannelTest, KeepsTheChannelItWasGiven) {
  auto channel = std::make_shared<fake_channel>();
  tenant_gate gate{channel};
  EXPECT_EQ(gate.channel().get(), channel.get());
  tenant_gate without{nullptr};
  EXPECT_EQ(without.channel(), nullptr);
  EXPECT_TRUE(without.try_enter()) << "a gate never touches its channel";
  without.leave(ok(), at(1));
  EXPECT_EQ(without.inflight(), 0u);
}

TEST_F(TenantGateTest, NewGateIsOpenEmptyAndUnused) {
  EXPECT_FALSE(gate.closed());
  EXPECT_EQ(gate.inflight(), 0u);
  EXPECT_EQ(gate.last_used(), time_point{});
  auto counters = gate.counters();
  EXPECT_EQ(counters.inflight, 0u);
  EXPECT_EQ(counters.ops, 0u);
  EXPECT_EQ(counters.errors, 0u);
  EXPECT_EQ(counters.latency_sum_us, 0u);
  EXPECT_EQ(counters.latency_max_us, 0u);
  for (auto bucket : counters.latency_buckets)
    EXPECT_EQ(bucket, 0u);
}

TEST_F(TenantGateTest, EnterAndLeaveCountOperationsInFlight) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  EXPECT_EQ(gate.inflight(), 3u);
  EXPECT_EQ(gate.counters().inflight, 3u);
  EXPECT_EQ(gate.counters().ops, 0u) << "ops counts operations that left";
  gate.leave(ok(), at(1));
  EXPECT_EQ(gate.inflight(), 2u);
  gate.leave(ok(), at(2));
  gate.leave(ok(), at(3));
  EXPECT_EQ(gate.inflight(), 0u);
  EXPECT_EQ(gate.counters().inflight, 0u);
  EXPECT_EQ(gate.counters().ops, 3u);
  EXPECT_FALSE(gate.closed());
  EXPECT_EQ(drained.load(), 0) << "leaving an open gate never reports it drained";
}

TEST_F(TenantGateTest, LeaveRecordsOpsErrorsAndLatency) {
  ASSERT_TRUE(gate.try_enter());
  gate.leave(outcome_of(errc::none, 250), at(10));
  ASSERT_TRUE(gate.try_enter());
  gate.leave(outcome_of(errc::timeout, 1000), at(20));
  ASSERT_TRUE(gate.try_enter());
  gate.leave(outcome_of(errc::command_failed, 40), at(30));
  ASSERT_TRUE(gate.try_enter());
  gate.leave(outcome_of(errc::none, 7), at(40));

  auto counters = gate.counters();
  EXPECT_EQ(counters.ops, 4u);
  EXPECT_EQ(counters.errors, 2u) << "every code but errc::none is an error";
  EXPECT_EQ(counters.latency_sum_us, 250u + 1000u + 40u + 7u);
  EXPECT_EQ(counters.latency_max_us, 1000u) << "the max is not the last value";
}

TEST_F(TenantGateTest, LatencyBucketsFollowLatencySummary) {
  // Bucket edges (2^i - 1 and 2^i), zero, and values past the last edge.
  const std::vector<uint64_t> latencies = {
    0,   1,   2,    3,    4,    7,    8,       127,          128,          250, 255,
    256, 999, 1000, 1024, 4095, 4096, 1 << 20, (1 << 22) - 1, uint64_t{1} << 22,
    (uint64_t{1} << 23) - 1, uint64_t{1} << 23, uint64_t{1} << 30, 5'000'000'000};
  latency_summary expected;
  for (auto latency : latencies) {
    expected.record(latency);
    ASSERT_TRUE(gate.try_enter());
    gate.leave(outcome_of(errc::none, static_cast<int64_t>(latency)), at(1));
  }
  static_assert(gate_counters::bucket_count == latency_summary::bucket_count);
  auto counters = gate.counters();
  for (size_t i = 0; i < gate_counters::bucket_count; ++i)
    EXPECT_EQ(counters.latency_buckets[i], expected.buckets[i]) << "bucket " << i;
  EXPECT_EQ(counters.ops, expected.count);
  EXPECT_EQ(counters.latency_sum_us, expected.sum_us);
  EXPECT_EQ(counters.latency_max_us, expected.max_us);
}

TEST_F(TenantGateTest, LatencyLandsInTheFirstBucketWhosePowerOfTwoExceedsIt) {
  // Spelled out, so a shared off-by-one in both implementations shows too.
  auto bucket_of = [](uint64_t latency_us) {
    tenant_gate one{nullptr};
    EXPECT_TRUE(one.try_enter());
    one.leave(outcome_of(errc::none, static_cast<int64_t>(latency_us)), at(1));
    auto buckets = one.counters().latency_buckets;
    auto hit = std::find(buckets.begin(), buckets.end(), 1u);
    EXPECT_EQ(std::count(buckets.begin(), buckets.end(), 0u),
              static_cast<std::ptrdiff_t>(buckets.size()) - 1);
    return static_cast<size_t>(hit - buckets.begin());
  };
  EXPECT_EQ(bucket_of(0), 0u);   // 0 < 2^0
  EXPECT_EQ(bucket_of(1), 1u);   // 1 < 2^1
  EXPECT_EQ(bucket_of(127), 7u); // 127 < 2^7
  EXPECT_EQ(bucket_of(128), 8u); // 128 < 2^8
  EXPECT_EQ(bucket_of(250), 8u); // 250 < 2^8 = 256
  EXPECT_EQ(bucket_of(256), 9u);
  EXPECT_EQ(bucket_of((uint64_t{1} << 22) - 1), 22u);
  EXPECT_EQ(bucket_of(uint64_t{1} << 22), 23u); // the last bucket: the rest
  EXPECT_EQ(bucket_of(uint64_t{1} << 40), 23u);

  latency_summary summary;
  summary.record(250);
  EXPECT_EQ(summary.buckets[8], 1u) << "latency_summary::record agrees on 250 us";
}

TEST_F(TenantGateTest, LastUsedIsTheLatestNowPassedAndNeverGoesBack) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  EXPECT_EQ(gate.last_used(), time_point{}) << "entering is not using";
  gate.leave(ok(), at(300));
  EXPECT_EQ(gate.last_used(), at(300));
  gate.leave(ok(), at(200)); // an operation that finished earlier, left later
  EXPECT_EQ(gate.last_used(), at(300));
  gate.leave(ok(), at(301));
  EXPECT_EQ(gate.last_used(), at(301));
}

TEST_F(TenantGateTest, LastUsedKeepsNanosecondPrecision) {
  ASSERT_TRUE(gate.try_enter());
  auto now = time_point{std::chrono::nanoseconds{1'234'567'891}};
  gate.leave(ok(), now);
  EXPECT_EQ(gate.last_used(), now);
}

// --- close ----------------------------------------------------------------

TEST_F(TenantGateTest, ClosedGateRefusesEntry) {
  EXPECT_EQ(gate.close(), 0u);
  EXPECT_TRUE(gate.closed());
  EXPECT_FALSE(gate.try_enter());
  EXPECT_FALSE(gate.try_enter());
  EXPECT_EQ(gate.inflight(), 0u) << "a refused entry counts nothing";
  EXPECT_EQ(gate.counters().ops, 0u);
}

TEST_F(TenantGateTest, CloseReturnsInFlightAndIsIdempotent) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  EXPECT_EQ(gate.close(), 2u);
  EXPECT_TRUE(gate.closed());
  EXPECT_EQ(gate.inflight(), 2u) << "closing keeps the operations already in";
  EXPECT_EQ(gate.close(), 2u) << "a second close changes nothing";
  EXPECT_TRUE(gate.closed());
  EXPECT_EQ(gate.inflight(), 2u);
  EXPECT_FALSE(gate.try_enter());
  EXPECT_EQ(drained.load(), 0);
}

TEST_F(TenantGateTest, OperationsAlreadyInLeaveAfterClose) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  ASSERT_EQ(gate.close(), 2u);
  gate.leave(outcome_of(errc::timeout, 50), at(100));
  EXPECT_EQ(gate.inflight(), 1u);
  gate.leave(ok(70), at(110));
  EXPECT_EQ(gate.inflight(), 0u);
  EXPECT_TRUE(gate.closed()) << "draining does not reopen";
  EXPECT_FALSE(gate.try_enter());
  auto counters = gate.counters();
  EXPECT_EQ(counters.ops, 2u);
  EXPECT_EQ(counters.errors, 1u);
  EXPECT_EQ(counters.latency_sum_us, 120u);
  EXPECT_EQ(gate.last_used(), at(110));
}

// --- on_drained -------------------------------------------------------------

TEST_F(TenantGateTest, DrainedRunsOnceWhenTheLastOperationLeavesAClosedGate) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  ASSERT_TRUE(gate.try_enter());
  ASSERT_EQ(gate.close(), 3u);
  gate.leave(ok(), at(1));
  EXPECT_EQ(drained.load(), 0);
  gate.leave(ok(), at(2));
  EXPECT_EQ(drained.load(), 0) << "one operation is still in";
  gate.leave(ok(), at(3));
  EXPECT_EQ(drained.load(), 1);
  EXPECT_EQ(drained_in_wrong_state.load(), 0) << "ran before the gate was closed and empty";
  // Nothing afterwards runs it again.
  EXPECT_EQ(gate.close(), 0u);
  EXPECT_FALSE(gate.try_enter());
  EXPECT_FALSE(gate.try_close_idle(at(1'000'000)));
  EXPECT_EQ(drained.load(), 1);
}

TEST_F(TenantGateTest, DrainedNeverRunsWhenClosingAnEmptyGate) {
  ASSERT_TRUE(gate.try_enter());
  gate.leave(ok(), at(1)); // used, but empty by the time it closes
  EXPECT_EQ(gate.close(), 0u);
  EXPECT_EQ(gate.close(), 0u);
  EXPECT_EQ(drained.load(), 0) << "close() returning 0 tells the caller instead";
}

TEST_F(TenantGateTest, DrainedNeverRunsWhenAnOpenGateEmpties) {
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(gate.try_enter());
    ASSERT_TRUE(gate.try_enter());
    gate.leave(ok(), at(round * 10 + 1));
    gate.leave(ok(), at(round * 10 + 2));
    EXPECT_EQ(gate.inflight(), 0u);
  }
  EXPECT_EQ(drained.load(), 0);
}

TEST_F(TenantGateTest, DrainedRunsOnTheThreadThatEmptiesTheGate) {
  std::thread::id ran_on;
  gate.set_on_drained([&] { ran_on = std::this_thread::get_id(); });
  ASSERT_TRUE(gate.try_enter());
  ASSERT_EQ(gate.close(), 1u);
  std::thread leaver{[&] { gate.leave(ok(), at(1)); }};
  auto leaver_id = leaver.get_id();
  leaver.join();
  EXPECT_EQ(ran_on, leaver_id);
}

TEST_F(TenantGateTest, DrainedUsesTheLatestCallbackAndToleratesNone) {
  int first = 0;
  int second = 0;
  gate.set_on_drained([&] { ++first; });
  gate.set_on_drained([&] { ++second; });
  ASSERT_TRUE(gate.try_enter());
  ASSERT_EQ(gate.close(), 1u);
  gate.leave(ok(), at(1));
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);

  tenant_gate silent{nullptr}; // no callback set: draining must still work
  ASSERT_TRUE(silent.try_enter());
  ASSERT_EQ(silent.close(), 1u);
  silent.leave(ok(), at(1));
  EXPECT_EQ(silent.inflight(), 0u);
  EXPECT_TRUE(silent.closed());
}

// --- try_close_idle -----------------------------------------------------------

TEST_F(TenantGateTest, IdleCloseRefusedWithAnOperationInFlight) {
  ASSERT_TRUE(gate.try_enter());
  EXPECT_FALSE(gate.try_close_idle(at(1'000'000)));
  EXPECT_FALSE(gate.closed());
  EXPECT_EQ(gate.inflight(), 1u);
  ASSERT_TRUE(gate.try_enter()) << "a refused idle close leaves the gate open";
  gate.leave(ok(), at(1));
  gate.leave(ok(), at(2));
  EXPECT_EQ(drained.load(), 0);
}

TEST_F(TenantGateTest, IdleCloseRefusedWhenUsedSinceIdleSinceAndGateStaysOpen) {
  ASSERT_TRUE(gate.try_enter());
  gate.leave(ok(), at(100));
  EXPECT_FALSE(gate.try_close_idle(at(99))) << "an operation left after idle_since";
  EXPECT_FALSE(gate.closed());
  ASSERT_TRUE(gate.try_enter()) << "the gate reopened for the next operation";
  EXPECT_EQ(gate.inflight(), 1u);
  gate.leave(ok(), at(150));
  EXPECT_EQ(gate.last_used(), at(150));
  EXPECT_EQ(drained.load(), 0);
  // The failed attempt does not spoil a later one.
  EXPECT_TRUE(gate.try_close_idle(at(150)));
  EXPECT_TRUE(gate.closed());
}

TEST_F(TenantGateTest, IdleCloseClosesAnIdleGate) {
  ASSERT_TRUE(gate.try_enter());
  gate.leave(ok(), at(100));
  EXPECT_TRUE(gate.try_close_idle(at(500)));
  EXPECT_TRUE(gate.closed());
  EXPECT_FALSE(gate.try_enter());
  EXPECT_EQ(gate.inflight(), 0u);
  EXPECT_EQ(gate.close(), 0u) << "a later close finds nothing in flight";
  EXPECT_EQ(drained.load(), 0) << "nothing was in flight: no drained notification";
  EXPECT_EQ(gate.counters().ops, 1u);
}

TEST_F(TenantGateTest, IdleCloseAcceptsTheGatesOwnLastUse) {
  // The registry passes max(its last use, gate.last_used()): equal is idle.
  ASSERT_TRUE(gate.try_enter());
  gate.leave(ok(), at(100));
  EXPECT_TRUE(gate.try_close_idle(gate.last_used()));
  EXPECT_TRUE(gate.closed());
}

TEST_F(TenantGateTest, ActorOperationsAreCountedButDoNotHoldTheGate) {
  gate.actor_operation_started();
  EXPECT_EQ(gate.counters().inflight, 1u);
  EXPECT_EQ(gate.inflight(), 0u); // the actor waits for its own operations
  ASSERT_TRUE(gate.try_enter());
  EXPECT_EQ(gate.counters().inflight, 2u);
  gate.leave(ok(), at(10));
  result failed;
  failed.code = errc::timeout;
  failed.latency = std::chrono::microseconds{300};
  gate.actor_operation_finished(failed);
  auto c = gate.counters();
  EXPECT_EQ(c.inflight, 0u);
  EXPECT_EQ(c.ops, 2u);
  EXPECT_EQ(c.fast_ops, 1u);
  EXPECT_EQ(c.errors, 1u);
  EXPECT_EQ(gate.last_used(), at(10)); // only the fast path moves it
  gate.actor_operation_started();
  EXPECT_TRUE(gate.try_close_idle(at(10)));
  EXPECT_EQ(drained.load(), 0);
}

TEST_F(TenantGateTest, IdleCloseClosesANeverUsedGate) {
  EXPECT_TRUE(gate.try_close_idle(time_point{}));
  EXPECT_TRUE(gate.closed());
  EXPECT_FALSE(gate.try_enter());
}

TEST_F(TenantGateTest, IdleCloseOnAClosedGateReportsNotClosedByIt) {
  ASSERT_TRUE(gate.try_enter());
  ASSERT_EQ(gate.close(), 1u);
  EXPECT_FALSE(gate.try_close_idle(at(1'000'000)));
  EXPECT_TRUE(gate.closed()) << "a failed idle close never reopens a closed gate";
  EXPECT_FALSE(gate.try_enter());
  gate.leave(ok(), at(1));
  EXPECT_EQ(drained.load(), 1) << "the drained notification still comes";
  EXPECT_FALSE(gate.try_close_idle(at(1'000'000)));
  EXPECT_TRUE(gate.closed());
  EXPECT_FALSE(gate.try_enter());
}

// --- concurrency ----------------------------------------------------------------

// Four threads enter and leave as fast as they can; the main thread closes
// the gate once enough operations got in. A thread that saw the gate closed
// before calling try_enter must be refused; everything that got in leaves,
// and the drained notification matches what close() returned.
TEST_F(TenantGateTest, ConcurrentEntersStopAtCloseAndDrainOnce) {
  constexpr int threads = 4;
  constexpr uint64_t enters_before_close = 20'000;
  std::atomic<uint64_t> entered{0};
  std::atomic<uint64_t> entered_after_seen_closed{0};
  std::atomic<uint64_t> refused_while_open{0};
  std::atomic<uint64_t> latency_sum{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<int64_t> latest_now{0};
  std::atomic<bool> abort{false}; // safety net if the main thread's wait fails
  std::atomic<int> finished{0};   // workers that stopped (early only if the gate is broken)

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      struct finish_mark {
        std::atomic<int>& finished;
        ~finish_mark() { ++finished; }
      } mark{finished};
      for (int64_t i = 1;; ++i) {
        if (abort.load())
          return;
        bool seen_closed = gate.closed();
        if (!gate.try_enter()) {
          if (!gate.closed())
            ++refused_while_open; // only close() is in play: refusal means closed
          return;
        }
        ++entered;
        if (seen_closed)
          ++entered_after_seen_closed; // and stop below, so a broken gate fails, not hangs
        int64_t latency = (i * 37 + t) % 5000;
        int64_t now = i * threads + t;
        latency_sum += static_cast<uint64_t>(latency);
        bool failed = i % 10 == 0;
        if (failed)
          ++errors;
        int64_t latest = latest_now.load();
        while (now > latest && !latest_now.compare_exchange_weak(latest, now)) {
        }
        gate.leave(outcome_of(failed ? errc::timeout : errc::none, latency), at(now));
        if (seen_closed)
          return;
      }
    });
  }

  // Spin (no sleep) until the workers are well under way, bounded in time.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (entered.load() < enters_before_close && finished.load() == 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  bool reached = entered.load() >= enters_before_close;
  uint32_t inflight_at_close = gate.close();
  if (!reached)
    abort = true;
  for (auto& worker : workers)
    worker.join();
  ASSERT_TRUE(reached) << "workers stopped or made no progress before close(): "
                       << entered.load() << " enters, " << refused_while_open.load()
                       << " refused while open";

  EXPECT_LE(inflight_at_close, static_cast<uint32_t>(threads));
  EXPECT_EQ(entered_after_seen_closed.load(), 0u);
  EXPECT_EQ(refused_while_open.load(), 0u);
  EXPECT_TRUE(gate.closed());
  EXPECT_EQ(gate.inflight(), 0u);
  EXPECT_FALSE(gate.try_enter());
  EXPECT_EQ(drained.load(), inflight_at_close > 0 ? 1 : 0)
    << "close() returned " << inflight_at_close;
  EXPECT_EQ(drained_in_wrong_state.load(), 0);

  auto counters = gate.counters();
  EXPECT_EQ(counters.ops, entered.load());
  EXPECT_EQ(counters.inflight, 0u);
  EXPECT_EQ(counters.errors, errors.load());
  EXPECT_EQ(counters.latency_sum_us, latency_sum.load());
  uint64_t bucketed = 0;
  for (auto bucket : counters.latency_buckets)
    bucketed += bucket;
  EXPECT_EQ(bucketed, entered.load());
  EXPECT_EQ(gate.last_used(), at(latest_now.load()));
}

// A close() racing a tentative idle close that finds the gate used since (and
// reopens it) must stand: the gate stays closed. Before the tentative bit,
// about 1% of such races reopened a gate whose close() had returned.
TEST(TenantGateRace, CloseRacingAnIdleCloseThatReopensStaysClosed) {
  using tp = tenant_gate::time_point;
  int reopened = 0;
  constexpr int trials = 5000;
  for (int n = 0; n < trials; ++n) {
    tenant_gate gate{nullptr};
    ASSERT_TRUE(gate.try_enter());
    gate.leave(result{}, tp{std::chrono::microseconds{100}}); // used at 100
    std::atomic<int> ready{0};
    // Both spin to the barrier, yielding: on a loaded 2-core machine (or
    // under TSan) a pure spin burns whole time slices waiting for a thread
    // that is not running, and 5,000 trials then outlast the test timeout.
    std::thread idle{[&] {
      ++ready;
      while (ready.load() < 2)
        std::this_thread::yield();
      gate.try_close_idle(tp{std::chrono::microseconds{50}}); // looked at 50: reopens
    }};
    ++ready;
    while (ready.load() < 2)
      std::this_thread::yield();
    gate.close();
    idle.join();
    if (!gate.closed() || gate.try_enter())
      ++reopened;
  }
  EXPECT_EQ(reopened, 0) << "of " << trials << " races";
}

} // namespace
} // namespace tenantrt
