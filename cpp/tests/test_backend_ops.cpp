// Every op of the engine, forward and backward, on every backend against the CPU (as ggml's
// tests/test-backend-ops.cpp does), and a central finite-difference check of every op's
// gradients.
//
// The table below holds one entry per op variant: the row shapes of its graph inputs, its
// variables, how their values are drawn, and a function that appends the op to a graph. Each
// case is run with fresh random values (never zeros) and a random upstream gradient R:
//  (a) the forward output against a float64 reference computed here, where one is simple to
//      write (and a property where the output is random: dropout, noise);
//  (b) the backward's input and variable gradients against central differences in double of
//      L = sum(out * R) + the op's extra loss (ActivityRegularization's penalty);
//  (c) the accumulate paths: the case built twice in one graph on the same inputs and
//      variables must give the sum of the two single cases' gradients;
//  (d) every backend in backends_under_test() against the CPU;
//  (e) the case run by an executor after a second, smaller one was made on its graph: an op
//      serves every executor of its graph, so reserving for fewer rows must not shrink what
//      it holds (the sanitizer build turns an overflow into a failure).
// A completeness check compares the op types the table covers with the engine's list, so an op
// without a case fails here by name.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "ember/backend.h"
#include "ember/error.h"
#include "ember/ops.h"
#include "ember/ops_conv.h"
#include "ember/ops_einsum.h"
#include "ember/ops_embedding.h"
#include "ember/ops_math.h"
#include "ember/ops_merging.h"
#include "ember/ops_normalization.h"
#include "ember/ops_pooling.h"
#include "ember/ops_recurrent.h"
#include "ember/ops_regularization.h"
#include "ember/ops_reshaping.h"
#include "ember/ops_score_attention.h"
#include "ember/ops_spectral_normalization.h"

using namespace ember;
using namespace ember::testing;

