// Convolution layers: Conv1D/2D, Conv1DTranspose/2DTranspose, DepthwiseConv1D/2D and
// SeparableConv1D/2D (a depthwise then a pointwise Conv op), each with its bias and activation
// fused into the Conv op where the op can (not softmax / log_softmax: an op of its own then).
#include <algorithm>
#include <cctype>

#include "builders/builder.h"
#include "ember/ops_conv.h"

namespace ember::builders {
namespace {

enum class ConvKind { Plain, Transpose, Depthwise, Separable };

struct ConvConfig {
  size_t rank;
  ConvSpec spec;
  int64_t channels = 0;          // the input's
  int64_t filters = 0;           // Plain, Transpose, Separable
  int64_t depth_multiplier = 1;  // Depthwise, Separable
};

ConvConfig read_conv(const Config& c, ConvKind kind, size_t rank, const Shape& row) {
  ConvConfig cc;
  cc.rank = rank;
  ConvSpec& s = cc.spec;
  s.kernel_size = c.get_tuple("kernel_size", rank, 1);
  s.strides = c.get_tuple("strides", rank, 1, std::vector<int64_t>(rank, 1));
  s.dilation_rate = c.get_tuple("dilation_rate", rank, 1, std::vector<int64_t>(rank, 1));
  s.padding = c.get_string("padding", "valid");
  std::transform(s.padding.begin(), s.padding.end(), s.padding.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool causal_ok = kind == ConvKind::Plain && rank == 1;
  if (s.padding != "valid" && s.padding != "same" && !(causal_ok && s.padding == "causal"))
    c.fail("'padding' must be 'valid', 'same'" + std::string(causal_ok ? " or 'causal'" : "") +
           ", got '" + s.padding + "'");
  if (*std::max_element(s.strides.begin(), s.strides.end()) > 1 &&
      *std::max_element(s.dilation_rate.begin(), s.dilation_rate.end()) > 1)
    c.fail("strides > 1 are not supported together with dilation_rate > 1");
  s.channels_first = c.channels_first();
  if (row.size() != rank + 1)
    c.fail("expects inputs of rank " + std::to_string(rank + 2) + ", got inputs of row shape " +
           shape_to_string(row));
  cc.channels = s.channels_first ? row.front() : row.back();
  if (kind != ConvKind::Depthwise) {
    cc.filters = c.get_int("filters");
    if (cc.filters <= 0 || cc.filters > kMaxDim)
      c.fail("'filters' must be a positive integer, got " + std::to_string(cc.filters));
  }
  if (kind == ConvKind::Depthwise || kind == ConvKind::Separable) {
    cc.depth_multiplier = c.get_int("depth_multiplier", 1);
    if (cc.depth_multiplier <= 0 || cc.depth_multiplier > kMaxDim)
      c.fail("'depth_multiplier' must be a positive integer, got " +
             std::to_string(cc.depth_multiplier));
  }
  if (kind == ConvKind::Plain) {
    s.groups = c.get_int("groups", 1);
    if (s.groups <= 0 || cc.filters % s.groups != 0 || cc.channels % s.groups != 0)
      c.fail("'groups' " + std::to_string(s.groups) +
             " must divide both the filters and the input channels (" + std::to_string(cc.filters) +
             ", " + std::to_string(cc.channels) + ")");
  }
  if (kind == ConvKind::Transpose) {
    s.transpose = true;
    if (c.has("output_padding")) {
      s.output_padding = c.get_tuple("output_padding", rank, 0);
      for (size_t i = 0; i < rank; ++i)
        if (s.output_padding[i] >= s.strides[i])
          c.fail("'output_padding' must be strictly less than 'strides' in every dimension");
    }
  }
  return cc;
}

Shape with_channels(const std::vector<int64_t>& kernel_size, int64_t a, int64_t b) {
  Shape shape(kernel_size.begin(), kernel_size.end());
  shape.push_back(a);
  shape.push_back(b);
  return shape;
}

WeightSpecs conv_weights(const Config& c, ConvKind kind, size_t rank, const Shape& row) {
  const ConvConfig cc = read_conv(c, kind, rank, row);
  const auto& k = cc.spec.kernel_size;
  const bool bias = c.get_bool("use_bias", true);
  WeightSpecs specs;
  switch (kind) {
    case ConvKind::Plain:
      specs.push_back({"kernel", with_channels(k, cc.channels / cc.spec.groups, cc.filters)});
      if (bias) specs.push_back({"bias", {cc.filters}});
      break;
    case ConvKind::Transpose:
      specs.push_back({"kernel", with_channels(k, cc.filters, cc.channels)});
      if (bias) specs.push_back({"bias", {cc.filters}});
      break;
    case ConvKind::Depthwise:
      specs.push_back({"kernel", with_channels(k, cc.channels, cc.depth_multiplier)});
      if (bias) specs.push_back({"bias", {cc.channels * cc.depth_multiplier}});
      break;
    case ConvKind::Separable:
      specs.push_back({"depthwise_kernel", with_channels(k, cc.channels, cc.depth_multiplier)});
      specs.push_back(
          {"pointwise_kernel", with_channels(std::vector<int64_t>(rank, 1),
                                             cc.channels * cc.depth_multiplier, cc.filters)});
      if (bias) specs.push_back({"bias", {cc.filters}});
      break;
  }
  return specs;
}

// The Conv op; an activation it cannot fuse follows as an op of its own.
int add_conv(BuildCall& call, int node, VariablePtr kernel, VariablePtr bias, ConvSpec spec,
             const Activation& act, const std::string& name) {
  const bool fused = !act.is_normalization();
  node = call.add(std::make_shared<ConvOp>(std::move(kernel), std::move(bias), std::move(spec),
                                           fused ? act : Activation()),
                  {node}, name);
  if (!fused) node = add_activation(call, node, act, name + "/activation");
  return node;
}

LayerBuilder conv(ConvKind kind, size_t rank) {
  LayerBuilder b;
  b.weights = [kind, rank](const Config& c, const std::vector<Shape>& rows) {
    return conv_weights(c, kind, rank, rows.at(0));
  };
  b.build = [kind, rank](BuildCall& call) {
    const Config& c = call.config;
    ConvConfig cc = read_conv(c, kind, rank, call.row());
    const Activation act = c.get_activation("activation");
    const bool bias = c.get_bool("use_bias", true);
    int node;
    if (kind == ConvKind::Separable) {
      ConvSpec depthwise = cc.spec;
      depthwise.depthwise = true;
      node = add_conv(call, call.nodes[0], call.weights[0], nullptr, depthwise, Activation(),
                      call.name() + "/depthwise");
      ConvSpec pointwise;
      pointwise.kernel_size = pointwise.strides = pointwise.dilation_rate =
          std::vector<int64_t>(rank, 1);
      pointwise.channels_first = cc.spec.channels_first;
      node = add_conv(call, node, call.weights[1], bias ? call.weights[2] : nullptr, pointwise, act,
                      call.name());
    } else {
      cc.spec.depthwise = kind == ConvKind::Depthwise;
      node = add_conv(call, call.nodes[0], call.weights[0], bias ? call.weights[1] : nullptr,
                      cc.spec, act, call.name());
    }
    return one(add_activity_regularizer(call, node));
  };
  return b;
}

}  // namespace

void register_convolution(Registry& r) {
  r["Conv1D"] = conv(ConvKind::Plain, 1);
  r["Conv2D"] = conv(ConvKind::Plain, 2);
  r["Conv1DTranspose"] = conv(ConvKind::Transpose, 1);
  r["Conv2DTranspose"] = conv(ConvKind::Transpose, 2);
  r["DepthwiseConv1D"] = conv(ConvKind::Depthwise, 1);
  r["DepthwiseConv2D"] = conv(ConvKind::Depthwise, 2);
  r["SeparableConv1D"] = conv(ConvKind::Separable, 1);
  r["SeparableConv2D"] = conv(ConvKind::Separable, 2);
}

}  // namespace ember::builders
