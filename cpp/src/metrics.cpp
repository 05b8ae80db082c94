// Metric: construction (Keras's argument checks), results and names. The
// per-batch accumulation lives in cpu/metric_kernels.cpp.
#include "ember/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "ember/error.h"
#include "ember/losses.h"

namespace ember {
namespace {

struct NamedKind {
  const char* name;
  MetricKind kind;
};

// Keras's class names in snake case first (what metric_name returns), then aliases.
constexpr NamedKind kNames[] = {
    {"binary_accuracy", MetricKind::BinaryAccuracy},
    {"categorical_accuracy", MetricKind::CategoricalAccuracy},
    {"sparse_categorical_accuracy", MetricKind::SparseCategoricalAccuracy},
    {"mean_absolute_error", MetricKind::MeanAbsoluteError},
    {"mean_squared_error", MetricKind::MeanSquaredError},
    {"accuracy", MetricKind::Accuracy},
    {"top_k_categorical_accuracy", MetricKind::TopKCategoricalAccuracy},
    {"sparse_top_k_categorical_accuracy", MetricKind::SparseTopKCategoricalAccuracy},
    {"root_mean_squared_error", MetricKind::RootMeanSquaredError},
    {"mean_absolute_percentage_error", MetricKind::MeanAbsolutePercentageError},
    {"auc", MetricKind::AUC},
    {"precision", MetricKind::Precision},
    {"recall", MetricKind::Recall},
    {"f_beta_score", MetricKind::FBetaScore},
    {"r2_score", MetricKind::R2Score},
    {"mean", MetricKind::Mean},
    {"sum", MetricKind::Sum},
    {"binary_crossentropy", MetricKind::BinaryCrossentropy},
    {"categorical_crossentropy", MetricKind::CategoricalCrossentropy},
    {"sparse_categorical_crossentropy", MetricKind::SparseCategoricalCrossentropy},
    {"hinge", MetricKind::Hinge},
    {"squared_hinge", MetricKind::SquaredHinge},
    {"categorical_hinge", MetricKind::CategoricalHinge},
    {"kl_divergence", MetricKind::KLDivergence},
    {"poisson", MetricKind::Poisson},
    {"log_cosh_error", MetricKind::LogCoshError},
    {"mean_squared_logarithmic_error", MetricKind::MeanSquaredLogarithmicError},
    {"cosine_similarity", MetricKind::CosineSimilarity},
    {"huber", MetricKind::Huber},
    {"binary_focal_crossentropy", MetricKind::BinaryFocalCrossentropy},
    {"pearson_correlation", MetricKind::PearsonCorrelation},
    {"concordance_correlation", MetricKind::ConcordanceCorrelation},
    {"true_positives", MetricKind::TruePositives},
    {"true_negatives", MetricKind::TrueNegatives},
    {"false_positives", MetricKind::FalsePositives},
    {"false_negatives", MetricKind::FalseNegatives},
    {"precision_at_recall", MetricKind::PrecisionAtRecall},
    {"recall_at_precision", MetricKind::RecallAtPrecision},
    {"sensitivity_at_specificity", MetricKind::SensitivityAtSpecificity},
    {"specificity_at_sensitivity", MetricKind::SpecificityAtSensitivity},
    {"io_u", MetricKind::IoU},
    {"binary_io_u", MetricKind::BinaryIoU},
    {"mae", MetricKind::MeanAbsoluteError},
    {"mse", MetricKind::MeanSquaredError},
    {"mape", MetricKind::MeanAbsolutePercentageError},
    {"msle", MetricKind::MeanSquaredLogarithmicError},
    {"logcosh", MetricKind::LogCoshError},
    {"fbeta_score", MetricKind::FBetaScore},
    {"f1_score", MetricKind::FBetaScore},
};

std::string list_string(const std::vector<double>& v) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << ']';
  return s.str();
}

// Keras's is_evenly_distributed_thresholds: at least 3 values, each within
// np.allclose's tolerance (atol 1e-7, rtol 1e-5) of i / (n - 1) in float32.
bool evenly_spaced(const std::vector<double>& t) {
  const size_t n = t.size();
  if (n < 3) return false;
  for (size_t i = 0; i < n; ++i) {
    const double even = static_cast<double>(static_cast<float>(i) / static_cast<float>(n - 1));
    if (!(std::fabs(t[i] - even) <= 1e-7 + 1e-5 * std::fabs(even))) return false;
  }
  return true;
}

double divide_no_nan(double x, double y) { return y == 0.0 ? 0.0 : x / y; }

// The kinds counted at thresholds (tp/fp/tn/fn per threshold, or buckets).
bool counts_at_thresholds(MetricKind k) {
  switch (k) {
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
    case MetricKind::SpecificityAtSensitivity: return true;
    default: return false;
  }
}

// Keras's parse_init_thresholds: each in [0, 1].
void check_thresholds_in_range(const std::vector<double>& thresholds) {
  std::vector<double> bad;
  for (double t : thresholds)
    if (!(t >= 0.0 && t <= 1.0)) bad.push_back(t);
  if (!bad.empty())
    throw ValueError("Threshold values must be in [0, 1]. Received: " + list_string(bad));
}

}  // namespace

