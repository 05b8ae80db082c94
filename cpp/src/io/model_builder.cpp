#include "io/model_builder.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <regex>

#include "ember/error.h"
#include "ember/layer_builder.h"
#include "ember/model.h"
#include "io/limits.h"
#include "io/loaded_model_access.h"

namespace ember::io {

namespace {

using nlohmann::json;

constexpr size_t kMaxLayers = 100000;
constexpr int kMaxModelDepth = 16;

// A tensor of the graph being built, as a layer call sees it.
struct TensorRef {
  int node = -1;
  int mask = -1;
  bool ids = false;
};

struct ModelLayout;

// A layer of a loaded model: what build and load_weights need to find its arrays again.
struct LayerLayout {
  std::string name, class_name;
  std::string key;  // its group in the Keras 3 weights layout ("dense_1")
  bool is_input = false;
  bool built = false;                   // its variables exist (made at its first call)
  std::vector<VariablePtr> variables;   // in Keras's order
  std::shared_ptr<ModelLayout> nested;  // a model used as a layer
  std::vector<std::vector<TensorRef>> calls;  // the outputs of each call
};

struct ModelLayout {
  std::string name;
  std::vector<LayerLayout> layers;  // model.layers' order: the Keras 3 keys' order
  LayerLayout* find(const std::string& layer_name) {
    for (auto& l : layers) {
      if (l.name == layer_name) return &l;
    }
    return nullptr;
  }
};

// Where one model's layers find their arrays in a file.
struct WeightSource {
  const ModelFile* file = nullptr;
  const WeightsGroup* layers = nullptr;        // Keras 3 layout: the model's layers/ group
  const LegacyLayerWeights* nested = nullptr;  // legacy layout, a nested model: its weights
};

[[noreturn]] void bad_config(const std::string& what) {
  throw ValueError("The model config is not one ember can load: " + what + ".");
}

const json& member(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) bad_config(where + " has no '" + key + "'");
  return object[key];
}

std::string string_member(const json& object, const char* key, const std::string& where) {
  const json& v = member(object, key, where);
  if (!v.is_string()) bad_config(where + "'s '" + key + "' is not a string");
  return v.get<std::string>();
}

// Keras's to_snake_case, which names a layer's group in the Keras 3 weights layout.
std::string to_snake_case(std::string name) {
  name.erase(std::remove_if(name.begin(), name.end(),
                            [](char c) { return !(std::isalnum(static_cast<unsigned char>(c)) || c == '_'); }),
             name.end());
  name = std::regex_replace(name, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  name = std::regex_replace(name, std::regex("([a-z])([A-Z])"), "$1_$2");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return name;
}

bool is_model_class(const std::string& cls) {
  return cls == "Functional" || cls == "Model" || cls == "Sequential";
}

// Keras records the ops a layer's call runs on its mask (Masking's not_equal and any) as
// nodes of a functional graph; ember's layers carry masks themselves (see
// python/ember/saving/model_config.py _without_unused_ops).
bool is_op_node(const json& layer) {
  if (layer.contains("module") && layer["module"].is_string()) {
    return layer["module"].get<std::string>().rfind("keras.src.ops", 0) == 0;
  }
  const auto cls = layer.value("class_name", json()).is_string() ? layer["class_name"].get<std::string>() : "";
  return cls == "NotEqual" || cls == "Any";
}

// An InputLayer's (or Keras 2 first layer's) shape without the batch axis.
Shape input_row_shape(const json& config, const std::string& where) {
  const json* shape = nullptr;
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (config.contains(key) && !config[key].is_null()) shape = &config[key];
  }
  if (!shape) bad_config(where + " has no batch_shape");
  if (!shape->is_array() || shape->empty() || shape->size() > 9) {
    bad_config(where + "'s batch_shape is not a list of 1 to 9 entries");
  }
  Shape row;
  for (size_t i = 1; i < shape->size(); ++i) {
    const json& d = (*shape)[i];
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (int64_t{1} << 31)) {
      throw ValueError(where + ": ember needs every input dimension but the batch's to be a "
                       "positive size; the file says " + shape->dump());
    }
    row.push_back(d.get<int64_t>());
  }
  return row;
}

