// build_layer (ember/layer_builder.h): the one mapping from a Keras layer config to engine
// ops, which the Python layers call with json.dumps(layer.get_config()).
#include <pybind11/stl.h>

#include <optional>

#include "bindings.h"
#include "ember/layer_builder.h"

namespace ember::bindings {
namespace {

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(what + " is not valid JSON: " + e.what());
  }
}

}  // namespace

void bind_builders(py::module_& m) {
  m.def(
      "build_layer",
      [](Graph& g, const std::string& class_name, const std::string& config,
         const std::vector<VariablePtr>& weights, std::vector<int> nodes, std::vector<int> masks,
         std::vector<bool> ids, const std::string& call_kwargs,
         std::shared_ptr<LayerTrainable> trainable, std::optional<uint64_t> seed) {
        LayerBuildOptions options{std::move(trainable), seed};
        const LayerCallResult r =
            build_layer(g, class_name, parse_json(config, class_name + " config"), weights,
                        LayerTensors{std::move(nodes), std::move(masks), std::move(ids)},
                        parse_json(call_kwargs, class_name + " call arguments"), options);
        return py::make_tuple(r.outputs.nodes, r.outputs.masks, r.returns_list);
      },
      py::arg("graph"), py::arg("class_name"), py::arg("config"), py::arg("weights"),
      py::arg("nodes"), py::arg("masks"), py::arg("ids"), py::arg("call_kwargs") = "null",
      py::arg("trainable") = nullptr, py::arg("seed") = py::none(),
      "Adds one call of a built-in Keras layer from its JSON config; returns (output nodes, "
      "their mask nodes (-1: none), whether the layer returns a list).");
  m.def(
      "layer_weight_specs",
      [](const std::string& class_name, const std::string& config,
         const std::vector<Shape>& input_row_shapes) {
        return layer_weight_specs(class_name, parse_json(config, class_name + " config"),
                                  input_row_shapes);
      },
      py::arg("class_name"), py::arg("config"), py::arg("input_row_shapes"),
      "The (name, shape) of each weight a layer of this config makes, in Keras's order.");
  m.def("layer_builder_names", &layer_builder_names, "Every Keras class name build_layer knows.");
}

}  // namespace ember::bindings
