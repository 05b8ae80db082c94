// Activation layers: ReLU, LeakyReLU, ELU, Softmax (the Activation op with the layer's
// parameters) and PReLU (its own op, which learns alpha).
#include <algorithm>
#include <cmath>

#include "builders/builder.h"
#include "ember/ops.h"

namespace ember::builders {
namespace {

// The Activation op with Keras's parameters, named after the layer.
LayerBuilder parametrized(std::function<Activation(const Config&, const Shape&)> make) {
  LayerBuilder b;
  b.passes_mask = true;
  b.build = [make](BuildCall& call) {
    return one(add_activation(call, call.nodes[0], make(call.config, call.row()), call.name()));
  };
  return b;
}

float non_negative(const Config& c, const char* key, double fallback) {
  const double v = c.get_float(key, fallback);
  if (!(v >= 0.0) || !std::isfinite(v))
    c.fail(std::string("'") + key + "' must be a non-negative number, got " + std::to_string(v));
  return static_cast<float>(v);
}

// Keras's axes (batch axis 0, negative from the end) as sorted row axes.
std::vector<int> softmax_row_axes(const Config& c, const Shape& row) {
  const auto rank = static_cast<int64_t>(row.size());
  std::vector<int> axes;
  for (int64_t axis : c.has("axis") ? c.get_int_list("axis") : std::vector<int64_t>{-1}) {
    const int64_t full = axis < 0 ? axis + rank + 1 : axis;
    if (full == 0) c.fail("a softmax over the batch axis is not supported");
    if (full < 1 || full > rank || full > 32)
      c.fail("axis " + std::to_string(axis) + " is out of range for inputs of rank " +
             std::to_string(rank + 1));
    axes.push_back(static_cast<int>(full - 1));
  }
  if (axes.empty()) c.fail("'axis' must name at least one axis");
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

}  // namespace

void register_activations(Registry& r) {
  r["ReLU"] = parametrized([](const Config& c, const Shape&) {
    ActivationArgs args;
    args.negative_slope = non_negative(c, "negative_slope", 0.0);
    args.threshold = non_negative(c, "threshold", 0.0);
    if (c.has("max_value")) args.max_value = non_negative(c, "max_value", 0.0);
    return activation_from_name("relu", args);
  });
  r["LeakyReLU"] = parametrized([](const Config& c, const Shape&) {
    ActivationArgs args;
    // Keras 2 files call it alpha.
    args.negative_slope =
        non_negative(c, c.has("negative_slope") ? "negative_slope" : "alpha", 0.3);
    return activation_from_name("leaky_relu", args);
  });
  r["ELU"] = parametrized([](const Config& c, const Shape&) {
    ActivationArgs args;
    args.alpha = static_cast<float>(c.get_float("alpha", 1.0));
    return activation_from_name("elu", args);
  });
  r["Softmax"] = parametrized([](const Config& c, const Shape& row) {
    const std::vector<int> axes = softmax_row_axes(c, row);
    ActivationArgs args;
    if (axes.size() == 1)
      args.axis = axes[0];
    else
      args.axes = axes;
    return activation_from_name("softmax", args);
  });

  LayerBuilder prelu;
  prelu.passes_mask = true;
  prelu.weights = [](const Config& c, const std::vector<Shape>& rows) {
    Shape shape = rows.at(0);
    if (c.has("shared_axes")) {
      for (int64_t axis : c.get_int_list("shared_axes")) {
        // Keras counts shared axes with the batch axis as 0.
        if (axis < 1 || axis > static_cast<int64_t>(shape.size()))
          c.fail("'shared_axes' entry " + std::to_string(axis) +
                 " is out of range for inputs of rank " + std::to_string(shape.size() + 1));
        shape[static_cast<size_t>(axis - 1)] = 1;
      }
    }
    return WeightSpecs{{"alpha", shape}};
  };
  prelu.build = [](BuildCall& call) {
    return one(call.add(std::make_shared<PReLUOp>(call.weights[0]), {call.nodes[0]}, call.name()));
  };
  r["PReLU"] = prelu;
}

}  // namespace ember::builders
