// Optimizer updates, Keras 3's formulas term for term (see optimizers.h), one
// fused pass over each variable. Big variables split across threads.
//
// Rounding follows Keras on JAX: the learning rate, slots and gradients are
// float32; a hyperparameter cast with ops.cast (or meeting another float32
// scalar) is rounded to float32 before the arithmetic, while an expression of
// Python numbers such as `1 - self.beta_1` is evaluated in double and rounded
// once. Each constant below says which it is.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/parallel.h"
#include "ember/kernels.h"
#include "ember/optimizers.h"

namespace ember::kernels {

namespace {
float f32(double x) { return static_cast<float>(x); }
}  // namespace

// Each update is a loop over one thread's range, calling the element's update
// (ember/element/optimizer.h), in a function of its own: the pointers are
// __restrict (a variable's value, gradient and slots never overlap) and the
// scalars are by-value parameters, so no store can alias them and the compiler
// vectorizes the loop, square roots and divisions included.
namespace {

namespace opt = element::optimizer;

template <bool kMomentum, bool kNesterov>
void sgd_range(float* __restrict param, const float* __restrict grad, float* __restrict velocity,
               int64_t n, float lr, float mu) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kMomentum)
      opt::sgd_momentum<kNesterov>(param[i], grad[i], velocity[i], lr, mu);
    else
      opt::sgd(param[i], grad[i], lr);
  }
}

template <bool kAmsgrad>
void adam_range(float* __restrict param, const float* __restrict grad, float* __restrict m,
                float* __restrict v, float* __restrict v_hat, int64_t n, AdamScalars c) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kAmsgrad)
      opt::adam_amsgrad(param[i], grad[i], m[i], v[i], v_hat[i], c);
    else
      opt::adam(param[i], grad[i], m[i], v[i], c);
  }
}

// A slot the variant does not keep (null) is read as this dummy, never stored.
template <bool kCentered, bool kMomentum>
void rmsprop_range(float* __restrict param, const float* __restrict grad,
                   float* __restrict velocity, float* __restrict average_grad,
                   float* __restrict momentum_buf, int64_t n, float lr, float r,
                   float one_minus_rho, float mu, float eps) {
  float unused = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    opt::rmsprop<kCentered, kMomentum>(
        param[i], grad[i], velocity[i], kCentered ? average_grad[i] : unused,
        kMomentum ? momentum_buf[i] : unused, lr, r, one_minus_rho, mu, eps);
}

void adagrad_range(float* __restrict param, const float* __restrict grad,
                   float* __restrict accumulator, int64_t n, float lr, float eps) {
  for (int64_t i = 0; i < n; ++i) opt::adagrad(param[i], grad[i], accumulator[i], lr, eps);
}

void adadelta_range(float* __restrict param, const float* __restrict grad,
                    float* __restrict accumulated_grad, float* __restrict accumulated_delta,
                    int64_t n, float lr, float r, float one_minus_rho, float eps) {
  for (int64_t i = 0; i < n; ++i)
    opt::adadelta(param[i], grad[i], accumulated_grad[i], accumulated_delta[i], lr, r,
                  one_minus_rho, eps);
}

void adamax_range(float* __restrict param, const float* __restrict grad, float* __restrict m,
                  float* __restrict u, int64_t n, AdamaxScalars c) {
  for (int64_t i = 0; i < n; ++i) opt::adamax(param[i], grad[i], m[i], u[i], c);
}

void nadam_range(float* __restrict param, const float* __restrict grad, float* __restrict m,
                 float* __restrict v, int64_t n, NadamScalars c) {
  for (int64_t i = 0; i < n; ++i) opt::nadam(param[i], grad[i], m[i], v[i], c);
}

void lion_range(float* __restrict param, const float* __restrict grad, float* __restrict m,
                int64_t n, float lr, float b1, float b2, float one_minus_b1, float one_minus_b2) {
  for (int64_t i = 0; i < n; ++i)
    opt::lion(param[i], grad[i], m[i], lr, b1, b2, one_minus_b1, one_minus_b2);
}

void ftrl_range(float* __restrict param, const float* __restrict grad,
                float* __restrict accumulator, float* __restrict linear, int64_t n, FtrlScalars c) {
  for (int64_t i = 0; i < n; ++i) opt::ftrl(param[i], grad[i], accumulator[i], linear[i], c);
}

void schedule_free_range(float* __restrict param, const float* __restrict grad, float* __restrict z,
                         float* __restrict v, int64_t n, ScheduleFreeScalars c) {
  for (int64_t i = 0; i < n; ++i) opt::schedule_free_adamw(param[i], grad[i], z[i], v[i], c);
}

