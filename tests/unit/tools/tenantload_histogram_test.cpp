// tenantload's latency histogram: bucket bounds, percentile accuracy, merge;
// and the workload pickers (tenant distribution, operation mix, commands).

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "tools/tenantload/latency_histogram.hpp"
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

} // namespace
} // namespace tenantrt::load
