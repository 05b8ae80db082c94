#include "ember/ops_einsum.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

// The layout with its two operands exchanged: a copy's way back (dst -> src).
StridedLayout swapped(StridedLayout l) {
  for (int d = 0; d < l.rank; ++d) std::swap(l.stride[0][d], l.stride[1][d]);
  return l;
}

bool has(const std::string& s, char c) { return s.find(c) != std::string::npos; }

// The copy of an array laid out as `from` (labels, row-major over `dims`) into the row-major
// order `to` (a permutation of the same labels): iteration over `to`, reading from's strides.
StridedLayout permutation(const std::string& from, const std::string& to,
                          const std::map<char, int64_t>& dims, const std::string& what) {
  Shape from_shape, to_shape;
  for (char c : from) from_shape.push_back(dims.at(c));
  for (char c : to) to_shape.push_back(dims.at(c));
  const std::vector<int64_t> from_strides = contiguous_strides(from_shape);
  std::vector<int64_t> read;
  for (char c : to) read.push_back(from_strides[from.find(c)]);
  return make_strided_layout(to_shape, read, contiguous_strides(to_shape), what);
}

}  // namespace

EinsumDenseOp::EinsumDenseOp(std::string equation, VariablePtr kernel, VariablePtr bias)
    : equation_(std::move(equation)), kernel_(std::move(kernel)), bias_(std::move(bias)) {
  const std::string where = "EinsumDense: equation '" + equation_ + "'";
  if (!kernel_) throw ValueError("EinsumDense: no kernel");
  const size_t comma = equation_.find(',');
  const size_t arrow = equation_.find("->");
  if (comma == std::string::npos || arrow == std::string::npos || arrow < comma)
    throw ValueError(where + " is not of the form 'x,kernel->output'");
  x_labels_ = equation_.substr(0, comma);
  w_labels_ = equation_.substr(comma + 1, arrow - comma - 1);
  out_labels_ = equation_.substr(arrow + 2);
  for (const std::string* part : {&x_labels_, &w_labels_, &out_labels_}) {
    if (part->empty()) throw ValueError(where + " has an empty operand");
    for (size_t i = 0; i < part->size(); ++i) {
      const char c = (*part)[i];
      if (!std::isalpha(static_cast<unsigned char>(c)))
        throw ValueError(where + ": '" + std::string(1, c) + "' is not a letter");
      if (part->find(c, i + 1) != std::string::npos)
        throw ValueError(where + ": label '" + std::string(1, c) +
                         "' appears twice in one operand");
    }
  }
  const char batch = x_labels_[0];
  if (out_labels_[0] != batch || has(w_labels_, batch))
    throw ValueError(where + ": the input's first label '" + std::string(1, batch) +
                     "' is the batch axis; it must be the output's first label and not in the "
                     "kernel");
  for (char c : x_labels_.substr(1))
    if (!has(w_labels_, c) && !has(out_labels_, c))
      throw ValueError(where + ": the input's label '" + std::string(1, c) +
                       "' is in neither the kernel nor the output (summing over an input axis "
                       "is not supported)");
  for (char c : w_labels_)
    if (!has(x_labels_, c) && !has(out_labels_, c))
      throw ValueError(where + ": the kernel's label '" + std::string(1, c) +
                       "' is in neither the input nor the output");
  for (char c : out_labels_)
    if (!has(x_labels_, c) && !has(w_labels_, c))
      throw ValueError(where + ": the output's label '" + std::string(1, c) +
                       "' is in neither the input nor the kernel");
  if (kernel_->value.shape().size() != w_labels_.size())
    throw ValueError(where + ": the kernel has shape " + shape_to_string(kernel_->value.shape()) +
                     ", not " + std::to_string(w_labels_.size()) + " axes");
}

