// Activations applied element-wise (softmax: along the last axis) by the fused
// Dense pass and by the Activation op. Their gradients are computed from the
// activation's *output* y, which every op keeps for the backward pass.
#pragma once
#include <cstdint>
#include <string>

namespace ember {

enum class Activation { Linear, Relu, Sigmoid, Tanh, Softmax };

Activation activation_from_name(const std::string& name);  // throws ValueError
const char* activation_name(Activation act);

// y = act(x), x and y: (rows, cols); may alias.
void activation_forward(Activation act, const float* x, float* y, int64_t rows, int64_t cols);
// y = act(y + bias) in place over (rows, cols); bias: (cols) or nullptr. One pass
// over the output: this is the epilogue of the Dense GEMM.
void bias_activation_forward(Activation act, float* y, const float* bias, int64_t rows,
                             int64_t cols);
// dx = dy * act'(x) written from y = act(x); dx may alias dy. (rows, cols).
void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t rows,
                         int64_t cols);

}  // namespace ember
