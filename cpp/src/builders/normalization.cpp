// Normalization layers: BatchNormalization, LayerNormalization and Normalization (one op each).
#include <algorithm>
#include <cmath>

#include "builders/builder.h"
#include "ember/ops_normalization.h"

namespace ember::builders {
namespace {

double checked_epsilon(const Config& c, double fallback) {
  const double eps = c.get_float("epsilon", fallback);
  if (!(eps > 0.0) || !std::isfinite(eps))
    c.fail("'epsilon' must be a positive, finite number, got " + std::to_string(eps));
  return eps;
}

// The row axis of Keras axis `axis` (batch axis 0, negative from the end).
size_t row_axis(const Config& c, int64_t axis, const Shape& row, const char* what) {
  const auto rank = static_cast<int64_t>(row.size()) + 1;
  if (axis < -rank || axis >= rank)
    c.fail(std::string(what) + " " + std::to_string(axis) +
           " is out of bounds for inputs of rank " + std::to_string(rank));
  const int64_t full = axis < 0 ? axis + rank : axis;
  if (full == 0)
    c.fail(std::string(what) + " " + std::to_string(axis) +
           " is the batch axis; the layer normalizes feature axes");
  return static_cast<size_t>(full - 1);
}

WeightSpecs batch_norm_weights(const Config& c, const std::vector<Shape>& rows) {
  const int64_t axis = c.get_int("axis", -1);
  const int64_t channels = rows.at(0).at(row_axis(c, axis, rows[0], "axis"));
  WeightSpecs specs;
  if (c.get_bool("scale", true)) specs.push_back({"gamma", {channels}});
  if (c.get_bool("center", true)) specs.push_back({"beta", {channels}});
  specs.push_back({"moving_mean", {channels}});
  specs.push_back({"moving_variance", {channels}});
  return specs;
}

LayerCallResult build_batch_norm(BuildCall& call) {
  const Config& c = call.config;
  if (c.get_bool("renorm", false)) c.fail("renorm=True is not supported");
  if (c.get_bool("synchronized", false))
    c.fail("synchronized=True is only supported with the TensorFlow backend");
  const double momentum = c.get_float("momentum", 0.99);
  if (!(momentum >= 0.0 && momentum <= 1.0))
    c.fail("'momentum' must be in [0, 1], got " + std::to_string(momentum));
  const double epsilon = checked_epsilon(c, 1e-3);
  size_t w = 0;
  VariablePtr gamma = c.get_bool("scale", true) ? call.weights[w++] : nullptr;
  VariablePtr beta = c.get_bool("center", true) ? call.weights[w++] : nullptr;
  VariablePtr mean = call.weights[w++], variance = call.weights[w++];
  auto trainable = call.options.trainable;
  if (!trainable)
    trainable = std::make_shared<LayerTrainable>(LayerTrainable{c.get_bool("trainable", true)});
  return one(call.add(
      std::make_shared<BatchNormalizationOp>(
          std::move(gamma), std::move(beta), std::move(mean), std::move(variance),
          static_cast<int>(c.get_int("axis", -1)), momentum, epsilon, std::move(trainable)),
      {call.nodes[0]}, call.name()));
}

// LayerNormalization's axes as Keras keeps them once built: a list sorted, an int alone.
std::vector<int64_t> layer_norm_axes(const Config& c) {
  std::vector<int64_t> axes = c.has("axis") ? c.get_int_list("axis") : std::vector<int64_t>{-1};
  if (axes.empty()) c.fail("'axis' must name at least one axis");
  std::sort(axes.begin(), axes.end());
  return axes;
}

WeightSpecs layer_norm_weights(const Config& c, const std::vector<Shape>& rows) {
  Shape shape;
  for (int64_t a : layer_norm_axes(c))
    shape.push_back(rows.at(0).at(row_axis(c, a, rows[0], "axis")));
  const bool rms = c.get_bool("rms_scaling", false);
  WeightSpecs specs;
  if (c.get_bool("scale", true) || rms) specs.push_back({"gamma", shape});
  if (c.get_bool("center", true) && !rms) specs.push_back({"beta", shape});
  return specs;
}

LayerCallResult build_layer_norm(BuildCall& call) {
  const Config& c = call.config;
  const bool rms = c.get_bool("rms_scaling", false);
  size_t w = 0;
  VariablePtr gamma = c.get_bool("scale", true) || rms ? call.weights[w++] : nullptr;
  VariablePtr beta = c.get_bool("center", true) && !rms ? call.weights[w++] : nullptr;
  std::vector<int> axes;
  for (int64_t a : layer_norm_axes(c)) {
    row_axis(c, a, call.row(), "axis");
    axes.push_back(static_cast<int>(a));
  }
  return one(call.add(
      std::make_shared<LayerNormalizationOp>(std::move(gamma), std::move(beta), std::move(axes),
                                             checked_epsilon(c, 1e-3), rms),
      {call.nodes[0]}, call.name()));
}

// Normalization's kept axes (with the batch axis as 0), sorted; the statistics' shape.
std::vector<int> kept_axes(const Config& c, const Shape& row, Shape* stats_shape) {
  const auto ndim = static_cast<int64_t>(row.size()) + 1;
  std::vector<int> keep;
  if (c.has("axis")) {
    for (int64_t a : c.get_int_list("axis")) {
      if (a < -ndim || a >= ndim)
        c.fail("all 'axis' values must be in the range [-ndim, ndim), got axis " +
               std::to_string(a) + " for inputs of rank " + std::to_string(ndim));
      keep.push_back(static_cast<int>(a < 0 ? a + ndim : a));
    }
  }
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  stats_shape->clear();
  for (int a : keep) {
    if (a == 0) c.fail("statistics per batch position (axis 0) are not supported");
    stats_shape->push_back(row[static_cast<size_t>(a - 1)]);
  }
  return keep;
}

// A nested list of numbers: its values (row-major) and shape.
void flatten_json(const Config& c, const json& v, size_t depth, Shape* shape,
                  std::vector<float>* values) {
  if (depth > 8) c.fail("'mean' / 'variance' nest too deeply");
  if (!v.is_array()) {
    if (depth < shape->size()) c.fail("'mean' / 'variance' must be a regular nested list");
    values->push_back(static_cast<float>(c.to_float(v, "'mean' / 'variance'")));
    if (depth == 0) shape->clear();
    return;
  }
  if (depth == shape->size())
    shape->push_back(static_cast<int64_t>(v.size()));
  else if ((*shape)[depth] != static_cast<int64_t>(v.size()))
    c.fail("'mean' / 'variance' must be a regular nested list");
  if (values->size() > static_cast<size_t>(kMaxElements))
    c.fail("'mean' / 'variance' is too large");
  for (const auto& e : v) flatten_json(c, e, depth + 1, shape, values);
}

// Given statistics broadcast to the kept axes (aligned from the right), as Keras does.
VariablePtr constant_statistics(const Config& c, const char* key, const Shape& stats_shape) {
  Shape shape;
  std::vector<float> values;
  flatten_json(c, c.at(key), 0, &shape, &values);
  if (shape.size() > stats_shape.size())
    c.fail(std::string("the rank of '") + key + "' must be at most the number of axes (" +
           std::to_string(stats_shape.size()) + "), got shape " + shape_to_string(shape));
  const size_t lead = stats_shape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && shape[i] != stats_shape[lead + i])
      c.fail(std::string("'") + key + "' of shape " + shape_to_string(shape) +
             " does not broadcast to the statistics' shape " + shape_to_string(stats_shape));
  const int64_t n = num_elements(stats_shape);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) {
    int64_t rest = p, src = 0, stride = 1;
    for (size_t d = stats_shape.size(); d-- > 0;) {
      const int64_t i = rest % stats_shape[d];
      rest /= stats_shape[d];
      if (d >= lead) {
        const int64_t dim = shape[d - lead];
        src += (dim == 1 ? 0 : i) * stride;
        stride *= dim;
      }
    }
    out[static_cast<size_t>(p)] = values[static_cast<size_t>(src)];
  }
  return std::make_shared<Variable>(key, Tensor(stats_shape, out.data()), false);
}

