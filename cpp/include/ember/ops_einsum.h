// EinsumDense's contraction: y = einsum(equation, x, kernel) (+ bias), mapped onto GEMMs.
//
// The equation is explicit ("abc,cde->abde": no ellipsis; the Python layer expands Keras's
// "..." into letters first). Its first input label is the batch axis, which must also be the
// output's first label and must not appear in the kernel. Every other label is one of:
//   M  in x and the output, not the kernel   (rows of the GEMM, with the batch)
//   K  in x and the kernel, not the output   (contracted)
//   N  in the kernel and the output, not x   (columns of the GEMM)
//   S  in all three                          (one GEMM per index: a per-position kernel)
// A label summed over without a partner (in x or the kernel only) is refused.
//
// Per step: x (rows, x row) is permuted to X' (rows, M, S, K), the kernel to W' (S, K, N)
// and the GEMM's result Y' (rows, M, S, N) to the output's order - each permutation only
// where the operand is not already in that order (for "ab,bc->ac", "abc,cd->abd",
// "abc,cde->abde", "abcd,cde->abe" none is), through the backend's strided copies; a
// kernel stored (N, K) with S empty ("abc,dc->abd", a tied embedding's logits) is read
// transposed by the GEMM instead. With S
// empty that is one GEMM; otherwise one per S index, over strided blocks (gemm_ld). The bias
// (a Variable shaped as Keras's EinsumDense makes it: right-aligned against the output row,
// 1 along axes it does not vary over) is added in place by the elementwise engine.
// The activation is a separate op after this one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/graph.h"
#include "ember/strided.h"

namespace ember {

class EinsumDenseOp final : public Op {
 public:
  // Throws ValueError for an equation that is malformed or has a label not in any class
  // above; shapes are checked in build().
  EinsumDenseOp(std::string equation, VariablePtr kernel, VariablePtr bias);
  OpKind kind() const override { return OpKind::EinsumDense; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  // Five buffers, each empty when its operand needs no permutation: X' (rows * x row),
  // W' (kernel size), Y' / dY' (rows * out row), dX' (rows * x row), dW' (kernel size).
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  // The GEMMs of one step: for each S index s, C_s (+)= op(A_s) op(B_s), blocks s apart.
  void contract(const Context& ctx, int64_t rows, const float* x, const float* w, float* y) const;

  std::string equation_;
  std::string x_labels_, w_labels_, out_labels_;  // x's and out's include the batch label
  VariablePtr kernel_, bias_;                     // bias may be null
  int64_t m_ = 1, s_ = 1, k_ = 1, n_ = 1;         // GEMM sizes per row (M, S, K, N products)
  int64_t x_size_ = 0, w_size_ = 0, out_size_ = 0;
  bool permute_x_ = false, permute_w_ = false, permute_out_ = false;
  bool w_transposed_ = false;  // S empty and the kernel stored (N, K): read transposed
  // Row layouts (the batch axis added per step): x -> X' (stride[0] x's, stride[1] X''s),
  // kernel -> W' (unbatched), Y' -> out, and the bias against out (stride[0] out's,
  // stride[1] the bias's).
  StridedLayout x_to_gemm_, w_to_gemm_, gemm_to_out_, bias_layout_;
};

}  // namespace ember
