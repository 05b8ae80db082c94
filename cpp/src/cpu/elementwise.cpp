// Element-wise CPU kernels: the fused bias+activation epilogue of Dense, the
// activations and their gradients, and the small reductions beside them.
// Large passes split across threads with OpenMP; small ones (the common case
// for tutorial-sized models) stay on one thread, where a fork would cost more
// than the work.
//
// Each activation is a small functor: fwd(x) is Keras's formula (jax backend)
// in float32, bwd(g, x, y) is g * act'(x) as jax's autodiff evaluates it
// through that formula, ties at kinks included. The kernels are templates over
// the functor, so the choice of activation is made once per call, not per element.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/parallel.h"
#include "cpu/scalar.h"
#include "ember/activations.h"
#include "ember/kernels.h"

namespace ember {
namespace {

using cpu::sigmoid;
// log(1 + e^x) as jnp.logaddexp(x, 0) computes it.
inline float softplus(float x) { return std::max(x, 0.0f) + std::log1p(std::exp(-std::abs(x))); }
// Derivatives of jnp.maximum(v, c) and jnp.minimum(v, c) in v: jax splits a tie evenly.
inline float d_max(float v, float c) { return v > c ? 1.0f : (v == c ? 0.5f : 0.0f); }
inline float d_min(float v, float c) { return v < c ? 1.0f : (v == c ? 0.5f : 0.0f); }
inline float step(bool b) { return b ? 1.0f : 0.0f; }

// kNeedsX: bwd reads x (the pre-activation); otherwise it is passed 0 and only y counts.
struct Identity {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return x; }
  float bwd(float g, float, float) const { return g; }
};

// max(x, 0); relu'(0) = 0, so the gradient is read off y.
struct Relu {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return std::max(x, 0.0f); }
  float bwd(float g, float, float y) const { return y > 0.0f ? g : 0.0f; }
};

// keras.activations.relu with its parameters, branch for branch as ReLU.static_call:
// leaky_relu when only negative_slope is set; otherwise a thresholded (or relu6,
// or plain) relu, clipped at max_value, minus negative_slope * relu(threshold - x).
struct ReluWithParameters {
  static constexpr bool kNeedsX = true;
  float s, m, t;
  bool leaky_only, relu6, clip;
  explicit ReluWithParameters(const Activation& a)
      : s(a.negative_slope),
        m(a.max_value),
        t(a.threshold),
        leaky_only(s != 0.0f && std::isinf(m) && t == 0.0f),
        relu6(t == 0.0f && m == 6.0f),
        clip(!std::isinf(m) && !relu6) {}
  float fwd(float x) const {
    if (leaky_only) return x >= 0.0f ? x : s * x;
    float v = t != 0.0f ? (x > t ? x : 0.0f)
                        : (relu6 ? std::min(std::max(x, 0.0f), 6.0f) : std::max(x, 0.0f));
    if (clip) v = std::min(std::max(v, 0.0f), m);
    if (s != 0.0f) v -= s * std::max(t - x, 0.0f);
    return v;
  }
  float bwd(float g, float x, float) const {
    if (leaky_only) return x >= 0.0f ? g : g * s;
    float v, d;
    if (t != 0.0f) {
      v = x > t ? x : 0.0f;
      d = step(x > t);
    } else if (relu6) {
      v = std::min(std::max(x, 0.0f), 6.0f);
      d = step(x > 0.0f && x < 6.0f);
    } else {
      v = std::max(x, 0.0f);
      d = step(x > 0.0f);
    }
    if (clip) d *= d_max(v, 0.0f) * d_min(std::max(v, 0.0f), m);
    if (s != 0.0f && t - x > 0.0f) d += s;  // relu'(0) = 0 at x == threshold
    return g * d;
  }
};

struct Relu6 {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return std::min(std::max(x, 0.0f), 6.0f); }
  float bwd(float g, float, float y) const { return y > 0.0f && y < 6.0f ? g : 0.0f; }
};

struct LeakyRelu {
  static constexpr bool kNeedsX = true;
  float s;
  float fwd(float x) const { return x >= 0.0f ? x : s * x; }
  float bwd(float g, float x, float) const { return x >= 0.0f ? g : g * s; }
};

// alpha * expm1(x) below 0; the gradient there, alpha * (expm1(x) + 1), is alpha at x = 0.
struct Elu {
  static constexpr bool kNeedsX = true;
  float alpha, scale;  // selu: elu with fixed alpha, times scale
  float fwd(float x) const { return scale * (x > 0.0f ? x : alpha * std::expm1(x)); }
  float bwd(float g, float x, float) const {
    return x > 0.0f ? g * scale : g * scale * (alpha * (std::expm1(x) + 1.0f));
  }
};

// max(x, 0) + alpha * expm1(min(x, 0) / alpha): the two halves share x = 0.
struct Celu {
  static constexpr bool kNeedsX = true;
  float alpha;
  float fwd(float x) const {
    return std::max(x, 0.0f) + alpha * std::expm1(std::min(x, 0.0f) / alpha);
  }
  float bwd(float g, float x, float) const {
    const float e = std::expm1(std::min(x, 0.0f) / alpha) + 1.0f;
    return g * (d_max(x, 0.0f) + e * d_min(x, 0.0f));
  }
};