// The arrays saved for a layer, in Keras's order.
void gather(const WeightsGroup& g, std::vector<const SavedArray*>& out) {
  for (const auto& v : g.vars) out.push_back(&v);
  // Objects a layer tracks and saves under its own group (an RNN's cell, Bidirectional's
  // two layers, TimeDistributed's layer), in the order their weights join layer.weights.
  for (const char* key : {"cell", "forward_layer", "backward_layer", "layer"}) {
    if (const auto* c = g.child(key)) gather(*c, out);
  }
}

std::vector<const SavedArray*> arrays_for(const LayerLayout& layer, const WeightSource& src) {
  std::vector<const SavedArray*> out;
  if (src.file->layout == ModelFile::Layout::kKeras3) {
    if (src.layers) {
      if (const auto* g = src.layers->child(layer.key)) gather(*g, out);
    }
  } else if (src.nested) {
    // A nested model's legacy weights are one list: "outer/layer/kernel" (Keras 3),
    // "layer/kernel:0" (Keras 2). This layer's are those naming it.
    for (size_t i = 0; i < src.nested->weight_names.size(); ++i) {
      const auto& n = src.nested->weight_names[i];
      size_t begin = 0;
      bool mine = false;
      for (size_t slash; (slash = n.find('/', begin)) != std::string::npos; begin = slash + 1) {
        mine = mine || (slash - begin == layer.name.size() &&
                        n.compare(begin, slash - begin, layer.name) == 0);
      }
      if (mine) out.push_back(&src.nested->values[i]);
    }
  } else {
    for (const auto& l : src.file->legacy) {
      if (l.name == layer.name) {
        for (const auto& v : l.values) out.push_back(&v);
        break;
      }
    }
  }
  return out;
}

WeightSource nested_source(const WeightSource& src, const LayerLayout& layer) {
  WeightSource out{src.file, nullptr, src.nested};
  if (src.file->layout == ModelFile::Layout::kKeras3) {
    const WeightsGroup* g = src.layers ? src.layers->child(layer.key) : nullptr;
    out.layers = g ? g->child("layers") : nullptr;
  } else if (!src.nested) {
    for (const auto& l : src.file->legacy) {
      if (l.name == layer.name) out.nested = &l;
    }
  }
  return out;
}

WeightSource root_source(const ModelFile& file) {
  WeightSource src{&file, nullptr, nullptr};
  if (file.layout == ModelFile::Layout::kKeras3) {
    src.layers = file.weights.child("layers");
    // Keras 2.13 named the container _layer_checkpoint_dependencies.
    if (!src.layers) src.layers = file.weights.child("_layer_checkpoint_dependencies");
  }
  return src;
}

// Weights Keras keeps out of training (their layers update them in the forward pass).
bool trainable_weight(const json& config, const std::string& name) {
  if (config.is_object() && config.contains("trainable") && config["trainable"].is_boolean() &&
      !config["trainable"].get<bool>()) {
    return false;
  }
  return name != "moving_mean" && name != "moving_variance";
}

std::string what_layer(const LayerLayout& l) { return l.class_name + " layer '" + l.name + "'"; }

class Builder {
 public:
  Builder(const ModelFile& file, Graph& graph) : file_(file), graph_(graph) {}

  // Adds a model's layers to the graph: on `inputs` (a nested model), or on new graph inputs.
  std::vector<TensorRef> apply(const json& model, ModelLayout& layout, const WeightSource& src,
                               const std::vector<TensorRef>* inputs, int depth) {
    if (depth > kMaxModelDepth) bad_config("models nest more than 16 deep");
    const std::string cls = string_member(model, "class_name", "the model");
    const json& config = member(model, "config", "the " + cls + " model");
    if (config.contains("name") && config["name"].is_string()) layout.name = config["name"].get<std::string>();
    if (cls == "Sequential") return sequential(config, layout, src, inputs, depth);
    if (cls == "Functional" || cls == "Model") return functional(config, layout, src, inputs, depth);
    throw ValueError("The model's class is '" + cls + "'; ember loads Sequential and Functional "
                     "models.");
  }

  std::vector<std::string> input_names, output_names;

 private:
  TensorRef graph_input(const json& config, const std::string& name) {
    const Shape row = input_row_shape(config, "InputLayer '" + name + "'");
    TensorRef t;
    t.node = graph_.add_input(row, name);
    // An integer input (Embedding's ids) is fed as floats too, as predict() takes them: the
    // layers that read ids cast it (build_layer), exactly as they cast Python's int arrays.
    t.ids = false;
    input_names.push_back(name);
    return t;
  }

