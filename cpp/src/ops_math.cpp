#include "ember/ops_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cpu/parallel.h"
#include "ember/backend.h"
#include "ember/error.h"
#include "ember/kernels.h"

namespace ember {
namespace {

void check_index(const std::vector<int64_t>& index, int64_t expected, int64_t limit, const char* op,
                 const char* what) {
  if (static_cast<int64_t>(index.size()) != expected)
    throw ValueError(std::string(op) + ": " + what + " has " + std::to_string(index.size()) +
                     " entries for an output row of " + std::to_string(expected));
  for (int64_t i : index)
    if (i < 0 || i >= limit)
      throw ValueError(std::string(op) + ": " + what + " entry " + std::to_string(i) +
                       " is outside a row of " + std::to_string(limit));
}

float binary_apply(BinaryKind k, float a, float b) {
  switch (k) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Subtract: return a - b;
    case BinaryKind::Multiply: return a * b;
    case BinaryKind::Divide: return a / b;
    case BinaryKind::Maximum: return std::isnan(a) || std::isnan(b) ? a + b : std::max(a, b);
    case BinaryKind::Minimum: return std::isnan(a) || std::isnan(b) ? a + b : std::min(a, b);
    case BinaryKind::Power: return std::pow(a, b);
  }
  return 0.0f;
}

// d out / d (first: a, else b) times g, as jax's JVP rules write them.
float binary_grad(BinaryKind k, bool first, float g, float a, float b, float out) {
  switch (k) {
    case BinaryKind::Add: return g;
    case BinaryKind::Subtract: return first ? g : -g;
    case BinaryKind::Multiply: return first ? g * b : a * g;
    case BinaryKind::Divide: return first ? g / b : (-g * a) * (1.0f / (b * b));
    case BinaryKind::Maximum:
    case BinaryKind::Minimum: {
      // jax's balanced rule: the chosen operand gets g, both get g/2 on a tie.
      const float self = first ? a : b, other = first ? b : a;
      if (self != out) return 0.0f;
      return other == out ? g * 0.5f : g;
    }
    case BinaryKind::Power:
      if (first) return b == 0.0f ? 0.0f : g * (b * std::pow(a, b - 1.0f));
      return g * (std::log(a == 0.0f ? 1.0f : a) * out);
  }
  return 0.0f;
}

float unary_apply(UnaryKind k, float x) {
  switch (k) {
    case UnaryKind::Negative: return -x;
    case UnaryKind::Abs: return std::fabs(x);
    case UnaryKind::Square: return x * x;
    case UnaryKind::Sqrt: return std::sqrt(x);
    case UnaryKind::Exp: return std::exp(x);
    case UnaryKind::Log: return std::log(x);
    case UnaryKind::Reciprocal: return 1.0f / x;
    case UnaryKind::Sign: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
  }
  return 0.0f;
}

float unary_grad(UnaryKind k, float g, float x, float y) {
  switch (k) {
    case UnaryKind::Negative: return -g;
    case UnaryKind::Abs: return x >= 0.0f ? g : -g;
    case UnaryKind::Square: return g * (2.0f * x);
    case UnaryKind::Sqrt: return g * (0.5f / y);
    case UnaryKind::Exp: return g * y;
    case UnaryKind::Log: return g / x;
    case UnaryKind::Reciprocal: return g * -(1.0f / (x * x));
    case UnaryKind::Sign: return 0.0f;
  }
  return 0.0f;
}

}  // namespace

