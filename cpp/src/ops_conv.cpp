#include "ember/ops_conv.h"

#include <algorithm>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

std::string list_to_string(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// A per-axis argument: `rank` positive values (or >= 0 where zero is allowed).
void check_axes(const std::vector<int64_t>& v, size_t rank, const char* name, bool allow_zero) {
  if (v.size() != rank)
    throw ValueError(std::string("`") + name + "` must have " + std::to_string(rank) +
                     " values, got " + list_to_string(v));
  for (int64_t d : v)
    if (d < (allow_zero ? 0 : 1))
      throw ValueError(std::string("`") + name + "` must hold " +
                       (allow_zero ? "non-negative" : "positive") + " integers, got " +
                       list_to_string(v));
}

}  // namespace

void conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                      const std::string& padding, int64_t* out, int64_t* pad_before) {
  const int64_t effective = (kernel - 1) * dilation + 1;
  if (padding == "valid") {
    if (in < effective)
      throw ValueError("the kernel (" + std::to_string(kernel) + " with dilation " +
                       std::to_string(dilation) + ", spanning " + std::to_string(effective) +
                       ") is larger than the input's " + std::to_string(in) +
                       " positions under padding='valid': the output would be empty");
    *out = (in - effective) / stride + 1;
    *pad_before = 0;
  } else if (padding == "same") {
    // XLA's SAME: ceil(in / stride) outputs, the padding split with the odd one after.
    *out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((*out - 1) * stride + effective - in, 0);
    *pad_before = total / 2;
  } else if (padding == "causal") {
    // Conv1D pads dilation * (kernel - 1) before the sequence, then runs a valid convolution.
    *pad_before = effective - 1;
    *out = (in - 1) / stride + 1;
  } else {
    throw ValueError("`padding` must be 'valid', 'same' or (for Conv1D) 'causal', got '" + padding +
                     "'");
  }
}

void conv_transpose_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                const std::string& padding, int64_t output_padding, int64_t* out,
                                int64_t* pad_before) {
  // keras/src/backend/common/backend_utils.py: jax dilates the input by the stride, pads it by
  // (left, right) and correlates with the flipped kernel; its output is
  // (in - 1) * stride + left + right - effective + 2 positions.
  const int64_t effective = (kernel - 1) * dilation + 1;
  int64_t left = 0, right = 0;
  if (padding == "valid") {
    const int64_t op =
        output_padding < 0 ? std::max(effective, stride) - effective : output_padding;
    left = effective - 1;
    right = effective - 1 + op;
  } else if (padding == "same") {
    const int64_t pad_len = output_padding < 0 ? stride + effective - 2
                                               : effective + effective % 2 - 2 + output_padding;
    left = std::min(pad_len / 2 + pad_len % 2, effective - 1);
    right = pad_len - left;
  } else {
    throw ValueError("`padding` must be 'valid' or 'same' for a transposed convolution, got '" +
                     padding + "'");
  }
  *out = (in - 1) * stride + left + right - effective + 2;
  // Input position i then reaches output positions i * stride - (effective - 1 - left) +
  // j * dilation: the convolution this is the adjoint of pads effective - 1 - left before.
  *pad_before = effective - 1 - left;
  if (*out <= 0)
    throw ValueError("the transposed convolution's output would be empty (" + std::to_string(*out) +
                     " positions)");
}

