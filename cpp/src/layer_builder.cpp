// build_layer: the registry of layer builders (cpp/src/builders/*.cpp), the checks every call
// gets (class, inputs, weights), and the int32-id casts and masks around each builder.
#include "ember/layer_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "builders/builder.h"
#include "ember/ops.h"
#include "ember/ops_embedding.h"
#include "ember/ops_math.h"
#include "ember/ops_regularization.h"
#include "ember/ops_reshaping.h"

namespace ember {
namespace builders {
namespace {

std::string dump(const json& value) {
  std::string s = value.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

const Registry& registry() {
  // Built once, then only read: no mutable global state.
  static const Registry r = [] {
    Registry out;
    register_core(out);
    register_reshaping(out);
    register_merging(out);
    register_normalization(out);
    register_convolution(out);
    register_pooling(out);
    register_embedding(out);
    register_activations(out);
    register_recurrent(out);
    register_wrappers(out);
    return out;
  }();
  return r;
}

const LayerBuilder& find_builder(const std::string& class_name, const json& config) {
  const auto& r = registry();
  const auto it = r.find(class_name);
  if (it == r.end()) {
    std::string name;
    if (config.is_object() && config.contains("name") && config["name"].is_string())
      name = " '" + config["name"].get<std::string>() + "'";
    throw ValueError("Layer" + name + ": unknown layer class '" + class_name +
                     "' (ember builds the built-in Keras layers; a custom layer needs its "
                     "Python class)");
  }
  return it->second;
}

std::string shapes_to_string(const WeightSpecs& specs) {
  std::string s;
  for (const auto& [name, shape] : specs) {
    if (!s.empty()) s += ", ";
    s += name + " " + shape_to_string(shape);
  }
  return s.empty() ? "none" : s;
}

}  // namespace

Config::Config(std::string class_name, const json& config)
    : class_name_(std::move(class_name)), config_(config) {
  if (!config_.is_object())
    throw ValueError(class_name_ + " layer: its config must be a JSON object, got " +
                     dump(config_));
  const auto it = config_.find("name");
  if (it == config_.end() || !it->is_string() || it->get<std::string>().empty())
    throw ValueError(class_name_ + " layer: its config needs a non-empty string 'name'");
  name_ = it->get<std::string>();
  if (name_.find('/') != std::string::npos)
    throw ValueError(where() + ": a layer name cannot contain '/'");
}

void Config::fail(const std::string& message) const { throw ValueError(where() + ": " + message); }

bool Config::has(const char* key) const {
  const auto it = config_.find(key);
  return it != config_.end() && !it->is_null();
}

const json& Config::at(const char* key) const {
  const auto it = config_.find(key);
  if (it == config_.end() || it->is_null()) fail(std::string("its config lacks '") + key + "'");
  return *it;
}

int64_t Config::to_int(const json& value, const std::string& what) const {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(what + " is out of range: " + dump(value));
    return value.get<int64_t>();
  }
  // Keras 2 files sometimes store whole numbers as floats (2.0).
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  throw TypeError(where() + ": " + what + " must be an integer, got " + dump(value));
}

double Config::to_float(const json& value, const std::string& what) const {
  if (value.is_number()) return value.get<double>();
  throw TypeError(where() + ": " + what + " must be a number, got " + dump(value));
}

int64_t Config::get_int(const char* key) const {
  return to_int(at(key), std::string("'") + key + "'");
}
int64_t Config::get_int(const char* key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}
double Config::get_float(const char* key) const {
  return to_float(at(key), std::string("'") + key + "'");
}
double Config::get_float(const char* key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}
bool Config::get_bool(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = at(key);
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1))
    return v.get<int64_t>() == 1;
  throw TypeError(where() + ": '" + key + "' must be a boolean, got " + dump(v));
}
std::string Config::get_string(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = at(key);
  if (!v.is_string()) throw TypeError(where() + ": '" + key + "' must be a string, got " + dump(v));
  return v.get<std::string>();
}