namespace {

// The devices every case runs on, each compared with the CPU: every device this process has
// (ember::available_devices(): the CPU, then each usable GPU). The CPU is the reference; on it
// the comparison is the CPU against itself.
std::vector<Device> devices_under_test() { return available_devices(); }

// Every op kind of the engine (op_kind.h's one list): each must have a case.
std::vector<std::string> all_op_kinds() {
  std::vector<std::string> kinds;
  for (size_t k = 0; k < kNumOpKinds; ++k) kinds.push_back(op_kind_name(static_cast<OpKind>(k)));
  return kinds;
}

constexpr int64_t kRows = 3;  // the batch every case runs on

// Finite differences in double of a function computed in float32, with the step h = 3e-3 *
// max(1, |v|) and the tolerance atol 1e-3 + rtol 1e-2 * |numeric|. The float32 rounding of
// the outputs (about 6e-8 |out| each) is divided by 2h in the quotient, while the truncation
// error grows as h^2 f''' / 6: measured over this table, the worst error is 0.65 of the
// tolerance with h = 1e-4 (rounding), 0.27 with h = 1e-2 and 2.4 with h = 3e-2 (truncation,
// LayerNormalization), and 0.03-0.15 with h = 3e-3 over twenty sets of seeds. Inputs are drawn
// at least 0.1 from every kink (relu at 0, shrink at 0.5, hard_tanh at 1, ...) and ties of
// max / min at least 0.04 apart, so no step of 2h crosses one.
constexpr float kStep = 3e-3f;

// A tolerance atol + rtol * |want|, and the largest error it has met as a fraction of itself,
// printed at the end: the headroom each comparison leaves.
struct Tolerance {
  Tolerance(const char* what_, double atol_, double rtol_)
      : what(what_), atol(atol_), rtol(rtol_) {}
  const char* what;
  double atol, rtol;
  double worst = 0.0;
  std::string where;
};
Tolerance finite_differences{"gradients vs central differences", 1e-3, 1e-2};
// The forward against float64: float32 arithmetic over a few terms.
Tolerance forward{"forward vs float64", 1e-5, 1e-5};
// BatchNormalization's moving statistics against float64.
Tolerance moving_statistics{"moving statistics vs float64", 1e-6, 1e-5};
// Accumulated gradients against the sum of two single runs: one float32 addition apart; and
// the same run beside a second executor.
Tolerance same_run{"accumulated vs summed, shared vs alone", 1e-6, 1e-5};
// Another backend against the CPU: summation orders differ, nothing else should.
Tolerance backend_tolerance{"backend vs cpu", 1e-5, 1e-4};

const struct OpCase* current_case = nullptr;  // for Tolerance::where

// ---- drawing values -----------------------------------------------------------------------

// How an operand's values are drawn; never zeros, and away from where finite differences are
// undefined when the op has kinks or ties.
struct Draw {
  enum Kind {
    Uniform,   // uniform in [lo, hi]
    Signed,    // magnitude uniform in [lo, hi], random sign: away from zero
    Kinkless,  // random sign, magnitude in bands that miss 0, 0.4, 0.5, 1, 2, 3 and 6
    Distinct,  // every Distinct value of the case on one shuffled grid 0.08 apart
    Ids,       // k + 0.5 +- 0.2 for a uniform integer k in [lo, hi): truncates to k, and no
               // finite-difference step crosses an integer (token ids, issue 11)
    Bits,      // 0 or 1 at random (a sequence mask; issue 11)
    KeyMask,   // Bits, but 1 at the start of every line of hi values: a causal attention
               // line then always keeps a score (issue 17; a fully masked line is flat in
               // float32, where finite differences see no slope)
  } kind = Uniform;
  float lo = -1.0f, hi = 1.0f;
};
Draw uniform(float lo = -1.0f, float hi = 1.0f) { return {Draw::Uniform, lo, hi}; }
Draw positive(float lo = 0.5f, float hi = 2.0f) { return {Draw::Uniform, lo, hi}; }
Draw away_from_zero(float lo = 0.2f, float hi = 1.0f) { return {Draw::Signed, lo, hi}; }
Draw kinkless() { return {Draw::Kinkless, 0.0f, 0.0f}; }
Draw distinct() { return {Draw::Distinct, 0.0f, 0.0f}; }
Draw ids(int lo, int hi) { return {Draw::Ids, float(lo), float(hi)}; }

using Values = std::vector<std::vector<float>>;  // per operand, flattened

// Values for operands of the given sizes. The Distinct ones share one grid, so values of
// different operands (the two sides of a maximum) never tie either.
Values draw_values(std::mt19937& rng, const std::vector<std::pair<int64_t, Draw>>& operands) {
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int64_t n_distinct = 0;
  for (const auto& [n, d] : operands)
    if (d.kind == Draw::Distinct) n_distinct += n;
  std::vector<float> grid(static_cast<size_t>(n_distinct));
  for (size_t k = 0; k < grid.size(); ++k)  // centred on 0
    grid[k] = 0.08f * (static_cast<float>(k) - 0.5f * static_cast<float>(grid.size()) + 0.5f) +
              0.02f * (2.0f * unit(rng) - 1.0f);
  std::shuffle(grid.begin(), grid.end(), rng);
  size_t next = 0;
  Values out;
  for (const auto& [n, d] : operands) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) {
      const float sign = unit(rng) < 0.5f ? -1.0f : 1.0f;
      switch (d.kind) {
        case Draw::Uniform: x = d.lo + (d.hi - d.lo) * unit(rng); break;
        case Draw::Signed: x = sign * (d.lo + (d.hi - d.lo) * unit(rng)); break;
        case Draw::Kinkless: {
          static const float bands[4][2] = {
              {0.1f, 0.25f}, {0.6f, 0.9f}, {1.1f, 1.9f}, {2.1f, 2.8f}};
          const auto b = std::min<size_t>(3, static_cast<size_t>(4.0f * unit(rng)));
          x = sign * (bands[b][0] + (bands[b][1] - bands[b][0]) * unit(rng));
          break;
        }
        case Draw::Distinct: x = grid[next++]; break;
        case Draw::Bits: x = unit(rng) < 0.5f ? 0.0f : 1.0f; break;
        case Draw::KeyMask:
          x = (&x - v.data()) % static_cast<int64_t>(d.hi) == 0 || unit(rng) >= 0.5f ? 1.0f
                                                                                      : 0.0f;
          break;
        case Draw::Ids:
          x = std::min(d.hi - 1.0f, std::floor(d.lo + (d.hi - d.lo) * unit(rng))) + 0.5f +
              0.4f * (unit(rng) - 0.5f);
          break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

// ---- the case table -------------------------------------------------------------------------

struct Operand {
  Shape shape;  // a graph input's row shape, or a variable's shape
  Draw draw = uniform();
  bool trainable = true;  // variables only
};

// What a case's build function gets: the graph, its input nodes, and fresh variables holding
// the case's values (aligned with OpCase::vars).
struct Env {
  Graph& graph;
  std::vector<int> x;
  std::vector<VariablePtr> v;
  int add(std::shared_ptr<Op> op, std::vector<int> inputs) {
    return graph.add_node(std::move(op), std::move(inputs), "n" + std::to_string(graph.size()));
  }
};

struct OpCase {
  std::string name;
  std::vector<Operand> inputs;  // graph inputs: row shapes
  std::vector<Operand> vars;    // variables
  bool training = true;
  // Appends the op (or a few ops) to env.graph and returns the output node. Called again for
  // every run, so it must make new ops.
  std::function<int(Env&)> build;
  // The forward output (kRows, out row) in double; null where it is tested elsewhere.
  std::function<std::vector<double>(const Values& x, const Values& v)> reference;
  // A property of a random forward output (dropout's mask, the noise's size).
  std::function<bool(const Values& x, const std::vector<float>& out)> property;
  // The op's extra loss (OpForward::extra_loss) in double.
  std::function<double(const Values& x)> extra_loss;
  // The variables' values after one forward (and backward) pass: BatchNormalization's moving
  // statistics.
  std::function<bool(const Values& x, const Values& before, const Values& after)> state;
};

// ---- index helpers (row-major, within one row) ---------------------------------------------

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

uint32_t all_axes(const Shape& s) { return (1u << s.size()) - 1u; }

// An axis of the full shape (batch axis 0, negative from the end) as an index into `row`.
size_t row_axis(int axis, const Shape& row) {
  return static_cast<size_t>(axis < 0 ? axis + static_cast<int>(row.size()) : axis - 1);
}

// For each element of a row of shape s, its row-major index over the axes in mask (bit a: row
// axis a), the other axes ignored.
std::vector<int64_t> index_over(const Shape& s, uint32_t mask) {
  const auto st = strides_of(s);
  std::vector<int64_t> out(static_cast<size_t>(num_elements(s)));
  for (size_t p = 0; p < out.size(); ++p) {
    int64_t k = 0;
    for (size_t a = 0; a < s.size(); ++a)
      if ((mask >> a) & 1u) k = k * s[a] + (static_cast<int64_t>(p) / st[a]) % s[a];
    out[p] = k;
  }
  return out;
}

Shape dims_over(const Shape& s, uint32_t mask) {
  Shape d;
  for (size_t a = 0; a < s.size(); ++a)
    if ((mask >> a) & 1u) d.push_back(s[a]);
  return d;
}

// NumPy's broadcasting of two row shapes.
Shape broadcast_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

// For each element of `out`, the element of an operand of shape `o` it reads.
std::vector<int64_t> broadcast_index(const Shape& out, const Shape& o) {
  const auto st = strides_of(out), ost = strides_of(o);
  const size_t lead = out.size() - o.size();
  std::vector<int64_t> index(static_cast<size_t>(num_elements(out)));
  for (size_t p = 0; p < index.size(); ++p) {
    int64_t k = 0;
    for (size_t d = 0; d < o.size(); ++d)
      if (o[d] != 1) k += (static_cast<int64_t>(p) / st[d + lead]) % out[d + lead] * ost[d];
    index[p] = k;
  }
  return index;
}

// ---- float64 references ---------------------------------------------------------------------

double sigmoid_ref(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// act(z) for the element-wise activations with a simple formula; false for the others
// (their forward is tested against Keras in tests/test_activations.py).
bool activation_ref(const Activation& a, double z, double* y) {
  switch (a.kind) {
    case ActivationKind::Linear: *y = z; return true;
    case ActivationKind::Relu:
      if (a != Activation(ActivationKind::Relu)) return false;
      *y = std::max(z, 0.0);
      return true;
    case ActivationKind::Sigmoid: *y = sigmoid_ref(z); return true;
    case ActivationKind::Tanh: *y = std::tanh(z); return true;
    case ActivationKind::Exponential: *y = std::exp(z); return true;
    case ActivationKind::Softplus: *y = std::log1p(std::exp(z)); return true;
    case ActivationKind::Silu: *y = z * sigmoid_ref(z); return true;
    case ActivationKind::Elu: *y = z > 0.0 ? z : a.alpha * std::expm1(z); return true;
    case ActivationKind::Gelu:
      if (a.approximate) {
        const double c = std::sqrt(2.0 / 3.14159265358979323846);
        *y = 0.5 * z * (1.0 + std::tanh(c * (z + 0.044715 * z * z * z)));
      } else {
        *y = 0.5 * z * std::erfc(-z / std::sqrt(2.0));
      }
      return true;
    default: return false;
  }
}

// Softmax or log_softmax of each row of x (rows, shape) over the row axes in mask.
std::vector<double> softmax_ref(const std::vector<double>& x, const Shape& s, uint32_t mask,
                                bool log) {
  const int64_t n = num_elements(s);
  const auto group = index_over(s, all_axes(s) & ~mask);
  const int64_t groups = num_elements(dims_over(s, all_axes(s) & ~mask));
  std::vector<double> y(x.size());
  for (size_t r = 0; r * n < x.size(); ++r) {
    const double* xr = x.data() + r * n;
    std::vector<double> mx(static_cast<size_t>(groups), -INFINITY), sum(mx.size(), 0.0);
    for (int64_t p = 0; p < n; ++p) mx[group[p]] = std::max(mx[group[p]], xr[p]);
    for (int64_t p = 0; p < n; ++p) sum[group[p]] += std::exp(xr[p] - mx[group[p]]);
    for (int64_t p = 0; p < n; ++p) {
      const double e = xr[p] - mx[group[p]];
      y[r * n + p] = log ? e - std::log(sum[group[p]]) : std::exp(e) / sum[group[p]];
    }
  }
  return y;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// x (kRows, m, k) @ w (k, n), the same w for every row (or per row when w_per_row).
std::vector<double> matmul_ref(const std::vector<float>& x, const std::vector<float>& w, int64_t m,
                               int64_t k, int64_t n, bool w_per_row) {
  std::vector<double> y(static_cast<size_t>(kRows * m * n), 0.0);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < k; ++p)
          s += double(x[(r * m + i) * k + p]) * double(w[(w_per_row ? r * k * n : 0) + p * n + j]);
        y[(r * m + i) * n + j] = s;
      }
  return y;
}

std::vector<double> identity_ref(const Values& x, const Values&) { return to_double(x[0]); }

// ---- running a case -------------------------------------------------------------------------

// What one run of a case computes.
struct Outcome {
  std::vector<std::vector<float>> out;  // per copy of the case: (kRows, out row)
  Values din;                           // per input: d L / d input (zeros where none flows)
  Values dvar;                          // per variable: d L / d variable; empty when frozen
  Values vars_after;                    // the variables' values after the run
  double extra_loss = 0.0;
};

// Runs `c` on `backend` with inputs x and variables v: builds the graph (the case `R.size()`
// times over the same inputs and variables, one output each), runs forward, and with
// backward set, runs backward with d L / d output k = R[k]. With shared, a second executor
// for one row is made on the graph after the first reserved its rows.
Outcome execute(const OpCase& c, Device device, const Values& x, const Values& v, const Values& R,
                bool backward, bool shared = false) {
  auto g = std::make_shared<Graph>();
  Env env{*g, {}, {}};
  for (size_t i = 0; i < c.inputs.size(); ++i)
    env.x.push_back(g->add_input(c.inputs[i].shape, "x" + std::to_string(i)));
  for (size_t k = 0; k < c.vars.size(); ++k)
    env.v.push_back(std::make_shared<Variable>("v" + std::to_string(k),
                                               Tensor(c.vars[k].shape, v[k].data(), device),
                                               c.vars[k].trainable));
  std::vector<int> outputs;
  for (size_t k = 0; k < R.size(); ++k) outputs.push_back(c.build(env));
  Executor ex(g, env.x, outputs, device);
  const Context& ctx = ex.context();
  // Host <-> device copies of n floats (plain copies on the CPU).
  auto upload = [&](float* dst, const std::vector<float>& src) {
    ctx.be().copy_from_host(ctx, dst, src.data(), src.size() * sizeof(float));
  };
  auto download = [&](const float* src, size_t n) {
    std::vector<float> out(n);
    ctx.be().copy_to_host(ctx, out.data(), src, n * sizeof(float));
    return out;
  };
  if (backward)
    for (size_t i = 0; i < x.size(); ++i) ex.request_input_gradient(i);
  ex.reserve(kRows);
  std::unique_ptr<Executor> other;
  if (shared) other = std::make_unique<Executor>(g, env.x, outputs, device);
  for (size_t i = 0; i < x.size(); ++i) upload(ex.input_buffer(i), x[i]);
  ex.forward(kRows, c.training);
  Outcome o;
  for (size_t k = 0; k < outputs.size(); ++k) {
    o.out.push_back(download(ex.output(k), static_cast<size_t>(kRows * ex.output_row_size(k))));
  }
  o.extra_loss = ex.extra_loss();
  if (backward) {
    for (size_t k = 0; k < outputs.size(); ++k) upload(ex.output_grad(k), R[k]);
    ex.backward(kRows);
    for (size_t i = 0; i < x.size(); ++i) {
      const float* d = ex.input_grad(i);
      o.din.push_back(d ? download(d, x[i].size()) : std::vector<float>(x[i].size()));
    }
    for (const VariablePtr& var : env.v) {
      std::vector<float> d;
      const auto& tr = ex.trainable();
      for (size_t t = 0; t < tr.size(); ++t)
        if (tr[t] == var.get())
          d = download(ex.trainable_grads()[t], static_cast<size_t>(var->value.size()));
      o.dvar.push_back(std::move(d));
    }
  }
  for (const VariablePtr& var : env.v)
    o.vars_after.push_back(download(var->value.data(), static_cast<size_t>(var->value.size())));
  return o;
}

// L = sum_k sum(out_k * R_k) + the extra loss, in double.
double loss_of(const Outcome& o, const Values& R) {
  double L = o.extra_loss;
  for (size_t k = 0; k < R.size(); ++k)
    for (size_t i = 0; i < R[k].size(); ++i) L += double(o.out[k][i]) * double(R[k][i]);
  return L;
}

// got against want element by element; names the first few mismatches.
bool all_close(const std::vector<float>& got, const std::vector<double>& want, Tolerance& tol,
               const std::string& what, int* reported) {
  if (got.size() != want.size()) {
    std::printf("     %s: %zu values, expected %zu\n", what.c_str(), got.size(), want.size());
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < got.size(); ++i) {
    const double ratio = std::fabs(got[i] - want[i]) / (tol.atol + tol.rtol * std::fabs(want[i]));
    if (ratio > tol.worst) {
      tol.worst = ratio;
      tol.where = current_case->name + ", " + what;
    }
    if (!close(got[i], want[i], tol.atol, tol.rtol)) {
      ok = false;
      if ((*reported)++ < 4)
        std::printf("     %s[%zu]: expected %.7g, got %.7g\n", what.c_str(), i, want[i],
                    double(got[i]));
    }
  }
  return ok;
}

std::string operand_name(const OpCase& c, bool is_var, size_t i) {
  return (is_var ? "d var" : "d input") + std::to_string(i) + " " +
         shape_to_string(is_var ? c.vars[i].shape : c.inputs[i].shape);
}

// (b): every input element and every trainable variable element.
bool gradients_match_finite_differences(const OpCase& c, const Values& x, const Values& v,
                                        const Values& R, const Outcome& base) {
  bool ok = true;
  int reported = 0;
  for (int is_var = 0; is_var < 2; ++is_var) {
    const Values& values = is_var ? v : x;
    for (size_t i = 0; i < values.size(); ++i) {
      if (is_var && !c.vars[i].trainable) continue;
      std::vector<double> numeric(values[i].size());
      for (size_t e = 0; e < values[i].size(); ++e) {
        Values xs = x, vs = v;
        float& w = (is_var ? vs : xs)[i][e];
        const float saved = w, h = kStep * std::max(1.0f, std::fabs(saved));
        const float up = saved + h, down = saved - h;
        w = up;
        const double L_up = loss_of(execute(c, Device::cpu(), xs, vs, R, false), R);
        w = down;
        const double L_down = loss_of(execute(c, Device::cpu(), xs, vs, R, false), R);
        numeric[e] = (L_up - L_down) / (double(up) - double(down));
      }
      const auto& analytic = is_var ? base.dvar[i] : base.din[i];
      ok &= all_close(analytic, numeric, finite_differences, operand_name(c, is_var, i), &reported);
    }
  }
  return ok;
}

std::vector<double> sum_of(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> s(a.size());
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s[i] = double(a[i]) + double(b[i]);
  return s;
}

// (c): the case twice in one graph; each input and variable then has two consumers whose
// gradients the second backward must add to the first's.
bool gradients_accumulate(const OpCase& c, const Values& x, const Values& v, const Values& R1,
                          const Outcome& one, std::mt19937& rng) {
  Values R2{random_vector(rng, R1[0].size())};
  const Outcome two = execute(c, Device::cpu(), x, v, R2, true);
  const Outcome both = execute(c, Device::cpu(), x, v, {R1[0], R2[0]}, true);
  bool ok = true;
  int reported = 0;
  for (int k = 0; k < 2; ++k)
    ok &= all_close(both.out[k], to_double(one.out[0]), same_run,
                    "out of copy " + std::to_string(k), &reported);
  for (size_t i = 0; i < x.size(); ++i)
    ok &= all_close(both.din[i], sum_of(one.din[i], two.din[i]), same_run,
                    operand_name(c, false, i), &reported);
  for (size_t i = 0; i < v.size(); ++i)
    ok &= all_close(both.dvar[i], sum_of(one.dvar[i], two.dvar[i]), same_run,
                    operand_name(c, true, i), &reported);
  ok &= close(both.extra_loss, 2.0 * one.extra_loss, same_run.atol, same_run.rtol);
  return ok;
}

// (d), (e): another run against the CPU's.
bool matches_cpu(const OpCase& c, const Outcome& got, const Outcome& cpu, Tolerance& tol) {
  bool ok = true;
  int reported = 0;
  ok &= all_close(got.out[0], to_double(cpu.out[0]), tol, "out", &reported);
  for (size_t i = 0; i < cpu.din.size(); ++i)
    ok &= all_close(got.din[i], to_double(cpu.din[i]), tol, operand_name(c, false, i), &reported);
  for (size_t i = 0; i < cpu.dvar.size(); ++i)
    ok &= all_close(got.dvar[i], to_double(cpu.dvar[i]), tol, operand_name(c, true, i), &reported);
  for (size_t i = 0; i < cpu.vars_after.size(); ++i)
    ok &= all_close(got.vars_after[i], to_double(cpu.vars_after[i]), tol,
                    "variable " + std::to_string(i) + " after the step", &reported);
  ok &= close(got.extra_loss, cpu.extra_loss, tol.atol, tol.rtol);
  return ok;
}

void run_case(const OpCase& c, unsigned seed) {
  current_case = &c;
  std::mt19937 rng(seed);
  std::vector<std::pair<int64_t, Draw>> operands;
  for (const Operand& in : c.inputs) operands.emplace_back(kRows * num_elements(in.shape), in.draw);
  for (const Operand& var : c.vars) operands.emplace_back(num_elements(var.shape), var.draw);
  Values all = draw_values(rng, operands);
  const Values x(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(c.inputs.size()));
  const Values v(all.begin() + static_cast<std::ptrdiff_t>(c.inputs.size()), all.end());

  // The output's size, then R of that size.
  const size_t out_size = execute(c, Device::cpu(), x, v, {{}}, false).out[0].size();
  const Values R{random_vector(rng, out_size)};
  const Outcome cpu = execute(c, Device::cpu(), x, v, R, true);

  int reported = 0;
  if (c.reference)
    check(all_close(cpu.out[0], c.reference(x, v), forward, "out", &reported),
          c.name + ": forward matches the float64 reference");
  if (c.property) check(c.property(x, cpu.out[0]), c.name + ": forward output is as described");
  if (c.extra_loss)
    check(close(cpu.extra_loss, c.extra_loss(x), forward.atol, forward.rtol),
          c.name + ": extra loss " + std::to_string(cpu.extra_loss) + " matches " +
              std::to_string(c.extra_loss(x)));
  if (c.state) check(c.state(x, v, cpu.vars_after), c.name + ": variables updated as described");
  check(gradients_match_finite_differences(c, x, v, R, cpu),
        c.name + ": gradients match central differences");
  check(gradients_accumulate(c, x, v, R, cpu, rng),
        c.name + ": two consumers' gradients accumulate");
  for (Device device : devices_under_test()) {
    bool ok = false;
    try {
      ok = matches_cpu(c, execute(c, device, x, v, R, true), cpu, backend_tolerance);
    } catch (const std::exception& e) {
      std::printf("     %s\n", e.what());
    }
    check(ok, c.name + ": " + device.str() + " matches the cpu");
  }
  check(matches_cpu(c, execute(c, Device::cpu(), x, v, R, true, true), cpu, same_run),
        c.name + ": runs the same beside a smaller executor on its graph");
}

// ---- the cases --------------------------------------------------------------------------------

std::vector<OpCase> dense_cases() {
  std::vector<OpCase> cases;
  auto dense = [&](const std::string& variant, Activation act, Shape in_row, int64_t units,
                   bool bias, bool kernel_trainable) {
    OpCase c;
    c.name = "Dense " + variant;
    const int64_t in = in_row.back();
    c.inputs = {{in_row}};
    c.vars = {{{in, units}, uniform(), kernel_trainable}};
    if (bias) c.vars.push_back({{units}});
    c.build = [act, bias](Env& e) {
      return e.add(std::make_shared<DenseOp>(e.v[0], bias ? e.v[1] : nullptr, act), {e.x[0]});
    };
    double probe;
    if (activation_ref(act, 0.0, &probe) || act.is_normalization())
      c.reference = [act, in, units, bias](const Values& x, const Values& v) {
        const int64_t m = static_cast<int64_t>(x[0].size()) / (kRows * in);
        std::vector<double> z = matmul_ref(x[0], v[0], m, in, units, false);
        for (size_t i = 0; i < z.size(); ++i) {
          if (bias) z[i] += v[1][i % static_cast<size_t>(units)];
          if (!act.is_normalization()) activation_ref(act, z[i], &z[i]);
        }
        if (act.is_normalization())
          z = softmax_ref(z, {units}, 1u, act.kind == ActivationKind::LogSoftmax);
        return z;
      };
    cases.push_back(c);
  };
  dense("linear", ActivationKind::Linear, {4}, 3, true, true);
  dense("linear without bias on (2, 4) rows", ActivationKind::Linear, {2, 4}, 3, false, true);
  dense("tanh (gradient from y)", ActivationKind::Tanh, {4}, 3, true, true);
  dense("sigmoid on (2, 3) rows", ActivationKind::Sigmoid, {2, 3}, 2, true, true);
  dense("gelu (gradient needs z)", Activation::gelu(false), {4}, 3, true, true);
  dense("gelu approximate", Activation::gelu(true), {4}, 3, true, true);
  dense("silu", ActivationKind::Silu, {5}, 2, true, true);
  dense("softmax", ActivationKind::Softmax, {4}, 3, true, true);
  dense("log_softmax on (2, 4) rows", ActivationKind::LogSoftmax, {2, 4}, 3, true, true);
  dense("tanh with a frozen kernel", ActivationKind::Tanh, {4}, 3, true, false);
  return cases;
}

std::vector<OpCase> activation_cases() {
  std::vector<OpCase> cases;
  auto activation = [&](const std::string& variant, Activation act, Shape row, uint32_t mask) {
    OpCase c;
    c.name = "Activation " + variant;
    c.inputs = {{row, kinkless()}};
    c.build = [act](Env& e) { return e.add(std::make_shared<ActivationOp>(act), {e.x[0]}); };
    double probe;
    if (act.is_normalization()) {
      const bool log = act.kind == ActivationKind::LogSoftmax;
      c.reference = [row, mask, log](const Values& x, const Values&) {
        return softmax_ref(to_double(x[0]), row, mask, log);
      };
    } else if (activation_ref(act, 0.0, &probe)) {
      c.reference = [act](const Values& x, const Values&) {
        std::vector<double> y = to_double(x[0]);
        for (double& z : y) activation_ref(act, z, &z);
        return y;
      };
    }
    cases.push_back(c);
  };
  // Every kind with its defaults, element-wise or over the last axis.
  for (int k = 0; k <= static_cast<int>(ActivationKind::LogSoftmax); ++k) {
    const Activation act(static_cast<ActivationKind>(k));
    activation(activation_name(act), act, {2, 3}, 2u);
  }
  activation("relu(negative_slope=0.1, max_value=2, threshold=0.4)",
             Activation::relu(0.1f, 2.0f, 0.4f), {2, 3}, 0u);
  activation("leaky_relu(0.3)", Activation::leaky_relu(0.3f), {5}, 0u);
  activation("elu(0.5)", Activation::elu(0.5f), {5}, 0u);
  activation("celu(0.7)", Activation::celu(0.7f), {5}, 0u);
  activation("squareplus(b=1)", Activation::squareplus(1.0f), {5}, 0u);
  activation("gelu approximate", Activation::gelu(true), {5}, 0u);
  activation("softmax over row axis 0 of (3, 4)", Activation::softmax(0), {3, 4}, 1u);
  activation("log_softmax over row axis 0 of (3, 4)", Activation::log_softmax(0), {3, 4}, 1u);
  Activation two_axes = Activation::softmax();
  two_axes.axes = 1u | 4u;
  activation("softmax over row axes 0 and 2 of (2, 3, 2)", two_axes, {2, 3, 2}, 1u | 4u);
  Activation log_two_axes = Activation::log_softmax();
  log_two_axes.axes = 1u | 2u;
  activation("log_softmax over row axes 0 and 1 of (2, 3, 2)", log_two_axes, {2, 3, 2}, 1u | 2u);
  return cases;
}

std::vector<OpCase> prelu_cases() {
  std::vector<OpCase> cases;
  for (const Shape& alpha : {Shape{3, 4}, Shape{1, 4}}) {
    OpCase c;
    c.name = "PReLU alpha " + shape_to_string(alpha) + " on (3, 4) rows";
    c.inputs = {{{3, 4}, away_from_zero()}};
    c.vars = {{alpha, uniform(0.05f, 0.5f)}};
    c.build = [](Env& e) { return e.add(std::make_shared<PReLUOp>(e.v[0]), {e.x[0]}); };
    c.reference = [alpha](const Values& x, const Values& v) {
      const auto ai = broadcast_index({3, 4}, alpha);
      std::vector<double> y(x[0].size());
      for (size_t i = 0; i < y.size(); ++i) {
        const double xi = x[0][i];
        y[i] = xi > 0.0 ? xi : double(v[0][ai[i % 12]]) * xi;
      }
      return y;
    };
    cases.push_back(c);
  }
  return cases;
}

double binary_ref(BinaryKind k, double a, double b) {
  switch (k) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Subtract: return a - b;
    case BinaryKind::Multiply: return a * b;
    case BinaryKind::Divide: return a / b;
    case BinaryKind::Maximum: return std::max(a, b);
    case BinaryKind::Minimum: return std::min(a, b);
    case BinaryKind::Power: return std::pow(a, b);
    case BinaryKind::Greater: return a > b;
    case BinaryKind::GreaterEqual: return a >= b;
    case BinaryKind::Less: return a < b;
    case BinaryKind::LessEqual: return a <= b;
    case BinaryKind::Equal: return a == b;
    case BinaryKind::NotEqual: return a != b;
    case BinaryKind::Arctan2: return std::atan2(a, b);
    case BinaryKind::FloorDivide: return std::floor(a / b);
    case BinaryKind::Mod: return a - std::floor(a / b) * b;
  }
  return 0.0;
}

// One operand of a binary case: a graph input, a trained weight or a constant.
struct Side {
  enum Kind { Input, Weight, Constant } kind;
  Shape shape;
};

std::string side_name(const Side& s) {
  static const char* names[] = {"input", "weight", "constant"};
  return std::string(names[s.kind]) + " " + shape_to_string(s.shape);
}

std::vector<OpCase> binary_cases() {
  std::vector<OpCase> cases;
  const BinaryKind kinds[] = {
      BinaryKind::Add,          BinaryKind::Subtract, BinaryKind::Multiply,    BinaryKind::Divide,
      BinaryKind::Maximum,      BinaryKind::Minimum,  BinaryKind::Power,       BinaryKind::Greater,
      BinaryKind::GreaterEqual, BinaryKind::Less,     BinaryKind::LessEqual,   BinaryKind::Equal,
      BinaryKind::NotEqual,     BinaryKind::Arctan2,  BinaryKind::FloorDivide, BinaryKind::Mod};
  for (BinaryKind kind : kinds) {
    const bool ties = kind == BinaryKind::Maximum || kind == BinaryKind::Minimum ||
                      (kind >= BinaryKind::Greater && kind <= BinaryKind::NotEqual);
    // FloorDivide and Mod: |a / b| < 1 away from 0, so no finite-difference step crosses
    // floor's jumps.
    const bool floors = kind == BinaryKind::FloorDivide || kind == BinaryKind::Mod;
    // Divide: denominators away from 0; power: positive bases.
    const Draw a_draw = ties                          ? distinct()
                        : kind == BinaryKind::Power   ? positive()
                        : floors                      ? away_from_zero(0.2f, 0.8f)
                        : kind == BinaryKind::Arctan2 ? away_from_zero()
                                                      : uniform();
    const Draw b_draw = ties                          ? distinct()
                        : kind == BinaryKind::Divide  ? away_from_zero(0.5f, 2.0f)
                        : kind == BinaryKind::Power   ? uniform(-2.0f, 2.0f)
                        : floors                      ? away_from_zero(1.0f, 2.0f)
                        : kind == BinaryKind::Arctan2 ? away_from_zero()
                                                      : uniform();
    const std::pair<Side, Side> shapes[] = {
        {{Side::Input, {3, 4}}, {Side::Input, {1, 4}}},   // row broadcast
        {{Side::Input, {3, 1}}, {Side::Input, {1, 4}}},   // both broadcast
        {{Side::Input, {2, 3}}, {Side::Weight, {2, 1}}},  // a trained operand
        {{Side::Constant, {3}}, {Side::Input, {2, 3}}},   // a constant
        // 3-D rows: each side broadcast along other axes.
        {{Side::Input, {2, 1, 4}}, {Side::Input, {1, 3, 1}}},
        // A weight read by every row and broadcast along the first and last row axes: its
        // gradient sums over the batch and both axes.
        {{Side::Input, {2, 3, 4}}, {Side::Weight, {3, 1}}},
        {{Side::Weight, {4}}, {Side::Input, {3, 4}}},   // the weight on the left
        {{Side::Input, {2, 3}}, {Side::Constant, {}}},  // a scalar constant
    };
    for (const auto& sides : shapes) {
      const Side a = sides.first, b = sides.second;  // copies: lambdas capture them
      OpCase c;
      c.name = std::string("Binary ") + binary_kind_name(kind) + " " + side_name(a) + ", " +
               side_name(b);
      const Shape out = broadcast_shape(a.shape, b.shape);
      const auto ia = broadcast_index(out, a.shape), ib = broadcast_index(out, b.shape);
      // Operand values: inputs then variables, in a-then-b order within each.
      for (const auto& [s, d] : {std::pair{a, a_draw}, std::pair{b, b_draw}}) {
        if (s.kind == Side::Input)
          c.inputs.push_back({s.shape, d});
        else
          c.vars.push_back({s.shape, d, s.kind == Side::Weight});
      }
      const bool a_in = a.kind == Side::Input, b_in = b.kind == Side::Input;
      c.build = [=](Env& e) {
        VariablePtr va = a_in ? nullptr : e.v[0];
        VariablePtr vb = b_in ? nullptr : e.v[a_in ? 0 : 1];
        std::vector<int> ins;
        for (size_t i = 0; i < e.x.size(); ++i) ins.push_back(e.x[i]);
        return e.add(std::make_shared<BinaryOp>(kind, va, vb), ins);
      };
      c.reference = [=](const Values& x, const Values& v) {
        const int64_t n = num_elements(out);
        const int64_t sa = num_elements(a.shape), sb = num_elements(b.shape);
        std::vector<double> y(static_cast<size_t>(kRows * n));
        for (int64_t r = 0; r < kRows; ++r) {
          const float* pa = a_in ? x[0].data() + r * sa : v[0].data();
          const float* pb = b_in ? x[a_in ? 1 : 0].data() + r * sb : v[a_in ? 0 : 1].data();
          for (int64_t j = 0; j < n; ++j) y[r * n + j] = binary_ref(kind, pa[ia[j]], pb[ib[j]]);
        }
        return y;
      };
      cases.push_back(c);
    }
    // Both operands one node: the op's two input gradients land in one buffer.
    OpCase c;
    c.name = std::string("Binary ") + binary_kind_name(kind) + " of an input with itself";
    c.inputs = {
        {{2, 3}, kind == BinaryKind::Power || kind == BinaryKind::Divide ? positive() : uniform()}};
    c.build = [=](Env& e) {
      return e.add(std::make_shared<BinaryOp>(kind, nullptr, nullptr), {e.x[0], e.x[0]});
    };
    c.reference = [=](const Values& x, const Values&) {
      std::vector<double> y(x[0].size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = binary_ref(kind, x[0][i], x[0][i]);
      return y;
    };
    cases.push_back(c);
  }
  return cases;
}

std::vector<OpCase> unary_cases() {
  struct Kind {
    UnaryKind kind;
    const char* name;
    Draw draw;
    double (*f)(double);
  };
  const Kind kinds[] = {
      {UnaryKind::Negative, "negative", uniform(), [](double x) { return -x; }},
      {UnaryKind::Abs, "abs", away_from_zero(), [](double x) { return std::fabs(x); }},
      {UnaryKind::Square, "square", uniform(), [](double x) { return x * x; }},
      {UnaryKind::Sqrt, "sqrt", positive(), [](double x) { return std::sqrt(x); }},
      {UnaryKind::Exp, "exp", uniform(), [](double x) { return std::exp(x); }},
      {UnaryKind::Log, "log", positive(), [](double x) { return std::log(x); }},
      {UnaryKind::Reciprocal, "reciprocal", away_from_zero(0.5f, 2.0f),
       [](double x) { return 1.0 / x; }},
      {UnaryKind::Sign, "sign", away_from_zero(), [](double x) { return x > 0.0 ? 1.0 : -1.0; }},
      {UnaryKind::Sin, "sin", uniform(-3.0f, 3.0f), [](double x) { return std::sin(x); }},
      {UnaryKind::Cos, "cos", uniform(-3.0f, 3.0f), [](double x) { return std::cos(x); }},
      {UnaryKind::Tan, "tan", uniform(), [](double x) { return std::tan(x); }},
      {UnaryKind::Arcsin, "arcsin", uniform(-0.8f, 0.8f), [](double x) { return std::asin(x); }},
      {UnaryKind::Arccos, "arccos", uniform(-0.8f, 0.8f), [](double x) { return std::acos(x); }},
      {UnaryKind::Arctan, "arctan", uniform(-3.0f, 3.0f), [](double x) { return std::atan(x); }},
      {UnaryKind::Sinh, "sinh", uniform(-2.0f, 2.0f), [](double x) { return std::sinh(x); }},
      {UnaryKind::Cosh, "cosh", uniform(-2.0f, 2.0f), [](double x) { return std::cosh(x); }},
      {UnaryKind::Arcsinh, "arcsinh", uniform(-3.0f, 3.0f), [](double x) { return std::asinh(x); }},
      {UnaryKind::Arccosh, "arccosh", uniform(1.2f, 3.0f), [](double x) { return std::acosh(x); }},
      {UnaryKind::Arctanh, "arctanh", uniform(-0.8f, 0.8f), [](double x) { return std::atanh(x); }},
      {UnaryKind::Log1p, "log1p", uniform(-0.5f, 2.0f), [](double x) { return std::log1p(x); }},
      {UnaryKind::Expm1, "expm1", uniform(), [](double x) { return std::expm1(x); }},
      {UnaryKind::Erf, "erf", uniform(-2.0f, 2.0f), [](double x) { return std::erf(x); }},
      // Away from the integers and halves where the rounding functions jump.
      {UnaryKind::Floor, "floor", away_from_zero(0.1f, 0.4f),
       [](double x) { return std::floor(x); }},
      {UnaryKind::Ceil, "ceil", away_from_zero(0.1f, 0.4f), [](double x) { return std::ceil(x); }},
      {UnaryKind::Round, "round", away_from_zero(0.1f, 0.4f),
       [](double x) { return std::round(x); }},
      {UnaryKind::Trunc, "trunc", away_from_zero(0.1f, 0.4f),
       [](double x) { return std::trunc(x); }},
  };
  std::vector<OpCase> cases;
  for (const Kind& k : kinds) {
    OpCase c;
    c.name = std::string("Unary ") + k.name;
    c.inputs = {{{2, 3}, k.draw}};
    const UnaryKind kind = k.kind;
    c.build = [kind](Env& e) { return e.add(std::make_shared<UnaryOp>(kind), {e.x[0]}); };
    auto* f = k.f;
    c.reference = [f](const Values& x, const Values&) {
      std::vector<double> y = to_double(x[0]);
      for (double& z : y) z = f(z);
      return y;
    };
    cases.push_back(c);
  }
  return cases;
}

std::vector<OpCase> reduce_cases() {
  std::vector<OpCase> cases;
  const std::pair<ReduceKind, const char*> kinds[] = {{ReduceKind::Sum, "sum"},
                                                      {ReduceKind::Mean, "mean"},
                                                      {ReduceKind::Max, "max"},
                                                      {ReduceKind::Min, "min"}};
  struct Variant {
    Shape row;
    uint32_t reduced;  // the reduced row axes as a mask
    bool keepdims;
  };
  // The last axis, the first, both; and the outer two of three (the kept axis between them).
  const Variant variants[] = {
      {{3, 4}, 2u, false}, {{3, 4}, 1u, false}, {{3, 4}, 3u, false}, {{2, 3, 4}, 5u, true}};
  for (const auto& [kind, name] : kinds)
    for (const Variant& variant : variants) {
      OpCase c;
      const Shape row = variant.row;
      const uint32_t reduced = variant.reduced;
      const bool keepdims = variant.keepdims;
      const uint32_t kept = all_axes(row) & ~reduced;
      Shape out = dims_over(row, kept);
      c.name = std::string("Reduce ") + name + " of " + shape_to_string(row) + " rows over mask " +
               std::to_string(reduced) + (keepdims ? ", keepdims" : "");
      const bool ties = kind == ReduceKind::Max || kind == ReduceKind::Min;
      c.inputs = {{row, ties ? distinct() : uniform()}};
      const auto index = index_over(row, kept);
      const ReduceKind k = kind;
      std::vector<int> axes;
      for (int a = 0; a < static_cast<int>(row.size()); ++a)
        if ((reduced >> a) & 1u) axes.push_back(a);
      c.build = [=](Env& e) {
        return e.add(std::make_shared<ReduceOp>(k, axes, keepdims), {e.x[0]});
      };
      c.reference = [=](const Values& x, const Values&) {
        const int64_t n = num_elements(row), m = num_elements(out);
        std::vector<double> y(static_cast<size_t>(kRows * m));
        for (int64_t r = 0; r < kRows; ++r)
          for (int64_t o = 0; o < m; ++o) {
            double acc = k == ReduceKind::Max ? -INFINITY : k == ReduceKind::Min ? INFINITY : 0.0;
            int64_t count = 0;
            for (int64_t j = 0; j < n; ++j) {
              if (index[j] != o) continue;
              const double xv = x[0][r * n + j];
              acc = k == ReduceKind::Max   ? std::max(acc, xv)
                    : k == ReduceKind::Min ? std::min(acc, xv)
                                           : acc + xv;
              ++count;
            }
            y[r * m + o] = k == ReduceKind::Mean ? acc / double(count) : acc;
          }
        return y;
      };
      cases.push_back(c);
    }
  return cases;
}

std::vector<OpCase> gather_cases() {
  std::vector<OpCase> cases;
  auto gather = [&](const std::string& variant, Shape out, std::vector<int64_t> index) {
    OpCase c;
    c.name = "Gather " + variant;
    c.inputs = {{{3, 4}}};
    c.build = [=](Env& e) { return e.add(std::make_shared<GatherOp>(out, index), {e.x[0]}); };
    c.reference = [=](const Values& x, const Values&) {
      std::vector<double> y;
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t j : index) y.push_back(x[0][r * 12 + j]);
      return y;
    };
    cases.push_back(c);
  };
  std::vector<int64_t> transpose;
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t i = 0; i < 3; ++i) transpose.push_back(i * 4 + j);
  gather("transpose of (3, 4) rows", {4, 3}, transpose);
  // Some elements read twice (their gradients add), some never (theirs is zero).
  gather("with repeats and skips", {6}, {2, 0, 2, 7, 11, 7});
  return cases;
}

std::vector<OpCase> matmul_cases() {
  std::vector<OpCase> cases;
  for (bool trainable : {true, false}) {
    OpCase c;
    c.name = std::string("MatMul (2, 4) rows @ ") + (trainable ? "weight" : "constant") + " (4, 3)";
    c.inputs = {{{2, 4}}};
    c.vars = {{{4, 3}, uniform(), trainable}};
    c.build = [](Env& e) { return e.add(std::make_shared<MatMulOp>(e.v[0]), {e.x[0]}); };
    c.reference = [](const Values& x, const Values& v) {
      return matmul_ref(x[0], v[0], 2, 4, 3, false);
    };
    cases.push_back(c);
  }
  OpCase c;
  c.name = "MatMul (3, 4) rows @ (4, 2) rows";
  c.inputs = {{{3, 4}}, {{4, 2}}};
  c.build = [](Env& e) { return e.add(std::make_shared<MatMulOp>(nullptr), {e.x[0], e.x[1]}); };
  c.reference = [](const Values& x, const Values&) {
    return matmul_ref(x[0], x[1], 3, 4, 2, true);
  };
  cases.push_back(c);
  OpCase self;
  self.name = "MatMul (3, 3) rows @ themselves";
  self.inputs = {{{3, 3}}};
  self.build = [](Env& e) { return e.add(std::make_shared<MatMulOp>(nullptr), {e.x[0], e.x[0]}); };
  self.reference = [](const Values& x, const Values&) {
    return matmul_ref(x[0], x[0], 3, 3, 3, true);
  };
  cases.push_back(self);
  return cases;
}

std::vector<OpCase> merge_cases() {
  std::vector<OpCase> cases;
  const std::pair<MergeKind, const char*> kinds[] = {
      {MergeKind::Add, "Add"},           {MergeKind::Subtract, "Subtract"},
      {MergeKind::Multiply, "Multiply"}, {MergeKind::Average, "Average"},
      {MergeKind::Maximum, "Maximum"},   {MergeKind::Minimum, "Minimum"}};
  for (const auto& [kind, name] : kinds) {
    const bool ties = kind == MergeKind::Maximum || kind == MergeKind::Minimum;
    const bool two = kind == MergeKind::Subtract;
    // Which graph input each of the op's inputs is: all different, then one listed twice
    // (its gradients land in one buffer, the first write and the later ones added).
    const std::vector<std::vector<size_t>> patterns =
        two ? std::vector<std::vector<size_t>>{{0, 1}, {0, 0}}
            : std::vector<std::vector<size_t>>{
                  {0, 1, 2}, {0, 1, 0}, {0, 0}, {0, 1, 2, 3}, {1, 0, 2, 1}};
    for (const std::vector<size_t>& pattern : patterns) {
      OpCase c;
      const size_t n_inputs = *std::max_element(pattern.begin(), pattern.end()) + 1;
      std::string which;
      for (size_t i : pattern) which += (which.empty() ? "" : ", ") + std::string(1, char('x' + i));
      c.name = std::string("Merge ") + name + " of (" + which + ")";
      for (size_t i = 0; i < n_inputs; ++i)
        c.inputs.push_back({{2, 3}, ties ? distinct() : uniform()});
      const MergeKind k = kind;
      c.build = [=](Env& e) {
        std::vector<int> ins;
        for (size_t i : pattern) ins.push_back(e.x[i]);
        return e.add(std::make_shared<MergeOp>(k), ins);
      };
      c.reference = [=](const Values& x, const Values&) {
        std::vector<double> y = to_double(x[pattern[0]]);
        for (size_t i = 1; i < pattern.size(); ++i) {
          const auto& xi = x[pattern[i]];
          for (size_t j = 0; j < y.size(); ++j) {
            const double b = xi[j];
            switch (k) {
              case MergeKind::Add:
              case MergeKind::Average: y[j] += b; break;
              case MergeKind::Subtract: y[j] -= b; break;
              case MergeKind::Multiply: y[j] *= b; break;
              case MergeKind::Maximum: y[j] = std::max(y[j], b); break;
              case MergeKind::Minimum: y[j] = std::min(y[j], b); break;
            }
          }
        }
        if (k == MergeKind::Average)
          for (double& z : y) z /= double(pattern.size());
        return y;
      };
      cases.push_back(c);
    }
  }
  return cases;
}

// Concatenation of rows along a row axis: each row is `outer` blocks of every input in turn.
std::vector<double> concatenate_ref(const Values& x, const std::vector<Shape>& shapes,
                                    size_t axis) {
  int64_t outer = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shapes[0][d];
  std::vector<double> y;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < x.size(); ++i) {
        const int64_t size = num_elements(shapes[i]), block = size / outer;
        for (int64_t j = 0; j < block; ++j) y.push_back(x[i][r * size + o * block + j]);
      }
  return y;
}