MetricKind metric_from_name(const std::string& name) {
  for (const NamedKind& n : kNames)
    if (name == n.name) return n.kind;
  std::string choices;
  for (const NamedKind& n : kNames) choices += std::string(choices.empty() ? "" : ", ") + n.name;
  throw ValueError("Unknown metric: '" + name + "'. Expected one of: " + choices);
}

const char* metric_name(MetricKind kind) {
  for (const NamedKind& n : kNames)
    if (n.kind == kind) return n.name;
  return "?";
}

AucCurve auc_curve_from_name(const std::string& name) {
  if (name == "pr" || name == "PR") return AucCurve::PR;
  if (name == "roc" || name == "ROC") return AucCurve::ROC;
  if (name == "prgain" || name == "PRGAIN") return AucCurve::PRGain;
  throw ValueError("Invalid AUC curve value: \"" + name +
                   "\". Expected values are [\"PR\", \"ROC\", \"PRGAIN\"]");
}

AucSummation auc_summation_from_name(const std::string& name) {
  if (name == "interpolation" || name == "Interpolation") return AucSummation::Interpolation;
  if (name == "majoring" || name == "Majoring") return AucSummation::Majoring;
  if (name == "minoring" || name == "Minoring") return AucSummation::Minoring;
  throw ValueError("Invalid AUC summation method value: \"" + name +
                   "\". Expected values are [\"interpolation\", \"majoring\", \"minoring\"]");
}

FScoreAverage fscore_average_from_name(const std::optional<std::string>& name) {
  if (!name) return FScoreAverage::None;
  if (*name == "micro") return FScoreAverage::Micro;
  if (*name == "macro") return FScoreAverage::Macro;
  if (*name == "weighted") return FScoreAverage::Weighted;
  throw ValueError(
      "Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
      "'weighted'}. Received: average=" +
      *name);
}

R2Aggregation r2_aggregation_from_name(const std::optional<std::string>& name) {
  if (!name) return R2Aggregation::None;
  if (*name == "uniform_average") return R2Aggregation::UniformAverage;
  if (*name == "variance_weighted_average") return R2Aggregation::VarianceWeightedAverage;
  throw ValueError(
      "Invalid value for argument `class_aggregation`. Expected one of (None, "
      "'uniform_average', 'variance_weighted_average'). Received: class_aggregation=" +
      *name);
}

