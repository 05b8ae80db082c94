// An in-process ember::Reducer for tests: N threads act as N ranks, meeting at a barrier
// and summing each other's buffers, so data-parallel training can be checked without MPI.
// Sums run in rank order, the same on every rank. A rank that does not arrive within the
// timeout, or ranks passing different counts or types, make every waiting rank throw
// instead of hanging the test.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ember/reducer.h"

namespace ember::testing {

class ThreadGroup {
 public:
  explicit ThreadGroup(int ranks) : ranks_(ranks), slots_(static_cast<size_t>(ranks)) {}
  int ranks() const { return ranks_; }

  template <class T>
  void allreduce_sum(int rank, T* data, int64_t count) {
    Slot& mine = slots_[static_cast<size_t>(rank)];
    mine = {data, count, sizeof(T)};
    barrier();  // every rank's buffer published
    for (const Slot& s : slots_)
      if (s.count != count || s.width != sizeof(T))
        fail("thread reducer: the ranks passed different counts or types to one allreduce");
    std::vector<T> sum(static_cast<size_t>(count), T(0));
    for (const Slot& s : slots_) {
      const T* p = static_cast<const T*>(s.data);
      for (int64_t i = 0; i < count; ++i) sum[static_cast<size_t>(i)] += p[i];
    }
    barrier();  // every rank has read every buffer
    std::copy(sum.begin(), sum.end(), data);
  }

 private:
  struct Slot {
    const void* data = nullptr;
    int64_t count = -1;
    size_t width = 0;
  };
  [[noreturn]] static void fail(const std::string& what) { throw std::runtime_error(what); }
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t gen = generation_;
    if (++arrived_ == ranks_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    if (!cv_.wait_for(lock, std::chrono::seconds(60), [&] { return generation_ != gen; }))
      fail("thread reducer: a rank did not reach the collective within 60 s");
  }

  int ranks_;
  std::vector<Slot> slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class ThreadReducer final : public Reducer {
 public:
  ThreadReducer(std::shared_ptr<ThreadGroup> group, int rank)
      : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->ranks(); }
  void allreduce_sum(float* data, int64_t count) override {
    group_->allreduce_sum(rank_, data, count);
  }
  void allreduce_sum(double* data, int64_t count) override {
    group_->allreduce_sum(rank_, data, count);
  }

 private:
  std::shared_ptr<ThreadGroup> group_;
  int rank_;
};

// Runs body(reducer) on `ranks` threads, one rank each; returns each rank's exception
// (null where it finished).
inline std::vector<std::exception_ptr> run_ranks(
    int ranks, const std::function<void(std::shared_ptr<Reducer>)>& body) {
  auto group = std::make_shared<ThreadGroup>(ranks);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        body(std::make_shared<ThreadReducer>(group, r));
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  return errors;
}

}  // namespace ember::testing