std::vector<OpCase> reshaping_cases() {
  std::vector<OpCase> cases;
  auto concatenate = [&](const std::string& variant, std::vector<Shape> shapes, int axis,
                         bool self) {
    OpCase c;
    c.name = "Concatenate " + variant;
    for (const Shape& s : shapes) c.inputs.push_back({s});
    if (self) c.inputs.resize(1);
    c.build = [=](Env& e) {
      std::vector<int> ins;
      for (size_t i = 0; i < shapes.size(); ++i) ins.push_back(e.x[self ? 0 : i]);
      return e.add(std::make_shared<ConcatenateOp>(axis), ins);
    };
    const size_t a = row_axis(axis, shapes[0]);
    c.reference = [=](const Values& x, const Values&) {
      return concatenate_ref(self ? Values(shapes.size(), x[0]) : x, shapes, a);
    };
    cases.push_back(c);
  };
  concatenate("of (2, 3) and (2, 2) rows on the last axis", {{2, 3}, {2, 2}}, -1, false);
  concatenate("of (2, 3), (1, 3) and (3, 3) rows on axis 1", {{2, 3}, {1, 3}, {3, 3}}, 1, false);
  concatenate("of an input with itself", {{2, 3}, {2, 3}}, -1, true);

  OpCase reshape;
  reshape.name = "Reshape (3, 4) rows to (2, -1)";
  reshape.inputs = {{{3, 4}}};
  reshape.build = [](Env& e) { return e.add(std::make_shared<ReshapeOp>(Shape{2, -1}), {e.x[0]}); };
  reshape.reference = identity_ref;
  cases.push_back(reshape);

  OpCase flatten;
  flatten.name = "Flatten (2, 3, 2) rows";
  flatten.inputs = {{{2, 3, 2}}};
  flatten.build = [](Env& e) { return e.add(std::make_shared<FlattenOp>(false), {e.x[0]}); };
  flatten.reference = identity_ref;
  cases.push_back(flatten);

  OpCase first;
  first.name = "Flatten channels_first (3, 2, 2) rows";
  first.inputs = {{{3, 2, 2}}};
  first.build = [](Env& e) { return e.add(std::make_shared<FlattenOp>(true), {e.x[0]}); };
  first.reference = [](const Values& x, const Values&) {
    std::vector<double> y(x[0].size());
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t s = 0; s < 4; ++s) y[r * 12 + s * 3 + ch] = x[0][r * 12 + ch * 4 + s];
    return y;
  };
  cases.push_back(first);
  return cases;
}