Metric::Metric(MetricConfig config) : config_(std::move(config)) {
  MetricConfig& c = config_;
  switch (c.kind) {
    case MetricKind::Precision:
    case MetricKind::Recall: {
      if (c.top_k && *c.top_k < 0)
        throw ValueError("`top_k` must be a non-negative integer, got " + std::to_string(*c.top_k));
      if (c.thresholds.empty())
        c.thresholds = {c.top_k ? static_cast<double>(kMetricNegInf) : 0.5};
      else
        check_thresholds_in_range(c.thresholds);
      for (double t : c.thresholds) cut_.push_back(static_cast<float>(t));
      buckets_ = evenly_spaced(c.thresholds);
      thresholds_with_epsilon_ = c.thresholds.front() < 0.0 || c.thresholds.back() > 1.0;
      break;
    }
    case MetricKind::TruePositives:
    case MetricKind::TrueNegatives:
    case MetricKind::FalsePositives:
    case MetricKind::FalseNegatives:
      if (c.thresholds.empty())
        c.thresholds = {0.5};
      else
        check_thresholds_in_range(c.thresholds);
      for (double t : c.thresholds) cut_.push_back(static_cast<float>(t));
      buckets_ = evenly_spaced(c.thresholds);
      break;
    case MetricKind::PrecisionAtRecall:
    case MetricKind::RecallAtPrecision:
    case MetricKind::SensitivityAtSpecificity:
    case MetricKind::SpecificityAtSensitivity: {
      if (c.num_thresholds <= 0)
        throw ValueError(
            "Argument `num_thresholds` must be an integer > 0. Received: "
            "num_thresholds=" +
            std::to_string(c.num_thresholds));
      if (!(c.value >= 0.0 && c.value <= 1.0)) {
        const char* arg = c.kind == MetricKind::PrecisionAtRecall          ? "recall"
                          : c.kind == MetricKind::RecallAtPrecision        ? "precision"
                          : c.kind == MetricKind::SensitivityAtSpecificity ? "specificity"
                                                                           : "sensitivity";
        std::ostringstream v;
        v << c.value;
        throw ValueError(std::string("Argument `") + arg + "` must be in the range [0, 1]. " +
                         "Received: " + arg + "=" + v.str());
      }
      // Keras's thresholds: 0, the num_thresholds - 2 between, 1; or 0.5 alone.
      c.thresholds.clear();
      if (c.num_thresholds == 1) {
        c.thresholds = {0.5};
      } else {
        c.thresholds.push_back(0.0);
        for (int64_t i = 0; i < c.num_thresholds - 2; ++i)
          c.thresholds.push_back(static_cast<double>(i + 1) * 1.0 /
                                 static_cast<double>(c.num_thresholds - 1));
        c.thresholds.push_back(1.0);
        buckets_ = true;
      }
      for (double t : c.thresholds) cut_.push_back(static_cast<float>(t));
      break;
    }
    case MetricKind::IoU:
    case MetricKind::BinaryIoU: {
      if (c.kind == MetricKind::BinaryIoU) {
        c.num_classes = 2;
        c.sparse_y_true = c.sparse_y_pred = true;
        if (!c.threshold) c.threshold = 0.5f;
      }
      if (c.num_classes < 1)
        throw ValueError("IoU: `num_classes` must be a positive integer. Received: num_classes=" +
                         std::to_string(c.num_classes));
      if (c.num_classes > (int64_t{1} << 15))
        throw ValueError("IoU: num_classes=" + std::to_string(c.num_classes) +
                         " is too large for a confusion matrix of num_classes**2 counts");
      if (c.target_class_ids.empty())
        for (int64_t i = 0; i < c.num_classes; ++i) c.target_class_ids.push_back(i);
      for (int64_t id : c.target_class_ids)
        if (id < 0 || id >= c.num_classes)
          throw ValueError("Target class id " + std::to_string(id) +
                           " is out of range, which is [0, " + std::to_string(c.num_classes) +
                           ").");
      classes_ = c.num_classes;
      break;
    }
    case MetricKind::BinaryCrossentropy:
    case MetricKind::CategoricalCrossentropy:
    case MetricKind::BinaryFocalCrossentropy:
    case MetricKind::Huber: validate_loss(loss_spec()); break;
    case MetricKind::AUC: {
      std::vector<double> cuts{0.0 - 1e-7};
      if (!c.thresholds.empty()) {
        std::vector<double> sorted = c.thresholds;
        std::sort(sorted.begin(), sorted.end());
        std::vector<double> with_ends{0.0};
        with_ends.insert(with_ends.end(), sorted.begin(), sorted.end());
        with_ends.push_back(1.0);
        buckets_ = evenly_spaced(with_ends);
        c.num_thresholds = static_cast<int64_t>(sorted.size()) + 2;
        cuts.insert(cuts.end(), sorted.begin(), sorted.end());
      } else {
        if (c.num_thresholds <= 1)
          throw ValueError(
              "Argument `num_thresholds` must be an integer > 1. Received: "
              "num_thresholds=" +
              std::to_string(c.num_thresholds));
        for (int64_t i = 0; i < c.num_thresholds - 2; ++i)
          cuts.push_back(static_cast<double>(i + 1) * 1.0 /
                         static_cast<double>(c.num_thresholds - 1));
        buckets_ = true;
      }
      cuts.push_back(1.0 + 1e-7);
      for (double t : cuts) cut_.push_back(static_cast<float>(t));
      auc_thresholds_ = std::move(cuts);
      thresholds_with_epsilon_ = true;  // the end points lie outside [0, 1]
      if (c.num_labels && !c.multi_label)
        throw ValueError("`num_labels` is needed only when `multi_label` is True.");
      if (c.multi_label && c.num_labels && *c.num_labels < 1)
        throw ValueError("`num_labels` must be a positive integer, got " +
                         std::to_string(*c.num_labels));
      break;
    }
    case MetricKind::FBetaScore:
      if (!(c.beta > 0.0))
        throw ValueError("Invalid `beta` argument value. It should be > 0. Received: beta=" +
                         std::to_string(c.beta));
      if (c.threshold && (*c.threshold > 1.0f || *c.threshold <= 0.0f))
        throw ValueError(
            "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
            "Received: threshold=" +
            std::to_string(*c.threshold));
      break;
    case MetricKind::R2Score:
      if (c.num_regressors < 0)
        throw ValueError(
            "Invalid value for argument `num_regressors`. Expected a value >= 0. Received: "
            "num_regressors=" +
            std::to_string(c.num_regressors));
      break;
    default: break;
  }
  if (c.kind == MetricKind::AUC && c.multi_label) {
    if (c.num_labels) build(*c.num_labels);
  }
  reset();
}

