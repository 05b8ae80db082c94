// Regularization kernels: the counter-based random draws of Dropout and
// GaussianNoise, the dropout passes, and the L1/L2 penalties with their
// gradients.
//
// Random numbers come from SplitMix64 indexed by a counter: value i is
// mix(key + (counter + i) * golden), which is exactly the i-th output of a
// SplitMix64 stream (it passes BigCrush). Being a pure function of the index,
// a draw splits across threads in any way and gives the same numbers; ops keep
// a counter that advances by the size of each draw, so no state is shared.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/parallel.h"
#include "ember/element/scalar.h"
#include "ember/kernels.h"
#include "ember/layer_kernels.h"

namespace ember::kernels {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr int64_t kBlock = 4096;  // elements per parallel task

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t draw(uint64_t key, uint64_t index) { return mix64(key + (index + 1) * kGolden); }

// Splits [0, n) into blocks for parallel_for.
template <typename F>
void for_each_block(int64_t n, F&& body) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  cpu::parallel_for(blocks, n, [&](int64_t b) {
    const int64_t begin = b * kBlock;
    body(begin, std::min(n, begin + kBlock));
  });
}

}  // namespace

void bernoulli_mask(uint64_t key, uint64_t counter, int64_t n, float keep_prob, uint8_t* mask) {
  for_each_block(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // 24 random bits: a uniform float in [0, 1) with every value exact.
      const float u =
          static_cast<float>(draw(key, counter + static_cast<uint64_t>(i)) >> 40) * 0x1p-24f;
      mask[i] = u < keep_prob ? 1 : 0;
    }
  });
}

void add_gaussian_noise(const float* x, uint64_t key, uint64_t counter, int64_t n, float stddev,
                        float* y) {
  constexpr double kTwoPi = 6.283185307179586;
  for_each_block(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t bits = draw(key, counter + static_cast<uint64_t>(i));
      // u1 in (0, 1] keeps the log finite; u2 in [0, 1).
      const double u1 = (static_cast<double>(bits >> 32) + 1.0) * 0x1p-32;
      const double u2 = static_cast<double>(bits & 0xFFFFFFFFull) * 0x1p-32;
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
      y[i] = x[i] + stddev * static_cast<float>(z);
    }
  });
}

namespace {

// Calls body(i, k) for every element i of (rows, row_size) with its mask index k.
template <typename F>
void for_each_masked(const MaskLayout& layout, int64_t rows, int64_t row_size, F&& body) {
  if (!layout.index) {
    for_each_block(rows * row_size, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) body(i, i);
    });
    return;
  }
  cpu::parallel_for(rows, rows * row_size, [&](int64_t r) {
    const int64_t mask_base = layout.shared_across_rows ? 0 : r * layout.noise_row;
    for (int64_t p = 0; p < row_size; ++p) body(r * row_size + p, mask_base + layout.index[p]);
  });
}

}  // namespace

void dropout_forward(const float* x, const uint8_t* mask, const MaskLayout& layout, int64_t rows,
                     int64_t row_size, float keep_prob, float* y) {
  if (!layout.index) {
    // One mask value per element: a loop over locals, with every quotient computed and then
    // selected, which the compiler vectorizes (the generic body's conditional load through
    // captured references it does not).
    for_each_block(rows * row_size, [=](int64_t begin, int64_t end) {
      const float* xs = x;
      const uint8_t* m = mask;
      float* ys = y;
      const float kp = keep_prob;
      for (int64_t i = begin; i < end; ++i) {
        const float v = xs[i] / kp;
        ys[i] = m[i] ? v : 0.0f;
      }
    });
    return;
  }
  for_each_masked(layout, rows, row_size,
                  [&](int64_t i, int64_t k) { y[i] = mask[k] ? x[i] / keep_prob : 0.0f; });
}

void dropout_backward(const float* dy, const uint8_t* mask, const MaskLayout& layout, int64_t rows,
                      int64_t row_size, float keep_prob, float* dx, bool accumulate) {
  if (!layout.index) {  // as in dropout_forward
    for_each_block(rows * row_size, [=](int64_t begin, int64_t end) {
      const float* g = dy;
      const uint8_t* m = mask;
      float* d = dx;
      const float kp = keep_prob;
      for (int64_t i = begin; i < end; ++i) {
        const float q = g[i] / kp, v = m[i] ? q : 0.0f;
        d[i] = accumulate ? d[i] + v : v;
      }
    });
    return;
  }
  for_each_masked(layout, rows, row_size, [&](int64_t i, int64_t k) {
    const float g = mask[k] ? dy[i] / keep_prob : 0.0f;
    dx[i] = accumulate ? dx[i] + g : g;
  });
}

