// tenantload's latency histogram: bucket bounds, percentile accuracy, merge;
// and the workload pickers (tenant distribution, operation mix, commands).

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <random>

#include "tools/tenantload/latency_histogram.hpp"
#include "tools/tenantload/load_report.hpp"
#include "tools/tenantload/load_runner.hpp"

namespace tenantrt::load {
namespace {

TEST(TenantloadHistogramTest, EmptyHistogramReportsZeros) {
  latency_histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile_ns(0.5), 0u);
  EXPECT_EQ(h.max_ns(), 0u);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 0);
}

TEST(TenantloadHistogramTest, BucketsCoverEveryValueContiguously) {
  // Each bucket starts right after the previous one ends, and every value
  // lands in the bucket whose range holds it.
  for (unsigned b = 1; b < latency_histogram::bucket_count; ++b)
    ASSERT_EQ(latency_histogram::bucket_low(b), latency_histogram::bucket_high(b - 1) + 1) << b;
  std::mt19937_64 rng{7};
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    auto b = latency_histogram::bucket_of(v);
    ASSERT_LT(b, latency_histogram::bucket_count);
    ASSERT_LE(latency_histogram::bucket_low(b), v);
    ASSERT_GE(latency_histogram::bucket_high(b), v);
  }
  EXPECT_EQ(latency_histogram::bucket_of(UINT64_MAX), latency_histogram::bucket_count - 1);
}

TEST(TenantloadHistogramTest, SmallValuesAreExact) {
  latency_histogram h;
  for (uint64_t v = 1; v <= 50; ++v)
    h.record(v);
  EXPECT_EQ(h.quantile_ns(0.5), 25u);
  EXPECT_EQ(h.quantile_ns(0.9), 45u);
  EXPECT_EQ(h.min_ns(), 1u);
  EXPECT_EQ(h.max_ns(), 50u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 25.5);
}

TEST(TenantloadHistogramTest, PercentilesWithinRelativeErrorOfExact) {
  // 1..100000 us in ns: the exact p-th value is p * 100000 us.
  latency_histogram h;
  for (uint64_t us = 1; us <= 100000; ++us)
    h.record(us * 1000);
  for (double q : {0.5, 0.95, 0.99, 0.999}) {
    double exact = q * 100000 * 1000;
    double got = static_cast<double>(h.quantile_ns(q));
    EXPECT_GE(got, exact) << q;           // highest equivalent value: never below
    EXPECT_LE(got, exact * (1 + 1.0 / 32)) << q;
  }
  EXPECT_EQ(h.quantile_ns(1.0), 100000u * 1000);
  // p0 is the smallest value's bucket, reported as its highest equivalent.
  EXPECT_GE(h.quantile_ns(0.0), 1000u);
  EXPECT_LE(h.quantile_ns(0.0), 1000u * 33 / 32);
}

TEST(TenantloadHistogramTest, OneSlowOutlierMovesOnlyTheTail) {
  latency_histogram h;
  for (int i = 0; i < 999; ++i)
    h.record(200000); // 200 us
  h.record(2000000000); // 2 s
  EXPECT_LE(h.quantile_ns(0.99), 200000u * 33 / 32);
  EXPECT_EQ(h.quantile_ns(1.0), 2000000000u);
  EXPECT_EQ(h.max_ns(), 2000000000u);
}

TEST(TenantloadHistogramTest, MergeEqualsRecordingEverything) {
  latency_histogram a, b, all;
  std::mt19937_64 rng{3};
  for (int i = 0; i < 5000; ++i) {
    uint64_t v = 1000 + rng() % 10000000;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max_ns(), all.max_ns());
  EXPECT_EQ(a.min_ns(), all.min_ns());
  for (double q : {0.1, 0.5, 0.99})
    EXPECT_EQ(a.quantile_ns(q), all.quantile_ns(q));
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.quantile_ns(0.5), 0u);
}

TEST(TenantloadWorkloadTest, ZipfFavoursLowRanksAndSumsToOne) {
  tenant_picker zipf{200, {distribution_kind::zipf, 1.1}};
  double sum = 0;
  for (uint32_t k = 0; k < 200; ++k)
    sum += zipf.probability(k);
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_NEAR(zipf.probability(0) / zipf.probability(1), std::pow(2.0, 1.1), 1e-9);
  std::mt19937_64 rng{1};
  std::vector<int> hits(200);
  for (int i = 0; i < 200000; ++i)
    ++hits.at(zipf.pick(rng));
  EXPECT_NEAR(hits[0] / 200000.0, zipf.probability(0), 0.01);
  EXPECT_GT(hits[0], hits[10]);
  tenant_picker uniform{50, {}};
  EXPECT_DOUBLE_EQ(uniform.probability(49), 1.0 / 50);
  EXPECT_EQ(uniform.probability(50), 0);
}

