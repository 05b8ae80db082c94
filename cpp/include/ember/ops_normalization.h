// Normalization ops: BatchNormalization, LayerNormalization and the
// Normalization preprocessing layer. Their math is in layer_kernels.h.
#pragma once
#include <vector>

#include "ember/graph.h"

namespace ember {

// A layer's `trainable` flag, shared by the Python layer and every op it emitted, so that
// freezing a built model's layer reaches its ops.
struct LayerTrainable {
  bool value = true;
};

// y = gamma * (x - mean) / sqrt(var + epsilon) + beta per channel, the channel axis being
// `axis` of the full shape (batch axis 0, negative counts from the end, never the batch axis).
// Training (and the layer trainable): mean and var are the batch's biased moments, and
// moving_mean / moving_variance become moving * momentum + batch * (1 - momentum).
// Inference, or a frozen layer (layer_trainable false): the moving statistics are used and
// left alone, as in Keras 3. gamma / beta may be null (scale / center False); the moving statistics
// are non-trainable variables of shape (channels,).
class BatchNormalizationOp final : public Op {
 public:
  BatchNormalizationOp(VariablePtr gamma, VariablePtr beta, VariablePtr moving_mean,
                       VariablePtr moving_variance, int axis, double momentum, double epsilon,
                       std::shared_ptr<const LayerTrainable> layer_trainable);
  OpKind kind() const override { return OpKind::BatchNormalization; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  // Per channel, from the forward pass: the statistics used (mean, var), 1 / sqrt(var + eps),
  // the folded scale (rstd * gamma) and shift (beta - mean * scale); the backward's sums of
  // dy and dy * xhat, side by side (2, channels) so that data-parallel training sums them
  // across ranks in one call; and (2, channels) doubles, the kernels' accumulators.
  enum Scratch : size_t { kMean, kVar, kRstd, kScale, kShift, kSumDy, kWork };
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  // Whether a pass normalizes with the batch's own statistics (training a trainable layer).
  bool batch_statistics(bool training, int64_t m) const;

  VariablePtr gamma_, beta_, moving_mean_, moving_variance_;
  int axis_;
  float momentum_, one_minus_momentum_, epsilon_;
  std::shared_ptr<const LayerTrainable> layer_trainable_;  // null: always trainable
  int64_t channels_ = 0, outer_ = 1, inner_ = 1;           // row = (outer, channels, inner)
};

// y = (x - mean) / sqrt(var + epsilon) * gamma + beta, the statistics taken per sample over
// `axes` (of the full shape, sorted, none the batch axis); gamma and beta have the shape of
// those axes and may be null. rms_scaling: y = x / sqrt(var + epsilon) * gamma (Keras's
// deprecated variant; no beta).
class LayerNormalizationOp final : public Op {
 public:
  LayerNormalizationOp(VariablePtr gamma, VariablePtr beta, std::vector<int> axes, double epsilon,
                       bool rms_scaling);
  OpKind kind() const override { return OpKind::LayerNormalization; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  // mean and rstd (rows, groups) of the forward pass, for the backward.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr gamma_, beta_;
  std::vector<int> axes_;
  float epsilon_;
  bool rms_scaling_;
  std::vector<int64_t> group_offset_, norm_offset_;  // see kernels::GroupLayout
  int64_t row_size_ = 0;
};

// The Normalization preprocessing layer: y = (x - mean) / max(sqrt(variance), 1e-7), or with
// invert mean + x * max(sqrt(variance), 1e-7). mean and variance (non-trainable variables)
// have the shape of the kept axes `keep_axes` (of the full shape, sorted, none the batch axis)
// and broadcast over the others; they are read at every pass, so adapt() takes effect at once.
class NormalizationOp final : public Op {
 public:
  NormalizationOp(VariablePtr mean, VariablePtr variance, std::vector<int> keep_axes, bool invert);
  OpKind kind() const override { return OpKind::Normalization; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override { return {mean_, variance_}; }
  // (statistics) floats: max(sqrt(variance), 1e-7), from the variance at each pass.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr mean_, variance_;
  std::vector<int> keep_axes_;
  bool invert_;
  int64_t row_size_ = 0;
  std::vector<int64_t> index_;  // (row_size): row position -> statistics index
  int64_t statistics_ = 0;      // values of mean and variance
};

}  // namespace ember
