// Shapes and strides of the elementwise engine: broadcasting is a stride of 0.
//
// A StridedLayout is an iteration space (a row-major shape, the batch axis first) and, for
// each of two operands, the step it takes along every axis, in elements: 0 on an axis the
// operand is broadcast along (a size-1 axis of its own, the batch axis of an unbatched
// Variable). The kernels that take one (backend.h) say which operand is which. Axes of length
// 1 are dropped and neighbours every operand steps through alike are merged, so a plain
// elementwise op is one axis, a bias add two, and (3, 1) * (1, 4) rows three.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember {

constexpr int kMaxStridedRank = 8;

struct StridedLayout {
  int rank = 0;
  int64_t shape[kMaxStridedRank] = {};
  int64_t stride[2][kMaxStridedRank] = {};  // [operand][axis]

  // Elements of the iteration space.
  int64_t size() const;
  // This layout of one row with the batch axis of `rows` rows in front, operand i stepping
  // batch_stride_i per row (0: every row reads the same elements); merged into the first axis
  // where the strides allow. Allocates nothing: executors call it per step.
  StridedLayout batched(int64_t rows, int64_t batch_stride_0, int64_t batch_stride_1) const;
};

// The layout of iteration space `shape` with the operands' strides (one per axis each), axes
// of length 1 dropped and mergeable neighbours merged. Throws ValueError naming `what` when
// more than kMaxStridedRank - 1 axes remain (the batch axis needs the last one).
StridedLayout make_strided_layout(const Shape& shape, const std::vector<int64_t>& stride_0,
                                  const std::vector<int64_t>& stride_1, const std::string& what);

// Row-major strides of a contiguous array of `shape`.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// NumPy's broadcast of shapes a and b (aligned at the last axis), or throws ValueError with
// `message`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& message);

// The strides with which an array of `shape` is read across `out` (shape right-aligned against
// out, as NumPy broadcasts): its own row-major strides, 0 on the axes it is broadcast along.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out);

}  // namespace ember