WeightSpecs normalization_weights(const Config& c, const std::vector<Shape>& rows) {
  if (c.has("mean")) return {};  // given statistics are constants, not weights
  Shape stats;
  kept_axes(c, rows.at(0), &stats);
  return {{"mean", stats}, {"variance", stats}, {"count", {}}};
}

LayerCallResult build_normalization(BuildCall& call) {
  const Config& c = call.config;
  Shape stats;
  std::vector<int> keep = kept_axes(c, call.row(), &stats);
  if (c.has("mean") != c.has("variance"))
    c.fail("both 'mean' and 'variance' must be set, or neither");
  VariablePtr mean, variance;
  if (c.has("mean")) {
    mean = constant_statistics(c, "mean", stats);
    variance = constant_statistics(c, "variance", stats);
  } else {
    mean = call.weights[0];
    variance = call.weights[1];
  }
  return one(
      call.add(std::make_shared<NormalizationOp>(std::move(mean), std::move(variance),
                                                 std::move(keep), c.get_bool("invert", false)),
               {call.nodes[0]}, call.name()));
}

// The feature axes of UnitNormalization / RMSNormalization as row axes, sorted (Keras's axis:
// an int or a list, batch axis 0).
std::vector<int> feature_row_axes(const Config& c, const Shape& row) {
  std::vector<int> axes;
  for (int64_t a : c.has("axis") ? c.get_int_list("axis") : std::vector<int64_t>{-1})
    axes.push_back(static_cast<int>(row_axis(c, a, row, "axis")));
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

// UnitNormalization: x * min(rsqrt(sum(x**2)), 1e12) (Keras's ops.normalize, epsilon 1e-12).
LayerCallResult build_unit_norm(BuildCall& call) {
  MathOps m(call);
  const int x = call.nodes[0];
  const int sum = m.reduce(ReduceKind::Sum, m.unary(UnaryKind::Square, x),
                           feature_row_axes(call.config, call.row()), true);
  const int inv_norm = m.binary(BinaryKind::Power, sum, -0.5f);
  return one(m.binary(BinaryKind::Multiply, x, m.binary(BinaryKind::Minimum, inv_norm, 1e12f)));
}

WeightSpecs rms_norm_weights(const Config& c, const std::vector<Shape>& rows) {
  std::vector<int64_t> axes = c.has("axis") ? c.get_int_list("axis") : std::vector<int64_t>{-1};
  std::sort(axes.begin(), axes.end());  // as Keras once built
  Shape shape;
  for (int64_t a : axes) shape.push_back(rows.at(0).at(row_axis(c, a, rows[0], "axis")));
  return {{"scale", shape}};
}

// RMSNormalization: x * rsqrt(mean(x**2) + epsilon) * scale (scale aligned at the last axis).
LayerCallResult build_rms_norm(BuildCall& call) {
  MathOps m(call);
  const int x = call.nodes[0];
  const int ms = m.mean_of_squares(x, feature_row_axes(call.config, call.row()));
  const int rrms = m.binary(
      BinaryKind::Power,
      m.binary(BinaryKind::Add, ms, static_cast<float>(checked_epsilon(call.config, 1e-6))), -0.5f);
  return one(
      m.binary(BinaryKind::Multiply, m.binary(BinaryKind::Multiply, x, rrms), call.weights[0]));
}

// GroupNormalization's channel axis (row axis) and groups, checked.
std::pair<size_t, int64_t> group_axis_and_groups(const Config& c, const Shape& row) {
  const size_t axis = row_axis(c, c.get_int("axis", -1), row, "axis");
  const int64_t channels = row[axis];
  int64_t groups = c.get_int("groups", 32);
  if (groups == -1) groups = channels;
  if (groups <= 0 || groups > channels || channels % groups != 0)
    c.fail("'groups' (" + std::to_string(groups) + ") must divide the number of channels (" +
           std::to_string(channels) + ")");
  return {axis, groups};
}

WeightSpecs group_norm_weights(const Config& c, const std::vector<Shape>& rows) {
  const auto [axis, groups] = group_axis_and_groups(c, rows.at(0));
  (void)groups;
  const int64_t channels = rows[0][axis];
  WeightSpecs specs;
  if (c.get_bool("scale", true)) specs.push_back({"gamma", {channels}});
  if (c.get_bool("center", true)) specs.push_back({"beta", {channels}});
  return specs;
}

// GroupNormalization: the channels split into groups, each sample's group (its channels and
// every other axis) normalized, then gamma and beta per channel. The per-channel weights
// broadcast along the last axis only, so another channel axis is moved last and back.
LayerCallResult build_group_norm(BuildCall& call) {
  const Config& c = call.config;
  MathOps m(call);
  const Shape row = call.row();
  const auto [axis, groups] = group_axis_and_groups(c, row);
  const double epsilon = checked_epsilon(c, 1e-3);
  const size_t n = row.size();
  int x = call.nodes[0];
  std::vector<size_t> to_last;
  for (size_t a = 0; a < n; ++a)
    if (a != axis) to_last.push_back(a);
  to_last.push_back(axis);
  const bool moved = axis != n - 1;
  if (moved) x = m.transpose(x, to_last);
  const Shape xrow = call.graph.row_shape(x);
  Shape grouped_row(xrow.begin(), xrow.end() - 1);
  grouped_row.push_back(groups);
  grouped_row.push_back(xrow.back() / groups);
  const int grouped = m.reshape(x, grouped_row);
  // Statistics over everything in a group: every row axis but the group axis.
  std::vector<int> reduce_axes;
  for (size_t a = 0; a < grouped_row.size(); ++a)
    if (a != grouped_row.size() - 2) reduce_axes.push_back(static_cast<int>(a));
  const int mean = m.reduce(ReduceKind::Mean, grouped, reduce_axes, true);
  const int centered = m.binary(BinaryKind::Subtract, grouped,
                                m.reduce(ReduceKind::Mean, grouped, reduce_axes, true));
  const int variance = m.mean_of_squares(centered, reduce_axes);
  const int normalized =
      m.binary(BinaryKind::Multiply, m.binary(BinaryKind::Subtract, grouped, mean),
               m.binary(BinaryKind::Power,
                        m.binary(BinaryKind::Add, variance, static_cast<float>(epsilon)), -0.5f));
  int out = m.reshape(normalized, xrow);
  size_t w = 0;
  if (c.get_bool("scale", true)) out = m.binary(BinaryKind::Multiply, out, call.weights[w++]);
  if (c.get_bool("center", true)) out = m.binary(BinaryKind::Add, out, call.weights[w++]);
  if (moved) {
    std::vector<size_t> back(n);
    for (size_t i = 0; i < n; ++i) back[to_last[i]] = i;
    out = m.transpose(out, back);
  }
  return one(out);
}

}  // namespace

void register_normalization(Registry& r) {
  LayerBuilder unit;
  unit.passes_mask = true;
  unit.build = build_unit_norm;
  r["UnitNormalization"] = unit;

  LayerBuilder rms;
  rms.passes_mask = true;
  rms.weights = rms_norm_weights;
  rms.build = build_rms_norm;
  r["RMSNormalization"] = rms;

  LayerBuilder group;
  group.passes_mask = true;
  group.weights = group_norm_weights;
  group.build = build_group_norm;
  r["GroupNormalization"] = group;

  LayerBuilder bn;
  bn.passes_mask = true;
  bn.weights = batch_norm_weights;
  bn.build = build_batch_norm;
  r["BatchNormalization"] = bn;

  LayerBuilder ln;
  ln.passes_mask = true;
  ln.weights = layer_norm_weights;
  ln.build = build_layer_norm;
  r["LayerNormalization"] = ln;

  LayerBuilder norm;
  norm.passes_mask = true;
  norm.weights = normalization_weights;
  norm.build = build_normalization;
  r["Normalization"] = norm;
}

}  // namespace ember::builders
