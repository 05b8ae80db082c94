// Each loss's per-element math, for the CPU kernels (cpu/loss_kernels.cpp) and
// CUDA launchers alike. An element-wise loss is a functor: (p, t) -> the
// element's float32 loss, the expression Keras's jax backend evaluates, and its
// derivative in p, the float32 chain jax's autodiff builds for it, tie rules
// included. The per-sample loss is the mean over the row (the sum where
// kSumsRow). Losses that reduce over a row first (crossentropy, categorical
// hinge, cosine similarity) are row kernels; their per-class terms are here.
#pragma once
#include <cstdint>

#include "ember/element/hd.h"
#include "ember/element/scalar.h"
#include "ember/error.h"
#include "ember/losses.h"

namespace ember::element::loss {

constexpr float kClipHi = 1.0f - kEpsilon;  // float32(1 - 1e-7) == 1 - 2**-23
constexpr float kLog2 = 0.693147182f;       // float32(log 2)
// Keras's l2 normalisation caps rsqrt(sum(x^2)) at 1 / epsilon.
constexpr float kInvEpsilon = 1e7f;

// An element's loss and its derivative in the prediction.
struct ValueGrad {
  float value, grad;
};

// The smoothed label t * (1 - ls) + add, rounded as Keras's float32 expression.
struct Smoothing {
  bool on = false;
  float keep = 1.0f, add = 0.0f;
  EMBER_HD float operator()(float t) const { return on ? t * keep + add : t; }
};

// Keras computes 1 - ls (and ls / 2, ls / classes) from Python numbers, then rounds.
inline Smoothing binary_smoothing(double ls) {
  return {ls != 0.0, static_cast<float>(1.0 - ls), static_cast<float>(0.5 * ls)};
}
inline Smoothing categorical_smoothing(double ls, int64_t cols) {
  return {ls != 0.0, static_cast<float>(1.0 - ls),
          static_cast<float>(ls) / static_cast<float>(cols)};
}

struct MeanSquaredError {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float d = p - t;
    return {d * d, 2.0f * d};
  }
};

struct MeanAbsoluteError {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float d = t - p;
    return {std::fabs(d), d >= 0.0f ? -1.0f : 1.0f};  // |x|' is +1 at 0 in jax
  }
};

struct MeanAbsolutePercentageError {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float m = max_of(std::fabs(t), kEpsilon);
    const float x = (t - p) / m;
    return {100.0f * std::fabs(x), (x >= 0.0f ? -100.0f : 100.0f) / m};
  }
};

struct MeanSquaredLogarithmicError {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float mp = max_of(p, kEpsilon) + 1.0f;
    const float d = std::log(mp) - std::log(max_of(t, kEpsilon) + 1.0f);
    return {d * d, 2.0f * d / mp * max_grad(p, kEpsilon)};
  }
};

struct Huber {
  static constexpr bool kSumsRow = false;
  float delta, linear_offset;
  EMBER_HD explicit Huber(float d) : delta(d), linear_offset(0.5f * (d * d)) {}
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float e = p - t, a = std::fabs(e);
    if (a <= delta) return {0.5f * (e * e), e};
    return {delta * a - linear_offset, e >= 0.0f ? delta : -delta};
  }
};

// x + softplus(-2x) - log 2, as Keras writes it to stay finite for large x.
struct LogCosh {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float x = p - t, y = x * -2.0f, sp = softplus(y);
    return {x + sp - kLog2, 1.0f - 2.0f * softplus_grad(y, sp)};
  }
};

// On logits: -t log_sigmoid(x) - (1 - t) log_sigmoid(-x), log_sigmoid(x) = -softplus(-x).
struct BinaryCrossentropyFromLogits {
  static constexpr bool kSumsRow = false;
  Smoothing smooth;
  EMBER_HD ValueGrad operator()(float x, float t0) const {
    const float t = smooth(t0), sp_neg = softplus(-x), sp_pos = softplus(x);
    return {t * sp_neg + (1.0f - t) * sp_pos,
            -t * softplus_grad(-x, sp_neg) + (1.0f - t) * softplus_grad(x, sp_pos)};
  }
};

