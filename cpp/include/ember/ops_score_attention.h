// The ops Keras's Attention and AdditiveAttention layers are built from (the layers compose
// them with the elementwise, reduction and dropout ops): a per-sample batched matrix product
// and the masked softmax of attention scores.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/graph.h"

namespace ember {

// out (..., m, n) = a (..., m, k) @ b (..., k, n), or @ b (..., n, k)^T with trans_b: one
// strided-batched GEMM over every sample and every index of the leading axes (which both
// operands share; none is broadcast). Attention's scores are q @ k^T, its output
// weights @ v.
class BatchMatMulOp final : public Op {
 public:
  explicit BatchMatMulOp(bool trans_b) : trans_b_(trans_b) {}
  OpKind kind() const override { return OpKind::BatchMatMul; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  bool trans_b_;
  int64_t groups_ = 1;  // matrices per row: the product of the leading axes
  int64_t m_ = 0, k_ = 0, n_ = 0;
};

// Keras's Attention._apply_scores before the dropout: weights = softmax(scores) along the
// last axis, where masked scores first become scores - 1e9 (Keras's float32 padding value,
// subtracted, not a -inf: a fully masked line then stays finite and gets the softmax of its
// shifted scores, as in Keras). scores (..., Tq, Tv); a score is masked where the optional
// second input, the value mask (..., Tv) (1 keep, 0 masked: broadcast over Tq), is 0, or,
// with causal, where its key index exceeds its query index. The gradient is the softmax's:
// the shift is a constant. The mask gets none.
class MaskedSoftmaxOp final : public Op {
 public:
  explicit MaskedSoftmaxOp(bool causal) : causal_(causal) {}
  OpKind kind() const override { return OpKind::MaskedSoftmax; }
  Shape build(const std::vector<Shape>& inputs) override;
  // (rows * row size) floats: the input gradient before it is added into one another op
  // also writes.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  bool causal_;
  bool has_mask_ = false;
  int64_t groups_ = 1, tq_ = 0, tv_ = 0;  // per row: groups_ (Tq, Tv) score matrices
};

}  // namespace ember
