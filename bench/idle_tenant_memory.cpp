// idle_tenant_memory: memory held per idle tenant actor (issue 4). Spawns N
// tenants (default 10,000) through the registry of a real actor system with
// an instant_backend, and divides the growth of the heap (mallinfo2: bytes in
// use in every arena plus mmapped chunks; precise) and of the RSS (pages the
// process touched; coarse, never shrinks back) by N. Prints one JSON object:
//   {"tenants":10000,"heap_bytes_per_tenant":...,"rss_bytes_per_tenant":...,...}
//
// The baseline is taken after a warm-up of 100 tenants, so one-time costs
// (scheduler threads, logger, hash-table first allocations) do not count.
// Memory is sampled once every tenant has settled (its spawn, first idle
// timer and the acquire's touch processed; confirmed by asking each for its
// counters), and the registry must report all of them active; anything else
// exits 1. heap_bytes_per_tenant_at_reply is the heap when the last acquire
// replied, before the tenants had necessarily run.

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/bench_registry.hpp"

namespace {

using tenantrt::bench::bench_registry;
using tenantrt::bench::tenant_id;

constexpr size_t warm_up_tenants = 100;

struct memory_sample {
  /// Heap bytes in use: every malloc arena plus mmapped chunks.
  int64_t heap_bytes = 0;
  /// Of which in mmapped chunks (large blocks, e.g. a hash table's buckets).
  int64_t mmap_bytes = 0;
  int64_t rss_bytes = 0;
};

int64_t resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages))
    return -1;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

memory_sample sample_memory() {
  auto info = mallinfo2();
  memory_sample out;
  out.heap_bytes = static_cast<int64_t>(info.uordblks + info.hblkhd);
  out.mmap_bytes = static_cast<int64_t>(info.hblkhd);
  out.rss_bytes = resident_bytes();
  return out;
}

std::vector<std::string> ids(size_t first, size_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = first; i < first + count; ++i)
    out.push_back(tenant_id(i));
  return out;
}

} // namespace

int main(int argc, char** argv) {
  size_t tenants = 10000;
  CLI::App app{"idle_tenant_memory: heap and RSS per idle tenant actor, as one JSON object"};
  app.add_option("--tenants", tenants, "idle tenants to spawn through the registry")
    ->check(CLI::Range(size_t{1}, size_t{1000000}));
  CLI11_PARSE(app, argc, argv);

  try {
    bench_registry registry{static_cast<uint32_t>(warm_up_tenants + tenants)};
    auto warm_up = ids(0, warm_up_tenants);
    std::vector<tenantrt::tenant_actor> warm_up_actors;
    registry.acquire_pipelined(warm_up, 1000, &warm_up_actors);
    registry.settle(warm_up_actors);

    auto measured = ids(warm_up_tenants, tenants);
    // Allocated before the baseline, so the handles kept to settle the
    // tenants do not count as tenant memory.
    std::vector<tenantrt::tenant_actor> actors;
    actors.reserve(tenants);
    auto before = sample_memory();
    auto started = std::chrono::steady_clock::now();
    registry.acquire_pipelined(measured, 1000, &actors);
    auto spawned = std::chrono::steady_clock::now();
    auto replied = sample_memory();
    registry.settle(actors);
    auto after = sample_memory();

    auto stats = registry.stats();
    auto expected = warm_up_tenants + tenants;
    if (stats.active_tenants != expected || registry.backend().open_channels() != expected) {
      std::cerr << "idle_tenant_memory: expected " << expected << " active tenants, registry has "
                << stats.active_tenants << " and the backend " << registry.backend().open_channels()
                << " open channels\n";
      return 1;
    }

    auto n = static_cast<double>(tenants);
    auto per = [n](int64_t delta) { return static_cast<double>(delta) / n; };
    nlohmann::ordered_json out;
    out["tenants"] = tenants;
    out["heap_bytes_per_tenant"] = per(after.heap_bytes - before.heap_bytes);
    out["rss_bytes_per_tenant"] = per(after.rss_bytes - before.rss_bytes);
    out["mmap_bytes_per_tenant"] = per(after.mmap_bytes - before.mmap_bytes);
    out["heap_bytes_per_tenant_at_reply"] = per(replied.heap_bytes - before.heap_bytes);
    out["heap_bytes_total"] = after.heap_bytes - before.heap_bytes;
    out["rss_bytes_total"] = after.rss_bytes - before.rss_bytes;
    out["spawn_us_per_tenant"] =
      std::chrono::duration<double, std::micro>(spawned - started).count() / n;
    std::cout << out.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "idle_tenant_memory: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
