#include "ember/activations.h"

#include <cmath>
#include <iterator>

#include "ember/error.h"

namespace ember {
namespace {

struct NamedKind {
  const char* name;
  ActivationKind kind;
};

// Canonical names first (activation_name reads this table), then Keras's aliases.
constexpr NamedKind kNames[] = {
    {"linear", ActivationKind::Linear},
    {"relu", ActivationKind::Relu},
    {"relu6", ActivationKind::Relu6},
    {"leaky_relu", ActivationKind::LeakyRelu},
    {"elu", ActivationKind::Elu},
    {"selu", ActivationKind::Selu},
    {"celu", ActivationKind::Celu},
    {"sigmoid", ActivationKind::Sigmoid},
    {"hard_sigmoid", ActivationKind::HardSigmoid},
    {"log_sigmoid", ActivationKind::LogSigmoid},
    {"sparse_sigmoid", ActivationKind::SparseSigmoid},
    {"tanh", ActivationKind::Tanh},
    {"hard_tanh", ActivationKind::HardTanh},
    {"tanh_shrink", ActivationKind::TanhShrink},
    {"softplus", ActivationKind::Softplus},
    {"sparse_plus", ActivationKind::SparsePlus},
    {"squareplus", ActivationKind::Squareplus},
    {"softsign", ActivationKind::Softsign},
    {"silu", ActivationKind::Silu},
    {"hard_silu", ActivationKind::HardSilu},
    {"gelu", ActivationKind::Gelu},
    {"mish", ActivationKind::Mish},
    {"exponential", ActivationKind::Exponential},
    {"hard_shrink", ActivationKind::HardShrink},
    {"soft_shrink", ActivationKind::SoftShrink},
    {"softmax", ActivationKind::Softmax},
    {"log_softmax", ActivationKind::LogSoftmax},
    {"swish", ActivationKind::Silu},
    {"hard_swish", ActivationKind::HardSilu},
};
constexpr size_t kNumKinds = static_cast<size_t>(ActivationKind::LogSoftmax) + 1;
static_assert(std::size(kNames) == kNumKinds + 2, "every kind needs its name (plus 2 aliases)");

constexpr bool names_follow_kinds() {
  for (size_t i = 0; i < kNumKinds; ++i)
    if (static_cast<size_t>(kNames[i].kind) != i) return false;
  return true;
}
static_assert(names_follow_kinds(), "kNames lists the kinds in enum order, then the aliases");

// Keras's activations that change the shape (glu) or need arguments without
// defaults (threshold), and sparsemax: ember.activations has them for arrays,
// the engine's layers do not.
bool keras_only(const std::string& name) {
  return name == "glu" || name == "threshold" || name == "sparsemax";
}

void require(bool ok, const std::string& message) {
  if (!ok) throw ValueError(message);
}

std::string str(float v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s += '0';
  return s;
}

}  // namespace

Activation::Activation(ActivationKind k) : kind(k) {
  if (k == ActivationKind::LeakyRelu) negative_slope = 0.2f;
  if (k == ActivationKind::HardShrink || k == ActivationKind::SoftShrink) threshold = 0.5f;
}

Activation Activation::relu(float negative_slope_, float max_value_, float threshold_) {
  Activation a(ActivationKind::Relu);
  a.negative_slope = negative_slope_;
  a.max_value = max_value_;
  a.threshold = threshold_;
  return a;
}

Activation Activation::leaky_relu(float negative_slope_) {
  Activation a(ActivationKind::LeakyRelu);
  a.negative_slope = negative_slope_;
  return a;
}

Activation Activation::elu(float alpha_) {
  Activation a(ActivationKind::Elu);
  a.alpha = alpha_;
  return a;
}

Activation Activation::celu(float alpha_) {
  Activation a(ActivationKind::Celu);
  a.alpha = alpha_;
  return a;
}

Activation Activation::gelu(bool approximate_) {
  Activation a(ActivationKind::Gelu);
  a.approximate = approximate_;
  return a;
}

Activation Activation::squareplus(float b_) {
  Activation a(ActivationKind::Squareplus);
  a.b = b_;
  return a;
}

Activation Activation::softmax(int32_t axis_) {
  Activation a(ActivationKind::Softmax);
  a.axis = axis_;
  return a;
}

Activation Activation::log_softmax(int32_t axis_) {
  Activation a(ActivationKind::LogSoftmax);
  a.axis = axis_;
  return a;
}

void Activation::validate() const {
  const std::string who = activation_name(kind);
  switch (kind) {
    case ActivationKind::Relu:
      require(std::isfinite(negative_slope) && negative_slope >= 0.0f,
              "relu: negative_slope cannot be None or a negative value. Received: "
              "negative_slope=" +
                  str(negative_slope));
      require(std::isfinite(threshold) && threshold >= 0.0f,
              "relu: threshold cannot be None or a negative value. Received: threshold=" +
                  str(threshold));
      require(!std::isnan(max_value) && max_value >= 0.0f,
              "relu: max_value cannot be a negative value. Received: max_value=" + str(max_value));
      break;
    case ActivationKind::LeakyRelu:
      require(std::isfinite(negative_slope) && negative_slope >= 0.0f,
              "leaky_relu: negative_slope cannot be None or a negative value. Received: "
              "negative_slope=" +
                  str(negative_slope));
      break;
    case ActivationKind::Elu:
      require(std::isfinite(alpha), "elu: alpha must be a finite number, got " + str(alpha));
      break;
    case ActivationKind::Celu:
      require(std::isfinite(alpha) && alpha != 0.0f,
              "celu: alpha must be a nonzero finite number (it divides x), got " + str(alpha));
      break;
    case ActivationKind::Squareplus:
      require(std::isfinite(b) && b >= 0.0f,
              "squareplus: b must be >= 0 (it is under a square root), got " + str(b));
      break;
    case ActivationKind::HardShrink:
    case ActivationKind::SoftShrink:
      require(std::isfinite(threshold) && threshold >= 0.0f,
              who + ": threshold must be >= 0, got " + str(threshold));
      break;
    case ActivationKind::Softmax:
    case ActivationKind::LogSoftmax:
      require(axes == 0 || axis == -1, who + ": give either axis or axes, not both");
      break;
    default: break;
  }
}

bool Activation::operator==(const Activation& o) const {
  return kind == o.kind && negative_slope == o.negative_slope && max_value == o.max_value &&
         threshold == o.threshold && alpha == o.alpha && b == o.b && axis == o.axis &&
         axes == o.axes && approximate == o.approximate;
}

Activation activation_from_name(const std::string& name) {
  if (name.empty()) return Activation();
  for (const NamedKind& n : kNames)
    if (name == n.name) return Activation(n.kind);
  std::string known;
  for (const std::string& n : activation_names()) known += (known.empty() ? "" : ", ") + n;
  if (keras_only(name))
    throw ValueError("Activation '" + name +
                     "' is available on arrays (ember.activations) but not in the engine's "
                     "layers. Supported in layers: " +
                     known + ".");
  throw ValueError("Unknown activation: '" + name + "'. Expected one of: " + known + ".");
}

const char* activation_name(ActivationKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kNumKinds ? kNames[i].name : "?";
}

std::vector<std::string> activation_names() {
  std::vector<std::string> names;
  for (const NamedKind& n : kNames) names.emplace_back(n.name);
  return names;
}

bool activation_takes(ActivationKind kind, const std::string& parameter) {
  switch (kind) {
    case ActivationKind::Relu:
      return parameter == "negative_slope" || parameter == "max_value" || parameter == "threshold";
    case ActivationKind::LeakyRelu: return parameter == "negative_slope";
    case ActivationKind::Elu:
    case ActivationKind::Celu: return parameter == "alpha";
    case ActivationKind::Squareplus: return parameter == "b";
    case ActivationKind::HardShrink:
    case ActivationKind::SoftShrink: return parameter == "threshold";
    case ActivationKind::Gelu: return parameter == "approximate";
    case ActivationKind::Softmax:
    case ActivationKind::LogSoftmax: return parameter == "axis" || parameter == "axes";
    default: return false;
  }
}

Activation activation_from_name(const std::string& name, const ActivationArgs& args) {
  Activation a = activation_from_name(name);
  auto take = [&](bool given, const char* parameter) {
    if (given && !activation_takes(a.kind, parameter))
      throw ValueError(std::string(activation_name(a)) + " takes no parameter '" + parameter + "'");
    return given;
  };
  if (take(args.negative_slope.has_value(), "negative_slope"))
    a.negative_slope = *args.negative_slope;
  if (take(args.max_value.has_value(), "max_value")) a.max_value = *args.max_value;
  if (take(args.threshold.has_value(), "threshold")) a.threshold = *args.threshold;
  if (take(args.alpha.has_value(), "alpha")) a.alpha = *args.alpha;
  if (take(args.b.has_value(), "b")) a.b = *args.b;
  if (take(args.axis.has_value(), "axis")) a.axis = *args.axis;
  if (take(args.axes.has_value(), "axes")) {
    a.axes = 0;
    for (int ax : *args.axes) {
      if (ax < 0 || ax >= 32)
        throw ValueError(std::string(activation_name(a)) +
                         ": axes must be row axes in [0, 32), got " + std::to_string(ax));
      a.axes |= 1u << ax;
    }
  }
  if (take(args.approximate.has_value(), "approximate")) a.approximate = *args.approximate;
  a.validate();
  return a;
}

std::pair<int64_t, int64_t> activation_rows_cols(const Activation& act, const Shape& shape) {
  const auto ndim = static_cast<int>(shape.size());
  if (act.is_normalization() && (act.axes != 0 || (act.axis != -1 && act.axis != ndim - 1)))
    throw ValueError(std::string(activation_name(act)) +
                     ": on arrays the engine normalises along the last axis only");
  const int64_t cols = ndim ? shape.back() : 1;
  return {cols ? num_elements(shape) / cols : 0, cols};
}

bool activation_backward_needs_input(const Activation& act) {
  switch (act.kind) {
    // Each of these gradients is a function of y alone, exactly, ties included.
    case ActivationKind::Linear:
    case ActivationKind::Relu6:
    case ActivationKind::Sigmoid:
    case ActivationKind::Tanh:
    case ActivationKind::Exponential:
    case ActivationKind::Softmax:
    case ActivationKind::LogSoftmax: return false;
    // Plain relu: y > 0 exactly where x > 0, and relu'(0) = 0.
    case ActivationKind::Relu:
      return !(act.negative_slope == 0.0f && act.threshold == 0.0f && std::isinf(act.max_value));
    default: return true;
  }
}

}  // namespace ember