bool Metric::sparse_targets() const {
  const MetricKind k = config_.kind;
  return k == MetricKind::SparseCategoricalAccuracy ||
         k == MetricKind::SparseTopKCategoricalAccuracy ||
         k == MetricKind::SparseCategoricalCrossentropy ||
         (k == MetricKind::IoU && config_.sparse_y_true && !config_.sparse_y_pred);
}

int64_t Metric::target_cols(int64_t cols) const {
  if (sparse_targets()) return 1;
  // IoU of one-hot targets against predicted class ids: a one-hot row per id.
  if (config_.kind == MetricKind::IoU && !config_.sparse_y_true && config_.sparse_y_pred)
    return config_.num_classes;
  return cols;
}

std::optional<LossKind> Metric::loss_kind() const {
  switch (config_.kind) {
    case MetricKind::BinaryCrossentropy: return LossKind::BinaryCrossentropy;
    case MetricKind::CategoricalCrossentropy: return LossKind::CategoricalCrossentropy;
    case MetricKind::SparseCategoricalCrossentropy: return LossKind::SparseCategoricalCrossentropy;
    case MetricKind::Hinge: return LossKind::Hinge;
    case MetricKind::SquaredHinge: return LossKind::SquaredHinge;
    case MetricKind::CategoricalHinge: return LossKind::CategoricalHinge;
    case MetricKind::KLDivergence: return LossKind::KLDivergence;
    case MetricKind::Poisson: return LossKind::Poisson;
    case MetricKind::LogCoshError: return LossKind::LogCosh;
    case MetricKind::MeanSquaredLogarithmicError: return LossKind::MeanSquaredLogarithmicError;
    case MetricKind::CosineSimilarity: return LossKind::CosineSimilarity;
    case MetricKind::Huber: return LossKind::Huber;
    case MetricKind::BinaryFocalCrossentropy: return LossKind::BinaryFocalCrossentropy;
    default: return std::nullopt;
  }
}

LossSpec Metric::loss_spec() const {
  LossSpec spec;
  spec.kind = loss_kind().value_or(LossKind::MeanSquaredError);
  spec.reduction = Reduction::None;
  spec.from_logits = config_.from_logits;
  spec.label_smoothing = config_.label_smoothing;
  spec.delta = config_.delta;
  spec.apply_class_balancing = config_.apply_class_balancing;
  spec.alpha = config_.alpha;
  spec.gamma = config_.gamma;
  spec.ignore_class = config_.ignore_class;
  return spec;
}

bool Metric::has_row_values() const {
  return loss_kind().has_value() || config_.kind == MetricKind::PearsonCorrelation ||
         config_.kind == MetricKind::ConcordanceCorrelation;
}

int64_t Metric::check_update_shapes(const Shape& pred, const Shape* target,
                                    const Shape* sample_weight) const {
  const std::string what = metric_name(config_.kind);
  if (pred.size() != 2)
    throw ValueError(what + ": y_pred must have shape (rows, classes), got " +
                     shape_to_string(pred));
  const int64_t rows = pred[0], cols = pred[1];
  // One value per row: shaped (rows,), (rows, 1), ...
  auto one_per_row = [rows](const Shape& s) {
    return !s.empty() && s[0] == rows && num_elements(s) == rows;
  };
  if (target) {
    const bool ok = sparse_targets() ? one_per_row(*target)
                                     : target->size() == 2 && (*target)[0] == rows &&
                                           (*target)[1] == target_cols(cols);
    if (!ok)
      throw ValueError(what + ": y_true of shape " + shape_to_string(*target) +
                       " does not match y_pred of shape " + shape_to_string(pred) +
                       (sparse_targets() ? " (one class id per row expected)" : ""));
  }
  if (!sample_weight || one_per_row(*sample_weight)) return 1;
  if (sample_weight->size() == 2 && (*sample_weight)[0] == rows && (*sample_weight)[1] == cols)
    return cols;
  throw ValueError(what + ": sample_weight of shape " + shape_to_string(*sample_weight) +
                   " does not match y_pred of shape " + shape_to_string(pred));
}