void lamb_apply_range(float* __restrict param, const float* __restrict m, const float* __restrict v,
                      int64_t n, float scale, LambScalars c) {
  for (int64_t i = 0; i < n; ++i) param[i] -= scale * opt::lamb_step(m[i], v[i], c);
}

// p + b for an optional slot pointer.
template <typename T>
T* at(T* p, int64_t b) {
  return p ? p + b : nullptr;
}

}  // namespace

void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                double momentum, bool nesterov) {
  const float mu = f32(momentum);  // ops.cast
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    if (!momentum_buf)
      sgd_range<false, false>(param + b, grad + b, nullptr, e - b, lr, mu);
    else if (nesterov)
      sgd_range<true, true>(param + b, grad + b, momentum_buf + b, e - b, lr, mu);
    else
      sgd_range<true, false>(param + b, grad + b, momentum_buf + b, e - b, lr, mu);
  });
}

AdamScalars adam_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step) {
  const auto t = static_cast<float>(step);
  const float b1_power = std::pow(f32(beta_1), t), b2_power = std::pow(f32(beta_2), t);
  return {lr * std::sqrt(1.0f - b2_power) / (1.0f - b1_power),
          f32(1.0 - beta_1),  // Python's `1 - self.beta_1`
          f32(1.0 - beta_2), f32(epsilon)};
}

void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, int64_t n,
                 const AdamScalars& s) {
  const AdamScalars c = s;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    if (v_hat)
      adam_range<true>(param + b, grad + b, m + b, v + b, v_hat + b, e - b, c);
    else
      adam_range<false>(param + b, grad + b, m + b, v + b, nullptr, e - b, c);
  });
}

void rmsprop_update(float* param, const float* grad, float* velocity, float* average_grad,
                    float* momentum_buf, int64_t n, float lr, double rho, double momentum,
                    double epsilon) {
  const float r = f32(rho), one_minus_rho = f32(1.0 - rho);  // Python `1 - rho`
  const float mu = f32(momentum), eps = f32(epsilon);
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    float *p = param + b, *vel = velocity + b, *avg = at(average_grad, b),
          *mom = at(momentum_buf, b);
    const float* g = grad + b;
    const int64_t len = e - b;
    if (avg && mom)
      rmsprop_range<true, true>(p, g, vel, avg, mom, len, lr, r, one_minus_rho, mu, eps);
    else if (avg)
      rmsprop_range<true, false>(p, g, vel, avg, mom, len, lr, r, one_minus_rho, mu, eps);
    else if (mom)
      rmsprop_range<false, true>(p, g, vel, avg, mom, len, lr, r, one_minus_rho, mu, eps);
    else
      rmsprop_range<false, false>(p, g, vel, avg, mom, len, lr, r, one_minus_rho, mu, eps);
  });
}

void adagrad_update(float* param, const float* grad, float* accumulator, int64_t n, float lr,
                    double epsilon) {
  const float eps = f32(epsilon);
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    adagrad_range(param + b, grad + b, accumulator + b, e - b, lr, eps);
  });
}

void adadelta_update(float* param, const float* grad, float* accumulated_grad,
                     float* accumulated_delta, int64_t n, float lr, double rho, double epsilon) {
  const float r = f32(rho), one_minus_rho = f32(1.0 - rho);  // Python `1 - rho`
  const float eps = f32(epsilon);
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    adadelta_range(param + b, grad + b, accumulated_grad + b, accumulated_delta + b, e - b, lr, r,
                   one_minus_rho, eps);
  });
}

AdamaxScalars adamax_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step) {
  return {lr, 1.0f - std::pow(f32(beta_1), static_cast<float>(step)),
          f32(1.0 - beta_1),  // Python's `1 - self.beta_1`
          f32(beta_2), f32(epsilon)};
}

void adamax_update(float* param, const float* grad, float* m, float* u, int64_t n,
                   const AdamaxScalars& s) {
  const AdamaxScalars c = s;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    adamax_range(param + b, grad + b, m + b, u + b, e - b, c);
  });
}

float nadam_u_product_step(float u_product, double beta_1, int64_t step) {
  return u_product * f32(beta_1) * (1.0f - 0.5f * std::pow(0.96f, static_cast<float>(step)));
}