std::vector<int64_t> Config::get_tuple(const char* key, size_t n, int64_t low) const {
  const json& v = at(key);
  const std::string what = std::string("'") + key + "'";
  std::vector<int64_t> out;
  if (v.is_array()) {
    if (v.size() != n) fail(what + " must have " + std::to_string(n) + " entries, got " + dump(v));
    for (const auto& e : v) out.push_back(to_int(e, what));
  } else {
    out.assign(n, to_int(v, what));
  }
  for (int64_t d : out)
    if (d < low || d > kMaxDim)
      fail(what + " must hold integers in [" + std::to_string(low) + ", 2**31], got " + dump(v));
  return out;
}

std::vector<int64_t> Config::get_tuple(const char* key, size_t n, int64_t low,
                                       const std::vector<int64_t>& fallback) const {
  return has(key) ? get_tuple(key, n, low) : fallback;
}

std::vector<int64_t> Config::get_int_list(const char* key) const {
  const json& v = at(key);
  const std::string what = std::string("'") + key + "'";
  std::vector<int64_t> out;
  if (v.is_array()) {
    if (v.size() > 64) fail(what + " has " + std::to_string(v.size()) + " entries");
    for (const auto& e : v) out.push_back(to_int(e, what));
  } else {
    out.push_back(to_int(v, what));
  }
  return out;
}

bool Config::channels_first() const {
  const std::string f = get_string("data_format", "channels_last");
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  fail("'data_format' must be 'channels_last' or 'channels_first', got '" + f + "'");
}

Activation Config::get_activation(const char* key) const {
  if (!has(key)) return Activation();
  const json& v = at(key);
  std::string name;
  if (v.is_string()) {
    name = v.get<std::string>();
  } else if (v.is_object() && v.value("class_name", json()).is_string() &&
             v["class_name"] == "function" && v.value("config", json()).is_string()) {
    name = v["config"].get<std::string>();
  } else {
    fail(std::string("'") + key + "' is not a built-in activation: " + dump(v));
  }
  try {
    return activation_from_name(name);
  } catch (const ValueError& e) {
    fail(std::string("'") + key + "': " + e.what());
  }
}

std::pair<double, double> Config::get_regularizer(const char* key) const {
  if (!has(key)) return {0.0, 0.0};
  const json& v = at(key);
  std::string cls;
  json inner = json::object();
  if (v.is_string()) {
    cls = v.get<std::string>();
  } else if (v.is_object() && v.value("class_name", json()).is_string()) {
    cls = v["class_name"].get<std::string>();
    if (v.contains("config") && v["config"].is_object()) inner = v["config"];
  } else {
    fail(std::string("'") + key + "' is not a regularizer config: " + dump(v));
  }
  auto factor = [&](const char* k, double fallback) {
    if (!inner.contains(k) || inner[k].is_null()) return fallback;
    const double f = to_float(inner[k], std::string("'") + key + "." + k + "'");
    if (!std::isfinite(f) || f < 0) fail(std::string("'") + key + "." + k + "' must be >= 0");
    return f;
  };
  if (cls == "L1" || cls == "l1") return {factor("l1", 0.01), 0.0};
  if (cls == "L2" || cls == "l2") return {0.0, factor("l2", 0.01)};
  if (cls == "L1L2" || cls == "l1l2") return {factor("l1", 0.0), factor("l2", 0.0)};
  if (cls == "l1_l2") return {0.01, 0.01};
  fail(std::string("'") + key + "': regularizer '" + cls +
       "' is not supported (ember's engine runs L1, L2 and L1L2)");
}

