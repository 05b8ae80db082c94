// Each element-wise activation as a small functor, for the CPU kernels
// (cpu/elementwise.cpp) and CUDA launchers alike: fwd(x) is Keras's formula
// (jax backend) in float32; bwd(g, x, y) is g * act'(x) as jax's autodiff
// evaluates it through that formula, ties at kinks included, where y = fwd(x).
// Kernels are templates over the functor, so the choice of activation is made
// once per call (visit below), not per element.
//
// kNeedsX: bwd reads x (the pre-activation); otherwise it is passed 0 and only y
// counts. Softmax and log_softmax normalise along rows and are the kernels' own.
#pragma once
#include "ember/activations.h"
#include "ember/element/hd.h"
#include "ember/element/scalar.h"

namespace ember::element::activation {

EMBER_HD float step(bool b) { return b ? 1.0f : 0.0f; }

struct Identity {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return x; }
  EMBER_HD float bwd(float g, float, float) const { return g; }
};

// max(x, 0); relu'(0) = 0, so the gradient is read off y.
struct Relu {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return max_of(x, 0.0f); }
  EMBER_HD float bwd(float g, float, float y) const { return y > 0.0f ? g : 0.0f; }
};

// keras.activations.relu with its parameters, branch for branch as ReLU.static_call:
// leaky_relu when only negative_slope is set; otherwise a thresholded (or relu6,
// or plain) relu, clipped at max_value, minus negative_slope * relu(threshold - x).
struct ReluWithParameters {
  static constexpr bool kNeedsX = true;
  float s, m, t;
  bool leaky_only, relu6, clip;
  EMBER_HD ReluWithParameters(float negative_slope, float max_value, float threshold)
      : s(negative_slope),
        m(max_value),
        t(threshold),
        leaky_only(s != 0.0f && is_inf(m) && t == 0.0f),
        relu6(t == 0.0f && m == 6.0f),
        clip(!is_inf(m) && !relu6) {}
  EMBER_HD float fwd(float x) const {
    if (leaky_only) return x >= 0.0f ? x : s * x;
    float v =
        t != 0.0f ? (x > t ? x : 0.0f) : (relu6 ? min_of(max_of(x, 0.0f), 6.0f) : max_of(x, 0.0f));
    if (clip) v = min_of(max_of(v, 0.0f), m);
    if (s != 0.0f) v -= s * max_of(t - x, 0.0f);
    return v;
  }
  EMBER_HD float bwd(float g, float x, float) const {
    if (leaky_only) return x >= 0.0f ? g : g * s;
    float v, d;
    if (t != 0.0f) {
      v = x > t ? x : 0.0f;
      d = step(x > t);
    } else if (relu6) {
      v = min_of(max_of(x, 0.0f), 6.0f);
      d = step(x > 0.0f && x < 6.0f);
    } else {
      v = max_of(x, 0.0f);
      d = step(x > 0.0f);
    }
    if (clip) d *= max_grad(v, 0.0f) * min_grad(max_of(v, 0.0f), m);
    if (s != 0.0f && t - x > 0.0f) d += s;  // relu'(0) = 0 at x == threshold
    return g * d;
  }
};

struct Relu6 {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return min_of(max_of(x, 0.0f), 6.0f); }
  EMBER_HD float bwd(float g, float, float y) const { return y > 0.0f && y < 6.0f ? g : 0.0f; }
};

struct LeakyRelu {
  static constexpr bool kNeedsX = true;
  float s;
  EMBER_HD float fwd(float x) const { return x >= 0.0f ? x : s * x; }
  EMBER_HD float bwd(float g, float x, float) const { return x >= 0.0f ? g : g * s; }
};

// alpha * expm1(x) below 0; the gradient there, alpha * (expm1(x) + 1), is alpha at x = 0.
struct Elu {
  static constexpr bool kNeedsX = true;
  float alpha, scale;  // selu: elu with fixed alpha, times scale
  EMBER_HD float fwd(float x) const { return scale * (x > 0.0f ? x : alpha * std::expm1(x)); }
  EMBER_HD float bwd(float g, float x, float) const {
    return x > 0.0f ? g * scale : g * scale * (alpha * (std::expm1(x) + 1.0f));
  }
};
constexpr float kSeluAlpha = 1.67326324235437728f, kSeluScale = 1.05070098735548049f;

// max(x, 0) + alpha * expm1(min(x, 0) / alpha): the two halves share x = 0.
struct Celu {
  static constexpr bool kNeedsX = true;
  float alpha;
  EMBER_HD float fwd(float x) const {
    return max_of(x, 0.0f) + alpha * std::expm1(min_of(x, 0.0f) / alpha);
  }
  EMBER_HD float bwd(float g, float x, float) const {
    const float e = std::expm1(min_of(x, 0.0f) / alpha) + 1.0f;
    return g * (max_grad(x, 0.0f) + e * min_grad(x, 0.0f));
  }
};

