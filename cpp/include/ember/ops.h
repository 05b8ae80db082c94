// The ops layers are built from. Each has its math in a CPU kernel; the op
// wires kernels to the graph's buffers.
#pragma once
#include <memory>
#include <vector>

#include "ember/activations.h"
#include "ember/graph.h"

namespace ember {

// y = act(x @ kernel + bias) on the last axis. x: (rows, ..., in), kernel: (in, units),
// bias: (units). Forward is one GEMM and one fused bias+activation pass over y;
// backward: dz = dy * act'(z), dkernel = x^T dz, dbias = sum(dz), dx = dz kernel^T.
// Softmax-like activations normalise the last axis only.
class DenseOp final : public Op {
 public:
  DenseOp(VariablePtr kernel, VariablePtr bias, Activation activation);
  OpKind kind() const override { return OpKind::Dense; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  // (rows * positions, units) floats unless linear: when keep_z_, forward stores z there and
  // backward overwrites it, element by element, with dz = dy * act'(z); otherwise only dz.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr kernel_, bias_;  // bias may be null
  Activation activation_;
  bool keep_z_ = false;  // the activation's gradient needs z = x @ kernel + bias, not just y
  int64_t in_ = 0, units_ = 0;
  int64_t positions_ = 1;  // GEMM rows per sample: product of the axes between batch and last
};

// y = act(x), any row shape. Softmax-like activations normalise along their
// axis (or axes) of the row shape; everything else is element-wise.
class ActivationOp final : public Op {
 public:
  explicit ActivationOp(Activation activation);
  OpKind kind() const override { return OpKind::Activation; }
  Shape build(const std::vector<Shape>& inputs) override;
  // (rows, row_size) floats: the input gradient before it is added into one another op also
  // writes.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  void backward_into(const OpBackward& b, float* dx) const;

  Activation activation_;
  int64_t last_dim_ = 1, positions_ = 1;
  // Softmax over axes other than the last alone: the offsets within a sample of
  // each group's first value (kept_) and of a group's values from there (reduced_).
  std::vector<int64_t> kept_, reduced_;
  int64_t row_size_ = 0;
};

// Keras's PReLU: y = x where x > 0, alpha * x elsewhere, alpha learned. alpha's
// shape is the input row shape with 1 on shared axes; it broadcasts over them
// and over the batch. dalpha sums dy * min(x, 0) over both.
class PReLUOp final : public Op {
 public:
  explicit PReLUOp(VariablePtr alpha);
  OpKind kind() const override { return OpKind::PReLU; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override { return {alpha_}; }
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr alpha_;
  std::vector<int64_t> alpha_index_;  // per value of a sample: its alpha's index
};

}  // namespace ember
