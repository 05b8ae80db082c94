// Weight constraints on the CPU: each group of `mid` values (one norm) at a time.
// The formulas follow keras/src/constraints/constraints.py in float32, the norm's
// sum of squares accumulated in double.
#include <algorithm>
#include <cmath>

#include "cpu/parallel.h"
#include "ember/constraints.h"

namespace ember::kernels {
namespace {

constexpr float kEpsilon = 1e-7f;  // keras.backend.epsilon()

// The factor a group of values with this norm is scaled by.
float norm_scale(const WeightConstraint& c, float norm) {
  switch (c.kind) {
    case WeightConstraint::Kind::kMaxNorm:
      return std::clamp(norm, 0.0f, static_cast<float>(c.max_value)) / (kEpsilon + norm);
    case WeightConstraint::Kind::kMinMaxNorm: {
      const float clipped =
          std::clamp(norm, static_cast<float>(c.min_value), static_cast<float>(c.max_value));
      const float desired =
          static_cast<float>(c.rate) * clipped + static_cast<float>(1.0 - c.rate) * norm;
      return desired / (kEpsilon + norm);
    }
    case WeightConstraint::Kind::kUnitNorm:
      return 1.0f / (kEpsilon + norm);
    default:
      return 1.0f;
  }
}

}  // namespace

void apply_weight_constraint(float* w, const WeightConstraint& c) {
  const int64_t n = c.outer * c.mid * c.inner;
  if (c.kind == WeightConstraint::Kind::kNone) return;
  if (c.kind == WeightConstraint::Kind::kNonNeg) {
    for (int64_t i = 0; i < n; ++i) w[i] = std::max(w[i], 0.0f);
    return;
  }
  cpu::parallel_for(c.outer * c.inner, n, [&](int64_t group) {
    float* base = w + (group / c.inner) * c.mid * c.inner + group % c.inner;
    double sum = 0.0;
    for (int64_t m = 0; m < c.mid; ++m) {
      const double v = base[m * c.inner];
      sum += v * v;
    }
    const float scale = norm_scale(c, static_cast<float>(std::sqrt(sum)));
    for (int64_t m = 0; m < c.mid; ++m) base[m * c.inner] *= scale;
  });
}

}  // namespace ember::kernels