struct Sigmoid {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return sigmoid(x); }
  EMBER_HD float bwd(float g, float, float y) const { return g * (y * (1.0f - y)); }
};

// relu6(x + 3) / 6.
struct HardSigmoid {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return min_of(max_of(x + 3.0f, 0.0f), 6.0f) / 6.0f; }
  EMBER_HD float bwd(float g, float x, float) const {
    const float u = x + 3.0f;
    return u > 0.0f && u < 6.0f ? g / 6.0f : 0.0f;
  }
};

// -softplus(-x); the gradient is exp(-x - softplus(-x)) = exp(y - x).
struct LogSigmoid {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return -softplus(-x); }
  EMBER_HD float bwd(float g, float x, float y) const { return g * std::exp(-x + y); }
};

// 0.5 * clip(x + 1, 0, 2).
struct SparseSigmoid {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return 0.5f * min_of(max_of(x + 1.0f, 0.0f), 2.0f); }
  EMBER_HD float bwd(float g, float x, float) const {
    const float u = x + 1.0f;
    return g * (0.5f * (max_grad(u, 0.0f) * min_grad(max_of(u, 0.0f), 2.0f)));
  }
};

struct Tanh {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return std::tanh(x); }
  EMBER_HD float bwd(float g, float, float y) const { return (g + g * y) * (1.0f - y); }
};

// x above 1 and below -1 is clamped; inside, including both ends, the slope is 1.
struct HardTanh {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x); }
  EMBER_HD float bwd(float g, float x, float) const { return x > 1.0f || x < -1.0f ? 0.0f : g; }
};

struct TanhShrink {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x - std::tanh(x); }
  EMBER_HD float bwd(float g, float x, float) const {
    const float t = std::tanh(x);
    return g - (g + g * t) * (1.0f - t);
  }
};

// The gradient sigmoid(x) = exp(x - y) = 1 - exp(-y): -expm1(-y) is exact to
// rounding over the whole range, so x need not be kept.
struct Softplus {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return softplus(x); }
  EMBER_HD float bwd(float g, float, float y) const { return g * -std::expm1(-y); }
};

// 0 up to -1, (x + 1)^2 / 4 between, x from 1 on.
struct SparsePlus {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const {
    if (x <= -1.0f) return 0.0f;
    if (x >= 1.0f) return x;
    const float u = x + 1.0f;
    return u * u / 4.0f;
  }
  EMBER_HD float bwd(float g, float x, float) const {
    if (x <= -1.0f) return 0.0f;
    if (x >= 1.0f) return g;
    return g * (2.0f * (x + 1.0f)) / 4.0f;
  }
};

// (x + sqrt(x^2 + b)) / 2.
struct Squareplus {
  static constexpr bool kNeedsX = true;
  float b;
  EMBER_HD float fwd(float x) const { return (x + std::sqrt(x * x + b)) / 2.0f; }
  EMBER_HD float bwd(float g, float x, float) const {
    return g * (1.0f + x / std::sqrt(x * x + b)) / 2.0f;
  }
};

// x / (|x| + 1); the gradient 1 / (|x| + 1)^2 would lose its digits as 1 - |y|.
struct Softsign {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x / (std::fabs(x) + 1.0f); }
  EMBER_HD float bwd(float g, float x, float) const {
    const float u = std::fabs(x) + 1.0f;
    return g / (u * u);
  }
};

// x * sigmoid(x).
struct Silu {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x * sigmoid(x); }
  EMBER_HD float bwd(float g, float x, float) const {
    const float s = sigmoid(x);
    return g * s + x * (g * (s * (1.0f - s)));
  }
};

// x * hard_sigmoid(x).
struct HardSilu {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x * HardSigmoid{}.fwd(x); }
  EMBER_HD float bwd(float g, float x, float) const {
    return g * HardSigmoid{}.fwd(x) + x * HardSigmoid{}.bwd(g, x, 0.0f);
  }
};

// Exact: x/2 * erfc(-x / sqrt(2)). Approximate: x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct Gelu {
  static constexpr bool kNeedsX = true;
  static constexpr float kSqrtHalf = 0.70710678118654752f;
  static constexpr float kSqrt2OverPi = 0.79788456080286536f;
  static constexpr float kTwoOverSqrtPi = 1.12837916709551257f;
  static constexpr float kCubic = 0.044715f;
  bool approximate;
  EMBER_HD float fwd(float x) const {
    if (approximate)
      return x * (0.5f * (1.0f + std::tanh(kSqrt2OverPi * (x + kCubic * (x * x * x)))));
    return 0.5f * x * std::erfc(-x * kSqrtHalf);
  }
  EMBER_HD float bwd(float g, float x, float) const {
    if (approximate) {
      const float t = std::tanh(kSqrt2OverPi * (x + kCubic * (x * x * x)));
      const float cdf = 0.5f * (1.0f + t);
      const float dt = (1.0f + t) * (1.0f - t) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * (x * x));
      return g * cdf + x * (g * 0.5f * dt);
    }
    const float u = -x * kSqrtHalf;
    return g * (0.5f * std::erfc(u)) +
           0.5f * x * (g * kTwoOverSqrtPi * std::exp(-u * u) * kSqrtHalf);
  }
};

