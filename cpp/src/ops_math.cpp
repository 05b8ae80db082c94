#include "ember/ops_math.h"

#include <algorithm>
#include <string>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {

BinaryKind binary_kind_from_name(const std::string& name) {
  if (name == "add") return BinaryKind::Add;
  if (name == "subtract") return BinaryKind::Subtract;
  if (name == "multiply") return BinaryKind::Multiply;
  if (name == "divide") return BinaryKind::Divide;
  if (name == "maximum") return BinaryKind::Maximum;
  if (name == "minimum") return BinaryKind::Minimum;
  if (name == "power") return BinaryKind::Power;
  if (name == "greater") return BinaryKind::Greater;
  if (name == "greater_equal") return BinaryKind::GreaterEqual;
  if (name == "less") return BinaryKind::Less;
  if (name == "less_equal") return BinaryKind::LessEqual;
  if (name == "equal") return BinaryKind::Equal;
  if (name == "not_equal") return BinaryKind::NotEqual;
  if (name == "arctan2") return BinaryKind::Arctan2;
  if (name == "floor_divide") return BinaryKind::FloorDivide;
  if (name == "mod") return BinaryKind::Mod;
  throw ValueError("Unknown binary op: '" + name + "'");
}

const char* binary_kind_name(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::Add: return "add";
    case BinaryKind::Subtract: return "subtract";
    case BinaryKind::Multiply: return "multiply";
    case BinaryKind::Divide: return "divide";
    case BinaryKind::Maximum: return "maximum";
    case BinaryKind::Minimum: return "minimum";
    case BinaryKind::Power: return "power";
    case BinaryKind::Greater: return "greater";
    case BinaryKind::GreaterEqual: return "greater_equal";
    case BinaryKind::Less: return "less";
    case BinaryKind::LessEqual: return "less_equal";
    case BinaryKind::Equal: return "equal";
    case BinaryKind::NotEqual: return "not_equal";
    case BinaryKind::Arctan2: return "arctan2";
    case BinaryKind::FloorDivide: return "floor_divide";
    case BinaryKind::Mod: return "mod";
  }
  return "?";
}

UnaryKind unary_kind_from_name(const std::string& name) {
  if (name == "negative") return UnaryKind::Negative;
  if (name == "abs" || name == "absolute") return UnaryKind::Abs;
  if (name == "square") return UnaryKind::Square;
  if (name == "sqrt") return UnaryKind::Sqrt;
  if (name == "exp") return UnaryKind::Exp;
  if (name == "log") return UnaryKind::Log;
  if (name == "reciprocal") return UnaryKind::Reciprocal;
  if (name == "sign") return UnaryKind::Sign;
  if (name == "sin") return UnaryKind::Sin;
  if (name == "cos") return UnaryKind::Cos;
  if (name == "tan") return UnaryKind::Tan;
  if (name == "arcsin") return UnaryKind::Arcsin;
  if (name == "arccos") return UnaryKind::Arccos;
  if (name == "arctan") return UnaryKind::Arctan;
  if (name == "sinh") return UnaryKind::Sinh;
  if (name == "cosh") return UnaryKind::Cosh;
  if (name == "arcsinh") return UnaryKind::Arcsinh;
  if (name == "arccosh") return UnaryKind::Arccosh;
  if (name == "arctanh") return UnaryKind::Arctanh;
  if (name == "log1p") return UnaryKind::Log1p;
  if (name == "expm1") return UnaryKind::Expm1;
  if (name == "erf") return UnaryKind::Erf;
  if (name == "floor") return UnaryKind::Floor;
  if (name == "ceil") return UnaryKind::Ceil;
  if (name == "round") return UnaryKind::Round;
  if (name == "trunc") return UnaryKind::Trunc;
  if (name == "stop_gradient") return UnaryKind::StopGradient;
  throw ValueError("Unknown unary op: '" + name + "'");
}

ReduceKind reduce_kind_from_name(const std::string& name) {
  if (name == "sum") return ReduceKind::Sum;
  if (name == "mean") return ReduceKind::Mean;
  if (name == "max") return ReduceKind::Max;
  if (name == "min") return ReduceKind::Min;
  throw ValueError("Unknown reduction: '" + name + "'");
}

// ---- BinaryOp
BinaryOp::BinaryOp(BinaryKind kind, OperandVar a, OperandVar b) : kind_(kind) {
  a_.var = std::move(a);
  b_.var = std::move(b);
}

