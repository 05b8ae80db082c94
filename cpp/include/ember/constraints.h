// Weight constraints (kernel_constraint, bias_constraint, ...): Keras's MaxNorm,
// MinMaxNorm, NonNeg and UnitNorm. Keras's optimizer assigns `constraint(variable)`
// to each constrained variable after the step's update; the Model does the same in
// the engine, right after the optimizer updates the variable, so training stays one
// call per batch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember {

// The norms are taken over the variable viewed as (outer, mid, inner): mid is the
// product of the constrained axes (which must be contiguous), so each of the
// outer * inner groups of mid values gets its own norm. Keras's default axis=0 of a
// Dense kernel (in, out) is outer = 1, mid = in, inner = out: one norm per unit.
struct WeightConstraint {
  enum class Kind { kNone, kMaxNorm, kMinMaxNorm, kNonNeg, kUnitNorm };
  Kind kind = Kind::kNone;
  double min_value = 0.0, max_value = 0.0, rate = 1.0;
  int64_t outer = 1, mid = 1, inner = 1;

  // A constraint over `axes` (each in [0, shape.size()), contiguous once sorted; empty:
  // every axis, as Keras's axis=None) of a variable of `shape`. ValueError names the
  // variable and the problem.
  static WeightConstraint make(Kind kind, double min_value, double max_value, double rate,
                               std::vector<int64_t> axes, const std::vector<int64_t>& shape,
                               const std::string& variable_name);
};

namespace kernels {
// w(outer, mid, inner) = constraint(w), in place, with Keras's float32 arithmetic:
// norm = sqrt(sum over mid of w^2) (summed in double), MaxNorm scales by
// clip(norm, 0, max) / (1e-7 + norm), MinMaxNorm by (rate * clip(norm, min, max) +
// (1 - rate) * norm) / (1e-7 + norm), UnitNorm by 1 / (1e-7 + norm); NonNeg is max(w, 0).
void apply_weight_constraint(float* w, const WeightConstraint& c);
}  // namespace kernels

}  // namespace ember
