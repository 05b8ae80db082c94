// Ops that merge several inputs into one: the element-wise merges (Add,
// Subtract, Multiply, Average, Maximum, Minimum) and Concatenate.
#pragma once
#include "ember/element/arith.h"
#include "ember/graph.h"
#include "ember/strided.h"

namespace ember {

enum class MergeKind { Add, Subtract, Multiply, Average, Maximum, Minimum };

// Element-wise merge of n >= 2 inputs of one row shape (Subtract: exactly 2): a fold of the
// elementwise engine's binary kernels (the ones BinaryOp runs), left to right as Keras folds
// (((x0 op x1) op x2) ...), so sums and products round alike; Average is the sum times 1/n.
// Backward walks the fold back as jax's autodiff does: Maximum/Minimum give a tie half to
// each side at each pairwise step; Multiply's gradients are the products along the fold.
class MergeOp final : public Op {
 public:
  explicit MergeOp(MergeKind kind) : kind_(kind) {}
  OpKind kind() const override { return OpKind::Merge; }
  std::string type() const override;  // "Add", "Maximum", ...
  Shape build(const std::vector<Shape>& inputs) override;
  // Three buffers: Average's 1/n (one float); the fold's intermediate results (inputs - 2
  // values, kept for the backward of the kinds whose gradients read them); two values for
  // the gradient flowing back along the fold (more than two inputs, or Average).
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  BinaryKind step() const;        // the binary kind of each fold step
  bool keeps_values() const;      // whether backward reads the fold's intermediate results
  MergeKind kind_;
  int64_t row_size_ = 0, inputs_ = 0;
};

// Concatenates along `axis` of the full shape (batch axis 0; negative counts from
// the end). Inputs agree on every other axis. Row-major: each row is `outer`
// blocks, and block k of the output is input 0's block k, then input 1's, ...
class ConcatenateOp final : public Op {
 public:
  explicit ConcatenateOp(int axis) : axis_(axis) {}
  OpKind kind() const override { return OpKind::Concatenate; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  // Input j's (rows * outer, block j) values go to columns [offset j, + block j) of the
  // output as (rows * outer, out_block): strided copies.
  StridedLayout input_layout(int64_t rows, size_t j) const;
  int axis_;
  int64_t outer_ = 1;                 // blocks per row: product of the axes before `axis`
  std::vector<int64_t> block_sizes_;  // per input: its axis length times the inner axes
  std::vector<int64_t> offsets_;      // per input: where its block starts in the output's
  int64_t out_block_ = 0;             // sum of block_sizes_
};

}  // namespace ember
