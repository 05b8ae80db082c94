// Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum (one Merge op) and
// Concatenate, with Keras 3's masks: a merge's output mask is the or of its inputs' (none
// when an input has none); Concatenate's concatenates them along a steps axis.
#include <cmath>
#include <limits>

#include "builders/builder.h"
#include "ember/ops_embedding.h"
#include "ember/ops_math.h"
#include "ember/ops_merging.h"
#include "ember/ops_reshaping.h"

namespace ember::builders {
namespace {

// The or of the masks (their maximum), or -1 when an input has none.
int or_of_masks(BuildCall& call) {
  for (int m : call.masks)
    if (m < 0) return -1;
  return call.add(std::make_shared<MergeOp>(MergeKind::Maximum), call.masks, call.name() + "/mask");
}

LayerBuilder merge(MergeKind kind, size_t max_inputs) {
  LayerBuilder b;
  b.min_inputs = 2;
  b.max_inputs = max_inputs;
  b.build = [kind](BuildCall& call) {
    const int node = call.add(std::make_shared<MergeOp>(kind), call.nodes, call.name());
    return one(node, or_of_masks(call));
  };
  return b;
}

// Keras's normalize (ops.nn.normalize, epsilon 1e-7) along row axis `axis`.
int normalize_l2(MathOps& m, int x, int axis) {
  const int sum = m.reduce(ReduceKind::Sum, m.unary(UnaryKind::Square, x), {axis}, true);
  return m.binary(BinaryKind::Multiply, x,
                  m.binary(BinaryKind::Minimum, m.binary(BinaryKind::Power, sum, -0.5f), 1e7f));
}

// Dot: Keras's batch_dot. The contracted axes are moved to the end of x and the front of y
// (after the batch axis), further axes folded into one, one MatMul per sample, then the
// folded axes unfolded and a rank-2 operand's axis dropped.
LayerCallResult build_dot(BuildCall& call) {
  const Config& c = call.config;
  std::vector<int64_t> pair = c.get_int_list("axes");
  if (pair.size() == 1) pair.push_back(pair[0]);
  if (pair.size() != 2) c.fail("'axes' must be an int or a pair of ints");
  MathOps m(call);
  int x = call.nodes[0], y = call.nodes[1];
  const auto x_ndim = static_cast<int64_t>(call.row(0).size()) + 1;
  const auto y_ndim = static_cast<int64_t>(call.row(1).size()) + 1;
  int64_t a0 = pair[0], a1 = pair[1];
  for (auto [a, ndim] : {std::pair<int64_t*, int64_t>{&a0, x_ndim}, {&a1, y_ndim}}) {
    if (*a < -ndim || *a >= ndim)
      c.fail("axis " + std::to_string(*a) + " is out of range for an input of rank " +
             std::to_string(ndim));
    *a = (*a + ndim) % ndim;
    if (*a == 0) c.fail("cannot perform batch_dot over axis 0 (the batch axis)");
  }
  if (call.row(0)[size_t(a0 - 1)] != call.row(1)[size_t(a1 - 1)])
    c.fail("incompatible input shapes " + shape_to_string(call.row(0)) + " and " +
           shape_to_string(call.row(1)) + " along axes " + std::to_string(a0) + " and " +
           std::to_string(a1));
  if (c.get_bool("normalize", false)) {
    x = normalize_l2(m, x, static_cast<int>(a0 - 1));
    y = normalize_l2(m, y, static_cast<int>(a1 - 1));
  }
  Shape xr = call.graph.row_shape(x), yr = call.graph.row_shape(y);
  if (x_ndim == 2) {
    xr.insert(xr.begin(), 1);
    x = m.reshape(x, xr);
    ++a0;
  }
  if (y_ndim == 2) {
    yr.push_back(1);
    y = m.reshape(y, yr);
  }
  if (a0 != static_cast<int64_t>(xr.size())) {  // the contracted axis last
    std::vector<size_t> perm;
    for (size_t a = 0; a < xr.size(); ++a)
      if (static_cast<int64_t>(a) != a0 - 1) perm.push_back(a);
    perm.push_back(size_t(a0 - 1));
    x = m.transpose(x, perm);
    xr = call.graph.row_shape(x);
  }
  if (a1 != 1) {  // the contracted axis first
    std::vector<size_t> perm{size_t(a1 - 1)};
    for (size_t a = 0; a < yr.size(); ++a)
      if (static_cast<int64_t>(a) != a1 - 1) perm.push_back(a);
    y = m.transpose(y, perm);
    yr = call.graph.row_shape(y);
  }
  const Shape x_mid(xr.begin(), xr.end() - 1), y_trail(yr.begin() + 1, yr.end());
  x = m.reshape(x, {num_elements(x_mid), xr.back()});
  y = m.reshape(y, {yr.front(), num_elements(y_trail)});
  const int product =
      call.add(std::make_shared<MatMulOp>(nullptr), {x, y}, call.name() + "/matmul");
  Shape out = x_mid;
  out.insert(out.end(), y_trail.begin(), y_trail.end());
  if (x_ndim == 2)
    out.erase(out.begin());
  else if (y_ndim == 2)
    out.pop_back();
  return one(call.add(std::make_shared<ReshapeOp>(out), {product}, call.name()), -1);
}

}  // namespace

void register_merging(Registry& r) {
  LayerBuilder dot;
  dot.min_inputs = dot.max_inputs = 2;
  dot.build = build_dot;
  r["Dot"] = dot;

  constexpr size_t kAny = std::numeric_limits<size_t>::max();
  r["Add"] = merge(MergeKind::Add, kAny);
  r["Subtract"] = merge(MergeKind::Subtract, 2);
  r["Multiply"] = merge(MergeKind::Multiply, kAny);
  r["Average"] = merge(MergeKind::Average, kAny);
  r["Maximum"] = merge(MergeKind::Maximum, kAny);
  r["Minimum"] = merge(MergeKind::Minimum, kAny);

  LayerBuilder concat;
  concat.min_inputs = 2;
  concat.max_inputs = kAny;
  concat.build = [](BuildCall& call) {
    const Config& c = call.config;
    const int64_t axis = c.get_int("axis", -1);
    const auto rank = static_cast<int64_t>(call.row().size()) + 1;
    if (axis < -rank || axis >= rank)
      c.fail("axis " + std::to_string(axis) + " is out of range for inputs of rank " +
             std::to_string(rank));
    const int node =
        call.add(std::make_shared<ConcatenateOp>(static_cast<int>(axis)), call.nodes, call.name());
    bool any_mask = false;
    for (int m : call.masks) any_mask = any_mask || m >= 0;
    if (!any_mask) return one(node, -1);
    const int64_t full_axis = axis < 0 ? axis + rank : axis;
    if (full_axis == rank - 1) return one(node, or_of_masks(call));  // along the features
    // Along a steps axis the masks are concatenated; an input without one keeps every step
    // (x != NaN holds everywhere).
    std::vector<int> full;
    for (size_t i = 0; i < call.nodes.size(); ++i) {
      const int m = call.mask(i);
      full.push_back(
          m >= 0
              ? m
              : call.add(std::make_shared<MaskOp>(false, std::numeric_limits<float>::quiet_NaN()),
                         {call.nodes[i]}, call.name() + "/ones_" + std::to_string(i)));
    }
    return one(node, call.add(std::make_shared<ConcatenateOp>(static_cast<int>(full_axis)), full,
                              call.name() + "/mask"));
  };
  r["Concatenate"] = concat;
}

}  // namespace ember::builders
