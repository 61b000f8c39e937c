#include "tools/tenantload/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace tenantrt::load {

unsigned latency_histogram::bucket_of(uint64_t value_ns) noexcept {
  if (value_ns < linear_buckets)
    return static_cast<unsigned>(value_ns);
  // value in [2^msb, 2^(msb+1)), msb >= 6; shift so the top 6 bits remain:
  // value >> shift is in [32, 64).
  unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(value_ns));
  unsigned shift = msb - 5;
  return linear_buckets + (shift - 1) * sub_buckets
         + static_cast<unsigned>((value_ns >> shift) - sub_buckets);
}

uint64_t latency_histogram::bucket_low(unsigned bucket) noexcept {
  if (bucket < linear_buckets)
    return bucket;
  unsigned shift = (bucket - linear_buckets) / sub_buckets + 1;
  uint64_t top = (bucket - linear_buckets) % sub_buckets + sub_buckets;
  return top << shift;
}

uint64_t latency_histogram::bucket_high(unsigned bucket) noexcept {
  if (bucket < linear_buckets)
    return bucket;
  unsigned shift = (bucket - linear_buckets) / sub_buckets + 1;
  return bucket_low(bucket) + ((uint64_t{1} << shift) - 1);
}

void latency_histogram::record(uint64_t value_ns) noexcept {
  ++counts_[bucket_of(value_ns)];
  ++count_;
  min_ = std::min(min_, value_ns);
  max_ = std::max(max_, value_ns);
  sum_ += static_cast<double>(value_ns);
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  for (unsigned i = 0; i < bucket_count; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void latency_histogram::reset() noexcept {
  *this = latency_histogram{};
}

double latency_histogram::mean_ns() const noexcept {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

uint64_t latency_histogram::quantile_ns(double q) const noexcept {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (unsigned i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::clamp(bucket_high(i), min_, max_);
  }
  return max_;
}

} // namespace tenantrt::load