TEST(TenantloadWorkloadTest, MixPicksOnlyWeightedOperationsInProportion) {
  std::mt19937_64 rng{2};
  std::array<int, 4> hits{};
  for (int i = 0; i < 40000; ++i)
    ++hits[static_cast<size_t>(pick_operation({1, 3, 0, 0}, rng))];
  EXPECT_EQ(hits[2], 0);
  EXPECT_EQ(hits[3], 0);
  EXPECT_NEAR(hits[1] / 40000.0, 0.75, 0.02);
}

TEST(TenantloadWorkloadTest, CommandsNameTheCollectionFirst) {
  auto find = load_command(operation::find, "load_runtime", 7, 1);
  EXPECT_EQ(find.begin().key(), "find");
  EXPECT_EQ(find["filter"]["k"], 7);
  auto update = load_command(operation::update, "c", 3, 9);
  EXPECT_EQ(update.begin().key(), "update");
  EXPECT_EQ(update["updates"][0]["u"]["$set"]["seq"], 9);
  EXPECT_TRUE(update["updates"][0]["upsert"].get<bool>());
  EXPECT_EQ(load_command(operation::insert, "c", 1, 2)["documents"].size(), 1u);
  EXPECT_EQ(load_command(operation::ping, "c", 1, 2).dump(), R"({"ping":1})");
}

/// A load phase over [0, 1) s, then an idle one over [1, 3] s, sampled every
/// 100 ms: connections at the floor (2) from 1.5 s, tenants as given.
mode_result reap_run(bool counts_tenants, const std::function<int64_t(double)>& tenants_at) {
  mode_result m;
  m.mode = counts_tenants ? "runtime" : "direct";
  m.counts_tenants = counts_tenants;
  m.connection_floor = 2;
  phase_result load;
  load.name = "load";
  load.start_s = 0;
  load.end_s = 1;
  phase_result idle;
  idle.name = "idle";
  idle.idle = true;
  idle.start_s = 1;
  idle.end_s = 3;
  m.phases = {load, idle};
  for (int i = 1; i <= 30; ++i) {
    double t = i / 10.0;
    m.samples.push_back({t, t < 1.5 ? 8u : 2u, tenants_at(t)});
  }
  summarise_samples(m);
  return m;
}

TEST(TenantloadSummaryTest, IdleReapNeedsAKnownZeroTenantCount) {
  // The stats query fails from 1.5 s to 2.5 s (-1), then reads 0: the floor
  // is reached at 2.5 s, 1.5 s after the load stopped, not at 1.5 s.
  auto failing = reap_run(true, [](double t) -> int64_t {
    return t < 1.5 ? 5 : (t < 2.45 ? -1 : 0);
  });
  ASSERT_TRUE(failing.phases[1].reach_min_ms.has_value());
  EXPECT_NEAR(*failing.phases[1].reach_min_ms, 1500, 1e-6);
  EXPECT_FALSE(failing.phases[0].reach_min_ms.has_value()); // a load phase
  // Never a known zero: never reached, however flat the sockets.
  auto unknown = reap_run(true, [](double t) -> int64_t { return t < 1.5 ? 5 : -1; });
  EXPECT_FALSE(unknown.phases[1].reach_min_ms.has_value());
  // Tenants left: not reached either.
  auto left = reap_run(true, [](double) -> int64_t { return 1; });
  EXPECT_FALSE(left.phases[1].reach_min_ms.has_value());
  // A mode without tenants goes by its sockets alone.
  auto sockets = reap_run(false, [](double) -> int64_t { return -1; });
  ASSERT_TRUE(sockets.phases[1].reach_min_ms.has_value());
  EXPECT_NEAR(*sockets.phases[1].reach_min_ms, 500, 1e-6);
}

/// A virtual clock and a target whose every operation takes service(k) ms
/// (k counts from 0): run_paced on it is deterministic.
struct virtual_run {
  using time_point = std::chrono::steady_clock::time_point;
  time_point t{};
  std::function<int(int)> service;
  std::vector<uint64_t> service_ms;
  std::vector<uint64_t> corrected_ms; // 0 when none (a closed loop)
  uint64_t skipped = 0;