struct Sigmoid {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return sigmoid(x); }
  float bwd(float g, float, float y) const { return g * (y * (1.0f - y)); }
};

// relu6(x + 3) / 6.
struct HardSigmoid {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f; }
  float bwd(float g, float x, float) const {
    const float u = x + 3.0f;
    return u > 0.0f && u < 6.0f ? g / 6.0f : 0.0f;
  }
};

// -softplus(-x); the gradient is exp(-x - softplus(-x)) = exp(y - x).
struct LogSigmoid {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return -softplus(-x); }
  float bwd(float g, float x, float y) const { return g * std::exp(-x + y); }
};

// 0.5 * clip(x + 1, 0, 2).
struct SparseSigmoid {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return 0.5f * std::min(std::max(x + 1.0f, 0.0f), 2.0f); }
  float bwd(float g, float x, float) const {
    const float u = x + 1.0f;
    return g * (0.5f * (d_max(u, 0.0f) * d_min(std::max(u, 0.0f), 2.0f)));
  }
};

struct Tanh {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return std::tanh(x); }
  float bwd(float g, float, float y) const { return (g + g * y) * (1.0f - y); }
};

// x above 1 and below -1 is clamped; inside, including both ends, the slope is 1.
struct HardTanh {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x); }
  float bwd(float g, float x, float) const { return x > 1.0f || x < -1.0f ? 0.0f : g; }
};

struct TanhShrink {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x - std::tanh(x); }
  float bwd(float g, float x, float) const {
    const float t = std::tanh(x);
    return g - (g + g * t) * (1.0f - t);
  }
};

// The gradient sigmoid(x) = exp(x - y) = 1 - exp(-y): -expm1(-y) is exact to
// rounding over the whole range, so x need not be kept.
struct Softplus {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return softplus(x); }
  float bwd(float g, float, float y) const { return g * -std::expm1(-y); }
};

// 0 up to -1, (x + 1)^2 / 4 between, x from 1 on.
struct SparsePlus {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const {
    if (x <= -1.0f) return 0.0f;
    if (x >= 1.0f) return x;
    const float u = x + 1.0f;
    return u * u / 4.0f;
  }
  float bwd(float g, float x, float) const {
    if (x <= -1.0f) return 0.0f;
    if (x >= 1.0f) return g;
    return g * (2.0f * (x + 1.0f)) / 4.0f;
  }
};

// (x + sqrt(x^2 + b)) / 2.
struct Squareplus {
  static constexpr bool kNeedsX = true;
  float b;
  float fwd(float x) const { return (x + std::sqrt(x * x + b)) / 2.0f; }
  float bwd(float g, float x, float) const { return g * (1.0f + x / std::sqrt(x * x + b)) / 2.0f; }
};

// x / (|x| + 1); the gradient 1 / (|x| + 1)^2 would lose its digits as 1 - |y|.
struct Softsign {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x / (std::abs(x) + 1.0f); }
  float bwd(float g, float x, float) const {
    const float u = std::abs(x) + 1.0f;
    return g / (u * u);
  }
};

// x * sigmoid(x).
struct Silu {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x * sigmoid(x); }
  float bwd(float g, float x, float) const {
    const float s = sigmoid(x);
    return g * s + x * (g * (s * (1.0f - s)));
  }
};

// x * hard_sigmoid(x).
struct HardSilu {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x * HardSigmoid{}.fwd(x); }
  float bwd(float g, float x, float) const {
    return g * HardSigmoid{}.fwd(x) + x * HardSigmoid{}.bwd(g, x, 0.0f);
  }
};

// Exact: x/2 * erfc(-x / sqrt(2)). Approximate: x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct Gelu {
  static constexpr bool kNeedsX = true;
  static constexpr float kSqrtHalf = 0.70710678118654752f;
  static constexpr float kSqrt2OverPi = 0.79788456080286536f;
  static constexpr float kTwoOverSqrtPi = 1.12837916709551257f;
  static constexpr float kCubic = 0.044715f;
  bool approximate;
  float fwd(float x) const {
    if (approximate)
      return x * (0.5f * (1.0f + std::tanh(kSqrt2OverPi * (x + kCubic * (x * x * x)))));
    return 0.5f * x * std::erfc(-x * kSqrtHalf);
  }
  float bwd(float g, float x, float) const {
    if (approximate) {
      const float t = std::tanh(kSqrt2OverPi * (x + kCubic * (x * x * x)));
      const float cdf = 0.5f * (1.0f + t);
      const float dt = (1.0f + t) * (1.0f - t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * (x * x));
      return g * cdf + x * (g * 0.5f * dt);
    }
    const float u = -x * kSqrtHalf;
    return g * (0.5f * std::erfc(u)) +
           0.5f * x * (g * kTwoOverSqrtPi * std::exp(-u * u) * kSqrtHalf);
  }
};

