#include "ember/ops_normalization.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ember/backend.h"
#include "ember/error.h"
#include "ember/layer_kernels.h"
#include "ember/reducer.h"

namespace ember {
namespace {

// `axis` of the full shape (batch axis 0; negative counts from the end) as an index into the
// row shape. The batch axis cannot be normalized over per sample.
int row_axis(int axis, const Shape& row, const char* what) {
  const int rank = static_cast<int>(row.size()) + 1;
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw ValueError(std::string(what) + " " + std::to_string(axis) +
                     " is out of bounds for input shape " + batched_shape_to_string(row) +
                     " of rank " + std::to_string(rank));
  }
  if (a == 0)
    throw ValueError(std::string(what) + " " + std::to_string(axis) +
                     " is the batch axis, which cannot be normalized over here");
  return a - 1;
}

// Sorted, distinct row axes for `axes` of the full shape.
std::vector<int> row_axes(const std::vector<int>& axes, const Shape& row, const char* what) {
  std::vector<int> out;
  for (int a : axes) out.push_back(row_axis(a, row, what));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw ValueError(std::string(what) + " lists an axis twice");
  return out;
}

// Offsets within a row of every index over `axes` (row axes, sorted), in row-major order of
// those axes: the other axes held at 0.
std::vector<int64_t> offsets_over(const Shape& row, const std::vector<int>& axes) {
  std::vector<int64_t> stride(row.size(), 1);
  for (size_t i = row.size(); i-- > 1;) stride[i - 1] = stride[i] * row[i];
  std::vector<int64_t> out{0};
  for (int a : axes) {
    std::vector<int64_t> next;
    next.reserve(out.size() * static_cast<size_t>(row[static_cast<size_t>(a)]));
    for (int64_t base : out)
      for (int64_t i = 0; i < row[static_cast<size_t>(a)]; ++i)
        next.push_back(base + i * stride[static_cast<size_t>(a)]);
    out = std::move(next);
  }
  return out;
}

Shape dims_of(const Shape& row, const std::vector<int>& axes) {
  Shape s;
  for (int a : axes) s.push_back(row[static_cast<size_t>(a)]);
  return s;
}

void check_variable(const VariablePtr& v, const Shape& shape, const char* what) {
  if (v && v->value.shape() != shape)
    throw ValueError(std::string(what) + " has shape " + shape_to_string(v->value.shape()) +
                     ", expected " + shape_to_string(shape) + " for this input");
}

}  // namespace

// ---- BatchNormalization -------------------------------------------------------------------

BatchNormalizationOp::BatchNormalizationOp(VariablePtr gamma, VariablePtr beta,
                                           VariablePtr moving_mean, VariablePtr moving_variance,
                                           int axis, double momentum, double epsilon,
                                           std::shared_ptr<const LayerTrainable> layer_trainable)
    : gamma_(std::move(gamma)),
      beta_(std::move(beta)),
      moving_mean_(std::move(moving_mean)),
      moving_variance_(std::move(moving_variance)),
      axis_(axis),
      // Keras multiplies float32 tensors by the Python floats momentum and 1 - momentum.
      momentum_(static_cast<float>(momentum)),
      one_minus_momentum_(static_cast<float>(1.0 - momentum)),
      epsilon_(static_cast<float>(epsilon)),
      layer_trainable_(std::move(layer_trainable)) {
  if (!moving_mean_ || !moving_variance_)
    throw ValueError("BatchNormalization: moving_mean and moving_variance are required");
}

Shape BatchNormalizationOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("BatchNormalization takes exactly one input");
  const Shape& row = inputs[0];
  const int a = row_axis(axis_, row, "axis");
  channels_ = row[static_cast<size_t>(a)];
  outer_ = inner_ = 1;
  for (int i = 0; i < a; ++i) outer_ *= row[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(a) + 1; i < row.size(); ++i) inner_ *= row[i];
  const Shape stats{channels_};
  check_variable(gamma_, stats, "gamma");
  check_variable(beta_, stats, "beta");
  check_variable(moving_mean_, stats, "moving_mean");
  check_variable(moving_variance_, stats, "moving_variance");
  return row;
}

std::vector<size_t> BatchNormalizationOp::scratch_bytes(int64_t /*max_rows*/) const {
  const auto c = static_cast<size_t>(channels_);
  std::vector<size_t> bytes(kWork, c * sizeof(float));
  bytes[kSumDy] = 2 * c * sizeof(float);
  bytes.push_back(2 * c * sizeof(double));
  return bytes;
}

bool BatchNormalizationOp::batch_statistics(bool training, int64_t m) const {
  return training && (!layer_trainable_ || layer_trainable_->value) && m * inner_ > 0;
}

std::vector<VariablePtr> BatchNormalizationOp::variables() const {
  std::vector<VariablePtr> v;
  if (gamma_) v.push_back(gamma_);
  if (beta_) v.push_back(beta_);
  v.push_back(moving_mean_);
  v.push_back(moving_variance_);
  return v;
}

