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
#include "ember/optimizers.h"

namespace ember::kernels {

namespace {
float f32(double x) { return static_cast<float>(x); }
}  // namespace

void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                double momentum, bool nesterov) {
  if (!momentum_buf) {
    cpu::parallel_for(n, n, [=](int64_t i) { param[i] -= grad[i] * lr; });
    return;
  }
  const float mu = f32(momentum);  // ops.cast
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float m = momentum_buf[i] * mu - grad[i] * lr;
    momentum_buf[i] = m;
    param[i] += nesterov ? m * mu - grad[i] * lr : m;
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
  const AdamScalars c = s;  // by value into the loop body
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * c.one_minus_beta_1;
    v[i] += (g * g - v[i]) * c.one_minus_beta_2;
    float vi = v[i];
    if (v_hat) vi = v_hat[i] = std::max(v_hat[i], vi);
    param[i] -= (m[i] * c.alpha) / (std::sqrt(vi) + c.epsilon);
  });
}

void rmsprop_update(float* param, const float* grad, float* velocity, float* average_grad,
                    float* momentum_buf, int64_t n, float lr, double rho, double momentum,
                    double epsilon) {
  const float r = f32(rho), one_minus_rho = f32(1.0 - rho);  // Python `1 - rho`
  const float mu = f32(momentum), eps = f32(epsilon);
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    velocity[i] = r * velocity[i] + one_minus_rho * (g * g);
    float denominator;
    if (average_grad) {
      average_grad[i] = r * average_grad[i] + one_minus_rho * g;
      denominator = velocity[i] - average_grad[i] * average_grad[i] + eps;
    } else {
      denominator = velocity[i] + eps;
    }
    const float increment = (lr * g) / std::sqrt(denominator);
    if (momentum_buf) {
      momentum_buf[i] = mu * momentum_buf[i] + increment;
      param[i] -= momentum_buf[i];
    } else {
      param[i] -= increment;
    }
  });
}

void adagrad_update(float* param, const float* grad, float* accumulator, int64_t n, float lr,
                    double epsilon) {
  const float eps = f32(epsilon);
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    accumulator[i] += g * g;
    param[i] -= (lr * g) / std::sqrt(accumulator[i] + eps);
  });
}

void adadelta_update(float* param, const float* grad, float* accumulated_grad,
                     float* accumulated_delta, int64_t n, float lr, double rho, double epsilon) {
  const float r = f32(rho), one_minus_rho = f32(1.0 - rho);  // Python `1 - rho`
  const float eps = f32(epsilon);
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    accumulated_grad[i] = r * accumulated_grad[i] + one_minus_rho * (g * g);
    const float delta =
        -((std::sqrt(accumulated_delta[i] + eps) * g) / std::sqrt(accumulated_grad[i] + eps));
    accumulated_delta[i] = r * accumulated_delta[i] + one_minus_rho * (delta * delta);
    param[i] += lr * delta;
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
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * c.one_minus_beta_1;
    u[i] = std::max(c.beta_2 * u[i], std::fabs(g));
    param[i] -= (c.lr * m[i]) / (c.one_minus_beta_1_power * (u[i] + c.epsilon));
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
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * c.one_minus_beta_1;
    v[i] += (g * g - v[i]) * c.one_minus_beta_2;
    const float m_hat = (c.u_t_next * m[i]) / c.one_minus_u_product_next +
                        (c.one_minus_u_t * g) / c.one_minus_u_product;
    const float v_hat = v[i] / c.one_minus_beta_2_power;
    param[i] -= (m_hat * c.lr) / (std::sqrt(v_hat) + c.epsilon);
  });
}

void lion_update(float* param, const float* grad, float* m, int64_t n, float lr, double beta_1,
                 double beta_2) {
  const float b1 = f32(beta_1), b2 = f32(beta_2);  // ops.cast, then float32 `1.0 - beta`
  const float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    const float c = m[i] * b1 + g * one_minus_b1;
    const float sign = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : c);  // sign(0) = 0, sign(nan) = nan
    param[i] -= lr * sign;
    m[i] = m[i] * b2 + g * one_minus_b2;
  });
}

double sum_of_squares(const float* x, int64_t n) {
  double sum = 0.0;
  if (n < cpu::kParallelWork) {
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
  cpu::parallel_for(n, n, [=](int64_t i) { out[i] = (grad[i] * c) / divisor; });
}

float global_clip_scale(double sum_of_squares, double clipnorm) {
  const float norm = std::sqrt(static_cast<float>(sum_of_squares));
  const float inverse_norm = norm > 0.0f ? 1.0f / norm : std::numeric_limits<float>::infinity();
  // clip * min(1/norm, 1/clip) + (norm - norm): the last term turns inf/NaN norms into NaN.
  const float scale = f32(clipnorm) * std::min(inverse_norm, f32(1.0 / clipnorm));
  return std::isfinite(norm) ? scale : std::numeric_limits<float>::quiet_NaN();
}

void scale_gradient(const float* grad, float* out, int64_t n, float scale) {
  cpu::parallel_for(n, n, [=](int64_t i) { out[i] = grad[i] * scale; });
}

void clip_by_value(const float* grad, float* out, int64_t n, double clipvalue) {
  const float c = f32(clipvalue);
  cpu::parallel_for(n, n, [=](int64_t i) { out[i] = std::min(std::max(grad[i], -c), c); });
}

void decay_weights(float* param, int64_t n, double weight_decay, float lr) {
  const float wd = f32(weight_decay);  // ops.cast
  cpu::parallel_for(n, n, [=](int64_t i) { param[i] -= param[i] * wd * lr; });
}

}  // namespace ember::kernels