// ---- normalization --------------------------------------------------------------------------

constexpr double kEpsilon = 1e-3, kMomentum = 0.99;

// Per channel (row axis `axis` of shape s) over the batch and the other axes: the biased
// moments of x (kRows, s).
void channel_moments_ref(const std::vector<float>& x, const Shape& s, size_t axis,
                         std::vector<double>& mean, std::vector<double>& var) {
  const auto ch = index_over(s, 1u << axis);
  const int64_t n = num_elements(s), channels = s[axis];
  mean.assign(static_cast<size_t>(channels), 0.0);
  var.assign(mean.size(), 0.0);
  std::vector<double> count(mean.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    mean[ch[i % n]] += x[i];
    count[ch[i % n]] += 1.0;
  }
  for (size_t c = 0; c < mean.size(); ++c) mean[c] /= count[c];
  for (size_t i = 0; i < x.size(); ++i) var[ch[i % n]] += std::pow(x[i] - mean[ch[i % n]], 2);
  for (size_t c = 0; c < mean.size(); ++c) var[c] /= count[c];
}

std::vector<OpCase> batch_normalization_cases() {
  std::vector<OpCase> cases;
  // mode: "training", "inference" or "frozen" (training with the layer not trainable).
  auto batch_norm = [&](const std::string& mode, Shape row, int axis, bool affine) {
    OpCase c;
    const size_t a = row_axis(axis, row);
    const int64_t channels = row[a];
    c.name = "BatchNormalization " + mode + " axis " + std::to_string(axis) + " of " +
             shape_to_string(row) + " rows" + (affine ? "" : " without gamma and beta");
    c.training = mode != "inference";
    c.inputs = {{row}};
    if (affine) c.vars = {{{channels}, uniform(0.5f, 1.5f)}, {{channels}}};
    c.vars.push_back({{channels}, uniform(), false});             // moving_mean
    c.vars.push_back({{channels}, positive(0.5f, 1.5f), false});  // moving_variance
    auto layer_trainable = std::make_shared<LayerTrainable>();
    layer_trainable->value = mode != "frozen";
    c.build = [=](Env& e) {
      const size_t k = affine ? 2 : 0;
      return e.add(std::make_shared<BatchNormalizationOp>(
                       affine ? e.v[0] : nullptr, affine ? e.v[1] : nullptr, e.v[k], e.v[k + 1],
                       axis, kMomentum, kEpsilon, layer_trainable),
                   {e.x[0]});
    };
    const bool batch_stats = mode == "training";
    c.reference = [=](const Values& x, const Values& v) {
      const size_t k = affine ? 2 : 0;
      std::vector<double> mean = to_double(v[k]), var = to_double(v[k + 1]);
      if (batch_stats) channel_moments_ref(x[0], row, a, mean, var);
      const auto ch = index_over(row, 1u << a);
      const size_t n = ch.size();
      std::vector<double> y(x[0].size());
      for (size_t i = 0; i < y.size(); ++i) {
        const size_t cc = static_cast<size_t>(ch[i % n]);
        y[i] = (x[0][i] - mean[cc]) / std::sqrt(var[cc] + kEpsilon);
        if (affine) y[i] = y[i] * v[0][cc] + v[1][cc];
      }
      return y;
    };
    c.state = [=](const Values& x, const Values& before, const Values& after) {
      const size_t k = affine ? 2 : 0;
      std::vector<double> mean = to_double(before[k]), var = to_double(before[k + 1]);
      if (batch_stats) {
        std::vector<double> bm, bv;
        channel_moments_ref(x[0], row, a, bm, bv);
        for (size_t i = 0; i < mean.size(); ++i) {
          mean[i] = mean[i] * kMomentum + bm[i] * (1.0 - kMomentum);
          var[i] = var[i] * kMomentum + bv[i] * (1.0 - kMomentum);
        }
      }
      int reported = 0;
      return all_close(after[k], mean, moving_statistics, "moving_mean", &reported) &&
             all_close(after[k + 1], var, moving_statistics, "moving_variance", &reported);
    };
    cases.push_back(c);
  };
  batch_norm("training", {2, 3}, -1, true);
  batch_norm("training", {3, 2}, 1, true);
  batch_norm("training", {2, 4}, -1, false);
  batch_norm("inference", {2, 3}, -1, true);
  batch_norm("frozen", {2, 3}, -1, true);
  return cases;
}

std::vector<OpCase> layer_normalization_cases() {
  std::vector<OpCase> cases;
  auto layer_norm = [&](const std::string& variant, Shape row, std::vector<int> axes, bool gamma,
                        bool beta, bool rms) {
    OpCase c;
    c.name = "LayerNormalization " + variant;
    c.inputs = {{row}};
    uint32_t mask = 0;
    for (int ax : axes) mask |= 1u << row_axis(ax, row);
    const Shape param = dims_over(row, mask);
    if (gamma) c.vars.push_back({param, uniform(0.5f, 1.5f)});
    if (beta) c.vars.push_back({param});
    c.build = [=](Env& e) {
      return e.add(
          std::make_shared<LayerNormalizationOp>(
              gamma ? e.v[0] : nullptr, beta ? e.v[gamma ? 1 : 0] : nullptr, axes, kEpsilon, rms),
          {e.x[0]});
    };
    c.reference = [=](const Values& x, const Values& v) {
      const auto group = index_over(row, all_axes(row) & ~mask), pos = index_over(row, mask);
      const size_t n = group.size();
      const auto groups = static_cast<size_t>(num_elements(dims_over(row, all_axes(row) & ~mask)));
      std::vector<double> y(x[0].size());
      for (size_t r = 0; r < static_cast<size_t>(kRows); ++r) {
        std::vector<double> mean(groups, 0.0), var(groups, 0.0), count(groups, 0.0);
        for (size_t p = 0; p < n; ++p) {
          mean[group[p]] += x[0][r * n + p];
          count[group[p]] += 1.0;
        }
        for (size_t g = 0; g < groups; ++g) mean[g] /= count[g];
        for (size_t p = 0; p < n; ++p)
          var[group[p]] += std::pow(x[0][r * n + p] - mean[group[p]], 2);
        for (size_t g = 0; g < groups; ++g) var[g] /= count[g];
        for (size_t p = 0; p < n; ++p) {
          const size_t g = static_cast<size_t>(group[p]);
          const double xv = x[0][r * n + p];
          double out = (rms ? xv : xv - mean[g]) / std::sqrt(var[g] + kEpsilon);
          if (gamma) out *= v[0][pos[p]];
          if (beta) out += v[gamma ? 1 : 0][pos[p]];
          y[r * n + p] = out;
        }
      }
      return y;
    };
    cases.push_back(c);
  };
  layer_norm("axis -1 of (2, 4) rows", {2, 4}, {-1}, true, true, false);
  layer_norm("axes 1, 2 of (2, 3) rows", {2, 3}, {1, 2}, true, true, false);
  layer_norm("axis 1 of (3, 2) rows (not the last)", {3, 2}, {1}, true, true, false);
  layer_norm("rms_scaling, axis -1 of (2, 4) rows", {2, 4}, {-1}, true, false, true);
  layer_norm("without gamma and beta, axis -1 of (5) rows", {5}, {-1}, false, false, false);
  return cases;
}

