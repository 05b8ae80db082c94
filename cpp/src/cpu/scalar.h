// Scalar functions the CPU kernels share, written as Keras's jax backend computes them.
#pragma once
#include <cmath>

namespace ember::cpu {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace ember::cpu
