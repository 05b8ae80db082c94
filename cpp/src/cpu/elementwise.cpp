// Element-wise CPU kernels: the fused bias+activation epilogue of Dense, the
// activations and their gradients, and the small reductions beside them.
// Large passes split across threads with OpenMP; small ones (the common case
// for tutorial-sized models) stay on one thread, where a fork would cost more
// than the work.
//
// The per-element math is ember/element/activation.h's functors, shared with
// the CUDA backend: the kernels here are loops over them, templates over the
// functor, so the choice of activation is made once per call, not per element.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/parallel.h"
#include "ember/activations.h"
#include "ember/element/activation.h"
#include "ember/kernels.h"

namespace ember {
namespace {

template <typename F>
void for_each_row(int64_t rows, int64_t cols, F&& body) {
  cpu::parallel_for(rows, rows * cols, body);
}

// out = f(in + bias) over one row of n; z, when given, keeps in + bias. in may alias out.
template <bool kBias, bool kKeep, typename F>
void map_row(const F& f, const float* in, const float* bias, float* out, float* z, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    float v = in[j];
    if constexpr (kBias) v += bias[j];
    if constexpr (kKeep) z[j] = v;
    out[j] = f.fwd(v);
  }
}

template <typename F>
void map_rows(const F& f, const float* in, const float* bias, float* out, float* z, int64_t rows,
              int64_t cols) {
  for_each_row(rows, cols, [&](int64_t r) {
    const float* i = in + r * cols;
    float* o = out + r * cols;
    float* zr = z ? z + r * cols : nullptr;
    if (bias) {
      if (z)
        map_row<true, true>(f, i, bias, o, zr, cols);
      else
        map_row<true, false>(f, i, bias, o, zr, cols);
    } else {
      if (z)
        map_row<false, true>(f, i, bias, o, zr, cols);
      else
        map_row<false, false>(f, i, bias, o, zr, cols);
    }
  });
}

// Softmax (log: log_softmax) of one group of n values: in[off[i]] -> out[off[i]],
// off null for a contiguous row. exp(x - max) / sum as jax.nn.softmax; log_softmax
// as (x - max) - log(sum(exp(x - max))). in may alias out.
void softmax_group(bool log, const float* in, float* out, const int64_t* off, int64_t n) {
  if (n <= 0) return;
  auto at = [off](int64_t i) { return off ? off[i] : i; };
  float mx = in[at(0)];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, in[at(i)]);
  float sum = 0.0f;
  if (log) {
    for (int64_t i = 0; i < n; ++i) sum += std::exp(in[at(i)] - mx);
    const float lse = std::log(sum);
    for (int64_t i = 0; i < n; ++i) out[at(i)] = (in[at(i)] - mx) - lse;
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    out[at(i)] = std::exp(in[at(i)] - mx);
    sum += out[at(i)];
  }
  for (int64_t i = 0; i < n; ++i) out[at(i)] /= sum;
}

// softmax: dx = y * (dy - sum(dy * y)), the Jacobian applied to dy.
// log_softmax: dx = dy - softmax * sum(dy), softmax being exp(y).
void softmax_group_backward(bool log, const float* y, const float* dy, float* dx,
                            const int64_t* off, int64_t n) {
  auto at = [off](int64_t i) { return off ? off[i] : i; };
  float dot = 0.0f;
  if (log) {
    for (int64_t i = 0; i < n; ++i) dot += dy[at(i)];
    for (int64_t i = 0; i < n; ++i) dx[at(i)] = dy[at(i)] - std::exp(y[at(i)]) * dot;
    return;
  }
  for (int64_t i = 0; i < n; ++i) dot += dy[at(i)] * y[at(i)];
  for (int64_t i = 0; i < n; ++i) dx[at(i)] = y[at(i)] * (dy[at(i)] - dot);
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  for_each_row(rows, cols, [&](int64_t r) {
    float* row = y + r * cols;
    for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
  });
}

}  // namespace

void activation_forward(const Activation& act, const float* x, float* y, int64_t rows,
                        int64_t cols) {
  if (act.is_normalization()) {
    const bool log = act.kind == ActivationKind::LogSoftmax;
    for_each_row(rows, cols,
                 [&](int64_t r) { softmax_group(log, x + r * cols, y + r * cols, nullptr, cols); });
    return;
  }
  element::activation::visit(
      act, [&](const auto& f) { map_rows(f, x, nullptr, y, nullptr, rows, cols); });
}