ConvOp::ConvOp(VariablePtr kernel, VariablePtr bias, ConvSpec spec, Activation activation)
    : kernel_(std::move(kernel)),
      bias_(std::move(bias)),
      spec_(std::move(spec)),
      activation_(activation),
      keep_z_(activation_backward_needs_input(activation)) {
  activation_.validate();
  const size_t rank = spec_.kernel_size.size();
  if (rank != 1 && rank != 2)
    throw ValueError("Conv: `kernel_size` must have 1 or 2 values, got " +
                     list_to_string(spec_.kernel_size));
  if (spec_.strides.empty()) spec_.strides.assign(rank, 1);
  if (spec_.dilation_rate.empty()) spec_.dilation_rate.assign(rank, 1);
  check_axes(spec_.kernel_size, rank, "kernel_size", false);
  check_axes(spec_.strides, rank, "strides", false);
  check_axes(spec_.dilation_rate, rank, "dilation_rate", false);
  if (!spec_.output_padding.empty()) {
    if (!spec_.transpose) throw ValueError("`output_padding` is for transposed convolutions");
    check_axes(spec_.output_padding, rank, "output_padding", true);
    for (size_t a = 0; a < rank; ++a)
      if (spec_.output_padding[a] >= spec_.strides[a])
        throw ValueError(
            "`output_padding` must be strictly less than `strides`, got "
            "output_padding=" +
            list_to_string(spec_.output_padding) + ", strides=" + list_to_string(spec_.strides));
  }
  if (spec_.padding != "valid" && spec_.padding != "same" &&
      !(spec_.padding == "causal" && rank == 1 && !spec_.transpose))
    throw ValueError("`padding` must be 'valid' or 'same'" +
                     std::string(rank == 1 && !spec_.transpose ? " or 'causal'" : "") + ", got '" +
                     spec_.padding + "'");
  if (spec_.groups < 1) throw ValueError("`groups` must be a positive integer");
  if (spec_.col_budget < 1) throw ValueError("the column matrix's budget must be positive");
  if (spec_.transpose && (spec_.groups != 1 || spec_.depthwise))
    throw ValueError("a transposed convolution has one group");
  if (!kernel_ || kernel_->value.shape().size() != rank + 2)
    throw ValueError("the kernel must have " + std::to_string(rank + 2) + " axes");
  const Shape& k = kernel_->value.shape();
  for (size_t a = 0; a < rank; ++a)
    if (k[a] != spec_.kernel_size[a])
      throw ValueError("kernel shape " + shape_to_string(k) + " does not match kernel_size " +
                       list_to_string(spec_.kernel_size));
  const int64_t k_in = k[rank], k_out = k[rank + 1];
  if (spec_.transpose) {
    filters_ = k_in;
  } else if (spec_.depthwise) {
    filters_ = k_in * k_out;
  } else {
    filters_ = k_out;
    if (filters_ % spec_.groups != 0)
      throw ValueError("the number of filters (" + std::to_string(filters_) +
                       ") must be divisible by the number of groups (" +
                       std::to_string(spec_.groups) + ")");
  }
  if (bias_ && bias_->value.shape() != Shape{filters_})
    throw ValueError("bias shape " + shape_to_string(bias_->value.shape()) +
                     " does not match the " + std::to_string(filters_) + " output channels");
}

std::vector<VariablePtr> ConvOp::variables() const {
  if (bias_) return {kernel_, bias_};
  return {kernel_};
}