// x * tanh(softplus(x)).
struct Mish {
  static constexpr bool kNeedsX = true;
  float fwd(float x) const { return x * std::tanh(softplus(x)); }
  float bwd(float g, float x, float) const {
    const float sp = softplus(x), t = std::tanh(sp);
    return g * t + x * (g * ((1.0f + t) * (1.0f - t)) * std::exp(x - sp));
  }
};

struct Exponential {
  static constexpr bool kNeedsX = false;
  float fwd(float x) const { return std::exp(x); }
  float bwd(float g, float, float y) const { return g * y; }
};

// x where |x| > threshold, 0 elsewhere.
struct HardShrink {
  static constexpr bool kNeedsX = true;
  float t;
  float fwd(float x) const { return std::abs(x) > t ? x : 0.0f; }
  float bwd(float g, float x, float) const { return std::abs(x) > t ? g : 0.0f; }
};

// x - threshold above it, x + threshold below -threshold, 0 between.
struct SoftShrink {
  static constexpr bool kNeedsX = true;
  float t;
  float fwd(float x) const { return x > t ? x - t : (x < -t ? x + t : 0.0f); }
  float bwd(float g, float x, float) const { return x > t || x < -t ? g : 0.0f; }
};

// Calls visit(functor) with the element-wise functor of act (not softmax-like).
template <typename Visit>
void visit_elementwise(const Activation& a, Visit&& visit) {
  constexpr float kSeluAlpha = 1.67326324235437728f, kSeluScale = 1.05070098735548049f;
  switch (a.kind) {
    case ActivationKind::Linear: return visit(Identity{});
    case ActivationKind::Relu:
      if (activation_backward_needs_input(a)) return visit(ReluWithParameters(a));
      return visit(Relu{});
    case ActivationKind::Relu6: return visit(Relu6{});
    case ActivationKind::LeakyRelu: return visit(LeakyRelu{a.negative_slope});
    case ActivationKind::Elu: return visit(Elu{a.alpha, 1.0f});
    case ActivationKind::Selu: return visit(Elu{kSeluAlpha, kSeluScale});
    case ActivationKind::Celu: return visit(Celu{a.alpha});
    case ActivationKind::Sigmoid: return visit(Sigmoid{});
    case ActivationKind::HardSigmoid: return visit(HardSigmoid{});
    case ActivationKind::LogSigmoid: return visit(LogSigmoid{});
    case ActivationKind::SparseSigmoid: return visit(SparseSigmoid{});
    case ActivationKind::Tanh: return visit(Tanh{});
    case ActivationKind::HardTanh: return visit(HardTanh{});
    case ActivationKind::TanhShrink: return visit(TanhShrink{});
    case ActivationKind::Softplus: return visit(Softplus{});
    case ActivationKind::SparsePlus: return visit(SparsePlus{});
    case ActivationKind::Squareplus: return visit(Squareplus{a.b});
    case ActivationKind::Softsign: return visit(Softsign{});
    case ActivationKind::Silu: return visit(Silu{});
    case ActivationKind::HardSilu: return visit(HardSilu{});
    case ActivationKind::Gelu: return visit(Gelu{a.approximate});
    case ActivationKind::Mish: return visit(Mish{});
    case ActivationKind::Exponential: return visit(Exponential{});
    case ActivationKind::HardShrink: return visit(HardShrink{a.threshold});
    case ActivationKind::SoftShrink: return visit(SoftShrink{a.threshold});
    case ActivationKind::Softmax:
    case ActivationKind::LogSoftmax: break;
  }
}

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
  visit_elementwise(act, [&](const auto& f) { map_rows(f, x, nullptr, y, nullptr, rows, cols); });
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
  visit_elementwise(act, [&](const auto& f) { map_rows(f, y, bias, y, z, rows, cols); });
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
  visit_elementwise(act, [&](const auto& f) {
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
    for (int64_t j = 0; j < row_size; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : alpha[index[j]] * xr[j];
  });
}

void prelu_backward(const float* x, const float* alpha, const int64_t* index, const float* dy,
                    float* dx, bool dx_accumulate, float* dalpha, bool dalpha_accumulate,
                    int64_t rows, int64_t row_size, int64_t alpha_size) {
  if (dx)
    for_each_row(rows, row_size, [&](int64_t r) {
      const int64_t o = r * row_size;
      for (int64_t j = 0; j < row_size; ++j) {
        const float v = x[o + j];
        const float d = v > 0.0f ? dy[o + j] : (v < 0.0f ? dy[o + j] * alpha[index[j]] : 0.0f);
        dx[o + j] = dx_accumulate ? dx[o + j] + d : d;
      }
    });
  if (!dalpha) return;
  if (!dalpha_accumulate) std::fill(dalpha, dalpha + alpha_size, 0.0f);
  // Row by row keeps x and dy streaming; several values may share one alpha.
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * row_size;
    for (int64_t j = 0; j < row_size; ++j) dalpha[index[j]] += dy[o + j] * std::min(x[o + j], 0.0f);
  }
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