std::vector<OpCase> normalization_cases() {
  std::vector<OpCase> cases;
  auto normalization = [&](const std::string& variant, Shape row, std::vector<int> keep,
                           bool invert) {
    OpCase c;
    c.name = "Normalization " + variant;
    c.inputs = {{row}};
    uint32_t mask = 0;
    for (int ax : keep) mask |= 1u << row_axis(ax, row);
    const Shape stats = dims_over(row, mask);
    c.vars = {{stats, uniform(), false}, {stats, positive(0.5f, 2.0f), false}};
    c.build = [=](Env& e) {
      return e.add(std::make_shared<NormalizationOp>(e.v[0], e.v[1], keep, invert), {e.x[0]});
    };
    c.reference = [=](const Values& x, const Values& v) {
      const auto k = index_over(row, mask);
      std::vector<double> y(x[0].size());
      for (size_t i = 0; i < y.size(); ++i) {
        const size_t s = static_cast<size_t>(k[i % k.size()]);
        const double d = std::max(std::sqrt(double(v[1][s])), 1e-7);
        y[i] = invert ? v[0][s] + x[0][i] * d : (x[0][i] - v[0][s]) / d;
      }
      return y;
    };
    cases.push_back(c);
  };
  normalization("keeping axis -1 of (2, 3) rows", {2, 3}, {-1}, false);
  normalization("invert, keeping axis -1 of (2, 3) rows", {2, 3}, {-1}, true);
  normalization("keeping axis 1 of (3, 2) rows", {3, 2}, {1}, false);
  return cases;
}

// ---- regularization -------------------------------------------------------------------------

std::vector<OpCase> regularization_cases() {
  std::vector<OpCase> cases;
  // Dropout: inputs away from zero, so a zero output is a dropped one. mask_of maps an element
  // of the batch to its mask entry; elements sharing an entry must be dropped together.
  auto dropout = [&](const std::string& variant, double rate, std::vector<int64_t> noise_shape,
                     bool training, std::function<int64_t(int64_t)> mask_of) {
    OpCase c;
    c.name = "Dropout " + variant;
    c.training = training;
    c.inputs = {{{3, 4}, away_from_zero()}};
    c.build = [=](Env& e) {
      return e.add(std::make_shared<DropoutOp>(rate, noise_shape, 1234), {e.x[0]});
    };
    if (!training || rate == 0.0) {
      c.reference = identity_ref;
    } else if (rate == 1.0) {
      c.reference = [](const Values& x, const Values&) { return std::vector<double>(x[0].size()); };
    } else {
      const double keep = 1.0 - rate;
      c.property = [=](const Values& x, const std::vector<float>& out) {
        bool ok = true, some_dropped = false, some_kept = false;
        std::vector<int> state(static_cast<size_t>(kRows * 12), -1);  // per mask entry
        for (size_t i = 0; i < out.size(); ++i) {
          const bool dropped = out[i] == 0.0f;
          some_dropped |= dropped;
          some_kept |= !dropped;
          ok &= dropped || close(out[i], x[0][i] / keep, 1e-6, 1e-6);
          int& s = state[mask_of(static_cast<int64_t>(i))];
          ok &= s == -1 || s == int(dropped);
          s = int(dropped);
        }
        return ok && some_dropped && some_kept;
      };
    }
    cases.push_back(c);
  };
  auto own = [](int64_t i) { return i; };
  dropout("training rate 0.5", 0.5, {}, true, own);
  dropout("training rate 0.3, noise_shape (None, 1, 4)", 0.3, {-1, 1, 4}, true,
          [](int64_t i) { return i / 12 * 4 + i % 4; });
  dropout("training rate 0.5, noise_shape (1, 3, 4): one mask for every row", 0.5, {1, 3, 4}, true,
          [](int64_t i) { return i % 12; });
  dropout("training rate 0", 0.0, {}, true, own);
  dropout("training rate 1: everything dropped", 1.0, {}, true, own);
  dropout("inference rate 0.5", 0.5, {}, false, own);

  for (bool training : {true, false}) {
    OpCase c;
    c.name = std::string("GaussianNoise stddev 0.3 ") + (training ? "training" : "inference");
    c.training = training;
    c.inputs = {{{3, 4}}};
    c.build = [](Env& e) { return e.add(std::make_shared<GaussianNoiseOp>(0.3, 99), {e.x[0]}); };
    if (training)
      c.property = [](const Values& x, const std::vector<float>& out) {
        bool ok = true;
        double sum_sq = 0.0;
        for (size_t i = 0; i < out.size(); ++i) {
          const double d = double(out[i]) - x[0][i];
          ok &= d != 0.0 && std::fabs(d) < 7 * 0.3;
          sum_sq += d * d;
        }
        // 36 draws: their root mean square lies within a factor of 2 of stddev.
        const double rms = std::sqrt(sum_sq / double(out.size()));
        return ok && rms > 0.15 && rms < 0.6;
      };
    else
      c.reference = identity_ref;
    cases.push_back(c);
  }

  auto activity = [&](const std::string& variant, double l1, double l2, bool training) {
    OpCase c;
    c.name = "ActivityRegularization " + variant;
    c.training = training;
    c.inputs = {{{3, 4}, away_from_zero()}};  // |x| has a kink at 0
    c.build = [=](Env& e) {
      return e.add(std::make_shared<ActivityRegularizationOp>(l1, l2), {e.x[0]});
    };
    c.reference = identity_ref;
    c.extra_loss = [=](const Values& x) {
      double p = 0.0;
      for (float xv : x[0]) p += l1 * std::fabs(xv) + l2 * double(xv) * xv;
      return p / double(kRows);
    };
    cases.push_back(c);
  };
  activity("l1 0.01, l2 0.02, training", 0.01, 0.02, true);
  activity("l1 0.05 in inference", 0.05, 0.0, false);
  return cases;
}

// One input feeding two ops whose outputs merge: its gradient is the sum of both paths, the
// second added to the first (ActivationOp's scratch path, UnaryOp's accumulate).
std::vector<OpCase> fan_out_cases() {
  OpCase c;
  c.name = "fan-out: tanh(x) + exp(x) through Activation, Unary and Add";
  c.inputs = {{{2, 3}}};
  c.build = [](Env& e) {
    const int a = e.add(std::make_shared<ActivationOp>(ActivationKind::Tanh), {e.x[0]});
    const int b = e.add(std::make_shared<UnaryOp>(UnaryKind::Exp), {e.x[0]});
    return e.add(std::make_shared<MergeOp>(MergeKind::Add), {a, b});
  };
  c.reference = [](const Values& x, const Values&) {
    std::vector<double> y = to_double(x[0]);
    for (double& z : y) z = std::tanh(z) + std::exp(z);
    return y;
  };
  OpCase d;
  d.name = "fan-out: softmax over axis 0 of x and x, multiplied";
  d.inputs = {{{3, 2}}};
  d.build = [](Env& e) {
    const int a = e.add(std::make_shared<ActivationOp>(Activation::softmax(0)), {e.x[0]});
    return e.add(std::make_shared<MergeOp>(MergeKind::Multiply), {a, e.x[0]});
  };
  return {c, d};
}

// ---- pooling and shape ops (issue 11) ---------------------------------------------------------

// The row-major multi-index of element p of shape s, and back.
std::vector<int64_t> unravel(int64_t p, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = p % s[d];
    p /= s[d];
  }
  return idx;
}
int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t p = 0;
  for (size_t d = 0; d < s.size(); ++d) p = p * s[d] + idx[d];
  return p;
}

// The row axes of the k spatial axes of a row of rank r.
std::vector<size_t> spatial_axes(size_t r, size_t k, bool channels_first) {
  std::vector<size_t> a;
  for (size_t i = 0; i < k; ++i) a.push_back(channels_first ? r - k + i : r - 1 - k + i);
  return a;
}

// Pooling of x (kRows, in) to (kRows, out) over the given axes, straight from the definition:
// each output element's window in input coordinates, padded positions skipped.
std::vector<double> pool_ref(const std::vector<float>& x, const Shape& in, const Shape& out,
                             const std::vector<size_t>& axes, const std::vector<int64_t>& pool,
                             const std::vector<int64_t>& strides, bool same, bool max) {
  std::vector<int64_t> pad(axes.size(), 0);
  if (same)
    for (size_t i = 0; i < axes.size(); ++i)
      pad[i] = std::max<int64_t>((out[axes[i]] - 1) * strides[i] + pool[i] - in[axes[i]], 0) / 2;
  const int64_t n_in = num_elements(in), n_out = num_elements(out);
  int64_t window = 1;
  for (int64_t p : pool) window *= p;
  std::vector<double> y;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t p = 0; p < n_out; ++p) {
      const auto o = unravel(p, out);
      double acc = max ? -INFINITY : 0.0;
      int64_t count = 0;
      for (int64_t w = 0; w < window; ++w) {
        auto idx = o;
        int64_t rest = w;
        bool inside = true;
        for (size_t i = axes.size(); i-- > 0;) {
          const int64_t at = o[axes[i]] * strides[i] - pad[i] + rest % pool[i];
          rest /= pool[i];
          inside = inside && at >= 0 && at < in[axes[i]];
          idx[axes[i]] = at;
        }
        if (!inside) continue;
        const double v = x[r * n_in + ravel(idx, in)];
        acc = max ? std::max(acc, v) : acc + v;
        ++count;
      }
      y.push_back(max ? acc : acc / double(count));
    }
  return y;
}

std::vector<OpCase> pooling_cases() {
  std::vector<OpCase> cases;
  auto pooling = [&](const std::string& variant, bool max, Shape in, Shape out,
                     std::vector<int64_t> pool, std::vector<int64_t> strides, bool same,
                     bool channels_first) {
    OpCase c;
    c.name = std::string(max ? "MaxPooling " : "AveragePooling ") + variant;
    c.inputs = {{in, max ? distinct() : uniform()}};  // max: no ties within a step
    c.build = [=](Env& e) {
      return e.add(std::make_shared<PoolOp>(max, pool, strides, same, channels_first), {e.x[0]});
    };
    const auto axes = spatial_axes(in.size(), pool.size(), channels_first);
    c.reference = [=](const Values& x, const Values&) {
      return pool_ref(x[0], in, out, axes, pool, strides, same, max);
    };
    cases.push_back(c);
  };
  pooling("2x2 valid on (4, 5, 3) rows", true, {4, 5, 3}, {2, 2, 3}, {2, 2}, {2, 2}, false, false);
  pooling("3x3 same stride 2 on (5, 4, 2) rows", true, {5, 4, 2}, {3, 2, 2}, {3, 3}, {2, 2}, true,
          false);
  pooling("(3, 2) same strides (2, 1) channels_first (2, 5, 4) rows", false, {2, 5, 4}, {2, 3, 4},
          {3, 2}, {2, 1}, true, true);
  pooling("2x2 valid stride 1 on (3, 4, 2) rows", false, {3, 4, 2}, {2, 3, 2}, {2, 2}, {1, 1},
          false, false);
  pooling("3x3 same stride 3 on (4, 5, 2) rows (tiles with a leading pad)", true, {4, 5, 2},
          {2, 2, 2}, {3, 3}, {3, 3}, true, false);
  pooling("2x2 same stride 1 on (2, 3, 4, 2) rows (2 images a row)", true, {2, 3, 4, 2},
          {2, 3, 4, 2}, {2, 2}, {1, 1}, true, false);
  pooling("1-D 2 stride 1 on (2, 5, 3) rows (2 samples a row)", true, {2, 5, 3}, {2, 4, 3}, {2},
          {1}, false, false);
  pooling("1-D 3 same stride 2 channels_first (3, 6) rows", false, {3, 6}, {3, 3}, {3}, {2}, true,
          true);

  auto padding = [&](const std::string& variant, Shape in, std::vector<int64_t> before,
                     std::vector<int64_t> after) {
    OpCase c;
    c.name = "Padding " + variant;
    c.inputs = {{in}};
    c.build = [=](Env& e) { return e.add(std::make_shared<PadOp>(before, after), {e.x[0]}); };
    c.reference = [=](const Values& x, const Values&) {
      Shape out = in;
      for (size_t d = 0; d < in.size(); ++d) out[d] += before[d] + after[d];
      const int64_t n_in = num_elements(in), n_out = num_elements(out);
      std::vector<double> y;
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t p = 0; p < n_out; ++p) {
          auto idx = unravel(p, out);
          bool inside = true;
          for (size_t d = 0; d < in.size(); ++d) {
            idx[d] -= before[d];
            inside = inside && idx[d] >= 0 && idx[d] < in[d];
          }
          y.push_back(inside ? double(x[0][r * n_in + ravel(idx, in)]) : 0.0);
        }
      return y;
    };
    cases.push_back(c);
  };
  padding("of (3, 2, 2) rows by (1, 2), (0, 1), (0, 0)", {3, 2, 2}, {1, 0, 0}, {2, 1, 0});
  padding("cropping (5, 4, 2) rows by (1, 2), (0, 1), (0, 0)", {5, 4, 2}, {-1, 0, 0}, {-2, -1, 0});
  padding("padding one axis and cropping another", {4, 3}, {-1, 2}, {0, 1});

  auto upsampling = [&](const std::string& variant, Shape in, std::vector<int64_t> size,
                        bool bilinear, bool channels_first) {
    OpCase c;
    c.name = std::string("UpSampling ") + (bilinear ? "bilinear " : "nearest ") + variant;
    c.inputs = {{in}};
    c.build = [=](Env& e) {
      return e.add(std::make_shared<UpSamplingOp>(size, bilinear, channels_first), {e.x[0]});
    };
    const auto axes = spatial_axes(in.size(), size.size(), channels_first);
    c.reference = [=](const Values& x, const Values&) {
      Shape out = in;
      for (size_t i = 0; i < axes.size(); ++i) out[axes[i]] *= size[i];
      // Per spatial axis and output index, the weight of every input index: nearest o / f;
      // bilinear jax's normalised triangle around the centre (o + 0.5) / f - 0.5.
      auto weight = [&](size_t i, int64_t o, int64_t j) {
        if (!bilinear) return j == o / size[i] ? 1.0 : 0.0;
        const double centre = (double(o) + 0.5) / double(size[i]) - 0.5;
        double total = 0.0;
        for (int64_t q = 0; q < in[axes[i]]; ++q)
          total += std::max(0.0, 1.0 - std::abs(centre - double(q)));
        return std::max(0.0, 1.0 - std::abs(centre - double(j))) / total;
      };
      const int64_t n_in = num_elements(in), n_out = num_elements(out);
      std::vector<double> y;
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t p = 0; p < n_out; ++p) {
          const auto o = unravel(p, out);
          double acc = 0.0;
          for (int64_t q = 0; q < n_in; ++q) {
            const auto idx = unravel(q, in);
            double w = 1.0;
            for (size_t d = 0; d < in.size() && w != 0.0; ++d) {
              const auto it = std::find(axes.begin(), axes.end(), d);
              if (it == axes.end())
                w = idx[d] == o[d] ? w : 0.0;
              else
                w *= weight(static_cast<size_t>(it - axes.begin()), o[d], idx[d]);
            }
            if (w != 0.0) acc += w * x[0][r * n_in + q];
          }
          y.push_back(acc);
        }
      return y;
    };
    cases.push_back(c);
  };
  upsampling("(2, 3) on (2, 3, 2) rows", {2, 3, 2}, {2, 3}, false, false);
  upsampling("(2, 2) on (3, 2, 2) rows", {3, 2, 2}, {2, 2}, true, false);
  upsampling("(3, 2) channels_first on (2, 2, 3) rows", {2, 2, 3}, {3, 2}, true, true);
  upsampling("1-D 3 on (2, 4, 2) rows (2 samples a row)", {2, 4, 2}, {3}, false, false);
  return cases;
}