Shape ConvOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Conv takes exactly one input");
  const Shape& s = inputs[0];
  const size_t rank = spec_.kernel_size.size();
  if (s.size() < rank + 1)
    throw ValueError("expected an input of at least " + std::to_string(rank + 2) +
                     " axes (batch, " + (rank == 1 ? "steps" : "rows, cols") +
                     ", channels), got row shape " + shape_to_string(s) +
                     " (the batch axis excluded)");
  const size_t lead = s.size() - rank - 1;
  images_ = 1;
  for (size_t a = 0; a < lead; ++a) images_ *= s[a];
  const size_t channel_axis = spec_.channels_first ? lead : s.size() - 1;
  const size_t first_spatial = spec_.channels_first ? lead + 1 : lead;
  in_channels_ = s[channel_axis];
  std::vector<int64_t> spatial(s.begin() + static_cast<std::ptrdiff_t>(first_spatial),
                               s.begin() + static_cast<std::ptrdiff_t>(first_spatial + rank));
  const Shape& k = kernel_->value.shape();
  const int64_t k_in = k[rank], k_out = k[rank + 1];
  int64_t groups = spec_.groups;
  if (spec_.transpose) {
    if (in_channels_ != k_out)
      throw ValueError("the input has " + std::to_string(in_channels_) +
                       " channels, the kernel of shape " + shape_to_string(k) + " expects " +
                       std::to_string(k_out));
  } else if (spec_.depthwise) {
    if (in_channels_ != k_in)
      throw ValueError("the input has " + std::to_string(in_channels_) +
                       " channels, the depthwise kernel of shape " + shape_to_string(k) +
                       " expects " + std::to_string(k_in));
    groups = in_channels_;
  } else {
    if (in_channels_ % groups != 0)
      throw ValueError("the number of input channels (" + std::to_string(in_channels_) +
                       ") must be divisible by the number of groups (" + std::to_string(groups) +
                       ")");
    if (in_channels_ / groups != k_in)
      throw ValueError("the input has " + std::to_string(in_channels_) +
                       " channels, the kernel of shape " + shape_to_string(k) + " expects " +
                       std::to_string(k_in * groups));
  }
  // Per axis (height first; a 1-D convolution is a 2-D one of height 1).
  int64_t in_sz[2] = {1, 1}, out_sz[2] = {1, 1}, pad[2] = {0, 0}, kern[2] = {1, 1},
          stride[2] = {1, 1}, dil[2] = {1, 1};
  for (size_t a = 0; a < rank; ++a) {
    const size_t d = 2 - rank + a;
    in_sz[d] = spatial[a];
    kern[d] = spec_.kernel_size[a];
    stride[d] = spec_.strides[a];
    dil[d] = spec_.dilation_rate[a];
    if (spec_.transpose)
      conv_transpose_output_size(in_sz[d], kern[d], stride[d], dil[d], spec_.padding,
                                 spec_.output_padding.empty() ? -1 : spec_.output_padding[a],
                                 &out_sz[d], &pad[d]);
    else
      conv_output_size(in_sz[d], kern[d], stride[d], dil[d], spec_.padding, &out_sz[d], &pad[d]);
  }
  geom_ = {};
  geom_.kernel_h = kern[0];
  geom_.kernel_w = kern[1];
  geom_.stride_h = stride[0];
  geom_.stride_w = stride[1];
  geom_.dilation_h = dil[0];
  geom_.dilation_w = dil[1];
  geom_.pad_top = pad[0];
  geom_.pad_left = pad[1];
  geom_.groups = groups;
  // The geometry's image is what im2col reads: x for a convolution, y for its transpose.
  const int64_t* image = spec_.transpose ? out_sz : in_sz;
  const int64_t* positions = spec_.transpose ? in_sz : out_sz;
  geom_.in_h = image[0];
  geom_.in_w = image[1];
  geom_.channels = spec_.transpose ? filters_ : in_channels_;
  geom_.out_h = positions[0];
  geom_.out_w = positions[1];
  in_positions_ = in_sz[0] * in_sz[1];
  out_positions_ = out_sz[0] * out_sz[1];
  pointwise_ = !spec_.transpose && geom_.is_pointwise();

  Shape out(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(lead));
  if (spec_.channels_first) out.push_back(filters_);
  for (size_t a = 0; a < rank; ++a) out.push_back(out_sz[2 - rank + a]);
  if (!spec_.channels_first) out.push_back(filters_);
  if (spec_.channels_first) {
    // Per image: (channels, positions) <-> (positions, channels); the layouts walk the
    // destination in order.
    const int64_t c = in_channels_, p = in_positions_, f = filters_, q = out_positions_;
    x_to_last_ = make_strided_layout({p, c}, {1, p}, {c, 1}, "Conv");
    dx_to_first_ = make_strided_layout({c, p}, {1, c}, {p, 1}, "Conv");
    y_to_first_ = make_strided_layout({f, q}, {1, f}, {q, 1}, "Conv");
    dy_to_last_ = make_strided_layout({q, f}, {1, q}, {f, 1}, "Conv");
  }
  return out;
}

int64_t ConvOp::chunk_images(int64_t images) const {
  if (pointwise_) return images;
  const int64_t per_image = std::max<int64_t>(1, geom_.positions() * geom_.col_width());
  return std::max<int64_t>(1, std::min(images, spec_.col_budget / per_image));
}

std::vector<size_t> ConvOp::scratch_bytes(int64_t max_rows) const {
  const auto floats = [](int64_t n) { return static_cast<size_t>(n) * sizeof(float); };
  const int64_t images = max_rows * images_;
  // Transposed: the GEMM's (input positions, kernel_h * kernel_w * filters) product.
  const int64_t col = pointwise_ ? 0 : chunk_images(images) * geom_.positions() * geom_.col_width();
  const int64_t y = images * out_positions_ * filters_;
  std::vector<size_t> bytes{floats(col), floats(activation_.is_linear() ? 0 : y)};
  if (spec_.channels_first) {
    bytes.push_back(floats(images * in_positions_ * in_channels_));
    bytes.push_back(floats(y));
    bytes.push_back(floats(y));
  }
  return bytes;
}

