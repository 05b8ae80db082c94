// The convolution op (issue 11).
#include <variant>

#include "bindings.h"
#include "ember/ops_conv.h"

namespace ember::bindings {

void bind_conv(py::module_& m) {
  m.def(
      "add_conv",
      [](Graph& g, int input, VariablePtr kernel, VariablePtr bias,
         std::vector<int64_t> kernel_size, std::vector<int64_t> strides,
         std::vector<int64_t> dilation_rate, std::string padding,
         std::vector<int64_t> output_padding, int64_t groups, bool channels_first, bool transpose,
         bool depthwise, const std::variant<Activation, std::string>& activation,
         std::string name) {
        const auto* activation_name = std::get_if<std::string>(&activation);
        ConvSpec spec;
        spec.kernel_size = std::move(kernel_size);
        spec.strides = std::move(strides);
        spec.dilation_rate = std::move(dilation_rate);
        spec.padding = std::move(padding);
        spec.output_padding = std::move(output_padding);
        spec.groups = groups;
        spec.channels_first = channels_first;
        spec.transpose = transpose;
        spec.depthwise = depthwise;
        return g.add_node(
            std::make_shared<ConvOp>(std::move(kernel), std::move(bias), std::move(spec),
                                     activation_name ? activation_from_name(*activation_name)
                                                     : std::get<Activation>(activation)),
            {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("kernel"), py::arg("bias"),
      py::arg("kernel_size"), py::arg("strides"), py::arg("dilation_rate"), py::arg("padding"),
      py::arg("output_padding"), py::arg("groups"), py::arg("channels_first"), py::arg("transpose"),
      py::arg("depthwise"), py::arg("activation"), py::arg("name"),
      "Adds a convolution (Conv1D/2D, their transposes, depthwise) with a fused bias and "
      "activation; output_padding empty means None.");
}

}  // namespace ember::bindings
