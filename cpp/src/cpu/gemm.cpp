// The engine's only matrix product: everything goes to BLAS (OpenBLAS from the
// scipy-openblas32 wheel, whose symbols carry a scipy_ prefix).
#include <cblas.h>

#include <climits>
#include <cstddef>
#include <thread>
#include <vector>

#include "cpu/parallel.h"
#include "ember/error.h"
#include "ember/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef EMBER_SCIPY_OPENBLAS
#define EMBER_SGEMM scipy_cblas_sgemm
#else
#define EMBER_SGEMM cblas_sgemm
#endif

namespace ember::kernels {
namespace {

#if defined(EMBER_SCIPY_OPENBLAS) && defined(_OPENMP)
// One pool of threads for the whole step. Left to itself, OpenBLAS runs its
// jobs on its own pthreads, which spin for a while after every call; the
// engine's elementwise loops run on OpenMP's threads, which spin too. On a
// machine with as many cores as threads, each pool's spinning steals a core
// from the other's next job. OpenBLAS (0.3.27+) lets the caller run its jobs
// instead: they go to the same OpenMP team as everything else.
//
// OpenBLAS's threaded GEMM synchronizes its jobs with one another, so all of
// them must run at once. An OpenMP team normally has the threads asked for;
// when it cannot (a call from inside a parallel region, a thread limit, a child
// process forked after the team started), the jobs it lacks get threads of their
// own.
extern "C" void run_blas_jobs(int /*sync*/, openblas_dojob_callback dojob, int jobs,
                              size_t job_size, void* job_data, int dojob_data) {
  char* base = static_cast<char*>(job_data);
  auto run = [&](int i) { dojob(i, base + static_cast<size_t>(i) * job_size, dojob_data); };
  auto run_rest_on_new_threads = [&](int first) {
    std::vector<std::thread> extra;
    extra.reserve(static_cast<size_t>(jobs - first));
    for (int i = first; i < jobs; ++i) extra.emplace_back(run, i);
    for (auto& t : extra) t.join();
  };
  if (jobs <= 1) {
    if (jobs == 1) run(0);
    return;
  }
  if (omp_in_parallel() || !cpu::enter_parallel_region()) {
    std::thread first(run, 0);
    run_rest_on_new_threads(1);
    first.join();
    return;
  }
#pragma omp parallel num_threads(jobs)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    if (t == 0 && team < jobs) {
      std::thread rest([&] { run_rest_on_new_threads(team); });
      run(0);
      rest.join();
    } else {
      run(t);
    }
  }
}

void share_threads_with_openblas() {
  static const bool installed = [] {
    scipy_openblas_set_threads_callback_function(run_blas_jobs);
    return true;
  }();
  (void)installed;
}
#else
void share_threads_with_openblas() {}
#endif

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  gemm_strided(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c,
               n);
}

void gemm_strided(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
      ldc > INT_MAX)
    throw ValueError("gemm: dimensions exceed the 32-bit BLAS interface");
  share_threads_with_openblas();
  EMBER_SGEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, lda > 0 ? static_cast<int>(lda) : 1, b,
              ldb > 0 ? static_cast<int>(ldb) : 1, beta, c, static_cast<int>(ldc));
}

}  // namespace ember::kernels