// x * tanh(softplus(x)).
struct Mish {
  static constexpr bool kNeedsX = true;
  EMBER_HD float fwd(float x) const { return x * std::tanh(softplus(x)); }
  EMBER_HD float bwd(float g, float x, float) const {
    const float sp = softplus(x), t = std::tanh(sp);
    return g * t + x * (g * ((1.0f + t) * (1.0f - t)) * std::exp(x - sp));
  }
};

struct Exponential {
  static constexpr bool kNeedsX = false;
  EMBER_HD float fwd(float x) const { return std::exp(x); }
  EMBER_HD float bwd(float g, float, float y) const { return g * y; }
};

// x where |x| > threshold, 0 elsewhere.
struct HardShrink {
  static constexpr bool kNeedsX = true;
  float t;
  EMBER_HD float fwd(float x) const { return std::fabs(x) > t ? x : 0.0f; }
  EMBER_HD float bwd(float g, float x, float) const { return std::fabs(x) > t ? g : 0.0f; }
};

// x - threshold above it, x + threshold below -threshold, 0 between.
struct SoftShrink {
  static constexpr bool kNeedsX = true;
  float t;
  EMBER_HD float fwd(float x) const { return x > t ? x - t : (x < -t ? x + t : 0.0f); }
  EMBER_HD float bwd(float g, float x, float) const { return x > t || x < -t ? g : 0.0f; }
};

// PReLU with its learned slope a, as jax differentiates relu(x) - a * relu(-x):
// d/dx is 1 above 0, a below, 0 at 0; d/da is min(x, 0).
EMBER_HD float prelu(float x, float a) { return x > 0.0f ? x : a * x; }
EMBER_HD float prelu_grad_x(float g, float x, float a) {
  return x > 0.0f ? g : (x < 0.0f ? g * a : 0.0f);
}
EMBER_HD float prelu_grad_alpha(float g, float x) { return g * min_of(x, 0.0f); }

// Calls visit(functor) with the functor of a (host code: launchers pass the
// functor by value to their kernels). Softmax and log_softmax are not
// element-wise: visit is not called for them.
template <typename Visit>
void visit(const Activation& a, Visit&& fn) {
  switch (a.kind) {
    case ActivationKind::Linear: return fn(Identity{});
    case ActivationKind::Relu:
      if (activation_backward_needs_input(a))
        return fn(ReluWithParameters(a.negative_slope, a.max_value, a.threshold));
      return fn(Relu{});
    case ActivationKind::Relu6: return fn(Relu6{});
    case ActivationKind::LeakyRelu: return fn(LeakyRelu{a.negative_slope});
    case ActivationKind::Elu: return fn(Elu{a.alpha, 1.0f});
    case ActivationKind::Selu: return fn(Elu{kSeluAlpha, kSeluScale});
    case ActivationKind::Celu: return fn(Celu{a.alpha});
    case ActivationKind::Sigmoid: return fn(Sigmoid{});
    case ActivationKind::HardSigmoid: return fn(HardSigmoid{});
    case ActivationKind::LogSigmoid: return fn(LogSigmoid{});
    case ActivationKind::SparseSigmoid: return fn(SparseSigmoid{});
    case ActivationKind::Tanh: return fn(Tanh{});
    case ActivationKind::HardTanh: return fn(HardTanh{});
    case ActivationKind::TanhShrink: return fn(TanhShrink{});
    case ActivationKind::Softplus: return fn(Softplus{});
    case ActivationKind::SparsePlus: return fn(SparsePlus{});
    case ActivationKind::Squareplus: return fn(Squareplus{a.b});
    case ActivationKind::Softsign: return fn(Softsign{});
    case ActivationKind::Silu: return fn(Silu{});
    case ActivationKind::HardSilu: return fn(HardSilu{});
    case ActivationKind::Gelu: return fn(Gelu{a.approximate});
    case ActivationKind::Mish: return fn(Mish{});
    case ActivationKind::Exponential: return fn(Exponential{});
    case ActivationKind::HardShrink: return fn(HardShrink{a.threshold});
    case ActivationKind::SoftShrink: return fn(SoftShrink{a.threshold});
    case ActivationKind::Softmax:
    case ActivationKind::LogSoftmax: break;
  }
}

}  // namespace ember::element::activation