bool Metric::vector_result() const {
  switch (config_.kind) {
    case MetricKind::FBetaScore: return config_.average == FScoreAverage::None;
    case MetricKind::R2Score: return config_.class_aggregation == R2Aggregation::None;
    case MetricKind::Precision:
    case MetricKind::Recall:
    case MetricKind::TruePositives:
    case MetricKind::TrueNegatives:
    case MetricKind::FalsePositives:
    case MetricKind::FalseNegatives: return config_.thresholds.size() > 1;
    default: return false;
  }
}

bool Metric::needs_rank_2() const {
  return config_.kind == MetricKind::FBetaScore || config_.kind == MetricKind::R2Score ||
         (config_.kind == MetricKind::AUC && config_.multi_label);
}

void Metric::build(int64_t cols) {
  if (!needs_rank_2()) return;
  if (classes_ >= 0) {
    if (cols != classes_)
      throw ValueError(std::string("metric ") + metric_name(config_.kind) + " was built for " +
                       std::to_string(classes_) + " classes (the last axis of y_pred), got " +
                       std::to_string(cols));
    return;
  }
  if (cols < 1)
    throw ValueError(std::string("metric ") + metric_name(config_.kind) +
                     " needs at least one class, got a last axis of 0");
  classes_ = cols;
  if (config_.kind == MetricKind::AUC) {
    labels_ = cols;
    if (!config_.label_weights.empty() &&
        static_cast<int64_t>(config_.label_weights.size()) != cols)
      throw ValueError("AUC has " + std::to_string(config_.label_weights.size()) +
                       " label_weights, but y_pred has " + std::to_string(cols) + " labels");
  }
  reset();
}

void Metric::reset() {
  total_ = count_ = samples_ = 0.0;
  const MetricKind k = config_.kind;
  if (counts_at_thresholds(k)) {
    const auto n = static_cast<size_t>(cut_.size() * static_cast<size_t>(labels_));
    for (auto* v : {&tp_, &fp_, &tn_, &fn_}) v->assign(n, 0.0);
    pos_total_.assign(static_cast<size_t>(labels_), 0.0);
    neg_total_.assign(static_cast<size_t>(labels_), 0.0);
  }
  if ((k == MetricKind::FBetaScore || k == MetricKind::R2Score) && classes_ > 0) {
    const auto n = static_cast<size_t>(
        k == MetricKind::FBetaScore && config_.average == FScoreAverage::Micro ? 1 : classes_);
    for (auto* v : {&a_, &b_, &c_, &d_}) v->assign(n, 0.0);
  }
  if (k == MetricKind::IoU || k == MetricKind::BinaryIoU)
    a_.assign(static_cast<size_t>(config_.num_classes * config_.num_classes), 0.0);
}

std::vector<double> Metric::state() const {
  std::vector<double> s{total_, count_, samples_};
  for (const std::vector<double>* v :
       {&tp_, &fp_, &tn_, &fn_, &pos_total_, &neg_total_, &a_, &b_, &c_, &d_})
    s.insert(s.end(), v->begin(), v->end());
  return s;
}

void Metric::set_state(const std::vector<double>& state) {
  std::vector<std::vector<double>*> members{&tp_,        &fp_, &tn_, &fn_, &pos_total_,
                                            &neg_total_, &a_,  &b_,  &c_,  &d_};
  size_t n = 3;
  for (const std::vector<double>* v : members) n += v->size();
  if (state.size() != n)
    throw ValueError(std::string("metric ") + metric_name(config_.kind) + ": a state of " +
                     std::to_string(n) + " values is needed, got " + std::to_string(state.size()));
  total_ = state[0];
  count_ = state[1];
  samples_ = state[2];
  auto it = state.begin() + 3;
  for (std::vector<double>* v : members) {
    std::copy(it, it + static_cast<std::ptrdiff_t>(v->size()), v->begin());
    it += static_cast<std::ptrdiff_t>(v->size());
  }
}