  LayerLayout new_layer(const json& layer_config, ModelLayout& layout, std::map<std::string, int>& keys) {
    LayerLayout l;
    l.class_name = string_member(layer_config, "class_name", "a layer");
    const json& config = member(layer_config, "config", "layer " + l.class_name);
    if (layer_config.contains("name") && layer_config["name"].is_string()) {
      l.name = layer_config["name"].get<std::string>();
    } else {
      l.name = string_member(config, "name", l.class_name + " layer");
    }
    if (layout.find(l.name)) bad_config("two layers are named '" + l.name + "'");
    l.is_input = l.class_name == "InputLayer";
    const std::string base = to_snake_case(l.class_name == "Model" ? "Functional" : l.class_name);
    const int n = keys[base]++;
    l.key = n ? base + "_" + std::to_string(n) : base;
    return l;
  }

  // One call of a layer (or nested model) on resolved inputs.
  std::vector<TensorRef> call(LayerLayout& layer, const json& layer_config,
                              const std::vector<TensorRef>& in, const json& kwargs,
                              const WeightSource& src, int depth) {
    const json& config = layer_config["config"];
    if (is_model_class(layer.class_name)) {
      if (layer.built) {
        bad_config("the nested model '" + layer.name + "' is called twice, which ember's C++ "
                   "loader does not support yet");
      }
      layer.nested = std::make_shared<ModelLayout>();
      const auto sub = nested_source(src, layer);
      // Its InputLayers are bound to these tensors: names are the outer model's.
      const auto saved = input_names;
      auto out = apply(layer_config, *layer.nested, sub, &in, depth + 1);
      input_names = saved;
      layer.built = true;
      return out;
    }
    if (!has_layer_builder(layer.class_name)) {
      throw ValueError("Layer '" + layer.name + "' is of class '" + layer.class_name +
                       "', which ember's C++ loader does not know (a custom layer, or one "
                       "ember does not have).");
    }
    std::vector<Shape> rows;
    LayerTensors tensors;
    for (const auto& t : in) {
      rows.push_back(graph_.row_shape(t.node));
      tensors.nodes.push_back(t.node);
      tensors.masks.push_back(t.mask);
      tensors.ids.push_back(t.ids);
    }
    if (!layer.built) make_variables(layer, config, rows, src);
    const size_t before = graph_.size();
    const LayerCallResult result =
        build_layer(graph_, layer.class_name, config, layer.variables, tensors, kwargs);
    for (size_t node = before; node < graph_.size(); ++node) {
      if (graph_.row_size(static_cast<int>(node)) > kMaxRowElements) {
        throw ValueError(what_layer(layer) + " makes rows of " +
                         std::to_string(graph_.row_size(static_cast<int>(node))) +
                         " values, more than ember's loader allows (" +
                         std::to_string(kMaxRowElements) + ")");
      }
    }
    std::vector<TensorRef> out;
    const auto& o = result.outputs;
    for (size_t i = 0; i < o.nodes.size(); ++i) {
      out.push_back({o.nodes[i], i < o.masks.size() ? o.masks[i] : -1,
                     i < o.ids.size() && o.ids[i]});
    }
    return out;
  }

  void make_variables(LayerLayout& layer, const json& config, const std::vector<Shape>& rows,
                      const WeightSource& src) {
    const auto specs = layer_weight_specs(layer.class_name, config, rows);
    const auto arrays = arrays_for(layer, src);
    if (arrays.size() != specs.size()) {
      throw ValueError(what_layer(layer) + " has " + std::to_string(specs.size()) +
                       " weight(s), but the file holds " + std::to_string(arrays.size()) +
                       " for it.");
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      if (arrays[i]->shape != specs[i].second) {
        throw ValueError(what_layer(layer) + ": weight '" + specs[i].first + "' has shape " +
                         shape_string(specs[i].second) + " in the model, but the saved weight ('" +
                         arrays[i]->path + "') has shape " + shape_string(arrays[i]->shape) + ".");
      }
      layer.variables.push_back(std::make_shared<Variable>(
          specs[i].first, Tensor(specs[i].second, arrays[i]->values.data()),
          trainable_weight(config, specs[i].first)));
    }
    layer.built = true;
  }

