#include "ember/ops_regularization.h"

#include <algorithm>
#include <cmath>

#include "ember/backend.h"
#include "ember/error.h"
#include "ember/kernels.h"
#include "ember/reducer.h"

namespace ember {
namespace {

Shape single_input(const std::vector<Shape>& inputs, const char* op) {
  if (inputs.size() != 1) throw ValueError(std::string(op) + " takes exactly one input");
  return inputs[0];
}

std::string full_shape(const std::vector<int64_t>& dims, bool batch_none) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += (batch_none && i == 0) || dims[i] < 0 ? "None" : std::to_string(dims[i]);
  }
  return s + ")";
}

}  // namespace

// ---- Dropout --------------------------------------------------------------------------------

DropoutOp::DropoutOp(double rate, std::vector<int64_t> noise_shape, uint64_t seed)
    : rate_(static_cast<float>(rate)),
      keep_prob_(static_cast<float>(1.0 - rate)),
      noise_shape_(std::move(noise_shape)),
      key_(seed) {
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(
        "Invalid value received for argument `rate`. Expected a float value "
        "between 0 and 1. Received: rate=" +
        std::to_string(rate));
}

Shape DropoutOp::build(const std::vector<Shape>& inputs) {
  const Shape row = single_input(inputs, "Dropout");
  row_size_ = num_elements(row);
  index_.clear();
  layout_ = kernels::MaskLayout{};
  if (noise_shape_.empty()) return row;
  std::vector<int64_t> input_dims{-1};
  input_dims.insert(input_dims.end(), row.begin(), row.end());
  if (noise_shape_.size() != input_dims.size())
    throw ValueError("noise_shape " + full_shape(noise_shape_, false) +
                     " must have the rank of the input shape " + full_shape(input_dims, true));
  // Row axes the mask spans (others are broadcast), and the mask row's strides over them.
  Shape noise_row_shape;
  for (size_t i = 1; i < noise_shape_.size(); ++i) {
    const int64_t n = noise_shape_[i], d = row[i - 1];
    if (n != -1 && n != 1 && n != d)
      throw ValueError("noise_shape " + full_shape(noise_shape_, false) +
                       " does not broadcast to the input shape " + full_shape(input_dims, true));
    noise_row_shape.push_back(n == -1 ? d : n);
  }
  const int64_t noise_row = num_elements(noise_row_shape);
  std::vector<int64_t> stride(row.size(), 1), noise_stride(row.size(), 1);
  for (size_t i = row.size(); i-- > 1;) {
    stride[i - 1] = stride[i] * row[i];
    noise_stride[i - 1] = noise_stride[i] * noise_row_shape[i];
  }
  index_.assign(static_cast<size_t>(row_size_), 0);
  for (int64_t p = 0; p < row_size_; ++p) {
    int64_t k = 0;
    for (size_t a = 0; a < row.size(); ++a)
      if (noise_row_shape[a] != 1) k += (p / stride[a]) % row[a] * noise_stride[a];
    index_[static_cast<size_t>(p)] = k;
  }
  layout_ = kernels::MaskLayout{index_.data(), noise_row, noise_shape_[0] == 1};
  return row;
}

int64_t DropoutOp::mask_size(int64_t rows) const {
  if (!layout_.index) return rows * row_size_;
  return layout_.shared_across_rows ? layout_.noise_row : rows * layout_.noise_row;
}

std::vector<size_t> DropoutOp::scratch_bytes(int64_t max_rows) const {
  return {static_cast<size_t>(mask_size(max_rows))};
}

void DropoutOp::forward(const OpForward& f) {
  const int64_t n = f.rows * row_size_;
  if (!f.training || rate_ <= 0.0f) {
    f.ctx->be().add_into(*f.ctx, f.in[0], f.out, n, false);
    return;
  }
  if (keep_prob_ <= 0.0f) {  // rate 1: Keras returns zeros
    f.ctx->be().fill(*f.ctx, f.out, n, 0.0f);
    return;
  }
  const int64_t count = mask_size(f.rows);
  auto* mask = f.scratch_as<uint8_t>(0);
  f.ctx->be().bernoulli_mask(*f.ctx, key_for_rank(key_, f.ctx->reducer), counter_, count,
                             keep_prob_, mask);
  counter_ += static_cast<uint64_t>(count);
  f.ctx->be().dropout_forward(*f.ctx, f.in[0], mask, layout_, f.rows, row_size_, keep_prob_, f.out);
}

void DropoutOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  const int64_t n = b.rows * row_size_;
  if (!b.training || rate_ <= 0.0f) {
    b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], n, b.din_accumulate[0]);
  } else if (keep_prob_ <= 0.0f) {
    if (!b.din_accumulate[0]) b.ctx->be().fill(*b.ctx, b.din[0], n, 0.0f);
  } else {
    b.ctx->be().dropout_backward(*b.ctx, b.dout, b.scratch_as<uint8_t>(0), layout_, b.rows,
                                 row_size_, keep_prob_, b.din[0], b.din_accumulate[0]);
  }
}

// ---- GaussianNoise --------------------------------------------------------------------------

GaussianNoiseOp::GaussianNoiseOp(double stddev, uint64_t seed)
    : stddev_(static_cast<float>(stddev)), key_(seed) {
  if (!(stddev >= 0.0))
    throw ValueError("GaussianNoise: stddev must be non-negative, got " + std::to_string(stddev));
}

Shape GaussianNoiseOp::build(const std::vector<Shape>& inputs) {
  const Shape row = single_input(inputs, "GaussianNoise");
  row_size_ = num_elements(row);
  return row;
}

void GaussianNoiseOp::forward(const OpForward& f) {
  const int64_t n = f.rows * row_size_;
  if (!f.training || stddev_ == 0.0f) {
    f.ctx->be().add_into(*f.ctx, f.in[0], f.out, n, false);
    return;
  }
  f.ctx->be().add_gaussian_noise(*f.ctx, f.in[0], key_for_rank(key_, f.ctx->reducer), counter_, n,
                                 stddev_, f.out);
  counter_ += static_cast<uint64_t>(n);
}

void GaussianNoiseOp::backward(const OpBackward& b) {
  if (b.din[0])
    b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], b.rows * row_size_, b.din_accumulate[0]);
}

// ---- ActivityRegularization -----------------------------------------------------------------

ActivityRegularizationOp::ActivityRegularizationOp(double l1, double l2)
    : l1_(static_cast<float>(l1)), l2_(static_cast<float>(l2)) {
  if (!(l1 >= 0.0) || !(l2 >= 0.0))
    throw ValueError("ActivityRegularization: l1 and l2 must be non-negative, got l1=" +
                     std::to_string(l1) + ", l2=" + std::to_string(l2));
}

Shape ActivityRegularizationOp::build(const std::vector<Shape>& inputs) {
  const Shape row = single_input(inputs, "ActivityRegularization");
  row_size_ = num_elements(row);
  return row;
}

void ActivityRegularizationOp::forward(const OpForward& f) {
  const int64_t n = f.rows * row_size_;
  f.ctx->be().add_into(*f.ctx, f.in[0], f.out, n, false);
  // Over the global batch's rows: a data-parallel rank adds its shard's part of the mean.
  if (f.rows > 0)
    *f.extra_loss +=
        f.ctx->be().penalty(*f.ctx, f.out, n, l1_, l2_) / static_cast<double>(f.global_rows);
}

void ActivityRegularizationOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  const int64_t n = b.rows * row_size_;
  b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], n, b.din_accumulate[0]);
  // Keras divides the penalty by the batch size; jax's gradient carries 1 / rows into both
  // coefficients (the global batch's rows when data-parallel).
  if (b.rows == 0) return;
  const float inv_rows = 1.0f / static_cast<float>(b.global_rows);
  b.ctx->be().add_penalty_gradient(*b.ctx, b.out, n, inv_rows * l1_, inv_rows * l2_, b.din[0]);
}

}  // namespace ember
