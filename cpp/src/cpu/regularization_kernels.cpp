// Regularization kernels: the counter-based random draws of Dropout and
// GaussianNoise, the dropout passes, and the L1/L2 penalties with their
// gradients.
//
// Random numbers come from SplitMix64 indexed by a counter: value i is
// mix(key + (counter + i) * golden), which is exactly the i-th output of a
// SplitMix64 stream (it passes BigCrush). Being a pure function of the index,
// a draw splits across threads in any way and gives the same numbers; ops keep
// a counter that advances by the size of each draw, so no state is shared.
#include <cmath>

#include "cpu/parallel.h"
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

}  // namespace ember::kernels
