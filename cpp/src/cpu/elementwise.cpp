// Element-wise CPU kernels: the fused bias+activation epilogue of Dense, the
// activations and their gradients, and the small reductions beside them.
// Large passes split across threads with OpenMP; small ones (the common case
// for tutorial-sized models) stay on one thread, where a fork would cost more
// than the work.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/parallel.h"
#include "ember/activations.h"
#include "ember/kernels.h"

namespace ember {
namespace {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Softmax of one row in place: exp(x - max) / sum, as Keras computes it.
void softmax_row(float* y, int64_t cols) {
  float mx = y[0];
  for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, y[j]);
  float sum = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    y[j] = std::exp(y[j] - mx);
    sum += y[j];
  }
  for (int64_t j = 0; j < cols; ++j) y[j] /= sum;
}

template <typename F>
void for_each_row(int64_t rows, int64_t cols, F&& body) {
  cpu::parallel_for(rows, rows * cols, body);
}

}  // namespace

void activation_forward(Activation act, const float* x, float* y, int64_t rows, int64_t cols) {
  if (x != y) std::memcpy(y, x, static_cast<size_t>(rows * cols) * sizeof(float));
  bias_activation_forward(act, y, nullptr, rows, cols);
}

void bias_activation_forward(Activation act, float* y, const float* bias, int64_t rows,
                             int64_t cols) {
  for_each_row(rows, cols, [&](int64_t r) {
    float* row = y + r * cols;
    if (bias)
      for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
    switch (act) {
      case Activation::Linear: break;
      case Activation::Relu:
        for (int64_t j = 0; j < cols; ++j) row[j] = std::max(row[j], 0.0f);
        break;
      case Activation::Sigmoid:
        for (int64_t j = 0; j < cols; ++j) row[j] = sigmoid(row[j]);
        break;
      case Activation::Tanh:
        for (int64_t j = 0; j < cols; ++j) row[j] = std::tanh(row[j]);
        break;
      case Activation::Softmax: softmax_row(row, cols); break;
    }
  });
}

void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t rows,
                         int64_t cols) {
  for_each_row(rows, cols, [&](int64_t r) {
    const float* yr = y + r * cols;
    const float* g = dy + r * cols;
    float* d = dx + r * cols;
    switch (act) {
      case Activation::Linear:
        if (d != g) std::memcpy(d, g, static_cast<size_t>(cols) * sizeof(float));
        break;
      case Activation::Relu:
        for (int64_t j = 0; j < cols; ++j) d[j] = yr[j] > 0.0f ? g[j] : 0.0f;
        break;
      case Activation::Sigmoid:
        for (int64_t j = 0; j < cols; ++j) d[j] = g[j] * yr[j] * (1.0f - yr[j]);
        break;
      case Activation::Tanh:
        for (int64_t j = 0; j < cols; ++j) d[j] = g[j] * (1.0f - yr[j] * yr[j]);
        break;
      case Activation::Softmax: {
        // dx = y * (dy - sum(dy * y)): the softmax Jacobian applied to dy.
        float dot = 0.0f;
        for (int64_t j = 0; j < cols; ++j) dot += g[j] * yr[j];
        for (int64_t j = 0; j < cols; ++j) d[j] = yr[j] * (g[j] - dot);
        break;
      }
    }
  });
}

namespace kernels {

void column_sums(const float* dy, float* db, int64_t rows, int64_t cols, bool accumulate) {
  if (!accumulate) std::fill(db, db + cols, 0.0f);
  // Row-major walk keeps dy streaming; cols is small next to rows * cols.
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols;
    for (int64_t j = 0; j < cols; ++j) db[j] += row[j];
  }
}

void add_into(const float* x, float* y, int64_t n, bool accumulate) {
  if (!accumulate) {
    std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  cpu::parallel_for(n, n, [=](int64_t i) { y[i] += x[i]; });
}

void gather_rows(const float* src, int64_t row_size, const int64_t* order, int64_t begin,
                 int64_t count, float* out) {
  const auto bytes = static_cast<size_t>(row_size) * sizeof(float);
  if (!order) {
    std::memcpy(out, src + begin * row_size, bytes * static_cast<size_t>(count));
    return;
  }
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(out + i * row_size, src + order[begin + i] * row_size, bytes);
}

}  // namespace kernels
}  // namespace ember
