// Losses with their gradients, reduced as Keras's "sum_over_batch_size": the
// per-sample loss is averaged over the last axis (crossentropies sum over it),
// then averaged over the batch. Probabilities are normalised and clipped to
// [1e-7, 1 - 1e-7] exactly as Keras does, so gradients match its autodiff.
#pragma once
#include <cstdint>
#include <string>

namespace ember {

enum class LossKind {
  MeanSquaredError,
  MeanAbsoluteError,
  BinaryCrossentropy,
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,
};

// Accepts Keras's names and aliases ("mse", "mean_squared_error", ...). Throws ValueError.
LossKind loss_from_name(const std::string& name);
const char* loss_name(LossKind kind);

// Keras's backend epsilon.
constexpr float kEpsilon = 1e-7f;

// pred: (rows, cols). target: (rows, cols), or (rows) class indices for the sparse loss.
// Returns the sum over rows of the per-sample loss (in double). When dpred is not null it
// receives grad_scale * d(per-sample loss)/d(pred): pass grad_scale = weight / batch_rows.
// Throws ValueError for a class index outside [0, cols).
double loss_forward_backward(LossKind kind, const float* pred, const float* target, int64_t rows,
                             int64_t cols, float grad_scale, float* dpred);

}  // namespace ember
