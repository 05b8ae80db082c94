// SpectralNormalization's scale, as Keras 3 computes it on the jax backend: in a training
// step the wrapped layer runs with kernel / sigma, sigma = v W u^T from `power_iterations`
// rounds of power iteration on W (the kernel as (rows, last axis)) from the stored vector_u,
// u and v then held constant (stop_gradient) - so the gradient also flows through sigma into
// W - and vector_u keeps the new u; the stored kernel itself is never rescaled (jax's
// trainer drops a trainable variable's assignment inside call()), and inference uses it as
// it is. A kernel of zeros is left alone (sigma 1), as Keras's `cond` does.
#pragma once
#include <cstdint>
#include <vector>

#include "ember/graph.h"

namespace ember {

// out (rows, 1, ..., 1: the input's rank) = 1 / sigma in training, 1 otherwise; the wrapped op's
// pre-activation is multiplied by it. The input only gives the batch its rows (it gets no
// gradient). The kernel's gradient gains -(sum over rows of dout) / sigma^2 * v^T u.
class SpectralNormScaleOp final : public Op {
 public:
  SpectralNormScaleOp(VariablePtr kernel, VariablePtr vector_u, int power_iterations);
  OpKind kind() const override { return OpKind::SpectralNormScale; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override { return {kernel_, vector_u_}; }
  // One buffer: v (m), u (n), v W (n), then sigma, a flag (kernel of zeros) and a sum.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr kernel_, vector_u_;
  int power_iterations_;
  int64_t m_ = 0, n_ = 0;  // the kernel as (m, n)
  int64_t in_size_ = 0;
};

}  // namespace ember
