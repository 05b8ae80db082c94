// Regularization ops: Dropout and GaussianNoise (active only in training) and
// ActivityRegularization (adds a penalty on its input to the loss). Their math
// is in layer_kernels.h.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/graph.h"
#include "ember/layer_kernels.h"

namespace ember {

// Training: y = x / (1 - rate) where a Bernoulli(1 - rate) mask is 1, else 0 (rate 1: all
// zero); inference: y = x. noise_shape (empty: the input's shape) is the mask's full shape,
// batch axis first: -1 takes the input's size, 1 shares the mask along that axis. The mask is
// drawn from `seed` and a counter the op advances, so a seed gives the same masks every run.
class DropoutOp final : public Op {
 public:
  DropoutOp(double rate, std::vector<int64_t> noise_shape, uint64_t seed);
  OpKind kind() const override { return OpKind::Dropout; }
  Shape build(const std::vector<Shape>& inputs) override;
  // The training pass's mask (mask_size(rows) bytes), for the backward.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  int64_t mask_size(int64_t rows) const;

  float rate_, keep_prob_;
  std::vector<int64_t> noise_shape_;
  uint64_t key_, counter_ = 0;
  int64_t row_size_ = 0;
  std::vector<int64_t> index_;  // (row_size) row position -> mask position; empty: the same
  kernels::MaskLayout layout_;
};

// Training: y = x + N(0, stddev^2) noise drawn from `seed` and a counter; inference: y = x.
// The noise is additive, so the gradient is the identity and nothing is kept for backward.
class GaussianNoiseOp final : public Op {
 public:
  GaussianNoiseOp(double stddev, uint64_t seed);
  OpKind kind() const override { return OpKind::GaussianNoise; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  float stddev_;
  uint64_t key_, counter_ = 0;
  int64_t row_size_ = 0;
};

// y = x, adding (l1 sum|x| + l2 sum x^2) / rows to the loss (OpForward::extra_loss): Keras's
// activity regularization, divided by the batch size. Backward: dx = dy + d penalty / dx.
class ActivityRegularizationOp final : public Op {
 public:
  ActivityRegularizationOp(double l1, double l2);
  OpKind kind() const override { return OpKind::ActivityRegularization; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  float l1_, l2_;
  int64_t row_size_ = 0;
};

}  // namespace ember
