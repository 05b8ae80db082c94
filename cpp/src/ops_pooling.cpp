#include "ember/ops_pooling.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

std::string list_to_string(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// Checks that a row holds k spatial axes and a channel axis, and returns the images it is (see
// pooling_layout.h) with the row's spatial sizes. `what` names the op in messages.
ImageView image_view(const Shape& row, size_t k, bool channels_first, const std::string& what,
                     std::vector<int64_t>* spatial) {
  if (row.size() < k + 1)
    throw ValueError(what + " expects inputs of rank " + std::to_string(k + 2) + " (batch, " +
                     (k == 1 ? "steps" : "height, width") + ", channels), got shape " +
                     batched_shape_to_string(row));
  const size_t r = row.size();
  const size_t first_spatial = channels_first ? r - k : r - 1 - k;
  const int64_t channels = channels_first ? row[r - 1 - k] : row[r - 1];
  int64_t lead = 1;
  for (size_t d = 0; d < r - 1 - k; ++d) lead *= row[d];
  spatial->assign(row.begin() + static_cast<std::ptrdiff_t>(first_spatial),
                  row.begin() + static_cast<std::ptrdiff_t>(first_spatial + k));
  ImageView v;
  // channels_first: each channel's (H, W) plane is contiguous, so it is an image of one channel.
  v.images = channels_first ? lead * channels : lead;
  v.channels = channels_first ? 1 : channels;
  v.h = k == 2 ? (*spatial)[0] : 1;
  v.w = spatial->back();
  return v;
}

// The row shape with its spatial sizes replaced.
Shape with_spatial(const Shape& row, size_t k, bool channels_first,
                   const std::vector<int64_t>& spatial) {
  Shape out = row;
  const size_t first = channels_first ? row.size() - k : row.size() - 1 - k;
  for (size_t i = 0; i < k; ++i) out[first + i] = spatial[i];
  return out;
}

void check_spatial_arg(const std::vector<int64_t>& v, const char* name, const std::string& what) {
  if (v.size() != 1 && v.size() != 2)
    throw ValueError(what + ": `" + name + "` must have 1 or 2 entries, got " + list_to_string(v));
  for (int64_t s : v)
    if (s <= 0)
      throw ValueError(what + ": `" + name + "` must be positive integers. Received: " + name +
                       "=" + list_to_string(v));
}

}  // namespace

// ---- pooling ---------------------------------------------------------------------------------

PoolOp::PoolOp(bool max, std::vector<int64_t> pool_size, std::vector<int64_t> strides,
               bool same_padding, bool channels_first)
    : max_(max),
      pool_(std::move(pool_size)),
      strides_(std::move(strides)),
      same_(same_padding),
      channels_first_(channels_first) {
  check_spatial_arg(pool_, "pool_size", type());
  check_spatial_arg(strides_, "strides", type());
  if (strides_.size() != pool_.size())
    throw ValueError(type() + ": `strides` " + list_to_string(strides_) + " and `pool_size` " +
                     list_to_string(pool_) + " must have the same length");
}

Shape PoolOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError(type() + " takes exactly one input");
  const size_t k = pool_.size();
  std::vector<int64_t> in;
  view_ = image_view(inputs[0], k, channels_first_, type(), &in);
  std::vector<int64_t> out(k), pad(k);
  for (size_t i = 0; i < k; ++i) {
    if (same_) {
      out[i] = (in[i] + strides_[i] - 1) / strides_[i];
      // XLA's SAME: the padding that makes every window fit, the odd pixel after.
      pad[i] = std::max<int64_t>((out[i] - 1) * strides_[i] + pool_[i] - in[i], 0) / 2;
    } else {
      if (in[i] < pool_[i])
        throw ValueError(
            type() + ": computed output size would be zero or negative. Received: inputs.shape=" +
            batched_shape_to_string(inputs[0]) + ", pool_size=" + list_to_string(pool_) +
            ", strides=" + list_to_string(strides_) + ", padding=valid");
      out[i] = (in[i] - pool_[i]) / strides_[i] + 1;
      pad[i] = 0;
    }
  }
  if (view_.h * view_.w * view_.channels >= (int64_t{1} << 31))
    throw ValueError(type() + ": an image of " + batched_shape_to_string(inputs[0]) +
                     " has 2^31 elements or more; the kernels index within one in int32");
  kernels::PoolLayout& l = layout_;
  l.max = max_;
  l.in_h = view_.h;
  l.in_w = view_.w;
  l.channels = view_.channels;
  l.out_h = k == 2 ? out[0] : 1;
  l.out_w = out.back();
  l.pool_h = k == 2 ? pool_[0] : 1;
  l.pool_w = pool_.back();
  l.stride_h = k == 2 ? strides_[0] : 1;
  l.stride_w = strides_.back();
  l.pad_top = k == 2 ? pad[0] : 0;
  l.pad_left = pad.back();
  return with_spatial(inputs[0], k, channels_first_, out);
}

