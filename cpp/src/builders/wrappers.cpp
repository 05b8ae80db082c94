// Wrapper layers, built from the wrapped layers' configs through build_layer itself:
// TimeDistributed (one layer on every timestep) and Bidirectional (a recurrent layer forwards
// and backwards, merged).
#include <numeric>

#include "builders/builder.h"
#include "ember/ops_math.h"
#include "ember/ops_merging.h"
#include "ember/ops_reshaping.h"

namespace ember::builders {
namespace {

// A wrapped layer's {"class_name", "config"} (Keras's serialized form).
struct Wrapped {
  std::string class_name;
  json config;
};

Wrapped wrapped(const Config& c, const char* key) {
  const json& v = c.at(key);
  if (!v.is_object() || !v.contains("class_name") || !v["class_name"].is_string() ||
      !v.contains("config") || !v["config"].is_object())
    c.fail(std::string("'") + key + "' must be a serialized layer ({\"class_name\", \"config\"})");
  const std::string cls = v["class_name"].get<std::string>();
  if (cls == "TimeDistributed" || cls == "Bidirectional")
    c.fail(std::string("'") + key + "' wraps another wrapper, which is not supported");
  return {cls, v["config"]};
}

// TimeDistributed's per-step row shape.
Shape child_row(const Config& c, const Shape& row) {
  if (row.size() < 2)
    c.fail("expects inputs of rank >= 3 (batch, timesteps, ...), got row shape " +
           shape_to_string(row));
  return Shape(row.begin() + 1, row.end());
}

LayerCallResult build_time_distributed(BuildCall& call) {
  const Config& c = call.config;
  const Wrapped inner = wrapped(c, "layer");
  const Shape row = call.row();
  const Shape child = child_row(c, row);
  const bool ids =
      has_layer_builder(inner.class_name) && layer_reads_ids(inner.class_name, inner.config);
  // The shape each step comes out in: the layer built once on one step, in a scratch graph.
  Graph scratch;
  const int step = scratch.add_input(child, "step");
  const auto one_step = build_layer(scratch, inner.class_name, inner.config, call.weights,
                                    {{step}, {}, {ids}}, nullptr, call.options);
  if (one_step.returns_list || one_step.outputs.nodes.size() != 1)
    c.fail("the wrapped layer returns several outputs");
  Shape want = scratch.row_shape(one_step.outputs.nodes[0]);
  want.insert(want.begin(), row[0]);
  const bool reshape =
      (inner.class_name == "Flatten" &&
       inner.config.value("data_format", json("channels_last")) != json("channels_first")) ||
      inner.class_name == "Reshape";
  if (reshape)  // a per-step reshape is a reshape of the whole row
    return one(call.add(std::make_shared<ReshapeOp>(want), {call.nodes[0]}, call.name()));
  if (inner.class_name == "Flatten")
    c.fail("Flatten with data_format='channels_first' is not supported");
  // The engine's ops treat leading row axes as more samples (Dense acts on the last axis;
  // convolution and pooling take extra leading axes), so the layer runs on the (T, ...) value.
  const auto all = build_layer(call.graph, inner.class_name, inner.config, call.weights,
                               {{call.nodes[0]}, {}, {ids}}, nullptr, call.options);
  const Shape got = call.graph.row_shape(all.outputs.nodes[0]);
  if (got != want)
    c.fail(inner.class_name +
           " does not act on each timestep of a (T, ...) value in the engine "
           "(it gave rows of shape " +
           shape_to_string(got) + ", each step needs " + shape_to_string(want) + ")");
  return one(all.outputs.nodes[0]);
}

// Bidirectional's two layers: the forward one as given ("forward_<name>"), the backward one
// as given or a copy going the other way ("backward_<name>"); masked steps output zeros when
// the sequences are returned, as Keras sets them.
std::pair<Wrapped, Wrapped> directions(const Config& c) {
  Wrapped fwd = wrapped(c, "layer");
  const Config fc(fwd.class_name, fwd.config);
  std::string base = fc.name();
  if (base.rfind("forward_", 0) == 0) base = base.substr(8);
  Wrapped bwd;
  if (c.has("backward_layer")) {
    bwd = wrapped(c, "backward_layer");
  } else {
    bwd = fwd;
    bwd.config["go_backwards"] = !fc.get_bool("go_backwards", false);
    bwd.config["name"] = "backward_" + base;
  }
  fwd.config["name"] = "forward_" + base;
  for (Wrapped* w : {&fwd, &bwd}) {
    if (w->class_name != "SimpleRNN" && w->class_name != "LSTM" && w->class_name != "GRU")
      c.fail("wraps '" + w->class_name + "'; Bidirectional takes SimpleRNN, LSTM or GRU");
    w->config["zero_output_for_mask"] =
        Config(w->class_name, w->config).get_bool("return_sequences", false);
  }
  const Config bc(bwd.class_name, bwd.config);
  if (fc.get_bool("go_backwards", false) == bc.get_bool("go_backwards", false))
    c.fail("the forward and backward layers must have different 'go_backwards'");
  for (const char* key : {"return_sequences", "return_state"})
    if (fc.get_bool(key, false) != bc.get_bool(key, false))
      c.fail(std::string("the forward and backward layers must have the same '") + key + "'");
  return {fwd, bwd};
}

WeightSpecs bidirectional_weights(const Config& c, const std::vector<Shape>& rows) {
  const auto [fwd, bwd] = directions(c);
  WeightSpecs specs = layer_weight_specs(fwd.class_name, fwd.config, rows);
  for (auto& s : layer_weight_specs(bwd.class_name, bwd.config, rows)) specs.push_back(s);
  return specs;
}

LayerCallResult build_bidirectional(BuildCall& call) {
  const Config& c = call.config;
  const auto [fwd, bwd] = directions(c);
  const std::string mode = c.has("merge_mode") ? c.get_string("merge_mode", "concat") : "none";
  if (mode != "concat" && mode != "sum" && mode != "mul" && mode != "ave" && mode != "none")
    c.fail("'merge_mode' must be one of concat, sum, mul, ave or null, got '" + mode + "'");
  const size_t nf = layer_weight_specs(fwd.class_name, fwd.config, {call.row()}).size();
  const std::vector<VariablePtr> wf(call.weights.begin(), call.weights.begin() + long(nf));
  const std::vector<VariablePtr> wb(call.weights.begin() + long(nf), call.weights.end());
  const LayerTensors in{{call.nodes[0]}, {call.mask(0)}, {}};
  LayerBuildOptions backward_options = call.options;
  if (backward_options.seed) *backward_options.seed += 0x632BE59BD9B4E019ull;  // its own stream
  const auto y = build_layer(call.graph, fwd.class_name, fwd.config, wf, in, nullptr, call.options);
  const auto y_rev =
      build_layer(call.graph, bwd.class_name, bwd.config, wb, in, nullptr, backward_options);
  int out = y.outputs.nodes[0], out_rev = y_rev.outputs.nodes[0];
  const bool sequences = Config(fwd.class_name, fwd.config).get_bool("return_sequences", false);
  if (sequences) {  // the backward layer's outputs back in time order
    const Shape shape = call.graph.row_shape(out_rev);
    const int64_t steps = shape[0], units = shape[1];
    std::vector<int64_t> index(static_cast<size_t>(steps * units));
    for (int64_t t = 0; t < steps; ++t)
      std::iota(index.begin() + t * units, index.begin() + (t + 1) * units,
                (steps - 1 - t) * units);
    out_rev = call.add(std::make_shared<GatherOp>(shape, std::move(index)), {out_rev},
                       call.name() + "/reverse");
  }
  const int mask = sequences ? call.mask(0) : -1;
  LayerCallResult r;
  if (mode == "none") {
    r.outputs.nodes = {out, out_rev};
    r.outputs.masks = {mask, mask};
  } else if (mode == "concat") {
    r.outputs.nodes = {
        call.add(std::make_shared<ConcatenateOp>(-1), {out, out_rev}, call.name() + "/concat")};
    r.outputs.masks = {mask};
  } else {
    const MergeKind kind = mode == "sum"   ? MergeKind::Add
                           : mode == "mul" ? MergeKind::Multiply
                                           : MergeKind::Average;
    r.outputs.nodes = {
        call.add(std::make_shared<MergeOp>(kind), {out, out_rev}, call.name() + "/" + mode)};
    r.outputs.masks = {mask};
  }
  for (const auto* part : {&y, &y_rev})
    for (size_t i = 1; i < part->outputs.nodes.size(); ++i) {
      r.outputs.nodes.push_back(part->outputs.nodes[i]);
      r.outputs.masks.push_back(-1);
    }
  r.returns_list = r.outputs.nodes.size() > 1;
  return r;
}

}  // namespace

void register_wrappers(Registry& r) {
  LayerBuilder td;
  td.passes_mask = true;
  td.reads_ids = [](const Config& c) {
    const Wrapped inner = wrapped(c, "layer");
    return layer_reads_ids(inner.class_name, inner.config);
  };
  td.weights = [](const Config& c, const std::vector<Shape>& rows) {
    const Wrapped inner = wrapped(c, "layer");
    return layer_weight_specs(inner.class_name, inner.config, {child_row(c, rows.at(0))});
  };
  td.build = build_time_distributed;
  r["TimeDistributed"] = td;

  LayerBuilder bi;
  bi.weights = bidirectional_weights;
  bi.build = build_bidirectional;
  r["Bidirectional"] = bi;
}

}  // namespace ember::builders
