// Activations: Keras 3's activation functions with their parameters, applied
// by the fused bias+activation epilogue of Dense and by the Activation op.
//
// Forward values follow Keras 3 (jax backend) formula for formula, and the
// gradients are the ones jax's autodiff takes through those formulas, ties
// included (relu'(0) = 0, relu6'(6) = 0, a clip at max_value gives 1/2 exactly
// on the boundary, elu'(0) = alpha, ...).
//
// Most gradients are a function of the output y, which every op keeps anyway.
// Some are not (gelu, silu, mish, elu, parametrised relu, ...): for those,
// activation_backward_needs_input() is true and the caller must also hand the
// pre-activation input x to activation_backward.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/tensor.h"

namespace ember {

enum class ActivationKind : uint8_t {
  Linear,
  Relu,  // with negative_slope, max_value, threshold
  Relu6,
  LeakyRelu,  // negative_slope
  Elu,        // alpha
  Selu,
  Celu,  // alpha
  Sigmoid,
  HardSigmoid,
  LogSigmoid,
  SparseSigmoid,
  Tanh,
  HardTanh,
  TanhShrink,
  Softplus,
  SparsePlus,
  Squareplus,  // b
  Softsign,
  Silu,
  HardSilu,
  Gelu,  // approximate
  Mish,
  Exponential,
  HardShrink,  // threshold
  SoftShrink,  // threshold
  Softmax,     // axis
  LogSoftmax,  // axis
};

// One activation and its parameters; a small value, cheap to copy. Fields a
// kind does not use keep their defaults, so two equal activations compare equal.
struct Activation {
  ActivationKind kind = ActivationKind::Linear;
  float negative_slope = 0.0f;                               // relu, leaky_relu
  float max_value = std::numeric_limits<float>::infinity();  // relu; infinity: no clip
  float threshold = 0.0f;                                    // relu, hard_shrink, soft_shrink
  float alpha = 1.0f;                                        // elu, celu
  float b = 4.0f;                                            // squareplus
  // softmax, log_softmax: the axis of the row shape (batch axis excluded) they
  // normalise over; negative counts from the end. `axes`, when nonzero, names
  // several row axes at once (bit i: row axis i) and replaces `axis`.
  int32_t axis = -1;
  uint32_t axes = 0;
  bool approximate = false;  // gelu: the tanh approximation

  Activation() = default;
  // A kind with Keras's default parameters (leaky_relu: 0.2, hard_shrink and
  // soft_shrink: 0.5, gelu: exact).
  Activation(ActivationKind k);  // NOLINT(google-explicit-constructor): kinds read as values

  static Activation relu(float negative_slope = 0.0f,
                         float max_value = std::numeric_limits<float>::infinity(),
                         float threshold = 0.0f);
  static Activation leaky_relu(float negative_slope = 0.2f);
  static Activation elu(float alpha = 1.0f);
  static Activation celu(float alpha = 1.0f);
  static Activation gelu(bool approximate);
  static Activation squareplus(float b = 4.0f);
  static Activation softmax(int32_t axis = -1);
  static Activation log_softmax(int32_t axis = -1);

  // Throws ValueError naming the parameter when it is outside what Keras accepts
  // (relu's negative_slope, threshold and max_value must be >= 0, celu's alpha
  // nonzero, squareplus's b >= 0, thresholds >= 0, everything finite).
  void validate() const;

  // Softmax or log_softmax: normalises along axes rather than element by element.
  bool is_normalization() const {
    return kind == ActivationKind::Softmax || kind == ActivationKind::LogSoftmax;
  }
  // True when the activation is the identity; ops skip it entirely.
  bool is_linear() const { return kind == ActivationKind::Linear; }

