#include "cpu/parallel.h"

#include <pthread.h>

#include <atomic>

namespace ember::cpu {
namespace {

std::atomic<bool> team_started{false};     // this process has entered a parallel region
std::atomic<bool> forked_after_team{false};  // ... and is a child forked after that

void on_fork_in_child() {
  if (team_started.load(std::memory_order_relaxed))
    forked_after_team.store(true, std::memory_order_relaxed);
}

const bool fork_handler_registered = [] {
  return pthread_atfork(nullptr, nullptr, on_fork_in_child) == 0;
}();

}  // namespace

bool enter_parallel_region() {
  (void)fork_handler_registered;
  if (forked_after_team.load(std::memory_order_relaxed)) return false;
  if (!team_started.load(std::memory_order_relaxed))
    team_started.store(true, std::memory_order_relaxed);
  return true;
}

}  // namespace ember::cpu
