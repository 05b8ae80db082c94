// The per-element math of the elementwise engine (ops_math.h's BinaryOp and UnaryOp, and
// MergeOp, which folds the binary kinds): each forward and its gradient as jax's JVP rules
// write them, once, for CPU kernels and CUDA device code alike (see hd.h).
#pragma once
#include <cmath>

#include "ember/element/hd.h"
#include "ember/element/scalar.h"

namespace ember {

enum class BinaryKind { Add, Subtract, Multiply, Divide, Maximum, Minimum, Power };
enum class UnaryKind { Negative, Abs, Square, Sqrt, Exp, Log, Reciprocal, Sign };
enum class ReduceKind { Sum, Mean, Max, Min };

namespace element {

// op(a, b). Maximum / Minimum propagate a NaN of either side (as jnp.maximum does); otherwise
// they pick as std::max / std::min do, so max(-0, +0) is the first operand.
EMBER_HD float binary_forward(BinaryKind k, float a, float b) {
  switch (k) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Subtract: return a - b;
    case BinaryKind::Multiply: return a * b;
    case BinaryKind::Divide: return a / b;
    case BinaryKind::Maximum: return std::isnan(a) || std::isnan(b) ? a + b : max_of(a, b);
    case BinaryKind::Minimum: return std::isnan(a) || std::isnan(b) ? a + b : min_of(a, b);
    case BinaryKind::Power: return std::pow(a, b);
  }
  return 0.0f;
}

// g * d op(a, b) / d a (first) or d b, given out = op(a, b).
EMBER_HD float binary_grad(BinaryKind k, bool first, float g, float a, float b, float out) {
  switch (k) {
    case BinaryKind::Add: return g;
    case BinaryKind::Subtract: return first ? g : -g;
    case BinaryKind::Multiply: return first ? g * b : a * g;
    case BinaryKind::Divide: return first ? g / b : (-g * a) * (1.0f / (b * b));
    case BinaryKind::Maximum:
    case BinaryKind::Minimum: {
      // jax's balanced rule: the chosen operand gets g, both get g/2 on a tie.
      const float self = first ? a : b, other = first ? b : a;
      if (self != out) return 0.0f;
      return other == out ? g * 0.5f : g;
    }
    case BinaryKind::Power:
      if (first) return b == 0.0f ? 0.0f : g * (b * std::pow(a, b - 1.0f));
      return g * (std::log(a == 0.0f ? 1.0f : a) * out);
  }
  return 0.0f;
}

// Whether binary_grad reads a, b or out (Add and Subtract's gradients are constants).
EMBER_HD constexpr bool binary_grad_reads_values(BinaryKind k) {
  return k != BinaryKind::Add && k != BinaryKind::Subtract;
}

// Whether binary_grad reads out (a caller may pass no forward output for the others).
EMBER_HD constexpr bool binary_grad_reads_output(BinaryKind k) {
  return k == BinaryKind::Maximum || k == BinaryKind::Minimum || k == BinaryKind::Power;
}

EMBER_HD float unary_forward(UnaryKind k, float x) {
  switch (k) {
    case UnaryKind::Negative: return -x;
    case UnaryKind::Abs: return std::fabs(x);
    case UnaryKind::Square: return x * x;
    case UnaryKind::Sqrt: return std::sqrt(x);
    case UnaryKind::Exp: return std::exp(x);
    case UnaryKind::Log: return std::log(x);
    case UnaryKind::Reciprocal: return 1.0f / x;
    case UnaryKind::Sign: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
  }
  return 0.0f;
}

// g * f'(x), given y = f(x).
EMBER_HD float unary_grad(UnaryKind k, float g, float x, float y) {
  switch (k) {
    case UnaryKind::Negative: return -g;
    case UnaryKind::Abs: return x >= 0.0f ? g : -g;
    case UnaryKind::Square: return g * (2.0f * x);
    case UnaryKind::Sqrt: return g * (0.5f / y);
    case UnaryKind::Exp: return g * y;
    case UnaryKind::Log: return g / x;
    case UnaryKind::Reciprocal: return g * -(1.0f / (x * x));
    case UnaryKind::Sign: return 0.0f;
  }
  return 0.0f;
}

}  // namespace element
}  // namespace ember