  uint64_t run(const send_schedule& schedule) {
    worker_clock clock{[this] { return t; },
                       [this](time_point until) { t = std::max(t, until); }};
    paced_worker worker;
    worker.send = [this] {
      t += std::chrono::milliseconds{service(static_cast<int>(service_ms.size()))};
      return std::string{};
    };
    worker.record = [this](const op_timing& timing, const std::string&) {
      service_ms.push_back(timing.service_ns / 1000000);
      corrected_ms.push_back(timing.corrected_ns ? *timing.corrected_ns / 1000000 : 0);
    };
    worker.skipped = [this](uint64_t n) { skipped += n; };
    return run_paced(schedule, clock, worker);
  }
};

send_schedule every_100ms_until(int end_ms) {
  send_schedule s;
  s.first = std::chrono::steady_clock::time_point{};
  s.end = s.first + std::chrono::milliseconds{end_ms};
  s.interval = std::chrono::milliseconds{100};
  return s;
}

TEST(TenantloadPacingTest, CorrectedLatencyIncludesTheWaitBehindAStalledOperation) {
  // Slots every 100 ms for 1 s; operations take 10 ms, but the fourth (slot
  // 300 ms) takes 350 ms. Slots 400, 500 and 600 go out late, at 650, 660
  // and 670: their service time stays 10 ms, their corrected latency counts
  // from the slot. From slot 700 on the worker is on time again.
  virtual_run run;
  run.service = [](int k) { return k == 3 ? 350 : 10; };
  EXPECT_EQ(run.run(every_100ms_until(1000)), 10u);
  EXPECT_EQ(run.service_ms, (std::vector<uint64_t>{10, 10, 10, 350, 10, 10, 10, 10, 10, 10}));
  EXPECT_EQ(run.corrected_ms, (std::vector<uint64_t>{10, 10, 10, 350, 260, 170, 80, 10, 10, 10}));
  EXPECT_EQ(run.skipped, 0u);

  // Through the report's histograms: above the median, the old figures see
  // only the stall itself; the corrected ones the callers queued behind it.
  op_figures figures;
  for (size_t i = 0; i < run.service_ms.size(); ++i) {
    figures.latency.record(run.service_ms[i] * 1000000);
    figures.corrected_latency.record(run.corrected_ms[i] * 1000000);
  }
  EXPECT_NEAR(figures.latency.quantile_ns(0.9) / 1e6, 10, 10.0 / 32);
  EXPECT_NEAR(figures.corrected_latency.quantile_ns(0.9) / 1e6, 260, 260.0 / 32);
}

TEST(TenantloadPacingTest, MoreThanASecondBehindSkipsTheMissedSlotsAndCountsThem) {
  // The fourth operation (slot 300 ms) takes 2500 ms: back at 2800 ms, the
  // worker sends slot 400 (corrected 2410 ms), skips the 23 slots 500..2700
  // and restarts its schedule at 2800 ms. Every slot of the 5 s is sent or
  // counted as skipped.
  virtual_run run;
  run.service = [](int k) { return k == 3 ? 2500 : 10; };
  auto sent = run.run(every_100ms_until(5000));
  EXPECT_EQ(run.skipped, 23u);
  EXPECT_EQ(sent + run.skipped, 50u);
  ASSERT_GE(run.corrected_ms.size(), 6u);
  EXPECT_EQ(run.corrected_ms[3], 2500u);
  EXPECT_EQ(run.corrected_ms[4], 2410u); // slot 400, sent at 2800
  EXPECT_EQ(run.corrected_ms[5], 20u);   // the restarted schedule's first slot, 2800, sent at 2810
  EXPECT_EQ(run.service_ms[4], 10u);
}

TEST(TenantloadPacingTest, SkippedSlotsStopAtThePhaseEnd) {
  // A stall past the phase end: only the slots before the end are skipped.
  virtual_run run;
  run.service = [](int k) { return k == 1 ? 3000 : 10; };
  auto sent = run.run(every_100ms_until(1000));
  // Slots 0 and 100 sent; back at 3100 the worker sends slot 200 and skips
  // 300..900 (7 slots), then the restarted slot (3100) is past the end.
  EXPECT_EQ(sent, 3u);
  EXPECT_EQ(run.skipped, 7u);
  EXPECT_EQ(sent + run.skipped, 10u);
}

TEST(TenantloadPacingTest, ClosedLoopHasNoCorrectedLatency) {
  virtual_run run;
  run.service = [](int) { return 100; };
  auto schedule = every_100ms_until(1000);
  schedule.interval.reset();
  EXPECT_EQ(run.run(schedule), 10u);
  for (auto corrected : run.corrected_ms)
    EXPECT_EQ(corrected, 0u);
  EXPECT_EQ(run.skipped, 0u);
}

} // namespace
} // namespace tenantrt::load
