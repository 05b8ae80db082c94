// The one mapping from a Keras layer config to engine ops (issue 12, "one source of truth").
//
// A built-in Keras layer is described by its class name, its config (exactly what Keras's
// get_config() returns and what .keras / .h5 files store) and its variables. build_layer adds
// one call of it to a Graph. The Python package builds every built-in layer through it (its
// layers pass json.dumps(layer.get_config())), and so does the C++ model loader: both get
// the same ops, the same node names (`<layer name>`, `<layer name>/...`) and the same masks.
//
// It also holds what used to be Python's emit_layer_call protocol: inputs holding int32 ids
// (an integer Input) are cast to float for layers that read floats, and float inputs are cast
// (truncating) to ids for layers that read ids (Embedding); Keras masks (a float node of the
// input's row shape without its last axis, 1 keep, 0 masked) flow through the layers that
// pass, make or read them.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/error.h"
#include "ember/graph.h"
#include "ember/ops_normalization.h"

namespace ember {

struct LayerTensors {      // the tensors of one layer call, aligned
  std::vector<int> nodes;  // graph node per tensor
  std::vector<int> masks;  // Keras mask node per tensor, -1 for none (empty = none at all)
  std::vector<bool> ids;   // per tensor: holds int32 ids (an integer Input) (empty = all float)
};

struct LayerCallResult {
  LayerTensors outputs;
  bool returns_list = false;  // the layer returns a list (several outputs, or a list of one)
};

// What only a caller that keeps the layer alive between builds has (the Python package).
struct LayerBuildOptions {
  // Shared with the ops whose behaviour follows layer.trainable after the graph is built
  // (BatchNormalization runs in inference mode while frozen). Null: the config's "trainable".
  std::shared_ptr<LayerTrainable> trainable;
  // The layer's seed for its random ops (Dropout, noise): each call's op is seeded with
  // seed + (graph size) * golden ratio, so two calls of one layer draw apart. Absent: the
  // config's "seed", or a fresh random one where that is null.
  std::optional<uint64_t> seed;
};

// Adds one call of a built-in Keras layer: `config` is the layer's Keras config exactly as
// get_config() returns it and as .keras/.h5 files store it; `weights` its variables in Keras's
// order (layer.weights); `call_kwargs` the call's keyword arguments from the file (e.g. training,
// mask, initial_state), may be null. Throws ember::Error (ValueError / TypeError) naming the
// layer for an unknown class, a bad config or weights of the wrong count/shape.
LayerCallResult build_layer(Graph& graph, const std::string& class_name,
                            const nlohmann::json& config, const std::vector<VariablePtr>& weights,
                            const LayerTensors& inputs,
                            const nlohmann::json& call_kwargs = nullptr);
// The same with the options above.
LayerCallResult build_layer(Graph& graph, const std::string& class_name,
                            const nlohmann::json& config, const std::vector<VariablePtr>& weights,
                            const LayerTensors& inputs, const nlohmann::json& call_kwargs,
                            const LayerBuildOptions& options);

bool has_layer_builder(const std::string& class_name);
// Every class name build_layer knows, sorted.
std::vector<std::string> layer_builder_names();

// The weights (name, shape) a layer of this config makes for these input row shapes (without the
// batch axis), in Keras's order: the loader checks a file's arrays against them before building.
std::vector<std::pair<std::string, Shape>> layer_weight_specs(
    const std::string& class_name, const nlohmann::json& config,
    const std::vector<Shape>& input_row_shapes);

}  // namespace ember
