#include "ember/losses.h"

#include "ember/error.h"

namespace ember {

LossKind loss_from_name(const std::string& name) {
  if (name == "mean_squared_error" || name == "mse" || name == "MeanSquaredError")
    return LossKind::MeanSquaredError;
  if (name == "mean_absolute_error" || name == "mae" || name == "MeanAbsoluteError")
    return LossKind::MeanAbsoluteError;
  if (name == "binary_crossentropy" || name == "BinaryCrossentropy")
    return LossKind::BinaryCrossentropy;
  if (name == "categorical_crossentropy" || name == "CategoricalCrossentropy")
    return LossKind::CategoricalCrossentropy;
  if (name == "sparse_categorical_crossentropy" || name == "SparseCategoricalCrossentropy")
    return LossKind::SparseCategoricalCrossentropy;
  throw ValueError("Unknown loss: '" + name +
                   "'. Expected one of: mean_squared_error (mse), mean_absolute_error (mae), "
                   "binary_crossentropy, categorical_crossentropy, "
                   "sparse_categorical_crossentropy.");
}

const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::MeanSquaredError: return "mean_squared_error";
    case LossKind::MeanAbsoluteError: return "mean_absolute_error";
    case LossKind::BinaryCrossentropy: return "binary_crossentropy";
    case LossKind::CategoricalCrossentropy: return "categorical_crossentropy";
    case LossKind::SparseCategoricalCrossentropy: return "sparse_categorical_crossentropy";
  }
  return "?";
}

}  // namespace ember
