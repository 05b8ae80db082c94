// The CPU backend: the Backend interface on this folder's kernels. Most entries
// hand their arguments to the kernel of the same name; the few with no kernel
// file of their own (copies, BatchNormalization's per-channel arithmetic) are here.
#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu/parallel.h"
#include "ember/kernels.h"

namespace ember::cpu {

void* HostAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  constexpr size_t kAlign = 64;
  void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  if (!p) throw std::bad_alloc();
  return p;
}

void HostAllocator::deallocate(void* p, size_t /*bytes*/) noexcept { std::free(p); }

void CpuBackend::copy(const Context&, void* dst, const void* src, size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
}
void CpuBackend::zero(const Context&, void* dst, size_t bytes) {
  if (bytes) std::memset(dst, 0, bytes);
}
void CpuBackend::fill(const Context&, float* dst, int64_t n, float value) {
  for (int64_t i = 0; i < n; ++i) dst[i] = value;
}
void CpuBackend::copy_from_host(const Context&, void* dst, const void* host, size_t bytes) {
  if (bytes) std::memmove(dst, host, bytes);
}
void CpuBackend::copy_to_host(const Context&, void* host, const void* src, size_t bytes) {
  if (bytes) std::memmove(host, src, bytes);
}

void CpuBackend::normalize_denominator(const Context&, const float* variance, int64_t n,
                                       float* denom) {
  for (int64_t k = 0; k < n; ++k) denom[k] = std::max(std::sqrt(variance[k]), 1e-7f);
}

// recurrent layers (issue 11)
void CpuBackend::gemm_ld(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float beta, float* c, int64_t ldc) {
  kernels::gemm_ld(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void CpuBackend::gemm_batched(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n,
                              int64_t k, float alpha, const float* a, int64_t stride_a,
                              const float* b, int64_t stride_b, float beta, float* c,
                              int64_t stride_c, int64_t batch) {
  // One BLAS call per matrix: each already runs on the pool's threads.
  for (int64_t i = 0; i < batch; ++i)
    kernels::gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, b + i * stride_b, beta,
                  c + i * stride_c);
}

void CpuBackend::take_every(const Context&, const float* src, int64_t stride, int64_t n,
                            float* dst) {
  for (int64_t r = 0; r < n; ++r) dst[r] = src[r * stride];
}

void CpuBackend::spread_rows(const Context&, float* w, int64_t rows, int64_t entries) {
  // From the back, so nothing unread is overwritten (row r's entries start at r * entries >= r).
  for (int64_t r = rows - 1; r >= 0; --r) std::fill(w + r * entries, w + (r + 1) * entries, w[r]);
}

void CpuBackend::weighted_sum(const Context&, const float* v, const float* w, int64_t rows,
                              int64_t k, double* sum, double* weight_sum) {
  double s = 0.0, ws = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const double wr = w ? w[r] : 1.0;
    for (int64_t j = 0; j < k; ++j) s += wr * v[r * k + j];
    ws += wr * static_cast<double>(k);
  }
  *sum = s;
  *weight_sum = ws;
}

void CpuBackend::fill_row_scales(const Context&, float* g, const float* w, int64_t rows, int64_t k,
                                 double weight, double divisor) {
  for (int64_t r = 0; r < rows; ++r) {
    const auto scale = static_cast<float>(weight * (w ? w[r] : 1.0) / divisor);
    std::fill(g + r * k, g + (r + 1) * k, scale);
  }
}

void CpuBackend::metric_update(const Context&, Metric& metric, const float* pred,
                               const float* target, const float* sample_weight, int64_t rows,
                               int64_t cols, int64_t weight_cols) {
  metric.update(pred, target, sample_weight, rows, cols, weight_cols);
}

void CpuBackend::batch_norm_update_moving(const Context&, const float* mean, const float* var,
                                          float* moving_mean, float* moving_var, int64_t channels,
                                          float momentum, float one_minus_momentum) {
  for (int64_t c = 0; c < channels; ++c) {
    moving_mean[c] = moving_mean[c] * momentum + mean[c] * one_minus_momentum;
    moving_var[c] = moving_var[c] * momentum + var[c] * one_minus_momentum;
  }
}