// Sequences (issue 11). Ids come in as floats k + 0.5 +- 0.2 and a Cast truncates them to
// int32 bit patterns, as the emitter does for float ids; no gradient flows to ids or masks.
std::vector<OpCase> sequence_cases() {
  std::vector<OpCase> cases;
  {
    OpCase c;
    c.name = "Embedding (5, 3) table, 4 ids per row, repeats add up in the table's gradient";
    c.inputs = {{{4}, ids(0, 5)}};
    c.vars = {{{5, 3}}};
    c.build = [](Env& e) {
      const int id = e.add(std::make_shared<CastOp>(true, "cast"), {e.x[0]});
      return e.add(std::make_shared<EmbeddingOp>(e.v[0], "embedding"), {id});
    };
    c.reference = [](const Values& x, const Values& v) {
      std::vector<double> y;
      for (float id : x[0])
        for (int64_t j = 0; j < 3; ++j) y.push_back(v[0][static_cast<size_t>(id) * 3 + j]);
      return y;
    };
    cases.push_back(c);
  }
  {
    OpCase c;
    c.name = "Cast float -> int32 -> float, (2, 3) rows";
    c.inputs = {{{2, 3}, ids(-4, 4)}};
    c.build = [](Env& e) {
      const int id = e.add(std::make_shared<CastOp>(true, "cast"), {e.x[0]});
      return e.add(std::make_shared<CastOp>(false, "cast"), {id});
    };
    c.reference = [](const Values& x, const Values&) {
      std::vector<double> y;
      for (float v : x[0]) y.push_back(std::trunc(double(v)));
      return y;
    };
    cases.push_back(c);
  }
  auto mask = [&](const std::string& variant, bool from_ids, Shape row) {
    OpCase c;
    c.name = "Mask " + variant;
    c.inputs = {{row, ids(0, 2)}};
    c.build = [=](Env& e) {
      int v = e.add(std::make_shared<CastOp>(true, "cast"), {e.x[0]});
      if (!from_ids) v = e.add(std::make_shared<CastOp>(false, "cast"), {v});
      return e.add(std::make_shared<MaskOp>(from_ids, 0.0f), {v});
    };
    c.reference = [=](const Values& x, const Values&) {
      const auto group = from_ids ? 1 : static_cast<size_t>(row.back());
      std::vector<double> y;
      for (size_t g = 0; g < x[0].size(); g += group) {
        bool any = false;
        for (size_t k = 0; k < group; ++k) any = any || std::trunc(x[0][g + k]) != 0.0;
        y.push_back(any ? 1.0 : 0.0);
      }
      return y;
    };
    cases.push_back(c);
  };
  mask("of ids != 0 (mask_zero), 6 ids per row", true, {6});
  mask("of any(x != 0) over the last axis (Masking), (4, 2) rows", false, {4, 2});
  return cases;
}

// ---- recurrent (issue 11) -------------------------------------------------------------------

double recurrent_act_ref(ActivationKind k, double z) {
  switch (k) {
    case ActivationKind::Tanh: return std::tanh(z);
    case ActivationKind::Sigmoid: return sigmoid_ref(z);
    case ActivationKind::HardSigmoid: return std::min(std::max(z + 3.0, 0.0), 6.0) / 6.0;
    case ActivationKind::Relu: return std::max(z, 0.0);
    default: return z;
  }
}

// SimpleRNN / LSTM / GRU over each row's sequence x (T, I) in double, as Keras 3 computes
// them: kernel (I, G*H), recurrent kernel (H, G*H), bias; mask (T) rows skip steps.
std::vector<double> recurrent_ref(const RecurrentConfig& cfg, int64_t T, int64_t I, int64_t H,
                                  bool masked, bool use_bias, const Values& x, const Values& v) {
  const int64_t G = cfg.cell == RecurrentCell::LSTM ? 4 : cfg.cell == RecurrentCell::GRU ? 3 : 1;
  const int64_t GH = G * H;
  const auto& W = v[0];
  const auto& U = v[1];
  const bool two_biases = cfg.cell == RecurrentCell::GRU && cfg.reset_after;
  auto bias = [&](int64_t row, int64_t j) {
    return use_bias ? double(v[2][static_cast<size_t>(row * GH + j)]) : 0.0;
  };
  const auto a = cfg.activation, ra = cfg.recurrent_activation;
  std::vector<double> out;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<double> h(static_cast<size_t>(H), 0.0), c(h), last(h);
    std::vector<std::vector<double>> seq;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = cfg.go_backwards ? T - 1 - s : s;
      std::vector<double> y(static_cast<size_t>(H));
      if (masked && x[1][static_cast<size_t>(r * T + t)] < 0.5f) {
        for (int64_t j = 0; j < H; ++j) y[j] = cfg.zero_output_for_mask ? 0.0 : h[j];
        seq.push_back(y);
        continue;
      }
      std::vector<double> xp(static_cast<size_t>(GH)), rp(xp);
      for (int64_t j = 0; j < GH; ++j) {
        double sx = bias(0, j), sr = two_biases ? bias(1, j) : 0.0;
        for (int64_t i = 0; i < I; ++i)
          sx += double(x[0][static_cast<size_t>((r * T + t) * I + i)]) * W[i * GH + j];
        for (int64_t i = 0; i < H; ++i) sr += h[i] * U[i * GH + j];
        xp[j] = sx;
        rp[j] = sr;
      }
      std::vector<double> hn(static_cast<size_t>(H));
      if (cfg.cell == RecurrentCell::SimpleRNN) {
        for (int64_t j = 0; j < H; ++j) hn[j] = recurrent_act_ref(a, xp[j] + rp[j]);
      } else if (cfg.cell == RecurrentCell::LSTM) {
        for (int64_t j = 0; j < H; ++j) {
          const double ig = recurrent_act_ref(ra, xp[j] + rp[j]);
          const double fg = recurrent_act_ref(ra, xp[H + j] + rp[H + j]);
          const double g = recurrent_act_ref(a, xp[2 * H + j] + rp[2 * H + j]);
          const double o = recurrent_act_ref(ra, xp[3 * H + j] + rp[3 * H + j]);
          c[j] = fg * c[j] + ig * g;
          hn[j] = o * recurrent_act_ref(a, c[j]);
        }
      } else {
        std::vector<double> z(static_cast<size_t>(H)), rg(z);
        for (int64_t j = 0; j < H; ++j) {
          z[j] = recurrent_act_ref(ra, xp[j] + rp[j]);
          rg[j] = recurrent_act_ref(ra, xp[H + j] + rp[H + j]);
        }
        for (int64_t j = 0; j < H; ++j) {
          double hh;
          if (cfg.reset_after) {
            hh = recurrent_act_ref(a, xp[2 * H + j] + rg[j] * rp[2 * H + j]);
          } else {
            double sr = 0.0;
            for (int64_t i = 0; i < H; ++i) sr += rg[i] * h[i] * U[i * GH + 2 * H + j];
            hh = recurrent_act_ref(a, xp[2 * H + j] + sr);
          }
          hn[j] = z[j] * h[j] + (1.0 - z[j]) * hh;
        }
      }
      h = hn;
      seq.push_back(h);
    }
    if (cfg.return_sequences) {
      for (const auto& y : seq) out.insert(out.end(), y.begin(), y.end());
    } else {
      out.insert(out.end(), seq.back().begin(), seq.back().end());
    }
    if (cfg.return_state) {
      out.insert(out.end(), h.begin(), h.end());
      if (cfg.cell == RecurrentCell::LSTM) out.insert(out.end(), c.begin(), c.end());
    }
  }
  return out;
}

std::vector<OpCase> recurrent_cases() {
  std::vector<OpCase> cases;
  // T = 4 steps of I = 2 features, H = 2 units; weights small enough that no gate saturates.
  auto rnn = [&](const std::string& variant, RecurrentConfig cfg, bool masked, bool use_bias) {
    const int64_t T = 4, I = 2, H = 2;
    const int64_t G = cfg.cell == RecurrentCell::LSTM ? 4 : cfg.cell == RecurrentCell::GRU ? 3 : 1;
    OpCase c;
    c.name = std::string(cfg.cell == RecurrentCell::LSTM  ? "LSTM "
                         : cfg.cell == RecurrentCell::GRU ? "GRU "
                                                          : "SimpleRNN ") +
             variant;
    c.inputs = {{{T, I}}};
    if (masked) c.inputs.push_back({{T}, Draw{Draw::Bits, 0.0f, 1.0f}});
    c.vars = {{{I, G * H}, uniform(-0.7f, 0.7f)}, {{H, G * H}, uniform(-0.7f, 0.7f)}};
    if (use_bias)
      c.vars.push_back(
          {cfg.cell == RecurrentCell::GRU && cfg.reset_after ? Shape{2, G * H} : Shape{G * H},
           uniform(-0.5f, 0.5f)});
    c.build = [=](Env& e) {
      return e.add(std::make_shared<RecurrentOp>(e.v[0], e.v[1], use_bias ? e.v[2] : nullptr, cfg),
                   e.x);
    };
    if (cfg.dropout == 0.0 && cfg.recurrent_dropout == 0.0)
      c.reference = [=](const Values& x, const Values& v) {
        return recurrent_ref(cfg, T, I, H, masked, use_bias, x, v);
      };
    cases.push_back(c);
  };
  RecurrentConfig cfg;
  cfg.cell = RecurrentCell::SimpleRNN;
  cfg.return_sequences = true;
  rnn("tanh, return_sequences", cfg, false, true);
  cfg.go_backwards = true;
  cfg.return_state = true;
  rnn("go_backwards, return_state, masked", cfg, true, true);
  cfg = RecurrentConfig{};
  rnn("last output", cfg, false, true);
  cfg.return_state = true;
  rnn("masked, return_state", cfg, true, true);
  cfg.return_sequences = true;
  cfg.go_backwards = true;
  cfg.zero_output_for_mask = true;
  rnn("go_backwards, return_sequences, masked with zero outputs", cfg, true, true);
  cfg = RecurrentConfig{};
  cfg.activation = ActivationKind::Linear;
  cfg.recurrent_activation = ActivationKind::HardSigmoid;
  cfg.return_sequences = true;
  rnn("linear, hard_sigmoid, no bias", cfg, false, false);
  cfg = RecurrentConfig{};
  cfg.cell = RecurrentCell::GRU;
  cfg.return_sequences = true;
  cfg.return_state = true;
  rnn("reset_after, return_sequences, return_state, masked", cfg, true, true);
  cfg.reset_after = false;
  cfg.go_backwards = true;
  rnn("reset_before, go_backwards, masked", cfg, true, true);
  cfg.return_sequences = false;
  rnn("reset_before, no bias", cfg, false, false);
  // Dropout: the masks are drawn afresh by every new op from its seed, so the finite
  // differences (each a new graph) see the same masks as the gradient.
  cfg = RecurrentConfig{};
  cfg.dropout = 0.4;
  cfg.return_sequences = true;
  rnn("dropout 0.4 (one input mask)", cfg, false, true);
  cfg.mask_per_gate = true;
  rnn("dropout 0.4, implementation 1 (a mask per gate)", cfg, false, true);
  cfg.mask_per_gate = false;
  cfg.recurrent_dropout = 0.3;
  rnn("dropout 0.4, recurrent_dropout 0.3 (a mask per gate)", cfg, true, true);
  cfg.cell = RecurrentCell::GRU;
  cfg.reset_after = false;
  rnn("reset_before, dropout and recurrent_dropout", cfg, false, true);
  cfg.reset_after = true;
  cfg.dropout = 0.0;
  rnn("reset_after, recurrent_dropout only", cfg, false, true);
  cfg.cell = RecurrentCell::SimpleRNN;
  cfg.dropout = 0.5;
  rnn("dropout and recurrent_dropout", cfg, false, true);
  return cases;
}

// ---- convolution (issue 11) ---------------------------------------------------------------

// A convolution's geometry written out plainly for the reference below (padding worked out
// here, independently of ops_conv.cpp).
struct ConvCase {
  std::string variant;
  Shape
      in_row;  // (lead..., spatial..., channels) or channels_first (lead..., channels, spatial...)
  std::vector<int64_t> kernel, strides, dilation;
  std::string padding = "valid";
  std::vector<int64_t> output_padding;  // transposed; empty: None
  int64_t filters = 2, groups = 1, multiplier = 1;
  bool channels_first = false, transpose = false, depthwise = false, bias = true;
  Activation act = ActivationKind::Linear;
  bool kernel_trainable = true;
  int64_t col_budget = 0;  // > 0: ConvSpec::col_budget (small: the batch runs in chunks)
};

