// Core layers: Dense, Activation, Identity; the regularization layers Dropout, SpatialDropout*,
// GaussianNoise, ActivityRegularization.
#include <cmath>

#include "builders/builder.h"
#include "ember/ops.h"
#include "ember/ops_regularization.h"

namespace ember::builders {
namespace {

double checked_rate(const Config& c, const char* key, double high) {
  const double rate = c.get_float(key);
  if (!(rate >= 0.0 && rate <= high))
    c.fail(std::string("'") + key + "' must be in [0, " + (high == 1.0 ? "1" : "?") + "], got " +
           std::to_string(rate));
  return rate;
}

// Dropout's noise_shape (batch axis first, null entries: as the input) as the op takes it.
std::vector<int64_t> noise_shape(const Config& c) {
  std::vector<int64_t> out;
  if (!c.has("noise_shape")) return out;
  const json& v = c.at("noise_shape");
  if (!v.is_array() || v.size() > 16) c.fail("'noise_shape' must be a list, got " + v.dump());
  for (const auto& d : v) {
    if (d.is_null()) {
      out.push_back(-1);
    } else {
      const int64_t n = c.to_int(d, "an entry of 'noise_shape'");
      if (n <= 0 || n > kMaxDim) c.fail("'noise_shape' entries must be positive, got " + v.dump());
      out.push_back(n);
    }
  }
  return out;
}

LayerCallResult build_dense(BuildCall& call) {
  const Activation act = call.config.get_activation("activation");
  const bool use_bias = call.config.get_bool("use_bias", true);
  int node = call.add(
      std::make_shared<DenseOp>(call.weights[0], use_bias ? call.weights[1] : nullptr, act),
      {call.nodes[0]}, call.name());
  return one(add_activity_regularizer(call, node));
}

WeightSpecs dense_weights(const Config& c, const std::vector<Shape>& rows) {
  const int64_t units = c.get_int("units");
  if (units <= 0 || units > kMaxDim)
    c.fail("'units' must be a positive integer, got " + std::to_string(units));
  if (rows.empty() || rows[0].empty())
    c.fail("needs an input with a feature axis, got row shape " +
           (rows.empty() ? std::string("none") : shape_to_string(rows[0])));
  WeightSpecs specs{{"kernel", {rows[0].back(), units}}};
  if (c.get_bool("use_bias", true)) specs.push_back({"bias", {units}});
  return specs;
}

LayerCallResult build_dropout(BuildCall& call) {
  const double rate = checked_rate(call.config, "rate", 1.0);
  return one(call.add(std::make_shared<DropoutOp>(rate, noise_shape(call.config), call.op_seed()),
                      {call.nodes[0]}, call.name()));
}

// SpatialDropout1D/2D/3D: one draw per sample and channel, shared along the spatial axes.
LayerBuilder spatial_dropout(size_t ndim) {
  LayerBuilder b;
  b.passes_mask = true;
  b.build = [ndim](BuildCall& call) {
    const Config& c = call.config;
    if (call.row().size() + 1 != ndim)
      c.fail("expects inputs of rank " + std::to_string(ndim) + ", got row shape " +
             shape_to_string(call.row()));
    const double rate = checked_rate(c, "rate", 1.0);
    std::vector<int64_t> noise(ndim, 1);
    noise[0] = -1;
    noise[c.channels_first() ? 1 : ndim - 1] = -1;
    return one(call.add(std::make_shared<DropoutOp>(rate, std::move(noise), call.op_seed()),
                        {call.nodes[0]}, call.name()));
  };
  return b;
}

double checked_noise_rate(const Config& c) {
  const double rate = checked_rate(c, "rate", 1.0);
  if (rate == 1.0) c.fail("rate=1 makes the noise infinite (every output NaN); use a rate below 1");
  return rate;
}

// GaussianDropout: x * noise, the noise of mean 1 and standard deviation sqrt(rate / (1 - rate))
// in training; exactly 1 in inference (the GaussianNoise op acts only in training).
LayerCallResult build_gaussian_dropout(BuildCall& call) {
  const double rate = checked_noise_rate(call.config);
  if (rate == 0.0) return one(call.nodes[0]);
  MathOps m(call);
  const int x = call.nodes[0];
  const int ones = m.binary(BinaryKind::Add, m.binary(BinaryKind::Multiply, x, 0.0f), 1.0f);
  const int noise =
      call.add(std::make_shared<GaussianNoiseOp>(std::sqrt(rate / (1.0 - rate)), call.op_seed()),
               {ones}, call.name());
  return one(m.binary(BinaryKind::Multiply, x, noise));
}

// AlphaDropout: in training, Keras's a * (x * kept + alpha_p * (1 - kept)) + b, the dropped
// inputs at SELU's negative saturation; x in inference. The Dropout op applied to ones gives
// 0 (dropped) or 1 / (1 - rate) (kept) in training and 1 in inference; from u = that - 1,
// `dropped` is 1 where dropped and `training` 1 in training, so one graph serves both modes.
LayerCallResult build_alpha_dropout(BuildCall& call) {
  const double rate = checked_noise_rate(call.config);
  if (rate == 0.0) return one(call.nodes[0]);
  MathOps m(call);
  const int x = call.nodes[0];
  const int ones = m.binary(BinaryKind::Add, m.binary(BinaryKind::Multiply, x, 0.0f), 1.0f);
  const int draw =
      call.add(std::make_shared<DropoutOp>(rate, noise_shape(call.config), call.op_seed()), {ones},
               call.name());
  const int u = m.binary(BinaryKind::Subtract, draw, 1.0f);
  const Activation relu = Activation::relu();
  const int dropped = m.activation(m.unary(UnaryKind::Negative, u), relu);
  const int training = m.binary(BinaryKind::Add,
                                m.binary(BinaryKind::Multiply, m.activation(u, relu),
                                         static_cast<float>((1.0 - rate) / rate)),
                                dropped);
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  const double alpha_p = -kAlpha * kScale;
  const double a = std::pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5);
  const double b = -a * alpha_p * rate;
  // x + training * (a * (x * (1 - dropped) + alpha_p * dropped) + b - x), expanded.
  const int factor = m.binary(
      BinaryKind::Subtract,
      m.binary(BinaryKind::Add,
               m.binary(BinaryKind::Multiply, training, static_cast<float>(a - 1.0)), 1.0f),
      m.binary(BinaryKind::Multiply, dropped, static_cast<float>(a)));
  const int offset =
      m.binary(BinaryKind::Add, m.binary(BinaryKind::Multiply, training, static_cast<float>(b)),
               m.binary(BinaryKind::Multiply, dropped, static_cast<float>(a * alpha_p)));
  return one(m.binary(BinaryKind::Add, m.binary(BinaryKind::Multiply, x, factor), offset));
}

}  // namespace

