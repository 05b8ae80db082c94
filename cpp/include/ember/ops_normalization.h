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
  std::string type() const override { return "BatchNormalization"; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr gamma_, beta_, moving_mean_, moving_variance_;
  int axis_;
  float momentum_, one_minus_momentum_, epsilon_;
  std::shared_ptr<const LayerTrainable> layer_trainable_;  // null: always trainable
  int64_t channels_ = 0, outer_ = 1, inner_ = 1;           // row = (outer, channels, inner)
  bool batch_statistics_ = false;                          // what the last forward pass used
  // Per channel, from the last forward pass: the statistics used, 1 / sqrt(var + eps), and
  // the folded scale (rstd * gamma) and shift (beta - mean * scale).
  std::vector<float> mean_, var_, rstd_, scale_, shift_;
  std::vector<float> sum_dy_, sum_dy_xhat_;
  std::vector<double> work_;  // (2, channels): the kernels' double accumulators
};

// y = (x - mean) / sqrt(var + epsilon) * gamma + beta, the statistics taken per sample over
// `axes` (of the full shape, sorted, none the batch axis); gamma and beta have the shape of
// those axes and may be null. rms_scaling: y = x / sqrt(var + epsilon) * gamma (Keras's
// deprecated variant; no beta).
class LayerNormalizationOp final : public Op {
 public:
  LayerNormalizationOp(VariablePtr gamma, VariablePtr beta, std::vector<int> axes, double epsilon,
                       bool rms_scaling);
  std::string type() const override { return "LayerNormalization"; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void reserve(int64_t max_rows) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr gamma_, beta_;
  std::vector<int> axes_;
  float epsilon_;
  bool rms_scaling_;
  std::vector<int64_t> group_offset_, norm_offset_;  // see kernels::GroupLayout
  int64_t row_size_ = 0;
  std::vector<float> mean_, rstd_;  // (rows, groups) of the last forward pass
};

// The Normalization preprocessing layer: y = (x - mean) / max(sqrt(variance), 1e-7), or with
// invert mean + x * max(sqrt(variance), 1e-7). mean and variance (non-trainable variables)
// have the shape of the kept axes `keep_axes` (of the full shape, sorted, none the batch axis)
// and broadcast over the others; they are read at every pass, so adapt() takes effect at once.
class NormalizationOp final : public Op {
 public:
  NormalizationOp(VariablePtr mean, VariablePtr variance, std::vector<int> keep_axes, bool invert);
  std::string type() const override { return "Normalization"; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override { return {mean_, variance_}; }
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr mean_, variance_;
  std::vector<int> keep_axes_;
  bool invert_;
  int64_t row_size_ = 0;
  std::vector<int64_t> index_;  // (row_size): row position -> statistics index
  std::vector<float> denom_;    // (statistics): max(sqrt(variance), 1e-7)
};

}  // namespace ember
