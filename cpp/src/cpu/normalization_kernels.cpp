// Normalization kernels: BatchNormalization's per-channel statistics and passes,
// LayerNormalization over any set of axes, and the Normalization layer's fixed
// (x - mean) / std. Statistics accumulate in double: it costs little at these
// sizes, and the results then agree with XLA's float32 tree reductions to
// rounding. Forward passes keep Keras's order of float operations
// (inv = rstd * gamma; y = x * inv + (beta - mean * inv)), so outputs match it
// to the last bit or two.
#include <cmath>

#include "cpu/parallel.h"
#include "ember/layer_kernels.h"
#include "ember/reducer.h"

namespace ember::kernels {

// ---- BatchNormalization -------------------------------------------------------------------

void channel_moments(const float* x, int64_t m, int64_t channels, int64_t inner, int64_t count,
                     Reducer* reducer, float* mean, float* var, double* work) {
  double* mu = work;             // (channels)
  double* sq = work + channels;  // (channels)
  const double n = static_cast<double>(count);
  for (int64_t c = 0; c < channels; ++c) mu[c] = sq[c] = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float* p = x + (i * channels + c) * inner;
      double s = 0.0;
      for (int64_t k = 0; k < inner; ++k) s += p[k];
      mu[c] += s;
    }
  if (reducer) reducer->allreduce_sum(mu, channels);
  for (int64_t c = 0; c < channels; ++c) mu[c] /= n;
  // A second pass about the mean: no cancellation for data far from zero.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float* p = x + (i * channels + c) * inner;
      double s = 0.0;
      for (int64_t k = 0; k < inner; ++k) {
        const double d = p[k] - mu[c];
        s += d * d;
      }
      sq[c] += s;
    }
  if (reducer) reducer->allreduce_sum(sq, channels);
  for (int64_t c = 0; c < channels; ++c) {
    mean[c] = static_cast<float>(mu[c]);
    var[c] = static_cast<float>(sq[c] / n);
  }
}

void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t m,
                    int64_t channels, int64_t inner, bool accumulate) {
  cpu::parallel_for(m, m * channels * inner, [&](int64_t i) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (i * channels + c) * inner;
      const float a = scale[c], b = shift ? shift[c] : 0.0f;
      if (accumulate)
        for (int64_t k = 0; k < inner; ++k) y[base + k] += x[base + k] * a;
      else
        for (int64_t k = 0; k < inner; ++k) y[base + k] = x[base + k] * a + b;
    }
  });
}

void channel_grad_sums(const float* dy, const float* x, const float* mean, const float* rstd,
                       int64_t m, int64_t channels, int64_t inner, float* sum_dy,
                       float* sum_dy_xhat, double* work) {
  double* s1 = work;             // (channels)
  double* s2 = work + channels;  // (channels)
  for (int64_t c = 0; c < channels; ++c) s1[c] = s2[c] = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (i * channels + c) * inner;
      double a = 0.0, b = 0.0;
      for (int64_t k = 0; k < inner; ++k) {
        a += dy[base + k];
        b += static_cast<double>(dy[base + k]) * (x[base + k] - mean[c]);
      }
      s1[c] += a;
      s2[c] += b;
    }
  for (int64_t c = 0; c < channels; ++c) {
    sum_dy[c] = static_cast<float>(s1[c]);
    sum_dy_xhat[c] = static_cast<float>(s2[c] * rstd[c]);
  }
}

void batch_norm_input_grad(const float* dy, const float* x, const float* mean, const float* rstd,
                           const float* gamma, const float* sum_dy, const float* sum_dy_xhat,
                           int64_t m, int64_t channels, int64_t inner, int64_t count, float* dx,
                           bool accumulate) {
  const float inv_n = 1.0f / static_cast<float>(count);
  cpu::parallel_for(m, m * channels * inner, [&](int64_t i) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (i * channels + c) * inner;
      const float k = (gamma ? gamma[c] : 1.0f) * rstd[c];
      const float mean_dy = sum_dy[c] * inv_n, mean_dy_xhat = sum_dy_xhat[c] * inv_n;
      for (int64_t j = 0; j < inner; ++j) {
        const float xhat = (x[base + j] - mean[c]) * rstd[c];
        const float g = k * (dy[base + j] - mean_dy - xhat * mean_dy_xhat);
        dx[base + j] = accumulate ? dx[base + j] + g : g;
      }
    }
  });
}

// ---- LayerNormalization -------------------------------------------------------------------