Shape BinaryOp::build(const std::vector<Shape>& inputs) {
  const std::string op = binary_kind_name(kind_);
  // Each operand's full shape (a batched one's with its batch axis) and how it prints.
  Shape full[2];
  std::string shown[2];
  size_t rank = 0;
  int next = 0, next_var = 0;
  Side* sides[2] = {&a_, &b_};
  for (size_t i = 0; i < 2; ++i) {
    Side& s = *sides[i];
    if (s.var) {
      full[i] = s.var->value.shape();
      shown[i] = shape_to_string(full[i]);
      s.dvar = next_var++;
      s.batch_stride = 0;
    } else {
      if (next >= static_cast<int>(inputs.size()))
        throw ValueError(op + ": fewer graph inputs than batched operands");
      s.input = next;
      const Shape& row = inputs[static_cast<size_t>(next++)];
      full[i] = Shape{1};
      full[i].insert(full[i].end(), row.begin(), row.end());
      shown[i] = batched_shape_to_string(row);
      s.batch_stride = num_elements(row);
    }
    rank = std::max(rank, full[i].size());
  }
  if (next != static_cast<int>(inputs.size()))
    throw ValueError(op + ": more graph inputs than batched operands");
  if (next == 0) throw ValueError(op + ": needs at least one batched operand");
  const std::string shapes = shown[0] + " and " + shown[1];
  Shape row[2];
  for (size_t i = 0; i < 2; ++i) {
    if (!sides[i]->var && full[i].size() != rank)
      throw ValueError(op + ": cannot broadcast shapes " + shapes +
                       ": the batch axis must stay the first axis");
    Shape padded(rank - full[i].size(), 1);
    padded.insert(padded.end(), full[i].begin(), full[i].end());
    if (padded[0] != 1)
      throw ValueError(op + ": cannot broadcast shapes " + shapes + ": " + shown[i] +
                       " would extend along the batch axis");
    row[i].assign(padded.begin() + 1, padded.end());
  }
  Shape out =
      broadcast_shapes(row[0], row[1], op + ": shapes " + shapes + " cannot be broadcast together");
  row_layout_ =
      make_strided_layout(out, broadcast_strides(row[0], out), broadcast_strides(row[1], out), op);
  return out;
}

std::vector<VariablePtr> BinaryOp::variables() const {
  std::vector<VariablePtr> v;
  if (a_.var) v.push_back(a_.var);
  if (b_.var) v.push_back(b_.var);
  return v;
}

const float* BinaryOp::data(const Side& s, const std::vector<const float*>& in) const {
  return s.var ? s.var->value.data() : in[static_cast<size_t>(s.input)];
}

void BinaryOp::forward(const OpForward& f) {
  const StridedLayout layout = row_layout_.batched(f.rows, a_.batch_stride, b_.batch_stride);
  f.ctx->be().binary_forward(*f.ctx, kind_, layout, data(a_, f.in), data(b_, f.in), f.out);
}

void BinaryOp::backward(const OpBackward& b) {
  float* grad[2] = {nullptr, nullptr};
  bool accumulate[2] = {false, false};
  const Side* sides[2] = {&a_, &b_};
  for (size_t i = 0; i < 2; ++i) {
    const Side& s = *sides[i];
    const auto k = static_cast<size_t>(s.var ? s.dvar : s.input);
    if (s.var && k < b.dvar.size()) {
      grad[i] = b.dvar[k];
      accumulate[i] = b.dvar_accumulate[k];
    } else if (!s.var) {
      grad[i] = b.din[k];
      accumulate[i] = b.din_accumulate[k];
    }
  }
  if (!grad[0] && !grad[1]) return;
  const StridedLayout layout = row_layout_.batched(b.rows, a_.batch_stride, b_.batch_stride);
  b.ctx->be().binary_backward(*b.ctx, kind_, layout, data(a_, b.in), data(b_, b.in), b.out, b.dout,
                              grad[0], accumulate[0], grad[1], accumulate[1]);
}

// ---- UnaryOp
Shape UnaryOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Unary op takes exactly one input");
  size_ = num_elements(inputs[0]);
  return inputs[0];
}

void UnaryOp::forward(const OpForward& f) {
  f.ctx->be().unary_forward(*f.ctx, kind_, f.in[0], f.out, f.rows * size_);
}

void UnaryOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  b.ctx->be().unary_backward(*b.ctx, kind_, b.in[0], b.out, b.dout, b.din[0], b.rows * size_,
                             b.din_accumulate[0]);
}

// ---- ReduceOp
Shape ReduceOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Reduce op takes exactly one input");
  const Shape& row = inputs[0];
  std::vector<char> reduced(row.size(), 0);
  for (int a : axes_) {
    if (a < 0 || a >= static_cast<int>(row.size()))
      throw ValueError("Reduce op: axis " + std::to_string(a + 1) + " is out of range for " +
                       batched_shape_to_string(row));
    if (reduced[static_cast<size_t>(a)])
      throw ValueError("Reduce op: axis " + std::to_string(a + 1) + " is given twice");
    if (row[static_cast<size_t>(a)] == 0)
      throw ValueError("Reduce op: axis " + std::to_string(a + 1) + " of " +
                       batched_shape_to_string(row) +
                       " is empty; an output element reduces no input");
    reduced[static_cast<size_t>(a)] = 1;
  }
  Shape kept = row, out;
  for (size_t d = 0; d < row.size(); ++d) {
    if (reduced[d]) kept[d] = 1;
    if (!reduced[d] || keepdims_) out.push_back(kept[d]);
  }
  out_size_ = num_elements(kept);
  row_layout_ = make_strided_layout(row, broadcast_strides(kept, row),
                                    std::vector<int64_t>(row.size(), 0), "Reduce op");
  return out;
}