  std::vector<TensorRef> sequential(const json& config, ModelLayout& layout, const WeightSource& src,
                                    const std::vector<TensorRef>* inputs, int depth) {
    const json& layers = member(config, "layers", "the Sequential model");
    if (!layers.is_array()) bad_config("the Sequential model's layers are not a list");
    if (layers.size() > kMaxLayers) bad_config("the model has too many layers");
    std::map<std::string, int> keys;
    std::vector<TensorRef> current;
    if (inputs) {
      if (inputs->size() != 1) bad_config("a Sequential model takes one input");
      current = *inputs;
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& lc = layers[i];
      const std::string cls = string_member(lc, "class_name", "a layer");
      const json& c = member(lc, "config", "layer " + cls);
      if (cls == "InputLayer") {
        if (current.empty()) current = {graph_input(c, string_member(c, "name", "InputLayer"))};
        continue;  // Sequential's model.layers leaves its InputLayer out
      }
      if (current.empty()) {
        // No InputLayer: Keras 2 put batch_input_shape on the first layer; Keras 3 keeps
        // the Sequential's build_input_shape.
        json shape_holder = c;
        if (!c.contains("batch_input_shape") && !c.contains("batch_shape")) {
          if (!config.contains("build_input_shape")) {
            bad_config("the Sequential model has no input shape (no InputLayer, no "
                       "batch_input_shape, no build_input_shape): it was never built");
          }
          shape_holder = json::object({{"batch_shape", config["build_input_shape"]}});
        }
        current = {graph_input(shape_holder, "input_layer")};
      }
      layout.layers.push_back(new_layer(lc, layout, keys));
      auto out = call(layout.layers.back(), lc, current, json::object(), src, depth);
      if (out.size() != 1) bad_config("a layer of a Sequential model returns " + std::to_string(out.size()) + " tensors");
      layout.layers.back().calls.push_back(out);
      current = std::move(out);
    }
    if (current.empty()) bad_config("the Sequential model has no layers and no input");
    if (depth == 0 && !layout.layers.empty()) output_names = {layout.layers.back().name};
    return current;
  }

  // Every tensor (in order) in a layer call's args.
  void collect(const json& value, std::vector<std::array<int64_t, 2>>& refs,
               std::vector<std::string>& layer_names, int depth) {
    if (depth > kMaxJsonDepth) bad_config("a layer call's arguments nest too deeply");
    if (value.is_object() && value.value("class_name", json()) == "__keras_tensor__") {
      const json& h = member(member(value, "config", "a keras tensor"), "keras_history", "a keras tensor");
      history(h, refs, layer_names);
    } else if (value.is_array()) {
      for (const auto& v : value) collect(v, refs, layer_names, depth + 1);
    } else if (!value.is_null()) {
      bad_config("a layer call has an argument that is not a tensor (" + value.dump().substr(0, 80) + ")");
    }
  }

  static void history(const json& h, std::vector<std::array<int64_t, 2>>& refs,
                      std::vector<std::string>& layer_names) {
    if (!h.is_array() || h.size() < 3 || !h[0].is_string() || !h[1].is_number_integer() ||
        !h[2].is_number_integer() || h[1].get<int64_t>() < 0 || h[2].get<int64_t>() < 0) {
      bad_config("a tensor reference is not [layer name, node index, tensor index]: " +
                 h.dump().substr(0, 80));
    }
    layer_names.push_back(h[0].get<std::string>());
    refs.push_back({h[1].get<int64_t>(), h[2].get<int64_t>()});
  }

  static bool contains_tensor(const json& value, int depth) {
    if (depth > kMaxJsonDepth) bad_config("a layer call's arguments nest too deeply");
    if (value.is_object()) {
      if (value.value("class_name", json()) == "__keras_tensor__") return true;
      for (const auto& [k, v] : value.items()) {
        if (contains_tensor(v, depth + 1)) return true;
      }
    } else if (value.is_array()) {
      for (const auto& v : value) {
        if (contains_tensor(v, depth + 1)) return true;
      }
    }
    return false;
  }