BinaryKind binary_kind_from_name(const std::string& name) {
  if (name == "add") return BinaryKind::Add;
  if (name == "subtract") return BinaryKind::Subtract;
  if (name == "multiply") return BinaryKind::Multiply;
  if (name == "divide") return BinaryKind::Divide;
  if (name == "maximum") return BinaryKind::Maximum;
  if (name == "minimum") return BinaryKind::Minimum;
  if (name == "power") return BinaryKind::Power;
  throw ValueError("Unknown binary op: '" + name + "'");
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
BinaryOp::BinaryOp(BinaryKind kind, OperandVar a, OperandVar b, Shape out_shape,
                   std::vector<int64_t> a_index, std::vector<int64_t> b_index)
    : kind_(kind), out_shape_(std::move(out_shape)) {
  a_.var = std::move(a);
  b_.var = std::move(b);
  a_.index = std::move(a_index);
  b_.index = std::move(b_index);
}

Shape BinaryOp::build(const std::vector<Shape>& inputs) {
  int next = 0, next_var = 0;
  for (Side* s : {&a_, &b_}) {
    if (s->var) {
      s->size = s->var->value.size();
      s->dvar = next_var++;
    } else {
      if (next >= static_cast<int>(inputs.size()))
        throw ValueError("Binary op: fewer graph inputs than batched operands");
      s->input = next;
      s->size = num_elements(inputs[static_cast<size_t>(next++)]);
    }
  }
  if (next != static_cast<int>(inputs.size()))
    throw ValueError("Binary op: more graph inputs than batched operands");
  if (next == 0) throw ValueError("Binary op: needs at least one batched operand");
  out_size_ = num_elements(out_shape_);
  check_index(a_.index, out_size_, a_.size, "Binary op", "first operand's index");
  check_index(b_.index, out_size_, b_.size, "Binary op", "second operand's index");
  return out_shape_;
}

std::vector<VariablePtr> BinaryOp::variables() const {
  std::vector<VariablePtr> v;
  if (a_.var) v.push_back(a_.var);
  if (b_.var) v.push_back(b_.var);
  return v;
}

const float* BinaryOp::base(const Side& s, const std::vector<const float*>& in, int64_t row) const {
  return s.var ? s.var->value.data() : in[static_cast<size_t>(s.input)] + row * s.size;
}

void BinaryOp::forward(const OpForward& f) {
  const int64_t n = out_size_;
  cpu::parallel_for(f.rows, f.rows * n, [&](int64_t r) {
    const float *pa = base(a_, f.in, r), *pb = base(b_, f.in, r);
    float* o = f.out + r * n;
    const int64_t *ia = a_.index.data(), *ib = b_.index.data();
    for (int64_t j = 0; j < n; ++j) o[j] = binary_apply(kind_, pa[ia[j]], pb[ib[j]]);
  });
}

void BinaryOp::backward(const OpBackward& b) {
  const int64_t n = out_size_;
  for (const Side* s : {&a_, &b_}) {
    const bool first = s == &a_;
    if (s->var) {
      float* dv = b.dvar[static_cast<size_t>(s->dvar)];
      if (!dv) continue;
      if (!b.dvar_accumulate[static_cast<size_t>(s->dvar)]) std::fill(dv, dv + s->size, 0.0f);
      // Every row adds into the one variable: rows in sequence.
      for (int64_t r = 0; r < b.rows; ++r) {
        const float *pa = base(a_, b.in, r), *pb = base(b_, b.in, r);
        const float *g = b.dout + r * n, *o = b.out + r * n;
        for (int64_t j = 0; j < n; ++j) {
          const float av = pa[a_.index[j]], bv = pb[b_.index[j]];
          dv[s->index[j]] += binary_grad(kind_, first, g[j], av, bv, o[j]);
        }
      }
    } else {
      float* dx = b.din[static_cast<size_t>(s->input)];
      if (!dx) continue;
      const bool accumulate = b.din_accumulate[static_cast<size_t>(s->input)];
      cpu::parallel_for(b.rows, b.rows * n, [&](int64_t r) {
        float* d = dx + r * s->size;
        if (!accumulate) std::fill(d, d + s->size, 0.0f);
        const float *pa = base(a_, b.in, r), *pb = base(b_, b.in, r);
        const float *g = b.dout + r * n, *o = b.out + r * n;
        for (int64_t j = 0; j < n; ++j) {
          const float av = pa[a_.index[j]], bv = pb[b_.index[j]];
          d[s->index[j]] += binary_grad(kind_, first, g[j], av, bv, o[j]);
        }
      });
    }
  }
}

// ---- UnaryOp
Shape UnaryOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Unary op takes exactly one input");
  size_ = num_elements(inputs[0]);
  return inputs[0];
}

void UnaryOp::forward(const OpForward& f) {
  const float* x = f.in[0];
  float* y = f.out;
  const UnaryKind k = kind_;
  cpu::parallel_for(f.rows * size_, f.rows * size_,
                    [=](int64_t i) { y[i] = unary_apply(k, x[i]); });
}

void UnaryOp::backward(const OpBackward& b) {
  float* dx = b.din[0];
  if (!dx) return;
  const float *x = b.in[0], *y = b.out, *g = b.dout;
  const UnaryKind k = kind_;
  const bool accumulate = b.din_accumulate[0];
  cpu::parallel_for(b.rows * size_, b.rows * size_, [=](int64_t i) {
    const float d = unary_grad(k, g[i], x[i], y[i]);
    dx[i] = accumulate ? dx[i] + d : d;
  });
}

// ---- ReduceOp
ReduceOp::ReduceOp(ReduceKind kind, Shape out_shape, std::vector<int64_t> out_index)
    : kind_(kind), out_shape_(std::move(out_shape)), out_index_(std::move(out_index)) {}

Shape ReduceOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Reduce op takes exactly one input");
  in_size_ = num_elements(inputs[0]);
  out_size_ = num_elements(out_shape_);
  check_index(out_index_, in_size_, out_size_, "Reduce op", "output index");
  counts_.assign(static_cast<size_t>(out_size_), 0.0f);
  for (int64_t o : out_index_) counts_[static_cast<size_t>(o)] += 1.0f;
  for (float c : counts_)
    if (c == 0.0f) throw ValueError("Reduce op: an output element reduces no input");
  return out_shape_;
}

std::vector<size_t> ReduceOp::scratch_bytes(int64_t max_rows) const {
  return {static_cast<size_t>(max_rows * out_size_) * sizeof(double)};
}