// With data parallelism (a reducer in the context) the statistics are the global batch's
// (f.global_rows rows, of which f.rows are this rank's): every rank computes the same ones
// and updates the moving statistics alike - even a rank whose shard is empty.
void BatchNormalizationOp::forward(const OpForward& f) {
  const int64_t m = f.rows * outer_;
  float *mean = f.scratch_as<float>(kMean), *var = f.scratch_as<float>(kVar);
  float *scale = f.scratch_as<float>(kScale), *shift = f.scratch_as<float>(kShift);
  float* mm = moving_mean_->value.data();
  float* mv = moving_variance_->value.data();
  Backend& be = f.ctx->be();
  if (batch_statistics(f.training, f.global_rows * outer_)) {
    be.channel_moments(*f.ctx, f.in[0], m, channels_, inner_, f.global_rows * outer_ * inner_, mean,
                       var, f.scratch_as<double>(kWork));
    be.batch_norm_update_moving(*f.ctx, mean, var, mm, mv, channels_, momentum_,
                                one_minus_momentum_);
  } else {
    be.copy(*f.ctx, mean, mm, static_cast<size_t>(channels_) * sizeof(float));
    be.copy(*f.ctx, var, mv, static_cast<size_t>(channels_) * sizeof(float));
  }
  be.batch_norm_scale_shift(*f.ctx, mean, var, gamma_ ? gamma_->value.data() : nullptr,
                            beta_ ? beta_->value.data() : nullptr, epsilon_, channels_,
                            f.scratch_as<float>(kRstd), scale, shift);
  be.channel_affine(*f.ctx, f.in[0], scale, shift, f.out, m, channels_, inner_, false);
}

void BatchNormalizationOp::backward(const OpBackward& b) {
  const int64_t m = b.rows * outer_;
  Backend& be = b.ctx->be();
  size_t k = 0;
  float* dgamma = gamma_ ? b.dvar[k] : nullptr;
  const bool dgamma_acc = gamma_ && b.dvar_accumulate[k];
  k += gamma_ ? 1 : 0;
  float* dbeta = beta_ ? b.dvar[k] : nullptr;
  const bool dbeta_acc = beta_ && b.dvar_accumulate[k];
  k += beta_ ? 1 : 0;
  // The moving statistics get no gradient; should one be marked trainable it reads zero.
  for (size_t i = k; i < b.dvar.size(); ++i)
    if (b.dvar[i] && !b.dvar_accumulate[i]) be.fill(*b.ctx, b.dvar[i], channels_, 0.0f);

  const bool batch_stats = batch_statistics(b.training, b.global_rows * outer_);
  const float *mean = b.scratch_as<float>(kMean), *rstd = b.scratch_as<float>(kRstd);
  float* sum_dy = b.scratch_as<float>(kSumDy);
  float* sum_dy_xhat = sum_dy + channels_;
  if (dgamma || dbeta || (b.din[0] && batch_stats))
    be.channel_grad_sums(*b.ctx, b.dout, b.in[0], mean, rstd, m, channels_, inner_, sum_dy,
                         sum_dy_xhat, b.scratch_as<double>(kWork));
  if (dgamma) be.add_into(*b.ctx, sum_dy_xhat, dgamma, channels_, dgamma_acc);
  if (dbeta) be.add_into(*b.ctx, sum_dy, dbeta, channels_, dbeta_acc);
  if (!b.din[0]) return;
  // Data parallel: gamma's and beta's gradients above are this rank's part (the step sums
  // them with the others); the input gradient needs the global batch's sums.
  if (batch_stats && b.ctx->reducer) b.ctx->reducer->allreduce_sum(sum_dy, 2 * channels_);
  if (batch_stats)
    be.batch_norm_input_grad(*b.ctx, b.dout, b.in[0], mean, rstd,
                             gamma_ ? gamma_->value.data() : nullptr, sum_dy, sum_dy_xhat, m,
                             channels_, inner_, b.global_rows * outer_ * inner_, b.din[0],
                             b.din_accumulate[0]);
  else  // fixed statistics: y is affine in x
    be.channel_affine(*b.ctx, b.dout, b.scratch_as<float>(kScale), nullptr, b.din[0], m, channels_,
                      inner_, b.din_accumulate[0]);
}

// ---- LayerNormalization -------------------------------------------------------------------

LayerNormalizationOp::LayerNormalizationOp(VariablePtr gamma, VariablePtr beta,
                                           std::vector<int> axes, double epsilon, bool rms_scaling)
    : gamma_(std::move(gamma)),
      beta_(std::move(beta)),
      axes_(std::move(axes)),
      epsilon_(static_cast<float>(epsilon)),
      rms_scaling_(rms_scaling) {
  if (axes_.empty()) throw ValueError("LayerNormalization: axis must name at least one axis");
  if (rms_scaling_ && beta_)
    throw ValueError("LayerNormalization: rms_scaling has no beta (center is ignored)");
}

