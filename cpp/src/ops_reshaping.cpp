#include "ember/ops_reshaping.h"

#include <algorithm>
#include <string>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {

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
  if (transpose_) {
    // Forward walks the output row (spatial, channels), reading x's (channels, spatial);
    // backward walks dx's (channels, spatial) rows, reading dy's (spatial, channels).
    to_channels_last_ =
        make_strided_layout({spatial_, channels_}, {1, spatial_}, {channels_, 1}, "Flatten");
    to_channels_first_ =
        make_strided_layout({channels_, spatial_}, {1, channels_}, {spatial_, 1}, "Flatten");
  }
  return Shape{size};
}

void FlattenOp::forward(const OpForward& f) {
  const int64_t row = channels_ * spatial_;
  if (transpose_)
    f.ctx->be().strided_copy(*f.ctx, to_channels_last_.batched(f.rows, row, row), f.in[0], f.out,
                             false);
  else
    f.ctx->be().add_into(*f.ctx, f.in[0], f.out, f.rows * channels_ * spatial_, false);
}

void FlattenOp::backward(const OpBackward& b) {
  if (!b.din[0]) return;
  const int64_t row = channels_ * spatial_;
  if (transpose_)
    b.ctx->be().strided_copy(*b.ctx, to_channels_first_.batched(b.rows, row, row), b.dout,
                             b.din[0], b.din_accumulate[0]);
  else
    b.ctx->be().add_into(*b.ctx, b.dout, b.din[0], b.rows * channels_ * spatial_,
                         b.din_accumulate[0]);
}

}  // namespace ember
