// General math ops, what `ember.ops` records when a custom layer's call() runs
// on graph values: elementwise binary and unary arithmetic with broadcasting,
// reductions over row axes, gathers within a row (transpose, slicing,
// expand_dims, ...), and matrix products. Their gradients are jax's: ties of
// maximum/minimum and of reduce max/min split the gradient evenly, as jax's
// JVP rules do.
//
// Broadcasting is resolved by the caller (ember.ops, with NumPy's rules) into
// index maps: for each element of the output row, the element of each
// operand's row that it reads. An operand is either a batched graph input (one
// row per sample) or an unbatched tensor held in a Variable - a trained weight,
// or a constant (a non-trainable Variable) - that every row reads.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/graph.h"

namespace ember {

enum class BinaryKind { Add, Subtract, Multiply, Divide, Maximum, Minimum, Power };
enum class UnaryKind { Negative, Abs, Square, Sqrt, Exp, Log, Reciprocal, Sign };
enum class ReduceKind { Sum, Mean, Max, Min };

BinaryKind binary_kind_from_name(const std::string& name);  // throws ValueError
UnaryKind unary_kind_from_name(const std::string& name);
ReduceKind reduce_kind_from_name(const std::string& name);

// One operand of a BinaryOp / MatMulOp: null = the op's next graph input.
using OperandVar = VariablePtr;

// out[j] = f(a[a_index[j]], b[b_index[j]]) for each row; out row shape given.
class BinaryOp final : public Op {
 public:
  BinaryOp(BinaryKind kind, OperandVar a, OperandVar b, Shape out_shape,
           std::vector<int64_t> a_index, std::vector<int64_t> b_index);
  OpKind kind() const override { return OpKind::Binary; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  struct Side {
    OperandVar var;              // null: batched graph input
    int input = -1;              // index among the op's inputs when batched
    int64_t size = 0;            // elements of its row (or of the variable)
    std::vector<int64_t> index;  // per output element
    int dvar = -1;               // index into variables() when a variable
  };
  // The operand's row `row` (a variable: the same data for every row).
  const float* base(const Side& s, const std::vector<const float*>& in, int64_t row) const;
  BinaryKind kind_;
  Side a_, b_;
  Shape out_shape_;
  int64_t out_size_ = 0;
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

// out[out_index[j]] (+)= x[j] over each row (sum, mean, max or min of the input
// elements mapped to each output element).
class ReduceOp final : public Op {
 public:
  ReduceOp(ReduceKind kind, Shape out_shape, std::vector<int64_t> out_index);
  OpKind kind() const override { return OpKind::Reduce; }
  Shape build(const std::vector<Shape>& inputs) override;
  // (rows, out_size) doubles: per row, the sums, or the tie counts in backward.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  ReduceKind kind_;
  Shape out_shape_;
  std::vector<int64_t> out_index_;
  std::vector<float> counts_;  // inputs per output element
  int64_t in_size_ = 0, out_size_ = 0;
};

// out[j] = x[index[j]] within each row: transposes, slices, expand_dims, tiles...
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
