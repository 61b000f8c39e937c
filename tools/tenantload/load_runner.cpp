// What tenantload's latency figures measure.
//
// A phase with a rate is an open loop. Worker w of n has its slots at
// phase start + (w / n + k) * interval, interval = n / rate, k = 0, 1, ...
// up to the phase end; it sends slot k's operation at the slot, or as soon
// as its previous operation (and think_ms) ended when that is later. Each
// successful operation is timed twice:
//   latency ("latency" in the JSON, P50..MAX in the table): from the actual
//     send to the reply. This is the service time of one call. It is what
//     these columns always meant, and it hides coordinated omission: when
//     one operation stalls, the worker's next sends go out late, and the
//     time their callers would have waited is in no figure.
//   corrected latency ("corrected_latency", CORR P50 / CORR P99): from the
//     slot, the intended send, to the reply: what a caller arriving on
//     schedule would see, its wait behind a stalled operation included (the
//     "corrected" latency of wrk2 / HdrHistogram). Equal to latency while
//     the worker keeps its schedule; never less.
// Phases without a rate are a closed loop: no slot, no corrected latency
// (its histogram stays empty for them; latency is recorded as above).
// Errors are counted by code and timed by neither histogram.
//
// The backlog drop. A worker that finds itself more than 1 s (max_backlog)
// behind its next slot does not send the missed slots back to back (a
// burst that would measure its own catch-up): it skips them and its
// schedule restarts at now. The skipped slots are counted (skipped_sends,
// SKIPPED), never sent, and timed by neither histogram; so behind a stall
// longer than ~1 s the corrected latency is a lower bound: it has the
// operations sent late (up to ~1 s plus one interval late) but not the
// skipped callers, who would have waited longer still, and the offered
// load fell short of the rate by the skipped count.
#include "tools/tenantload/load_runner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "tools/support/tcp_census.hpp"

namespace tenantrt::load {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double cpu_seconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec)
         + static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double process_cpu_s() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return cpu_seconds(r);
}

double thread_cpu_s() {
  rusage r{};
  getrusage(RUSAGE_THREAD, &r);
  return cpu_seconds(r);
}

/// utime + stime of another process from /proc/PID/stat; nullopt if gone.
std::optional<double> other_process_cpu_s(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text))
    return std::nullopt;
  // The command name (field 2) may hold spaces: count fields after ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // After ')': field 3 (state) is index 0; utime is field 14, stime 15.
  for (int index = 0; fields >> field; ++index) {
    if (index == 11)
      utime = std::stoull(field);
    if (index == 12) {
      stime = std::stoull(field);
      return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return std::nullopt;
}

/// VmRSS in kB of /proc/<who>/status ("self" or a pid); 0 if unknown.
uint64_t rss_kb(const std::string& who) {
  std::ifstream in{"/proc/" + who + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 6, "VmRSS:") == 0)
      return std::stoull(line.substr(6));
  return 0;
}

/// Operations of the running phase and of the current 1 s window, recorded
/// by the workers under one lock (a few thousand ops/s: no contention worth
/// sharding for).
struct recorder {
  std::mutex mutex;
  op_figures phase;
  latency_histogram window;
  uint64_t window_ops = 0;
  uint64_t window_errors = 0;

  void record(const op_timing& timing, const std::string& error) {
    std::lock_guard<std::mutex> guard{mutex};
    if (error.empty()) {
      ++phase.ops;
      phase.latency.record(timing.service_ns);
      if (timing.corrected_ns)
        phase.corrected_latency.record(*timing.corrected_ns);
      window.record(timing.service_ns);
      ++window_ops;
    } else {
      ++phase.errors[error];
      ++window_errors;
    }
  }

  void skip(uint64_t n) {
    std::lock_guard<std::mutex> guard{mutex};
    phase.skipped_sends += n;
  }
};