void CpuBackend::batch_norm_scale_shift(const Context&, const float* mean, const float* var,
                                        const float* gamma, const float* beta, float epsilon,
                                        int64_t channels, float* rstd, float* scale, float* shift) {
  for (int64_t c = 0; c < channels; ++c) {
    rstd[c] = 1.0f / std::sqrt(var[c] + epsilon);
    scale[c] = gamma ? rstd[c] * gamma[c] : rstd[c];
    shift[c] = -mean[c] * scale[c];
    if (beta) shift[c] += beta[c];
  }
}

void CpuBackend::gemm(const Context&, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float* a, const float* b, float beta, float* c) {
  kernels::gemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

void CpuBackend::bias_activation_forward(const Context&, const Activation& act, float* y,
                                         const float* bias, float* z, int64_t rows, int64_t cols) {
  ember::bias_activation_forward(act, y, bias, z, rows, cols);
}

void CpuBackend::column_sums(const Context&, const float* dy, float* db, int64_t rows, int64_t cols,
                             bool accumulate) {
  kernels::column_sums(dy, db, rows, cols, accumulate);
}

void CpuBackend::activation_forward(const Context&, const Activation& act, const float* x, float* y,
                                    int64_t rows, int64_t cols) {
  ember::activation_forward(act, x, y, rows, cols);
}

void CpuBackend::activation_backward(const Context&, const Activation& act, const float* x,
                                     const float* y, const float* dy, float* dx, int64_t rows,
                                     int64_t cols) {
  ember::activation_backward(act, x, y, dy, dx, rows, cols);
}

void CpuBackend::softmax_forward_axes(const Context&, bool log, const float* x, float* y,
                                      int64_t samples, int64_t row_size, const int64_t* kept,
                                      const int64_t* reduced, int64_t n) {
  ember::softmax_forward_axes(log, x, y, samples, row_size, kept, reduced, n);
}

void CpuBackend::softmax_backward_axes(const Context&, bool log, const float* y, const float* dy,
                                       float* dx, int64_t samples, int64_t row_size,
                                       const int64_t* kept, const int64_t* reduced, int64_t n) {
  ember::softmax_backward_axes(log, y, dy, dx, samples, row_size, kept, reduced, n);
}

void CpuBackend::prelu_forward(const Context&, const float* x, const float* alpha,
                               const int64_t* index, float* y, int64_t rows, int64_t row_size) {
  ember::prelu_forward(x, alpha, index, y, rows, row_size);
}

void CpuBackend::prelu_backward(const Context&, const float* x, const float* alpha,
                                const int64_t* index, const float* dy, float* dx,
                                bool dx_accumulate, float* dalpha, bool dalpha_accumulate,
                                int64_t rows, int64_t row_size, int64_t alpha_size) {
  ember::prelu_backward(x, alpha, index, dy, dx, dx_accumulate, dalpha, dalpha_accumulate, rows,
                        row_size, alpha_size);
}

void CpuBackend::add_into(const Context&, const float* x, float* y, int64_t n, bool accumulate) {
  kernels::add_into(x, y, n, accumulate);
}

void CpuBackend::gather_rows(const Context&, const float* src, int64_t row_size,
                             const int64_t* order, int64_t begin, int64_t count, float* out) {
  kernels::gather_rows(src, row_size, order, begin, count, out);
}

void CpuBackend::channel_moments(const Context& ctx, const float* x, int64_t m, int64_t channels,
                                 int64_t inner, int64_t count, float* mean, float* var,
                                 double* work) {
  kernels::channel_moments(x, m, channels, inner, count, ctx.reducer, mean, var, work);
}

void CpuBackend::channel_affine(const Context&, const float* x, const float* scale,
                                const float* shift, float* y, int64_t m, int64_t channels,
                                int64_t inner, bool accumulate) {
  kernels::channel_affine(x, scale, shift, y, m, channels, inner, accumulate);
}

void CpuBackend::channel_grad_sums(const Context&, const float* dy, const float* x,
                                   const float* mean, const float* rstd, int64_t m,
                                   int64_t channels, int64_t inner, float* sum_dy,
                                   float* sum_dy_xhat, double* work) {
  kernels::channel_grad_sums(dy, x, mean, rstd, m, channels, inner, sum_dy, sum_dy_xhat, work);
}

void CpuBackend::batch_norm_input_grad(const Context&, const float* dy, const float* x,
                                       const float* mean, const float* rstd, const float* gamma,
                                       const float* sum_dy, const float* sum_dy_xhat, int64_t m,
                                       int64_t channels, int64_t inner, int64_t count, float* dx,
                                       bool accumulate) {
  kernels::batch_norm_input_grad(dy, x, mean, rstd, gamma, sum_dy, sum_dy_xhat, m, channels, inner,
                                 count, dx, accumulate);
}

void CpuBackend::layer_norm_forward(const Context&, const kernels::GroupLayout& layout,
                                    int64_t rows, const float* x, const float* gamma,
                                    const float* beta, float epsilon, bool rms_scaling, float* y,
                                    float* mean, float* rstd) {
  kernels::layer_norm_forward(layout, rows, x, gamma, beta, epsilon, rms_scaling, y, mean, rstd);
}

void CpuBackend::layer_norm_backward(const Context&, const kernels::GroupLayout& layout,
                                     int64_t rows, const float* x, const float* dy,
                                     const float* gamma, const float* mean, const float* rstd,
                                     bool rms_scaling, float* dx, bool dx_accumulate, float* dgamma,
                                     bool dgamma_accumulate, float* dbeta, bool dbeta_accumulate) {
  kernels::layer_norm_backward(layout, rows, x, dy, gamma, mean, rstd, rms_scaling, dx,
                               dx_accumulate, dgamma, dgamma_accumulate, dbeta, dbeta_accumulate);
}

void CpuBackend::normalize_forward(const Context&, const float* x, const float* mean,
                                   const float* denom, const int64_t* index, int64_t rows,
                                   int64_t row_size, bool invert, float* y) {
  kernels::normalize_forward(x, mean, denom, index, rows, row_size, invert, y);
}

void CpuBackend::normalize_backward(const Context&, const float* dy, const float* denom,
                                    const int64_t* index, int64_t rows, int64_t row_size,
                                    bool invert, float* dx, bool accumulate) {
  kernels::normalize_backward(dy, denom, index, rows, row_size, invert, dx, accumulate);
}

void CpuBackend::bernoulli_mask(const Context&, uint64_t key, uint64_t counter, int64_t n,
                                float keep_prob, uint8_t* mask) {
  kernels::bernoulli_mask(key, counter, n, keep_prob, mask);
}

void CpuBackend::add_gaussian_noise(const Context&, const float* x, uint64_t key, uint64_t counter,
                                    int64_t n, float stddev, float* y) {
  kernels::add_gaussian_noise(x, key, counter, n, stddev, y);
}

void CpuBackend::dropout_forward(const Context&, const float* x, const uint8_t* mask,
                                 const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                                 float keep_prob, float* y) {
  kernels::dropout_forward(x, mask, layout, rows, row_size, keep_prob, y);
}

void CpuBackend::dropout_backward(const Context&, const float* dy, const uint8_t* mask,
                                  const kernels::MaskLayout& layout, int64_t rows, int64_t row_size,
                                  float keep_prob, float* dx, bool accumulate) {
  kernels::dropout_backward(dy, mask, layout, rows, row_size, keep_prob, dx, accumulate);
}

void CpuBackend::apply_weight_constraint(const Context&, float* w, const WeightConstraint& c) {
  kernels::apply_weight_constraint(w, c);
}

double CpuBackend::penalty(const Context&, const float* w, int64_t n, float l1, float l2) {
  return kernels::penalty(w, n, l1, l2);
}

double CpuBackend::orthogonal_penalty(const Context&, const float* w, int64_t rows, int64_t cols,
                                      bool columns, float factor, float* grad) {
  return kernels::orthogonal_penalty(w, rows, cols, columns, factor, grad);
}

void CpuBackend::add_penalty_gradient(const Context&, const float* w, int64_t n, float l1, float l2,
                                      float* grad) {
  kernels::add_penalty_gradient(w, n, l1, l2, grad);
}

double CpuBackend::loss_forward_backward(const Context&, const LossSpec& spec, const float* pred,
                                         const float* target, const float* sample_weight,
                                         int64_t rows, int64_t cols, float grad_scale, float* dpred,
                                         float* per_sample) {
  return ember::loss_forward_backward(spec, pred, target, sample_weight, rows, cols, grad_scale,
                                      dpred, per_sample);
}

void CpuBackend::sgd_update(const Context&, float* param, const float* grad, float* momentum_buf,
                            int64_t n, float lr, double momentum, bool nesterov) {
  kernels::sgd_update(param, grad, momentum_buf, n, lr, momentum, nesterov);
}

void CpuBackend::rmsprop_update(const Context&, float* param, const float* grad, float* velocity,
                                float* average_grad, float* momentum_buf, int64_t n, float lr,
                                double rho, double momentum, double epsilon) {
  kernels::rmsprop_update(param, grad, velocity, average_grad, momentum_buf, n, lr, rho, momentum,
                          epsilon);
}

void CpuBackend::adagrad_update(const Context&, float* param, const float* grad, float* accumulator,
                                int64_t n, float lr, double epsilon) {
  kernels::adagrad_update(param, grad, accumulator, n, lr, epsilon);
}

void CpuBackend::adadelta_update(const Context&, float* param, const float* grad,
                                 float* accumulated_grad, float* accumulated_delta, int64_t n,
                                 float lr, double rho, double epsilon) {
  kernels::adadelta_update(param, grad, accumulated_grad, accumulated_delta, n, lr, rho, epsilon);
}

void CpuBackend::lion_update(const Context&, float* param, const float* grad, float* m, int64_t n,
                             float lr, double beta_1, double beta_2) {
  kernels::lion_update(param, grad, m, n, lr, beta_1, beta_2);
}

void CpuBackend::adam_update(const Context&, float* param, const float* grad, float* m, float* v,
                             float* v_hat, int64_t n, const kernels::AdamScalars& s) {
  kernels::adam_update(param, grad, m, v, v_hat, n, s);
}

void CpuBackend::muon_update(const Context&, float* param, const float* grad, float* m,
                             int64_t rows, int64_t cols, const kernels::MuonScalars& s,
                             float* scratch) {
  kernels::muon_update(param, grad, m, rows, cols, s, scratch);
}

void CpuBackend::adamax_update(const Context&, float* param, const float* grad, float* m, float* u,
                               int64_t n, const kernels::AdamaxScalars& s) {
  kernels::adamax_update(param, grad, m, u, n, s);
}

void CpuBackend::nadam_update(const Context&, float* param, const float* grad, float* m, float* v,
                              int64_t n, const kernels::NadamScalars& s) {
  kernels::nadam_update(param, grad, m, v, n, s);
}

void CpuBackend::ftrl_update(const Context&, float* param, const float* grad, float* accumulator,
                             float* linear, int64_t n, const kernels::FtrlScalars& s) {
  kernels::ftrl_update(param, grad, accumulator, linear, n, s);
}

void CpuBackend::adafactor_update(const Context&, float* param, const float* grad, float* r,
                                  float* c, float* v, int64_t prefix, int64_t rows, int64_t cols,
                                  bool factored, const kernels::AdafactorScalars& s) {
  kernels::adafactor_update(param, grad, r, c, v, prefix, rows, cols, factored, s);
}

void CpuBackend::schedule_free_adamw_update(const Context&, float* param, const float* grad,
                                            float* z, float* v, int64_t n,
                                            const kernels::ScheduleFreeScalars& s) {
  kernels::schedule_free_adamw_update(param, grad, z, v, n, s);
}

void CpuBackend::lamb_update(const Context&, float* param, const float* grad, float* m, float* v,
                             int64_t n, float lr, const kernels::LambScalars& s) {
  kernels::lamb_update(param, grad, m, v, n, lr, s);
}

double CpuBackend::sum_of_squares(const Context&, const float* x, int64_t n) {
  return kernels::sum_of_squares(x, n);
}

void CpuBackend::clip_by_norm(const Context&, const float* grad, float* out, int64_t n,
                              double clipnorm) {
  kernels::clip_by_norm(grad, out, n, clipnorm);
}

void CpuBackend::scale_gradient(const Context&, const float* grad, float* out, int64_t n,
                                float scale) {
  kernels::scale_gradient(grad, out, n, scale);
}

void CpuBackend::clip_by_value(const Context&, const float* grad, float* out, int64_t n,
                               double clipvalue) {
  kernels::clip_by_value(grad, out, n, clipvalue);
}

void CpuBackend::decay_weights(const Context&, float* param, int64_t n, double weight_decay,
                               float lr) {
  kernels::decay_weights(param, n, weight_decay, lr);
}
}  // namespace ember::cpu
