#include "ember/ops_reshaping.h"

#include <algorithm>
#include <string>

#include "cpu/parallel.h"
#include "ember/backend.h"
#include "ember/error.h"
#include "ember/kernels.h"

namespace ember {
namespace {

// y (+)= each (channels, spatial) row of x transposed to (spatial, channels); with inverse,
// (spatial, channels) rows back to (channels, spatial).
void transpose_rows(const float* x, float* y, int64_t rows, int64_t channels, int64_t spatial,
                    bool inverse, bool accumulate) {
  const int64_t row = channels * spatial;
  cpu::parallel_for(rows, rows * row, [&](int64_t r) {
    const float* xr = x + r * row;
    float* yr = y + r * row;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t cs = c * spatial + s, sc = s * channels + c;
        const float v = xr[inverse ? sc : cs];
        float& out = yr[inverse ? cs : sc];
        out = accumulate ? out + v : v;
      }
  });
}

}  // namespace

Shape ReshapeOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Reshape takes exactly one input");
  const Shape& row = inputs[0];
  row_size_ = num_elements(row);
  Shape out = target_;
  int64_t known = 1;
  int unknown = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (unknown >= 0) throw ValueError("target_shape may contain at most one -1");
      unknown = static_cast<int>(i);
    } else if (out[i] < 0) {
      throw ValueError("target_shape dimensions must be non-negative or -1, got " +
                       shape_to_string(target_));
    } else {
      known *= out[i];
    }
  }
  if (unknown >= 0 && known > 0 && row_size_ % known == 0)
    out[static_cast<size_t>(unknown)] = row_size_ / known;
  if (unknown >= 0 ? (known == 0 || row_size_ % known != 0) : known != row_size_)
    throw ValueError("The total size of the tensor must be unchanged. Received: input_shape=" +
                     batched_shape_to_string(row) + ", target_shape=" + shape_to_string(target_));
  return out;
}

void ReshapeOp::forward(const OpForward& f) {
  f.ctx->be().add_into(*f.ctx, f.in[0], f.out, f.rows * row_size_, false);
}

void ReshapeOp::backward(const OpBackward& b) {
  if (b.din[0])
    b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], b.rows * row_size_, b.din_accumulate[0]);
}

Shape FlattenOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() != 1) throw ValueError("Flatten takes exactly one input");
  const Shape& row = inputs[0];
  const int64_t size = num_elements(row);
  transpose_ = channels_first_ && row.size() >= 2;
  channels_ = transpose_ ? row[0] : 1;
  spatial_ = transpose_ ? size / std::max<int64_t>(channels_, 1) : size;
  return Shape{size};
}

void FlattenOp::forward(const OpForward& f) {
  if (transpose_)
    transpose_rows(f.in[0], f.out, f.rows, channels_, spatial_, false, false);
  else
    f.ctx->be().add_into(*f.ctx, f.in[0], f.out, f.rows * channels_ * spatial_, false);
}

void FlattenOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  if (transpose_)
    transpose_rows(b.dout, b.din[0], b.rows, channels_, spatial_, true, b.din_accumulate[0]);
  else
    b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], b.rows * channels_ * spatial_,
                         b.din_accumulate[0]);
}

}  // namespace ember
