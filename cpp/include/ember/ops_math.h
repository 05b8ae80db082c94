// General math ops, what `ember.ops` records when a custom layer's call() runs
// on graph values: elementwise binary and unary arithmetic with broadcasting,
// reductions over row axes, gathers within a row (transpose, slicing, take,
// ...), and matrix products. Their gradients are jax's: ties of maximum/minimum
// and of reduce max/min split the gradient evenly, as jax's JVP rules do.
//
// Broadcasting is NumPy's, resolved here from the operands' shapes into strides
// (strided.h): an operand is read with a stride of 0 along the axes it is
// broadcast along. An operand is either a batched graph input (one row per
// sample) or an unbatched tensor held in a Variable - a trained weight, or a
// constant (a non-trainable Variable) - that every row reads (a stride of 0
// along the batch axis). All the arithmetic runs in the backend's elementwise
// engine (backend.h), which MergeOp shares.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/element/arith.h"
#include "ember/graph.h"
#include "ember/strided.h"

namespace ember {

BinaryKind binary_kind_from_name(const std::string& name);  // throws ValueError
UnaryKind unary_kind_from_name(const std::string& name);
ReduceKind reduce_kind_from_name(const std::string& name);
const char* binary_kind_name(BinaryKind kind);  // "add", ...

// One operand of a BinaryOp / MatMulOp: null = the op's next graph input.
using OperandVar = VariablePtr;

// out = a (op) b, NumPy-broadcast. A Variable operand's shape is right-aligned against the
// batched operand's full shape (batch axis first) and must not extend along the batch axis.
class BinaryOp final : public Op {
 public:
  BinaryOp(BinaryKind kind, OperandVar a, OperandVar b);
  OpKind kind() const override { return OpKind::Binary; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  struct Side {
    OperandVar var;            // null: batched graph input
    int input = -1;            // index among the op's inputs when batched
    int64_t batch_stride = 0;  // its row size when batched, 0 for a variable
    int dvar = -1;             // index into variables() when a variable
  };
  const float* data(const Side& s, const std::vector<const float*>& in) const;
  BinaryKind kind_;
  Side a_, b_;
  StridedLayout row_layout_;  // one row of the output, both operands' strides
};

// out = f(x) elementwise.
class UnaryOp final : public Op {
 public:
  explicit UnaryOp(UnaryKind kind) : kind_(kind) {}
  OpKind kind() const override { return OpKind::Unary; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  UnaryKind kind_;
  int64_t size_ = 0;
};

// Sum, mean, max or min over row axes (`axes`: indices into the row shape, the batch axis
// excluded); keepdims keeps them with length 1.
class ReduceOp final : public Op {
 public:
  ReduceOp(ReduceKind kind, std::vector<int> axes, bool keepdims)
      : kind_(kind), axes_(std::move(axes)), keepdims_(keepdims) {}
  OpKind kind() const override { return OpKind::Reduce; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  ReduceKind kind_;
  std::vector<int> axes_;
  bool keepdims_;
  StridedLayout row_layout_;  // x's row; stride[0]: y's, 0 on the reduced axes
  int64_t out_size_ = 0;
};

// out[j] = x[index[j]] within each row: transposes, slices, take...
class GatherOp final : public Op {
 public:
  GatherOp(Shape out_shape, std::vector<int64_t> index);
  OpKind kind() const override { return OpKind::Gather; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  Shape out_shape_;
  std::vector<int64_t> index_;
  int64_t in_size_ = 0;
};

// Matrix products, one GEMM (or one per row) through BLAS:
//  * x (rows, ..., k) @ W (k, n), W a Variable (weight or constant) -> (rows, ..., n);
//  * x (rows, m, k) @ y (rows, k, n), both batched -> (rows, m, n).
class MatMulOp final : public Op {
 public:
  explicit MatMulOp(OperandVar w) : w_(std::move(w)) {}
  OpKind kind() const override { return OpKind::MatMul; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  OperandVar w_;
  int64_t m_ = 0, k_ = 0, n_ = 0;  // per row: (m, k) @ (k, n)
};

}  // namespace ember
