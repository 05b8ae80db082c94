// Pooling and shape ops of convolutional networks: max / average pooling windows, zero
// padding and cropping, and upsampling (nearest or bilinear).
//
// Pooling and upsampling act on the last `k` spatial axes of a row (k = 1 or 2) with the
// channel axis after them (channels_last) or before them (channels_first). Axes in front of
// those are more samples: a (T, H, W, C) row is T images (what TimeDistributed needs). Global
// pooling is a Reduce op (ops_math.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/graph.h"
#include "ember/pooling_layout.h"
#include "ember/strided.h"

namespace ember {

// The images a spatial op sees in a row: how many, and the (H, W, C) pooling_layout.h takes.
struct ImageView {
  int64_t images = 1, h = 1, w = 1, channels = 1;
};

// Max or average pooling with Keras's pool_size, strides and padding ("valid" or "same": XLA's
// SAME, the extra pixel after). Throws ValueError for a row of too low a rank or a window
// larger than the input under valid padding.
class PoolOp final : public Op {
 public:
  PoolOp(bool max, std::vector<int64_t> pool_size, std::vector<int64_t> strides, bool same_padding,
         bool channels_first);
  OpKind kind() const override { return OpKind::Pooling; }
  std::string type() const override { return max_ ? "MaxPooling" : "AveragePooling"; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;

 private:
  // Max pooling whose windows tile the image and hold at most 256 elements: the forward keeps
  // each output's choice (a byte) in scratch for the backward.
  bool keeps_where() const;
  bool max_;
  std::vector<int64_t> pool_, strides_;
  bool same_, channels_first_;
  ImageView view_;
  kernels::PoolLayout layout_;
};

// Zero padding and cropping of a row: row axis d grows by before[d] + after[d] (a negative
// amount crops that many). ValueError when an axis would be left with nothing.
class PadOp final : public Op {
 public:
  PadOp(std::vector<int64_t> before, std::vector<int64_t> after);
  OpKind kind() const override { return OpKind::Padding; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  std::vector<int64_t> before_, after_;
  int64_t in_size_ = 0, out_size_ = 0;
  int64_t in_offset_ = 0, out_offset_ = 0;  // where the kept block starts in each row
  bool pads_ = false, crops_ = false;
  StridedLayout in_to_out_;  // over the kept block: stride[0] the input's, stride[1] the output's
};

// Upsampling by integer factors along the spatial axes: nearest (each pixel repeated, as
// Keras's UpSampling layers) or bilinear (jax.image.resize's "bilinear": half-pixel centres,
// taps clipped at the border and their weights renormalised).
class UpSamplingOp final : public Op {
 public:
  UpSamplingOp(std::vector<int64_t> size, bool bilinear, bool channels_first);
  OpKind kind() const override { return OpKind::UpSampling; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  std::vector<int64_t> size_;
  bool bilinear_, channels_first_;
  ImageView view_;
  std::vector<int64_t> h_index_, w_index_;
  std::vector<float> h_weight_, w_weight_;
  kernels::ResizeLayout layout_;
};

}  // namespace ember
