// The general math ops `ember.ops` records into a graph (see ember/ops_math.h).
// Broadcasting and reduction axes are resolved in C++ from shapes; gathers take
// an index map (which element of the row each output element reads).
#include "bindings.h"
#include "ember/ops_math.h"

namespace ember::bindings {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::vector<int64_t> to_vector(const IndexArray& a) {
  return std::vector<int64_t>(a.data(), a.data() + a.size());
}

}  // namespace

void bind_math(py::module_& m) {
  m.def(
      "add_binary",
      [](Graph& g, const std::string& kind, const std::vector<int>& inputs, VariablePtr a,
         VariablePtr b, std::string name) {
        auto op =
            std::make_shared<BinaryOp>(binary_kind_from_name(kind), std::move(a), std::move(b));
        return g.add_node(std::move(op), inputs, std::move(name));
      },
      py::arg("graph"), py::arg("kind"), py::arg("inputs"), py::arg("a"), py::arg("b"),
      py::arg("name"),
      "Adds out = a (op) b, NumPy-broadcast; a or b None means the next of `inputs` (batched), "
      "else a Variable read by every row (its shape aligned with the batched operand's full "
      "shape at the last axis).");
  m.def(
      "add_unary",
      [](Graph& g, const std::string& kind, int input, std::string name) {
        return g.add_node(std::make_shared<UnaryOp>(unary_kind_from_name(kind)), {input},
                          std::move(name));
      },
      py::arg("graph"), py::arg("kind"), py::arg("input"), py::arg("name"));
  m.def(
      "add_reduce",
      [](Graph& g, const std::string& kind, int input, std::vector<int> axes, bool keepdims,
         std::string name) {
        return g.add_node(
            std::make_shared<ReduceOp>(reduce_kind_from_name(kind), std::move(axes), keepdims),
            {input}, std::move(name));
      },
      py::arg("graph"), py::arg("kind"), py::arg("input"), py::arg("axes"), py::arg("keepdims"),
      py::arg("name"), "Adds a reduction over row `axes` (indices into the row shape).");
  m.def(
      "add_gather",
      [](Graph& g, int input, Shape out_shape, const IndexArray& index, std::string name) {
        return g.add_node(std::make_shared<GatherOp>(std::move(out_shape), to_vector(index)),
                          {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("out_shape"), py::arg("index"),
      py::arg("name"));
  m.def(
      "add_matmul",
      [](Graph& g, const std::vector<int>& inputs, VariablePtr w, std::string name) {
        return g.add_node(std::make_shared<MatMulOp>(std::move(w)), inputs, std::move(name));
      },
      py::arg("graph"), py::arg("inputs"), py::arg("w"), py::arg("name"),
      "x @ w with w a Variable (inputs: [x]), or x @ y per row (inputs: [x, y], w None).");
}

}  // namespace ember::bindings
