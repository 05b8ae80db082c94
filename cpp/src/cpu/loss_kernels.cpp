// Losses with gradients (see ember/losses.h).
// pred: (rows, cols); target: (rows, cols), or (rows) class ids for the sparse
// forms; sample_weight: (rows) or null. Each per-sample value is the float32
// expression Keras's jax backend evaluates, summed in double; gradients are the
// float32 chain jax's autodiff builds for it, tie rules included.
#include <algorithm>
#include <cmath>
#include <string>

#include "cpu/scalar.h"
#include "ember/error.h"
#include "ember/losses.h"

namespace ember {
namespace {

constexpr float kClipHi = 1.0f - kEpsilon;  // float32(1 - 1e-7) == 1 - 2**-23
constexpr float kLog2 = 0.693147182f;       // float32(log 2)

// d max(x, bound)/dx and d min(x, bound)/dx as jax has them: a tie passes half.
float max_grad(float x, float bound) { return x > bound ? 1.0f : (x == bound ? 0.5f : 0.0f); }
float min_grad(float x, float bound) { return x < bound ? 1.0f : (x == bound ? 0.5f : 0.0f); }

// jnp.clip(x, lo, hi) is min(max(x, lo), hi), so its gradient is the product.
// sigmoid rounds to exactly 1 - 1e-7 for a whole range of logits: the tie matters.
float clip(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }
float clip_grad(float x, float lo, float hi) {
  return max_grad(x, lo) * min_grad(std::max(x, lo), hi);
}

// jax's softplus, logaddexp(x, 0), and its derivative exp(x - softplus(x)).
float softplus(float x) { return std::max(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
float softplus_grad(float x, float sp) { return std::exp(x - sp); }

using cpu::sigmoid;

// The smoothed label t * (1 - ls) + add, rounded as Keras's float32 expression.
struct Smoothing {
  bool on = false;
  float keep = 1.0f, add = 0.0f;
  float operator()(float t) const { return on ? t * keep + add : t; }
};

Smoothing binary_smoothing(double ls) {
  return {ls != 0.0, static_cast<float>(1.0 - ls), static_cast<float>(0.5 * ls)};
}

Smoothing categorical_smoothing(double ls, int64_t cols) {
  return {ls != 0.0, static_cast<float>(1.0 - ls),
          static_cast<float>(ls) / static_cast<float>(cols)};
}

// Keras's hinge turns {0, 1} labels into {-1, 1}, deciding over the whole batch.
bool all_binary(const float* t, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (t[i] != 0.0f && t[i] != 1.0f) return false;
  return true;
}

int64_t class_index(float label, int64_t cols) {
  const auto k = static_cast<int64_t>(label);
  if (!(label >= 0.0f) || static_cast<float>(k) != label || k >= cols)
    throw ValueError("sparse label " + std::to_string(label) +
                     " is not a class id of an output of " + std::to_string(cols) +
                     " classes: labels must be integers in [0, " + std::to_string(cols - 1) +
                     "] (or the loss's ignore_class)");
  return k;
}

// One batch as the row losses see it.
struct Rows {
  const float* pred;
  const float* target;
  int64_t rows, cols;
};

// Elementwise losses: Elem(p, t, g) returns the element's float32 loss and sets
// *g to its derivative in p; the per-sample loss is the mean over the row (the
// sum for kl_divergence, `per_row_divisor` 1).
template <typename Elem>
struct ElementwiseRow {
  Elem elem;
  float per_row_divisor;
  double operator()(const float* p, const float* t, int64_t cols, float scale, float* d) const {
    double sum = 0.0;
    const float s = scale / per_row_divisor;
    for (int64_t j = 0; j < cols; ++j) {
      float g = 0.0f;
      sum += static_cast<double>(elem(p[j], t[j], &g));
      if (d) d[j] = s * g;
    }
    return sum / static_cast<double>(per_row_divisor);
  }
};
template <typename Elem>
ElementwiseRow<Elem> elementwise(Elem elem, float per_row_divisor) {
  return {elem, per_row_divisor};
}

// Categorical crossentropy on probabilities: q = p / sum(p), c = clip(q),
// loss = -sum(t log c); the gradient goes back through the clip and the
// normalisation. label >= 0 stands for a one-hot target row (t is then unused).
double crossentropy_row(const float* p, const float* t, int64_t label, const Smoothing& smooth,
                        int64_t cols, float scale, float* d) {
  float s = 0.0f;
  for (int64_t j = 0; j < cols; ++j) s += p[j];
  double loss = 0.0;
  float gq_dot_q = 0.0f;  // sum_j g_j q_j, the normalisation's share of the gradient
  for (int64_t j = 0; j < cols; ++j) {
    const float tj = label >= 0 ? (j == label ? 1.0f : 0.0f) : smooth(t[j]);
    const float q = p[j] / s;
    const float c = clip(q, kEpsilon, kClipHi);
    if (tj != 0.0f) loss -= static_cast<double>(tj) * std::log(static_cast<double>(c));
    if (d) {
      const float g = tj != 0.0f ? clip_grad(q, kEpsilon, kClipHi) * -tj / c : 0.0f;
      d[j] = g;  // d loss / d q_j for now
      gq_dot_q += g * q;
    }
  }
  if (d)
    for (int64_t j = 0; j < cols; ++j) d[j] = scale * (d[j] - gq_dot_q) / s;
  return loss;
}

// The same on logits through jax's log_softmax: shifted = x - max(x),
// log p = shifted - log(sum(exp(shifted))). d/dx_j = sum(t) softmax_j - t_j.
double log_softmax_crossentropy_row(const float* x, const float* t, int64_t label,
                                    const Smoothing& smooth, int64_t cols, float scale, float* d) {
  float m = x[0];
  for (int64_t j = 1; j < cols; ++j) m = std::max(m, x[j]);
  float sumexp = 0.0f;
  for (int64_t j = 0; j < cols; ++j) sumexp += std::exp(x[j] - m);
  const float lse = std::log(sumexp);
  double loss = 0.0;
  float tsum = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    const float tj = label >= 0 ? (j == label ? 1.0f : 0.0f) : smooth(t[j]);
    tsum += tj;
    if (tj != 0.0f) loss -= static_cast<double>(tj) * static_cast<double>((x[j] - m) - lse);
  }
  if (d) {
    const float share = tsum / sumexp;
    for (int64_t j = 0; j < cols; ++j) {
      const float tj = label >= 0 ? (j == label ? 1.0f : 0.0f) : smooth(t[j]);
      d[j] = scale * (std::exp(x[j] - m) * share - tj);
    }
  }
  return loss;
}

// max(max_j((1 - t_j) p_j) - sum_j(t_j p_j) + 1, 0). The max over classes
// shares its gradient equally among the classes that reach it, as jax's does.
double categorical_hinge_row(const float* p, const float* t, int64_t cols, float scale, float* d) {
  float pos = 0.0f, neg = (1.0f - t[0]) * p[0];
  for (int64_t j = 0; j < cols; ++j) {
    pos += t[j] * p[j];
    neg = std::max(neg, (1.0f - t[j]) * p[j]);
  }
  const float z = neg - pos + 1.0f;
  if (d) {
    float ties = 0.0f;
    for (int64_t j = 0; j < cols; ++j) ties += ((1.0f - t[j]) * p[j] == neg) ? 1.0f : 0.0f;
    const float g = scale * max_grad(z, 0.0f);
    for (int64_t j = 0; j < cols; ++j) {
      const float share = (1.0f - t[j]) * p[j] == neg ? (1.0f - t[j]) / ties : 0.0f;
      d[j] = g * (share - t[j]);
    }
  }
  return static_cast<double>(std::max(z, 0.0f));
}

// Keras's l2 normalisation: x * min(rsqrt(sum(x^2)), 1 / eps).
constexpr float kInvEpsilon = 1e7f;

// -sum(normalize(t) * normalize(p)), the gradient through the rsqrt and its cap.
double cosine_similarity_row(const float* p, const float* t, int64_t cols, float scale, float* d) {
  float sq_p = 0.0f, sq_t = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    sq_p += p[j] * p[j];
    sq_t += t[j] * t[j];
  }
  const float r_p = 1.0f / std::sqrt(sq_p), r_t = 1.0f / std::sqrt(sq_t);
  const float inv_p = std::min(r_p, kInvEpsilon), inv_t = std::min(r_t, kInvEpsilon);
  float dot = 0.0f, tn_dot_p = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    const float tn = t[j] * inv_t;
    dot += tn * (p[j] * inv_p);
    tn_dot_p += tn * p[j];
  }
  if (d) {
    // d inv_p = -tn.p; through min and rsqrt: d sq = d inv_p * [tie] * -0.5 * r / sq.
    const float d_sq = -tn_dot_p * min_grad(r_p, kInvEpsilon) * (-0.5f * (r_p / sq_p));
    for (int64_t j = 0; j < cols; ++j)
      d[j] = scale * (-(t[j] * inv_t) * inv_p + d_sq * 2.0f * p[j]);
  }
  return -static_cast<double>(dot);
}

// Runs row(p, t, cols, scale, d) over the batch with Keras's weighting and
// reduction. `target_stride` is cols, or 1 for class ids; ignored(r) says
// whether row r is masked out (sparse labels equal to ignore_class).
template <typename Row, typename Ignored>
double reduce_rows(const Row& row, const Ignored& ignored, const LossSpec& spec, const Rows& b,
                   int64_t target_stride, const float* sample_weight, float grad_scale,
                   float* dpred, float* per_sample) {
  // The divisor of the weighted sum (1 for "sum"); Keras's divide_no_nan makes
  // a zero divisor give a zero loss and zero gradients.
  double divisor = 1.0;
  if (spec.reduction == Reduction::SumOverBatchSize ||
      spec.reduction == Reduction::MeanWithSampleWeight) {
    const bool by_weights = spec.reduction == Reduction::MeanWithSampleWeight && sample_weight;
    divisor = 0.0;
    for (int64_t r = 0; r < b.rows; ++r)
      if (!ignored(r)) divisor += by_weights ? static_cast<double>(sample_weight[r]) : 1.0;
  }
  const float factor = divisor != 0.0 ? grad_scale * static_cast<float>(1.0 / divisor) : 0.0f;
  double total = 0.0;
  for (int64_t r = 0; r < b.rows; ++r) {
    float* d = dpred ? dpred + r * b.cols : nullptr;
    if (ignored(r)) {
      if (d) std::fill(d, d + b.cols, 0.0f);
      if (per_sample) per_sample[r] = 0.0f;
      continue;
    }
    const float w = sample_weight ? sample_weight[r] : 1.0f;
    const double value =
        row(b.pred + r * b.cols, b.target + r * target_stride, b.cols, w * factor, d);
    if (per_sample) per_sample[r] = static_cast<float>(value);
    total += static_cast<double>(w) * value;
  }
  return divisor != 0.0 ? total / divisor : 0.0;
}

}  // namespace

