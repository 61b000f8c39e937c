#pragma once
// An HDR-style log-linear histogram of latencies in nanoseconds: values below
// 64 ns get a bucket each, above that every power of two is split into 32
// linear sub-buckets, so a percentile is within 1/32 (~3%) of the recorded
// value at any magnitude, in a fixed 15 KB. (Debian has no HdrHistogram.)
// Not thread-safe: one owner records, or a lock around it.

#include <array>
#include <cstdint>

namespace tenantrt::load {

class latency_histogram {
public:
  /// Adds one value.
  void record(uint64_t value_ns) noexcept;

  /// Adds every value of other.
  void merge(const latency_histogram& other) noexcept;

  /// Forgets every value.
  void reset() noexcept;

  uint64_t count() const noexcept { return count_; }
  /// Exact extremes and mean (0 when empty).
  uint64_t min_ns() const noexcept { return count_ == 0 ? 0 : min_; }
  uint64_t max_ns() const noexcept { return max_; }
  double mean_ns() const noexcept;

  /// The value at quantile q in [0, 1]: the highest value equivalent to the
  /// bucket holding the ceil(q * count)-th smallest value, clamped to
  /// [min, max] (so p100 is the exact max). 0 when empty.
  uint64_t quantile_ns(double q) const noexcept;

  /// Bucket of a value and the range a bucket covers (for tests).
  static unsigned bucket_of(uint64_t value_ns) noexcept;
  static uint64_t bucket_low(unsigned bucket) noexcept;
  static uint64_t bucket_high(unsigned bucket) noexcept;

  static constexpr unsigned linear_buckets = 64;
  static constexpr unsigned sub_buckets = 32;
  static constexpr unsigned bucket_count = linear_buckets + (64 - 6) * sub_buckets;

private:
  std::array<uint64_t, bucket_count> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // long double would be exact longer; double keeps ns sums exact to ~104 days.
  double sum_ = 0;
};

} // namespace tenantrt::load