  bool operator==(const Activation& o) const;
  bool operator!=(const Activation& o) const { return !(*this == o); }
};

// Keras's names, aliases included ("swish" = silu, "hard_swish" = hard_silu);
// "" and "linear" give Linear. Throws ValueError listing the known names.
Activation activation_from_name(const std::string& name);
// Keras's keyword arguments of an activation; one not given keeps the kind's default.
struct ActivationArgs {
  std::optional<float> negative_slope, max_value, threshold, alpha, b;
  std::optional<int> axis;
  std::optional<std::vector<int>> axes;  // row axes, each in [0, 32)
  std::optional<bool> approximate;
};
// The activation of that name with those arguments, validated. Throws ValueError for
// an unknown name, an argument the kind does not take, or a value Keras refuses.
Activation activation_from_name(const std::string& name, const ActivationArgs& args);
// Keras's canonical name of the kind ("silu", not "swish").
const char* activation_name(ActivationKind kind);
inline const char* activation_name(const Activation& act) { return activation_name(act.kind); }
// Every name activation_from_name accepts, canonical ones first.
std::vector<std::string> activation_names();

// Whether the kind takes the parameter, named as in Keras (negative_slope,
// max_value, threshold, alpha, b, axis, axes, approximate).
bool activation_takes(ActivationKind kind, const std::string& parameter);

// Whether activation_backward needs the pre-activation input x, not just y.
bool activation_backward_needs_input(const Activation& act);

// The (rows, cols) activation_forward/backward take for a whole array of `shape` (the
// activation functions on arrays): softmax-like activations normalise along its last
// axis, which must then be their axis. Throws ValueError otherwise.
std::pair<int64_t, int64_t> activation_rows_cols(const Activation& act, const Shape& shape);

// y = act(x), x and y: (rows, cols); may alias. Softmax-like activations
// normalise each row (the last axis); see softmax_forward_axes for others.
void activation_forward(const Activation& act, const float* x, float* y, int64_t rows,
                        int64_t cols);

// y = act(y + bias) in place over (rows, cols); bias: (cols) or nullptr. One pass
// over the output: this is the epilogue of the Dense GEMM. When z is not null
// the pre-activation y + bias is also stored there (rows, cols), for a backward
// that needs it.
void bias_activation_forward(const Activation& act, float* y, const float* bias, float* z,
                             int64_t rows, int64_t cols);

// dx = dy * act'(x), all (rows, cols); x is the pre-activation input and y =
// act(x) the output. x may be null unless activation_backward_needs_input(act).
// dx may alias dy or x. Softmax-like activations along the last axis.
void activation_backward(const Activation& act, const float* x, const float* y, const float* dy,
                         float* dx, int64_t rows, int64_t cols);

// Softmax / log_softmax along arbitrary axes of each sample. A sample of
// row_size values splits into groups: group g holds the row_size / n values
// at offsets kept[g] + reduced[i], i < n (offsets within the sample; kept has
// row_size / n entries). x, y, dy, dx: (samples, row_size); x and y may alias,
// dx and dy may alias.
void softmax_forward_axes(bool log, const float* x, float* y, int64_t samples, int64_t row_size,
                          const int64_t* kept, const int64_t* reduced, int64_t n);
void softmax_backward_axes(bool log, const float* y, const float* dy, float* dx, int64_t samples,
                           int64_t row_size, const int64_t* kept, const int64_t* reduced,
                           int64_t n);

// PReLU over (rows, row_size): y = x where x > 0, alpha[index[j]] * x elsewhere;
// index (row_size) maps each value of a sample to its alpha. x and y may alias.
void prelu_forward(const float* x, const float* alpha, const int64_t* index, float* y, int64_t rows,
                   int64_t row_size);
// dx (+)= dy * (1 where x > 0, alpha where x < 0, 0 at 0), as jax differentiates
// relu(x) - alpha * relu(-x); dalpha (alpha_size) (+)= sum over rows of dy * min(x, 0).
// Either output may be null; the flags say whether to add to it or overwrite it.
void prelu_backward(const float* x, const float* alpha, const int64_t* index, const float* dy,
                    float* dx, bool dx_accumulate, float* dalpha, bool dalpha_accumulate,
                    int64_t rows, int64_t row_size, int64_t alpha_size);

}  // namespace ember