double penalty(const float* w, int64_t n, float l1, float l2) {
  double a = 0.0, s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    a += std::fabs(w[i]);
    s += static_cast<double>(w[i]) * w[i];
  }
  return static_cast<double>(l1) * a + static_cast<double>(l2) * s;
}

void add_penalty_gradient(const float* w, int64_t n, float l1, float l2, float* grad) {
  const float two_l2 = 2.0f * l2;
  for_each_block(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) grad[i] += (w[i] >= 0.0f ? l1 : -l1) + two_l2 * w[i];
  });
}

// Keras's OrthogonalRegularizer: N = the n vectors (rows, or columns) of w normalised
// as keras.ops.normalize does (x * min(rsqrt(sum x^2), 1e7)); P = N N^T; penalty =
// factor * 0.5 * sum_{i != j} |P_ij| / (n (n - 1) / 2). Its gradient: dP = k sign(P) off
// the diagonal (jax's |x|' is +1 at 0), dN = (dP + dP^T) N, then back through the
// normalisation. Runs once per step on one weight: plain loops, scratch per call.
double orthogonal_penalty(const float* w, int64_t rows, int64_t cols, bool columns, float factor,
                          float* grad) {
  const int64_t n = columns ? cols : rows, d = columns ? rows : cols;
  const auto at = [&](int64_t i, int64_t k) { return columns ? k * cols + i : i * cols + k; };
  std::vector<float> normed(static_cast<size_t>(n * d)), inv(static_cast<size_t>(n)),
      root(static_cast<size_t>(n)), sq(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float s = 0.0f;
    for (int64_t k = 0; k < d; ++k) s += w[at(i, k)] * w[at(i, k)];
    sq[static_cast<size_t>(i)] = s;
    root[static_cast<size_t>(i)] = 1.0f / std::sqrt(s);
    inv[static_cast<size_t>(i)] = std::min(root[static_cast<size_t>(i)], 1e7f);
    for (int64_t k = 0; k < d; ++k)
      normed[static_cast<size_t>(i * d + k)] = w[at(i, k)] * inv[static_cast<size_t>(i)];
  }
  std::vector<float> product(static_cast<size_t>(n * n));
  gemm(false, true, n, n, d, 1.0f, normed.data(), normed.data(), 0.0f, product.data());
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) total += std::fabs(product[static_cast<size_t>(i * n + j)]);
  const float pairs = static_cast<float>(static_cast<double>(n) * (static_cast<double>(n) - 1.0) / 2.0);
  const float value = ((factor * 0.5f) * total) / pairs;
  if (!grad) return static_cast<double>(value);
  const float k = (factor * 0.5f) / pairs;
  std::vector<float> dp(static_cast<size_t>(n * n), 0.0f), dn(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) {
        const float g = product[static_cast<size_t>(i * n + j)] >= 0.0f ? k : -k;
        dp[static_cast<size_t>(i * n + j)] += g;
        dp[static_cast<size_t>(j * n + i)] += g;  // dP + dP^T
      }
  gemm(false, false, n, d, n, 1.0f, dp.data(), normed.data(), 0.0f, dn.data());
  for (int64_t i = 0; i < n; ++i) {
    const auto ui = static_cast<size_t>(i);
    float dinv = 0.0f;  // d penalty / d inv_i
    for (int64_t k2 = 0; k2 < d; ++k2) dinv += dn[static_cast<size_t>(i * d + k2)] * w[at(i, k2)];
    // inv = min(rsqrt(s), 1e7): d inv / d s = [rsqrt below the cap] * -0.5 rsqrt / s.
    const float ds = dinv * element::min_grad(root[ui], 1e7f) * (-0.5f * (root[ui] / sq[ui]));
    for (int64_t k2 = 0; k2 < d; ++k2)
      grad[at(i, k2)] += dn[static_cast<size_t>(i * d + k2)] * inv[ui] + ds * 2.0f * w[at(i, k2)];
  }
  return static_cast<double>(value);
}

}  // namespace ember::kernels