// On probabilities clipped to [1e-7, 1 - 1e-7]. sigmoid rounds to exactly
// 1 - 1e-7 for a whole range of logits: the clip's tie matters.
struct BinaryCrossentropy {
  static constexpr bool kSumsRow = false;
  Smoothing smooth;
  EMBER_HD ValueGrad operator()(float p, float t0) const {
    const float t = smooth(t0), o = clip(p, kEpsilon, kClipHi);
    return {-(t * std::log(o) + (1.0f - t) * std::log(1.0f - o)),
            clip_grad(p, kEpsilon, kClipHi) * (-t / o + (1.0f - t) / (1.0f - o))};
  }
};

// Keras: p = sigmoid(x) when from logits; bce on clip(p);
// loss = [alpha_t] (1 - p_t)^gamma bce with p_t = t p + (1 - t)(1 - p).
struct BinaryFocalCrossentropy {
  static constexpr bool kSumsRow = false;
  Smoothing smooth;
  float gamma;
  bool balance, logits;
  float alpha, one_minus_alpha;
  EMBER_HD ValueGrad operator()(float x, float t0) const {
    const float t = smooth(t0), p = logits ? sigmoid(x) : x;
    const float o = clip(p, kEpsilon, kClipHi);
    const float bce = -(t * std::log(o) + (1.0f - t) * std::log(1.0f - o));
    const float u = 1.0f - (t * p + (1.0f - t) * (1.0f - p));
    const float focal = std::pow(u, gamma);
    const float w = balance ? t * alpha + (1.0f - t) * one_minus_alpha : 1.0f;
    const float dbce = clip_grad(p, kEpsilon, kClipHi) * (-t / o + (1.0f - t) / (1.0f - o));
    const float dfocal = gamma * std::pow(u, gamma - 1.0f) * -(t - (1.0f - t));
    return {w * (focal * bce),
            w * (focal * dbce + bce * dfocal) * (logits ? p * (1.0f - p) : 1.0f)};
  }
};

// sum(t log(t / p)) with t and p clipped to [eps, 1].
struct KLDivergence {
  static constexpr bool kSumsRow = true;
  EMBER_HD ValueGrad operator()(float p, float t0) const {
    const float t = clip(t0, kEpsilon, 1.0f), q = clip(p, kEpsilon, 1.0f);
    const float u = t / q;
    return {t * std::log(u), clip_grad(p, kEpsilon, 1.0f) * ((-(t / u) * t) * (1.0f / (q * q)))};
  }
};

struct Poisson {
  static constexpr bool kSumsRow = false;
  EMBER_HD ValueGrad operator()(float p, float t) const {
    const float q = p + kEpsilon;
    return {p - t * std::log(q), 1.0f - t / q};
  }
};

// max(1 - t p, 0) (squared: its square). Keras turns {0, 1} labels into
// {-1, 1}, deciding over the whole batch: `binary` is that decision.
struct Hinge {
  static constexpr bool kSumsRow = false;
  bool binary, squared;
  EMBER_HD ValueGrad operator()(float p, float t0) const {
    const float t = binary ? 2.0f * t0 - 1.0f : t0;
    const float z = 1.0f - t * p, m = max_of(z, 0.0f);
    return {squared ? m * m : m, (squared ? 2.0f * m : 1.0f) * max_grad(z, 0.0f) * -t};
  }
};

// Whether the kind is one of the functors above (not a row kernel's).
inline bool is_elementwise(LossKind kind) {
  return static_cast<int>(kind) < static_cast<int>(LossKind::CategoricalFocalCrossentropy) &&
         kind != LossKind::CategoricalCrossentropy &&
         kind != LossKind::SparseCategoricalCrossentropy && kind != LossKind::CategoricalHinge &&
         kind != LossKind::CosineSimilarity;
}

