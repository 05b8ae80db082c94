#include "ember/ops.h"

#include "ember/backend.h"
#include "ember/error.h"
#include "ember/kernels.h"

namespace ember {
namespace {

// Row-major strides of a row shape.
std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Offsets within a sample of every combination of the axes whose bit in `mask`
// equals `in_mask`, in row-major order.
std::vector<int64_t> axis_offsets(const Shape& s, uint32_t mask, bool in_mask) {
  const std::vector<int64_t> st = strides_of(s);
  std::vector<int64_t> offsets{0};
  for (size_t a = 0; a < s.size(); ++a) {
    if ((((mask >> a) & 1u) != 0) != in_mask) continue;
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(s[a]));
    for (int64_t o : offsets)
      for (int64_t i = 0; i < s[a]; ++i) next.push_back(o + i * st[a]);
    offsets = std::move(next);
  }
  return offsets;
}

// The row axes a softmax-like activation normalises over, as a bit mask.
uint32_t normalized_axes(const Activation& act, const Shape& s) {
  const std::string who = activation_name(act);
  const auto rank = static_cast<int64_t>(s.size());
  if (rank == 0)
    throw ValueError(who +
                     " needs an axis besides the batch axis to normalise over; the input "
                     "has shape " +
                     shape_to_string(s));
  if (rank > 32) throw ValueError(who + ": inputs of more than 32 axes are not supported");
  if (act.axes != 0) {
    if (rank < 32 && (act.axes >> rank) != 0)
      throw ValueError(who + ": axes beyond the input's " + std::to_string(rank) +
                       " row axes (input shape " + shape_to_string(s) + ")");
    return act.axes;
  }
  const int64_t axis = act.axis < 0 ? act.axis + rank : act.axis;
  if (axis < 0 || axis >= rank)
    throw ValueError(who + ": axis " + std::to_string(act.axis) +
                     " is out of range for an input of row shape " + shape_to_string(s) +
                     " (the batch axis excluded)");
  return 1u << axis;
}

}  // namespace

DenseOp::DenseOp(VariablePtr kernel, VariablePtr bias, Activation activation)
    : kernel_(std::move(kernel)),
      bias_(std::move(bias)),
      activation_(activation),
      keep_z_(activation_backward_needs_input(activation)) {
  if (!kernel_ || kernel_->value.shape().size() != 2)
    throw ValueError("Dense: kernel must be a 2-D variable (input_dim, units)");
  activation_.validate();
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
  if (activation_.is_normalization() && normalized_axes(activation_, out) != 1u << (out.size() - 1))
    throw ValueError(std::string("Dense applies ") + activation_name(activation_) +
                     " along its last axis only");
  return out;
}

std::vector<VariablePtr> DenseOp::variables() const {
  if (bias_) return {kernel_, bias_};
  return {kernel_};
}

std::vector<size_t> DenseOp::scratch_bytes(int64_t max_rows) const {
  if (activation_.is_linear()) return {};
  return {static_cast<size_t>(max_rows * positions_ * units_) * sizeof(float)};
}

void DenseOp::forward(const OpForward& f) {
  const int64_t m = f.rows * positions_;
  f.ctx->be().gemm(*f.ctx, false, false, m, units_, in_, 1.0f, f.in[0], kernel_->value.data(), 0.0f,
                   f.out);
  // z is kept on every forward, training or not: a backward may follow any of them.
  f.ctx->be().bias_activation_forward(*f.ctx, activation_, f.out,
                                      bias_ ? bias_->value.data() : nullptr,
                                      keep_z_ ? f.scratch_as<float>(0) : nullptr, m, units_);
}

void DenseOp::backward(const OpBackward& b) {
  const int64_t m = b.rows * positions_;
  const float* dz = b.dout;
  if (!activation_.is_linear()) {
    float* z_then_dz = b.scratch_as<float>(0);
    b.ctx->be().activation_backward(*b.ctx, activation_, keep_z_ ? z_then_dz : nullptr, b.out,
                                    b.dout, z_then_dz, m, units_);
    dz = z_then_dz;
  }
  if (b.dvar[0])
    b.ctx->be().gemm(*b.ctx, true, false, in_, units_, m, 1.0f, b.in[0], dz,
                     b.dvar_accumulate[0] ? 1.0f : 0.0f, b.dvar[0]);
  if (bias_ && b.dvar[1])
    b.ctx->be().column_sums(*b.ctx, dz, b.dvar[1], m, units_, b.dvar_accumulate[1]);
  if (b.din[0])
    b.ctx->be().gemm(*b.ctx, false, true, m, in_, units_, 1.0f, dz, kernel_->value.data(),
                     b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0]);
}