Shape LayerNormalizationOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("LayerNormalization takes exactly one input");
  const Shape& row = inputs[0];
  const std::vector<int> norm = row_axes(axes_, row, "axis");
  std::vector<int> kept;
  for (int a = 0; a < static_cast<int>(row.size()); ++a)
    if (!std::binary_search(norm.begin(), norm.end(), a)) kept.push_back(a);
  const Shape param = dims_of(row, norm);
  check_variable(gamma_, param, "gamma");
  check_variable(beta_, param, "beta");
  norm_offset_ = offsets_over(row, norm);
  group_offset_ = offsets_over(row, kept);
  row_size_ = num_elements(row);
  return row;
}

std::vector<VariablePtr> LayerNormalizationOp::variables() const {
  std::vector<VariablePtr> v;
  if (gamma_) v.push_back(gamma_);
  if (beta_) v.push_back(beta_);
  return v;
}

std::vector<size_t> LayerNormalizationOp::scratch_bytes(int64_t max_rows) const {
  const size_t bytes = static_cast<size_t>(max_rows) * group_offset_.size() * sizeof(float);
  return {bytes, bytes};
}

void LayerNormalizationOp::forward(const OpForward& f) {
  const kernels::GroupLayout layout{row_size_, static_cast<int64_t>(group_offset_.size()),
                                    static_cast<int64_t>(norm_offset_.size()), group_offset_.data(),
                                    norm_offset_.data()};
  f.ctx->be().layer_norm_forward(*f.ctx, layout, f.rows, f.in[0],
                                 gamma_ ? gamma_->value.data() : nullptr,
                                 beta_ ? beta_->value.data() : nullptr, epsilon_, rms_scaling_,
                                 f.out, f.scratch_as<float>(0), f.scratch_as<float>(1));
}

void LayerNormalizationOp::backward(const OpBackward& b) {
  const kernels::GroupLayout layout{row_size_, static_cast<int64_t>(group_offset_.size()),
                                    static_cast<int64_t>(norm_offset_.size()), group_offset_.data(),
                                    norm_offset_.data()};
  size_t k = 0;
  float* dgamma = gamma_ ? b.dvar[k] : nullptr;
  const bool dgamma_acc = gamma_ && b.dvar_accumulate[k];
  k += gamma_ ? 1 : 0;
  float* dbeta = beta_ ? b.dvar[k] : nullptr;
  const bool dbeta_acc = beta_ && b.dvar_accumulate[k];
  b.ctx->be().layer_norm_backward(
      *b.ctx, layout, b.rows, b.in[0], b.dout, gamma_ ? gamma_->value.data() : nullptr,
      b.scratch_as<float>(0), b.scratch_as<float>(1), rms_scaling_, b.din[0],
      b.din[0] && b.din_accumulate[0], dgamma, dgamma_acc, dbeta, dbeta_acc);
}

// ---- Normalization --------------------------------------------------------------------------

NormalizationOp::NormalizationOp(VariablePtr mean, VariablePtr variance, std::vector<int> keep_axes,
                                 bool invert)
    : mean_(std::move(mean)),
      variance_(std::move(variance)),
      keep_axes_(std::move(keep_axes)),
      invert_(invert) {
  if (!mean_ || !variance_) throw ValueError("Normalization: mean and variance are required");
}

Shape NormalizationOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Normalization takes exactly one input");
  const Shape& row = inputs[0];
  const std::vector<int> keep = row_axes(keep_axes_, row, "axis");
  const Shape stats = dims_of(row, keep);
  check_variable(mean_, stats, "mean");
  check_variable(variance_, stats, "variance");
  row_size_ = num_elements(row);
  // index_[p]: p's position within the kept axes, row-major.
  index_.assign(static_cast<size_t>(row_size_), 0);
  std::vector<int64_t> stride(row.size(), 1);
  for (size_t i = row.size(); i-- > 1;) stride[i - 1] = stride[i] * row[i];
  for (int64_t p = 0; p < row_size_; ++p) {
    int64_t k = 0;
    for (int a : keep) {
      const auto sa = static_cast<size_t>(a);
      k = k * row[sa] + (p / stride[sa]) % row[sa];
    }
    index_[static_cast<size_t>(p)] = k;
  }
  statistics_ = num_elements(stats);
  return row;
}

std::vector<size_t> NormalizationOp::scratch_bytes(int64_t /*max_rows*/) const {
  return {static_cast<size_t>(statistics_) * sizeof(float)};
}

void NormalizationOp::forward(const OpForward& f) {
  float* denom = f.scratch_as<float>(0);
  f.ctx->be().normalize_denominator(*f.ctx, variance_->value.data(), statistics_, denom);
  f.ctx->be().normalize_forward(*f.ctx, f.in[0], mean_->value.data(), denom, index_.data(), f.rows,
                                row_size_, invert_, f.out);
}

void NormalizationOp::backward(const OpBackward& b) {
  for (size_t i = 0; i < b.dvar.size(); ++i)
    if (b.dvar[i] && !b.dvar_accumulate[i]) b.ctx->be().fill(*b.ctx, b.dvar[i], statistics_, 0.0f);
  if (!b.din[0]) return;
  b.ctx->be().normalize_backward(*b.ctx, b.dout, b.scratch_as<float>(0), index_.data(), b.rows,
                                 row_size_, invert_, b.din[0], b.din_accumulate[0]);
}

}  // namespace ember
