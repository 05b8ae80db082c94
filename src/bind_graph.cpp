// Variable, Graph and the ops layers add to it.
#include "bindings.h"
#include "ember/ops.h"

namespace ember::bindings {

void bind_graph(py::module_& m) {
  py::class_<Variable, std::shared_ptr<Variable>>(m, "Variable")
      .def(py::init([](std::string name, const FloatArray& value, bool trainable) {
             return std::make_shared<Variable>(std::move(name),
                                               Tensor(shape_of(value), value.data()), trainable);
           }),
           py::arg("name"), py::arg("value"), py::arg("trainable") = true)
      .def_readonly("name", &Variable::name)
      .def_readwrite("trainable", &Variable::trainable)
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

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def(py::init<>())
      .def("add_input", &Graph::add_input, py::arg("row_shape"), py::arg("name"))
      .def(
          "add_dense",
          [](Graph& g, int input, std::shared_ptr<Variable> kernel, std::shared_ptr<Variable> bias,
             const std::string& activation, std::string name) {
            return g.add_node(std::make_shared<DenseOp>(std::move(kernel), std::move(bias),
                                                        activation_from_name(activation)),
                              {input}, std::move(name));
          },
          py::arg("input"), py::arg("kernel"), py::arg("bias"), py::arg("activation"),
          py::arg("name"))
      .def(
          "add_activation",
          [](Graph& g, int input, const std::string& activation, std::string name) {
            return g.add_node(std::make_shared<ActivationOp>(activation_from_name(activation)),
                              {input}, std::move(name));
          },
          py::arg("input"), py::arg("activation"), py::arg("name"))
      .def("row_shape", [](const Graph& g, int node) { return g.row_shape(node); })
      .def("__len__", &Graph::size);
}

}  // namespace ember::bindings
