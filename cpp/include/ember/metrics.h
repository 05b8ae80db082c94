// Keras 3's stateful metrics. A Metric accumulates over batches (update), reports
// (result) and starts over (reset), with the numbers Keras computes: every
// per-element value is the float32 expression Keras's jax backend evaluates, and
// the running sums are kept in double. The same objects serve a standalone
// `ember.metrics.AUC()` and a compiled model's metrics.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/losses.h"
#include "ember/tensor.h"

namespace ember {

enum class MetricKind {
  BinaryAccuracy,
  CategoricalAccuracy,
  SparseCategoricalAccuracy,
  MeanAbsoluteError,
  MeanSquaredError,
  Accuracy,
  TopKCategoricalAccuracy,
  SparseTopKCategoricalAccuracy,
  RootMeanSquaredError,
  MeanAbsolutePercentageError,
  AUC,
  Precision,
  Recall,
  FBetaScore,  // F1Score is FBetaScore with beta = 1
  R2Score,
  Mean,  // the running mean of given values (pred); target unused
  Sum,   // their running sum
  // Keras's MeanMetricWrapper around a loss function: the mean of the loss kernel's
  // per-sample values (losses.h), with the config's loss parameters.
  BinaryCrossentropy,
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,  // ignore_class: those rows are masked out of the mean
  Hinge,
  SquaredHinge,
  CategoricalHinge,
  KLDivergence,
  Poisson,
  LogCoshError,
  MeanSquaredLogarithmicError,
  CosineSimilarity,         // the cosine itself: minus the loss
  Huber,                    // no Keras class: the metric of the function form `huber`
  BinaryFocalCrossentropy,  // nor here: of `binary_focal_crossentropy`
  // The mean of a per-row correlation of target and pred (metrics' function forms).
  PearsonCorrelation,
  ConcordanceCorrelation,
  // One confusion count per threshold (thresholds as Precision's).
  TruePositives,
  TrueNegatives,
  FalsePositives,
  FalseNegatives,
  // The best of one rate at num_thresholds evenly spaced thresholds where another
  // rate reaches `value` (Keras's SensitivitySpecificityBase).
  PrecisionAtRecall,
  RecallAtPrecision,
  SensitivityAtSpecificity,
  SpecificityAtSensitivity,
  // Intersection over union from a (num_classes, num_classes) confusion matrix of class
  // ids: IoU (MeanIoU, OneHotIoU, OneHotMeanIoU are its configurations) and BinaryIoU
  // (pred >= threshold is class 1).
  IoU,
  BinaryIoU,
};

enum class AucCurve { ROC, PR, PRGain };
enum class AucSummation { Interpolation, Minoring, Majoring };
enum class FScoreAverage { None, Micro, Macro, Weighted };
enum class R2Aggregation { None, UniformAverage, VarianceWeightedAverage };

// Keras's value that top_k filtering gives to the predictions it drops.
constexpr float kMetricNegInf = -1e10f;

// A metric kind and its Keras constructor arguments; a parameter the kind does
// not take keeps its default.
struct MetricConfig {
  MetricKind kind = MetricKind::MeanSquaredError;
  // BinaryAccuracy's cut (none: 0.5). FBetaScore's (none: a row's maximum counts
  // as its predicted class).
  std::optional<float> threshold;
  int64_t k = 5;                 // the top-k accuracies
  bool from_sorted_ids = false;  // SparseTopKCategoricalAccuracy: pred holds sorted class ids
  // Precision, Recall: the thresholds (empty: 0.5, or kMetricNegInf with top_k).
  // AUC: its thresholds between 0 and 1 (empty: num_thresholds evenly spaced).
  std::vector<double> thresholds;
  std::optional<int64_t> top_k;     // Precision, Recall
  std::optional<int64_t> class_id;  // Precision, Recall
  int64_t num_thresholds = 200;     // AUC
  AucCurve curve = AucCurve::ROC;
  AucSummation summation = AucSummation::Interpolation;
  bool multi_label = false;
  std::optional<int64_t> num_labels;
  std::vector<double> label_weights;  // empty: none
  bool from_logits = false;
  FScoreAverage average = FScoreAverage::None;  // FBetaScore
  double beta = 1.0;
  R2Aggregation class_aggregation = R2Aggregation::UniformAverage;  // R2Score
  int64_t num_regressors = 0;
  // The loss-function metrics: Keras's loss parameters (losses.h's LossSpec).
  double label_smoothing = 0.0;
  double delta = 1.0;                  // Huber
  bool apply_class_balancing = false;  // BinaryFocalCrossentropy
  double alpha = 0.25;
  double gamma = 2.0;
  // SparseCategoricalCrossentropy: rows of this label are masked out. IoU: entries
  // whose true class is this one are left out.
  std::optional<int64_t> ignore_class;
  double value = 0.0;  // the *At* metrics: the recall/precision/... to reach
  // IoU: the classes, those averaged (empty: all), whether y_true / y_pred hold class
  // ids (else one-hot rows or scores, argmax taken), and whether the metric's dtype is
  // an integer one (Keras's default): then labels and weights are truncated to integers
  // before counting.
  int64_t num_classes = 0;
  std::vector<int64_t> target_class_ids;
  bool sparse_y_true = true;
  bool sparse_y_pred = true;
  bool integer_dtype = true;
};

class Metric {
 public:
  explicit Metric(MetricConfig config);  // validates as Keras's constructor does (ValueError)