void ReduceOp::forward(const OpForward& f) {
  const int64_t n = in_size_, m = out_size_;
  cpu::parallel_for(f.rows, f.rows * n, [&](int64_t r) {
    const float* x = f.in[0] + r * n;
    float* y = f.out + r * m;
    if (kind_ == ReduceKind::Max || kind_ == ReduceKind::Min) {
      const bool is_max = kind_ == ReduceKind::Max;
      std::fill(y, y + m,
                is_max ? -std::numeric_limits<float>::infinity()
                       : std::numeric_limits<float>::infinity());
      for (int64_t j = 0; j < n; ++j) {
        float& o = y[out_index_[j]];
        const float v = x[j];
        if (std::isnan(o)) continue;  // NaN wins, as in jax
        if (std::isnan(v) || (is_max ? v > o : v < o)) o = v;
      }
      return;
    }
    // Sums in double, in input order.
    double* acc = f.scratch_as<double>(0) + r * m;
    std::fill(acc, acc + m, 0.0);
    for (int64_t j = 0; j < n; ++j) acc[out_index_[j]] += x[j];
    for (int64_t o = 0; o < m; ++o) {
      const auto sum = static_cast<float>(acc[o]);
      y[o] = kind_ == ReduceKind::Mean ? sum / counts_[static_cast<size_t>(o)] : sum;
    }
  });
}

void ReduceOp::backward(const OpBackward& b) {
  float* dx = b.din[0];
  if (!dx) return;
  const int64_t n = in_size_, m = out_size_;
  const bool accumulate = b.din_accumulate[0];
  const bool chooser = kind_ == ReduceKind::Max || kind_ == ReduceKind::Min;
  cpu::parallel_for(b.rows, b.rows * n, [&](int64_t r) {
    const float *x = b.in[0] + r * n, *y = b.out + r * m, *g = b.dout + r * m;
    float* d = dx + r * n;
    double* ties = b.scratch_as<double>(0) + r * m;
    if (chooser) {  // jax: the gradient is split evenly among the tied extremes
      std::fill(ties, ties + m, 0.0);
      for (int64_t j = 0; j < n; ++j)
        if (x[j] == y[out_index_[j]]) ties[out_index_[j]] += 1.0;
    }
    for (int64_t j = 0; j < n; ++j) {
      const int64_t o = out_index_[j];
      float v;
      if (kind_ == ReduceKind::Sum)
        v = g[o];
      else if (kind_ == ReduceKind::Mean)
        v = g[o] / counts_[static_cast<size_t>(o)];
      else
        v = x[j] == y[o] ? g[o] / static_cast<float>(ties[o]) : 0.0f;
      d[j] = accumulate ? d[j] + v : v;
    }
  });
}

// ---- GatherOp
GatherOp::GatherOp(Shape out_shape, std::vector<int64_t> index)
    : out_shape_(std::move(out_shape)), index_(std::move(index)) {}

Shape GatherOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Gather op takes exactly one input");
  in_size_ = num_elements(inputs[0]);
  check_index(index_, num_elements(out_shape_), in_size_, "Gather op", "index");
  return out_shape_;
}

void GatherOp::forward(const OpForward& f) {
  const auto n = static_cast<int64_t>(index_.size());
  cpu::parallel_for(f.rows, f.rows * n, [&](int64_t r) {
    const float* x = f.in[0] + r * in_size_;
    float* y = f.out + r * n;
    for (int64_t j = 0; j < n; ++j) y[j] = x[index_[j]];
  });
}

void GatherOp::backward(const OpBackward& b) {
  float* dx = b.din[0];
  if (!dx) return;
  const auto n = static_cast<int64_t>(index_.size());
  const bool accumulate = b.din_accumulate[0];
  cpu::parallel_for(b.rows, b.rows * n, [&](int64_t r) {
    float* d = dx + r * in_size_;
    if (!accumulate) std::fill(d, d + in_size_, 0.0f);
    const float* g = b.dout + r * n;
    for (int64_t j = 0; j < n; ++j) d[index_[j]] += g[j];
  });
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
  for (int64_t r = 0; r < f.rows; ++r)
    f.ctx->be().gemm(*f.ctx, false, false, m_, n_, k_, 1.0f, f.in[0] + r * m_ * k_,
                     f.in[1] + r * k_ * n_, 0.0f, f.out + r * m_ * n_);
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
  for (int64_t r = 0; r < b.rows; ++r) {
    const float *a = b.in[0] + r * m_ * k_, *w = b.in[1] + r * k_ * n_, *g = b.dout + r * m_ * n_;
    if (b.din[0])
      b.ctx->be().gemm(*b.ctx, false, true, m_, k_, n_, 1.0f, g, w,
                       b.din_accumulate[0] ? 1.0f : 0.0f, b.din[0] + r * m_ * k_);
    if (b.din[1])
      b.ctx->be().gemm(*b.ctx, true, false, k_, n_, m_, 1.0f, a, g,
                       b.din_accumulate[1] ? 1.0f : 0.0f, b.din[1] + r * k_ * n_);
  }
}

}  // namespace ember
