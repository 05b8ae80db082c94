// The CPU body of the elementwise engine (backend.h's "elementwise, reductions, gathers,
// merges"): binary and unary arithmetic over a StridedLayout (strided.h), reductions over
// axes, gathers within a row, and strided copies. The per-element math is element/arith.h's.
//
// Two loop shapes cover every kernel:
//  * lines: the iteration space as lines of its innermost axis, cut into chunks that the
//    threads share. Forward passes and gradients of operands that are not broadcast (each
//    element of the space writes its own element).
//  * groups: one task per element (or block of neighbouring elements) of a broadcast operand or
//    of a reduction's output, walking the axes it is broadcast along in row-major order. Gradients
//    of broadcast operands and reductions: every sum is one thread's, in one fixed order, so
//    results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"
#include "ember/element/arith.h"

namespace ember::cpu {
namespace {

constexpr int64_t kChunk = 4096;  // elements of a line per task: lines are cut for threads
constexpr int64_t kBlock = 256;   // elements a reducing task sums side by side

// Where one element of the iteration space is: in the contiguous space and for both operands.
struct Offsets {
  int64_t space = 0, op0 = 0, op1 = 0;
};

// The contiguous strides of the iteration space.
void space_strides(const StridedLayout& L, int64_t* st) {
  int64_t s = 1;
  for (int d = L.rank; d-- > 0;) {
    st[d] = s;
    s *= L.shape[d];
  }
}

// calls line(offsets, n, s0, s1): n elements at space + j, op0 + j * s0, op1 + j * s1.
// A layout with no axes (one element) as one axis of length 1.
StridedLayout at_least_1d(const StridedLayout& L) {
  if (L.rank > 0) return L;
  StridedLayout one;
  one.rank = 1;
  one.shape[0] = 1;
  return one;
}

template <class Line>
void for_each_line(const StridedLayout& layout, Line&& line) {
  const StridedLayout L = at_least_1d(layout);
  const int64_t total = L.size();
  if (total == 0) return;
  const int last = L.rank - 1;
  const int64_t inner = L.shape[last], s0 = L.stride[0][last], s1 = L.stride[1][last];
  const int64_t lines = total / inner, chunks = (inner + kChunk - 1) / kChunk;
  parallel_for(lines * chunks, total, [&](int64_t task) {
    int64_t rest = task / chunks;
    const int64_t begin = task % chunks * kChunk;
    Offsets o{rest * inner + begin, begin * s0, begin * s1};
    for (int d = last - 1; d >= 0; --d) {
      const int64_t i = rest % L.shape[d];
      rest /= L.shape[d];
      o.op0 += i * L.stride[0][d];
      o.op1 += i * L.stride[1][d];
    }
    line(o, std::min(kChunk, inner - begin), s0, s1);
  });
}

// A set of axes of a layout with their strides in the space and for both operands.
struct Axes {
  int n = 0;
  int64_t shape[kMaxStridedRank] = {}, space[kMaxStridedRank] = {};
  int64_t op0[kMaxStridedRank] = {}, op1[kMaxStridedRank] = {};
  int64_t size() const {
    int64_t s = 1;
    for (int d = 0; d < n; ++d) s *= shape[d];
    return s;
  }
  void push(const StridedLayout& L, const int64_t* space_stride, int d) {
    shape[n] = L.shape[d];
    space[n] = space_stride[d];
    op0[n] = L.stride[0][d];
    op1[n] = L.stride[1][d];
    ++n;
  }
};

// Calls visit(offsets) for every element of `axes` from `o`, in row-major order.
template <class Visit>
void walk(const Axes& ax, Offsets o, Visit&& visit) {
  if (ax.n == 0) {
    visit(o);
    return;
  }
  const int last = ax.n - 1;
  int64_t idx[kMaxStridedRank] = {};
  for (;;) {
    for (int64_t j = 0; j < ax.shape[last]; ++j)
      visit(Offsets{o.space + j * ax.space[last], o.op0 + j * ax.op0[last],
                    o.op1 + j * ax.op1[last]});
    int d = last - 1;
    for (; d >= 0; --d) {
      o.space += ax.space[d];
      o.op0 += ax.op0[d];
      o.op1 += ax.op1[d];
      if (++idx[d] < ax.shape[d]) break;
      o.space -= ax.space[d] * ax.shape[d];
      o.op0 -= ax.op0[d] * ax.shape[d];
      o.op1 -= ax.op1[d] * ax.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// A block of operand p's elements: n consecutive ones along the space's innermost axis (one
// when p is broadcast along it), element j at start + j * step.
struct Block {
  Offsets start;
  int64_t n = 1;
  Offsets step;
  Offsets at(const Offsets& o, int64_t j) const {
    return {o.space + j * step.space, o.op0 + j * step.op0, o.op1 + j * step.op1};
  }
};

// One task per block of operand p's elements (the axes where its stride is not 0, in
// parallel): group(block, reduced) with the offsets of the block's first element and the axes
// p is broadcast along, which the group walks. Blocks along a kept innermost axis make each
// step of that walk read whole cache lines (a bias's gradient sums rows, not columns).
template <class Group>
void for_each_group(const StridedLayout& layout, int p, Group&& group) {
  const StridedLayout L = at_least_1d(layout);
  if (L.size() == 0) return;
  int64_t st[kMaxStridedRank];
  space_strides(L, st);
  const int last = L.rank - 1;
  const bool inner_kept = L.stride[p][last] != 0;
  Axes kept, reduced;
  for (int d = 0; d < L.rank; ++d) {
    if (d == last && inner_kept) continue;
    if (L.stride[p][d] != 0)
      kept.push(L, st, d);
    else
      reduced.push(L, st, d);
  }
  const int64_t inner = inner_kept ? L.shape[last] : 1;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const Offsets step = inner_kept ? Offsets{1, L.stride[0][last], L.stride[1][last]} : Offsets{};
  parallel_for(kept.size() * blocks, L.size(), [&](int64_t task) {
    int64_t t = task / blocks;
    const int64_t begin = task % blocks * kBlock;
    Block b{{begin * step.space, begin * step.op0, begin * step.op1},
            std::min(kBlock, inner - begin),
            step};
    for (int d = kept.n - 1; d >= 0; --d) {
      const int64_t i = t % kept.shape[d];
      t /= kept.shape[d];
      b.start.space += i * kept.space[d];
      b.start.op0 += i * kept.op0[d];
      b.start.op1 += i * kept.op1[d];
    }
    group(b, reduced);
  });
}

bool broadcast_along_some_axis(const StridedLayout& L, int p) {
  for (int d = 0; d < L.rank; ++d)
    if (L.stride[p][d] == 0 && L.shape[d] > 1) return true;
  return false;
}

inline void put(float& d, float v, bool accumulate) { d = accumulate ? d + v : v; }

template <BinaryKind K>
void binary_forward_k(const StridedLayout& L, const float* a, const float* b, float* out) {
  for_each_line(L, [&](Offsets o, int64_t n, int64_t s0, int64_t s1) {
    const float *pa = a + o.op0, *pb = b + o.op1;
    float* po = out + o.space;
    // The common stride patterns as their own loops, which the compiler vectorizes.
    if (s0 == 1 && s1 == 1) {
      for (int64_t j = 0; j < n; ++j) po[j] = element::binary_forward(K, pa[j], pb[j]);
    } else if (s0 == 1 && s1 == 0) {
      const float bv = *pb;
      for (int64_t j = 0; j < n; ++j) po[j] = element::binary_forward(K, pa[j], bv);
    } else if (s0 == 0 && s1 == 1) {
      const float av = *pa;
      for (int64_t j = 0; j < n; ++j) po[j] = element::binary_forward(K, av, pb[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) po[j] = element::binary_forward(K, pa[j * s0], pb[j * s1]);
    }
  });
}

// d (+)= the gradient of operand p (0: a, 1: b).
template <BinaryKind K, int P>
void binary_backward_k(const StridedLayout& L, const float* a, const float* b, const float* out,
                       const float* dout, float* d, bool accumulate) {
  constexpr bool reads = element::binary_grad_reads_values(K);
  auto grad = [&](const Offsets& o) {
    const float g = dout[o.space];
    if constexpr (!reads) return element::binary_grad(K, P == 0, g, 0.0f, 0.0f, 0.0f);
    // out only where the kind's gradient reads it: a caller may pass none (backend.h).
    const float y = element::binary_grad_reads_output(K) ? out[o.space] : 0.0f;
    return element::binary_grad(K, P == 0, g, a[o.op0], b[o.op1], y);
  };
  if (!broadcast_along_some_axis(L, P)) {
    for_each_line(L, [&](Offsets o, int64_t n, int64_t s0, int64_t s1) {
      const int64_t sp = P == 0 ? s0 : s1;
      float* dp = d + (P == 0 ? o.op0 : o.op1);
      for (int64_t j = 0; j < n; ++j)
        put(dp[j * sp], grad(Offsets{o.space + j, o.op0 + j * s0, o.op1 + j * s1}), accumulate);
    });
    return;
  }
  for_each_group(L, P, [&](const Block& blk, const Axes& reduced) {
    double sum[kBlock];
    std::fill(sum, sum + blk.n, 0.0);
    walk(reduced, blk.start, [&](const Offsets& o) {
      for (int64_t j = 0; j < blk.n; ++j) sum[j] += grad(blk.at(o, j));
    });
    const Offsets& o = blk.start;
    float* dp = d + (P == 0 ? o.op0 : o.op1);
    const int64_t sp = P == 0 ? blk.step.op0 : blk.step.op1;
    for (int64_t j = 0; j < blk.n; ++j) put(dp[j * sp], static_cast<float>(sum[j]), accumulate);
  });
}

template <BinaryKind K>
void binary_backward_both(const StridedLayout& L, const float* a, const float* b, const float* out,
                          const float* dout, float* da, bool da_accumulate, float* db,
                          bool db_accumulate) {
  if (da) binary_backward_k<K, 0>(L, a, b, out, dout, da, da_accumulate);
  if (db) binary_backward_k<K, 1>(L, a, b, out, dout, db, db_accumulate);
}

// Calls f(std::integral_constant<..., kind>) with the kind as a compile-time constant, so each
// kind's loops are compiled with its formula inlined.
template <class F>
void dispatch(BinaryKind kind, F&& f) {
  switch (kind) {
    case BinaryKind::Add: f(std::integral_constant<BinaryKind, BinaryKind::Add>{}); break;
    case BinaryKind::Subtract: f(std::integral_constant<BinaryKind, BinaryKind::Subtract>{}); break;
    case BinaryKind::Multiply: f(std::integral_constant<BinaryKind, BinaryKind::Multiply>{}); break;
    case BinaryKind::Divide: f(std::integral_constant<BinaryKind, BinaryKind::Divide>{}); break;
    case BinaryKind::Maximum: f(std::integral_constant<BinaryKind, BinaryKind::Maximum>{}); break;
    case BinaryKind::Minimum: f(std::integral_constant<BinaryKind, BinaryKind::Minimum>{}); break;
    case BinaryKind::Power: f(std::integral_constant<BinaryKind, BinaryKind::Power>{}); break;
    case BinaryKind::Greater: f(std::integral_constant<BinaryKind, BinaryKind::Greater>{}); break;
    case BinaryKind::GreaterEqual:
      f(std::integral_constant<BinaryKind, BinaryKind::GreaterEqual>{});
      break;
    case BinaryKind::Less: f(std::integral_constant<BinaryKind, BinaryKind::Less>{}); break;
    case BinaryKind::LessEqual:
      f(std::integral_constant<BinaryKind, BinaryKind::LessEqual>{});
      break;
    case BinaryKind::Equal: f(std::integral_constant<BinaryKind, BinaryKind::Equal>{}); break;
    case BinaryKind::NotEqual: f(std::integral_constant<BinaryKind, BinaryKind::NotEqual>{}); break;
    case BinaryKind::Arctan2: f(std::integral_constant<BinaryKind, BinaryKind::Arctan2>{}); break;
    case BinaryKind::FloorDivide:
      f(std::integral_constant<BinaryKind, BinaryKind::FloorDivide>{});
      break;
    case BinaryKind::Mod: f(std::integral_constant<BinaryKind, BinaryKind::Mod>{}); break;
  }
}

template <UnaryKind K>
void unary_forward_k(const float* x, float* y, int64_t n) {
  parallel_chunks(n, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = element::unary_forward(K, x[i]);
  });
}

template <UnaryKind K>
void unary_backward_k(const float* x, const float* y, const float* dy, float* dx, int64_t n,
                      bool accumulate) {
  parallel_chunks(n, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      put(dx[i], element::unary_grad(K, dy[i], x[i], y[i]), accumulate);
  });
}

template <class F>
void dispatch(UnaryKind kind, F&& f) {
  switch (kind) {
    case UnaryKind::Negative: f(std::integral_constant<UnaryKind, UnaryKind::Negative>{}); break;
    case UnaryKind::Abs: f(std::integral_constant<UnaryKind, UnaryKind::Abs>{}); break;
    case UnaryKind::Square: f(std::integral_constant<UnaryKind, UnaryKind::Square>{}); break;
    case UnaryKind::Sqrt: f(std::integral_constant<UnaryKind, UnaryKind::Sqrt>{}); break;
    case UnaryKind::Exp: f(std::integral_constant<UnaryKind, UnaryKind::Exp>{}); break;
    case UnaryKind::Log: f(std::integral_constant<UnaryKind, UnaryKind::Log>{}); break;
    case UnaryKind::Reciprocal:
      f(std::integral_constant<UnaryKind, UnaryKind::Reciprocal>{});
      break;
    case UnaryKind::Sign: f(std::integral_constant<UnaryKind, UnaryKind::Sign>{}); break;
    case UnaryKind::Sin: f(std::integral_constant<UnaryKind, UnaryKind::Sin>{}); break;
    case UnaryKind::Cos: f(std::integral_constant<UnaryKind, UnaryKind::Cos>{}); break;
    case UnaryKind::Tan: f(std::integral_constant<UnaryKind, UnaryKind::Tan>{}); break;
    case UnaryKind::Arcsin: f(std::integral_constant<UnaryKind, UnaryKind::Arcsin>{}); break;
    case UnaryKind::Arccos: f(std::integral_constant<UnaryKind, UnaryKind::Arccos>{}); break;
    case UnaryKind::Arctan: f(std::integral_constant<UnaryKind, UnaryKind::Arctan>{}); break;
    case UnaryKind::Sinh: f(std::integral_constant<UnaryKind, UnaryKind::Sinh>{}); break;
    case UnaryKind::Cosh: f(std::integral_constant<UnaryKind, UnaryKind::Cosh>{}); break;
    case UnaryKind::Arcsinh: f(std::integral_constant<UnaryKind, UnaryKind::Arcsinh>{}); break;
    case UnaryKind::Arccosh: f(std::integral_constant<UnaryKind, UnaryKind::Arccosh>{}); break;
    case UnaryKind::Arctanh: f(std::integral_constant<UnaryKind, UnaryKind::Arctanh>{}); break;
    case UnaryKind::Log1p: f(std::integral_constant<UnaryKind, UnaryKind::Log1p>{}); break;
    case UnaryKind::Expm1: f(std::integral_constant<UnaryKind, UnaryKind::Expm1>{}); break;
    case UnaryKind::Erf: f(std::integral_constant<UnaryKind, UnaryKind::Erf>{}); break;
    case UnaryKind::Floor: f(std::integral_constant<UnaryKind, UnaryKind::Floor>{}); break;
    case UnaryKind::Ceil: f(std::integral_constant<UnaryKind, UnaryKind::Ceil>{}); break;
    case UnaryKind::Round: f(std::integral_constant<UnaryKind, UnaryKind::Round>{}); break;
    case UnaryKind::Trunc: f(std::integral_constant<UnaryKind, UnaryKind::Trunc>{}); break;
    case UnaryKind::StopGradient:
      f(std::integral_constant<UnaryKind, UnaryKind::StopGradient>{});
      break;
  }
}

// Elements of x per element of y: the product of the reduced axes.
float reduce_count(const StridedLayout& L) {
  int64_t n = 1;
  for (int d = 0; d < L.rank; ++d)
    if (L.stride[0][d] == 0) n *= L.shape[d];
  return static_cast<float>(n);
}

}  // namespace

void CpuBackend::binary_forward(const Context&, BinaryKind kind, const StridedLayout& layout,
                                const float* a, const float* b, float* out) {
  dispatch(kind, [&](auto k) {
    constexpr BinaryKind K = decltype(k)::value;
    binary_forward_k<K>(layout, a, b, out);
  });
}

void CpuBackend::binary_backward(const Context&, BinaryKind kind, const StridedLayout& layout,
                                 const float* a, const float* b, const float* out,
                                 const float* dout, float* da, bool da_accumulate, float* db,
                                 bool db_accumulate) {
  dispatch(kind, [&](auto k) {
    constexpr BinaryKind K = decltype(k)::value;
    binary_backward_both<K>(layout, a, b, out, dout, da, da_accumulate, db, db_accumulate);
  });
}

void CpuBackend::unary_forward(const Context&, UnaryKind kind, const float* x, float* y,
                               int64_t n) {
  dispatch(kind, [&](auto k) {
    constexpr UnaryKind K = decltype(k)::value;
    unary_forward_k<K>(x, y, n);
  });
}

void CpuBackend::unary_backward(const Context&, UnaryKind kind, const float* x, const float* y,
                                const float* dy, float* dx, int64_t n, bool accumulate) {
  dispatch(kind, [&](auto k) {
    constexpr UnaryKind K = decltype(k)::value;
    unary_backward_k<K>(x, y, dy, dx, n, accumulate);
  });
}

void CpuBackend::reduce_forward(const Context&, ReduceKind kind, const StridedLayout& layout,
                                const float* x, float* y) {
  const float count = reduce_count(layout);
  for_each_group(layout, 0, [&](const Block& blk, const Axes& reduced) {
    float* out = y + blk.start.op0;
    const int64_t n = blk.n, sy = blk.step.op0;
    if (kind == ReduceKind::Max || kind == ReduceKind::Min) {
      const bool is_max = kind == ReduceKind::Max;
      float m[kBlock];
      std::fill(m, m + n,
                is_max ? -std::numeric_limits<float>::infinity()
                       : std::numeric_limits<float>::infinity());
      walk(reduced, blk.start, [&](const Offsets& o) {
        for (int64_t j = 0; j < n; ++j) {
          const float v = x[o.space + j];
          if (std::isnan(m[j])) continue;  // NaN wins, as in jax
          if (std::isnan(v) || (is_max ? v > m[j] : v < m[j])) m[j] = v;
        }
      });
      for (int64_t j = 0; j < n; ++j) out[j * sy] = m[j];
      return;
    }
    double sum[kBlock];  // in double, in x's order
    std::fill(sum, sum + n, 0.0);
    walk(reduced, blk.start, [&](const Offsets& o) {
      for (int64_t j = 0; j < n; ++j) sum[j] += x[o.space + j];
    });
    for (int64_t j = 0; j < n; ++j) {
      const auto s = static_cast<float>(sum[j]);
      out[j * sy] = kind == ReduceKind::Mean ? s / count : s;
    }
  });
}

void CpuBackend::reduce_backward(const Context&, ReduceKind kind, const StridedLayout& layout,
                                 const float* x, const float* y, const float* dy, float* dx,
                                 bool accumulate) {
  const float count = reduce_count(layout);
  for_each_group(layout, 0, [&](const Block& blk, const Axes& reduced) {
    const int64_t n = blk.n, sy = blk.step.op0;
    const float* g = dy + blk.start.op0;
    if (kind == ReduceKind::Sum || kind == ReduceKind::Mean) {
      walk(reduced, blk.start, [&](const Offsets& o) {
        for (int64_t j = 0; j < n; ++j)
          put(dx[o.space + j], kind == ReduceKind::Mean ? g[j * sy] / count : g[j * sy],
              accumulate);
      });
      return;
    }
    // jax: the gradient is split evenly among the tied extremes.
    const float* m = y + blk.start.op0;
    double ties[kBlock];
    std::fill(ties, ties + n, 0.0);
    walk(reduced, blk.start, [&](const Offsets& o) {
      for (int64_t j = 0; j < n; ++j) ties[j] += x[o.space + j] == m[j * sy] ? 1.0 : 0.0;
    });
    walk(reduced, blk.start, [&](const Offsets& o) {
      for (int64_t j = 0; j < n; ++j) {
        const float xv = x[o.space + j];
        put(dx[o.space + j], xv == m[j * sy] ? g[j * sy] / static_cast<float>(ties[j]) : 0.0f,
            accumulate);
      }
    });
  });
}

void CpuBackend::gather_forward(const Context&, const float* x, int64_t in_size,
                                const int64_t* index, int64_t n, int64_t rows, float* y) {
  parallel_for(rows, rows * n, [=](int64_t r) {
    const float* xr = x + r * in_size;
    float* yr = y + r * n;
    for (int64_t j = 0; j < n; ++j) yr[j] = xr[index[j]];
  });
}

void CpuBackend::gather_backward(const Context&, const float* dy, const int64_t* index, int64_t n,
                                 int64_t rows, float* dx, int64_t in_size, bool accumulate) {
  parallel_for(rows, rows * n, [=](int64_t r) {
    float* d = dx + r * in_size;
    if (!accumulate) std::fill(d, d + in_size, 0.0f);
    const float* g = dy + r * n;
    for (int64_t j = 0; j < n; ++j) d[index[j]] += g[j];
  });
}

void CpuBackend::strided_copy(const Context&, const StridedLayout& layout, const float* src,
                              float* dst, bool accumulate) {
  for_each_line(layout, [&](Offsets o, int64_t n, int64_t s0, int64_t s1) {
    const float* s = src + o.op0;
    float* d = dst + o.op1;
    if (s0 == 1 && s1 == 1 && !accumulate) {
      std::memcpy(d, s, static_cast<size_t>(n) * sizeof(float));
      return;
    }
    for (int64_t j = 0; j < n; ++j) put(d[j * s1], s[j * s0], accumulate);
  });
}

}  // namespace ember::cpu
