#include "runtime/stats.hpp"

#include <algorithm>

namespace tenantrt {

pool_counters& pool_counters::operator+=(const pool_counters& other) {
  open += other.open;
  in_use += other.in_use;
  idle += other.idle;
  waiters += other.waiters;
  created_total += other.created_total;
  closed_total += other.closed_total;
  wait_timeouts_total += other.wait_timeouts_total;
  connect_failures_total += other.connect_failures_total;
  backoff_rejections_total += other.backoff_rejections_total;
  backoff_ms = std::max(backoff_ms, other.backoff_ms);
  max_pool_size += other.max_pool_size;
  min_pool_size += other.min_pool_size;
  tenant_pools += other.tenant_pools;
  return *this;
}

void latency_summary::record(uint64_t latency_us) {
  ++count;
  sum_us += latency_us;
  if (latency_us > max_us)
    max_us = latency_us;
  size_t bucket = 0;
  while (bucket + 1 < bucket_count && latency_us >= (uint64_t{1} << bucket))
    ++bucket;
  ++buckets[bucket];
}

uint64_t latency_summary::quantile_us(double q) const {
  if (count == 0)
    return 0;
  auto rank = static_cast<uint64_t>(q * static_cast<double>(count - 1)) + 1;
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < buckets.size(); ++bucket) {
    seen += buckets[bucket];
    if (seen >= rank)
      return bucket + 1 < bucket_count ? std::min(uint64_t{1} << bucket, max_us)
                                       : max_us;
  }
  return max_us;
}

} // namespace tenantrt