int add_activation(BuildCall& call, int node, const Activation& act, const std::string& name) {
  return call.add(std::make_shared<ActivationOp>(act), {node}, name);
}

void register_core(Registry& r) {
  LayerBuilder dense;
  dense.build = build_dense;
  dense.weights = dense_weights;
  dense.passes_mask = true;
  r["Dense"] = dense;

  LayerBuilder activation;
  activation.passes_mask = true;
  activation.build = [](BuildCall& call) {
    return one(
        add_activation(call, call.nodes[0], call.config.get_activation("activation"), call.name()));
  };
  r["Activation"] = activation;

  LayerBuilder identity;
  identity.passes_mask = true;
  identity.build = [](BuildCall& call) { return one(call.nodes[0]); };
  r["Identity"] = identity;

  LayerBuilder dropout;
  dropout.passes_mask = true;
  dropout.build = build_dropout;
  r["Dropout"] = dropout;
  r["SpatialDropout1D"] = spatial_dropout(3);
  r["SpatialDropout2D"] = spatial_dropout(4);
  r["SpatialDropout3D"] = spatial_dropout(5);

  LayerBuilder gaussian_dropout;
  gaussian_dropout.passes_mask = true;
  gaussian_dropout.build = build_gaussian_dropout;
  r["GaussianDropout"] = gaussian_dropout;
  LayerBuilder alpha_dropout;
  alpha_dropout.passes_mask = true;
  alpha_dropout.build = build_alpha_dropout;
  r["AlphaDropout"] = alpha_dropout;

  LayerBuilder noise;
  noise.passes_mask = true;
  noise.build = [](BuildCall& call) {
    const double stddev = call.config.get_float("stddev");
    if (!(stddev >= 0.0 && std::isfinite(stddev)))
      call.config.fail("'stddev' must be a non-negative number, got " + std::to_string(stddev));
    return one(call.add(std::make_shared<GaussianNoiseOp>(stddev, call.op_seed()), {call.nodes[0]},
                        call.name()));
  };
  r["GaussianNoise"] = noise;

  LayerBuilder activity;
  activity.passes_mask = true;
  activity.build = [](BuildCall& call) {
    const Config& c = call.config;
    const double l1 = c.get_float("l1", 0.0), l2 = c.get_float("l2", 0.0);
    if (!(l1 >= 0.0 && l2 >= 0.0 && std::isfinite(l1) && std::isfinite(l2)))
      c.fail("'l1' and 'l2' must be non-negative numbers");
    return one(
        call.add(std::make_shared<ActivityRegularizationOp>(l1, l2), {call.nodes[0]}, call.name()));
  };
  r["ActivityRegularization"] = activity;
}

}  // namespace ember::builders