uint64_t BuildCall::op_seed() const {
  uint64_t base;
  if (options.seed) {
    base = *options.seed;
  } else if (config.has("seed")) {
    const json& s = config.at("seed");
    if (s.is_number_unsigned())
      base = s.get<uint64_t>();
    else
      base = static_cast<uint64_t>(config.to_int(s, "'seed'"));
  } else {
    base = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;  // spreads one layer's calls apart
  return base + static_cast<uint64_t>(graph.size()) * kGolden;
}

int add_activity_regularizer(BuildCall& call, int node) {
  const auto [l1, l2] = call.config.get_regularizer("activity_regularizer");
  if (!call.config.has("activity_regularizer")) return node;
  return call.add(std::make_shared<ActivityRegularizationOp>(l1, l2), {node},
                  call.name() + "/activity_regularizer");
}

std::string MathOps::next(const char* op) {
  return call_.name() + "/" + op + "_" + std::to_string(++count_);
}
int MathOps::binary(BinaryKind kind, int a, int b) {
  return call_.add(std::make_shared<BinaryOp>(kind, nullptr, nullptr), {a, b},
                   next(binary_kind_name(kind)));
}
int MathOps::binary(BinaryKind kind, int a, float scalar) {
  auto constant = std::make_shared<Variable>("constant", Tensor(Shape{}, &scalar), false);
  return call_.add(std::make_shared<BinaryOp>(kind, nullptr, std::move(constant)), {a},
                   next(binary_kind_name(kind)));
}
int MathOps::binary(BinaryKind kind, int a, VariablePtr w) {
  return call_.add(std::make_shared<BinaryOp>(kind, nullptr, std::move(w)), {a},
                   next(binary_kind_name(kind)));
}
int MathOps::unary(UnaryKind kind, int a) {
  return call_.add(std::make_shared<UnaryOp>(kind), {a}, next("unary"));
}
int MathOps::reduce(ReduceKind kind, int a, std::vector<int> axes, bool keepdims) {
  return call_.add(std::make_shared<ReduceOp>(kind, std::move(axes), keepdims), {a},
                   next("reduce"));
}
int MathOps::reshape(int a, Shape row) {
  return call_.add(std::make_shared<ReshapeOp>(std::move(row)), {a}, next("reshape"));
}
int MathOps::transpose(int a, const std::vector<size_t>& perm) {
  const Shape& row = call_.graph.row_shape(a);
  Shape out;
  std::vector<int64_t> strides(row.size(), 1);
  for (size_t i = row.size(); i-- > 1;) strides[i - 1] = strides[i] * row[i];
  for (size_t p : perm) out.push_back(row[p]);
  const int64_t n = num_elements(out);
  std::vector<int64_t> index(static_cast<size_t>(n));
  std::vector<int64_t> at(out.size(), 0);
  for (int64_t q = 0; q < n; ++q) {
    int64_t src = 0;
    for (size_t i = 0; i < at.size(); ++i) src += at[i] * strides[perm[i]];
    index[static_cast<size_t>(q)] = src;
    for (size_t d = out.size(); d-- > 0;) {
      if (++at[d] < out[d]) break;
      at[d] = 0;
    }
  }
  return call_.add(std::make_shared<GatherOp>(out, std::move(index)), {a}, next("transpose"));
}
int MathOps::activation(int a, const Activation& act) {
  return call_.add(std::make_shared<ActivationOp>(act), {a}, next(activation_name(act)));
}
int MathOps::mean_of_squares(int a, const std::vector<int>& axes) {
  return reduce(ReduceKind::Mean, unary(UnaryKind::Square, a), axes, true);
}

bool layer_reads_ids(const std::string& class_name, const json& config) {
  const auto& builder = find_builder(class_name, config);
  return builder.reads_ids && builder.reads_ids(Config(class_name, config));
}

int64_t checked_product(const Config& config, const Shape& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) config.fail(what + " has a negative size in " + shape_to_string(dims));
    if (d != 0 && n > kMaxElements / d)
      config.fail(what + " of shape " + shape_to_string(dims) + " is too large");
    n *= d;
  }
  return n;
}

}  // namespace builders

using builders::BuildCall;
using builders::Config;
using builders::WeightSpecs;

bool has_layer_builder(const std::string& class_name) {
  return builders::registry().count(class_name) != 0;
}

std::vector<std::string> layer_builder_names() {
  std::vector<std::string> names;
  for (const auto& entry : builders::registry()) names.push_back(entry.first);
  return names;
}

std::vector<std::pair<std::string, Shape>> layer_weight_specs(
    const std::string& class_name, const nlohmann::json& config,
    const std::vector<Shape>& input_row_shapes) {
  const auto& builder = builders::find_builder(class_name, config);
  const Config cfg(class_name, config);
  if (!builder.weights) return {};
  WeightSpecs specs = builder.weights(cfg, input_row_shapes);
  for (const auto& spec : specs)
    builders::checked_product(cfg, spec.second, "weight " + spec.first);
  return specs;
}

LayerCallResult build_layer(Graph& graph, const std::string& class_name,
                            const nlohmann::json& config, const std::vector<VariablePtr>& weights,
                            const LayerTensors& inputs, const nlohmann::json& call_kwargs) {
  return build_layer(graph, class_name, config, weights, inputs, call_kwargs, LayerBuildOptions{});
}

