#pragma once
// A command_backend for actor unit tests: nothing runs until the test
// completes a job by hand, so in-flight states are held as long as needed.
// It also counts open channels, i.e. live tenant actors.

#include <memory>
#include <string>
#include <vector>

#include "runtime/command_backend.hpp"

namespace tenantrt::testing {

class fake_backend : public command_backend {
public:
  struct job {
    std::string tenant; // empty for the main database
    std::string command_json;
    completion done;
    bool finished = false;
  };

  std::shared_ptr<tenant_channel> open(const tenant_target& target, std::string* error) override {
    if (target.cluster == "missing") {
      *error = "cluster 'missing' is not configured";
      return nullptr;
    }
    opened.push_back(target.tenant_id);
    ++open_channels;
    if (open_channels > peak_open_channels)
      peak_open_channels = open_channels;
    return std::make_shared<channel>(this, target);
  }

  void submit_main(std::string command_json, completion done) override {
    jobs.push_back({"", std::move(command_json), std::move(done)});
    if (auto_complete_main)
      finish(jobs.size() - 1, ok_outcome());
  }

  /// Completes job i (its completion enqueues a message; the test then runs).
  void finish(size_t i, result outcome) {
    auto& j = jobs.at(i);
    j.finished = true;
    j.done(std::move(outcome));
  }

  /// Indices of unfinished jobs of a tenant ("" = main database).
  std::vector<size_t> unfinished(const std::string& tenant) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < jobs.size(); ++i)
      if (!jobs[i].finished && jobs[i].tenant == tenant)
        out.push_back(i);
    return out;
  }

  /// Finishes every unfinished job of a tenant successfully; returns how many.
  size_t finish_all(const std::string& tenant, std::chrono::microseconds latency
                                               = std::chrono::microseconds{100}) {
    auto pending = unfinished(tenant);
    for (auto i : pending) {
      auto outcome = ok_outcome();
      outcome.latency = latency;
      finish(i, outcome);
    }
    return pending.size();
  }

  static result ok_outcome() {
    result out;
    out.reply_json = R"({"ok":1.0})";
    out.latency = std::chrono::microseconds{100};
    return out;
  }

  bool auto_complete_main = true;
  std::vector<job> jobs;
  std::vector<std::string> opened;
  std::vector<std::string> closed;
  size_t open_channels = 0;
  size_t peak_open_channels = 0;

private:
  class channel : public tenant_channel {
  public:
    channel(fake_backend* owner, tenant_target target) : owner_(owner), target_(std::move(target)) {}
    ~channel() override {
      --owner_->open_channels;
      owner_->closed.push_back(target_.tenant_id);
    }
    void submit(std::string command_json, completion done) override {
      owner_->jobs.push_back({target_.tenant_id, std::move(command_json), std::move(done)});
    }

  private:
    fake_backend* owner_;
    tenant_target target_;
  };
};

} // namespace tenantrt::testing
