// registry_acquire_bench: what a registry acquire of a CACHED tenant costs
// with 10, 1,000 and 10,000 tenants registered (issue 4). The cost must not
// grow with the tenant count: the registry keys tenants by id in hash maps.
//
// Every benchmark spawns a fresh registry (real threaded actor system,
// instant_backend), registers N tenants outside the timed loop, then times
// round trips from a scoped_actor:
//   acquire_hot         the same tenant every time
//   acquire_round_robin tenant i % N: every entry is touched, so cache misses
//                       of a large table show up
//   acquire_pipelined   64 requests in flight per batch (same tenant):
//                       amortises the scoped_actor's wake-up, closer to the
//                       registry's own per-message cost
//   run_ping            run {"ping":1}: registry -> tenant -> backend -> back
// Wall-clock time (the work happens on scheduler threads, not the caller's).
// Counter heap_B/op: heap growth per operation while timing (mallinfo2), e.g.
// timers that outlive the operation. At the end, the ratio of ns/op at the
// largest to the smallest tenant count is printed per benchmark.

#include <malloc.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/bench_registry.hpp"

namespace {

using tenantrt::bench::bench_registry;
using tenantrt::bench::tenant_id;

/// Heap bytes in use (all arenas, plus mmapped chunks).
size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

/// A registry holding `count` tenants, all created, acquired once and
/// settled (no tenant still initialising while the loop is timed).
std::unique_ptr<bench_registry> registry_with(size_t count) {
  auto registry = std::make_unique<bench_registry>(static_cast<uint32_t>(count));
  std::vector<std::string> ids;
  ids.reserve(count);
  for (size_t i = 0; i < count; ++i)
    ids.push_back(tenant_id(i));
  std::vector<tenantrt::tenant_actor> actors;
  registry->acquire_pipelined(ids, 1000, &actors);
  registry->settle(actors);
  return registry;
}

/// Times `op(i)` per iteration and reports heap growth per iteration.
template <class Operation>
void timed_loop(benchmark::State& state, Operation op) {
  auto heap_before = heap_in_use();
  size_t i = 0;
  for (auto _ : state)
    op(i++);
  auto heap_after = heap_in_use();
  state.counters["tenants"] = static_cast<double>(state.range(0));
  state.counters["heap_B/op"] = benchmark::Counter(
    static_cast<double>(heap_after) - static_cast<double>(heap_before),
    benchmark::Counter::kAvgIterations);
}

void acquire_hot(benchmark::State& state) {
  auto count = static_cast<size_t>(state.range(0));
  auto registry = registry_with(count);
  auto tenant = tenant_id(count / 2);
  timed_loop(state, [&](size_t) { benchmark::DoNotOptimize(registry->acquire(tenant)); });
}

void acquire_round_robin(benchmark::State& state) {
  auto count = static_cast<size_t>(state.range(0));
  auto registry = registry_with(count);
  std::vector<std::string> ids;
  for (size_t i = 0; i < count; ++i)
    ids.push_back(tenant_id(i));
  timed_loop(state,
             [&](size_t i) { benchmark::DoNotOptimize(registry->acquire(ids[i % count])); });
}

void acquire_pipelined(benchmark::State& state) {
  constexpr size_t batch = 64;
  auto count = static_cast<size_t>(state.range(0));
  auto registry = registry_with(count);
  // One tenant, as in acquire_hot: spreading a batch over distinct tenants
  // would wake 64 actors (the touch each acquire sends) at 10,000 tenants
  // but only 10 at 10, and measure that instead of the registry.
  std::vector<std::string> ids(batch, tenant_id(count / 2));
  timed_loop(state, [&](size_t) { registry->acquire_pipelined(ids, batch); });
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.counters["heap_B/op"] = benchmark::Counter(
    state.counters["heap_B/op"].value / static_cast<double>(batch),
    benchmark::Counter::kAvgIterations);
  // Seconds per acquire (the time columns are per batch of 64); the
  // console shows it with an SI prefix, e.g. 12.6u.
  state.counters["s/acquire"] = benchmark::Counter(
    static_cast<double>(state.iterations() * batch),
    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void run_ping(benchmark::State& state) {
  auto count = static_cast<size_t>(state.range(0));
  auto registry = registry_with(count);
  auto tenant = tenant_id(count / 2);
  const std::string ping = R"({"ping":1})";
  timed_loop(state, [&](size_t) { benchmark::DoNotOptimize(registry->run(tenant, ping)); });
}

void tenant_counts(benchmark::internal::Benchmark* b) {
  b->Arg(10)->Arg(1000)->Arg(10000)->UseRealTime()->Unit(benchmark::kNanosecond);
}

BENCHMARK(acquire_hot)->Apply(tenant_counts);
BENCHMARK(acquire_round_robin)->Apply(tenant_counts);
BENCHMARK(acquire_pipelined)->Apply(tenant_counts);
BENCHMARK(run_ping)->Apply(tenant_counts);

/// Console output plus, at the end, ns/op at the largest tenant count divided
/// by ns/op at the smallest, per benchmark (1.0 = no growth); the medians
/// when repetitions are asked for.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
  explicit ratio_reporter(OutputOptions options) : ConsoleReporter(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (auto& run : runs) {
      // With --benchmark_repetitions the median (reported after the
      // repetitions) overwrites them.
      bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if ((run.run_type != Run::RT_Iteration && !median) || run.error_occurred)
        continue;
      auto name = run.run_name.function_name;
      auto tenants = run.counters.count("tenants") ? run.counters.at("tenants").value : 0.0;
      auto ns = run.GetAdjustedRealTime(); // in the benchmark's unit: ns
      if (run.counters.count("s/acquire"))
        ns = run.counters.at("s/acquire").value * 1e9; // reported in seconds per item
      by_count_[name][tenants] = ns;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    for (auto& [name, by_count] : by_count_) {
      if (by_count.size() < 2)
        continue;
      auto& [smallest, ns_small] = *by_count.begin();
      auto& [largest, ns_large] = *by_count.rbegin();
      std::printf("ratio %s: %.0f tenants %.0f ns / %.0f tenants %.0f ns = %.2f\n",
                  name.c_str(), largest, ns_large, smallest, ns_small, ns_large / ns_small);
    }
  }

private:
  std::map<std::string, std::map<double, double>> by_count_;
};

} // namespace

int main(int argc, char** argv) {
  // --benchmark_format=json|csv (e.g. for bench/run.sh) gets the library's
  // own reporter; the console one adds the ratios. Colour only on a terminal
  // unless --benchmark_color=false.
  bool console = true;
  bool color = isatty(STDOUT_FILENO) != 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--benchmark_format=", 0) == 0 && arg != "--benchmark_format=console")
      console = false;
    if (arg == "--benchmark_color=false")
      color = false;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 2;
  if (console) {
    ratio_reporter reporter{color ? benchmark::ConsoleReporter::OO_ColorTabular
                                  : benchmark::ConsoleReporter::OO_Tabular};
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
