// Metric::update: one batch into a metric's running state (see ember/metrics.h).
// pred: (rows, cols); target: (rows, cols), or (rows) class ids for the sparse
// kinds. Each value is computed as Keras's float32 expression on the jax
// backend; the sums are double. Nothing here allocates once a metric has seen a
// batch as wide as this one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cpu/scalar.h"
#include "ember/error.h"
#include "ember/losses.h"
#include "ember/metrics.h"

namespace ember {
namespace {

int64_t argmax(const float* row, int64_t n) {
  int64_t best = 0;  // the first maximum, as numpy and jax pick
  for (int64_t j = 1; j < n; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// jax's in_top_k: the label's value ranks within the k largest, ties counting in
// its favour; a NaN prediction for the label ranks last.
bool in_top_k(const float* row, int64_t n, int64_t label, int64_t k) {
  float v = row[label];
  if (std::isnan(v)) v = -std::numeric_limits<float>::infinity();
  int64_t rank = 1;
  for (int64_t j = 0; j < n; ++j) rank += row[j] > v;
  return rank <= k;
}

using cpu::sigmoid;

// Metrics with one value per row: Keras's Mean over the rows, weighted per row.
template <typename F>
void add_rows(F value, int64_t rows, const float* w, double& total, double& count) {
  double sum = 0.0;
  if (!w) {
    for (int64_t r = 0; r < rows; ++r) sum += value(r);
    count += static_cast<double>(rows);
  } else {
    double weights = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      sum += static_cast<double>(w[r]) * value(r);
      weights += w[r];
    }
    count += weights;
  }
  total += sum;
}

// Metrics with one value per element: each row counts as its mean (Keras reduces
// to one value per sample), weighted per row or per element.
template <typename F>
void add_elements(F value, int64_t rows, int64_t cols, const float* w, int64_t weight_cols,
                  double& total, double& count) {
  const double inv = 1.0 / static_cast<double>(cols);
  if (!w || weight_cols == 1) {
    double weights = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      double row = 0.0;
      for (int64_t j = 0; j < cols; ++j) row += value(r * cols + j);
      const double wr = w ? static_cast<double>(w[r]) : 1.0;
      total += wr * row * inv;
      weights += wr;
    }
    count += weights;
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    double row = 0.0, weights = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const double wj = w[r * cols + j];
      row += wj * value(r * cols + j);
      weights += wj;
    }
    total += row * inv;
    count += weights * inv;
  }
}

}  // namespace

void Metric::update(const float* pred, const float* target, const float* sample_weight,
                    int64_t rows, int64_t cols, int64_t weight_cols) {
  const MetricKind kind = config_.kind;
  auto what = [kind] { return std::string(metric_name(kind)); };  // only for messages
  if (rows < 0 || cols < 1)
    throw ValueError(what() + ": y_pred must have a non-empty last axis, got " +
                     std::to_string(rows) + " rows of " + std::to_string(cols));
  if (sample_weight && weight_cols != 1 && weight_cols != cols)
    throw ValueError(what() + ": sample_weight must hold one weight per sample or per value; got " +
                     std::to_string(weight_cols) + " per row of " + std::to_string(cols));
  if (!target && kind != MetricKind::Mean && kind != MetricKind::Sum)
    throw ValueError(what() + ": y_true is required");
  if (rows && !pred) throw ValueError(what() + ": y_pred is null");
  if (needs_rank_2()) build(cols);
  if (has_row_values())
    return update_row_values(pred, target, sample_weight, rows, cols, weight_cols);
  switch (kind) {
    case MetricKind::AUC:
    case MetricKind::Precision:
    case MetricKind::Recall:
    case MetricKind::TruePositives:
    case MetricKind::TrueNegatives:
    case MetricKind::FalsePositives:
    case MetricKind::FalseNegatives:
    case MetricKind::PrecisionAtRecall:
    case MetricKind::RecallAtPrecision:
    case MetricKind::SensitivityAtSpecificity:
    case MetricKind::SpecificityAtSensitivity:
      return update_confusion(pred, target, sample_weight, rows, cols, weight_cols);
    case MetricKind::IoU:
    case MetricKind::BinaryIoU:
      return update_iou(pred, target, sample_weight, rows, cols, weight_cols);
    case MetricKind::FBetaScore:
      return update_fbeta(pred, target, sample_weight, rows, cols, weight_cols);
    case MetricKind::R2Score:
      return update_r2(pred, target, sample_weight, rows, cols, weight_cols);
    default: return update_mean(pred, target, sample_weight, rows, cols, weight_cols);
  }
}

