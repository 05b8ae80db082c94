// Recurrent layers: SimpleRNN, LSTM and GRU, each one fused Recurrent op (ops_recurrent.h); a
// mask reaching them skips timesteps as Keras does. With return_state the op's one flat row
// [output, h, (c)] is sliced apart by gathers.
#include <numeric>

#include "builders/builder.h"
#include "ember/ops_math.h"
#include "ember/ops_recurrent.h"

namespace ember::builders {
namespace {

struct Cell {
  RecurrentCell kind;
  int64_t gates;
  int64_t states;
};

ActivationKind fused_activation(const Config& c, const char* key, const char* fallback) {
  const Activation act = c.has(key) ? c.get_activation(key) : activation_from_name(fallback);
  switch (act.kind) {
    case ActivationKind::Tanh:
    case ActivationKind::Sigmoid:
    case ActivationKind::Relu:
    case ActivationKind::HardSigmoid:
    case ActivationKind::Linear:
      if (act.kind != ActivationKind::Relu || act == Activation::relu()) return act.kind;
      break;
    default: break;
  }
  c.fail(std::string("'") + key +
         "' is not supported; the fused recurrent kernels compute "
         "tanh, sigmoid, relu, hard_sigmoid and linear");
}

int64_t units_of(const Config& c) {
  const int64_t units = c.get_int("units");
  if (units <= 0 || units > kMaxDim)
    c.fail("'units' must be a positive integer, got " + std::to_string(units));
  return units;
}

LayerBuilder recurrent(Cell cell) {
  LayerBuilder b;
  b.weights = [cell](const Config& c, const std::vector<Shape>& rows) {
    const int64_t units = units_of(c);
    if (rows.at(0).size() != 2)
      c.fail("expects inputs of rank 3 (batch, timesteps, features), got row shape " +
             shape_to_string(rows[0]));
    const int64_t gh = cell.gates * units;
    WeightSpecs specs{{"kernel", {rows[0][1], gh}}, {"recurrent_kernel", {units, gh}}};
    if (c.get_bool("use_bias", true)) {
      if (cell.kind == RecurrentCell::GRU && c.get_bool("reset_after", true))
        specs.push_back({"bias", {2, gh}});
      else
        specs.push_back({"bias", {gh}});
    }
    return specs;
  };
  b.build = [cell](BuildCall& call) {
    const Config& c = call.config;
    if (c.get_bool("stateful", false)) c.fail("stateful=True is not supported");
    const int64_t units = units_of(c);
    RecurrentConfig rc;
    rc.cell = cell.kind;
    rc.activation = fused_activation(c, "activation", "tanh");
    if (cell.kind != RecurrentCell::SimpleRNN)
      rc.recurrent_activation = fused_activation(c, "recurrent_activation", "sigmoid");
    rc.reset_after = c.get_bool("reset_after", true);
    rc.return_sequences = c.get_bool("return_sequences", false);
    rc.return_state = c.get_bool("return_state", false);
    rc.go_backwards = c.get_bool("go_backwards", false);
    rc.zero_output_for_mask = c.get_bool("zero_output_for_mask", false);
    rc.dropout = c.get_float("dropout", 0.0);
    rc.recurrent_dropout = c.get_float("recurrent_dropout", 0.0);
    if (!(rc.dropout >= 0.0 && rc.dropout <= 1.0 && rc.recurrent_dropout >= 0.0 &&
          rc.recurrent_dropout <= 1.0))
      c.fail("'dropout' and 'recurrent_dropout' must be in [0, 1]");
    // Keras's implementation=1 draws a dropout mask per gate.
    rc.mask_per_gate = c.get_int("implementation", 2) == 1;
    rc.seed = call.op_seed();
    const int mask = call.mask(0);
    std::vector<int> inputs{call.nodes[0]};
    if (mask >= 0) inputs.push_back(mask);
    const bool use_bias = c.get_bool("use_bias", true);
    const int node =
        call.add(std::make_shared<RecurrentOp>(call.weights[0], call.weights[1],
                                               use_bias ? call.weights[2] : nullptr, rc),
                 inputs, call.name());
    const int out_mask = rc.return_sequences ? mask : -1;
    if (!rc.return_state) return one(add_activity_regularizer(call, node), out_mask);
    const int64_t steps = call.row()[0];
    const int64_t size = rc.return_sequences ? steps * units : units;
    const Shape shape = rc.return_sequences ? Shape{steps, units} : Shape{units};
    auto slice = [&](int64_t begin, Shape s, const std::string& name) {
      std::vector<int64_t> index(static_cast<size_t>(num_elements(s)));
      std::iota(index.begin(), index.end(), begin);
      return call.add(std::make_shared<GatherOp>(std::move(s), std::move(index)), {node}, name);
    };
    LayerCallResult r;
    r.returns_list = true;
    r.outputs.nodes.push_back(slice(0, shape, call.name() + "/output"));
    r.outputs.masks.push_back(out_mask);
    for (int64_t i = 0; i < cell.states; ++i) {
      r.outputs.nodes.push_back(
          slice(size + i * units, {units}, call.name() + "/state_" + std::to_string(i)));
      r.outputs.masks.push_back(-1);
    }
    r.outputs.nodes[0] = add_activity_regularizer(call, r.outputs.nodes[0]);
    return r;
  };
  return b;
}

}  // namespace

void register_recurrent(Registry& r) {
  r["SimpleRNN"] = recurrent({RecurrentCell::SimpleRNN, 1, 1});
  r["LSTM"] = recurrent({RecurrentCell::LSTM, 4, 2});
  r["GRU"] = recurrent({RecurrentCell::GRU, 3, 1});
}

}  // namespace ember::builders