  // The tensor a reference names; false when that call has not been replayed yet.
  static bool resolve(ModelLayout& layout, const std::string& name, std::array<int64_t, 2> ref,
                      TensorRef& out) {
    LayerLayout* l = layout.find(name);
    if (!l) bad_config("a tensor refers to a layer named '" + name + "', which the model does not have");
    if (ref[0] >= static_cast<int64_t>(l->calls.size())) return false;
    const auto& call_outputs = l->calls[static_cast<size_t>(ref[0])];
    if (ref[1] >= static_cast<int64_t>(call_outputs.size())) {
      bad_config("a tensor refers to output " + std::to_string(ref[1]) + " of layer '" + name +
                 "', which has " + std::to_string(call_outputs.size()));
    }
    out = call_outputs[static_cast<size_t>(ref[1])];
    return true;
  }

  // The input_layers / output_layers structure: a reference, or lists of them.
  void structure(const json& value, std::vector<std::array<int64_t, 2>>& refs,
                 std::vector<std::string>& names, int depth) {
    if (depth > kMaxJsonDepth) bad_config("input_layers / output_layers nest too deeply");
    if (value.is_array() && value.size() >= 3 && value[0].is_string()) {
      history(value, refs, names);
    } else if (value.is_array()) {
      for (const auto& v : value) structure(v, refs, names, depth + 1);
    } else if (value.is_object()) {
      for (const auto& [k, v] : value.items()) structure(v, refs, names, depth + 1);
    } else {
      bad_config("input_layers / output_layers hold " + value.dump().substr(0, 80));
    }
  }

  std::vector<TensorRef> functional(const json& config, ModelLayout& layout, const WeightSource& src,
                                    const std::vector<TensorRef>* inputs, int depth) {
    const json& all = member(config, "layers", "the Functional model");
    if (!all.is_array()) bad_config("the Functional model's layers are not a list");
    if (all.size() > kMaxLayers) bad_config("the model has too many layers");
    // The layer configs, less the op nodes no layer reads and the calls' mask arguments.
    std::vector<const json*> layers;
    std::vector<std::vector<std::string>> reads;  // per layer, the layers its calls read
    std::map<std::string, int> readers;
    for (const auto& lc : all) {
      layers.push_back(&lc);
      reads.emplace_back();
      if (lc.is_object() && lc.contains("inbound_nodes")) {
        names_in(lc["inbound_nodes"], reads.back(), 0);
      }
      for (const auto& n : reads.back()) ++readers[n];
    }
    std::vector<std::array<int64_t, 2>> in_refs, out_refs;
    std::vector<std::string> in_names, out_names;
    structure(member(config, "input_layers", "the Functional model"), in_refs, in_names, 0);
    structure(member(config, "output_layers", "the Functional model"), out_refs, out_names, 0);
    for (const auto& n : out_names) ++readers[n];
    for (bool dropped = true; dropped;) {  // an unused op may be what made another op used
      dropped = false;
      for (size_t i = 0; i < layers.size(); ++i) {
        if (!layers[i] || !is_op_node(*layers[i])) continue;
        const json& lc = *layers[i];
        const std::string name = lc.contains("name") && lc["name"].is_string() ? lc["name"].get<std::string>() : "";
        if (readers[name] > 0) continue;
        for (const auto& n : reads[i]) --readers[n];
        layers[i] = nullptr;
        dropped = true;
      }
    }

    std::map<std::string, int> keys;
    std::vector<std::pair<size_t, size_t>> pending;  // (layer in layout, next node)
    std::vector<const json*> configs;
    for (const json* lc : layers) {
      if (!lc) continue;
      layout.layers.push_back(new_layer(*lc, layout, keys));
      configs.push_back(lc);
    }
    if (inputs && inputs->size() != in_refs.size()) {
      bad_config("a nested model takes " + std::to_string(in_refs.size()) + " inputs, but is called on " +
                 std::to_string(inputs->size()));
    }
    // Inputs first: bound to the caller's tensors, or new graph inputs.
    for (size_t i = 0; i < in_refs.size(); ++i) {
      LayerLayout* l = layout.find(in_names[i]);
      if (!l || !l->is_input) bad_config("input_layers names '" + in_names[i] + "', which is not an InputLayer of the model");
      if (!l->calls.empty()) bad_config("input_layers names '" + in_names[i] + "' twice");
      const size_t at = static_cast<size_t>(l - layout.layers.data());
      l->calls.push_back({inputs ? (*inputs)[i] : graph_input((*configs[at])["config"], l->name)});
    }
    // Each layer's calls (its inbound nodes), replayed in dependency order; a pass that
    // replays none means a loop, or a call on a tensor that never comes.
    const json no_nodes = json::array();
    std::vector<const json*> nodes_of(layout.layers.size(), &no_nodes);
    size_t remaining = 0;
    for (size_t i = 0; i < layout.layers.size(); ++i) {
      const json& lc = *configs[i];
      if (lc.contains("inbound_nodes")) nodes_of[i] = &lc["inbound_nodes"];
      if (!nodes_of[i]->is_array()) {
        bad_config("layer '" + layout.layers[i].name + "''s inbound_nodes are not a list");
      }
      if (layout.layers[i].is_input) {
        if (layout.layers[i].calls.empty()) {
          bad_config("InputLayer '" + layout.layers[i].name + "' is not among input_layers");
        }
        continue;
      }
      remaining += nodes_of[i]->size();
      pending.emplace_back(i, 0);
    }
    while (remaining > 0) {
      bool progressed = false;
      for (auto& [i, next] : pending) {
        LayerLayout& layer = layout.layers[i];
        const json& nodes = *nodes_of[i];
        while (next < nodes.size()) {
          std::vector<TensorRef> in;
          json kwargs = json::object();
          if (!ready(layout, nodes[next], in, kwargs)) break;
          auto out = call(layer, *configs[i], in, kwargs, src, depth);
          layer.calls.push_back(std::move(out));
          ++next;
          --remaining;
          progressed = true;
        }
      }
      if (!progressed) {
        std::string stuck;
        for (const auto& [i, next] : pending) {
          if (next < nodes_of[i]->size()) stuck += (stuck.empty() ? "" : ", ") + layout.layers[i].name;
        }
        bad_config("the graph has a loop or a call on a tensor that never exists; could not "
                   "resolve the calls of " + stuck);
      }
    }
    std::vector<TensorRef> outputs;
    for (size_t i = 0; i < out_refs.size(); ++i) {
      TensorRef t;
      if (!resolve(layout, out_names[i], out_refs[i], t)) {
        bad_config("output_layers names call " + std::to_string(out_refs[i][0]) + " of '" +
                   out_names[i] + "', which is never made");
      }
      outputs.push_back(t);
      if (depth == 0) output_names.push_back(out_names[i]);
    }
    if (outputs.empty()) bad_config("the model has no outputs");
    return outputs;
  }

