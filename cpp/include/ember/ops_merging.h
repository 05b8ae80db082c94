// Ops that merge several inputs into one: the element-wise merges (Add,
// Subtract, Multiply, Average, Maximum, Minimum) and Concatenate.
#pragma once
#include "ember/graph.h"

namespace ember {

enum class MergeKind { Add, Subtract, Multiply, Average, Maximum, Minimum };

// Element-wise merge of n >= 2 inputs of one row shape (Subtract: exactly 2).
// Folds left to right as Keras does (((x0 op x1) op x2) ...), so sums and
// products round alike; Maximum/Minimum split a tie's gradient in half at each
// pairwise step, as Keras's autodiff does.
class MergeOp final : public Op {
 public:
  explicit MergeOp(MergeKind kind) : kind_(kind) {}
  OpKind kind() const override { return OpKind::Merge; }
  std::string type() const override;  // "Add", "Maximum", ...
  Shape build(const std::vector<Shape>& inputs) override;
  // (2, inputs) floats: Maximum/Minimum's backward, one element's running extremes, then each
  // input's share of its gradient.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
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
  int axis_;
  int64_t outer_ = 1;                 // blocks per row: product of the axes before `axis`
  std::vector<int64_t> block_sizes_;  // per input: its axis length times the inner axes
  int64_t out_block_ = 0;             // sum of block_sizes_
};

}  // namespace ember
