// Losses with gradients (see ember/losses.h).
// pred: (rows, cols); target: (rows, cols), or (rows) class ids for the sparse
// forms; sample_weight: (rows) or null. Each per-sample value is the float32
// expression Keras's jax backend evaluates, summed in double; gradients are the
// float32 chain jax's autodiff builds for it, tie rules included. The math of
// each element (and of each class in a row loss) is ember/element/loss.h's,
// shared with the CUDA backend; here are the loops and the reductions.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "cpu/batch_losses.h"
#include "cpu/isa.h"
#include "ember/element/loss.h"
#include "ember/error.h"
#include "ember/losses.h"

namespace ember {
namespace {

using element::clip;
using element::clip_grad;
using element::min_grad;
using element::loss::kClipHi;
using element::loss::Smoothing;
namespace el = element::loss;

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

// An element-wise loss (element/loss.h) over a row: the per-sample loss is the
// mean of the elements' (the sum where Elem::kSumsRow, `per_row_divisor` 1).
template <typename Elem>
struct ElementwiseRow {
  Elem elem;
  float per_row_divisor;
  double operator()(const float* p, const float* t, int64_t cols, float scale, float* d) const {
    double sum = 0.0;
    const float s = scale / per_row_divisor;
    for (int64_t j = 0; j < cols; ++j) {
      const el::ValueGrad e = elem(p[j], t[j]);
      sum += static_cast<double>(e.value);
      if (d) d[j] = s * e.grad;
    }
    return sum / static_cast<double>(per_row_divisor);
  }
};

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
      const float g = el::crossentropy_class_grad(q, tj, c);
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
      d[j] = scale * el::softmax_crossentropy_class_grad(x[j] - m, share, tj);
    }
  }
  return loss;
}

// max(max_j((1 - t_j) p_j) - sum_j(t_j p_j) + 1, 0). The max over classes
// shares its gradient equally among the classes that reach it, as jax's does.
double categorical_hinge_row(const float* p, const float* t, int64_t cols, float scale, float* d) {
  float pos = 0.0f, neg = el::categorical_hinge_negative(p[0], t[0]);
  for (int64_t j = 0; j < cols; ++j) {
    pos += t[j] * p[j];
    neg = std::max(neg, el::categorical_hinge_negative(p[j], t[j]));
  }
  const float z = neg - pos + 1.0f;
  if (d) {
    float ties = 0.0f;
    for (int64_t j = 0; j < cols; ++j)
      ties += el::categorical_hinge_negative(p[j], t[j]) == neg ? 1.0f : 0.0f;
    const float g = scale * element::max_grad(z, 0.0f);
    for (int64_t j = 0; j < cols; ++j)
      d[j] = el::categorical_hinge_class_grad(p[j], t[j], neg, ties, g);
  }
  return static_cast<double>(std::max(z, 0.0f));
}

// -sum(normalize(t) * normalize(p)), Keras's l2 normalisation being
// x * min(rsqrt(sum(x^2)), 1 / eps); the gradient goes through the rsqrt and its cap.
double cosine_similarity_row(const float* p, const float* t, int64_t cols, float scale, float* d) {
  float sq_p = 0.0f, sq_t = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    sq_p += p[j] * p[j];
    sq_t += t[j] * t[j];
  }
  const float r_p = 1.0f / std::sqrt(sq_p), r_t = 1.0f / std::sqrt(sq_t);
  const float inv_p = std::min(r_p, el::kInvEpsilon), inv_t = std::min(r_t, el::kInvEpsilon);
  float dot = 0.0f, tn_dot_p = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    const float tn = t[j] * inv_t;
    dot += tn * (p[j] * inv_p);
    tn_dot_p += tn * p[j];
  }
  if (d) {
    // d inv_p = -tn.p; through min and rsqrt: d sq = d inv_p * [tie] * -0.5 * r / sq.
    const float d_sq = -tn_dot_p * min_grad(r_p, el::kInvEpsilon) * (-0.5f * (r_p / sq_p));
    for (int64_t j = 0; j < cols; ++j)
      d[j] = scale * el::cosine_similarity_class_grad(p[j], t[j], inv_p, inv_t, d_sq);
  }
  return -static_cast<double>(dot);
}

