#pragma once
// A tenant's gate: the lock-free way in for operations that bypass the actors
// (the facade's fast path). The registry creates one per tenant actor and
// publishes it in the tenant_directory; a caller that finds it open enters,
// runs the command on the tenant's channel on its own thread (or the
// executor), records the outcome and leaves: no message, no thread hand-off.
// Everything else stays with the actors: the registry creates tenants within
// the limit and closes the gate before it retires, evicts or drains one; the
// tenant actor reads the gate's in-flight count and last use for its idle
// timer and its counters, and quits only when the gate is empty.
// (Seastar's gate: stop new requests, know when the running ones are done.)
//
//   open --close()--> closed (enter refused) --last leave--> on_drained()
//   open --try_close_idle(), nothing in flight or left since--> closed

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "runtime/command_backend.hpp"

namespace tenantrt {

/// A tenant's operations on both paths: the gate's own (fast) and those the
/// tenant actor ran and recorded here, so a reader needs no message.
struct gate_counters {
  static constexpr size_t bucket_count = 24;
  /// In flight on both paths.
  uint32_t inflight = 0;
  /// Finished on both paths.
  uint64_t ops = 0;
  /// Finished on the fast path.
  uint64_t fast_ops = 0;
  uint64_t errors = 0;
  uint64_t latency_sum_us = 0;
  uint64_t latency_max_us = 0;
  /// Bucket i counts ops with latency < 2^i µs, the last bucket the rest
  /// (the buckets of latency_summary in actors/protocol.hpp).
  std::array<uint64_t, bucket_count> latency_buckets{};
};

class tenant_gate {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit tenant_gate(std::shared_ptr<tenant_channel> channel);

  tenant_gate(const tenant_gate&) = delete;
  tenant_gate& operator=(const tenant_gate&) = delete;

  /// The tenant's path to its database.
  const std::shared_ptr<tenant_channel>& channel() const { return channel_; }

  /// Counts one operation in; false (nothing counted) once the gate is closed.
  bool try_enter();

  /// Counts the operation out with its outcome, the tenant used at `now`.
  /// Runs on_drained when the gate is closed and this was the last one in.
  void leave(const result& outcome, time_point now);

  /// Closes the gate only when nothing is in flight and no operation left
  /// after idle_since (the caller's idea of when the tenant went idle); true
  /// if it closed it. Exact: a racing operation either gets in first (no
  /// close) or finds the gate closed (and takes the slow path).
  bool try_close_idle(time_point idle_since);

  /// Closes the gate; operations already in keep running. Returns how many.
  uint32_t close();

  bool closed() const;
  uint32_t inflight() const;

  /// Last time an operation left; time_point{} when none has.
  time_point last_used() const;

  /// The tenant actor's own operations, counted here too so that stats need
  /// no message to it: one started, one finished with its outcome. They do
  /// not hold the gate (inflight(), close) nor move last_used().
  void actor_operation_started();
  void actor_operation_finished(const result& outcome);

  /// Called once, by the thread whose leave() empties a closed gate (so the
  /// tenant actor waiting to quit learns it). Set it before publishing the gate.
  void set_on_drained(std::function<void()> on_drained);

  gate_counters counters() const;

private:
  static constexpr uint64_t closed_bit = uint64_t{1} << 63;
  /// Set with closed_bit by try_close_idle while it checks the last use: only
  /// a close still carrying it may be undone, so a close() in between stands.
  static constexpr uint64_t tentative_bit = uint64_t{1} << 62;
  static constexpr uint64_t count_mask = tentative_bit - 1;

  std::shared_ptr<tenant_channel> channel_;
  /// closed_bit | operations in flight: one word, so enter and close never race.
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> last_used_ns_{0};
  void count_outcome(const result& outcome);

  std::atomic<uint32_t> actor_inflight_{0};
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> fast_ops_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
  std::atomic<uint64_t> latency_max_us_{0};
  std::array<std::atomic<uint64_t>, gate_counters::bucket_count> latency_buckets_{};
  std::mutex on_drained_mutex_;
  std::function<void()> on_drained_;
};

} // namespace tenantrt