void Metric::confusion_counts(std::vector<double>& tp, std::vector<double>& fp,
                              std::vector<double>& tn, std::vector<double>& fn) const {
  if (!buckets_) {
    tp = tp_, fp = fp_, tn = tn_, fn = fn_;
    return;
  }
  // Bucket j holds the predictions above threshold j but not j + 1: a threshold's
  // positives are the buckets from it up.
  const auto T = static_cast<int64_t>(cut_.size());
  const int64_t L = labels_;
  tp.assign(tp_.size(), 0.0), fp.assign(fp_.size(), 0.0);
  tn.assign(tp_.size(), 0.0), fn.assign(tp_.size(), 0.0);
  for (int64_t l = 0; l < L; ++l) {
    double pos = 0.0, neg = 0.0;
    for (int64_t i = T - 1; i >= 0; --i) {
      const auto at = static_cast<size_t>(i * L + l);
      pos += tp_[at], neg += fp_[at];
      tp[at] = pos, fp[at] = neg;
      fn[at] = pos_total_[static_cast<size_t>(l)] - pos;
      tn[at] = neg_total_[static_cast<size_t>(l)] - neg;
    }
  }
}

std::vector<double> Metric::auc_result() const {
  std::vector<double> tp, fp, tn, fn;
  confusion_counts(tp, fp, tn, fn);
  const auto T = static_cast<int64_t>(cut_.size());
  const int64_t L = labels_;
  std::vector<double> by_label(static_cast<size_t>(L), 0.0);
  const MetricConfig& c = config_;
  auto at = [L](int64_t i, int64_t l) { return static_cast<size_t>(i * L + l); };
  for (int64_t l = 0; l < L; ++l) {
    double sum = 0.0;
    if (c.curve == AucCurve::PR && c.summation == AucSummation::Interpolation) {
      // Davis & Goadrich: interpolate the positives between thresholds, not the precision.
      for (int64_t i = 0; i + 1 < T; ++i) {
        const size_t a = at(i, l), b = at(i + 1, l);
        const double dtp = tp[a] - tp[b];
        const double p0 = tp[a] + fp[a], p1 = tp[b] + fp[b];
        const double slope = divide_no_nan(dtp, std::max(p0 - p1, 0.0));
        const double intercept = tp[b] - slope * p1;
        const double ratio = p0 > 0.0 && p1 > 0.0 ? divide_no_nan(p0, std::max(p1, 0.0)) : 1.0;
        sum += divide_no_nan(slope * (dtp + intercept * std::log(ratio)),
                             std::max(tp[b] + fn[b], 0.0));
      }
    } else {
      auto point = [&](int64_t i, double& x, double& y) {
        const size_t a = at(i, l);
        const double recall = divide_no_nan(tp[a], tp[a] + fn[a]);
        if (c.curve == AucCurve::ROC) {
          x = divide_no_nan(fp[a], fp[a] + tn[a]);
          y = recall;
        } else if (c.curve == AucCurve::PR) {
          x = recall;
          y = divide_no_nan(tp[a], tp[a] + fp[a]);
        } else {  // PR gain
          const double scale = divide_no_nan(tp[a] + fn[a], tn[a] + fp[a]);
          double recall_gain = 1.0 - scale * divide_no_nan(fn[a], tp[a]);
          double precision_gain = 1.0 - scale * divide_no_nan(fp[a], tp[a]);
          if (tp[a] == 0.0) recall_gain = 0.0, precision_gain = 1.0;
          x = std::max(recall_gain, 0.0);
          y = precision_gain;
        }
      };
      double x0, y0;
      point(0, x0, y0);
      for (int64_t i = 0; i + 1 < T; ++i) {
        double x1, y1;
        point(i + 1, x1, y1);
        const double height = c.summation == AucSummation::Interpolation ? (y0 + y1) / 2.0
                              : c.summation == AucSummation::Minoring    ? std::min(y0, y1)
                                                                         : std::max(y0, y1);
        sum += (x0 - x1) * height;
        x0 = x1, y0 = y1;
      }
    }
    by_label[static_cast<size_t>(l)] = sum;
  }
  if (!c.multi_label) return {by_label[0]};
  if (classes_ < 0) return {0.0};  // not built: nothing seen
  if (c.label_weights.empty()) {
    double s = 0.0;
    for (double v : by_label) s += v;
    return {s / static_cast<double>(L)};
  }
  double s = 0.0, ws = 0.0;
  for (int64_t l = 0; l < L; ++l) {
    s += by_label[static_cast<size_t>(l)] * c.label_weights[static_cast<size_t>(l)];
    ws += c.label_weights[static_cast<size_t>(l)];
  }
  return {divide_no_nan(s, ws)};
}

