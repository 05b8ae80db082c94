// Optimizer updates, Keras 3's formulas term for term (see optimizers.h), one
// fused pass over each variable. Big variables split across threads.
#include <algorithm>
#include <cmath>

#include "cpu/parallel.h"
#include "ember/optimizers.h"

namespace ember::kernels {

void sgd_update(float* param, const float* grad, float* velocity, int64_t n, float lr,
                float momentum, bool nesterov) {
  if (!velocity) {
    cpu::parallel_for(n, n, [=](int64_t i) { param[i] -= grad[i] * lr; });
    return;
  }
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float m = velocity[i] * momentum - grad[i] * lr;
    velocity[i] = m;
    param[i] += nesterov ? m * momentum - grad[i] * lr : m;
  });
}

void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, int64_t n,
                 float lr, float beta_1, float beta_2, float epsilon, int64_t step) {
  // Keras computes these scalars in float32; so do we, to round alike.
  const auto t = static_cast<float>(step);
  const float b1_power = std::pow(beta_1, t), b2_power = std::pow(beta_2, t);
  const float alpha = lr * std::sqrt(1.0f - b2_power) / (1.0f - b1_power);
  const float one_minus_b1 = 1.0f - beta_1, one_minus_b2 = 1.0f - beta_2;
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * one_minus_b1;
    v[i] += (g * g - v[i]) * one_minus_b2;
    float vi = v[i];
    if (v_hat) vi = v_hat[i] = std::max(v_hat[i], vi);
    param[i] -= (m[i] * alpha) / (std::sqrt(vi) + epsilon);
  });
}

void rmsprop_update(float* param, const float* grad, float* velocity, float* average_grad,
                    float* momentum_buf, int64_t n, float lr, float rho, float momentum,
                    float epsilon) {
  const float one_minus_rho = 1.0f - rho;
  cpu::parallel_for(n, n, [=](int64_t i) {
    const float g = grad[i];
    velocity[i] = rho * velocity[i] + one_minus_rho * (g * g);
    float denominator;
    if (average_grad) {
      average_grad[i] = rho * average_grad[i] + one_minus_rho * g;
      denominator = velocity[i] - average_grad[i] * average_grad[i] + epsilon;
    } else {
      denominator = velocity[i] + epsilon;
    }
    const float increment = (lr * g) / std::sqrt(denominator);
    if (momentum_buf) {
      momentum_buf[i] = momentum * momentum_buf[i] + increment;
      param[i] -= momentum_buf[i];
    } else {
      param[i] -= increment;
    }
  });
}

}  // namespace ember::kernels
