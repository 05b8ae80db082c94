// Losses with gradients, and the metrics beside them.
// pred: (rows, cols); target: (rows, cols), or (rows) class ids for the sparse
// forms. Per-sample sums are accumulated in double; gradients are float32.
#include <algorithm>
#include <cmath>
#include <string>

#include "ember/error.h"
#include "ember/losses.h"
#include "ember/metrics.h"

namespace ember {
namespace {

// Gradient factor of clip(x, kEpsilon, 1 - kEpsilon) as Keras's autodiff has it:
// 1 inside, 0 outside, and 1/2 exactly on a bound (min/max split a tie's gradient).
// sigmoid rounds to exactly 1 - 1e-7 for a whole range of logits, so the tie matters.
float clip_gradient(float x) {
  constexpr float hi = 1.0f - kEpsilon;
  if (x > kEpsilon && x < hi) return 1.0f;
  return (x == kEpsilon || x == hi) ? 0.5f : 0.0f;
}

float clip(float x) { return std::min(std::max(x, kEpsilon), 1.0f - kEpsilon); }

int64_t class_index(float label, int64_t cols) {
  const auto k = static_cast<int64_t>(label);
  if (!(label >= 0.0f) || static_cast<float>(k) != label || k >= cols)
    throw ValueError("sparse label " + std::to_string(label) +
                     " is out of range for an output of " + std::to_string(cols) +
                     " classes: labels must be integers in [0, " + std::to_string(cols - 1) + "]");
  return k;
}

// Categorical crossentropy of one row given a one-hot (or soft) target row, or a
// class id when onehot is null. Keras: q = p / sum(p); c = clip(q, eps, 1-eps);
// loss = -sum(t log c). The gradient follows the same chain (zero where clipped).
double crossentropy_row(const float* p, const float* onehot, int64_t label, int64_t cols,
                        float scale, float* dp) {
  float s = 0.0f;
  for (int64_t j = 0; j < cols; ++j) s += p[j];
  double loss = 0.0;
  float gq_dot_q = 0.0f;  // sum_j g_j q_j, for the normalisation's gradient
  for (int64_t j = 0; j < cols; ++j) {
    const float t = onehot ? onehot[j] : (j == label ? 1.0f : 0.0f);
    const float q = p[j] / s;
    const float c = clip(q);
    if (t != 0.0f) loss -= static_cast<double>(t) * std::log(static_cast<double>(c));
    if (dp) {
      const float g = t != 0.0f ? clip_gradient(q) * -t / c : 0.0f;
      dp[j] = g;  // d loss / d q_j for now
      gq_dot_q += g * q;
    }
  }
  if (dp)
    for (int64_t j = 0; j < cols; ++j) dp[j] = scale * (dp[j] - gq_dot_q) / s;
  return loss;
}

}  // namespace

double loss_forward_backward(LossKind kind, const float* pred, const float* target, int64_t rows,
                             int64_t cols, float grad_scale, float* dpred) {
  double total = 0.0;
  const float inv_cols = 1.0f / static_cast<float>(cols);
  switch (kind) {
    case LossKind::MeanSquaredError:
      for (int64_t i = 0; i < rows * cols; i += cols) {
        double row = 0.0;
        for (int64_t j = i; j < i + cols; ++j) {
          const float d = pred[j] - target[j];
          row += static_cast<double>(d) * d;
          if (dpred) dpred[j] = grad_scale * 2.0f * d * inv_cols;
        }
        total += row / static_cast<double>(cols);
      }
      break;
    case LossKind::MeanAbsoluteError:
      for (int64_t i = 0; i < rows * cols; i += cols) {
        double row = 0.0;
        for (int64_t j = i; j < i + cols; ++j) {
          const float d = pred[j] - target[j];
          row += std::fabs(static_cast<double>(d));
          // d|t - p|/dp as Keras's autodiff has it: +1 above the target, -1 at or below.
          if (dpred) dpred[j] = grad_scale * (d > 0.0f ? 1.0f : -1.0f) * inv_cols;
        }
        total += row / static_cast<double>(cols);
      }
      break;
    case LossKind::BinaryCrossentropy:
      // o = clip(p, eps, 1-eps); loss = -mean(t log o + (1-t) log(1-o)).
      for (int64_t i = 0; i < rows * cols; i += cols) {
        double row = 0.0;
        for (int64_t j = i; j < i + cols; ++j) {
          const float p = pred[j], t = target[j];
          const float o = clip(p);
          row -= t * std::log(static_cast<double>(o)) +
                 (1.0 - t) * std::log(1.0 - static_cast<double>(o));
          if (dpred)
            dpred[j] =
                clip_gradient(p) * grad_scale * inv_cols * (-t / o + (1.0f - t) / (1.0f - o));
        }
        total += row / static_cast<double>(cols);
      }
      break;
    case LossKind::CategoricalCrossentropy:
      for (int64_t r = 0; r < rows; ++r)
        total += crossentropy_row(pred + r * cols, target + r * cols, -1, cols, grad_scale,
                                  dpred ? dpred + r * cols : nullptr);
      break;
    case LossKind::SparseCategoricalCrossentropy:
      for (int64_t r = 0; r < rows; ++r)
        total += crossentropy_row(pred + r * cols, nullptr, class_index(target[r], cols), cols,
                                  grad_scale, dpred ? dpred + r * cols : nullptr);
      break;
  }
  return total;
}

double metric_batch_sum(MetricKind kind, const float* pred, const float* target, int64_t rows,
                        int64_t cols, float threshold) {
  double total = 0.0;
  auto argmax = [cols](const float* row) {
    int64_t best = 0;  // first maximum, as numpy and jax pick
    for (int64_t j = 1; j < cols; ++j)
      if (row[j] > row[best]) best = j;
    return best;
  };
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred + r * cols;
    switch (kind) {
      case MetricKind::BinaryAccuracy: {
        const float* t = target + r * cols;
        int64_t hits = 0;
        for (int64_t j = 0; j < cols; ++j) hits += ((p[j] > threshold ? 1.0f : 0.0f) == t[j]);
        total += static_cast<double>(hits) / static_cast<double>(cols);
        break;
      }
      case MetricKind::CategoricalAccuracy:
        total += argmax(p) == argmax(target + r * cols) ? 1.0 : 0.0;
        break;
      case MetricKind::SparseCategoricalAccuracy:
        total += static_cast<float>(argmax(p)) == target[r] ? 1.0 : 0.0;
        break;
      case MetricKind::MeanAbsoluteError:
      case MetricKind::MeanSquaredError: {
        const float* t = target + r * cols;
        double row = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          const double d = static_cast<double>(p[j]) - t[j];
          row += kind == MetricKind::MeanAbsoluteError ? std::fabs(d) : d * d;
        }
        total += row / static_cast<double>(cols);
        break;
      }
    }
  }
  return total;
}

}  // namespace ember