// Calls fn(functor) with the element-wise functor of spec (host code: launchers
// pass the functor by value to their kernels) and returns what fn returns.
// binary_targets: whether every target is 0 or 1 (read for the hinges only).
// Throws ValueError for a kind that is not element-wise.
template <typename Fn>
auto visit(const LossSpec& spec, bool binary_targets, Fn&& fn) {
  switch (spec.kind) {
    case LossKind::MeanSquaredError: return fn(MeanSquaredError{});
    case LossKind::MeanAbsoluteError: return fn(MeanAbsoluteError{});
    case LossKind::MeanAbsolutePercentageError: return fn(MeanAbsolutePercentageError{});
    case LossKind::MeanSquaredLogarithmicError: return fn(MeanSquaredLogarithmicError{});
    case LossKind::Huber: return fn(Huber(static_cast<float>(spec.delta)));
    case LossKind::LogCosh: return fn(LogCosh{});
    case LossKind::BinaryCrossentropy:
      if (spec.from_logits)
        return fn(BinaryCrossentropyFromLogits{binary_smoothing(spec.label_smoothing)});
      return fn(BinaryCrossentropy{binary_smoothing(spec.label_smoothing)});
    case LossKind::BinaryFocalCrossentropy:
      return fn(BinaryFocalCrossentropy{binary_smoothing(spec.label_smoothing),
                                        static_cast<float>(spec.gamma), spec.apply_class_balancing,
                                        spec.from_logits, static_cast<float>(spec.alpha),
                                        static_cast<float>(1.0 - spec.alpha)});
    case LossKind::KLDivergence: return fn(KLDivergence{});
    case LossKind::Poisson: return fn(Poisson{});
    case LossKind::Hinge: return fn(Hinge{binary_targets, false});
    case LossKind::SquaredHinge: return fn(Hinge{binary_targets, true});
    case LossKind::CategoricalCrossentropy:
    case LossKind::SparseCategoricalCrossentropy:
    case LossKind::CategoricalHinge:
    case LossKind::CosineSimilarity:
    case LossKind::CategoricalFocalCrossentropy:
    case LossKind::CategoricalGeneralizedCrossEntropy:
    case LossKind::Dice:
    case LossKind::Tversky:
    case LossKind::Circle:
    case LossKind::CTC: break;
  }
  throw ValueError(std::string("loss ") + loss_name(spec.kind) + " is not element-wise");
}

// ---- per-class terms of the row losses

// Crossentropy on probabilities, class by class: q = p / sum(p) is clipped to
// c; d(-t log c)/dq, through the clip (0 where t is 0: the term is skipped).
EMBER_HD float crossentropy_class_grad(float q, float t, float c) {
  return t != 0.0f ? clip_grad(q, kEpsilon, kClipHi) * -t / c : 0.0f;
}

// Crossentropy on logits through log_softmax: d/dx_j = sum(t) softmax_j - t_j,
// from shifted = x_j - max(x) and share = sum(t) / sum(exp(shifted)).
EMBER_HD float softmax_crossentropy_class_grad(float shifted, float share, float t) {
  return std::exp(shifted) * share - t;
}

// Categorical hinge's score of a class on the negative side, (1 - t) p.
EMBER_HD float categorical_hinge_negative(float p, float t) { return (1.0f - t) * p; }
// d/dp_j of max_j((1 - t_j) p_j) - sum_j(t_j p_j), times g: the max's gradient
// is shared among the `ties` classes that reach it (neg), as jax shares it.
EMBER_HD float categorical_hinge_class_grad(float p, float t, float neg, float ties, float g) {
  const float share = categorical_hinge_negative(p, t) == neg ? (1.0f - t) / ties : 0.0f;
  return g * (share - t);
}

// d/dp_j of -sum(normalize(t) * normalize(p)), given inv_p and inv_t (the capped
// rsqrts) and d_sq, the gradient reaching sum(p^2) through inv_p.
EMBER_HD float cosine_similarity_class_grad(float p, float t, float inv_p, float inv_t,
                                            float d_sq) {
  return -(t * inv_t) * inv_p + d_sq * 2.0f * p;
}

}  // namespace ember::element::loss
