// exp, sigmoid and tanh of float32 written branch-free, so that a loop over an array of them
// vectorizes (libm's expf and tanhf are calls the compiler cannot vectorize). The recurrent gate
// passes (cpu/recurrent_kernels.cpp) evaluate three sigmoids and two tanh per LSTM unit and
// timestep: with libm that was about half of an LSTM's training time at keras.io's IMDB shapes.
//
// exp is Cephes's expf: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact),
// a degree-6 polynomial for e^r, and 2^n built in the exponent bits; relative error ~1e-7
// (1-2 ulp), as XLA's exp, which Keras's jax backend runs, also approximates. Inputs are clamped
// to [-87.3, 88], so results stay finite and normal (exp(-100) gives 1.2e-38, not 0).
// tanh(x) = 1 - 2 / (e^{2x} + 1): its absolute error is ~1e-7; near 0 that is a larger relative
// error than libm's, which the gradients (read off y as 1 - y^2) do not notice.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ember/element/hd.h"

namespace ember::element {

EMBER_HD float vector_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

EMBER_HD float vector_sigmoid(float x) { return 1.0f / (1.0f + vector_exp(-x)); }

EMBER_HD float vector_tanh(float x) { return 1.0f - 2.0f / (vector_exp(2.0f * x) + 1.0f); }

}  // namespace ember::element