void Metric::update_mean(const float* p, const float* t, const float* w, int64_t rows,
                         int64_t cols, int64_t weight_cols) {
  const MetricKind kind = config_.kind;
  const bool per_row = kind == MetricKind::CategoricalAccuracy ||
                       kind == MetricKind::SparseCategoricalAccuracy ||
                       kind == MetricKind::TopKCategoricalAccuracy ||
                       kind == MetricKind::SparseTopKCategoricalAccuracy ||
                       kind == MetricKind::MeanAbsoluteError ||
                       kind == MetricKind::MeanSquaredError ||
                       kind == MetricKind::MeanAbsolutePercentageError;
  if (per_row && w && weight_cols != 1 && cols != 1)
    throw ValueError(std::string(metric_name(kind)) +
                     " computes one value per sample: sample_weight must hold one weight per "
                     "sample, not one per value");
  const double inv = 1.0 / static_cast<double>(cols);
  auto rows_of = [&](auto value) { add_rows(value, rows, w, total_, count_); };
  auto elements_of = [&](auto value) {
    add_elements(value, rows, cols, w, weight_cols, total_, count_);
  };
  switch (kind) {
    case MetricKind::Accuracy:
      return elements_of([&](int64_t i) { return p[i] == t[i] ? 1.0 : 0.0; });
    case MetricKind::BinaryAccuracy: {
      const float cut = config_.threshold.value_or(0.5f);
      return elements_of([&](int64_t i) { return (p[i] > cut ? 1.0f : 0.0f) == t[i] ? 1.0 : 0.0; });
    }
    case MetricKind::RootMeanSquaredError:
      return elements_of([&](int64_t i) {
        const float d = p[i] - t[i];
        return static_cast<double>(d * d);
      });
    case MetricKind::Mean: return elements_of([&](int64_t i) { return static_cast<double>(p[i]); });
    case MetricKind::Sum: {
      double s = 0.0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t i = r * cols + j;
          s += static_cast<double>(p[i]) * (w ? w[weight_cols == 1 ? r : i] : 1.0f);
        }
      total_ += s;
      return;
    }
    case MetricKind::CategoricalAccuracy:
      return rows_of([&](int64_t r) {
        return argmax(p + r * cols, cols) == argmax(t + r * cols, cols) ? 1.0 : 0.0;
      });
    case MetricKind::SparseCategoricalAccuracy:
      return rows_of([&](int64_t r) {
        return static_cast<float>(argmax(p + r * cols, cols)) == t[r] ? 1.0 : 0.0;
      });
    case MetricKind::TopKCategoricalAccuracy: {
      const int64_t k = config_.k;
      return rows_of([&](int64_t r) {
        return in_top_k(p + r * cols, cols, argmax(t + r * cols, cols), k) ? 1.0 : 0.0;
      });
    }
    case MetricKind::SparseTopKCategoricalAccuracy: {
      const int64_t k = config_.k;
      if (config_.from_sorted_ids) {
        // pred rows hold class ids, best first: a hit is the label among the first k.
        const int64_t first = std::min(std::max<int64_t>(k, 0), cols);
        return rows_of([&](int64_t r) {
          for (int64_t j = 0; j < first; ++j)
            if (p[r * cols + j] == t[r]) return 1.0;
          return 0.0;
        });
      }
      for (int64_t r = 0; r < rows; ++r)  // all labels first: a bad batch leaves no trace
        if (!(t[r] > -1.0f && t[r] < static_cast<float>(cols)))
          throw ValueError("sparse_top_k_categorical_accuracy: label " + std::to_string(t[r]) +
                           " (row " + std::to_string(r) + ") is out of range for " +
                           std::to_string(cols) + " classes; labels must be in [0, " +
                           std::to_string(cols) + ")");
      return rows_of([&](int64_t r) {
        return in_top_k(p + r * cols, cols, static_cast<int64_t>(t[r]), k) ? 1.0 : 0.0;
      });
    }
    case MetricKind::MeanAbsoluteError:
      return rows_of([&](int64_t r) {
        double s = 0.0;
        for (int64_t j = 0; j < cols; ++j) s += std::fabs(t[r * cols + j] - p[r * cols + j]);
        return s * inv;
      });
    case MetricKind::MeanSquaredError:
      return rows_of([&](int64_t r) {
        double s = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          const float d = t[r * cols + j] - p[r * cols + j];
          s += static_cast<double>(d * d);
        }
        return s * inv;
      });
    case MetricKind::MeanAbsolutePercentageError:
      return rows_of([&](int64_t r) {
        double s = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          const float y = t[r * cols + j];
          s += std::fabs((y - p[r * cols + j]) / std::max(std::fabs(y), kEpsilon));
        }
        return 100.0 * (s * inv);
      });
    default: break;
  }
  throw ValueError(std::string("metric ") + metric_name(kind) + " is not a mean metric");
}