void bias_activation_forward(const Activation& act, float* y, const float* bias, float* z,
                             int64_t rows, int64_t cols) {
  if (act.is_linear() && !z) {
    if (bias) add_bias(y, bias, rows, cols);
    return;
  }
  if (act.is_normalization()) {
    const bool log = act.kind == ActivationKind::LogSoftmax;
    for_each_row(rows, cols, [&](int64_t r) {
      float* row = y + r * cols;
      if (bias)
        for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
      if (z) std::memcpy(z + r * cols, row, static_cast<size_t>(cols) * sizeof(float));
      softmax_group(log, row, row, nullptr, cols);
    });
    return;
  }
  element::activation::visit(act, [&](const auto& f) { map_rows(f, y, bias, y, z, rows, cols); });
}

void activation_backward(const Activation& act, const float* x, const float* y, const float* dy,
                         float* dx, int64_t rows, int64_t cols) {
  if (act.is_normalization()) {
    const bool log = act.kind == ActivationKind::LogSoftmax;
    for_each_row(rows, cols, [&](int64_t r) {
      const int64_t o = r * cols;
      softmax_group_backward(log, y + o, dy + o, dx + o, nullptr, cols);
    });
    return;
  }
  element::activation::visit(act, [&](const auto& f) {
    using F = std::decay_t<decltype(f)>;
    for_each_row(rows, cols, [&](int64_t r) {
      const int64_t o = r * cols;
      const float *yr = y + o, *g = dy + o;
      float* d = dx + o;
      if constexpr (F::kNeedsX) {
        const float* xr = x + o;
        for (int64_t j = 0; j < cols; ++j) d[j] = f.bwd(g[j], xr[j], yr[j]);
      } else {
        for (int64_t j = 0; j < cols; ++j) d[j] = f.bwd(g[j], 0.0f, yr[j]);
      }
    });
  });
}

void softmax_forward_axes(bool log, const float* x, float* y, int64_t samples, int64_t row_size,
                          const int64_t* kept, const int64_t* reduced, int64_t n) {
  const int64_t groups = n ? row_size / n : 0;
  cpu::parallel_for(samples * groups, samples * row_size, [&](int64_t i) {
    const int64_t base = (i / groups) * row_size + kept[i % groups];
    softmax_group(log, x + base, y + base, reduced, n);
  });
}

void softmax_backward_axes(bool log, const float* y, const float* dy, float* dx, int64_t samples,
                           int64_t row_size, const int64_t* kept, const int64_t* reduced,
                           int64_t n) {
  const int64_t groups = n ? row_size / n : 0;
  cpu::parallel_for(samples * groups, samples * row_size, [&](int64_t i) {
    const int64_t base = (i / groups) * row_size + kept[i % groups];
    softmax_group_backward(log, y + base, dy + base, dx + base, reduced, n);
  });
}

void prelu_forward(const float* x, const float* alpha, const int64_t* index, float* y, int64_t rows,
                   int64_t row_size) {
  for_each_row(rows, row_size, [&](int64_t r) {
    const float* xr = x + r * row_size;
    float* yr = y + r * row_size;
    for (int64_t j = 0; j < row_size; ++j)
      yr[j] = element::activation::prelu(xr[j], alpha[index[j]]);
  });
}

void prelu_backward(const float* x, const float* alpha, const int64_t* index, const float* dy,
                    float* dx, bool dx_accumulate, float* dalpha, bool dalpha_accumulate,
                    int64_t rows, int64_t row_size, int64_t alpha_size) {
  if (dx)
    for_each_row(rows, row_size, [&](int64_t r) {
      const int64_t o = r * row_size;
      for (int64_t j = 0; j < row_size; ++j) {
        const float d = element::activation::prelu_grad_x(dy[o + j], x[o + j], alpha[index[j]]);
        dx[o + j] = dx_accumulate ? dx[o + j] + d : d;
      }
    });
  if (!dalpha) return;
  if (!dalpha_accumulate) std::fill(dalpha, dalpha + alpha_size, 0.0f);
  // Row by row keeps x and dy streaming; several values may share one alpha.
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * row_size;
    for (int64_t j = 0; j < row_size; ++j)
      dalpha[index[j]] += element::activation::prelu_grad_alpha(dy[o + j], x[o + j]);
  }
}

namespace kernels {

void column_sums(const float* dy, float* db, int64_t rows, int64_t cols, bool accumulate) {
  if (!accumulate) std::fill(db, db + cols, 0.0f);
  // Row-major walk keeps dy streaming; cols is small next to rows * cols.
  EMBER_ISA_DISPATCH(for (int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols;
    for (int64_t j = 0; j < cols; ++j) db[j] += row[j];
  });
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