NadamScalars nadam_scalars(float lr, double beta_1, double beta_2, double epsilon, int64_t step,
                           float u_product) {
  // Here Keras casts beta_1 and beta_2 first, so 1 - beta is float32 arithmetic.
  const float b1 = f32(beta_1), b2 = f32(beta_2);
  const auto t = static_cast<float>(step), t_next = static_cast<float>(step + 1);
  const float u_t = b1 * (1.0f - 0.5f * std::pow(0.96f, t));
  const float u_t_next = b1 * (1.0f - 0.5f * std::pow(0.96f, t_next));
  const float u_product_next = u_product * u_t_next;
  return {lr,
          u_t_next,
          1.0f - u_t,
          1.0f - u_product,
          1.0f - u_product_next,
          1.0f - std::pow(b2, t),
          1.0f - b1,
          1.0f - b2,
          f32(epsilon)};
}

void nadam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const NadamScalars& s) {
  const NadamScalars c = s;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    nadam_range(param + b, grad + b, m + b, v + b, e - b, c);
  });
}

void lion_update(float* param, const float* grad, float* m, int64_t n, float lr, double beta_1,
                 double beta_2) {
  const float b1 = f32(beta_1), b2 = f32(beta_2);  // ops.cast, then float32 `1.0 - beta`
  const float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    lion_range(param + b, grad + b, m + b, e - b, lr, b1, b2, one_minus_b1, one_minus_b2);
  });
}

FtrlScalars ftrl_scalars(float lr, double learning_rate_power, double l1, double l2,
                         double l2_shrinkage, double beta) {
  // `l2 + beta / (2.0 * lr)` meets the float32 lr, so it is float32 arithmetic; the
  // Python products `2 * l2_shrinkage` and `-lr_power` are rounded once.
  const float l2_reg = f32(l2) + f32(beta) / (2.0f * lr);
  return {lr, f32(-learning_rate_power), 2.0f * l2_reg, f32(2.0 * l2_shrinkage), f32(l1)};
}

void ftrl_update(float* param, const float* grad, float* accumulator, float* linear, int64_t n,
                 const FtrlScalars& s) {
  const FtrlScalars c = s;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    ftrl_range(param + b, grad + b, accumulator + b, linear + b, e - b, c);
  });
}

AdafactorScalars adafactor_scalars(float lr, bool relative_step, bool schedule, double beta_2_decay,
                                   double epsilon_1, double epsilon_2, double clip_threshold,
                                   int64_t step) {
  const auto t = static_cast<float>(step);
  const float inverse_sqrt_t = 1.0f / std::sqrt(t);
  const float rate = relative_step && !schedule ? std::min(lr, inverse_sqrt_t) : lr;
  const float beta_2_t = 1.0f - std::pow(t, f32(beta_2_decay));
  return {std::min(rate, inverse_sqrt_t),
          beta_2_t,
          1.0f - beta_2_t,
          f32(epsilon_1),
          f32(epsilon_2),
          f32(clip_threshold)};
}

void adafactor_update(float* param, const float* grad, float* r, float* c, float* v, int64_t prefix,
                      int64_t rows, int64_t cols, bool factored, const AdafactorScalars& s) {
  const int64_t n = prefix * rows * cols;
  if (n == 0) return;
  const auto count = static_cast<float>(n);
  // rms(w) before the update: sqrt(mean(w^2)), the mean a float32 sum over n.
  const float rms_w = std::sqrt(static_cast<float>(sum_of_squares(param, n)) / count);
  const float alpha = std::max(s.epsilon_2, rms_w) * s.rho;
  const auto regulated = [&](int64_t k) { return grad[k] * grad[k] + s.epsilon_1; };
  if (factored) {
    // Row means (over the last axis) into r, column means (over the second last) into c,
    // then v = r / mean(r) x c per leading index. Sums in double, rounded once.
    for (int64_t p = 0; p < prefix; ++p) {
      const int64_t base = p * rows * cols;
      std::vector<double> col_sums(static_cast<size_t>(cols), 0.0);
      double r_sum = 0.0;
      for (int64_t i = 0; i < rows; ++i) {
        double row_sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          const float x = regulated(base + i * cols + j);
          row_sum += x;
          col_sums[static_cast<size_t>(j)] += x;
        }
        float& ri = r[p * rows + i];
        ri = s.beta_2_t * ri +
             s.one_minus_beta_2_t * (static_cast<float>(row_sum) / static_cast<float>(cols));
        r_sum += ri;
      }
      for (int64_t j = 0; j < cols; ++j) {
        float& cj = c[p * cols + j];
        cj = s.beta_2_t * cj +
             s.one_minus_beta_2_t *
                 (static_cast<float>(col_sums[static_cast<size_t>(j)]) / static_cast<float>(rows));
      }
      const float r_mean = static_cast<float>(r_sum) / static_cast<float>(rows);
      for (int64_t i = 0; i < rows; ++i) {
        const float ratio = r[p * rows + i] / r_mean;
        for (int64_t j = 0; j < cols; ++j) v[base + i * cols + j] = ratio * c[p * cols + j];
      }
    }
  } else {
    for (int64_t k = 0; k < n; ++k) v[k] = s.beta_2_t * v[k] + s.one_minus_beta_2_t * regulated(k);
  }
  // u = g / sqrt(v), scaled down to rms(u) <= clip_threshold; two passes, no scratch.
  double u2 = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const float u = grad[k] / std::sqrt(v[k]);
    u2 += double(u) * double(u);
  }
  const float rms_u = std::sqrt(static_cast<float>(u2) / count);
  const float divisor = std::max(1.0f, rms_u / s.clip_threshold);
  for (int64_t k = 0; k < n; ++k) param[k] -= alpha * ((grad[k] / std::sqrt(v[k])) / divisor);
}