std::string collection_of(const std::string& mode) {
  std::string name = "load_" + mode;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

/// Nanoseconds of a duration, as the histograms take them.
uint64_t to_ns(clock_type::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

} // namespace

worker_clock steady_worker_clock() {
  return {[] { return clock_type::now(); },
          [](clock_type::time_point t) {
            std::this_thread::sleep_until(t); // pacing the load, not synchronization
          }};
}

uint64_t run_paced(const send_schedule& schedule, const worker_clock& clock,
                   const paced_worker& worker) {
  uint64_t sent = 0;
  auto due = schedule.first;
  for (;;) {
    std::optional<clock_type::time_point> intended;
    if (schedule.interval) {
      if (due >= schedule.end)
        break;
      clock.sleep_until(due);
      intended = due;
      due += *schedule.interval;
      // Far behind (a stall): skip the missed slots instead of bursting.
      auto now = clock.now();
      if (now - due > schedule.max_backlog) {
        // The slots in [due, min(now, end)) are never sent.
        auto missed = std::min(now, schedule.end) - due;
        auto n = static_cast<uint64_t>((missed + *schedule.interval - clock_type::duration{1})
                                       / *schedule.interval);
        if (n > 0 && worker.skipped)
          worker.skipped(n);
        due = now;
      }
    } else if (clock.now() >= schedule.end) {
      break;
    }
    auto t0 = clock.now();
    auto error = worker.send();
    auto t1 = clock.now();
    ++sent;
    op_timing timing;
    timing.service_ns = to_ns(t1 - t0);
    if (intended)
      timing.corrected_ns = to_ns(t1 - *intended);
    worker.record(timing, error);
    if (schedule.think > clock_type::duration::zero())
      clock.sleep_until(clock.now() + schedule.think);
  }
  return sent;
}

void summarise_samples(mode_result& result) {
  double sum = 0;
  for (auto& sample : result.samples) {
    result.connections_peak = std::max(result.connections_peak, sample.connections);
    sum += sample.connections;
  }
  if (!result.samples.empty())
    result.connections_mean = sum / static_cast<double>(result.samples.size());
  std::optional<double> last_load_end;
  for (auto& pr : result.phases) {
    double phase_sum = 0;
    size_t n = 0;
    for (auto& sample : result.samples) {
      if (sample.t_s < pr.start_s || sample.t_s > pr.end_s)
        continue;
      pr.connections_peak = std::max(pr.connections_peak, sample.connections);
      pr.tenants_peak = std::max(pr.tenants_peak, sample.tenants);
      pr.connections_end = sample.connections;
      pr.tenants_end = sample.tenants;
      phase_sum += sample.connections;
      ++n;
      // A known zero: a failed count (-1) is not a reaped tenant.
      bool tenants_gone = !result.counts_tenants || sample.tenants == 0;
      if (pr.idle && last_load_end && !pr.reach_min_ms
          && sample.connections <= result.connection_floor && tenants_gone)
        pr.reach_min_ms = (sample.t_s - *last_load_end) * 1000.0;
    }
    if (n > 0)
      pr.connections_mean = phase_sum / static_cast<double>(n);
    if (!pr.idle) {
      last_load_end = pr.end_s;
      result.load_s += pr.end_s - pr.start_s;
    }
    result.figures.merge(pr.figures);
  }
}

tenant_picker::tenant_picker(uint32_t tenants, const distribution& dist) :
  tenants_(std::max<uint32_t>(tenants, 1)) {
  if (dist.kind == distribution_kind::zipf) {
    cumulative_.reserve(tenants_);
    double total = 0;
    for (uint32_t k = 1; k <= tenants_; ++k) {
      total += 1.0 / std::pow(static_cast<double>(k), dist.exponent);
      cumulative_.push_back(total);
    }
  }
}

uint32_t tenant_picker::pick(std::mt19937_64& rng) const {
  if (cumulative_.empty())
    return static_cast<uint32_t>(rng() % tenants_);
  std::uniform_real_distribution<double> u{0.0, cumulative_.back()};
  auto i = std::upper_bound(cumulative_.begin(), cumulative_.end(), u(rng));
  return static_cast<uint32_t>(std::min<size_t>(
    static_cast<size_t>(i - cumulative_.begin()), tenants_ - 1));
}

double tenant_picker::probability(uint32_t k) const {
  if (k >= tenants_)
    return 0;
  if (cumulative_.empty())
    return 1.0 / tenants_;
  double low = k == 0 ? 0.0 : cumulative_[k - 1];
  return (cumulative_[k] - low) / cumulative_.back();
}

operation pick_operation(const std::array<double, 4>& mix, std::mt19937_64& rng) {
  double total = 0;
  for (double w : mix)
    total += w;
  std::uniform_real_distribution<double> u{0.0, total};
  double x = u(rng);
  for (auto op : all_operations) {
    double w = mix[static_cast<size_t>(op)];
    if (w > 0 && x < w)
      return op;
    x -= w;
  }
  for (auto op : {operation::update, operation::insert, operation::find, operation::ping})
    if (mix[static_cast<size_t>(op)] > 0)
      return op; // rounding at the top end
  return operation::ping;
}

nlohmann::ordered_json load_command(operation op, const std::string& collection, uint64_t key,
                                    uint64_t sequence) {
  using nlohmann::ordered_json;
  switch (op) {
    case operation::ping: return {{"ping", 1}};
    case operation::find:
      return {{"find", collection}, {"filter", {{"k", key}}}, {"limit", 5}};
    case operation::insert:
      return {{"insert", collection},
              {"documents", ordered_json::array({{{"k", key}, {"seq", sequence}, {"note", "load"}}})}};
    case operation::update:
      return {{"update", collection},
              {"updates", ordered_json::array({{{"q", {{"k", key}}},
                                                {"u", {{"$set", {{"seq", sequence}}}}},
                                                {"upsert", true}}})}};
  }
  return {{"ping", 1}};
}

std::vector<mode_result> run_together(const scenario& s, const std::vector<lane>& lanes,
                                      const run_options& options) {
  if (lanes.empty())
    return {};
  const bool interleaved = lanes.size() > 1;
  std::vector<mode_result> results(lanes.size());
  std::vector<std::string> collections;
  std::vector<std::optional<pid_t>> worker_pids;
  // One recorder per lane; a deque would do too, but recorders do not move.
  std::vector<std::unique_ptr<recorder>> recs;
  for (size_t l = 0; l < lanes.size(); ++l) {
    auto& result = results[l];
    result.mode = lanes[l].mode;
    result.connection_floor = lanes[l].target->connection_floor();
    result.counts_tenants = lanes[l].target->counts_tenants();
    // Sockets are counted for the whole run: a lane's cap says nothing then.
    if (!interleaved)
      result.connection_cap = lanes[l].target->connection_cap();
    for (auto& other : lanes)
      if (&other != &lanes[l])
        result.interleaved_with.push_back(other.mode);
    collections.push_back(collection_of(lanes[l].mode));
    worker_pids.push_back(lanes[l].target->worker_process());
    recs.push_back(std::make_unique<recorder>());
  }
  std::string label = lanes.front().mode;
  for (size_t l = 1; l < lanes.size(); ++l)
    label += "+" + lanes[l].mode;

  std::mutex sampler_mutex;
  std::condition_variable sampler_wake;
  bool sampler_stop = false;
  // Shared with the sampler (under sampler_mutex).
  size_t phase_index = 0;
  bool phase_idle = false;
  std::atomic<double> sampler_cpu_s{0};

  auto mode_start = clock_type::now();
  auto client_cpu_start = process_cpu_s();
  std::vector<std::optional<double>> daemon_cpu_start;
  for (auto& pid : worker_pids)
    daemon_cpu_start.push_back(pid ? other_process_cpu_s(*pid) : std::nullopt);
  bool progress = options.progress && isatty(STDERR_FILENO);

  std::thread sampler{[&] {
    double own_cpu_start = thread_cpu_s();
    auto next = clock_type::now();
    unsigned tick = 0;
    std::vector<int64_t> tenants(lanes.size(), -1);
    uint32_t window_peak = 0;
    for (;;) {
      next += std::chrono::milliseconds{100};
      std::unique_lock<std::mutex> lock{sampler_mutex};
      if (sampler_wake.wait_until(lock, next, [&] { return sampler_stop; }))
        break;
      bool idle = phase_idle;
      size_t index = phase_index;
      lock.unlock();
      auto now = clock_type::now();
      auto connections = static_cast<uint32_t>(devtools::count_established_to_port(options.server_port));
      window_peak = std::max(window_peak, connections);
      bool close_window = ++tick % 10 == 0;
      uint64_t all_ops = 0;
      uint64_t all_errors = 0;
      for (size_t l = 0; l < lanes.size(); ++l) {
        auto& result = results[l];
        auto& rec = *recs[l];
        // Tenants every 100 ms while idle (reaping is what is watched then),
        // every second under load (the query itself costs the runtime work).
        if (idle || tick % 10 == 1) {
          tenants[l] = lanes[l].target->active_tenants();
          if (result.counts_tenants && tenants[l] < 0)
            ++result.tenant_count_failures;
        }
        result.samples.push_back({seconds_between(mode_start, now), connections, tenants[l]});
        if (result.connection_cap && connections > *result.connection_cap)
          ++result.samples_over_cap;
        if (!close_window)
          continue;
        window_stats w;
        w.t_s = seconds_between(mode_start, now);
        {
          std::lock_guard<std::mutex> guard{rec.mutex};
          w.ops = rec.window_ops;
          w.errors = rec.window_errors;
          w.p50_us = static_cast<double>(rec.window.quantile_ns(0.5)) / 1000.0;
          w.p99_us = static_cast<double>(rec.window.quantile_ns(0.99)) / 1000.0;
          rec.window.reset();
          rec.window_ops = 0;
          rec.window_errors = 0;
        }
        w.connections_peak = window_peak;
        all_ops += w.ops;
        all_errors += w.errors;
        result.windows.push_back(w);
        result.client_rss_peak_kb = std::max(result.client_rss_peak_kb, rss_kb("self"));
        if (worker_pids[l])
          result.daemon_rss_peak_kb = std::max(result.daemon_rss_peak_kb.value_or(0),
                                               rss_kb(std::to_string(*worker_pids[l])));
      }
      if (close_window) {
        window_peak = 0;
        if (progress && index < s.phases.size())
          std::fprintf(stderr, "\r\033[K%s | phase %s | %.0fs | %llu ops/s | %u connections | "
                               "%llu errors",
                       label.c_str(), s.phases[index].name.c_str(),
                       seconds_between(mode_start, now), static_cast<unsigned long long>(all_ops),
                       connections, static_cast<unsigned long long>(all_errors));
      }
      sampler_cpu_s = thread_cpu_s() - own_cpu_start;
    }
    sampler_cpu_s = thread_cpu_s() - own_cpu_start;
  }};

  for (size_t k = 0; k < s.phases.size(); ++k) {
    const phase& ph = s.phases[k];
    {
      std::lock_guard<std::mutex> guard{sampler_mutex};
      phase_index = k;
      phase_idle = ph.idle();
    }
    auto phase_start = clock_type::now();
    double cpu_start = process_cpu_s() - sampler_cpu_s.load();
    auto phase_end = phase_start + std::chrono::duration_cast<clock_type::duration>(
                                     std::chrono::duration<double>(ph.duration_s));
    if (ph.idle()) {
      // Nothing is sent; the sampler watches the idle sockets and tenants.
      std::unique_lock<std::mutex> lock{sampler_mutex};
      sampler_wake.wait_until(lock, phase_end, [] { return false; });
    } else {
      tenant_picker picker{ph.tenants, ph.tenant_distribution};
      std::vector<std::thread> workers;
      std::atomic<uint64_t> sequence{0};
      for (uint32_t w = 0; w < ph.concurrency; ++w)
        workers.emplace_back([&, w] {
          std::mt19937_64 rng{options.seed * 1000003 + k * 1009 + w};
          std::vector<std::unique_ptr<target_session>> sessions;
          for (size_t l = 0; l < lanes.size(); ++l) {
            try {
              sessions.push_back(lanes[l].target->open_session());
            } catch (const std::exception&) {
              recs[l]->record(op_timing{}, "session_open_failed");
              return;
            }
          }
          // Open-loop pacing: each worker sends at rate/concurrency, its
          // start offset spread so the workers do not fire together.
          send_schedule schedule;
          schedule.end = phase_end;
          if (ph.rate > 0)
            schedule.interval = std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(ph.concurrency / ph.rate));
          schedule.first = phase_start;
          if (schedule.interval)
            schedule.first += *schedule.interval * w / ph.concurrency;
          schedule.think = std::chrono::duration_cast<clock_type::duration>(
            std::chrono::duration<double, std::milli>(ph.think_ms));
          // Lanes take turns, each worker starting at its own: at any moment
          // as many operations go to each lane, so all see the same machine.
          // A skipped slot takes its lane's turn too.
          size_t turn = w;
          size_t l = 0;
          paced_worker worker;
          worker.send = [&] {
            l = turn++ % lanes.size();
            auto tenant = s.tenant_prefix + std::to_string(picker.pick(rng));
            auto op = pick_operation(ph.mix, rng);
            auto cmd = load_command(op, collections[l], rng() % 64, ++sequence);
            return sessions[l]->run(tenant, cmd);
          };
          worker.record = [&](const op_timing& timing, const std::string& error) {
            recs[l]->record(timing, error);
          };
          worker.skipped = [&](uint64_t n) {
            for (uint64_t i = 0; i < n; ++i)
              recs[turn++ % lanes.size()]->skip(1);
          };
          run_paced(schedule, steady_worker_clock(), worker);
        });
      for (auto& t : workers)
        t.join();
    }
    auto phase_end_s = seconds_between(mode_start, clock_type::now());
    double phase_cpu_s = process_cpu_s() - sampler_cpu_s.load() - cpu_start;
    for (size_t l = 0; l < lanes.size(); ++l) {
      phase_result pr;
      pr.name = ph.name;
      pr.idle = ph.idle();
      pr.start_s = seconds_between(mode_start, phase_start);
      pr.end_s = phase_end_s;
      pr.client_cpu_s = phase_cpu_s;
      {
        std::lock_guard<std::mutex> guard{recs[l]->mutex};
        pr.figures = std::move(recs[l]->phase);
        recs[l]->phase = op_figures{};
      }
      results[l].phases.push_back(std::move(pr));
    }
  }
  {
    std::lock_guard<std::mutex> guard{sampler_mutex};
    sampler_stop = true;
  }
  sampler_wake.notify_all();
  sampler.join();
  if (progress)
    std::fprintf(stderr, "\r\033[K");

  auto wall_s = seconds_between(mode_start, clock_type::now());
  auto client_cpu_s = process_cpu_s() - client_cpu_start - sampler_cpu_s.load();
  for (size_t l = 0; l < lanes.size(); ++l) {
    auto& result = results[l];
    result.wall_s = wall_s;
    result.client_cpu_s = client_cpu_s;
    if (worker_pids[l] && daemon_cpu_start[l])
      if (auto end = other_process_cpu_s(*worker_pids[l]))
        result.daemon_cpu_s = *end - *daemon_cpu_start[l];
    summarise_samples(result);
  }
  return results;
}

mode_result run_mode(const scenario& s, const std::string& mode, load_target& target,
                     const run_options& options) {
  return run_together(s, {lane{mode, &target}}, options).front();
}

} // namespace tenantrt::load