ActivationOp::ActivationOp(Activation activation) : activation_(activation) {
  activation_.validate();
}

Shape ActivationOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Activation takes exactly one input");
  const Shape& s = inputs[0];
  row_size_ = num_elements(s);
  last_dim_ = s.empty() ? 1 : s.back();
  positions_ = last_dim_ ? row_size_ / last_dim_ : 0;
  kept_.clear();
  reduced_.clear();
  if (activation_.is_normalization()) {
    const uint32_t mask = normalized_axes(activation_, s);
    if (mask != 1u << (s.size() - 1)) {  // the last axis alone runs on contiguous rows
      kept_ = axis_offsets(s, mask, false);
      reduced_ = axis_offsets(s, mask, true);
    }
  }
  return s;
}

std::vector<size_t> ActivationOp::scratch_bytes(int64_t max_rows) const {
  return {static_cast<size_t>(max_rows * row_size_) * sizeof(float)};
}

void ActivationOp::forward(const OpForward& f) {
  if (!reduced_.empty()) {
    f.ctx->be().softmax_forward_axes(*f.ctx, activation_.kind == ActivationKind::LogSoftmax,
                                     f.in[0], f.out, f.rows, row_size_, kept_.data(),
                                     reduced_.data(), static_cast<int64_t>(reduced_.size()));
    return;
  }
  f.ctx->be().activation_forward(*f.ctx, activation_, f.in[0], f.out, f.rows * positions_,
                                 last_dim_);
}

void ActivationOp::backward_into(const OpBackward& b, float* dx) const {
  if (!reduced_.empty()) {
    b.ctx->be().softmax_backward_axes(*b.ctx, activation_.kind == ActivationKind::LogSoftmax, b.out,
                                      b.dout, dx, b.rows, row_size_, kept_.data(), reduced_.data(),
                                      static_cast<int64_t>(reduced_.size()));
    return;
  }
  b.ctx->be().activation_backward(*b.ctx, activation_, b.in[0], b.out, b.dout, dx,
                                  b.rows * positions_, last_dim_);
}

void ActivationOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  if (!b.din_accumulate[0]) {
    backward_into(b, b.din[0]);
    return;
  }
  float* dx = b.scratch_as<float>(0);
  backward_into(b, dx);
  b.ctx->be().add_into(*b.ctx, dx, b.din[0], b.rows * row_size_, true);
}

PReLUOp::PReLUOp(VariablePtr alpha) : alpha_(std::move(alpha)) {
  if (!alpha_) throw ValueError("PReLU: alpha must be a variable");
}

Shape PReLUOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("PReLU takes exactly one input");
  const Shape& s = inputs[0];
  const Shape& a = alpha_->value.shape();
  bool fits = a.size() == s.size();
  for (size_t i = 0; fits && i < s.size(); ++i) fits = a[i] == s[i] || a[i] == 1;
  if (!fits)
    throw ValueError("alpha of shape " + shape_to_string(a) +
                     " does not fit an input of row shape " + shape_to_string(s) +
                     ": it needs the same axes, each of the input's size or 1 (shared)");
  // Walk the sample in row-major order, carrying a multi-index; alpha's index
  // ignores the shared (size 1) axes.
  const std::vector<int64_t> alpha_strides = strides_of(a);
  alpha_index_.assign(static_cast<size_t>(num_elements(s)), 0);
  std::vector<int64_t> idx(s.size(), 0);
  for (int64_t& out : alpha_index_) {
    int64_t k = 0;
    for (size_t i = 0; i < s.size(); ++i) k += (a[i] == 1 ? 0 : idx[i]) * alpha_strides[i];
    out = k;
    for (size_t i = s.size(); i-- > 0;) {
      if (++idx[i] < s[i]) break;
      idx[i] = 0;
    }
  }
  return s;
}

void PReLUOp::forward(const OpForward& f) {
  f.ctx->be().prelu_forward(*f.ctx, f.in[0], alpha_->value.data(), alpha_index_.data(), f.out,
                            f.rows, static_cast<int64_t>(alpha_index_.size()));
}

void PReLUOp::backward(const OpBackward& b) {
  b.ctx->be().prelu_backward(*b.ctx, b.in[0], alpha_->value.data(), alpha_index_.data(), b.dout,
                             b.din[0], b.din_accumulate[0] != 0, b.dvar[0],
                             b.dvar_accumulate[0] != 0, b.rows,
                             static_cast<int64_t>(alpha_index_.size()), alpha_->value.size());
}

}  // namespace ember
