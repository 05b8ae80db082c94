// The per-element math of the elementwise engine (ops_math.h's BinaryOp and UnaryOp, and
// MergeOp, which folds the binary kinds): each forward and its gradient as jax's JVP rules
// write them, once, for CPU kernels and CUDA device code alike (see hd.h).
#pragma once
#include <cmath>

#include "ember/element/hd.h"
#include "ember/element/scalar.h"

namespace ember {

// The comparisons give 1.0f or 0.0f (a graph's values are float32) and no gradient, as jax
// gives none through a boolean; FloorDivide and Mod are jnp.floor_divide and jnp.mod.
enum class BinaryKind {
  Add,
  Subtract,
  Multiply,
  Divide,
  Maximum,
  Minimum,
  Power,
  Greater,
  GreaterEqual,
  Less,
  LessEqual,
  Equal,
  NotEqual,
  Arctan2,
  FloorDivide,
  Mod
};
// Floor, Ceil, Round (half to even, as jnp.round) and Trunc have a zero gradient, as in jax;
// StopGradient is the identity forward and passes no gradient back.
enum class UnaryKind {
  Negative,
  Abs,
  Square,
  Sqrt,
  Exp,
  Log,
  Reciprocal,
  Sign,
  Sin,
  Cos,
  Tan,
  Arcsin,
  Arccos,
  Arctan,
  Sinh,
  Cosh,
  Arcsinh,
  Arccosh,
  Arctanh,
  Log1p,
  Expm1,
  Erf,
  Floor,
  Ceil,
  Round,
  Trunc,
  StopGradient
};
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
    case BinaryKind::Greater: return a > b ? 1.0f : 0.0f;
    case BinaryKind::GreaterEqual: return a >= b ? 1.0f : 0.0f;
    case BinaryKind::Less: return a < b ? 1.0f : 0.0f;
    case BinaryKind::LessEqual: return a <= b ? 1.0f : 0.0f;
    case BinaryKind::Equal: return a == b ? 1.0f : 0.0f;
    case BinaryKind::NotEqual: return a != b ? 1.0f : 0.0f;
    case BinaryKind::Arctan2: return std::atan2(a, b);
    case BinaryKind::FloorDivide: return std::floor(a / b);
    case BinaryKind::Mod: {
      // The remainder takes the divisor's sign, as jnp.mod (Python's %) does.
      const float r = std::fmod(a, b);
      return r != 0.0f && ((r < 0.0f) != (b < 0.0f)) ? r + b : r;
    }
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
    case BinaryKind::Greater:
    case BinaryKind::GreaterEqual:
    case BinaryKind::Less:
    case BinaryKind::LessEqual:
    case BinaryKind::Equal:
    case BinaryKind::NotEqual:
    case BinaryKind::FloorDivide: return 0.0f;
    case BinaryKind::Arctan2: {
      const float r = a * a + b * b;
      return first ? g * (b / r) : g * (-a / r);
    }
    case BinaryKind::Mod: return first ? g : -g * std::floor(a / b);
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
    case UnaryKind::Sin: return std::sin(x);
    case UnaryKind::Cos: return std::cos(x);
    case UnaryKind::Tan: return std::tan(x);
    case UnaryKind::Arcsin: return std::asin(x);
    case UnaryKind::Arccos: return std::acos(x);
    case UnaryKind::Arctan: return std::atan(x);
    case UnaryKind::Sinh: return std::sinh(x);
    case UnaryKind::Cosh: return std::cosh(x);
    case UnaryKind::Arcsinh: return std::asinh(x);
    case UnaryKind::Arccosh: return std::acosh(x);
    case UnaryKind::Arctanh: return std::atanh(x);
    case UnaryKind::Log1p: return std::log1p(x);
    case UnaryKind::Expm1: return std::expm1(x);
    case UnaryKind::Erf: return std::erf(x);
    case UnaryKind::Floor: return std::floor(x);
    case UnaryKind::Ceil: return std::ceil(x);
    case UnaryKind::Round: return std::nearbyint(x);
    case UnaryKind::Trunc: return std::trunc(x);
    case UnaryKind::StopGradient: return x;
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
    case UnaryKind::Sin: return g * std::cos(x);
    case UnaryKind::Cos: return g * -std::sin(x);
    case UnaryKind::Tan: return g * (1.0f + y * y);
    case UnaryKind::Arcsin: return g / std::sqrt(1.0f - x * x);
    case UnaryKind::Arccos: return -g / std::sqrt(1.0f - x * x);
    case UnaryKind::Arctan: return g / (1.0f + x * x);
    case UnaryKind::Sinh: return g * std::cosh(x);
    case UnaryKind::Cosh: return g * std::sinh(x);
    case UnaryKind::Arcsinh: return g / std::sqrt(x * x + 1.0f);
    case UnaryKind::Arccosh: return g / (std::sqrt(x - 1.0f) * std::sqrt(x + 1.0f));
    case UnaryKind::Arctanh: return g / (1.0f - x * x);
    case UnaryKind::Log1p: return g / (1.0f + x);
    case UnaryKind::Expm1: return g * (y + 1.0f);
    // 2 / sqrt(pi)
    case UnaryKind::Erf: return g * (1.1283791670955126f * std::exp(-x * x));
    case UnaryKind::Floor:
    case UnaryKind::Ceil:
    case UnaryKind::Round:
    case UnaryKind::Trunc:
    case UnaryKind::StopGradient: return 0.0f;
  }
  return 0.0f;
}

}  // namespace element
}  // namespace ember
