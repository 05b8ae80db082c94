// A model file's contents, read whole and checked, before anything is built from them:
// the model's config, its compile config and its weights, in either of Keras's weights
// layouts. The three formats:
//
//   .keras       zip: config.json, metadata.json, model.weights.h5 (Keras 3 layout)
//   .weights.h5  Keras 3 layout: vars/ (the model's own), layers/<key>/vars/0, 1, ...
//                (a nested model or a layer's sublayers: groups under its key),
//                optimizer/vars/0, 1, ...
//   .h5          legacy: attrs model_config, training_config, keras_version;
//                model_weights/<layer name>/<weight_names...> by layer_names;
//                optimizer_weights/<weight_names...>. Keras 2 and Keras 3 write it alike
//                (Keras 2 names end in ":0"; Keras 3's start with the model's name).
//
// See python/ember/saving/{keras_zip_format,weights_h5,legacy_h5_format}.py, which read
// the same files in Python.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/saved_array.h"

namespace ember::io {

// A group of the Keras 3 weights layout.
struct WeightsGroup {
  std::string key;                     // its name in its parent ("dense_1", "layers", "cell")
  std::vector<SavedArray> vars;        // vars/0, vars/1, ..., in order
  std::vector<WeightsGroup> children;  // its other subgroups, by name
  const WeightsGroup* child(const std::string& name) const;
};

// One layer's weights in the legacy layout, in its weight_names order.
struct LegacyLayerWeights {
  std::string name;
  std::vector<std::string> weight_names;
  std::vector<SavedArray> values;
};

struct ModelFile {
  enum class Layout { kKeras3, kLegacy };
  std::string source;         // the path, for messages
  std::string keras_version;  // "" when the file does not say
  // {"class_name", "config", ...}; null in a weights-only file.
  nlohmann::json model_config;
  // .keras: its compile_config; .h5: its training_config; null when not compiled.
  nlohmann::json compile_config;
  Layout layout = Layout::kKeras3;
  WeightsGroup weights;                         // kKeras3: the file's root group
  std::vector<LegacyLayerWeights> legacy;       // kLegacy: by layer_names
  std::vector<SavedArray> legacy_optimizer;     // kLegacy: optimizer_weights
};

// The whole file at `path`, read into memory (IOError naming it when it cannot be read).
std::shared_ptr<const std::vector<char>> read_file_bytes(const std::string& path);

// A .keras or legacy .h5 model file (told apart by their first bytes).
ModelFile read_model_file(std::shared_ptr<const std::vector<char>> bytes, std::string source);
// A weights file: .weights.h5 (Keras 3 layout), or the weights of a legacy .h5 (a model
// file or a Keras 2 save_weights file).
ModelFile read_weights_file(std::shared_ptr<const std::vector<char>> bytes, std::string source);

// JSON text parsed with its nesting capped (limits.h); `what` names it in the ValueError.
nlohmann::json parse_json(const std::string& text, const std::string& what);

}  // namespace ember::io
