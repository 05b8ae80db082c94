// The merge ops: element-wise merges and Concatenate.
#include "bindings.h"
#include "ember/ops_merging.h"

namespace ember::bindings {

void bind_merging(py::module_& m) {
  m.def(
      "add_merge",
      [](Graph& g, const std::vector<int>& inputs, const std::string& kind, std::string name) {
        static const std::pair<const char*, MergeKind> kinds[] = {
            {"add", MergeKind::Add},           {"subtract", MergeKind::Subtract},
            {"multiply", MergeKind::Multiply}, {"average", MergeKind::Average},
            {"maximum", MergeKind::Maximum},   {"minimum", MergeKind::Minimum}};
        for (const auto& [key, value] : kinds)
          if (kind == key)
            return g.add_node(std::make_shared<MergeOp>(value), inputs, std::move(name));
        throw ValueError("unknown merge kind '" + kind + "'");
      },
      py::arg("graph"), py::arg("inputs"), py::arg("kind"), py::arg("name"),
      "Adds an element-wise merge (add, subtract, multiply, average, maximum, minimum).");
  m.def(
      "add_concatenate",
      [](Graph& g, const std::vector<int>& inputs, int axis, std::string name) {
        return g.add_node(std::make_shared<ConcatenateOp>(axis), inputs, std::move(name));
      },
      py::arg("graph"), py::arg("inputs"), py::arg("axis"), py::arg("name"),
      "Adds a concatenation along `axis` (of the full shape, batch axis 0).");
}

}  // namespace ember::bindings