// y = act(conv(x) + b) in double by its definition: each output sums input * kernel over the
// positions its window covers. Images are taken channels-last (transposed here if need be).
std::vector<double> conv_reference(const ConvCase& cc, const Values& x, const Values& v) {
  const size_t rank = cc.kernel.size();
  const size_t lead = cc.in_row.size() - rank - 1;
  int64_t images = 1;
  for (size_t a = 0; a < lead; ++a) images *= cc.in_row[a];
  const int64_t C = cc.channels_first ? cc.in_row[lead] : cc.in_row.back();
  int64_t in[2] = {1, 1}, k[2] = {1, 1}, st[2] = {1, 1}, dl[2] = {1, 1}, out[2] = {1, 1},
          pad[2] = {0, 0};
  for (size_t a = 0; a < rank; ++a) {
    const size_t d = 2 - rank + a;
    in[d] = cc.in_row[lead + (cc.channels_first ? 1 : 0) + a];
    k[d] = cc.kernel[a];
    st[d] = cc.strides.empty() ? 1 : cc.strides[a];
    dl[d] = cc.dilation.empty() ? 1 : cc.dilation[a];
    const int64_t eff = (k[d] - 1) * dl[d] + 1;
    if (cc.transpose) {
      int64_t left, right;
      const int64_t op = cc.output_padding.empty() ? -1 : cc.output_padding[a];
      if (cc.padding == "valid") {
        left = eff - 1;
        right = eff - 1 + (op < 0 ? std::max(eff, st[d]) - eff : op);
      } else {
        const int64_t len = op < 0 ? st[d] + eff - 2 : eff + eff % 2 - 2 + op;
        left = std::min(len / 2 + len % 2, eff - 1);
        right = len - left;
      }
      out[d] = (in[d] - 1) * st[d] + left + right - eff + 2;
      pad[d] = eff - 1 - left;
    } else if (cc.padding == "valid") {
      out[d] = (in[d] - eff) / st[d] + 1;
    } else if (cc.padding == "same") {
      out[d] = (in[d] + st[d] - 1) / st[d];
      pad[d] = std::max<int64_t>((out[d] - 1) * st[d] + eff - in[d], 0) / 2;
    } else {  // causal
      out[d] = (in[d] - 1) / st[d] + 1;
      pad[d] = eff - 1;
    }
  }
  const int64_t F = cc.depthwise ? C * cc.multiplier : cc.filters;
  const int64_t groups = cc.depthwise ? C : cc.groups;
  const int64_t cg = C / groups, fg = F / groups;
  const int64_t in_pos = in[0] * in[1], out_pos = out[0] * out[1];
  const int64_t images_all = kRows * images;
  std::vector<double> y(static_cast<size_t>(images_all * out_pos * F), 0.0);
  for (int64_t img = 0; img < images_all; ++img) {
    // x channels-last as doubles
    auto X = [&](int64_t h, int64_t w, int64_t c) {
      const int64_t p = h * in[1] + w;
      return double(x[0][static_cast<size_t>(img * in_pos * C +
                                             (cc.channels_first ? c * in_pos + p : p * C + c))]);
    };
    auto Y = [&](int64_t h, int64_t w, int64_t f) -> double& {
      const int64_t p = h * out[1] + w;
      return y[static_cast<size_t>(img * out_pos * F +
                                   (cc.channels_first ? f * out_pos + p : p * F + f))];
    };
    if (cc.transpose) {  // kernel (kh, kw, F, C): input i reaches output i * s - pad + a * d
      for (int64_t ih = 0; ih < in[0]; ++ih)
        for (int64_t iw = 0; iw < in[1]; ++iw)
          for (int64_t a = 0; a < k[0]; ++a)
            for (int64_t b = 0; b < k[1]; ++b) {
              const int64_t oh = ih * st[0] - pad[0] + a * dl[0];
              const int64_t ow = iw * st[1] - pad[1] + b * dl[1];
              if (oh < 0 || oh >= out[0] || ow < 0 || ow >= out[1]) continue;
              for (int64_t f = 0; f < F; ++f)
                for (int64_t c = 0; c < C; ++c)
                  Y(oh, ow, f) +=
                      X(ih, iw, c) *
                      double(v[0][static_cast<size_t>(((a * k[1] + b) * F + f) * C + c)]);
            }
    } else {  // kernel (kh, kw, C / groups, F); depthwise (kh, kw, C, m) is (kh, kw, 1, C * m)
      for (int64_t oh = 0; oh < out[0]; ++oh)
        for (int64_t ow = 0; ow < out[1]; ++ow)
          for (int64_t f = 0; f < F; ++f) {
            double sum = 0.0;
            const int64_t g = f / fg;
            for (int64_t a = 0; a < k[0]; ++a)
              for (int64_t b = 0; b < k[1]; ++b) {
                const int64_t ih = oh * st[0] - pad[0] + a * dl[0];
                const int64_t iw = ow * st[1] - pad[1] + b * dl[1];
                if (ih < 0 || ih >= in[0] || iw < 0 || iw >= in[1]) continue;
                for (int64_t c = 0; c < cg; ++c)
                  sum += X(ih, iw, g * cg + c) *
                         double(v[0][static_cast<size_t>(((a * k[1] + b) * cg + c) * F + f)]);
              }
            Y(oh, ow, f) = sum;
          }
    }
    for (int64_t p = 0; p < out_pos; ++p)
      for (int64_t f = 0; f < F; ++f) {
        double& z = Y(p / out[1], p % out[1], f);
        if (cc.bias) z += v[1][static_cast<size_t>(f)];
        activation_ref(cc.act, z, &z);
      }
  }
  return y;
}

std::vector<OpCase> conv_cases() {
  std::vector<OpCase> cases;
  auto conv = [&](ConvCase cc) {
    OpCase c;
    c.name = "Conv " + cc.variant;
    c.inputs = {{cc.in_row}};
    const size_t rank = cc.kernel.size();
    const int64_t C = cc.channels_first ? cc.in_row[cc.in_row.size() - rank - 1] : cc.in_row.back();
    Shape kshape(cc.kernel.begin(), cc.kernel.end());
    int64_t F = cc.filters;
    if (cc.transpose) {
      kshape.push_back(cc.filters);
      kshape.push_back(C);
    } else if (cc.depthwise) {
      kshape.push_back(C);
      kshape.push_back(cc.multiplier);
      F = C * cc.multiplier;
    } else {
      kshape.push_back(C / cc.groups);
      kshape.push_back(cc.filters);
    }
    c.vars = {{kshape, uniform(), cc.kernel_trainable}};
    if (cc.bias) c.vars.push_back({{F}});
    c.build = [cc](Env& e) {
      ConvSpec spec;
      spec.kernel_size = cc.kernel;
      spec.strides = cc.strides;
      spec.dilation_rate = cc.dilation;
      spec.padding = cc.padding;
      spec.output_padding = cc.output_padding;
      spec.groups = cc.groups;
      spec.channels_first = cc.channels_first;
      spec.transpose = cc.transpose;
      spec.depthwise = cc.depthwise;
      if (cc.col_budget > 0) spec.col_budget = cc.col_budget;
      return e.add(std::make_shared<ConvOp>(e.v[0], cc.bias ? e.v[1] : nullptr, spec, cc.act),
                   {e.x[0]});
    };
    c.reference = [cc](const Values& x, const Values& v) { return conv_reference(cc, x, v); };
    cases.push_back(c);
  };
  ConvCase c;
  c = {};
  c.variant = "2-D valid 3x3 with tanh";
  c.in_row = {5, 4, 2};
  c.kernel = {3, 3};
  c.filters = 3;
  c.act = ActivationKind::Tanh;
  conv(c);
  c = {};
  c.variant = "2-D same, strides 2, no bias";
  c.in_row = {6, 5, 3};
  c.kernel = {3, 2};
  c.strides = {2, 2};
  c.padding = "same";
  c.bias = false;
  conv(c);
  c = {};
  c.variant = "2-D dilation 2, gelu (gradient needs z)";
  c.in_row = {6, 6, 2};
  c.kernel = {2, 3};
  c.dilation = {2, 2};
  c.act = Activation::gelu(false);
  conv(c);
  c = {};
  c.variant = "2-D groups 2, same";
  c.in_row = {4, 4, 4};
  c.kernel = {3, 3};
  c.padding = "same";
  c.groups = 2;
  c.filters = 4;
  conv(c);
  c = {};
  c.variant = "2-D channels_first with a leading axis, same, strides (1, 2)";
  c.in_row = {2, 3, 5, 4};
  c.kernel = {3, 3};
  c.strides = {1, 2};
  c.padding = "same";
  c.channels_first = true;
  c.act = ActivationKind::Sigmoid;
  conv(c);
  c = {};
  c.variant = "2-D 1x1 (a plain GEMM), groups 2";
  c.in_row = {3, 3, 4};
  c.kernel = {1, 1};
  c.groups = 2;
  conv(c);
  c = {};
  c.variant = "2-D 1x1 channels_first";
  c.in_row = {3, 2, 3};
  c.kernel = {1, 1};
  c.channels_first = true;
  conv(c);
  c = {};
  c.variant = "1-D causal, dilation 2";
  c.in_row = {7, 2};
  c.kernel = {3};
  c.dilation = {2};
  c.padding = "causal";
  c.filters = 3;
  conv(c);
  c = {};
  c.variant = "1-D valid, strides 2, frozen kernel";
  c.in_row = {8, 3};
  c.kernel = {3};
  c.strides = {2};
  c.kernel_trainable = false;
  conv(c);
  c = {};
  c.variant = "depthwise 2-D, multiplier 2, same";
  c.in_row = {5, 4, 3};
  c.kernel = {3, 3};
  c.padding = "same";
  c.depthwise = true;
  c.multiplier = 2;
  conv(c);
  c = {};
  c.variant = "transposed 2-D same, strides 2";
  c.in_row = {3, 3, 2};
  c.kernel = {3, 3};
  c.strides = {2, 2};
  c.padding = "same";
  c.transpose = true;
  c.act = ActivationKind::Tanh;
  conv(c);
  c = {};
  c.variant = "transposed 2-D valid, output_padding (1, 0), channels_first";
  c.in_row = {2, 3, 2};
  c.kernel = {2, 3};
  c.strides = {2, 2};
  c.output_padding = {1, 0};
  c.transpose = true;
  c.channels_first = true;
  conv(c);
  c = {};
  c.variant = "transposed 1-D valid, dilation 2, no bias";
  c.in_row = {4, 3};
  c.kernel = {3};
  c.dilation = {2};
  c.transpose = true;
  c.bias = false;
  conv(c);
  // A column matrix over budget: the batch (3 rows of 2 images) in chunks of 2 and 1 images.
  c = {};
  c.variant = "2-D in chunks of images, tanh";
  c.in_row = {2, 5, 4, 2};
  c.kernel = {3, 3};
  c.act = ActivationKind::Tanh;
  c.col_budget = 2 * 3 * 2 * 18;
  conv(c);
  c = {};
  c.variant = "2-D grouped, channels_first, in chunks of one image";
  c.in_row = {4, 4, 3};
  c.kernel = {2, 2};
  c.groups = 2;
  c.filters = 4;
  c.channels_first = true;
  c.col_budget = 1;
  conv(c);
  c = {};
  c.variant = "transposed 2-D in chunks of one image";
  c.in_row = {3, 2, 2};
  c.kernel = {2, 2};
  c.strides = {2, 2};
  c.transpose = true;
  c.col_budget = 1;
  conv(c);
  return cases;
}

// ---- EinsumDense and score attention (issue 17) ----------------------------------------------

// einsum(equation, x, w) (+ bias right-aligned against the output row) in double, by brute
// force over every label's index; the equation is explicit, its first label the batch.
std::vector<double> einsum_ref(const std::string& eq, const Shape& x_row, const Shape& w_shape,
                               const std::vector<float>& x, const std::vector<float>& w,
                               const std::vector<float>* bias, const Shape& bias_shape) {
  const size_t comma = eq.find(','), arrow = eq.find("->");
  const std::string xl = eq.substr(1, comma - 1), wl = eq.substr(comma + 1, arrow - comma - 1),
                    ol = eq.substr(arrow + 3);
  std::string labels;  // every non-batch label once
  std::vector<int64_t> dims;
  auto note = [&](const std::string& ls, const Shape& shape) {
    for (size_t i = 0; i < ls.size(); ++i)
      if (labels.find(ls[i]) == std::string::npos) {
        labels.push_back(ls[i]);
        dims.push_back(shape[i]);
      }
  };
  note(xl, x_row);
  note(wl, w_shape);
  Shape out_row;
  for (char c : ol) out_row.push_back(dims[labels.find(c)]);
  auto flat = [&](const std::string& ls, const Shape& shape, const std::vector<int64_t>& at) {
    int64_t k = 0;
    for (size_t i = 0; i < ls.size(); ++i) k = k * shape[i] + at[labels.find(ls[i])];
    return k;
  };
  const int64_t x_size = num_elements(x_row), out_size = num_elements(out_row);
  std::vector<double> y(static_cast<size_t>(kRows * out_size), 0.0);
  std::vector<int64_t> at(labels.size(), 0);
  for (int64_t r = 0; r < kRows; ++r) {
    std::fill(at.begin(), at.end(), 0);
    while (true) {
      y[static_cast<size_t>(r * out_size + flat(ol, out_row, at))] +=
          double(x[static_cast<size_t>(r * x_size + flat(xl, x_row, at))]) *
          double(w[static_cast<size_t>(flat(wl, w_shape, at))]);
      size_t d = labels.size();
      while (d-- > 0 && ++at[d] == dims[d]) at[d] = 0;
      if (d == static_cast<size_t>(-1)) break;
    }
    if (bias) {
      const auto index = broadcast_index(out_row, bias_shape);
      for (int64_t p = 0; p < out_size; ++p)
        y[static_cast<size_t>(r * out_size + p)] += (*bias)[static_cast<size_t>(index[p])];
    }
  }
  return y;
}

