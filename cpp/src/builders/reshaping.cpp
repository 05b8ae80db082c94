// Reshaping layers: Flatten, Reshape, Permute, RepeatVector (Gather: a copy through an index
// map), ZeroPadding1D/2D/3D and Cropping1D/2D/3D (one Padding op, negative amounts crop),
// UpSampling1D/2D (the UpSampling op) and UpSampling3D (a Gather repeating each voxel).
#include <algorithm>

#include "builders/builder.h"
#include "ember/ops_math.h"
#include "ember/ops_pooling.h"
#include "ember/ops_reshaping.h"

namespace ember::builders {
namespace {

void check_rank(const Config& c, const Shape& row, size_t ndim) {
  if (row.size() + 1 != ndim)
    c.fail("expects inputs of rank " + std::to_string(ndim) + ", got inputs of row shape " +
           shape_to_string(row) + " (rank " + std::to_string(row.size() + 1) + ")");
}

// Row-major strides of a shape.
std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

// A Gather whose output element at position p (of out_shape) reads input element
// source(p's multi-index): Permute, RepeatVector and UpSampling3D.
template <class Source>
int add_index_gather(BuildCall& call, const Shape& out_shape, Source source) {
  const int64_t n = checked_product(call.config, out_shape, "its output");
  std::vector<int64_t> index(static_cast<size_t>(n));
  std::vector<int64_t> at(out_shape.size(), 0);
  for (int64_t p = 0; p < n; ++p) {
    index[static_cast<size_t>(p)] = source(at);
    for (size_t d = out_shape.size(); d-- > 0;) {
      if (++at[d] < out_shape[d]) break;
      at[d] = 0;
    }
  }
  return call.add(std::make_shared<GatherOp>(out_shape, std::move(index)), {call.nodes[0]},
                  call.name());
}

// (before, after) per spatial axis from an int, `count` ints or `count` pairs.
std::vector<std::pair<int64_t, int64_t>> amount_pairs(const Config& c, const char* key,
                                                      size_t count) {
  const json& v = c.at(key);
  const std::string what = std::string("'") + key + "'";
  auto amount = [&](const json& e) {
    const int64_t a = c.to_int(e, what);
    if (a < 0 || a > kMaxDim) c.fail(what + " must hold non-negative sizes, got " + v.dump());
    return a;
  };
  std::vector<std::pair<int64_t, int64_t>> out;
  if (!v.is_array()) {
    const int64_t a = amount(v);
    out.assign(count, {a, a});
    return out;
  }
  if (count == 1) {  // the 1-D layers: (before, after)
    if (v.size() != 2) c.fail(what + " must be an int or 2 ints, got " + v.dump());
    out.push_back({amount(v[0]), amount(v[1])});
    return out;
  }
  if (v.size() != count)
    c.fail(what + " must have " + std::to_string(count) + " entries, got " + v.dump());
  for (const auto& e : v) {
    if (e.is_array()) {
      if (e.size() != 2) c.fail(what + " entries must be pairs, got " + v.dump());
      out.push_back({amount(e[0]), amount(e[1])});
    } else {
      const int64_t a = amount(e);
      out.push_back({a, a});
    }
  }
  return out;
}

LayerBuilder padding(size_t spatial, bool crop, bool has_data_format) {
  LayerBuilder b;
  b.build = [spatial, crop, has_data_format](BuildCall& call) {
    const Config& c = call.config;
    const Shape& row = call.row();
    check_rank(c, row, spatial + 2);
    const auto pairs = amount_pairs(c, crop ? "cropping" : "padding", spatial);
    const size_t offset = has_data_format && c.channels_first() ? 1 : 0;
    std::vector<int64_t> before(row.size(), 0), after(row.size(), 0);
    for (size_t i = 0; i < spatial; ++i) {
      const auto [b0, a0] = pairs[i];
      if (crop && b0 + a0 >= row[offset + i])
        c.fail("cropping " + std::to_string(b0) + " + " + std::to_string(a0) +
               " must be smaller than the spatial dimension " + std::to_string(row[offset + i]) +
               " of inputs of row shape " + shape_to_string(row));
      if (!crop && row[offset + i] + b0 + a0 > kMaxDim) c.fail("'padding' is too large");
      before[offset + i] = crop ? -b0 : b0;
      after[offset + i] = crop ? -a0 : a0;
    }
    Shape out = row;
    for (size_t i = 0; i < row.size(); ++i) out[i] += before[i] + after[i];
    checked_product(c, out, "its output");
    return one(call.add(std::make_shared<PadOp>(std::move(before), std::move(after)),
                        {call.nodes[0]}, call.name()));
  };
  return b;
}

// The spatial factors of UpSampling{n}D, checked against the input.
std::vector<int64_t> upsampling_factors(BuildCall& call, size_t spatial, Shape* out) {
  const Config& c = call.config;
  const Shape& row = call.row();
  check_rank(c, row, spatial + 2);
  const std::vector<int64_t> size = c.get_tuple("size", spatial, 1);
  const size_t offset = spatial > 1 && c.channels_first() ? 1 : 0;
  *out = row;
  for (size_t i = 0; i < spatial; ++i) {
    if (size[i] > kMaxDim / std::max<int64_t>(row[offset + i], 1)) c.fail("'size' is too large");
    (*out)[offset + i] *= size[i];
  }
  checked_product(c, *out, "its output");
  return size;
}

}  // namespace

void register_reshaping(Registry& r) {
  LayerBuilder flatten;
  flatten.build = [](BuildCall& call) {
    return one(call.add(std::make_shared<FlattenOp>(call.config.channels_first()), {call.nodes[0]},
                        call.name()));
  };
  r["Flatten"] = flatten;

  LayerBuilder reshape;
  reshape.build = [](BuildCall& call) {
    const Config& c = call.config;
    const std::vector<int64_t> target = c.get_int_list("target_shape");
    int unknown = 0;
    for (int64_t d : target) {
      if (d < -1 || d > kMaxDim)
        c.fail("'target_shape' entries must be non-negative sizes or -1, got " +
               c.at("target_shape").dump());
      unknown += d == -1;
    }
    if (unknown > 1) c.fail("'target_shape' may hold one -1 at most");
    return one(call.add(std::make_shared<ReshapeOp>(Shape(target.begin(), target.end())),
                        {call.nodes[0]}, call.name()));
  };
  r["Reshape"] = reshape;

  LayerBuilder permute;
  permute.build = [](BuildCall& call) {
    const Config& c = call.config;
    const std::vector<int64_t> dims = c.get_int_list("dims");
    const Shape row = call.row();
    std::vector<int64_t> sorted = dims;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != static_cast<int64_t>(i) + 1)
        c.fail("'dims' must be a permutation of 1.." + std::to_string(dims.size()) + ", got " +
               c.at("dims").dump());
    check_rank(c, row, dims.size() + 1);
    Shape out;
    for (int64_t d : dims) out.push_back(row[static_cast<size_t>(d - 1)]);
    const std::vector<int64_t> in_strides = strides_of(row);
    return one(add_index_gather(call, out, [&](const std::vector<int64_t>& at) {
      int64_t p = 0;
      for (size_t i = 0; i < at.size(); ++i)
        p += at[i] * in_strides[static_cast<size_t>(dims[i] - 1)];
      return p;
    }));
  };
  r["Permute"] = permute;

