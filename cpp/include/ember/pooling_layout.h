// The shapes the pooling and upsampling kernels work on (backend.h's pool_* and resize_*).
//
// Both kernels see a batch of `images`, each (in_h, in_w, channels) row-major, channels last.
// The ops map every layout onto this one: a 1-D input is an image of height 1; channels-first
// data (C, H, W) is C images of one channel each; leading axes of a row are more images.
#pragma once
#include <cstdint>

namespace ember::kernels {

// Max or average pooling windows. Output pixel (oh, ow) pools the input pixels
// (oh * stride_h - pad_top + i, ow * stride_w - pad_left + j) for i < pool_h, j < pool_w that
// lie inside the image (XLA's SAME padding adds nothing to a window: max ignores it, and the
// average divides by the count of real pixels, as Keras on jax does).
struct PoolLayout {
  int64_t in_h = 1, in_w = 1, channels = 1;
  int64_t out_h = 1, out_w = 1;
  int64_t pool_h = 1, pool_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  bool max = true;  // false: average

  int64_t in_size() const { return in_h * in_w * channels; }
  int64_t out_size() const { return out_h * out_w * channels; }
};

// Separable interpolation: output pixel (oh, ow) is the sum over a, b < taps of
// h_weight[oh * taps + a] * w_weight[ow * taps + b] * x(h_index[oh * taps + a],
// w_index[ow * taps + b]). Nearest neighbour is one tap of weight 1, (bi)linear two.
// The four arrays live in host memory owned by the op.
struct ResizeLayout {
  int64_t in_h = 1, in_w = 1, channels = 1;
  int64_t out_h = 1, out_w = 1;
  int64_t taps = 1;
  const int64_t* h_index = nullptr;  // (out_h * taps)
  const float* h_weight = nullptr;   // (out_h * taps)
  const int64_t* w_index = nullptr;  // (out_w * taps)
  const float* w_weight = nullptr;   // (out_w * taps)

  int64_t in_size() const { return in_h * in_w * channels; }
  int64_t out_size() const { return out_h * out_w * channels; }
};

}  // namespace ember::kernels