void ReduceOp::forward(const OpForward& f) {
  f.ctx->be().reduce_forward(*f.ctx, kind_, row_layout_.batched(f.rows, out_size_, 0), f.in[0],
                             f.out);
}

void ReduceOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  b.ctx->be().reduce_backward(*b.ctx, kind_, row_layout_.batched(b.rows, out_size_, 0), b.in[0],
                              b.out, b.dout, b.din[0], b.din_accumulate[0]);
}

// ---- GatherOp
GatherOp::GatherOp(Shape out_shape, std::vector<int64_t> index)
    : out_shape_(std::move(out_shape)), index_(std::move(index)) {}

Shape GatherOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Gather op takes exactly one input");
  in_size_ = num_elements(inputs[0]);
  const int64_t expected = num_elements(out_shape_);
  if (static_cast<int64_t>(index_.size()) != expected)
    throw ValueError("Gather op: index has " + std::to_string(index_.size()) +
                     " entries for an output row of " + std::to_string(expected));
  for (int64_t i : index_)
    if (i < 0 || i >= in_size_)
      throw ValueError("Gather op: index entry " + std::to_string(i) + " is outside a row of " +
                       std::to_string(in_size_));
  return out_shape_;
}

void GatherOp::forward(const OpForward& f) {
  f.ctx->be().gather_forward(*f.ctx, f.in[0], in_size_, index_.data(),
                             static_cast<int64_t>(index_.size()), f.rows, f.out);
}

void GatherOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  b.ctx->be().gather_backward(*b.ctx, b.dout, index_.data(), static_cast<int64_t>(index_.size()),
                              b.rows, b.din[0], in_size_, b.din_accumulate[0]);
}

// ---- MatMulOp
Shape MatMulOp::build(const std::vector<Shape>& inputs) {
  if (w_) {
    if (inputs.size() != 1) throw ValueError("matmul with a weight takes one batched input");
    const Shape& w = w_->value.shape();
    const Shape& x = inputs[0];
    if (w.size() != 2)
      throw ValueError("matmul: the right operand must be 2-D (k, n), got shape " +
                       shape_to_string(w));
    if (x.empty() || x.back() != w[0])
      throw ValueError("matmul: inputs of shape " + batched_shape_to_string(x) + " and " +
                       shape_to_string(w) + " do not match (last axis against first)");
    k_ = w[0];
    n_ = w[1];
    m_ = num_elements(x) / k_;
    Shape out(x.begin(), x.end() - 1);
    out.push_back(n_);
    return out;
  }
  if (inputs.size() != 2) throw ValueError("matmul takes two operands");
  const Shape &a = inputs[0], &b = inputs[1];
  if (a.size() != 2 || b.size() != 2 || a[1] != b[0])
    throw ValueError("matmul of two batched values needs rows (m, k) and (k, n), got " +
                     batched_shape_to_string(a) + " and " + batched_shape_to_string(b));
  m_ = a[0];
  k_ = a[1];
  n_ = b[1];
  return {m_, n_};
}

std::vector<VariablePtr> MatMulOp::variables() const {
  if (w_) return {w_};
  return {};
}

void MatMulOp::forward(const OpForward& f) {
  if (w_) {
    f.ctx->be().gemm(*f.ctx, false, false, f.rows * m_, n_, k_, 1.0f, f.in[0], w_->value.data(),
                     0.0f, f.out);
    return;
  }
  f.ctx->be().gemm_batched(*f.ctx, false, false, m_, n_, k_, 1.0f, f.in[0], m_ * k_, f.in[1],
                           k_ * n_, 0.0f, f.out, m_ * n_, f.rows);
}

void MatMulOp::backward(const OpBackward& b) {
  if (w_) {
    const int64_t rows = b.rows * m_;
    if (b.din[0])
      b.ctx->be().gemm(*b.ctx, false, true, rows, k_, n_, 1.0f, b.dout, w_->value.data(),
                       b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0]);
    if (!b.dvar.empty() && b.dvar[0])
      b.ctx->be().gemm(*b.ctx, true, false, k_, n_, rows, 1.0f, b.in[0], b.dout,
                       b.dvar_accumulate[0] ? 1.0f : 0.0f, b.dvar[0]);
    return;
  }
  // Per row: dx = g w^T, dy = x^T g.
  if (b.din[0])
    b.ctx->be().gemm_batched(*b.ctx, false, true, m_, k_, n_, 1.0f, b.dout, m_ * n_, b.in[1],
                             k_ * n_, b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0], m_ * k_, b.rows);
  if (b.din[1])
    b.ctx->be().gemm_batched(*b.ctx, true, false, k_, n_, m_, 1.0f, b.in[0], m_ * k_, b.dout,
                             m_ * n_, b.din_accumulate[1] ? 1.0f : 0.0f, b.din[1], k_ * n_, b.rows);
}

}  // namespace ember
