// CPU kernels the libraries do not provide, plus the one GEMM entry point.
// Every buffer is row-major float32; shapes are given beside each argument.
#pragma once
#include <cstdint>

namespace ember::kernels {

// C(m,n) = alpha * op(A) op(B) + beta * C, op = transpose when the flag is set.
// A is (m,k) or (k,m) when transposed; B is (k,n) or (n,k). Goes to BLAS.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c);

// The same with explicit leading dimensions (row-major: elements between consecutive rows).
void gemm_strided(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc);

// db(cols) (+)= sum over rows of dy(rows, cols).
void column_sums(const float* dy, float* db, int64_t rows, int64_t cols, bool accumulate);

// y(n) (+)= x(n).
void add_into(const float* x, float* y, int64_t n, bool accumulate);

// Gather rows: out(count, row_size) = src[order[begin + i]] for i < count; order may be null
// (identity). Copies one batch out of a user's array.
void gather_rows(const float* src, int64_t row_size, const int64_t* order, int64_t begin,
                 int64_t count, float* out);

}  // namespace ember::kernels
