// Each optimizer's update of one element, Keras 3's formulas term for term, for
// the CPU kernels (cpu/optimizer_kernels.cpp) and CUDA launchers alike. The
// value, its gradient and its slots come by reference and are updated in place;
// the per-step scalars come by value, already rounded as Keras rounds them (the
// kernels' *_scalars functions and launchers compute them once per step).
//
// Every function reads its slots once into locals and writes them once, so the
// compiler needs no alias analysis across them: the CPU loops vectorize, and
// CUDA code touches global memory once per slot.
#pragma once
#include <cmath>

#include "ember/element/hd.h"
#include "ember/element/scalar.h"

namespace ember {

namespace kernels {
// Adam, Adamax and Nadam share per-step scalars (powers of the betas) across all
// variables: computed once per step (optimizers.h), then each element's update uses them.
struct AdamScalars {
  float alpha, one_minus_beta_1, one_minus_beta_2, epsilon;
};
struct AdamaxScalars {
  float lr, one_minus_beta_1_power, one_minus_beta_1, beta_2, epsilon;
};
// u_product: the running product including this step's factor.
struct NadamScalars {
  float lr, u_t_next, one_minus_u_t, one_minus_u_product, one_minus_u_product_next,
      one_minus_beta_2_power, one_minus_beta_1, one_minus_beta_2, epsilon;
};
// power: -learning_rate_power; two_l2: 2 (l2 + beta / (2 lr)); two_shrinkage: 2 l2_shrinkage.
struct FtrlScalars {
  float lr, power, two_l2, two_shrinkage, l1;
};
// rho: min(lr, 1 / sqrt(t)); beta_2_t: 1 - t^beta_2_decay.
struct AdafactorScalars {
  float rho, beta_2_t, one_minus_beta_2_t, epsilon_1, epsilon_2, clip_threshold;
};
// lr: with warmup applied; weight: 1 / t.
struct ScheduleFreeScalars {
  float lr, beta_1, one_minus_beta_1, one_minus_beta_2, bias_correction_2, epsilon, weight,
      one_minus_weight;
};
struct LambScalars {
  float one_minus_beta_1_power, one_minus_beta_2_power, one_minus_beta_1, one_minus_beta_2, epsilon;
};
}  // namespace kernels

namespace element::optimizer {

// param -= grad * lr.
EMBER_HD void sgd(float& param, float grad, float lr) { param -= grad * lr; }

// velocity = velocity * mu - grad * lr; param += velocity (Nesterov: velocity * mu - grad * lr).
template <bool kNesterov>
EMBER_HD void sgd_momentum(float& param, float grad, float& velocity, float lr, float mu) {
  const float m = velocity * mu - grad * lr;
  velocity = m;
  param += kNesterov ? m * mu - grad * lr : m;
}

// Keras's Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// param -= m alpha / (sqrt(v) + eps), alpha = lr sqrt(1 - b2^t) / (1 - b1^t).
EMBER_HD void adam(float& param, float grad, float& m, float& v, const kernels::AdamScalars& c) {
  const float mi = m + (grad - m) * c.one_minus_beta_1;
  const float vi = v + (grad * grad - v) * c.one_minus_beta_2;
  m = mi;
  v = vi;
  param -= (mi * c.alpha) / (std::sqrt(vi) + c.epsilon);
}

// Adam with amsgrad: the step divides by the running maximum v_hat of v.
EMBER_HD void adam_amsgrad(float& param, float grad, float& m, float& v, float& v_hat,
                           const kernels::AdamScalars& c) {
  const float mi = m + (grad - m) * c.one_minus_beta_1;
  const float vi = v + (grad * grad - v) * c.one_minus_beta_2;
  m = mi;
  v = vi;
  const float vh = max_of(v_hat, vi);
  v_hat = vh;
  param -= (mi * c.alpha) / (std::sqrt(vh) + c.epsilon);
}

// RMSprop: velocity = rho velocity + (1 - rho) g^2; centered also keeps the mean
// gradient avg and divides by sqrt(velocity - avg^2 + eps); momentum (mu)
// accumulates the increments in momentum_buf. Unused slots may be any float.
template <bool kCentered, bool kMomentum>
EMBER_HD void rmsprop(float& param, float grad, float& velocity, float& average_grad,
                      float& momentum_buf, float lr, float rho, float one_minus_rho, float mu,
                      float eps) {
  const float vel = rho * velocity + one_minus_rho * (grad * grad);
  velocity = vel;
  float denominator;
  if constexpr (kCentered) {
    const float avg = rho * average_grad + one_minus_rho * grad;
    average_grad = avg;
    denominator = vel - avg * avg + eps;
  } else {
    denominator = vel + eps;
  }
  const float increment = (lr * grad) / std::sqrt(denominator);
  if constexpr (kMomentum) {
    const float mom = mu * momentum_buf + increment;
    momentum_buf = mom;
    param -= mom;
  } else {
    param -= increment;
  }
}

// Adagrad: accumulator += g^2; param -= lr g / sqrt(accumulator + eps).
EMBER_HD void adagrad(float& param, float grad, float& accumulator, float lr, float eps) {
  const float acc = accumulator + grad * grad;
  accumulator = acc;
  param -= (lr * grad) / std::sqrt(acc + eps);
}

// Adadelta: running averages of g^2 and of the squared steps.
EMBER_HD void adadelta(float& param, float grad, float& accumulated_grad, float& accumulated_delta,
                       float lr, float rho, float one_minus_rho, float eps) {
  const float ag = rho * accumulated_grad + one_minus_rho * (grad * grad);
  accumulated_grad = ag;
  const float ad = accumulated_delta;
  const float delta = -((std::sqrt(ad + eps) * grad) / std::sqrt(ag + eps));
  accumulated_delta = rho * ad + one_minus_rho * (delta * delta);
  param += lr * delta;
}

// Adamax: u = max(b2 u, |g|); param -= lr m / ((1 - b1^t)(u + eps)).
EMBER_HD void adamax(float& param, float grad, float& m, float& u,
                     const kernels::AdamaxScalars& c) {
  const float mi = m + (grad - m) * c.one_minus_beta_1;
  const float ui = max_of(c.beta_2 * u, std::fabs(grad));
  m = mi;
  u = ui;
  param -= (c.lr * mi) / (c.one_minus_beta_1_power * (ui + c.epsilon));
}

// Nadam: Adam's moments with Nesterov's look-ahead in m_hat.
EMBER_HD void nadam(float& param, float grad, float& m, float& v, const kernels::NadamScalars& c) {
  const float mi = m + (grad - m) * c.one_minus_beta_1;
  const float vi = v + (grad * grad - v) * c.one_minus_beta_2;
  m = mi;
  v = vi;
  const float m_hat = (c.u_t_next * mi) / c.one_minus_u_product_next +
                      (c.one_minus_u_t * grad) / c.one_minus_u_product;
  const float v_hat = vi / c.one_minus_beta_2_power;
  param -= (m_hat * c.lr) / (std::sqrt(v_hat) + c.epsilon);
}

// Lion: param -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g.
EMBER_HD void lion(float& param, float grad, float& m, float lr, float b1, float b2,
                   float one_minus_b1, float one_minus_b2) {
  const float mi = m;
  const float c = mi * b1 + grad * one_minus_b1;
  const float sign = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : c);  // sign(0) = 0, sign(nan) = nan
  param -= lr * sign;
  m = mi * b2 + grad * one_minus_b2;
}

// ---- gradient transforms before the update (Keras's clipnorm, clipvalue, weight decay)

// grad * clipnorm / max(||grad||, clipnorm): num is clipnorm, den the max.
EMBER_HD float clip_by_norm(float grad, float num, float den) { return (grad * num) / den; }
// grad times the global clipnorm's scale.
EMBER_HD float scale(float grad, float s) { return grad * s; }
// grad clipped to [lo, hi] = [-clipvalue, clipvalue].
EMBER_HD float clip_by_value(float grad, float lo, float hi) {
  return min_of(max_of(grad, lo), hi);
}
// Decoupled weight decay (AdamW and every optimizer's weight_decay): w -= w wd lr.
EMBER_HD void decay(float& param, float weight_decay, float lr) {
  param -= param * weight_decay * lr;
}

// Ftrl (McMahan et al.): the linear term z gathers the shrunk gradient less the
// change of n^power / lr times w; w is then z's L1-clipped remainder over the quadratic.
EMBER_HD void ftrl(float& param, float grad, float& accumulator, float& linear,
                   const kernels::FtrlScalars& c) {
  const float w = param, acc = accumulator;
  const float new_acc = acc + grad * grad;
  const float new_pow = std::pow(new_acc, c.power);
  const float sigma = (new_pow - std::pow(acc, c.power)) / c.lr;
  const float z = linear + ((grad + c.two_shrinkage * w) - sigma * w);
  linear = z;
  accumulator = new_acc;
  const float clipped = clip(z, -c.l1, c.l1);
  param = (clipped - z) / (new_pow / c.lr + c.two_l2);
}

// Schedule-free AdamW: z (the momentum slot) takes Adam-scaled SGD steps; the variable
// holds y, the interpolation of z and the running average x of the z's, which is
// recovered from y and the old z rather than stored.
EMBER_HD void schedule_free_adamw(float& param, float grad, float& z, float& v,
                                  const kernels::ScheduleFreeScalars& c) {
  const float z_old = z;
  const float vi = v + (grad * grad - v) * c.one_minus_beta_2;
  v = vi;
  const float denom = std::sqrt(vi / c.bias_correction_2) + c.epsilon;
  const float zi = z_old - (c.lr * grad) / denom;
  z = zi;
  const float x_old = (param - c.one_minus_beta_1 * z_old) / c.beta_1;
  const float x_new = c.one_minus_weight * x_old + c.weight * zi;
  param = c.one_minus_beta_1 * zi + c.beta_1 * x_new;
}

// Lamb's step from the updated moments: (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
EMBER_HD float lamb_step(float m, float v, const kernels::LambScalars& c) {
  return (m / c.one_minus_beta_1_power) / (std::sqrt(v / c.one_minus_beta_2_power) + c.epsilon);
}

// Lamb's first pass over an element: Adam's moments, and the bias-corrected step
// m_hat / (sqrt(v_hat) + eps) it returns (the layer-wise ratio needs all of them).
EMBER_HD float lamb_moments(float grad, float& m, float& v, const kernels::LambScalars& c) {
  const float mi = m + (grad - m) * c.one_minus_beta_1;
  const float vi = v + (grad * grad - v) * c.one_minus_beta_2;
  m = mi;
  v = vi;
  return lamb_step(mi, vi, c);
}

}  // namespace element::optimizer
}  // namespace ember
