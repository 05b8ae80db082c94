// The normalization, regularization and reshaping ops, and weight regularization.
#include "bindings.h"
#include "ember/ops_normalization.h"
#include "ember/ops_regularization.h"
#include "ember/ops_reshaping.h"

namespace ember::bindings {

void bind_layers(py::module_& m) {
  py::class_<LayerTrainable, std::shared_ptr<LayerTrainable>>(
      m, "LayerTrainable", "A layer's `trainable` flag, shared with the ops it emitted.")
      .def(py::init(
               [](bool value) { return std::make_shared<LayerTrainable>(LayerTrainable{value}); }),
           py::arg("value") = true)
      .def_readwrite("value", &LayerTrainable::value);
  m.def(
      "add_batch_normalization",
      [](Graph& g, int input, VariablePtr gamma, VariablePtr beta, VariablePtr moving_mean,
         VariablePtr moving_variance, int axis, double momentum, double epsilon,
         std::shared_ptr<LayerTrainable> trainable, std::string name) {
        return g.add_node(
            std::make_shared<BatchNormalizationOp>(
                std::move(gamma), std::move(beta), std::move(moving_mean),
                std::move(moving_variance), axis, momentum, epsilon, std::move(trainable)),
            {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("gamma"), py::arg("beta"), py::arg("moving_mean"),
      py::arg("moving_variance"), py::arg("axis"), py::arg("momentum"), py::arg("epsilon"),
      py::arg("trainable"), py::arg("name"),
      "Adds BatchNormalization over channel `axis` (gamma, beta may be None).");
  m.def(
      "add_layer_normalization",
      [](Graph& g, int input, VariablePtr gamma, VariablePtr beta, std::vector<int> axes,
         double epsilon, bool rms_scaling, std::string name) {
        return g.add_node(
            std::make_shared<LayerNormalizationOp>(std::move(gamma), std::move(beta),
                                                   std::move(axes), epsilon, rms_scaling),
            {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("gamma"), py::arg("beta"), py::arg("axes"),
      py::arg("epsilon"), py::arg("rms_scaling"), py::arg("name"),
      "Adds LayerNormalization over `axes` (gamma, beta may be None).");
  m.def(
      "add_normalization",
      [](Graph& g, int input, VariablePtr mean, VariablePtr variance, std::vector<int> keep_axes,
         bool invert, std::string name) {
        return g.add_node(std::make_shared<NormalizationOp>(std::move(mean), std::move(variance),
                                                            std::move(keep_axes), invert),
                          {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("mean"), py::arg("variance"),
      py::arg("keep_axes"), py::arg("invert"), py::arg("name"),
      "Adds the Normalization layer's (x - mean) / std with statistics over `keep_axes`.");
  m.def(
      "add_dropout",
      [](Graph& g, int input, double rate, std::vector<int64_t> noise_shape, uint64_t seed,
         std::string name) {
        return g.add_node(std::make_shared<DropoutOp>(rate, std::move(noise_shape), seed), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("rate"), py::arg("noise_shape"), py::arg("seed"),
      py::arg("name"),
      "Adds Dropout; noise_shape is the full mask shape (-1: the input's size) or empty.");
  m.def(
      "add_gaussian_noise",
      [](Graph& g, int input, double stddev, uint64_t seed, std::string name) {
        return g.add_node(std::make_shared<GaussianNoiseOp>(stddev, seed), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("stddev"), py::arg("seed"), py::arg("name"));
  m.def(
      "add_activity_regularization",
      [](Graph& g, int input, double l1, double l2, std::string name) {
        return g.add_node(std::make_shared<ActivityRegularizationOp>(l1, l2), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("l1"), py::arg("l2"), py::arg("name"),
      "Adds an identity that puts (l1 sum|x| + l2 sum x^2) / batch size on the loss.");
  m.def(
      "add_reshape",
      [](Graph& g, int input, Shape target_shape, std::string name) {
        return g.add_node(std::make_shared<ReshapeOp>(std::move(target_shape)), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("target_shape"), py::arg("name"));
  m.def(
      "add_flatten",
      [](Graph& g, int input, bool channels_first, std::string name) {
        return g.add_node(std::make_shared<FlattenOp>(channels_first), {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("channels_first"), py::arg("name"));
  m.def("set_regularization", &Variable::set_regularization, py::arg("variable"), py::arg("l1"),
        py::arg("l2"),
        "Puts l1 * sum|w| + l2 * sum w^2 on the loss while the variable is trainable.");
  m.def(
      "set_constraint",
      [](Variable& v, const std::string& kind, double min_value, double max_value, double rate,
         std::vector<int64_t> axes) {
        using Kind = WeightConstraint::Kind;
        Kind k;
        if (kind == "none") k = Kind::kNone;
        else if (kind == "max_norm") k = Kind::kMaxNorm;
        else if (kind == "min_max_norm") k = Kind::kMinMaxNorm;
        else if (kind == "non_neg") k = Kind::kNonNeg;
        else if (kind == "unit_norm") k = Kind::kUnitNorm;
        else throw ValueError("set_constraint: unknown constraint kind '" + kind + "'");
        v.constraint = WeightConstraint::make(k, min_value, max_value, rate, std::move(axes),
                                              v.value.shape(), v.name);
      },
      py::arg("variable"), py::arg("kind"), py::arg("min_value") = 0.0,
      py::arg("max_value") = 0.0, py::arg("rate") = 1.0, py::arg("axes") = std::vector<int64_t>{},
      "Applies a built-in constraint (max_norm, min_max_norm, non_neg, unit_norm or none) "
      "after each optimizer update of the variable; axes empty means every axis.");
}

}  // namespace ember::bindings