void layer_norm_forward(const GroupLayout& layout, int64_t rows, const float* x, const float* gamma,
                        const float* beta, float epsilon, bool rms_scaling, float* y, float* mean,
                        float* rstd) {
  const int64_t d = layout.size, groups = layout.groups;
  cpu::parallel_for(rows * groups, rows * layout.row_size, [&](int64_t rg) {
    const int64_t base = (rg / groups) * layout.row_size + layout.group_offset[rg % groups];
    const int64_t* off = layout.norm_offset;
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += x[base + off[j]];
    const double mu = s / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double t = x[base + off[j]] - mu;
      sq += t * t;
    }
    const float m = static_cast<float>(mu);
    const float r = 1.0f / std::sqrt(static_cast<float>(sq / static_cast<double>(d)) + epsilon);
    mean[rg] = m;
    rstd[rg] = r;
    for (int64_t j = 0; j < d; ++j) {
      const float v = x[base + off[j]];
      float out;
      if (rms_scaling) {
        out = v * r;
        if (gamma) out *= gamma[j];
      } else {
        const float inv = gamma ? r * gamma[j] : r;
        float res = -m * inv;
        if (beta) res += beta[j];
        out = v * inv + res;
      }
      y[base + off[j]] = out;
    }
  });
}

void layer_norm_backward(const GroupLayout& layout, int64_t rows, const float* x, const float* dy,
                         const float* gamma, const float* mean, const float* rstd, bool rms_scaling,
                         float* dx, bool dx_accumulate, float* dgamma, bool dgamma_accumulate,
                         float* dbeta, bool dbeta_accumulate) {
  const int64_t d = layout.size, groups = layout.groups;
  const int64_t* off = layout.norm_offset;
  const double inv_d = 1.0 / static_cast<double>(d);
  auto base_of = [&](int64_t rg) {
    return (rg / groups) * layout.row_size + layout.group_offset[rg % groups];
  };
  if (dx)
    cpu::parallel_for(rows * groups, rows * layout.row_size, [&](int64_t rg) {
      const int64_t base = base_of(rg);
      const double m = mean[rg], r = rstd[rg];
      // Both variants: dx_j = r g_j dy_j - r c (x_j - mean) [- r a] with sums over the group.
      double a = 0.0, b = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double gdy = static_cast<double>(dy[base + off[j]]) * (gamma ? gamma[j] : 1.0f);
        const double xv = x[base + off[j]];
        a += gdy;
        b += gdy * (rms_scaling ? xv : (xv - m) * r);
      }
      for (int64_t j = 0; j < d; ++j) {
        const double gdy = static_cast<double>(dy[base + off[j]]) * (gamma ? gamma[j] : 1.0f);
        const double xc = x[base + off[j]] - m;
        double g;
        if (rms_scaling)
          g = r * gdy - r * r * r * xc * b * inv_d;  // d rstd / dx_k = -rstd^3 (x_k - mean) / d
        else
          g = r * (gdy - a * inv_d - xc * r * b * inv_d);
        float& out = dx[base + off[j]];
        out = dx_accumulate ? out + static_cast<float>(g) : static_cast<float>(g);
      }
    });
  if (!dgamma && !dbeta) return;
  if (dgamma && !dgamma_accumulate)
    for (int64_t j = 0; j < d; ++j) dgamma[j] = 0.0f;
  if (dbeta && !dbeta_accumulate)
    for (int64_t j = 0; j < d; ++j) dbeta[j] = 0.0f;
  for (int64_t rg = 0; rg < rows * groups; ++rg) {
    const int64_t base = base_of(rg);
    const float m = mean[rg], r = rstd[rg];
    for (int64_t j = 0; j < d; ++j) {
      const float g = dy[base + off[j]], xv = x[base + off[j]];
      if (dgamma) dgamma[j] += g * (rms_scaling ? xv * r : (xv - m) * r);
      if (dbeta) dbeta[j] += g;
    }
  }
}

// ---- Normalization --------------------------------------------------------------------------

void normalize_forward(const float* x, const float* mean, const float* denom, const int64_t* index,
                       int64_t rows, int64_t row_size, bool invert, float* y) {
  cpu::parallel_for(rows, rows * row_size, [&](int64_t r) {
    const float* xr = x + r * row_size;
    float* yr = y + r * row_size;
    if (invert)
      for (int64_t p = 0; p < row_size; ++p) yr[p] = mean[index[p]] + xr[p] * denom[index[p]];
    else
      for (int64_t p = 0; p < row_size; ++p) yr[p] = (xr[p] - mean[index[p]]) / denom[index[p]];
  });
}

void normalize_backward(const float* dy, const float* denom, const int64_t* index, int64_t rows,
                        int64_t row_size, bool invert, float* dx, bool accumulate) {
  cpu::parallel_for(rows, rows * row_size, [&](int64_t r) {
    const float* g = dy + r * row_size;
    float* d = dx + r * row_size;
    for (int64_t p = 0; p < row_size; ++p) {
      const float v = invert ? g[p] * denom[index[p]] : g[p] / denom[index[p]];
      d[p] = accumulate ? d[p] + v : v;
    }
  });
}

}  // namespace ember::kernels