// Keras's _find_max_under_constraint: the largest `dependent` rate among the thresholds
// whose `constrained` rate is >= value (0 when none is), the rates in float32 as Keras's
// variables give them.
std::vector<double> Metric::at_constraint_result() const {
  std::vector<double> tp, fp, tn, fn;
  confusion_counts(tp, fp, tn, fn);
  auto rate = [](double x, double y) {
    const auto xf = static_cast<float>(x), sum = static_cast<float>(y) + xf;
    return sum == 0.0f ? 0.0f : xf / sum;
  };
  const auto value = static_cast<float>(config_.value);
  float best = 0.0f;
  for (size_t i = 0; i < tp.size(); ++i) {
    const float recall = rate(tp[i], fn[i]);  // = sensitivity
    const float precision = rate(tp[i], fp[i]);
    const float specificity = rate(tn[i], fp[i]);
    float constrained = 0.0f, dependent = 0.0f;
    switch (config_.kind) {
      case MetricKind::PrecisionAtRecall: constrained = recall, dependent = precision; break;
      case MetricKind::RecallAtPrecision: constrained = precision, dependent = recall; break;
      case MetricKind::SensitivityAtSpecificity:
        constrained = specificity, dependent = recall;
        break;
      default: constrained = recall, dependent = specificity; break;
    }
    if (constrained >= value) best = std::max(best, dependent);
  }
  return {static_cast<double>(best)};
}

// Keras's IoU.result, in float32 as Keras computes it: per target class, the true
// positives over (predicted + true - true positives); classes that never occur are left
// out of the mean.
std::vector<double> Metric::iou_result() const {
  const int64_t n = config_.num_classes;
  float sum = 0.0f, valid = 0.0f;
  for (int64_t id : config_.target_class_ids) {
    double predicted = 0.0, actual = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      predicted += a_[static_cast<size_t>(i * n + id)];
      actual += a_[static_cast<size_t>(id * n + i)];
    }
    const double tp = a_[static_cast<size_t>(id * n + id)];
    const auto denominator = static_cast<float>(predicted + actual - tp);
    if (denominator > 1e-9f) {
      sum += static_cast<float>(tp) / (denominator + kEpsilon);
      valid += 1.0f;
    }
  }
  return {static_cast<double>(sum / (valid + kEpsilon))};
}