  LayerBuilder repeat;
  repeat.build = [](BuildCall& call) {
    const Config& c = call.config;
    const int64_t n = c.get_int("n");
    if (n <= 0 || n > kMaxDim) c.fail("'n' must be a positive integer, got " + std::to_string(n));
    const Shape row = call.row();
    check_rank(c, row, 2);
    return one(
        add_index_gather(call, {n, row[0]}, [](const std::vector<int64_t>& at) { return at[1]; }));
  };
  r["RepeatVector"] = repeat;

  r["ZeroPadding1D"] = padding(1, false, true);
  r["ZeroPadding2D"] = padding(2, false, true);
  r["ZeroPadding3D"] = padding(3, false, true);
  r["Cropping1D"] = padding(1, true, false);
  r["Cropping2D"] = padding(2, true, true);
  r["Cropping3D"] = padding(3, true, true);

  for (size_t spatial : {1, 2}) {
    LayerBuilder up;
    up.build = [spatial](BuildCall& call) {
      Shape out;
      std::vector<int64_t> size = upsampling_factors(call, spatial, &out);
      const std::string interpolation = call.config.get_string("interpolation", "nearest");
      if (interpolation != "nearest" && interpolation != "bilinear")
        call.config.fail("'interpolation' must be 'nearest' or 'bilinear', got '" + interpolation +
                         "'");
      const bool channels_first = spatial > 1 && call.config.channels_first();
      return one(call.add(std::make_shared<UpSamplingOp>(
                              std::move(size), interpolation == "bilinear", channels_first),
                          {call.nodes[0]}, call.name()));
    };
    r[spatial == 1 ? "UpSampling1D" : "UpSampling2D"] = up;
  }
  LayerBuilder up3;
  up3.build = [](BuildCall& call) {
    // The UpSampling op covers one or two spatial axes; three are a Gather whose index map
    // repeats each voxel (its gradient sums the copies back, as jax's repeat).
    Shape out;
    const std::vector<int64_t> size = upsampling_factors(call, 3, &out);
    const size_t offset = call.config.channels_first() ? 1 : 0;
    const std::vector<int64_t> in_strides = strides_of(call.row());
    return one(add_index_gather(call, out, [&](const std::vector<int64_t>& at) {
      int64_t p = 0;
      for (size_t i = 0; i < at.size(); ++i) {
        const bool spatial = i >= offset && i < offset + 3;
        p += (spatial ? at[i] / size[i - offset] : at[i]) * in_strides[i];
      }
      return p;
    }));
  };
  r["UpSampling3D"] = up3;
}

}  // namespace ember::builders