void Metric::update_confusion(const float* p, const float* t, const float* w, int64_t rows,
                              int64_t cols, int64_t weight_cols) {
  const MetricConfig& c = config_;
  auto what = [&c] { return std::string(metric_name(c.kind)); };  // only for messages
  int64_t begin = 0, end = cols;
  if (c.class_id) {
    const int64_t id = *c.class_id < 0 ? cols + *c.class_id : *c.class_id;
    if (id < 0 || id >= cols)
      throw ValueError(what() + ": class_id=" + std::to_string(*c.class_id) +
                       " is out of range for y_pred with " + std::to_string(cols) + " classes");
    begin = id, end = id + 1;
  }
  if (c.top_k && *c.top_k > cols)
    throw ValueError(what() + ": top_k=" + std::to_string(*c.top_k) + " is larger than the " +
                     std::to_string(cols) + " classes of y_pred");
  const bool multi = c.kind == MetricKind::AUC && c.multi_label;
  const bool label_weighted = c.kind == MetricKind::AUC && !multi && !c.label_weights.empty();
  if (label_weighted && static_cast<int64_t>(c.label_weights.size()) != cols)
    throw ValueError(what() + " has " + std::to_string(c.label_weights.size()) +
                     " label_weights, but y_pred has " + std::to_string(cols) + " labels");
  const int64_t L = labels_;
  const auto T = static_cast<int64_t>(cut_.size());
  const float scale = static_cast<float>(T - 1);
  if (c.top_k) {
    scratch_.resize(static_cast<size_t>(cols));
    order_.resize(static_cast<size_t>(cols));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    const float* tr = t + r * cols;
    if (c.top_k) {
      // Keras's _filter_top_k: the k largest stay (jax's top_k prefers the lower
      // index among ties), the others become -1e10.
      for (int64_t j = 0; j < cols; ++j) order_[static_cast<size_t>(j)] = j;
      const auto k = static_cast<size_t>(*c.top_k);
      std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k),
                       order_.end(), [pr](int64_t a, int64_t b) {
                         return pr[a] > pr[b] || (pr[a] == pr[b] && a < b);
                       });
      std::fill(scratch_.begin(), scratch_.end(), kMetricNegInf);
      for (size_t i = 0; i < k; ++i) scratch_[static_cast<size_t>(order_[i])] = pr[order_[i]];
      pr = scratch_.data();
    }
    for (int64_t j = begin; j < end; ++j) {
      float v = pr[j];
      if (c.from_logits) v = sigmoid(v);
      const bool positive = tr[j] != 0.0f;
      float weight = w ? w[weight_cols == 1 ? r : r * cols + j] : 1.0f;
      if (label_weighted) weight *= static_cast<float>(c.label_weights[static_cast<size_t>(j)]);
      const int64_t l = multi ? j : 0;
      const double wd = weight;
      if (buckets_) {
        // Evenly spaced thresholds: the prediction's bucket, ceil(p * (T - 1)) - 1
        // after clipping to [0, 1], counts it above every threshold up to it.
        const float clipped = std::min(std::max(v, 0.0f), 1.0f);
        float b = std::ceil(clipped * scale) - 1.0f;
        if (thresholds_with_epsilon_) b = std::max(b, 0.0f);
        const int64_t bucket = std::isnan(b) ? 0 : static_cast<int64_t>(b);
        if (bucket >= 0 && bucket < T)
          (positive ? tp_ : fp_)[static_cast<size_t>(bucket * L + l)] += wd;
        (positive ? pos_total_ : neg_total_)[static_cast<size_t>(l)] += wd;
      } else {
        for (int64_t i = 0; i < T; ++i) {
          const bool above = v > cut_[static_cast<size_t>(i)];
          const auto at = static_cast<size_t>(i * L + l);
          if (positive)
            (above ? tp_ : fn_)[at] += wd;
          else
            (above ? fp_ : tn_)[at] += wd;
        }
      }
    }
  }
}