std::vector<double> Metric::result() const {
  const MetricConfig& c = config_;
  switch (c.kind) {
    case MetricKind::Sum: return {total_};
    case MetricKind::RootMeanSquaredError: return {std::sqrt(divide_no_nan(total_, count_))};
    case MetricKind::Precision:
    case MetricKind::Recall: {
      std::vector<double> tp, fp, tn, fn;
      confusion_counts(tp, fp, tn, fn);
      std::vector<double> r(tp.size());
      for (size_t i = 0; i < tp.size(); ++i)
        r[i] = divide_no_nan(tp[i], tp[i] + (c.kind == MetricKind::Precision ? fp[i] : fn[i]));
      return r;
    }
    case MetricKind::AUC: return auc_result();
    case MetricKind::TruePositives:
    case MetricKind::TrueNegatives:
    case MetricKind::FalsePositives:
    case MetricKind::FalseNegatives: {
      std::vector<double> tp, fp, tn, fn;
      confusion_counts(tp, fp, tn, fn);
      return c.kind == MetricKind::TruePositives    ? tp
             : c.kind == MetricKind::TrueNegatives  ? tn
             : c.kind == MetricKind::FalsePositives ? fp
                                                    : fn;
    }
    case MetricKind::PrecisionAtRecall:
    case MetricKind::RecallAtPrecision:
    case MetricKind::SensitivityAtSpecificity:
    case MetricKind::SpecificityAtSensitivity: return at_constraint_result();
    case MetricKind::IoU:
    case MetricKind::BinaryIoU: return iou_result();
    case MetricKind::FBetaScore: {
      // a_: true positives, b_: false positives, c_: false negatives, d_: the
      // (weighted) count of each class's true labels.
      if (a_.empty()) return vector_result() ? std::vector<double>{} : std::vector<double>{0.0};
      constexpr double eps = static_cast<double>(kEpsilon);
      const double b2 = c.beta * c.beta;
      std::vector<double> f(a_.size());
      for (size_t i = 0; i < a_.size(); ++i) {
        const double precision = a_[i] / (a_[i] + b_[i] + eps);
        const double recall = a_[i] / (a_[i] + c_[i] + eps);
        f[i] = precision * recall / (b2 * precision + recall + eps) * (1.0 + b2);
      }
      if (c.average == FScoreAverage::None) return f;
      double s = 0.0;
      if (c.average == FScoreAverage::Weighted) {
        double total = 0.0;
        for (double w : d_) total += w;
        for (size_t i = 0; i < f.size(); ++i) s += f[i] * (d_[i] / (total + eps));
        return {s};
      }
      for (double v : f) s += v;
      return {s / static_cast<double>(f.size())};
    }
    case MetricKind::R2Score: {
      // a_: sum of y_true, b_: of its square, c_: of the squared residual, d_: the count.
      if (a_.empty()) return vector_result() ? std::vector<double>{} : std::vector<double>{0.0};
      std::vector<double> raw(a_.size()), total(a_.size());
      for (size_t i = 0; i < a_.size(); ++i) {
        const double mean = a_[i] / d_[i];
        total[i] = b_[i] - a_[i] * mean;
        raw[i] = 1.0 - c_[i] / total[i];
        if (std::isinf(raw[i])) raw[i] = 0.0;
      }
      std::vector<double> r2;
      if (c.class_aggregation == R2Aggregation::None) {
        r2 = raw;
      } else if (c.class_aggregation == R2Aggregation::UniformAverage) {
        double s = 0.0;
        for (double v : raw) s += v;
        r2 = {s / static_cast<double>(raw.size())};
      } else {
        double s = 0.0, ts = 0.0;
        for (size_t i = 0; i < raw.size(); ++i) s += total[i] * raw[i], ts += total[i];
        r2 = {s / ts};
      }
      // The adjusted score; with too few samples Keras falls back to the plain one.
      const auto p = static_cast<double>(c.num_regressors);
      if (c.num_regressors != 0 && p < samples_ - 1.0)
        for (double& v : r2) v = 1.0 - (1.0 - v) * (samples_ - 1.0) / (samples_ - p - 1.0);
      return r2;
    }
    default: return {divide_no_nan(total_, count_)};
  }
}

std::vector<std::pair<std::string, std::vector<double>>> Metric::variables() const {
  switch (config_.kind) {
    case MetricKind::Sum: return {{"total", {total_}}};
    case MetricKind::Precision:
    case MetricKind::Recall:
    case MetricKind::AUC: {
      std::vector<double> tp, fp, tn, fn;
      confusion_counts(tp, fp, tn, fn);
      if (config_.kind == MetricKind::Precision)
        return {{"true_positives", tp}, {"false_positives", fp}};
      if (config_.kind == MetricKind::Recall)
        return {{"true_positives", tp}, {"false_negatives", fn}};
      return {{"true_positives", tp},
              {"false_positives", fp},
              {"true_negatives", tn},
              {"false_negatives", fn}};
    }
    case MetricKind::TruePositives:
    case MetricKind::TrueNegatives:
    case MetricKind::FalsePositives:
    case MetricKind::FalseNegatives: return {{"accumulator", result()}};
    case MetricKind::PrecisionAtRecall:
    case MetricKind::RecallAtPrecision:
    case MetricKind::SensitivityAtSpecificity:
    case MetricKind::SpecificityAtSensitivity: {
      std::vector<double> tp, fp, tn, fn;
      confusion_counts(tp, fp, tn, fn);
      return {{"true_positives", tp},
              {"false_positives", fp},
              {"true_negatives", tn},
              {"false_negatives", fn}};
    }
    case MetricKind::IoU:
    case MetricKind::BinaryIoU: return {{"total_confusion_matrix", a_}};
    case MetricKind::FBetaScore:
      return {{"true_positives", a_},
              {"false_positives", b_},
              {"false_negatives", c_},
              {"intermediate_weights", d_}};
    case MetricKind::R2Score:
      return {{"num_samples", {samples_}},
              {"squared_sum", b_},
              {"sum", a_},
              {"residual", c_},
              {"count", d_}};
    default: return {{"total", {total_}}, {"count", {count_}}};
  }
}

}  // namespace ember