// Keras's categorical_focal_crossentropy: p = softmax(x) from logits (jax's: exp of
// x - max over the sum), q = p / sum(p), c = clip(q, eps, 1 - eps), and the row's loss
// sum_j (1 - c_j)^gamma * alpha * (-t_j log c_j). The gradient runs back through the
// power and log, the clip, the normalisation and the softmax; d holds d loss/d q, then
// d loss/d p on the way.
double focal_crossentropy_row(const float* x, const float* t, const Smoothing& smooth,
                              bool logits, float alpha, float gamma, int64_t cols, float scale,
                              float* d) {
  float m = x[0], sumexp = 0.0f;
  if (logits) {
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, x[j]);
    for (int64_t j = 0; j < cols; ++j) sumexp += std::exp(x[j] - m);
  }
  const auto prob = [&](int64_t j) { return logits ? std::exp(x[j] - m) / sumexp : x[j]; };
  float s = 0.0f;
  for (int64_t j = 0; j < cols; ++j) s += prob(j);
  double loss = 0.0;
  float gq_dot_q = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    const float tj = smooth(t[j]);
    const float q = prob(j) / s;
    const float c = clip(q, kEpsilon, kClipHi);
    const float cce = -tj * std::log(c);
    const float weighting = std::pow(1.0f - c, gamma) * alpha;
    loss += static_cast<double>(weighting * cce);
    if (d) {
      // d/dc of weighting * cce: the power's derivative times cce, plus weighting * -t / c.
      const float dc = tj != 0.0f ? (-(gamma * std::pow(1.0f - c, gamma - 1.0f)) * alpha) * cce +
                                        weighting * (-tj / c)
                                  : 0.0f;
      d[j] = dc * clip_grad(q, kEpsilon, kClipHi);
      gq_dot_q += d[j] * q;
    }
  }
  if (!d) return loss;
  for (int64_t j = 0; j < cols; ++j) d[j] = (d[j] - gq_dot_q) / s;  // d loss / d p
  if (logits) {  // jax's softmax gradient: p (g - sum(g p))
    float g_dot_p = 0.0f;
    for (int64_t j = 0; j < cols; ++j) g_dot_p += d[j] * prob(j);
    for (int64_t j = 0; j < cols; ++j) d[j] = prob(j) * (d[j] - g_dot_p);
  }
  for (int64_t j = 0; j < cols; ++j) d[j] *= scale;
  return loss;
}

// Keras's categorical_generalized_cross_entropy: p = the prediction for the labelled
// class (taken as it is: no clip), loss = (1 - p^q) / q.
double generalized_crossentropy_row(const float* p, int64_t label, float q, int64_t cols,
                                    float scale, float* d) {
  const float pl = p[label];
  if (d) {
    std::fill(d, d + cols, 0.0f);
    d[label] = scale * (-(q * std::pow(pl, q - 1.0f)) / q);
  }
  return static_cast<double>((1.0f - std::pow(pl, q)) / q);
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

namespace {

double loss_rows(const LossSpec& spec, const float* pred, const float* target,
                 const float* sample_weight, int64_t rows, int64_t cols, float grad_scale,
                 float* dpred, float* per_sample) {
  const Rows b{pred, target, rows, cols};
  const auto run = [&](const auto& row) {
    return reduce_rows(
        row, [](int64_t) { return false; }, spec, b, cols, sample_weight, grad_scale, dpred,
        per_sample);
  };
  if (el::is_elementwise(spec.kind)) {
    const bool hinge = spec.kind == LossKind::Hinge || spec.kind == LossKind::SquaredHinge;
    const bool binary = hinge && all_binary(target, rows * cols);
    return el::visit(spec, binary, [&](const auto& elem) {
      using Elem = std::decay_t<decltype(elem)>;
      const float divisor = Elem::kSumsRow ? 1.0f : static_cast<float>(cols);
      return run(ElementwiseRow<Elem>{elem, divisor});
    });
  }
  switch (spec.kind) {
    case LossKind::CategoricalCrossentropy: {
      const Smoothing smooth = el::categorical_smoothing(spec.label_smoothing, cols);
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
    case LossKind::CategoricalFocalCrossentropy: {
      const Smoothing smooth = el::categorical_smoothing(spec.label_smoothing, cols);
      const bool logits = spec.from_logits;
      const auto alpha = static_cast<float>(spec.alpha), gamma = static_cast<float>(spec.gamma);
      return run([&](const float* x, const float* t, int64_t n, float s, float* d) {
        return focal_crossentropy_row(x, t, smooth, logits, alpha, gamma, n, s, d);
      });
    }
    case LossKind::CategoricalGeneralizedCrossEntropy: {
      for (int64_t r = 0; r < rows; ++r) class_index(target[r], cols);
      const auto q = static_cast<float>(spec.q);
      const auto row = [q](const float* p, const float* t, int64_t n, float s, float* d) {
        return generalized_crossentropy_row(p, static_cast<int64_t>(*t), q, n, s, d);
      };
      return reduce_rows(
          row, [](int64_t) { return false; }, spec, b, 1, sample_weight, grad_scale, dpred,
          per_sample);
    }
    case LossKind::CategoricalHinge: return run(categorical_hinge_row);
    case LossKind::CosineSimilarity: return run(cosine_similarity_row);
    default: break;
  }
  throw ValueError("invalid loss kind " + std::to_string(static_cast<int>(spec.kind)));
}

}  // namespace

double loss_forward_backward(const LossSpec& spec, const float* pred, const float* target,
                             const float* sample_weight, int64_t rows, int64_t cols,
                             float grad_scale, float* dpred, float* per_sample) {
  if (cpu::is_batch_loss(spec.kind))  // losses that couple rows: batch_loss_kernels.cpp
    return cpu::batch_loss_forward_backward(spec, pred, target, sample_weight, rows, cols,
                                            grad_scale, dpred, per_sample);
  double loss = 0.0;  // the rows in one pass, compiled for this CPU (cpu/isa.h)
  EMBER_ISA_DISPATCH(loss = loss_rows(spec, pred, target, sample_weight, rows, cols, grad_scale,
                                      dpred, per_sample));
  return loss;
}

double loss_forward_backward(LossKind kind, const float* pred, const float* target, int64_t rows,
                             int64_t cols, float grad_scale, float* dpred) {
  LossSpec spec;
  spec.kind = kind;
  spec.reduction = Reduction::Sum;
  return loss_forward_backward(spec, pred, target, nullptr, rows, cols, grad_scale, dpred);
}

}  // namespace ember