void ConvOp::gemm_forward(const Context& ctx, const float* col, float* out, int64_t m) const {
  const float* w = kernel_->value.data();
  const int64_t groups = geom_.groups;
  if (groups == 1) {
    ctx.be().gemm(ctx, false, false, m, filters_, geom_.col_width(), 1.0f, col, w, 0.0f, out);
    return;
  }
  const int64_t kg = geom_.col_width() / groups, fg = filters_ / groups;
  for (int64_t g = 0; g < groups; ++g)
    ctx.be().gemm_ld(ctx, false, false, m, fg, kg, 1.0f, col + g * kg, geom_.col_width(),
                     w + g * fg, filters_, 0.0f, out + g * fg, filters_);
}

void ConvOp::forward(const OpForward& f) {
  const Context& ctx = *f.ctx;
  Backend& be = ctx.be();
  const int64_t images = f.rows * images_;
  const float* x = f.in[0];
  if (spec_.channels_first) {
    float* x_last = f.scratch_as<float>(2);
    const int64_t row = in_channels_ * in_positions_;
    be.strided_copy(ctx, x_to_last_.batched(images, row, row), x, x_last, false);
    x = x_last;
  }
  float* y = spec_.channels_first ? f.scratch_as<float>(3) : f.out;
  float* z = keep_z_ ? f.scratch_as<float>(1) : nullptr;
  float* col = f.scratch_as<float>(0);
  const float* w = kernel_->value.data();
  const float* bias = bias_ ? bias_->value.data() : nullptr;
  const int64_t x_image = in_positions_ * in_channels_, y_image = out_positions_ * filters_;
  const int64_t chunk = chunk_images(images);
  for (int64_t i0 = 0; i0 < images; i0 += chunk) {
    const int64_t n = std::min(chunk, images - i0);
    const float* xs = x + i0 * x_image;
    float* ys = y + i0 * y_image;
    float* zs = z ? z + i0 * y_image : nullptr;
    const int64_t m_out = n * out_positions_;
    if (!spec_.transpose && !pointwise_ && geom_.groups == 1) {
      be.conv_forward(ctx, geom_, n, xs, w, bias, activation_, filters_, col, ys, zs);
      continue;
    }
    if (spec_.transpose) {
      // col(input positions, kh * kw * filters) = x kernel^T, each row added onto the output.
      be.gemm(ctx, false, true, n * in_positions_, geom_.col_width(), in_channels_, 1.0f, xs, w,
              0.0f, col);
      be.col2im(ctx, geom_, n, col, ys, false);
    } else if (pointwise_) {
      gemm_forward(ctx, xs, ys, m_out);
    } else {
      be.im2col(ctx, geom_, n, xs, col);
      gemm_forward(ctx, col, ys, m_out);
    }
    be.bias_activation_forward(ctx, activation_, ys, bias, zs, m_out, filters_);
  }
  if (spec_.channels_first) {
    const int64_t row = filters_ * out_positions_;
    be.strided_copy(ctx, y_to_first_.batched(images, row, row), y, f.out, false);
  }
}