void Metric::update_fbeta(const float* p, const float* t, const float* w, int64_t rows,
                          int64_t cols, int64_t weight_cols) {
  const bool micro = config_.average == FScoreAverage::Micro;
  const std::optional<float> cut = config_.threshold;
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    const float* tr = t + r * cols;
    // Without a threshold a row predicts its maximum (all of them on a tie).
    const float top = cut ? 0.0f : *std::max_element(pr, pr + cols);
    for (int64_t j = 0; j < cols; ++j) {
      const float predicted =
          (cut ? pr[j] > *cut : (pr[j] >= top && std::fabs(pr[j]) > 1e-9f)) ? 1.0f : 0.0f;
      const float y = tr[j];
      const float wj = w ? w[weight_cols == 1 ? r : r * cols + j] : 1.0f;
      const auto at = static_cast<size_t>(micro ? 0 : j);
      a_[at] += static_cast<double>(predicted * y * wj);
      b_[at] += static_cast<double>(predicted * (1.0f - y) * wj);
      c_[at] += static_cast<double>((1.0f - predicted) * y * wj);
      d_[at] += static_cast<double>(y * wj);
    }
  }
}

void Metric::update_r2(const float* p, const float* t, const float* w, int64_t rows, int64_t cols,
                       int64_t weight_cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t i = r * cols + j;
      const float wj = w ? w[weight_cols == 1 ? r : i] : 1.0f;
      const float y = t[i];
      const float weighted = y * wj;
      const float d = y - p[i];
      const auto at = static_cast<size_t>(j);
      a_[at] += static_cast<double>(weighted);
      b_[at] += static_cast<double>(y * weighted);
      c_[at] += static_cast<double>(d * d * wj);
      d_[at] += static_cast<double>(wj);
    }
  samples_ += static_cast<double>(rows * cols);
}

namespace {

// Keras's pearson_correlation of one row: the mean of the product of the standardized
// values (each centred, then divided by its population standard deviation).
double pearson_row(const float* t, const float* p, int64_t n) {
  const auto count = static_cast<double>(n);
  double mt = 0.0, mp = 0.0;
  for (int64_t j = 0; j < n; ++j) mt += t[j], mp += p[j];
  mt /= count, mp /= count;
  double vt = 0.0, vp = 0.0, cross = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double dt = t[j] - mt, dp = p[j] - mp;
    vt += dt * dt, vp += dp * dp, cross += dt * dp;
  }
  return cross / count / (std::sqrt(vt / count) * std::sqrt(vp / count));
}

// Keras's concordance_correlation of one row, as Keras writes it: the covariance term
// centres y_true on y_pred's mean.
double concordance_row(const float* t, const float* p, int64_t n) {
  const auto count = static_cast<double>(n);
  double mt = 0.0, mp = 0.0;
  for (int64_t j = 0; j < n; ++j) mt += t[j], mp += p[j];
  mt /= count, mp /= count;
  double vt = 0.0, vp = 0.0, covar = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double dt = t[j] - mt, dp = p[j] - mp;
    vt += dt * dt, vp += dp * dp, covar += (t[j] - mp) * dp;
  }
  vt /= count, vp /= count;
  const double norm = vt + vp + (mt - mp) * (mt - mp) + static_cast<double>(kEpsilon);
  return 2.0 * covar / norm / count;
}

}  // namespace

