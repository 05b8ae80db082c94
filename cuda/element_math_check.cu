// Compiles every function of the shared element math (cpp/include/ember/element/)
// as CUDA device code, one kernel per header, so each CUDA build checks what
// the CPU build cannot: that the math uses nothing device code lacks (a host-only
// standard-library call, std::numeric_limits, an exception). The kernels are
// never launched; the CPU tests check the numbers of the same functions.
//
// Each kernel reads its inputs from x (n) and writes a sum of every result to
// out (n), so nothing is optimised away before device code generation.
#include <cstdint>

#include "ember/element/activation.h"
#include "ember/element/arith.h"
#include "ember/element/loss.h"
#include "ember/element/optimizer.h"
#include "ember/element/scalar.h"

namespace ember::element::check {

__device__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// fwd and bwd of one activation functor at x, with upstream gradient g.
template <typename F>
__device__ float activation_terms(const F& f, float x, float g) {
  const float y = f.fwd(x);
  return y + f.bwd(g, F::kNeedsX ? x : 0.0f, y);
}

// One loss functor's value and gradient at (p, t).
template <typename F>
__device__ float loss_terms(const F& f, float p, float t) {
  const loss::ValueGrad e = f(p, t);
  return e.value + e.grad;
}

__global__ void scalar_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = thread_index();
  if (i >= n) return;
  const float v = x[i], w = x[(i + 1) % n];
  float s = max_of(v, w) + min_of(v, w) + (is_inf(v) ? 1.0f : 0.0f);
  s += max_grad(v, w) + min_grad(v, w) + clip(v, -w, w) + clip_grad(v, -w, w);
  s += sigmoid(v) + softplus(v) + softplus_grad(v, softplus(v));
  out[i] = s;
}

__global__ void activation_kernel(const float* x, float* out, int64_t n) {
  using namespace activation;
  const int64_t i = thread_index();
  if (i >= n) return;
  const float v = x[i], g = x[(i + 1) % n];
  float s = step(v > 0.0f);
  s += activation_terms(Identity{}, v, g);
  s += activation_terms(Relu{}, v, g);
  s += activation_terms(ReluWithParameters(0.1f, 5.0f, 0.5f), v, g);
  s += activation_terms(ReluWithParameters(0.1f, kInf, 0.0f), v, g);
  s += activation_terms(Relu6{}, v, g);
  s += activation_terms(LeakyRelu{0.2f}, v, g);
  s += activation_terms(Elu{1.0f, 1.0f}, v, g);
  s += activation_terms(Elu{kSeluAlpha, kSeluScale}, v, g);
  s += activation_terms(Celu{1.5f}, v, g);
  s += activation_terms(Sigmoid{}, v, g);
  s += activation_terms(HardSigmoid{}, v, g);
  s += activation_terms(LogSigmoid{}, v, g);
  s += activation_terms(SparseSigmoid{}, v, g);
  s += activation_terms(Tanh{}, v, g);
  s += activation_terms(HardTanh{}, v, g);
  s += activation_terms(TanhShrink{}, v, g);
  s += activation_terms(Softplus{}, v, g);
  s += activation_terms(SparsePlus{}, v, g);
  s += activation_terms(Squareplus{4.0f}, v, g);
  s += activation_terms(Softsign{}, v, g);
  s += activation_terms(Silu{}, v, g);
  s += activation_terms(HardSilu{}, v, g);
  s += activation_terms(Gelu{false}, v, g);
  s += activation_terms(Gelu{true}, v, g);
  s += activation_terms(Mish{}, v, g);
  s += activation_terms(Exponential{}, v, g);
  s += activation_terms(HardShrink{0.5f}, v, g);
  s += activation_terms(SoftShrink{0.5f}, v, g);
  s += prelu(v, 0.25f) + prelu_grad_x(g, v, 0.25f) + prelu_grad_alpha(g, v);
  out[i] = s;
}

__global__ void loss_kernel(const float* x, float* out, int64_t n) {
  using namespace loss;
  const int64_t i = thread_index();
  if (i >= n) return;
  const float p = x[i], t = x[(i + 1) % n];
  const Smoothing smooth{true, 0.9f, 0.05f};
  float s = smooth(t);
  s += loss_terms(MeanSquaredError{}, p, t);
  s += loss_terms(MeanAbsoluteError{}, p, t);
  s += loss_terms(MeanAbsolutePercentageError{}, p, t);
  s += loss_terms(MeanSquaredLogarithmicError{}, p, t);
  s += loss_terms(Huber(1.0f), p, t);
  s += loss_terms(LogCosh{}, p, t);
  s += loss_terms(BinaryCrossentropyFromLogits{smooth}, p, t);
  s += loss_terms(BinaryCrossentropy{smooth}, p, t);
  s += loss_terms(BinaryFocalCrossentropy{smooth, 2.0f, true, true, 0.25f, 0.75f}, p, t);
  s += loss_terms(BinaryFocalCrossentropy{smooth, 2.0f, false, false, 0.25f, 0.75f}, p, t);
  s += loss_terms(KLDivergence{}, p, t);
  s += loss_terms(Poisson{}, p, t);
  s += loss_terms(Hinge{true, false}, p, t);
  s += loss_terms(Hinge{false, true}, p, t);
  s += crossentropy_class_grad(p, t, clip(p, kEpsilon, kClipHi));
  s += softmax_crossentropy_class_grad(p, 0.5f, t);
  s += categorical_hinge_negative(p, t) + categorical_hinge_class_grad(p, t, 0.5f, 2.0f, 1.0f);
  s += cosine_similarity_class_grad(p, t, 0.5f, 0.5f, -0.25f);
  out[i] = s + kLog2 + kInvEpsilon;
}