bool PoolOp::keeps_where() const {
  const kernels::PoolLayout& l = layout_;
  return max_ && l.stride_h == l.pool_h && l.stride_w == l.pool_w && l.pool_h * l.pool_w <= 256;
}

std::vector<size_t> PoolOp::scratch_bytes(int64_t max_rows) const {
  if (!keeps_where()) return {};
  return {static_cast<size_t>(max_rows * view_.images * layout_.out_size())};
}

void PoolOp::forward(const OpForward& f) {
  f.ctx->be().pool_forward(*f.ctx, layout_, f.rows * view_.images, f.in[0], f.out,
                           keeps_where() ? f.scratch_as<uint8_t>(0) : nullptr);
}

void PoolOp::backward(const OpBackward& b) {
  if (b.din[0])
    b.ctx->be().pool_backward(*b.ctx, layout_, b.rows * view_.images, b.in[0],
                              keeps_where() ? b.scratch_as<uint8_t>(0) : nullptr, b.dout, b.din[0],
                              b.din_accumulate[0]);
}

// ---- padding and cropping --------------------------------------------------------------------

PadOp::PadOp(std::vector<int64_t> before, std::vector<int64_t> after)
    : before_(std::move(before)), after_(std::move(after)) {
  if (before_.size() != after_.size())
    throw ValueError("Padding: `before` and `after` must have one entry per axis each");
}

Shape PadOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Padding takes exactly one input");
  const Shape& in = inputs[0];
  if (in.size() != before_.size())
    throw ValueError("Padding: " + std::to_string(before_.size()) +
                     " (before, after) pairs given for an input of shape " +
                     batched_shape_to_string(in));
  Shape out(in.size()), kept(in.size());
  const std::vector<int64_t> in_strides = contiguous_strides(in);
  pads_ = crops_ = false;
  in_offset_ = out_offset_ = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    out[d] = in[d] + before_[d] + after_[d];
    const int64_t crop_before = std::max<int64_t>(-before_[d], 0);
    kept[d] = in[d] - crop_before - std::max<int64_t>(-after_[d], 0);
    if (out[d] <= 0 || kept[d] <= 0)
      throw ValueError("Padding: padding (" + std::to_string(before_[d]) + ", " +
                       std::to_string(after_[d]) + ") on axis " + std::to_string(d + 1) +
                       " leaves nothing of an input of shape " + batched_shape_to_string(in));
    pads_ = pads_ || before_[d] > 0 || after_[d] > 0;
    crops_ = crops_ || before_[d] < 0 || after_[d] < 0;
    in_offset_ += crop_before * in_strides[d];
  }
  const std::vector<int64_t> out_strides = contiguous_strides(out);
  for (size_t d = 0; d < in.size(); ++d)
    out_offset_ += std::max<int64_t>(before_[d], 0) * out_strides[d];
  in_size_ = num_elements(in);
  out_size_ = num_elements(out);
  in_to_out_ = make_strided_layout(kept, in_strides, out_strides, "Padding");
  return out;
}

void PadOp::forward(const OpForward& f) {
  Backend& be = f.ctx->be();
  if (pads_) be.fill(*f.ctx, f.out, f.rows * out_size_, 0.0f);
  be.strided_copy(*f.ctx, in_to_out_.batched(f.rows, in_size_, out_size_), f.in[0] + in_offset_,
                  f.out + out_offset_, false);
}

void PadOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  Backend& be = b.ctx->be();
  const bool accumulate = b.din_accumulate[0];
  // Cropped elements get no gradient: zeros, unless adding to what is there.
  if (crops_ && !accumulate) be.fill(*b.ctx, b.din[0], b.rows * in_size_, 0.0f);
  StridedLayout l = in_to_out_.batched(b.rows, in_size_, out_size_);
  for (int a = 0; a < l.rank; ++a) std::swap(l.stride[0][a], l.stride[1][a]);
  be.strided_copy(*b.ctx, l, b.dout + out_offset_, b.din[0] + in_offset_, accumulate);
}

// ---- upsampling ------------------------------------------------------------------------------

namespace {

// The taps of one axis upsampled from n to n * factor: nearest, out o reads o / factor;
// bilinear, as jax.image.resize's triangle kernel: output centre (o + 0.5) / factor - 0.5 in
// input coordinates, the two neighbours weighted by distance, a neighbour outside the axis
// dropped and the remaining weight renormalised to 1.
void axis_taps(int64_t n, int64_t factor, bool bilinear, std::vector<int64_t>* index,
               std::vector<float>* weight) {
  const int64_t out = n * factor, taps = bilinear ? 2 : 1;
  index->assign(static_cast<size_t>(out * taps), 0);
  weight->assign(static_cast<size_t>(out * taps), 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const auto t = static_cast<size_t>(o * taps);
    if (!bilinear) {
      (*index)[t] = o / factor;
      (*weight)[t] = 1.0f;
      continue;
    }
    const double centre = (static_cast<double>(o) + 0.5) / static_cast<double>(factor) - 0.5;
    const double lo = std::floor(centre), frac = centre - lo;
    const int64_t j[2] = {static_cast<int64_t>(lo), static_cast<int64_t>(lo) + 1};
    double w[2] = {1.0 - frac, frac}, total = 0.0;
    for (int s = 0; s < 2; ++s) {
      if (j[s] < 0 || j[s] >= n) w[s] = 0.0;
      total += w[s];
    }
    for (size_t s = 0; s < 2; ++s) {
      (*index)[t + s] = std::clamp<int64_t>(j[s], 0, n - 1);
      (*weight)[t + s] = static_cast<float>(w[s] / total);
    }
  }
}

}  // namespace

UpSamplingOp::UpSamplingOp(std::vector<int64_t> size, bool bilinear, bool channels_first)
    : size_(std::move(size)), bilinear_(bilinear), channels_first_(channels_first) {
  check_spatial_arg(size_, "size", "UpSampling");
}

Shape UpSamplingOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("UpSampling takes exactly one input");
  const size_t k = size_.size();
  std::vector<int64_t> in;
  view_ = image_view(inputs[0], k, channels_first_, "UpSampling", &in);
  std::vector<int64_t> out(k);
  for (size_t i = 0; i < k; ++i) out[i] = in[i] * size_[i];
  axis_taps(view_.h, k == 2 ? size_[0] : 1, bilinear_, &h_index_, &h_weight_);
  axis_taps(view_.w, size_.back(), bilinear_, &w_index_, &w_weight_);
  kernels::ResizeLayout& l = layout_;
  l.in_h = view_.h;
  l.in_w = view_.w;
  l.channels = view_.channels;
  l.out_h = k == 2 ? out[0] : 1;
  l.out_w = out.back();
  l.taps = bilinear_ ? 2 : 1;
  l.h_index = h_index_.data();
  l.h_weight = h_weight_.data();
  l.w_index = w_index_.data();
  l.w_weight = w_weight_.data();
  return with_spatial(inputs[0], k, channels_first_, out);
}

void UpSamplingOp::forward(const OpForward& f) {
  f.ctx->be().resize_forward(*f.ctx, layout_, f.rows * view_.images, f.in[0], f.out);
}

void UpSamplingOp::backward(const OpBackward& b) {
  if (b.din[0])
    b.ctx->be().resize_backward(*b.ctx, layout_, b.rows * view_.images, b.dout, b.din[0],
                                b.din_accumulate[0]);
}

}  // namespace ember