void Metric::row_values(const float* pred, const float* target, int64_t rows, int64_t cols,
                        float* values) const {
  const MetricKind kind = config_.kind;
  if (loss_kind()) {
    loss_forward_backward(loss_spec(), pred, target, nullptr, rows, cols, 0.0f, nullptr, values);
    if (kind == MetricKind::CosineSimilarity)  // the metric is the cosine, the loss its negative
      for (int64_t r = 0; r < rows; ++r) values[r] = -values[r];
    return;
  }
  if (kind != MetricKind::PearsonCorrelation && kind != MetricKind::ConcordanceCorrelation)
    throw ValueError(std::string("metric ") + metric_name(kind) + " has no per-row values");
  for (int64_t r = 0; r < rows; ++r) {
    const float* t = target + r * cols;
    const float* p = pred + r * cols;
    values[r] =
        static_cast<float>(kind == MetricKind::PearsonCorrelation ? pearson_row(t, p, cols)
                                                                  : concordance_row(t, p, cols));
  }
}

// Keras's MeanMetricWrapper of a function with one value per row. The sparse
// crossentropy's ignore_class rows are its mask, which Keras's Mean applies only to
// sample weights: with weights an ignored row weighs 0, without them it counts as a 0.
void Metric::update_row_values(const float* p, const float* t, const float* w, int64_t rows,
                               int64_t cols, int64_t weight_cols) {
  if (w && weight_cols != 1 && cols != 1)
    throw ValueError(std::string(metric_name(config_.kind)) +
                     " computes one value per sample: sample_weight must hold one weight per "
                     "sample, not one per value");
  if (scratch_.size() < static_cast<size_t>(rows)) scratch_.resize(static_cast<size_t>(rows));
  row_values(p, t, rows, cols, scratch_.data());
  const bool masking =
      w && config_.kind == MetricKind::SparseCategoricalCrossentropy && config_.ignore_class;
  const float ignore = masking ? static_cast<float>(*config_.ignore_class) : 0.0f;
  double sum = 0.0, weights = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    if (masking && t[r] == ignore) continue;
    const double wr = w ? static_cast<double>(w[r]) : 1.0;
    sum += wr * static_cast<double>(scratch_[static_cast<size_t>(r)]);
    weights += wr;
  }
  total_ += sum;
  count_ += weights;
}

// Keras's _IoUBase.update_state: each (true class, predicted class) pair adds its weight
// to the confusion matrix; pairs with a class outside [0, num_classes), or a true class
// that is ignore_class, are left out. Class ids are truncated to integers as Keras's
// cast does - before the range check when the metric's dtype is an integer one (its
// weights truncated too), after it otherwise.
void Metric::update_iou(const float* p, const float* t, const float* w, int64_t rows, int64_t cols,
                        int64_t weight_cols) {
  const MetricConfig& c = config_;
  const int64_t n = c.num_classes;
  const bool binary = c.kind == MetricKind::BinaryIoU;
  // A class id, or -1 when out of range (or ignored).
  auto class_of = [&](float x, bool is_true) -> int64_t {
    if (std::isnan(x)) return -1;
    const float v = c.integer_dtype ? std::trunc(x) : x;
    if (!(v >= 0.0f && v < static_cast<float>(n))) return -1;
    if (is_true && c.ignore_class && v == static_cast<float>(*c.ignore_class)) return -1;
    return static_cast<int64_t>(v);
  };
  auto add = [&](int64_t actual, int64_t predicted, float weight) {
    if (actual < 0 || predicted < 0) return;
    const float wv = c.integer_dtype ? std::trunc(weight) : weight;
    a_[static_cast<size_t>(actual * n + predicted)] += static_cast<double>(wv);
  };
  if (binary || (c.sparse_y_true && c.sparse_y_pred)) {  // ids (or scores) element by element
    const float cut = c.threshold.value_or(0.5f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t i = r * cols + j;
        const int64_t predicted = binary ? (p[i] >= cut ? 1 : 0) : class_of(p[i], false);
        add(class_of(t[i], true), predicted, w ? w[weight_cols == 1 ? r : i] : 1.0f);
      }
    return;
  }
  if (c.sparse_y_pred && cols != 1)
    throw ValueError("IoU: y_pred must hold one class id per row (sparse_y_pred=True), got " +
                     std::to_string(cols) + " values per row");
  const int64_t tcols = target_cols(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t predicted = c.sparse_y_pred ? class_of(p[r], false) : argmax(p + r * cols, cols);
    const int64_t actual = c.sparse_y_true
                               ? class_of(t[r], true)
                               : class_of(static_cast<float>(argmax(t + r * tcols, tcols)), true);
    add(actual, predicted, w ? w[r] : 1.0f);
  }
}

}  // namespace ember
