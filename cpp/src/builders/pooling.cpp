// Pooling layers: Max/AveragePooling1D/2D (one Pooling op), GlobalMax/AveragePooling1D/2D (a
// Reduce op over the spatial axes); a mask reaching GlobalAveragePooling1D makes it average
// the kept steps only, as Keras: sum(x * mask) / sum(mask) over the steps.
#include "builders/builder.h"
#include "ember/ops_math.h"
#include "ember/ops_pooling.h"
#include "ember/ops_reshaping.h"

namespace ember::builders {
namespace {

void check_rank(const Config& c, const Shape& row, size_t ndim) {
  if (row.size() + 1 != ndim)
    c.fail("expects inputs of rank " + std::to_string(ndim) + ", got inputs of row shape " +
           shape_to_string(row));
}

LayerBuilder pooling(bool max, size_t dims) {
  LayerBuilder b;
  b.build = [max, dims](BuildCall& call) {
    const Config& c = call.config;
    const Shape& row = call.row();
    check_rank(c, row, dims + 2);
    const std::vector<int64_t> pool = c.get_tuple("pool_size", dims, 1);
    const std::vector<int64_t> strides = c.get_tuple("strides", dims, 1, pool);
    const std::string padding = c.get_string("padding", "valid");
    if (padding != "valid" && padding != "same" && padding != "VALID" && padding != "SAME")
      c.fail("'padding' must be 'valid' or 'same', got '" + padding + "'");
    const bool same = padding == "same" || padding == "SAME";
    const bool channels_first = c.channels_first();
    for (size_t i = 0; i < dims; ++i) {
      const int64_t size = row[(channels_first ? 1 : 0) + i];
      if (!same && size < pool[i])
        c.fail("computed output size would be zero or negative: the input's spatial size " +
               std::to_string(size) + " is smaller than pool_size " + std::to_string(pool[i]));
    }
    return one(call.add(std::make_shared<PoolOp>(max, pool, strides, same, channels_first),
                        {call.nodes[0]}, call.name()));
  };
  return b;
}

// sum(x * mask) / sum(mask) over the steps (row axis `axis`); mask (T,).
int masked_mean(BuildCall& call, int x, int mask, int axis, const std::string& name) {
  Shape shape(call.graph.row_shape(x).size(), 1);
  shape[static_cast<size_t>(axis)] = call.graph.row_shape(x)[static_cast<size_t>(axis)];
  const int m = call.add(std::make_shared<ReshapeOp>(shape), {mask}, name + "/mask");
  const int kept = call.add(std::make_shared<BinaryOp>(BinaryKind::Multiply, nullptr, nullptr),
                            {x, m}, name + "/kept");
  const int total =
      call.add(std::make_shared<ReduceOp>(ReduceKind::Sum, std::vector<int>{axis}, false), {kept},
               name + "/sum");
  const int count =
      call.add(std::make_shared<ReduceOp>(ReduceKind::Sum, std::vector<int>{axis}, false), {m},
               name + "/count");
  return call.add(std::make_shared<BinaryOp>(BinaryKind::Divide, nullptr, nullptr), {total, count},
                  name);
}

LayerBuilder global_pooling(bool max, size_t dims) {
  LayerBuilder b;
  b.build = [max, dims](BuildCall& call) {
    const Config& c = call.config;
    const Shape row = call.row();
    check_rank(c, row, dims + 2);
    const bool keepdims = c.get_bool("keepdims", false);
    const int first = c.channels_first() ? 1 : 0;
    std::vector<int> axes;
    for (size_t i = 0; i < dims; ++i) axes.push_back(first + static_cast<int>(i));
    const int mask = call.mask(0);
    if (max || dims != 1 || mask < 0)
      return one(call.add(std::make_shared<ReduceOp>(max ? ReduceKind::Max : ReduceKind::Mean, axes,
                                                     keepdims),
                          {call.nodes[0]}, call.name()),
                 -1);
    if (!keepdims) return one(masked_mean(call, call.nodes[0], mask, first, call.name()), -1);
    const int mean = masked_mean(call, call.nodes[0], mask, first, call.name() + "/mean");
    Shape kept = row;
    kept[static_cast<size_t>(first)] = 1;
    return one(call.add(std::make_shared<ReshapeOp>(kept), {mean}, call.name()), -1);
  };
  return b;
}

}  // namespace

void register_pooling(Registry& r) {
  r["MaxPooling1D"] = pooling(true, 1);
  r["MaxPooling2D"] = pooling(true, 2);
  r["AveragePooling1D"] = pooling(false, 1);
  r["AveragePooling2D"] = pooling(false, 2);
  r["GlobalMaxPooling1D"] = global_pooling(true, 1);
  r["GlobalMaxPooling2D"] = global_pooling(true, 2);
  r["GlobalAveragePooling1D"] = global_pooling(false, 1);
  r["GlobalAveragePooling2D"] = global_pooling(false, 2);
}

}  // namespace ember::builders