ScheduleFreeScalars schedule_free_scalars(float lr, double beta_1, double beta_2, double epsilon,
                                          int64_t warmup_steps, int64_t step) {
  // Keras casts the betas and epsilon first: `1 - beta` is float32 arithmetic here.
  const auto t = static_cast<float>(step);
  if (warmup_steps > 0) lr *= std::min(t / static_cast<float>(warmup_steps), 1.0f);
  const float b1 = f32(beta_1), b2 = f32(beta_2), weight = 1.0f / t;
  return {lr,           b1,     1.0f - b1,    1.0f - b2, 1.0f - std::pow(b2, t),
          f32(epsilon), weight, 1.0f - weight};
}

void schedule_free_adamw_update(float* param, const float* grad, float* z, float* v, int64_t n,
                                const ScheduleFreeScalars& s) {
  const ScheduleFreeScalars c = s;
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    schedule_free_range(param + b, grad + b, z + b, v + b, e - b, c);
  });
}

LambScalars lamb_scalars(double beta_1, double beta_2, double epsilon, int64_t step) {
  const auto t = static_cast<float>(step);
  return {1.0f - std::pow(f32(beta_1), t), 1.0f - std::pow(f32(beta_2), t),
          f32(1.0 - beta_1),  // Python's `1 - self.beta_1`
          f32(1.0 - beta_2), f32(epsilon)};
}

void lamb_update(float* param, const float* grad, float* m, float* v, int64_t n, float lr,
                 const LambScalars& s) {
  const LambScalars c = s;
  // Pass 1: the moments, and the squared norms of w and of the step (whole-variable
  // sums, in double). Pass 2 recomputes the step from the stored moments: the same
  // float32 operations give the same value, and no scratch buffer is needed.
  double w2 = 0.0, u2 = 0.0;
  if (n < cpu::kParallelWork || !cpu::enter_parallel_region()) {
    for (int64_t i = 0; i < n; ++i) {
      const float u = opt::lamb_moments(grad[i], m[i], v[i], c);
      w2 += double(param[i]) * double(param[i]);
      u2 += double(u) * double(u);
    }
  } else {
#pragma omp parallel for schedule(static) reduction(+ : w2, u2)
    for (int64_t i = 0; i < n; ++i) {
      const float u = opt::lamb_moments(grad[i], m[i], v[i], c);
      w2 += double(param[i]) * double(param[i]);
      u2 += double(u) * double(u);
    }
  }
  const float w_norm = std::sqrt(static_cast<float>(w2)),
              u_norm = std::sqrt(static_cast<float>(u2));
  // Keras: where(w_norm > 0, where(u_norm > 0, w_norm / u_norm, 1), 1); NaN compares false.
  const float ratio = w_norm > 0.0f && u_norm > 0.0f ? w_norm / u_norm : 1.0f;
  const float scale = ratio * lr;
  cpu::parallel_chunks(
      n, [=](int64_t b, int64_t e) { lamb_apply_range(param + b, m + b, v + b, e - b, scale, c); });
}

double sum_of_squares(const float* x, int64_t n) {
  double sum = 0.0;
  if (n < cpu::kParallelWork || !cpu::enter_parallel_region()) {
    for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
    return sum;
  }
#pragma omp parallel for schedule(static) reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
  return sum;
}