LayerCallResult build_layer(Graph& graph, const std::string& class_name,
                            const nlohmann::json& config, const std::vector<VariablePtr>& weights,
                            const LayerTensors& inputs, const nlohmann::json& call_kwargs,
                            const LayerBuildOptions& options) {
  const auto& builder = builders::find_builder(class_name, config);
  const Config cfg(class_name, config);
  const size_t n = inputs.nodes.size();
  if (n < builder.min_inputs || n > builder.max_inputs) {
    const std::string expected =
        builder.min_inputs == builder.max_inputs
            ? std::to_string(builder.min_inputs)
            : (builder.max_inputs > 1000 ? "at least " + std::to_string(builder.min_inputs)
                                         : std::to_string(builder.min_inputs) + " to " +
                                               std::to_string(builder.max_inputs));
    cfg.fail("expects " + expected + " input(s), got " + std::to_string(n));
  }
  if ((!inputs.masks.empty() && inputs.masks.size() != n) ||
      (!inputs.ids.empty() && inputs.ids.size() != n))
    cfg.fail("the inputs' masks and ids must align with its " + std::to_string(n) + " nodes");
  for (int node : inputs.nodes)
    if (node < 0 || static_cast<size_t>(node) >= graph.size())
      cfg.fail("input node " + std::to_string(node) + " is not in the graph");

  // A call's keyword arguments: the masks arrive in `inputs`; initial states are not supported
  // (the states start at zero), which must not pass unnoticed.
  if (call_kwargs.is_object() && call_kwargs.contains("initial_state") &&
      !call_kwargs["initial_state"].is_null())
    cfg.fail("initial_state is not supported (the states start at zero)");
  std::vector<Shape> rows;
  for (int node : inputs.nodes) rows.push_back(graph.row_shape(node));
  const WeightSpecs specs = builder.weights ? builder.weights(cfg, rows) : WeightSpecs{};
  bool weights_match = specs.size() == weights.size();
  for (size_t i = 0; weights_match && i < specs.size(); ++i)
    weights_match = weights[i] && weights[i]->value.shape() == specs[i].second;
  if (!weights_match) {
    WeightSpecs got;
    for (const auto& w : weights)
      got.emplace_back(w ? w->name : "null", w ? w->value.shape() : Shape{});
    cfg.fail("expects " + std::to_string(specs.size()) + " weight(s) (" +
             builders::shapes_to_string(specs) + ") for inputs of row shape(s) " +
             [&] {
               std::string s;
               for (const auto& r : rows) s += (s.empty() ? "" : ", ") + shape_to_string(r);
               return s;
             }() +
             ", got " + std::to_string(weights.size()) + " (" + builders::shapes_to_string(got) +
             ")");
  }

  // Int32 ids in, floats read (or the reverse): a cast first, as Keras casts its inputs.
  BuildCall call{graph, cfg, weights, {}, {}, call_kwargs, options};
  const bool reads_ids = builder.reads_ids && builder.reads_ids(cfg);
  for (size_t i = 0; i < n; ++i) {
    const bool have_ids = !inputs.ids.empty() && inputs.ids[i];
    const bool want_ids = reads_ids && i == 0;
    int node = inputs.nodes[i];
    if (have_ids != want_ids) {
      const std::string cast_name = cfg.name() + (want_ids ? "/cast_to_int32" : "/cast_to_float");
      node = graph.add_node(std::make_shared<CastOp>(want_ids, cast_name), {node}, cast_name);
    }
    call.nodes.push_back(node);
    call.masks.push_back(inputs.masks.empty() ? -1 : inputs.masks[i]);
  }

  LayerCallResult result = builder.build(call);
  auto& out = result.outputs;
  if (out.masks.empty()) {
    out.masks.assign(out.nodes.size(), -1);
    if (builder.passes_mask && !out.masks.empty()) out.masks[0] = call.mask(0);
  }
  out.masks.resize(out.nodes.size(), -1);
  out.ids.assign(out.nodes.size(), false);
  for (int node : out.nodes) builders::checked_product(cfg, graph.row_shape(node), "its output");
  return result;
}

}  // namespace ember