Shape EinsumDenseOp::build(const std::vector<Shape>& inputs) {
  const std::string where = "EinsumDense '" + equation_ + "'";
  if (inputs.size() != 1) throw ValueError(where + " takes exactly one input");
  const Shape& x = inputs[0];
  if (x.size() + 1 != x_labels_.size())
    throw ValueError(where + ": the input has shape " + batched_shape_to_string(x) +
                     " but the equation names " + std::to_string(x_labels_.size()) + " axes");
  std::map<char, int64_t> dims;
  for (size_t i = 1; i < x_labels_.size(); ++i) dims[x_labels_[i]] = x[i - 1];
  const Shape& w = kernel_->value.shape();
  for (size_t i = 0; i < w_labels_.size(); ++i) {
    const char c = w_labels_[i];
    auto it = dims.find(c);
    if (it != dims.end() && it->second != w[i])
      throw ValueError(where + ": axis '" + std::string(1, c) + "' has length " +
                       std::to_string(it->second) + " in the input " + batched_shape_to_string(x) +
                       " but " + std::to_string(w[i]) + " in the kernel " + shape_to_string(w));
    dims[c] = w[i];
  }
  // The classes, each in the order its labels have in x (M, S, K) or the kernel (N).
  std::string m, s, k, n;
  for (char c : x_labels_.substr(1)) {
    const bool in_w = has(w_labels_, c), in_out = has(out_labels_, c);
    (in_w ? (in_out ? s : k) : m).push_back(c);
  }
  for (char c : w_labels_)
    if (!has(x_labels_, c)) n.push_back(c);
  auto product = [&](const std::string& labels) {
    int64_t p = 1;
    for (char c : labels) p *= dims[c];
    return p;
  };
  m_ = product(m);
  s_ = product(s);
  k_ = product(k);
  n_ = product(n);
  Shape out;
  for (char c : out_labels_.substr(1)) out.push_back(dims[c]);
  x_size_ = num_elements(x);
  w_size_ = num_elements(w);
  out_size_ = num_elements(out);

  const std::string x_row = x_labels_.substr(1), out_row = out_labels_.substr(1);
  const std::string x_gemm = m + s + k, w_gemm = s + k + n, out_gemm = m + s + n;
  permute_x_ = x_row != x_gemm;
  // A kernel stored (N, K) - a tied embedding's (vocab, dim) read as logits' kernel - is read
  // transposed by the GEMM instead of copied each step.
  w_transposed_ = s.empty() && w_labels_ != w_gemm && w_labels_ == n + k;
  permute_w_ = w_labels_ != w_gemm && !w_transposed_;
  permute_out_ = out_row != out_gemm;
  if (permute_x_) x_to_gemm_ = permutation(x_row, x_gemm, dims, where);
  if (permute_w_) w_to_gemm_ = permutation(w_labels_, w_gemm, dims, where);
  if (permute_out_) gemm_to_out_ = permutation(out_gemm, out_row, dims, where);
  if (bias_) {
    const Shape& bs = bias_->value.shape();
    if (bs.size() > out.size())
      throw ValueError(where + ": the bias of shape " + shape_to_string(bs) +
                       " has more axes than the output row " + batched_shape_to_string(out));
    for (size_t i = 0; i < bs.size(); ++i) {
      const int64_t o = out[out.size() - bs.size() + i];
      if (bs[i] != 1 && bs[i] != o)
        throw ValueError(where + ": the bias of shape " + shape_to_string(bs) +
                         " does not broadcast against the output " + batched_shape_to_string(out));
    }
    bias_layout_ =
        make_strided_layout(out, contiguous_strides(out), broadcast_strides(bs, out), where);
  }
  return out;
}

std::vector<VariablePtr> EinsumDenseOp::variables() const {
  if (bias_) return {kernel_, bias_};
  return {kernel_};
}

std::vector<size_t> EinsumDenseOp::scratch_bytes(int64_t max_rows) const {
  auto floats = [](bool used, int64_t n) {
    return used ? static_cast<size_t>(n) * sizeof(float) : 0;
  };
  return {floats(permute_x_, max_rows * x_size_), floats(permute_w_, w_size_),
          floats(permute_out_, max_rows * out_size_), floats(permute_x_, max_rows * x_size_),
          floats(permute_w_, w_size_)};
}

void EinsumDenseOp::contract(const Context& ctx, int64_t rows, const float* x, const float* w,
                             float* y) const {
  // X' (rows * m, s, k), W' (s, k, n), Y' (rows * m, s, n): block s of each is a matrix whose
  // rows are s * k (or s * n) apart.
  if (w_transposed_) {
    ctx.be().gemm_ld(ctx, false, true, rows * m_, n_, k_, 1.0f, x, k_, w, k_, 0.0f, y, n_);
    return;
  }
  for (int64_t i = 0; i < s_; ++i)
    ctx.be().gemm_ld(ctx, false, false, rows * m_, n_, k_, 1.0f, x + i * k_, s_ * k_,
                     w + i * k_ * n_, n_, 0.0f, y + i * n_, s_ * n_);
}

