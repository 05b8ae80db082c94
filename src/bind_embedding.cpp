// The sequence ops (issue 11): Embedding, the int32 <-> float casts and the masks.
#include "bindings.h"
#include "ember/ops_embedding.h"

namespace ember::bindings {

void bind_embedding(py::module_& m) {
  m.def(
      "add_embedding",
      [](Graph& g, int input, VariablePtr table, std::string name) {
        auto op = std::make_shared<EmbeddingOp>(std::move(table), name);
        return g.add_node(std::move(op), {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("table"), py::arg("name"),
      "Adds table[ids] for int32 ids (bit patterns in the input's floats); a bad id raises "
      "ValueError naming it and its position.");
  m.def(
      "add_cast",
      [](Graph& g, int input, bool to_ids, std::string name) {
        return g.add_node(std::make_shared<CastOp>(to_ids, name), {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("to_ids"), py::arg("name"),
      "Adds a cast: float -> int32 ids (to_ids, truncating), or int32 ids -> float.");
  m.def(
      "add_mask",
      [](Graph& g, int input, bool ids, float value, std::string name) {
        return g.add_node(std::make_shared<MaskOp>(ids, value), {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("ids"), py::arg("value"), py::arg("name"),
      "Adds a mask (1 keep, 0 masked): ids != 0 (ids), or any(x != value) over the last axis.");
}

}  // namespace ember::bindings
