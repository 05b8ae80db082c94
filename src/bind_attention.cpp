// EinsumDense's contraction and the score-attention ops (issue 17).
#include "bindings.h"
#include "ember/ops_einsum.h"
#include "ember/ops_score_attention.h"
#include "ember/ops_spectral_normalization.h"

namespace ember::bindings {

void bind_attention(py::module_& m) {
  m.def(
      "add_einsum_dense",
      [](Graph& g, int input, const std::string& equation, VariablePtr kernel, VariablePtr bias,
         std::string name) {
        return g.add_node(
            std::make_shared<EinsumDenseOp>(equation, std::move(kernel), std::move(bias)), {input},
            std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("equation"), py::arg("kernel"), py::arg("bias"),
      py::arg("name"),
      "Adds einsum(equation, x, kernel) (+ bias): an explicit equation whose first input label "
      "is the batch axis.");
  m.def(
      "add_batch_matmul",
      [](Graph& g, int a, int b, bool trans_b, std::string name) {
        return g.add_node(std::make_shared<BatchMatMulOp>(trans_b), {a, b}, std::move(name));
      },
      py::arg("graph"), py::arg("a"), py::arg("b"), py::arg("trans_b"), py::arg("name"),
      "Adds a (..., m, k) @ b (..., k, n), or @ b (..., n, k)^T with trans_b, per sample.");
  m.def(
      "add_masked_softmax",
      [](Graph& g, int scores, int mask, bool causal, std::string name) {
        std::vector<int> inputs{scores};
        if (mask >= 0) inputs.push_back(mask);
        return g.add_node(std::make_shared<MaskedSoftmaxOp>(causal), inputs, std::move(name));
      },
      py::arg("graph"), py::arg("scores"), py::arg("mask"), py::arg("causal"), py::arg("name"),
      "Adds Keras's masked softmax of attention scores (..., Tq, Tv); mask: a (..., Tv) node "
      "or -1.");
  m.def(
      "add_spectral_norm_scale",
      [](Graph& g, int input, VariablePtr kernel, VariablePtr vector_u, int power_iterations,
         std::string name) {
        return g.add_node(std::make_shared<SpectralNormScaleOp>(
                              std::move(kernel), std::move(vector_u), power_iterations),
                          {input}, std::move(name));
      },
      py::arg("graph"), py::arg("input"), py::arg("kernel"), py::arg("vector_u"),
      py::arg("power_iterations"), py::arg("name"),
      "Adds SpectralNormalization's (rows, 1) scale: 1 / sigma in training, else 1.");
}

}  // namespace ember::bindings