void EinsumDenseOp::forward(const OpForward& f) {
  const Context& ctx = *f.ctx;
  const float* x = f.in[0];
  if (permute_x_) {
    float* xg = f.scratch_as<float>(0);
    ctx.be().strided_copy(ctx, x_to_gemm_.batched(f.rows, x_size_, x_size_), x, xg, false);
    x = xg;
  }
  const float* w = kernel_->value.data();
  if (permute_w_) {
    float* wg = f.scratch_as<float>(1);
    ctx.be().strided_copy(ctx, w_to_gemm_, w, wg, false);
    w = wg;
  }
  float* y = permute_out_ ? f.scratch_as<float>(2) : f.out;
  contract(ctx, f.rows, x, w, y);
  if (permute_out_)
    ctx.be().strided_copy(ctx, gemm_to_out_.batched(f.rows, out_size_, out_size_), y, f.out, false);
  if (bias_)
    ctx.be().binary_forward(ctx, BinaryKind::Add, bias_layout_.batched(f.rows, out_size_, 0), f.out,
                            bias_->value.data(), f.out);
}

void EinsumDenseOp::backward(const OpBackward& b) {
  const Context& ctx = *b.ctx;
  const int64_t rows = b.rows;
  if (bias_ && b.dvar.size() > 1 && b.dvar[1])
    ctx.be().binary_backward(ctx, BinaryKind::Add, bias_layout_.batched(rows, out_size_, 0), b.out,
                             bias_->value.data(), b.out, b.dout, nullptr, false, b.dvar[1],
                             b.dvar_accumulate[1]);
  const bool want_x = b.din[0] != nullptr, want_w = !b.dvar.empty() && b.dvar[0];
  if (!want_x && !want_w) return;
  const float* dy = b.dout;
  if (permute_out_) {
    float* dyg = b.scratch_as<float>(2);
    ctx.be().strided_copy(ctx, swapped(gemm_to_out_).batched(rows, out_size_, out_size_), b.dout,
                          dyg, false);
    dy = dyg;
  }
  const int64_t mr = rows * m_;
  if (want_w) {
    // dW'_s (k, n) = X'_s^T dY'_s, X' being the forward's (still in scratch when permuted).
    const float* x = permute_x_ ? b.scratch_as<float>(0) : b.in[0];
    float* dw = permute_w_ ? b.scratch_as<float>(4) : b.dvar[0];
    const float beta = !permute_w_ && b.dvar_accumulate[0] ? 1.0f : 0.0f;
    if (w_transposed_)  // dW (n, k) = dY^T X
      ctx.be().gemm_ld(ctx, true, false, n_, k_, mr, 1.0f, dy, n_, x, k_, beta, dw, k_);
    for (int64_t i = 0; i < s_ && !w_transposed_; ++i)
      ctx.be().gemm_ld(ctx, true, false, k_, n_, mr, 1.0f, x + i * k_, s_ * k_, dy + i * n_,
                       s_ * n_, beta, dw + i * k_ * n_, n_);
    if (permute_w_)
      ctx.be().strided_copy(ctx, swapped(w_to_gemm_), dw, b.dvar[0], b.dvar_accumulate[0]);
  }
  if (want_x) {
    // dX'_s (rows * m, k) = dY'_s W'_s^T, W' being the forward's when permuted.
    const float* w = permute_w_ ? b.scratch_as<float>(1) : kernel_->value.data();
    float* dx = permute_x_ ? b.scratch_as<float>(3) : b.din[0];
    const float beta = !permute_x_ && b.din_accumulate[0] ? 1.0f : 0.0f;
    if (w_transposed_)  // dX = dY W, W being (n, k)
      ctx.be().gemm_ld(ctx, false, false, mr, k_, n_, 1.0f, dy, n_, w, k_, beta, dx, k_);
    for (int64_t i = 0; i < s_ && !w_transposed_; ++i)
      ctx.be().gemm_ld(ctx, false, true, mr, k_, n_, 1.0f, dy + i * n_, s_ * n_, w + i * k_ * n_,
                       n_, beta, dx + i * k_, s_ * k_);
    if (permute_x_)
      ctx.be().strided_copy(ctx, swapped(x_to_gemm_).batched(rows, x_size_, x_size_), dx, b.din[0],
                            b.din_accumulate[0]);
  }
}

}  // namespace ember
