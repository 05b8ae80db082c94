// Keras's losses with their gradients. A loss computes one value per sample
// (per entry of the output without its last axis), weights it by the sample's
// weight and reduces as Keras's reduce_weighted_values does. Every value is the
// float32 expression Keras's jax backend evaluates (probabilities clipped to
// [1e-7, 1 - 1e-7], log-softmax / log-sigmoid forms for logits), and every
// gradient follows jax's autodiff rules, ties included: max/min/clip split a
// tie's gradient in half, |x|' is +1 at 0, a max over classes shares its
// gradient among equal maxima. Same inputs in, same numbers and gradients out.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "ember/tensor.h"

namespace ember {

enum class LossKind {
  MeanSquaredError,
  MeanAbsoluteError,
  MeanAbsolutePercentageError,
  MeanSquaredLogarithmicError,
  Huber,
  LogCosh,
  BinaryCrossentropy,
  BinaryFocalCrossentropy,
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,
  KLDivergence,
  Poisson,
  Hinge,
  SquaredHinge,
  CategoricalHinge,
  CosineSimilarity,
  CategoricalFocalCrossentropy,
  CategoricalGeneralizedCrossEntropy,
  // The losses below couple rows (batch_losses.cpp): a value over several rows
  // (Dice, Tversky), over every pair of rows (Circle), over a sample's time steps (CTC).
  Dice,
  Tversky,
  Circle,
  CTC,
};
constexpr int kNumLossKinds = 22;

// Keras's `reduction` argument. "mean" is SumOverBatchSize; None and "none"
// are None, which only the functional form uses (training needs a scalar).
enum class Reduction { SumOverBatchSize, Sum, MeanWithSampleWeight, None };

// A loss and its Keras constructor arguments. A parameter the kind does not
// take keeps its default. Parameters are double, as Python gives them: Keras
// rounds expressions such as 1 - label_smoothing to float32 only after
// computing them, and the kernels do the same.
struct LossSpec {
  LossKind kind = LossKind::MeanSquaredError;
  float weight = 1.0f;  // compile's loss_weights entry for this output
  Reduction reduction = Reduction::SumOverBatchSize;
  bool from_logits = false;
  double label_smoothing = 0.0;                        // binary and categorical crossentropy, focal
  double delta = 1.0;                                  // huber
  std::optional<int64_t> ignore_class = std::nullopt;  // sparse categorical crossentropy
  bool apply_class_balancing = false;                  // binary focal crossentropy
  double alpha = 0.25;
  double gamma = 2.0;
  int axis = -1;  // the class/feature axis; the kernels compute over the last one
  double beta = 0.5;            // tversky (its alpha is `alpha`)
  double q = 0.5;               // categorical generalized cross entropy
  double margin = 0.4;          // circle (its gamma is `gamma`)
  bool remove_diagonal = true;  // circle
  // Dice and Tversky: how many consecutive rows make one value (0: the whole batch,
  // Keras's axis=None). CTC: the time steps of a sample (its rows).
  int64_t rows_per_value = 1;
  int64_t target_width = 0;  // CTC: the labels of a sample (Keras's max_length)

  // Every field equal: compile recompiles the engine only when a spec changes.
  bool operator==(const LossSpec& o) const;
  bool operator!=(const LossSpec& o) const { return !(*this == o); }
};

// Accepts Keras's function and class names and its aliases ("mse", "KLD", "bce", ...).
// Throws ValueError naming the choices.
LossKind loss_from_name(const std::string& name);
const char* loss_name(LossKind kind);  // the function's name: "mean_squared_error"
// True for the loss whose targets are class ids, one per sample, not rows like the output.
inline bool loss_takes_class_ids(LossKind kind) {
  return kind == LossKind::SparseCategoricalCrossentropy ||
         kind == LossKind::CategoricalGeneralizedCrossEntropy || kind == LossKind::Circle;
}
// True for the losses whose value for a row depends on other rows of the batch: a
// batch cannot be split into parts whose losses add up (data-parallel training).
bool loss_couples_rows(const LossSpec& spec);

// "sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none". Throws ValueError.
Reduction reduction_from_name(const std::string& name);
const char* reduction_name(Reduction reduction);

// Throws ValueError for parameters outside their domain: label_smoothing not in
// [0, 1], delta <= 0, gamma < 0, alpha not in [0, 1], q == 0, rows_per_value < 0,
// non-finite values.
void validate_loss(const LossSpec& spec);

// The (rows, cols) loss_forward_backward takes for whole arrays whose last axis is the
// class/feature axis (ember.losses' functions): y_pred (..., cols) with cols > 0, y_true
// as many values (one class id per row for the sparse loss), sample_weight (null: not
// given) one per row. Throws ValueError naming the mismatch.
std::pair<int64_t, int64_t> loss_rows_cols(const LossSpec& spec, const Shape& y_true,
                                           const Shape& y_pred, const Shape* sample_weight);

// Keras's backend epsilon.
constexpr float kEpsilon = 1e-7f;

// pred: (rows, cols). target: (rows, cols), or (rows) class ids for the sparse
// loss. sample_weight: (rows), or null for weights of 1.
// Returns the weighted per-sample losses reduced by spec.reduction, in double
// (Reduction::None: their sum). Entries whose label is spec.ignore_class count
// as Keras's mask does: no loss, no gradient, not in the divisor.
// dpred: (rows, cols) or null; receives grad_scale * d(returned value)/d(pred),
// every entry written. per_sample: (rows) or null; receives the unweighted
// per-sample losses (0 where ignored).
// Throws ValueError for a class id that is not an integer in [0, cols).
double loss_forward_backward(const LossSpec& spec, const float* pred, const float* target,
                             const float* sample_weight, int64_t rows, int64_t cols,
                             float grad_scale, float* dpred, float* per_sample = nullptr);

// The loss of kind with default parameters, reduced by "sum": the sum over rows
// of the per-sample loss, and grad_scale * d(per-sample loss)/d(pred).
double loss_forward_backward(LossKind kind, const float* pred, const float* target, int64_t rows,
                             int64_t cols, float grad_scale, float* dpred);

}  // namespace ember
