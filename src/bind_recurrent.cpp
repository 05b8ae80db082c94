// The recurrent ops: SimpleRNN, LSTM and GRU (one fused op each).
#include "bindings.h"
#include "ember/ops_recurrent.h"

namespace ember::bindings {

void bind_recurrent(py::module_& m) {
  m.def(
      "add_recurrent",
      [](Graph& g, const std::vector<int>& inputs, const std::string& cell, VariablePtr kernel,
         VariablePtr recurrent_kernel, VariablePtr bias, const std::string& activation,
         const std::string& recurrent_activation, bool reset_after, bool return_sequences,
         bool return_state, bool go_backwards, bool zero_output_for_mask, double dropout,
         double recurrent_dropout, bool mask_per_gate, uint64_t seed, std::string name) {
        RecurrentConfig c;
        if (cell == "simple_rnn")
          c.cell = RecurrentCell::SimpleRNN;
        else if (cell == "lstm")
          c.cell = RecurrentCell::LSTM;
        else if (cell == "gru")
          c.cell = RecurrentCell::GRU;
        else
          throw ValueError("unknown recurrent cell '" + cell + "'");
        c.activation = activation_from_name(activation).kind;
        c.recurrent_activation = activation_from_name(recurrent_activation).kind;
        c.reset_after = reset_after;
        c.return_sequences = return_sequences;
        c.return_state = return_state;
        c.go_backwards = go_backwards;
        c.zero_output_for_mask = zero_output_for_mask;
        c.dropout = dropout;
        c.recurrent_dropout = recurrent_dropout;
        c.mask_per_gate = mask_per_gate;
        c.seed = seed;
        return g.add_node(std::make_shared<RecurrentOp>(
                              std::move(kernel), std::move(recurrent_kernel), std::move(bias), c),
                          inputs, std::move(name));
      },
      py::arg("graph"), py::arg("inputs"), py::arg("cell"), py::arg("kernel"),
      py::arg("recurrent_kernel"), py::arg("bias"), py::arg("activation"),
      py::arg("recurrent_activation"), py::arg("reset_after"), py::arg("return_sequences"),
      py::arg("return_state"), py::arg("go_backwards"), py::arg("zero_output_for_mask"),
      py::arg("dropout"), py::arg("recurrent_dropout"), py::arg("mask_per_gate"), py::arg("seed"),
      py::arg("name"), "Adds a SimpleRNN, LSTM or GRU over a sequence (inputs: [x] or [x, mask]).");
}

}  // namespace ember::bindings
