// parallel_for / parallel_chunks: OpenMP across the cores for big loops, a plain
// loop otherwise. `#pragma omp parallel for if(...)` still enters the OpenMP
// runtime when the condition is false (~0.3 us); tutorial-sized models run
// thousands of tiny loops per second, so small work must not touch it at all.
//
// Both are where the CPU kernels' element-wise loops run, so both run their body through
// EMBER_ISA_DISPATCH (cpu/isa.h): in a portable build each thread's share of the loop is
// compiled for baseline x86-64, AVX2 and AVX-512, and runs as the CPU allows - one choice
// per call and thread, not per element.
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu/isa.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::cpu {

constexpr int64_t kParallelWork = 1 << 15;  // elements below which threads cost more than they save

// Call right before entering an OpenMP parallel region; false means run serially.
// GNU OpenMP's thread pool does not survive fork(): in a child forked after the
// parent's team started, a parallel region waits forever for threads that exist
// only in the parent. Such a child runs its loops on one thread (and its GEMMs'
// jobs on threads of its own); anything else may use OpenMP.
bool enter_parallel_region();

template <typename F>
void parallel_for(int64_t n, int64_t work, F&& body) {
  auto run = [&body](int64_t begin, int64_t end) {
    EMBER_ISA_DISPATCH(for (int64_t i = begin; i < end; ++i) body(i));
  };
  if (work < kParallelWork || !enter_parallel_region()) {
    run(0, n);
    return;
  }
  // schedule(static)'s split: one contiguous range per thread.
#pragma omp parallel
  {
    int64_t t = 0, threads = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    threads = omp_get_num_threads();
#endif
    const int64_t per = (n + threads - 1) / threads;
    const int64_t begin = std::min(n, t * per), end = std::min(n, begin + per);
    if (begin < end) run(begin, end);
  }
}

// body(begin, end) over one contiguous range per thread, boundaries on whole
// cache lines. For streaming kernels that want their own tight inner loop: with
// the range's pointers and scalars in locals the compiler can prove that no
// store aliases them, and vectorizes.
template <typename F>
void parallel_chunks(int64_t n, F&& body) {
  int64_t threads = 1;
#ifdef _OPENMP
  if (n >= kParallelWork) threads = omp_get_max_threads();
#endif
  auto run = [&body](int64_t begin, int64_t end) { EMBER_ISA_DISPATCH(body(begin, end)); };
  if (threads <= 1 || !enter_parallel_region()) {
    run(0, n);
    return;
  }
  constexpr int64_t kAlign = 16;  // floats per 64-byte cache line
  const int64_t per = (n / threads + kAlign - 1) / kAlign * kAlign;
#pragma omp parallel for schedule(static, 1)
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t begin = std::min(n, t * per), end = t + 1 == threads ? n : std::min(n, begin + per);
    if (begin < end) run(begin, end);
  }
}

}  // namespace ember::cpu