  // pred: (rows, cols). target: (rows, target_cols(cols)), class ids for the
  // sparse kinds. sample_weight: null, or one weight per row (weight_cols 1) or
  // per value (weight_cols == cols). Throws ValueError for labels out of range
  // and for a cols that differs from the one a per-class state was built for.
  void update(const float* pred, const float* target, const float* sample_weight, int64_t rows,
              int64_t cols, int64_t weight_cols = 1);
  // The shape rules of update on whole arrays (ember.metrics' update_state): pred must be
  // (rows, cols); target (rows, target_cols(cols)), or one class id per row for the sparse
  // kinds; sample_weight one weight per row or one per value. Returns update's
  // weight_cols. target, sample_weight: null when not given. Throws ValueError naming
  // the mismatch.
  int64_t check_update_shapes(const Shape& pred, const Shape* target,
                              const Shape* sample_weight) const;
  // One value, or one per class / threshold (see vector_result).
  std::vector<double> result() const;
  void reset();
  // Every accumulated number, flat in a fixed order (totals, counts, confusion counts and
  // buckets, per-class sums, R2Score's samples). Each is a sum over the samples seen, so the
  // sum of several metrics' states is the state of one that saw all their samples: data-
  // parallel ranks sum theirs (Model::metric_results) and compute the result from the sum.
  std::vector<double> state() const;
  // Replaces the state with one state() gave for the same configuration and classes.
  // Throws ValueError when its length differs.
  void set_state(const std::vector<double>& state);

  const MetricConfig& config() const { return config_; }
  // AUC: every threshold it counts at, the end points (0 - 1e-7, 1 + 1e-7) included, in
  // double as Keras's AUC.thresholds lists them.
  const std::vector<double>& auc_thresholds() const { return auc_thresholds_; }
  // Whether the target holds one class id per row rather than a row like pred.
  bool sparse_targets() const;
  int64_t target_cols(int64_t cols) const;
  // Whether result() is a vector (F1Score average=None, R2Score class_aggregation=None,
  // Precision/Recall with several thresholds) - even one of length 1.
  bool vector_result() const;
  // Kinds that accept only a rank-2 pred (one row of classes per sample).
  bool needs_rank_2() const;
  // Fixes the number of classes of a per-class state (F1Score, R2Score, AUC with
  // multi_label); a no-op for the others. Throws ValueError when already built otherwise.
  void build(int64_t cols);
  // The state under Keras's variable names (true_positives, total, ...), for inspection.
  std::vector<std::pair<std::string, std::vector<double>>> variables() const;
  // The per-row values a mean-of-rows metric averages (the loss-function and correlation
  // kinds): values[r] for pred/target rows as update takes them. The function forms
  // (ember.metrics.pearson_correlation, ...) are these. Throws ValueError for other kinds.
  void row_values(const float* pred, const float* target, int64_t rows, int64_t cols,
                  float* values) const;
  // Whether this kind averages row_values.
  bool has_row_values() const;
  // The loss whose per-sample values a loss-function kind averages (none for the others),
  // and its spec from the config.
  std::optional<LossKind> loss_kind() const;
  LossSpec loss_spec() const;

 private:
  void update_mean(const float* pred, const float* target, const float* w, int64_t rows,
                   int64_t cols, int64_t weight_cols);
  void update_confusion(const float* pred, const float* target, const float* w, int64_t rows,
                        int64_t cols, int64_t weight_cols);
  void update_fbeta(const float* pred, const float* target, const float* w, int64_t rows,
                    int64_t cols, int64_t weight_cols);
  void update_r2(const float* pred, const float* target, const float* w, int64_t rows, int64_t cols,
                 int64_t weight_cols);
  void update_row_values(const float* pred, const float* target, const float* w, int64_t rows,
                         int64_t cols, int64_t weight_cols);
  void update_iou(const float* pred, const float* target, const float* w, int64_t rows,
                  int64_t cols, int64_t weight_cols);
  std::vector<double> at_constraint_result() const;
  std::vector<double> iou_result() const;
  // Per threshold (and label) counts tp, fp, tn, fn, from the buckets when they are used.
  void confusion_counts(std::vector<double>& tp, std::vector<double>& fp, std::vector<double>& tn,
                        std::vector<double>& fn) const;
  std::vector<double> auc_result() const;

  MetricConfig config_;
  // Mean-type metrics.
  double total_ = 0.0, count_ = 0.0;
  // Confusion metrics: thresholds as float32 (what Keras compares with), whether
  // they are evenly spaced (then predictions are counted into buckets), and the
  // state: per (threshold, label) tp/fp/tn/fn, or per (bucket, label) positives and
  // negatives with per-label totals.
  std::vector<float> cut_;
  std::vector<double> auc_thresholds_;
  bool buckets_ = false;
  bool thresholds_with_epsilon_ = false;
  int64_t labels_ = 1;  // AUC with multi_label: one state per label
  std::vector<double> tp_, fp_, tn_, fn_;
  std::vector<double> pos_total_, neg_total_;
  // FBetaScore and R2Score: per class (or one, for micro) sums. IoU: a_ is the
  // (num_classes, num_classes) confusion matrix, row: the true class, column: the predicted.
  int64_t classes_ = -1;  // -1: not built yet
  std::vector<double> a_, b_, c_, d_;
  double samples_ = 0.0;        // R2Score's num_samples
  std::vector<float> scratch_;  // a row's values, for top_k filtering; a batch's row values
  std::vector<int64_t> order_;  // and its indices
};

// Keras's class names in snake case ("auc", "f_beta_score", ...) and the
// engine's former names and aliases ("mae", "mse", "mape"). Throws ValueError.
MetricKind metric_from_name(const std::string& name);
const char* metric_name(MetricKind kind);
AucCurve auc_curve_from_name(const std::string& name);          // Keras's AUCCurve.from_str
AucSummation auc_summation_from_name(const std::string& name);  // AUCSummationMethod.from_str
FScoreAverage fscore_average_from_name(const std::optional<std::string>& name);
R2Aggregation r2_aggregation_from_name(const std::optional<std::string>& name);

}  // namespace ember
