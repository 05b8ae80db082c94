// What the layer builders share (internal to the engine): reading a Keras config with errors
// that name the layer, the call a builder adds its ops for, and the registry of builders.
// One file per family of layers (core.cpp, reshaping.cpp, ...) registers its classes.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ember/activations.h"
#include "ember/element/arith.h"
#include "ember/layer_builder.h"

namespace ember::builders {

using nlohmann::json;
using WeightSpecs = std::vector<std::pair<std::string, Shape>>;

// Sizes a config may ask for: far beyond any real layer, small enough that nothing
// computed from them overflows or allocates absurdly.
constexpr int64_t kMaxDim = int64_t{1} << 31;
constexpr int64_t kMaxElements = int64_t{1} << 31;

// A layer's config, read key by key. Every error names the layer and the key.
class Config {
 public:
  Config(std::string class_name, const json& config);

  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  const json& raw() const { return config_; }
  std::string where() const { return class_name_ + " layer '" + name_ + "'"; }
  [[noreturn]] void fail(const std::string& message) const;

  // Present and not null.
  bool has(const char* key) const;
  const json& at(const char* key) const;  // required: throws when absent
  int64_t get_int(const char* key) const;
  int64_t get_int(const char* key, int64_t fallback) const;
  double get_float(const char* key) const;
  double get_float(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::string get_string(const char* key, const std::string& fallback) const;
  // An int (repeated n times) or a list of n ints, each in [low, kMaxDim].
  std::vector<int64_t> get_tuple(const char* key, size_t n, int64_t low = 1) const;
  std::vector<int64_t> get_tuple(const char* key, size_t n, int64_t low,
                                 const std::vector<int64_t>& fallback) const;
  // An int or a list of ints (any length).
  std::vector<int64_t> get_int_list(const char* key) const;
  // "channels_last" (the default) or "channels_first".
  bool channels_first() const;
  // A built-in activation: a Keras name, or Keras's {"class_name": "function", "config": name}.
  Activation get_activation(const char* key) const;
  // (l1, l2) of an L1 / L2 / L1L2 regularizer config (or its name); (0, 0) for null.
  std::pair<double, double> get_regularizer(const char* key) const;

  int64_t to_int(const json& value, const std::string& what) const;
  double to_float(const json& value, const std::string& what) const;

 private:
  std::string class_name_, name_;
  const json& config_;
};

// One call of a layer, as a builder sees it.
struct BuildCall {
  Graph& graph;
  const Config& config;
  const std::vector<VariablePtr>& weights;  // checked against the builder's weight specs
  std::vector<int> nodes;                   // the inputs, cast to what the layer reads
  std::vector<int> masks;                   // aligned with nodes; -1: none
  const json& call_kwargs;                  // null when none
  const LayerBuildOptions& options;

  const Shape& row(size_t i = 0) const { return graph.row_shape(nodes.at(i)); }
  const std::string& name() const { return config.name(); }
  int mask(size_t i = 0) const { return i < masks.size() ? masks[i] : -1; }
  int add(std::shared_ptr<Op> op, std::vector<int> inputs, std::string node_name) {
    return graph.add_node(std::move(op), std::move(inputs), std::move(node_name));
  }
  // The seed of a random op added next (see LayerBuildOptions::seed).
  uint64_t op_seed() const;
};

// The result of a layer with one output (its mask left to the registry's rule).
inline LayerCallResult one(int node) {
  LayerCallResult r;
  r.outputs.nodes = {node};
  return r;
}
// The same with the output's mask set (-1: none).
inline LayerCallResult one(int node, int mask) {
  LayerCallResult r;
  r.outputs.nodes = {node};
  r.outputs.masks = {mask};
  return r;
}

struct LayerBuilder {
  std::function<LayerCallResult(BuildCall&)> build;
  // The weights in Keras's order for these input row shapes; null: none.
  std::function<WeightSpecs(const Config&, const std::vector<Shape>&)> weights;
  // Keras's supports_masking: unless build sets the masks, the first input's goes on.
  bool passes_mask = false;
  // Whether input 0 is read as int32 ids (Embedding); null: floats.
  std::function<bool(const Config&)> reads_ids;
  size_t min_inputs = 1, max_inputs = 1;
};
using Registry = std::map<std::string, LayerBuilder>;

// Each family registers its classes (one file each).
void register_core(Registry& r);
void register_reshaping(Registry& r);
void register_merging(Registry& r);
void register_normalization(Registry& r);
void register_convolution(Registry& r);
void register_pooling(Registry& r);
void register_embedding(Registry& r);
void register_activations(Registry& r);
void register_recurrent(Registry& r);
void register_wrappers(Registry& r);

// Whether a layer of this class and config reads int32 ids (Embedding, or a wrapper of one).
bool layer_reads_ids(const std::string& class_name, const json& config);

// The engine's math ops for layers written as a few of them (UnitNormalization, GaussianDropout,
// ...), each node named `<layer name>/<op>_<k>`, as ember.ops would record them.
class MathOps {
 public:
  explicit MathOps(BuildCall& call) : call_(call) {}
  int binary(BinaryKind kind, int a, int b);          // two graph values, NumPy-broadcast
  int binary(BinaryKind kind, int a, float scalar);   // a (op) scalar
  int binary(BinaryKind kind, int a, VariablePtr w);  // a (op) a weight, aligned at the last axis
  int unary(UnaryKind kind, int a);
  // Over row axes (no batch axis), sorted.
  int reduce(ReduceKind kind, int a, std::vector<int> axes, bool keepdims);
  int reshape(int a, Shape row);
  int transpose(int a, const std::vector<size_t>& perm);  // row axes
  int activation(int a, const Activation& act);
  int mean_of_squares(int a, const std::vector<int>& axes);

 private:
  std::string next(const char* op);
  BuildCall& call_;
  int count_ = 0;
};

// An op that multiplies its input by an activity regularizer's penalty-free identity, when
// the config has one: `<name>/activity_regularizer`.
int add_activity_regularizer(BuildCall& call, int node);
// act(x) as its own op named `name` (none added for linear when skip_linear).
int add_activation(BuildCall& call, int node, const Activation& act, const std::string& name);
// A product of dims, checked against kMaxElements.
int64_t checked_product(const Config& config, const Shape& dims, const std::string& what);

}  // namespace ember::builders