// Each update runs on locals, as a launcher's would after loading its slots.
__global__ void optimizer_kernel(const float* x, float* out, int64_t n) {
  using namespace optimizer;
  const int64_t i = thread_index();
  if (i >= n) return;
  const float g = x[i];
  float p = x[(i + 1) % n], a = 0.1f, b = 0.2f, c = 0.3f;
  sgd(p, g, 0.01f);
  sgd_momentum<false>(p, g, a, 0.01f, 0.9f);
  sgd_momentum<true>(p, g, a, 0.01f, 0.9f);
  const kernels::AdamScalars adam_c{0.001f, 0.1f, 0.001f, 1e-7f};
  adam(p, g, a, b, adam_c);
  adam_amsgrad(p, g, a, b, c, adam_c);
  rmsprop<false, false>(p, g, a, b, c, 0.001f, 0.9f, 0.1f, 0.0f, 1e-7f);
  rmsprop<false, true>(p, g, a, b, c, 0.001f, 0.9f, 0.1f, 0.5f, 1e-7f);
  rmsprop<true, false>(p, g, a, b, c, 0.001f, 0.9f, 0.1f, 0.0f, 1e-7f);
  rmsprop<true, true>(p, g, a, b, c, 0.001f, 0.9f, 0.1f, 0.5f, 1e-7f);
  adagrad(p, g, a, 0.001f, 1e-7f);
  adadelta(p, g, a, b, 0.001f, 0.95f, 0.05f, 1e-7f);
  adamax(p, g, a, b, kernels::AdamaxScalars{0.001f, 0.1f, 0.1f, 0.999f, 1e-7f});
  nadam(p, g, a, b,
        kernels::NadamScalars{0.001f, 0.9f, 0.1f, 0.1f, 0.1f, 0.001f, 0.1f, 0.001f, 1e-7f});
  lion(p, g, a, 0.001f, 0.9f, 0.99f, 0.1f, 0.01f);
  ftrl(p, g, a, b, kernels::FtrlScalars{0.001f, 0.5f, 0.02f, 0.01f, 0.001f});
  schedule_free_adamw(
      p, g, a, b,
      kernels::ScheduleFreeScalars{0.001f, 0.9f, 0.1f, 0.001f, 0.5f, 1e-8f, 0.5f, 0.5f});
  const kernels::LambScalars lamb_c{0.1f, 0.001f, 0.1f, 0.001f, 1e-7f};
  p -= 0.001f * (lamb_moments(g, a, b, lamb_c) + lamb_step(a, b, lamb_c));
  decay(p, 0.004f, 0.001f);
  out[i] =
      p + a + b + c + clip_by_norm(g, 1.0f, 2.0f) + scale(g, 0.5f) + clip_by_value(g, -1.0f, 1.0f);
}

__global__ void arith_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = thread_index();
  if (i >= n) return;
  const float a = x[i], b = x[(i + 1) % n];
  float s = 0.0f;
  for (BinaryKind k : {BinaryKind::Add, BinaryKind::Subtract, BinaryKind::Multiply,
                       BinaryKind::Divide, BinaryKind::Maximum, BinaryKind::Minimum,
                       BinaryKind::Power, BinaryKind::Greater, BinaryKind::GreaterEqual,
                       BinaryKind::Less, BinaryKind::LessEqual, BinaryKind::Equal,
                       BinaryKind::NotEqual, BinaryKind::Arctan2, BinaryKind::FloorDivide,
                       BinaryKind::Mod}) {
    const float y = binary_forward(k, a, b);
    s += y + binary_grad(k, true, 1.0f, a, b, y) + binary_grad(k, false, 1.0f, a, b, y);
    s += binary_grad_reads_values(k) ? 1.0f : 0.0f;
  }
  for (UnaryKind k : {UnaryKind::Negative, UnaryKind::Abs, UnaryKind::Square, UnaryKind::Sqrt,
                      UnaryKind::Exp, UnaryKind::Log, UnaryKind::Reciprocal, UnaryKind::Sign,
                      UnaryKind::Sin, UnaryKind::Cos, UnaryKind::Tan, UnaryKind::Arcsin,
                      UnaryKind::Arccos, UnaryKind::Arctan, UnaryKind::Sinh, UnaryKind::Cosh,
                      UnaryKind::Arcsinh, UnaryKind::Arccosh, UnaryKind::Arctanh,
                      UnaryKind::Log1p, UnaryKind::Expm1, UnaryKind::Erf, UnaryKind::Floor,
                      UnaryKind::Ceil, UnaryKind::Round, UnaryKind::Trunc,
                      UnaryKind::StopGradient}) {
    const float y = unary_forward(k, a);
    s += y + unary_grad(k, 1.0f, a, y);
  }
  out[i] = s;
}

}  // namespace ember::element::check
