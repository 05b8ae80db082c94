// Scalar building blocks of the element math (activation.h, loss.h,
// optimizer.h), for CPU and CUDA device code alike.
//
// max_of and min_of are std::max and std::min, which device code cannot call:
// the same comparison, so a NaN argument picks the same side (std::fmax would
// not). max_grad and min_grad are jax's derivatives of jnp.maximum and
// jnp.minimum in their first argument: a tie passes half.
#pragma once
#include <cmath>

#include "ember/element/hd.h"

namespace ember::element {

// float32 infinity as a constant (std::numeric_limits is not device code).
constexpr float kInf = __builtin_huge_valf();

EMBER_HD float max_of(float a, float b) { return a < b ? b : a; }
EMBER_HD float min_of(float a, float b) { return b < a ? b : a; }
// std::isinf, spelled out.
EMBER_HD bool is_inf(float x) { return x == kInf || x == -kInf; }

EMBER_HD float max_grad(float x, float bound) {
  return x > bound ? 1.0f : (x == bound ? 0.5f : 0.0f);
}
EMBER_HD float min_grad(float x, float bound) {
  return x < bound ? 1.0f : (x == bound ? 0.5f : 0.0f);
}

// jnp.clip(x, lo, hi) is min(max(x, lo), hi), so its gradient is the product.
EMBER_HD float clip(float x, float lo, float hi) { return min_of(max_of(x, lo), hi); }
EMBER_HD float clip_grad(float x, float lo, float hi) {
  return max_grad(x, lo) * min_grad(max_of(x, lo), hi);
}

EMBER_HD float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// log(1 + e^x) as jnp.logaddexp(x, 0) computes it, and its derivative
// exp(x - softplus(x)) given sp = softplus(x).
EMBER_HD float softplus(float x) { return max_of(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
EMBER_HD float softplus_grad(float x, float sp) { return std::exp(x - sp); }

}  // namespace ember::element