double loss_forward_backward(const LossSpec& spec, const float* pred, const float* target,
                             const float* sample_weight, int64_t rows, int64_t cols,
                             float grad_scale, float* dpred, float* per_sample) {
  const Rows b{pred, target, rows, cols};
  const auto run = [&](const auto& row) {
    return reduce_rows(
        row, [](int64_t) { return false; }, spec, b, cols, sample_weight, grad_scale, dpred,
        per_sample);
  };
  const auto mean_of = [&](auto elem) { return run(elementwise(elem, static_cast<float>(cols))); };
  switch (spec.kind) {
    case LossKind::MeanSquaredError:
      return mean_of([](float p, float t, float* g) {
        const float d = p - t;
        *g = 2.0f * d;
        return d * d;
      });
    case LossKind::MeanAbsoluteError:
      return mean_of([](float p, float t, float* g) {
        const float d = t - p;
        *g = d >= 0.0f ? -1.0f : 1.0f;  // |x|' is +1 at 0 in jax
        return std::fabs(d);
      });
    case LossKind::MeanAbsolutePercentageError:
      return mean_of([](float p, float t, float* g) {
        const float m = std::max(std::fabs(t), kEpsilon);
        const float x = (t - p) / m;
        *g = (x >= 0.0f ? -100.0f : 100.0f) / m;
        return 100.0f * std::fabs(x);
      });
    case LossKind::MeanSquaredLogarithmicError:
      return mean_of([](float p, float t, float* g) {
        const float mp = std::max(p, kEpsilon) + 1.0f;
        const float d = std::log(mp) - std::log(std::max(t, kEpsilon) + 1.0f);
        *g = 2.0f * d / mp * max_grad(p, kEpsilon);
        return d * d;
      });
    case LossKind::Huber: {
      const auto delta = static_cast<float>(spec.delta);
      const float linear_offset = 0.5f * (delta * delta);
      return mean_of([delta, linear_offset](float p, float t, float* g) {
        const float e = p - t, a = std::fabs(e);
        if (a <= delta) {
          *g = e;
          return 0.5f * (e * e);
        }
        *g = e >= 0.0f ? delta : -delta;
        return delta * a - linear_offset;
      });
    }
    case LossKind::LogCosh:
      // x + softplus(-2x) - log 2, as Keras writes it to stay finite for large x.
      return mean_of([](float p, float t, float* g) {
        const float x = p - t, y = x * -2.0f, sp = softplus(y);
        *g = 1.0f - 2.0f * softplus_grad(y, sp);
        return x + sp - kLog2;
      });
    case LossKind::BinaryCrossentropy: {
      const Smoothing smooth = binary_smoothing(spec.label_smoothing);
      if (spec.from_logits)
        // -t log_sigmoid(x) - (1 - t) log_sigmoid(-x), log_sigmoid(x) = -softplus(-x).
        return mean_of([smooth](float x, float t0, float* g) {
          const float t = smooth(t0), sp_neg = softplus(-x), sp_pos = softplus(x);
          *g = -t * softplus_grad(-x, sp_neg) + (1.0f - t) * softplus_grad(x, sp_pos);
          return t * sp_neg + (1.0f - t) * sp_pos;
        });
      return mean_of([smooth](float p, float t0, float* g) {
        const float t = smooth(t0), o = clip(p, kEpsilon, kClipHi);
        *g = clip_grad(p, kEpsilon, kClipHi) * (-t / o + (1.0f - t) / (1.0f - o));
        return -(t * std::log(o) + (1.0f - t) * std::log(1.0f - o));
      });
    }
    case LossKind::BinaryFocalCrossentropy: {
      // Keras: p = sigmoid(x) when from logits; bce on clip(p);
      // loss = [alpha_t] (1 - p_t)^gamma bce with p_t = t p + (1 - t)(1 - p).
      const Smoothing smooth = binary_smoothing(spec.label_smoothing);
      const auto gamma = static_cast<float>(spec.gamma);
      const bool balance = spec.apply_class_balancing, logits = spec.from_logits;
      const auto alpha = static_cast<float>(spec.alpha);
      const auto one_minus_alpha = static_cast<float>(1.0 - spec.alpha);
      return mean_of([=](float x, float t0, float* g) {
        const float t = smooth(t0), p = logits ? sigmoid(x) : x;
        const float o = clip(p, kEpsilon, kClipHi);
        const float bce = -(t * std::log(o) + (1.0f - t) * std::log(1.0f - o));
        const float u = 1.0f - (t * p + (1.0f - t) * (1.0f - p));
        const float focal = std::pow(u, gamma);
        const float w = balance ? t * alpha + (1.0f - t) * one_minus_alpha : 1.0f;
        const float dbce = clip_grad(p, kEpsilon, kClipHi) * (-t / o + (1.0f - t) / (1.0f - o));
        const float dfocal = gamma * std::pow(u, gamma - 1.0f) * -(t - (1.0f - t));
        *g = w * (focal * dbce + bce * dfocal) * (logits ? p * (1.0f - p) : 1.0f);
        return w * (focal * bce);
      });
    }
    case LossKind::CategoricalCrossentropy: {
      const Smoothing smooth = categorical_smoothing(spec.label_smoothing, cols);
      if (spec.from_logits)
        return run([&smooth](const float* x, const float* t, int64_t n, float s, float* d) {
          return log_softmax_crossentropy_row(x, t, -1, smooth, n, s, d);
        });
      return run([&smooth](const float* p, const float* t, int64_t n, float s, float* d) {
        return crossentropy_row(p, t, -1, smooth, n, s, d);
      });
    }
    case LossKind::SparseCategoricalCrossentropy: {
      // Labels are validated here, once, so the rows can trust them. Rows
      // labelled ignore_class are Keras's mask: out of the sum and the divisor.
      const bool masking = spec.ignore_class.has_value();
      const float ignore = masking ? static_cast<float>(*spec.ignore_class) : 0.0f;
      const auto ignored = [=](int64_t r) { return masking && target[r] == ignore; };
      for (int64_t r = 0; r < rows; ++r)
        if (!ignored(r)) class_index(target[r], cols);
      const Smoothing none;
      const bool logits = spec.from_logits;
      const auto row = [&none, logits](const float* p, const float* t, int64_t n, float s,
                                       float* d) {
        const auto label = static_cast<int64_t>(*t);
        return logits ? log_softmax_crossentropy_row(p, nullptr, label, none, n, s, d)
                      : crossentropy_row(p, nullptr, label, none, n, s, d);
      };
      return reduce_rows(row, ignored, spec, b, 1, sample_weight, grad_scale, dpred, per_sample);
    }
    case LossKind::KLDivergence:
      // sum(t log(t / p)) with t and p clipped to [eps, 1].
      return run(elementwise(
          [](float p, float t0, float* g) {
            const float t = clip(t0, kEpsilon, 1.0f), q = clip(p, kEpsilon, 1.0f);
            const float u = t / q;
            *g = clip_grad(p, kEpsilon, 1.0f) * ((-(t / u) * t) * (1.0f / (q * q)));
            return t * std::log(u);
          },
          1.0f));
    case LossKind::Poisson:
      return mean_of([](float p, float t, float* g) {
        const float q = p + kEpsilon;
        *g = 1.0f - t / q;
        return p - t * std::log(q);
      });
    case LossKind::Hinge:
    case LossKind::SquaredHinge: {
      const bool binary = all_binary(target, rows * cols);
      const bool squared = spec.kind == LossKind::SquaredHinge;
      return mean_of([binary, squared](float p, float t0, float* g) {
        const float t = binary ? 2.0f * t0 - 1.0f : t0;
        const float z = 1.0f - t * p, m = std::max(z, 0.0f);
        *g = (squared ? 2.0f * m : 1.0f) * max_grad(z, 0.0f) * -t;
        return squared ? m * m : m;
      });
    }
    case LossKind::CategoricalHinge: return run(categorical_hinge_row);
    case LossKind::CosineSimilarity: return run(cosine_similarity_row);
  }
  throw ValueError("invalid loss kind " + std::to_string(static_cast<int>(spec.kind)));
}

double loss_forward_backward(LossKind kind, const float* pred, const float* target, int64_t rows,
                             int64_t cols, float grad_scale, float* dpred) {
  LossSpec spec;
  spec.kind = kind;
  spec.reduction = Reduction::Sum;
  return loss_forward_backward(spec, pred, target, nullptr, rows, cols, grad_scale, dpred);
}

}  // namespace ember