std::vector<OpCase> einsum_dense_cases() {
  std::vector<OpCase> cases;
  auto einsum = [&](const std::string& eq, Shape x_row, Shape w_shape, Shape bias_shape,
                    const std::string& note) {
    OpCase c;
    c.name = "EinsumDense " + eq + note;
    c.inputs = {{x_row}};
    c.vars = {{w_shape}};
    const bool bias = !bias_shape.empty();
    if (bias) c.vars.push_back({bias_shape});
    c.build = [=](Env& e) {
      return e.add(std::make_shared<EinsumDenseOp>(eq, e.v[0], bias ? e.v[1] : nullptr),
                   {e.x[0]});
    };
    c.reference = [=](const Values& x, const Values& v) {
      return einsum_ref(eq, x_row, w_shape, x[0], v[0], bias ? &v[1] : nullptr, bias_shape);
    };
    cases.push_back(c);
  };
  einsum("ab,bc->ac", {4}, {4, 3}, {3}, " (Dense)");
  einsum("abc,cde->abde", {2, 3}, {3, 2, 2}, {2, 2}, " (a projection to heads)");
  einsum("abcd,cde->abe", {2, 3, 2}, {3, 2, 4}, {4}, " (heads back to features)");
  einsum("abc,cd->abd", {2, 3}, {3, 2}, {}, ", no bias");
  // The kernel's and the output's axes out of GEMM order, a bias broadcast along an axis.
  einsum("abc,dc->adb", {2, 3}, {4, 3}, {4, 1}, " (kernel and output permuted)");
  einsum("abc,bd->acd", {2, 3}, {2, 4}, {}, " (input permuted)");
  // An axis in the input, the kernel and the output: one GEMM per index.
  einsum("abc,bcd->abd", {2, 3}, {2, 3, 2}, {2}, " (per-position kernel)");
  einsum("abc,cbd->adb", {2, 3}, {3, 2, 2}, {2, 2}, " (per-position kernel, permuted)");
  einsum("ab,c->abc", {3}, {2}, {}, " (outer product)");
  einsum("abc,dc->abd", {2, 3}, {4, 3}, {4}, " (kernel read transposed: tied logits)");
  return cases;
}

std::vector<OpCase> score_attention_cases() {
  std::vector<OpCase> cases;
  // a (groups, m, k) @ b (groups, k, n) or b (groups, n, k)^T, per row.
  auto bmm_ref = [](const std::vector<float>& a, const std::vector<float>& b, int64_t groups,
                    int64_t m, int64_t k, int64_t n, bool trans_b) {
    std::vector<double> y(static_cast<size_t>(kRows * groups * m * n), 0.0);
    for (int64_t g = 0; g < kRows * groups; ++g)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0.0;
          for (int64_t p = 0; p < k; ++p)
            s += double(a[(g * m + i) * k + p]) *
                 double(b[g * k * n + (trans_b ? j * k + p : p * n + j)]);
          y[(g * m + i) * n + j] = s;
        }
    return y;
  };
  for (bool trans_b : {false, true}) {
    OpCase c;
    c.name = std::string("BatchMatMul (2, 3, 4) rows @ ") + (trans_b ? "(2, 5, 4)^T" : "(2, 4, 5)");
    c.inputs = {{{2, 3, 4}}, {trans_b ? Shape{2, 5, 4} : Shape{2, 4, 5}}};
    c.build = [=](Env& e) {
      return e.add(std::make_shared<BatchMatMulOp>(trans_b), {e.x[0], e.x[1]});
    };
    c.reference = [=](const Values& x, const Values&) {
      return bmm_ref(x[0], x[1], 2, 3, 4, 5, trans_b);
    };
    cases.push_back(c);
  }
  OpCase self;
  self.name = "BatchMatMul (3, 4) rows @ themselves^T (self-attention scores)";
  self.inputs = {{{3, 4}}};
  self.build = [](Env& e) {
    return e.add(std::make_shared<BatchMatMulOp>(true), {e.x[0], e.x[0]});
  };
  self.reference = [=](const Values& x, const Values&) {
    return bmm_ref(x[0], x[0], 1, 3, 4, 3, true);
  };
  cases.push_back(self);

  // Softmax of (groups, tq, tv) scores with masked ones shifted by -1e9 in float32.
  auto masked_softmax = [&](const std::string& variant, Shape scores, bool masked, bool causal) {
    OpCase c;
    c.name = "MaskedSoftmax " + variant;
    const int64_t tq = scores[scores.size() - 2], tv = scores.back();
    const int64_t groups = num_elements(scores) / (tq * tv);
    c.inputs = {{scores, uniform(-2.0f, 2.0f)}};
    if (masked) {
      Shape m(scores.begin(), scores.end() - 2);
      m.push_back(tv);
      c.inputs.push_back({m, Draw{Draw::KeyMask, 0.0f, float(tv)}});
    }
    c.build = [=](Env& e) {
      std::vector<int> ins{e.x[0]};
      if (masked) ins.push_back(e.x[1]);
      return e.add(std::make_shared<MaskedSoftmaxOp>(causal), ins);
    };
    c.reference = [=](const Values& x, const Values&) {
      std::vector<double> y(x[0].size());
      for (int64_t g = 0; g < kRows * groups; ++g)
        for (int64_t i = 0; i < tq; ++i) {
          std::vector<double> line(static_cast<size_t>(tv));
          for (int64_t j = 0; j < tv; ++j) {
            const float s = x[0][(g * tq + i) * tv + j];
            const bool off = (masked && x[1][g * tv + j] == 0.0f) || (causal && j > i);
            line[j] = off ? double(s - 1.0e9f) : double(s);
          }
          const double mx = *std::max_element(line.begin(), line.end());
          double sum = 0.0;
          for (double& v : line) sum += (v = std::exp(v - mx));
          for (int64_t j = 0; j < tv; ++j) y[(g * tq + i) * tv + j] = line[j] / sum;
        }
      return y;
    };
    cases.push_back(c);
  };
  masked_softmax("(3, 4) rows", {3, 4}, false, false);
  masked_softmax("(4, 4) rows, causal", {4, 4}, false, true);
  masked_softmax("(2, 3, 5) rows, value mask", {2, 3, 5}, true, false);
  masked_softmax("(3, 3) rows, value mask and causal", {3, 3}, true, true);
  return cases;
}

// SpectralNormalization's scale on x @ W: (x W) / sigma(W). With enough power iterations u
// and v are W's top singular vectors, where d sigma / d W = v^T u exactly, so the op's
// gradient (u and v held constant, as Keras's stop_gradient does) matches central
// differences, which also move u and v.
std::vector<OpCase> spectral_normalization_cases() {
  OpCase c;
  c.name = "SpectralNormScale on (2, 3) rows @ weight (3, 2), 100 power iterations";
  c.inputs = {{{2, 3}}};
  c.vars = {{{3, 2}}, {{1, 2}, uniform(), false}};
  c.build = [](Env& e) {
    const int z = e.add(std::make_shared<MatMulOp>(e.v[0]), {e.x[0]});
    const int s = e.add(std::make_shared<SpectralNormScaleOp>(e.v[0], e.v[1], 100), {e.x[0]});
    return e.add(std::make_shared<BinaryOp>(BinaryKind::Multiply, nullptr, nullptr), {z, s});
  };
  c.reference = [](const Values& x, const Values& v) {
    // sigma: the top singular value, by power iteration in double.
    std::vector<double> u{v[1][0], v[1][1]}, t(3);
    for (int it = 0; it < 500; ++it) {
      double nt = 0.0, nu = 0.0;
      for (int i = 0; i < 3; ++i) {
        t[i] = v[0][i * 2] * u[0] + v[0][i * 2 + 1] * u[1];
        nt += t[i] * t[i];
      }
      for (int j = 0; j < 2; ++j) {
        u[j] = 0.0;
        for (int i = 0; i < 3; ++i) u[j] += t[i] / std::sqrt(nt) * v[0][i * 2 + j];
        nu += u[j] * u[j];
      }
      for (double& uj : u) uj /= std::sqrt(nu);
    }
    double sigma = 0.0;
    for (int i = 0; i < 3; ++i) {
      const double wu = v[0][i * 2] * u[0] + v[0][i * 2 + 1] * u[1];
      sigma += wu * wu;
    }
    sigma = std::sqrt(sigma);
    std::vector<double> y = matmul_ref(x[0], v[0], 2, 3, 2, false);
    for (double& yi : y) yi /= sigma;
    return y;
  };
  return {c};
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> all;
  for (auto group :
       {dense_cases, activation_cases, prelu_cases, binary_cases, unary_cases, reduce_cases,
        gather_cases, matmul_cases, merge_cases, reshaping_cases, batch_normalization_cases,
        layer_normalization_cases, normalization_cases, regularization_cases, fan_out_cases,
        pooling_cases /* issue 11 */, sequence_cases /* issue 11 */, recurrent_cases /* issue 11 */,
        conv_cases /* issue 11 */, einsum_dense_cases /* issue 17 */,
        score_attention_cases /* issue 17 */,
        spectral_normalization_cases /* issue 17 */}) {
    auto cases = group();
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

// The op types a case's graph holds.
std::set<std::string> types_in(const OpCase& c) {
  Graph g;
  std::vector<VariablePtr> vars;
  for (const Operand& var : c.vars)
    vars.push_back(std::make_shared<Variable>("v", Tensor(var.shape, 0.5f), var.trainable));
  Env env{g, {}, vars};
  for (const Operand& in : c.inputs) env.x.push_back(g.add_input(in.shape, "x"));
  c.build(env);
  std::set<std::string> types;
  for (size_t n = 0; n < g.size(); ++n)
    if (!g.is_input(static_cast<int>(n)))
      types.insert(op_kind_name(g.op(static_cast<int>(n))->kind()));
  return types;
}

void test_every_op_type_has_a_case(const std::vector<OpCase>& cases) {
  std::set<std::string> covered;
  for (const OpCase& c : cases) {
    const auto t = types_in(c);
    covered.insert(t.begin(), t.end());
  }
  for (const std::string& kind : all_op_kinds())
    check(covered.count(kind) == 1, "op kind " + kind + " has a case in the table");
}

// ---- the elementwise engine at sizes that run on several threads ----------------------------

// The table's cases are small enough to run on one thread; these layouts are not. Each runs
// binary forward and backward (a broadcast operand's gradient sums over its broadcast axes)
// and a reduction against float64, then again on one thread: every result must be the same to
// the bit, as the kernels sum in a fixed order whatever the thread count.
struct EngineRun {
  std::vector<float> out, da, db, reduced, dx;
};

EngineRun run_engine(const Shape& a_shape, const Shape& b_shape, const std::vector<float>& a,
                     const std::vector<float>& b, const std::vector<float>& g) {
  Backend& be = cpu_backend();
  const Context ctx = be.context();
  const Shape out_shape = broadcast_shapes(a_shape, b_shape, "test");
  const StridedLayout layout = make_strided_layout(out_shape, broadcast_strides(a_shape, out_shape),
                                                   broadcast_strides(b_shape, out_shape), "test");
  EngineRun r;
  r.out.resize(static_cast<size_t>(num_elements(out_shape)));
  be.binary_forward(ctx, BinaryKind::Multiply, layout, a.data(), b.data(), r.out.data());
  r.da.assign(a.size(), 0.5f);  // accumulated into
  r.db.resize(b.size());
  be.binary_backward(ctx, BinaryKind::Multiply, layout, a.data(), b.data(), r.out.data(), g.data(),
                     r.da.data(), true, r.db.data(), false);
  // The output summed over b's broadcast axes (b's shape kept), and back.
  const StridedLayout reduce =
      make_strided_layout(out_shape, broadcast_strides(b_shape, out_shape),
                          std::vector<int64_t>(out_shape.size(), 0), "test");
  r.reduced.resize(b.size());
  be.reduce_forward(ctx, ReduceKind::Sum, reduce, r.out.data(), r.reduced.data());
  r.dx.resize(r.out.size());
  be.reduce_backward(ctx, ReduceKind::Mean, reduce, r.out.data(), r.reduced.data(), b.data(),
                     r.dx.data(), false);
  return r;
}

void test_engine_on_many_threads(const Shape& a_shape, const Shape& b_shape) {
  std::mt19937 rng(7);
  const Shape out_shape = broadcast_shapes(a_shape, b_shape, "test");
  const auto a = random_vector(rng, static_cast<size_t>(num_elements(a_shape)));
  const auto b = random_vector(rng, static_cast<size_t>(num_elements(b_shape)));
  const auto g = random_vector(rng, static_cast<size_t>(num_elements(out_shape)));
  const std::string name = "engine " + shape_to_string(a_shape) + " * " + shape_to_string(b_shape);
  const EngineRun r = run_engine(a_shape, b_shape, a, b, g);

  // float64: walk the output, with each operand's element from its broadcast strides.
  const auto sa = broadcast_strides(a_shape, out_shape), sb = broadcast_strides(b_shape, out_shape);
  const auto so = contiguous_strides(out_shape);
  std::vector<double> da(a.size(), 0.5), db(b.size(), 0.0), red(b.size(), 0.0);
  std::vector<size_t> ia(r.out.size()), ib(r.out.size());
  for (size_t i = 0; i < r.out.size(); ++i) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < out_shape.size(); ++d) {
      const int64_t k = static_cast<int64_t>(i) / so[d] % out_shape[d];
      oa += k * sa[d];
      ob += k * sb[d];
    }
    ia[i] = static_cast<size_t>(oa);
    ib[i] = static_cast<size_t>(ob);
    da[ia[i]] += double(g[i]) * b[ib[i]];
    db[ib[i]] += double(a[ia[i]]) * g[i];
    red[ib[i]] += double(a[ia[i]]) * b[ib[i]];
  }
  const double count = double(r.out.size()) / double(b.size());
  bool out_ok = true, dx_ok = true;
  for (size_t i = 0; i < r.out.size(); ++i) {
    out_ok &= close(r.out[i], double(a[ia[i]]) * b[ib[i]], 1e-7, 1e-6);
    dx_ok &= close(r.dx[i], b[ib[i]] / count, 1e-9, 1e-6);
  }
  auto all = [](const std::vector<float>& got, const std::vector<double>& want) {
    bool ok = got.size() == want.size();
    for (size_t i = 0; ok && i < got.size(); ++i) ok = close(got[i], want[i], 1e-5, 1e-5);
    return ok;
  };
  check(out_ok, name + ": forward matches float64");
  check(all(r.da, da) && all(r.db, db), name + ": summed gradients match float64");
  check(all(r.reduced, red) && dx_ok, name + ": reduction forward and backward match float64");
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const EngineRun one = run_engine(a_shape, b_shape, a, b, g);
  omp_set_num_threads(threads);
  check(one.out == r.out && one.da == r.da && one.db == r.db && one.reduced == r.reduced &&
            one.dx == r.dx,
        name + ": one thread gives the same bits as " + std::to_string(threads));
#endif
}

}  // namespace

int main() {
  const std::vector<OpCase> cases = all_cases();
  test_every_op_type_has_a_case(cases);
  unsigned seed = 1;
  for (const OpCase& c : cases) run_case(c, seed++);
  // Broadcast axes between kept ones, lines shorter than a chunk; and lines of several chunks.
  test_engine_on_many_threads({16, 24, 1, 100}, {1, 24, 30, 1});
  test_engine_on_many_threads({4, 3, 10000}, {10000});
  for (const Tolerance* t :
       {&forward, &moving_statistics, &finite_differences, &same_run, &backend_tolerance})
    std::printf("%s: worst error %.3g of the tolerance (%s)\n", t->what, t->worst,
                t->where.c_str());
  std::printf("%zu cases; %d failed\n", cases.size(), failures);
  return failures ? 1 : 0;
}
