#include "ember/ops.h"

#include "ember/error.h"
#include "ember/kernels.h"

namespace ember {

DenseOp::DenseOp(VariablePtr kernel, VariablePtr bias, Activation activation)
    : kernel_(std::move(kernel)), bias_(std::move(bias)), activation_(activation) {
  if (!kernel_ || kernel_->value.shape().size() != 2)
    throw ValueError("Dense: kernel must be a 2-D variable (input_dim, units)");
  in_ = kernel_->value.shape()[0];
  units_ = kernel_->value.shape()[1];
  if (bias_ && bias_->value.shape() != Shape{units_})
    throw ValueError("Dense: bias shape " + shape_to_string(bias_->value.shape()) +
                     " does not match units " + std::to_string(units_));
}

Shape DenseOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Dense takes exactly one input");
  const Shape& s = inputs[0];
  if (s.empty() || s.back() != in_)
    throw ValueError("expected an input whose last dimension is " + std::to_string(in_) +
                     " (kernel shape " + shape_to_string(kernel_->value.shape()) +
                     "), got input shape " + shape_to_string(s));
  positions_ = num_elements(s) / in_;
  Shape out = s;
  out.back() = units_;
  return out;
}

std::vector<VariablePtr> DenseOp::variables() const {
  if (bias_) return {kernel_, bias_};
  return {kernel_};
}

void DenseOp::reserve(int64_t max_rows) {
  if (activation_ != Activation::Linear) dz_ = Tensor(Shape{max_rows * positions_, units_});
}

void DenseOp::forward(const OpForward& f) {
  const int64_t m = f.rows * positions_;
  kernels::gemm(false, false, m, units_, in_, 1.0f, f.in[0], kernel_->value.data(), 0.0f, f.out);
  bias_activation_forward(activation_, f.out, bias_ ? bias_->value.data() : nullptr, m, units_);
}

void DenseOp::backward(const OpBackward& b) {
  const int64_t m = b.rows * positions_;
  const float* dz = b.dout;
  if (activation_ != Activation::Linear) {
    activation_backward(activation_, b.out, b.dout, dz_.data(), m, units_);
    dz = dz_.data();
  }
  if (b.dvar[0])
    kernels::gemm(true, false, in_, units_, m, 1.0f, b.in[0], dz,
                  b.dvar_accumulate[0] ? 1.0f : 0.0f, b.dvar[0]);
  if (bias_ && b.dvar[1]) kernels::column_sums(dz, b.dvar[1], m, units_, b.dvar_accumulate[1]);
  if (b.din[0])
    kernels::gemm(false, true, m, in_, units_, 1.0f, dz, kernel_->value.data(),
                  b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0]);
}

Shape ActivationOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Activation takes exactly one input");
  const Shape& s = inputs[0];
  last_dim_ = s.empty() ? 1 : s.back();
  positions_ = last_dim_ ? num_elements(s) / last_dim_ : 0;
  return s;
}

void ActivationOp::reserve(int64_t max_rows) {
  scratch_ = Tensor(Shape{max_rows * positions_, last_dim_});
}

void ActivationOp::forward(const OpForward& f) {
  activation_forward(activation_, f.in[0], f.out, f.rows * positions_, last_dim_);
}

void ActivationOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  const int64_t rows = b.rows * positions_;
  if (!b.din_accumulate[0]) {
    activation_backward(activation_, b.out, b.dout, b.din[0], rows, last_dim_);
    return;
  }
  activation_backward(activation_, b.out, b.dout, scratch_.data(), rows, last_dim_);
  kernels::add_into(scratch_.data(), b.din[0], rows * last_dim_, true);
}

}  // namespace ember
