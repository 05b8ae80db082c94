// Variable, Graph and the ops layers add to it; Activation, the value that
// names an activation and its parameters.
#include <pybind11/operators.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <variant>

#include "bindings.h"
#include "ember/ops.h"

namespace ember::bindings {
namespace {

// An activation by Keras name with the parameters given (None: the default).
Activation make_activation(const std::string& name, std::optional<float> negative_slope,
                           std::optional<float> max_value, std::optional<float> threshold,
                           std::optional<float> alpha, std::optional<float> b,
                           std::optional<int> axis, std::optional<std::vector<int>> axes,
                           std::optional<bool> approximate) {
  return activation_from_name(
      name, {negative_slope, max_value, threshold, alpha, b, axis, std::move(axes), approximate});
}

// Layers pass an Activation, or a Keras name for the defaults. (Not an implicit
// conversion: pybind11 would turn the ValueError of an unknown name into a TypeError.)
using ActivationArg = std::variant<Activation, std::string>;

Activation to_activation(const ActivationArg& arg) {
  if (const auto* name = std::get_if<std::string>(&arg)) return activation_from_name(*name);
  return std::get<Activation>(arg);
}

}  // namespace

void bind_graph(py::module_& m) {
  py::class_<Variable, std::shared_ptr<Variable>>(m, "Variable")
      .def(py::init([](std::string name, const FloatArray& value, bool trainable) {
             return std::make_shared<Variable>(std::move(name),
                                               Tensor(shape_of(value), value.data()), trainable);
           }),
           py::arg("name"), py::arg("value"), py::arg("trainable") = true)
      .def_readonly("name", &Variable::name)
      .def_readwrite("trainable", &Variable::trainable)
      .def(
          "set_orthogonal_regularization",
          [](Variable& v, float factor, bool columns) {
            if (v.value.shape().size() != 2)
              throw ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                               "inputs.shape=" + shape_to_string(v.value.shape()));
            if (!(factor >= 0.0f) || !std::isfinite(factor))
              throw ValueError("OrthogonalRegularizer: factor must be a non-negative number");
            v.orthogonal = factor;
            v.orthogonal_columns = columns;
          },
          py::arg("factor"), py::arg("columns"),
          "OrthogonalRegularizer's penalty on this rank-2 variable (factor 0: off).")
      .def_property_readonly(
          "address",
          [](const Variable& v) { return reinterpret_cast<std::uintptr_t>(v.value.data()); },
          "Where the value lives (identifies the variable in engine callbacks).")
      .def_property_readonly("shape",
                             [](const Variable& v) { return py::tuple(py::cast(v.value.shape())); })
      .def(
          "numpy", [](const Variable& v) { return to_numpy(v.value); }, "A copy of the value.")
      .def(
          "assign",
          [](Variable& v, const FloatArray& a) {
            copy_into(v.value, a, "variable '" + v.name + "'");
          },
          py::arg("value"), "Copies value (same shape) into the variable.");

  py::class_<Activation>(m, "Activation",
                         "An activation by Keras name (aliases too) and its parameters; a str "
                         "converts to one with Keras's defaults. axis/axes count row axes, the "
                         "batch axis excluded.")
      .def(py::init(&make_activation), py::arg("name"), py::kw_only(),
           py::arg("negative_slope") = py::none(), py::arg("max_value") = py::none(),
           py::arg("threshold") = py::none(), py::arg("alpha") = py::none(),
           py::arg("b") = py::none(), py::arg("axis") = py::none(), py::arg("axes") = py::none(),
           py::arg("approximate") = py::none())
      .def_property_readonly("name", [](const Activation& a) { return activation_name(a); })
      .def_readonly("negative_slope", &Activation::negative_slope)
      .def_property_readonly("max_value",
                             [](const Activation& a) -> std::optional<float> {
                               if (std::isinf(a.max_value)) return std::nullopt;
                               return a.max_value;
                             })
      .def_readonly("threshold", &Activation::threshold)
      .def_readonly("alpha", &Activation::alpha)
      .def_readonly("b", &Activation::b)
      .def_readonly("axis", &Activation::axis)
      .def_property_readonly("axes",
                             [](const Activation& a) {
                               std::vector<int> axes;
                               for (int i = 0; i < 32; ++i)
                                 if ((a.axes >> i) & 1u) axes.push_back(i);
                               return axes;
                             })
      .def_readonly("approximate", &Activation::approximate)
      .def_property_readonly("backward_needs_input", &activation_backward_needs_input,
                             "Whether the gradient needs the pre-activation input, not just "
                             "the output.")
      .def(py::self == py::self)
      .def("__repr__",
           [](const Activation& a) {
             return std::string("<Activation ") + activation_name(a) + ">";
           })
      .def_static("names", &activation_names, "Every name accepted, aliases last.");

  m.def(
      "activation_forward",
      [](const ActivationArg& arg, const FloatArray& x) {
        const Activation a = to_activation(arg);
        const auto [rows, cols] = activation_rows_cols(a, shape_of(x));
        py::array_t<float> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        activation_forward(a, x.data(), y.mutable_data(), rows, cols);
        return y;
      },
      py::arg("activation"), py::arg("x"), "act(x) by the engine's kernel (softmax: last axis).");
  m.def(
      "activation_backward",
      [](const ActivationArg& arg, const FloatArray& x, const FloatArray& dy) {
        const Activation a = to_activation(arg);
        if (shape_of(dy) != shape_of(x))
          throw ValueError("activation_backward: dy of shape " + shape_to_string(shape_of(dy)) +
                           " does not match x of shape " + shape_to_string(shape_of(x)));
        const auto [rows, cols] = activation_rows_cols(a, shape_of(x));
        const std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
        py::array_t<float> y(shape), dx(shape);
        activation_forward(a, x.data(), y.mutable_data(), rows, cols);
        activation_backward(a, x.data(), y.data(), dy.data(), dx.mutable_data(), rows, cols);
        return dx;
      },
      py::arg("activation"), py::arg("x"), py::arg("dy"),
      "dy * act'(x) by the engine's kernel, as the backward pass computes it.");

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def(py::init<>())
      .def("add_input", &Graph::add_input, py::arg("row_shape"), py::arg("name"))
      .def(
          "add_dense",
          [](Graph& g, int input, std::shared_ptr<Variable> kernel, std::shared_ptr<Variable> bias,
             const ActivationArg& activation, std::string name) {
            return g.add_node(std::make_shared<DenseOp>(std::move(kernel), std::move(bias),
                                                        to_activation(activation)),
                              {input}, std::move(name));
          },
          py::arg("input"), py::arg("kernel"), py::arg("bias"), py::arg("activation"),
          py::arg("name"))
      .def(
          "add_activation",
          [](Graph& g, int input, const ActivationArg& activation, std::string name) {
            return g.add_node(std::make_shared<ActivationOp>(to_activation(activation)), {input},
                              std::move(name));
          },
          py::arg("input"), py::arg("activation"), py::arg("name"))
      .def(
          "add_prelu",
          [](Graph& g, int input, std::shared_ptr<Variable> alpha, std::string name) {
            return g.add_node(std::make_shared<PReLUOp>(std::move(alpha)), {input},
                              std::move(name));
          },
          py::arg("input"), py::arg("alpha"), py::arg("name"))
      .def("row_shape", [](const Graph& g, int node) { return g.row_shape(node); })
      .def("__len__", &Graph::size);
}

}  // namespace ember::bindings
