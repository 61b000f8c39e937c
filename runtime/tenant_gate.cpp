#include "runtime/tenant_gate.hpp"

namespace tenantrt {

tenant_gate::tenant_gate(std::shared_ptr<tenant_channel> channel) : channel_(std::move(channel)) {}

bool tenant_gate::try_enter() {
  auto current = state_.load(std::memory_order_relaxed);
  do {
    if (current & closed_bit)
      return false;
  } while (!state_.compare_exchange_weak(current, current + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed));
  return true;
}

void tenant_gate::count_outcome(const result& outcome) {
  auto latency_us = static_cast<uint64_t>(outcome.latency.count());
  ops_.fetch_add(1, std::memory_order_relaxed);
  if (outcome.code != errc::none)
    errors_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(latency_us, std::memory_order_relaxed);
  auto max = latency_max_us_.load(std::memory_order_relaxed);
  while (latency_us > max
         && !latency_max_us_.compare_exchange_weak(max, latency_us, std::memory_order_relaxed)) {
  }
  size_t bucket = 0;
  while (bucket + 1 < gate_counters::bucket_count && latency_us >= (uint64_t{1} << bucket))
    ++bucket;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
}

void tenant_gate::actor_operation_started() {
  actor_inflight_.fetch_add(1, std::memory_order_relaxed);
}

void tenant_gate::actor_operation_finished(const result& outcome) {
  count_outcome(outcome);
  actor_inflight_.fetch_sub(1, std::memory_order_relaxed);
}

void tenant_gate::leave(const result& outcome, time_point now) {
  count_outcome(outcome);
  fast_ops_.fetch_add(1, std::memory_order_relaxed);
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  auto last = last_used_ns_.load(std::memory_order_relaxed);
  while (now_ns > last
         && !last_used_ns_.compare_exchange_weak(last, now_ns, std::memory_order_relaxed)) {
  }
  // Release: whoever sees the count drop also sees the figures above.
  auto before = state_.fetch_sub(1, std::memory_order_acq_rel);
  if ((before & closed_bit) && (before & count_mask) == 1) {
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> guard{on_drained_mutex_};
      notify = on_drained_;
    }
    if (notify)
      notify();
  }
}

bool tenant_gate::try_close_idle(time_point idle_since) {
  uint64_t idle = 0;
  if (!state_.compare_exchange_strong(idle, closed_bit | tentative_bit, std::memory_order_acq_rel))
    return false;
  if (last_used() <= idle_since) {
    state_.fetch_and(~tentative_bit, std::memory_order_acq_rel);
    return true;
  }
  // An operation left between the caller's look and the close: still in use.
  // Nothing can be in flight (the count was 0 and entering is refused), so
  // reopening cannot lose a drained notification; a close() meanwhile
  // cleared the tentative bit and this fails, keeping the gate closed.
  uint64_t tentative = closed_bit | tentative_bit;
  state_.compare_exchange_strong(tentative, 0, std::memory_order_acq_rel);
  return false;
}

uint32_t tenant_gate::close() {
  auto before = state_.load(std::memory_order_relaxed);
  while (!state_.compare_exchange_weak(before, (before | closed_bit) & ~tentative_bit,
                                       std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
  return static_cast<uint32_t>(before & count_mask);
}

bool tenant_gate::closed() const {
  return (state_.load(std::memory_order_acquire) & closed_bit) != 0;
}

uint32_t tenant_gate::inflight() const {
  return static_cast<uint32_t>(state_.load(std::memory_order_acquire) & count_mask);
}

tenant_gate::time_point tenant_gate::last_used() const {
  return time_point{std::chrono::nanoseconds{last_used_ns_.load(std::memory_order_acquire)}};
}

void tenant_gate::set_on_drained(std::function<void()> on_drained) {
  std::lock_guard<std::mutex> guard{on_drained_mutex_};
  on_drained_ = std::move(on_drained);
}

gate_counters tenant_gate::counters() const {
  gate_counters out;
  out.inflight = inflight() + actor_inflight_.load(std::memory_order_relaxed);
  out.ops = ops_.load(std::memory_order_relaxed);
  out.fast_ops = fast_ops_.load(std::memory_order_relaxed);
  out.errors = errors_.load(std::memory_order_relaxed);
  out.latency_sum_us = latency_sum_us_.load(std::memory_order_relaxed);
  out.latency_max_us = latency_max_us_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < out.latency_buckets.size(); ++i)
    out.latency_buckets[i] = latency_buckets_[i].load(std::memory_order_relaxed);
  return out;
}

} // namespace tenantrt
