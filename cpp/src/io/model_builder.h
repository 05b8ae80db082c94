// From a model file's contents to an engine model: the Sequential or Functional topology
// of its config (Keras 3's inbound_nodes with keras_history, Keras 2's nested lists; nested
// models; several inputs and outputs), each layer call added through build_layer (the one
// mapping from a Keras config to engine ops, ember/layer_builder.h), each layer's variables
// made from the file's arrays after they are checked against layer_weight_specs.
#pragma once
#include "ember/load_model.h"
#include "io/model_file.h"

namespace ember::io {

LoadedModel build_loaded_model(const ModelFile& file);

// Copies a weights file's arrays into a loaded model's variables: all of them, or none
// when any is missing or of the wrong shape (ValueError naming the layer and both shapes).
void assign_weights(const LoadedModel& model, const ModelFile& weights);

}  // namespace ember::io