  void names_in(const json& value, std::vector<std::string>& names, int depth) {
    if (depth > kMaxJsonDepth) bad_config("inbound_nodes nest too deeply");
    if (value.is_object()) {
      if (value.value("class_name", json()) == "__keras_tensor__" && value.contains("config") &&
          value["config"].is_object() && value["config"].contains("keras_history") &&
          value["config"]["keras_history"].is_array() && !value["config"]["keras_history"].empty() &&
          value["config"]["keras_history"][0].is_string()) {
        names.push_back(value["config"]["keras_history"][0].get<std::string>());
        return;
      }
      for (const auto& [k, v] : value.items()) names_in(v, names, depth + 1);
    } else if (value.is_array()) {
      if (value.size() >= 3 && value[0].is_string()) names.push_back(value[0].get<std::string>());
      for (const auto& v : value) names_in(v, names, depth + 1);
    }
  }

  // A call's inputs and keyword arguments; false when an input is not made yet.
  bool ready(ModelLayout& layout, const json& node, std::vector<TensorRef>& in, json& kwargs) {
    std::vector<std::array<int64_t, 2>> refs;
    std::vector<std::string> names;
    if (node.is_array()) {  // Keras 2: [[layer name, node, tensor, kwargs], ...]
      for (const auto& entry : node) {
        if (!entry.is_array()) bad_config("a Keras 2 inbound node is not a list of references");
        history(entry, refs, names);
        if (entry.size() > 3 && entry[3].is_object() && &entry == &node[0]) kwargs = entry[3];
      }
    } else if (node.is_object()) {
      const json args = node.contains("args") ? node["args"] : json::array();
      collect(args, refs, names, 0);
      if (node.contains("kwargs") && node["kwargs"].is_object()) kwargs = node["kwargs"];
    } else {
      bad_config("an inbound node is neither Keras 3's {args, kwargs} nor Keras 2's list");
    }
    kwargs.erase("mask");  // ember's layers carry masks themselves
    if (contains_tensor(kwargs, 0)) {
      bad_config("a layer call passes a tensor as a keyword argument (initial_state, ...), "
                 "which ember's C++ loader does not support yet");
    }
    if (refs.empty()) bad_config("a layer call has no input tensors");
    for (size_t i = 0; i < refs.size(); ++i) {
      TensorRef t;
      if (!resolve(layout, names[i], refs[i], t)) return false;
      in.push_back(t);
    }
    return true;
  }

