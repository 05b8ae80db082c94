#include "ember/losses.h"

#include <cmath>
#include <iterator>

#include "ember/error.h"

namespace ember {
namespace {

struct NamedLoss {
  const char* name;
  LossKind kind;
};

// The function name of each kind comes first, in LossKind's order; then the
// class names and the aliases of Keras's ALL_OBJECTS_DICT.
constexpr NamedLoss kLossNames[] = {
    {"mean_squared_error", LossKind::MeanSquaredError},
    {"mean_absolute_error", LossKind::MeanAbsoluteError},
    {"mean_absolute_percentage_error", LossKind::MeanAbsolutePercentageError},
    {"mean_squared_logarithmic_error", LossKind::MeanSquaredLogarithmicError},
    {"huber", LossKind::Huber},
    {"log_cosh", LossKind::LogCosh},
    {"binary_crossentropy", LossKind::BinaryCrossentropy},
    {"binary_focal_crossentropy", LossKind::BinaryFocalCrossentropy},
    {"categorical_crossentropy", LossKind::CategoricalCrossentropy},
    {"sparse_categorical_crossentropy", LossKind::SparseCategoricalCrossentropy},
    {"kl_divergence", LossKind::KLDivergence},
    {"poisson", LossKind::Poisson},
    {"hinge", LossKind::Hinge},
    {"squared_hinge", LossKind::SquaredHinge},
    {"categorical_hinge", LossKind::CategoricalHinge},
    {"cosine_similarity", LossKind::CosineSimilarity},
    {"categorical_focal_crossentropy", LossKind::CategoricalFocalCrossentropy},
    {"categorical_generalized_cross_entropy", LossKind::CategoricalGeneralizedCrossEntropy},
    {"dice", LossKind::Dice},
    {"tversky", LossKind::Tversky},
    {"circle", LossKind::Circle},
    {"ctc", LossKind::CTC},
    {"MeanSquaredError", LossKind::MeanSquaredError},
    {"MeanAbsoluteError", LossKind::MeanAbsoluteError},
    {"MeanAbsolutePercentageError", LossKind::MeanAbsolutePercentageError},
    {"MeanSquaredLogarithmicError", LossKind::MeanSquaredLogarithmicError},
    {"Huber", LossKind::Huber},
    {"LogCosh", LossKind::LogCosh},
    {"BinaryCrossentropy", LossKind::BinaryCrossentropy},
    {"BinaryFocalCrossentropy", LossKind::BinaryFocalCrossentropy},
    {"CategoricalCrossentropy", LossKind::CategoricalCrossentropy},
    {"SparseCategoricalCrossentropy", LossKind::SparseCategoricalCrossentropy},
    {"KLDivergence", LossKind::KLDivergence},
    {"Poisson", LossKind::Poisson},
    {"Hinge", LossKind::Hinge},
    {"SquaredHinge", LossKind::SquaredHinge},
    {"CategoricalHinge", LossKind::CategoricalHinge},
    {"CosineSimilarity", LossKind::CosineSimilarity},
    {"CategoricalFocalCrossentropy", LossKind::CategoricalFocalCrossentropy},
    {"CategoricalGeneralizedCrossEntropy", LossKind::CategoricalGeneralizedCrossEntropy},
    {"Dice", LossKind::Dice},
    {"Tversky", LossKind::Tversky},
    {"Circle", LossKind::Circle},
    {"CTC", LossKind::CTC},
    {"mse", LossKind::MeanSquaredError},
    {"MSE", LossKind::MeanSquaredError},
    {"mae", LossKind::MeanAbsoluteError},
    {"MAE", LossKind::MeanAbsoluteError},
    {"mape", LossKind::MeanAbsolutePercentageError},
    {"MAPE", LossKind::MeanAbsolutePercentageError},
    {"msle", LossKind::MeanSquaredLogarithmicError},
    {"MSLE", LossKind::MeanSquaredLogarithmicError},
    {"kld", LossKind::KLDivergence},
    {"KLD", LossKind::KLDivergence},
    {"bce", LossKind::BinaryCrossentropy},
    {"BCE", LossKind::BinaryCrossentropy},
};
static_assert(std::size(kLossNames) == 2 * kNumLossKinds + 12,
              "every LossKind needs its function name, its class name and Keras's aliases");

constexpr const char* kReductionNames[] = {"sum_over_batch_size", "sum", "mean_with_sample_weight",
                                           "none"};

void check_in(double value, double lo, double hi, const char* what) {
  if (!(value >= lo && value <= hi))
    throw ValueError(std::string("Invalid value for argument `") + what +
                     "`: expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], received: " + std::to_string(value));
}

}  // namespace

LossKind loss_from_name(const std::string& name) {
  for (const NamedLoss& n : kLossNames)
    if (name == n.name) return n.kind;
  std::string known;
  for (int k = 0; k < kNumLossKinds; ++k) known += std::string(k ? ", " : "") + kLossNames[k].name;
  throw ValueError("Unknown loss: '" + name + "'. Expected one of: " + known +
                   " (or a class name, or mse, mae, mape, msle, kld, bce).");
}

const char* loss_name(LossKind kind) { return kLossNames[static_cast<int>(kind)].name; }

Reduction reduction_from_name(const std::string& name) {
  if (name == "mean") return Reduction::SumOverBatchSize;
  for (int r = 0; r < static_cast<int>(std::size(kReductionNames)); ++r)
    if (name == kReductionNames[r]) return static_cast<Reduction>(r);
  throw ValueError("Invalid value for argument `reduction`: '" + name +
                   "'. Expected one of: sum_over_batch_size, mean, sum, mean_with_sample_weight, "
                   "none (or None).");
}

const char* reduction_name(Reduction reduction) {
  return kReductionNames[static_cast<int>(reduction)];
}

bool LossSpec::operator==(const LossSpec& o) const {
  return kind == o.kind && weight == o.weight && reduction == o.reduction &&
         from_logits == o.from_logits && label_smoothing == o.label_smoothing && delta == o.delta &&
         ignore_class == o.ignore_class && apply_class_balancing == o.apply_class_balancing &&
         alpha == o.alpha && gamma == o.gamma && axis == o.axis && beta == o.beta && q == o.q &&
         margin == o.margin && remove_diagonal == o.remove_diagonal &&
         rows_per_value == o.rows_per_value && target_width == o.target_width;
}

bool loss_couples_rows(const LossSpec& spec) {
  return spec.kind == LossKind::Circle ||
         ((spec.kind == LossKind::Dice || spec.kind == LossKind::Tversky) &&
          spec.rows_per_value != 1);
}

std::pair<int64_t, int64_t> loss_rows_cols(const LossSpec& spec, const Shape& y_true,
                                           const Shape& y_pred, const Shape* sample_weight) {
  const std::string what = loss_name(spec.kind);
  if (y_pred.empty() || y_pred.back() == 0)
    throw ValueError(what + ": y_pred needs a non-empty last axis, got shape " +
                     shape_to_string(y_pred));
  const int64_t cols = y_pred.back();
  const int64_t rows = num_elements(y_pred) / cols;
  if (spec.kind == LossKind::CTC) {
    if (y_pred.size() != 3 || y_true.size() != 2 || y_true[0] != y_pred[0])
      throw ValueError("ctc: expected y_true of shape (batch_size, max_length) and y_pred of "
                       "shape (batch_size, max_length, num_classes), got " +
                       shape_to_string(y_true) + " and " + shape_to_string(y_pred));
    if (sample_weight && num_elements(*sample_weight) != y_pred[0])
      throw ValueError("ctc: sample_weight has " + std::to_string(num_elements(*sample_weight)) +
                       " values, expected one per sample (" + std::to_string(y_pred[0]) + ")");
    return {rows, cols};
  }
  const int64_t need = loss_takes_class_ids(spec.kind) ? rows : num_elements(y_pred);
  if (num_elements(y_true) != need)
    throw ValueError(what + ": y_true has " + std::to_string(num_elements(y_true)) +
                     " values, expected " + std::to_string(need) + " for y_pred of shape " +
                     shape_to_string(y_pred));
  if (sample_weight && num_elements(*sample_weight) != rows)
    throw ValueError(what + ": sample_weight has " + std::to_string(num_elements(*sample_weight)) +
                     " values, expected one per sample (" + std::to_string(rows) + ")");
  return {rows, cols};
}

void validate_loss(const LossSpec& spec) {
  const int kind = static_cast<int>(spec.kind);
  if (kind < 0 || kind >= kNumLossKinds)
    throw ValueError("invalid loss kind " + std::to_string(kind));
  check_in(spec.label_smoothing, 0.0, 1.0, "label_smoothing");
  // Tversky's alpha weighs false positives: any number; focal losses' is a share.
  if (spec.kind != LossKind::Tversky) check_in(spec.alpha, 0.0, 1.0, "alpha");
  if (!(spec.delta > 0.0 && std::isfinite(spec.delta)))
    throw ValueError(
        "Invalid value for argument `delta`: the Huber loss needs a positive, finite "
        "delta, received: " +
        std::to_string(spec.delta));
  if (!(spec.gamma >= 0.0 && std::isfinite(spec.gamma)))
    throw ValueError(
        "Invalid value for argument `gamma`: the focusing parameter must be a "
        "non-negative, finite number, received: " +
        std::to_string(spec.gamma));
  check_in(spec.beta, -1e30, 1e30, "beta");
  check_in(spec.margin, -1e30, 1e30, "margin");
  if (!(spec.q != 0.0 && std::isfinite(spec.q)))
    throw ValueError("Invalid value for argument `q`: expected a non-zero, finite number, "
                     "received: " + std::to_string(spec.q));
  if (spec.rows_per_value < 0 || spec.target_width < 0)
    throw ValueError("rows_per_value and target_width must not be negative");
  if (spec.kind == LossKind::Circle && !(spec.gamma > 0.0 && std::isfinite(spec.gamma)))
    throw ValueError("Invalid value for argument `gamma`: Circle's scale must be a positive, "
                     "finite number, received: " + std::to_string(spec.gamma));
  if (!std::isfinite(spec.weight))
    throw ValueError("loss weight must be finite, received: " + std::to_string(spec.weight));
}

}  // namespace ember
