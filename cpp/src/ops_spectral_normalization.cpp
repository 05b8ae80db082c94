#include "ember/ops_spectral_normalization.h"

#include <algorithm>
#include <cmath>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

// Keras's ops.normalize(x, axis=None): x * min(rsqrt(sum(x^2)), 1 / epsilon), epsilon 1e-7.
void normalize(const Context& ctx, float* x, int64_t n) {
  const auto squares = static_cast<float>(ctx.be().sum_of_squares(ctx, x, n));
  const float inv = std::min(1.0f / std::sqrt(squares), 1.0f / 1e-7f);
  ctx.be().scale_gradient(ctx, x, x, n, inv);
}

float read_scalar(const Context& ctx, const float* p) {
  float v = 0.0f;
  ctx.be().copy_to_host(ctx, &v, p, sizeof(float));
  return v;
}

}  // namespace

SpectralNormScaleOp::SpectralNormScaleOp(VariablePtr kernel, VariablePtr vector_u,
                                         int power_iterations)
    : kernel_(std::move(kernel)),
      vector_u_(std::move(vector_u)),
      power_iterations_(power_iterations) {
  if (!kernel_ || !vector_u_) throw ValueError("SpectralNormalization: no kernel or vector_u");
  if (power_iterations_ < 1)
    throw ValueError("`power_iterations` should be greater than zero. Received: " +
                     std::to_string(power_iterations_));
  const Shape& w = kernel_->value.shape();
  if (w.empty()) throw ValueError("SpectralNormalization: the kernel has no axes");
  n_ = w.back();
  m_ = n_ ? num_elements(w) / n_ : 0;
  if (vector_u_->value.shape() != Shape{1, n_})
    throw ValueError("SpectralNormalization: vector_u has shape " +
                     shape_to_string(vector_u_->value.shape()) + ", the kernel " +
                     shape_to_string(w) + " needs (1, " + std::to_string(n_) + ")");
}

Shape SpectralNormScaleOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("SpectralNormalization's scale takes one input");
  in_size_ = num_elements(inputs[0]);
  // One value per row, with the input's rank, so it broadcasts against the wrapped op's
  // output (x @ kernel has x's rank).
  return Shape(std::max<size_t>(inputs[0].size(), 1), 1);
}

std::vector<size_t> SpectralNormScaleOp::scratch_bytes(int64_t) const {
  return {static_cast<size_t>(m_ + 2 * n_ + 3) * sizeof(float)};
}

void SpectralNormScaleOp::forward(const OpForward& f) {
  const Context& ctx = *f.ctx;
  float* v = f.scratch_as<float>(0);
  float *u = v + m_, *vw = u + n_, *sigma = vw + n_, *zero = sigma + 1;
  const float* w = kernel_->value.data();
  const bool skip = !f.training || ctx.be().sum_of_squares(ctx, w, m_ * n_) == 0.0;
  ctx.be().fill(ctx, zero, 1, skip ? 1.0f : 0.0f);
  if (skip) {
    ctx.be().fill(ctx, f.out, f.rows, 1.0f);
    return;
  }
  ctx.be().copy(ctx, u, vector_u_->value.data(), static_cast<size_t>(n_) * sizeof(float));
  for (int i = 0; i < power_iterations_; ++i) {
    ctx.be().gemm(ctx, false, true, 1, m_, n_, 1.0f, u, w, 0.0f, v);  // u W^T
    normalize(ctx, v, m_);
    ctx.be().gemm(ctx, false, false, 1, n_, m_, 1.0f, v, w, 0.0f, u);  // v W
    normalize(ctx, u, n_);
  }
  ctx.be().gemm(ctx, false, false, 1, n_, m_, 1.0f, v, w, 0.0f, vw);
  ctx.be().gemm(ctx, false, true, 1, 1, n_, 1.0f, vw, u, 0.0f, sigma);  // (v W) u^T
  ctx.be().copy(ctx, vector_u_->value.data(), u, static_cast<size_t>(n_) * sizeof(float));
  ctx.be().fill(ctx, f.out, f.rows, 1.0f / read_scalar(ctx, sigma));
}

void SpectralNormScaleOp::backward(const OpBackward& b) {
  const Context& ctx = *b.ctx;
  if (b.din[0] && !b.din_accumulate[0])  // the input only lends its rows
    ctx.be().fill(ctx, b.din[0], b.rows * in_size_, 0.0f);
  float* v = b.scratch_as<float>(0);
  float *u = v + m_, *sigma = u + 2 * n_, *zero = sigma + 1, *sum = zero + 1;
  if (b.dvar.empty() || !b.dvar[0]) return;
  const bool skip = read_scalar(ctx, zero) != 0.0f;
  if (skip) {
    if (!b.dvar_accumulate[0]) ctx.be().fill(ctx, b.dvar[0], m_ * n_, 0.0f);
    return;
  }
  ctx.be().column_sums(ctx, b.dout, sum, b.rows, 1, false);
  const float s = read_scalar(ctx, sigma);
  const float alpha = -read_scalar(ctx, sum) / (s * s);
  ctx.be().gemm(ctx, true, false, m_, n_, 1, alpha, v, u, b.dvar_accumulate[0] ? 1.0f : 0.0f,
                b.dvar[0]);
}

}  // namespace ember
