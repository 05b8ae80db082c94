// The ops layers are built from. Each has its math in a CPU kernel; the op
// wires kernels to the graph's buffers.
#pragma once
#include <memory>

#include "ember/activations.h"
#include "ember/graph.h"

namespace ember {

// y = act(x @ kernel + bias) on the last axis. x: (rows, ..., in), kernel: (in, units),
// bias: (units). Forward is one GEMM and one fused bias+activation pass over y;
// backward: dz = dy * act'(y), dkernel = x^T dz, dbias = sum(dz), dx = dz kernel^T.
class DenseOp final : public Op {
 public:
  DenseOp(VariablePtr kernel, VariablePtr bias, Activation activation);
  std::string type() const override { return "Dense"; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void reserve(int64_t max_rows) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr kernel_, bias_;  // bias may be null
  Activation activation_;
  int64_t in_ = 0, units_ = 0;
  int64_t positions_ = 1;  // GEMM rows per sample: product of the axes between batch and last
  Tensor dz_;              // scratch for dy * act'(y) when the activation is not linear
};

// y = act(x), any row shape (softmax along the last axis).
class ActivationOp final : public Op {
 public:
  explicit ActivationOp(Activation activation) : activation_(activation) {}
  std::string type() const override { return "Activation"; }
  Shape build(const std::vector<Shape>& inputs) override;
  void reserve(int64_t max_rows) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  Activation activation_;
  int64_t last_dim_ = 1, positions_ = 1;
  Tensor scratch_;  // for accumulating into an input gradient another op also writes
};

}  // namespace ember