  const ModelFile& file_;
  Graph& graph_;
};

void collect_assignments(ModelLayout& layout, const WeightSource& src,
                         std::vector<std::pair<VariablePtr, const SavedArray*>>& out) {
  for (auto& layer : layout.layers) {
    if (layer.nested) {
      collect_assignments(*layer.nested, nested_source(src, layer), out);
      continue;
    }
    if (layer.variables.empty()) continue;
    const auto arrays = arrays_for(layer, src);
    if (arrays.size() != layer.variables.size()) {
      throw ValueError(what_layer(layer) + " has " + std::to_string(layer.variables.size()) +
                       " weight(s), but '" + src.file->source + "' holds " +
                       std::to_string(arrays.size()) + " for it.");
    }
    for (size_t i = 0; i < arrays.size(); ++i) {
      const auto& v = layer.variables[i];
      if (arrays[i]->shape != v->value.shape()) {
        throw ValueError(what_layer(layer) + ": weight '" + v->name + "' has shape " +
                         shape_string(v->value.shape()) + " in the model, but the saved weight ('" +
                         arrays[i]->path + "') has shape " + shape_string(arrays[i]->shape) + ".");
      }
      out.emplace_back(v, arrays[i]);
    }
  }
}

}  // namespace

LoadedModel build_loaded_model(const ModelFile& file) {
  try {
    if (!file.model_config.is_object()) bad_config("the file's model config is not an object");
    auto graph = std::make_shared<Graph>();
    auto layout = std::make_shared<ModelLayout>();
    Builder builder(file, *graph);
    const auto outputs = builder.apply(file.model_config, *layout, root_source(file), nullptr, 0);
    std::vector<int> input_nodes, output_nodes, output_masks;
    for (size_t node = 0; node < graph->size(); ++node) {
      if (graph->is_input(static_cast<int>(node))) input_nodes.push_back(static_cast<int>(node));
    }
    bool masked = false;
    for (const auto& t : outputs) {
      output_nodes.push_back(t.node);
      output_masks.push_back(t.mask);
      masked = masked || t.mask >= 0;
    }
    LoadedModel loaded;
    using A = LoadedModelAccess;
    A::model(loaded) = std::make_shared<Model>(graph, input_nodes, output_nodes,
                                               masked ? output_masks : std::vector<int>{});
    for (int n : input_nodes) A::input_shapes(loaded).push_back(graph->row_shape(n));
    for (int n : output_nodes) A::output_shapes(loaded).push_back(graph->row_shape(n));
    A::input_names(loaded) = builder.input_names;
    A::output_names(loaded) = builder.output_names;
    if (A::output_names(loaded).empty()) {  // a Sequential: its last layer's name
      for (int n : output_nodes) A::output_names(loaded).push_back(graph->name(n));
    }
    A::name(loaded) = layout->name;
    A::layout(loaded) = layout;
    return loaded;
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("The model config in '" + file.source + "' is malformed: " + e.what());
  }
}

void assign_weights(const LoadedModel& model, const ModelFile& weights) {
  auto layout = std::static_pointer_cast<ModelLayout>(
      std::const_pointer_cast<void>(LoadedModelAccess::layout(model)));
  if (!layout) throw ValueError("load_weights() on a LoadedModel that holds no model.");
  std::vector<std::pair<VariablePtr, const SavedArray*>> assignments;
  collect_assignments(*layout, root_source(weights), assignments);
  model.model().write_weights([&] {
    for (const auto& [variable, array] : assignments) {
      std::copy(array->values.begin(), array->values.end(), variable->value.data());
    }
  });
}

}  // namespace ember::io