void ConvOp::backward(const OpBackward& b) {
  const Context& ctx = *b.ctx;
  Backend& be = ctx.be();
  const int64_t images = b.rows * images_;
  const float* w = kernel_->value.data();
  const float* x = b.in[0];
  const float* y = b.out;
  const float* dy = b.dout;
  if (spec_.channels_first) {
    // x and y channels-last are still in scratch from the forward pass.
    x = b.scratch_as<float>(2);
    y = b.scratch_as<float>(3);
    float* dy_last = b.scratch_as<float>(4);
    const int64_t row = filters_ * out_positions_;
    be.strided_copy(ctx, dy_to_last_.batched(images, row, row), dy, dy_last, false);
    dy = dy_last;
  }
  const int64_t x_image = in_positions_ * in_channels_, y_image = out_positions_ * filters_;
  const int64_t chunk = chunk_images(images);
  // One chunk: the forward's column matrix is still in scratch; several: each is rebuilt.
  const bool col_kept = chunk >= images;
  float* col = b.scratch_as<float>(0);
  if (!spec_.transpose && !pointwise_ && geom_.groups == 1 && !b.din[0] && b.dvar[0]) {
    // No input gradient (a first layer): the activation's backward, the bias sums and the
    // kernel's gradient in one kernel, which a backend may run in cache-sized blocks.
    float* dz = activation_.is_linear() ? nullptr : b.scratch_as<float>(1);
    const float* z = keep_z_ ? dz : nullptr;  // the forward's pre-activation, overwritten by dz
    float* dbias = bias_ ? b.dvar[1] : nullptr;
    bool dw_accumulate = b.dvar_accumulate[0] != 0;
    bool db_accumulate = dbias && b.dvar_accumulate[1] != 0;
    for (int64_t i0 = 0; i0 < images; i0 += chunk) {
      const int64_t n = std::min(chunk, images - i0), o = i0 * y_image;
      be.conv_backward_filter(ctx, geom_, n, x + i0 * x_image, z ? z + o : nullptr, y + o, dy + o,
                              activation_, filters_, col, col_kept, dz ? dz + o : nullptr,
                              b.dvar[0], dw_accumulate, dbias, db_accumulate);
      dw_accumulate = db_accumulate = true;  // later chunks add to the first's
    }
    return;
  }
  const float* dz = dy;
  if (!activation_.is_linear()) {
    float* z_then_dz = b.scratch_as<float>(1);
    be.activation_backward(ctx, activation_, keep_z_ ? z_then_dz : nullptr, y, dy, z_then_dz,
                           images * out_positions_, filters_);
    dz = z_then_dz;
  }
  if (bias_ && b.dvar[1])
    be.column_sums(ctx, dz, b.dvar[1], images * out_positions_, filters_,
                   b.dvar_accumulate[1] != 0);
  float* dx = b.din[0];
  bool dx_accumulate = b.din_accumulate[0] != 0;
  if (dx && spec_.channels_first) {
    dx = b.scratch_as<float>(2);  // each chunk's x channels-last is read before its dx is written
    dx_accumulate = false;
  }
  float* dw = b.dvar[0];
  float dw_beta = dw && b.dvar_accumulate[0] ? 1.0f : 0.0f;
  const int64_t kw = geom_.col_width(), groups = geom_.groups;
  const int64_t kg = kw / groups, fg = filters_ / groups;
  for (int64_t i0 = 0; i0 < images; i0 += chunk) {
    const int64_t n = std::min(chunk, images - i0);
    const float* xs = x + i0 * x_image;
    const float* dzs = dz + i0 * y_image;
    float* dxs = dx ? dx + i0 * x_image : nullptr;
    const int64_t m_in = n * in_positions_, m_out = n * out_positions_;
    if (spec_.transpose) {
      // The forward's adjoint: dcol = im2col(dz); dkernel (kh*kw*filters, in) = dcol^T x;
      // dx = dcol kernel.
      be.im2col(ctx, geom_, n, dzs, col);
      if (dw) be.gemm(ctx, true, false, kw, in_channels_, m_in, 1.0f, col, xs, dw_beta, dw);
      if (dxs)
        be.gemm(ctx, false, false, m_in, in_channels_, kw, 1.0f, col, w,
                dx_accumulate ? 1.0f : 0.0f, dxs);
    } else {
      if (!pointwise_ && !col_kept && (dw || dxs)) be.im2col(ctx, geom_, n, xs, col);
      const float* cols = pointwise_ ? xs : col;  // the column matrix
      if (dw) {
        if (groups == 1)
          be.gemm(ctx, true, false, kw, filters_, m_out, 1.0f, cols, dzs, dw_beta, dw);
        else
          for (int64_t g = 0; g < groups; ++g)
            be.gemm_ld(ctx, true, false, kg, fg, m_out, 1.0f, cols + g * kg, kw, dzs + g * fg,
                       filters_, dw_beta, dw + g * fg, filters_);
      }
      if (dxs) {
        // dcol = dz kernel^T, over the column matrix (read for the last time above); a
        // pointwise convolution's dcol is dx itself.
        float* dcol = pointwise_ ? dxs : col;
        const float beta = pointwise_ && dx_accumulate ? 1.0f : 0.0f;
        if (groups == 1)
          be.gemm(ctx, false, true, m_out, kw, filters_, 1.0f, dzs, w, beta, dcol);
        else
          for (int64_t g = 0; g < groups; ++g)
            be.gemm_ld(ctx, false, true, m_out, kg, fg, 1.0f, dzs + g * fg, filters_, w + g * fg,
                       filters_, beta, dcol + g * kg, kw);
        if (!pointwise_) be.col2im(ctx, geom_, n, col, dxs, dx_accumulate);
      }
    }
    dw_beta = 1.0f;  // later chunks add to the first's
  }
  if (b.din[0] && spec_.channels_first) {
    const int64_t row = in_channels_ * in_positions_;
    be.strided_copy(ctx, dx_to_first_.batched(images, row, row), dx, b.din[0],
                    b.din_accumulate[0] != 0);
  }
}

}  // namespace ember