void clip_by_norm(const float* grad, float* out, int64_t n, double clipnorm) {
  // Keras: l2 = sqrt(sum g^2) (0 stays 0); out = g * clipnorm / max(l2, clipnorm).
  const float squares = static_cast<float>(sum_of_squares(grad, n));
  const float norm = squares > 0.0f ? std::sqrt(squares) : squares;
  const float c = f32(clipnorm), divisor = std::max(norm, c);
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    const float num = c, den = divisor;
    for (int64_t i = b; i < e; ++i) out[i] = opt::clip_by_norm(grad[i], num, den);
  });
}

float global_clip_scale(double sum_of_squares, double clipnorm) {
  const float norm = std::sqrt(static_cast<float>(sum_of_squares));
  const float inverse_norm = norm > 0.0f ? 1.0f / norm : std::numeric_limits<float>::infinity();
  // clip * min(1/norm, 1/clip) + (norm - norm): the last term turns inf/NaN norms into NaN.
  const float scale = f32(clipnorm) * std::min(inverse_norm, f32(1.0 / clipnorm));
  return std::isfinite(norm) ? scale : std::numeric_limits<float>::quiet_NaN();
}

void scale_gradient(const float* grad, float* out, int64_t n, float scale) {
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    const float s = scale;
    for (int64_t i = b; i < e; ++i) out[i] = opt::scale(grad[i], s);
  });
}

void clip_by_value(const float* grad, float* out, int64_t n, double clipvalue) {
  const float c = f32(clipvalue);
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    const float hi = c, lo = -c;
    for (int64_t i = b; i < e; ++i) out[i] = opt::clip_by_value(grad[i], lo, hi);
  });
}

void decay_weights(float* param, int64_t n, double weight_decay, float lr) {
  const float wd = f32(weight_decay);  // ops.cast
  cpu::parallel_chunks(n, [=](int64_t b, int64_t e) {
    const float w = wd, l = lr;
    for (int64_t i = b; i < e; ++i) opt::decay(param[i], w, l);
  });
}

int64_t muon_scratch_size(int64_t rows, int64_t cols) {
  const int64_t p = std::min(rows, cols);
  return 3 * rows * cols + 3 * p * p;
}

// Keras's _muon_update_step and zeropower_via_newtonschulz5, operation by operation in
// float32 (the GEMMs go to BLAS); the Frobenius norm is summed in double.
void muon_update(float* param, const float* grad, float* m, int64_t rows, int64_t cols,
                 const MuonScalars& s, float* scratch) {
  const int64_t n = rows * cols, p = std::min(rows, cols), q = std::max(rows, cols);
  const bool transposed = rows > cols;  // X is (p, q): the wide way round
  float* g = scratch;                   // (rows, cols)
  float* x = g + n;                     // (p, q)
  float* t = x + n;                     // (p, q): B X
  float* a = t + n;                     // (p, p): X X^T
  float* ca = a + p * p;                // (p, p): c A, then B
  float* aa = ca + p * p;               // (p, p): (c A) A
  for (int64_t i = 0; i < n; ++i) {
    m[i] = m[i] + (grad[i] + m[i] * s.momentum_minus_1);
    g[i] = s.nesterov ? grad[i] + s.momentum * m[i] : m[i];
  }
  if (transposed) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) x[c * rows + r] = g[r * cols + c];
  } else {
    std::copy(g, g + n, x);
  }
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sq += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  const float denom = std::sqrt(static_cast<float>(sq)) + 1e-7f;
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / denom;
  for (int64_t step = 0; step < s.ns_steps; ++step) {
    gemm(false, true, p, p, q, 1.0f, x, x, 0.0f, a);  // A = X X^T
    for (int64_t i = 0; i < p * p; ++i) ca[i] = s.c * a[i];
    gemm(false, false, p, p, p, 1.0f, ca, a, 0.0f, aa);  // (c A) A
    for (int64_t i = 0; i < p * p; ++i) ca[i] = s.b * a[i] + aa[i];  // B
    gemm(false, false, p, q, p, 1.0f, ca, x, 0.0f, t);  // B X
    for (int64_t i = 0; i < n; ++i) x[i] = s.a * x[i] + t[i];
  }
  const float* u = x;
  if (transposed) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) g[r * cols + c] = x[c * rows + r];
    u = g;
  }
  const float root = std::sqrt(static_cast<float>(q));
  for (int64_t i = 0; i < n; ++i) {
    float step = s.lr * u[i];
    if (s.adjust) step = (step * root) * s.rms_rate;
    param[i] = param[i] - step;
  }
}

}  // namespace ember::kernels
