// parallel_for: OpenMP across the cores for big loops, a plain loop otherwise.
// `#pragma omp parallel for if(...)` still enters the OpenMP runtime when the
// condition is false (~0.3 us); tutorial-sized models run thousands of tiny
// loops per second, so small work must not touch it at all.
#pragma once
#include <cstdint>

namespace ember::cpu {

constexpr int64_t kParallelWork = 1 << 15;  // elements below which threads cost more than they save

template <typename F>
void parallel_for(int64_t n, int64_t work, F&& body) {
  if (work < kParallelWork) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace ember::cpu
