// The engine's only matrix product: everything goes to BLAS (OpenBLAS from the
// scipy-openblas32 wheel, whose symbols carry a scipy_ prefix).
#include <cblas.h>

#include <climits>

#include "ember/error.h"
#include "ember/kernels.h"
#ifdef EMBER_SCIPY_OPENBLAS
#define EMBER_SGEMM scipy_cblas_sgemm
#else
#define EMBER_SGEMM cblas_sgemm
#endif

namespace ember::kernels {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    throw ValueError("gemm: dimensions exceed the 32-bit BLAS interface");
  const auto lda = static_cast<int>(trans_a ? m : k);
  const auto ldb = static_cast<int>(trans_b ? k : n);
  EMBER_SGEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1, beta, c,
              static_cast<int>(n));
}

}  // namespace ember::kernels
