#include "ember/strided.h"

#include "ember/error.h"

namespace ember {

int64_t StridedLayout::size() const {
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) n *= shape[d];
  return n;
}

StridedLayout StridedLayout::batched(int64_t rows, int64_t batch_stride_0,
                                     int64_t batch_stride_1) const {
  StridedLayout out;
  if (rows == 0) {  // an empty iteration space: one axis of length 0
    out.rank = 1;
    return out;
  }
  const bool merges = rank > 0 && batch_stride_0 == stride[0][0] * shape[0] &&
                      batch_stride_1 == stride[1][0] * shape[0];
  if (rows == 1 || merges) {
    out = *this;
    if (rows > 1) out.shape[0] *= rows;
    if (out.rank == 0) out = StridedLayout{1, {1}, {{0}, {0}}};
    return out;
  }
  out.rank = rank + 1;
  out.shape[0] = rows;
  out.stride[0][0] = batch_stride_0;
  out.stride[1][0] = batch_stride_1;
  for (int d = 0; d < rank; ++d) {
    out.shape[d + 1] = shape[d];
    out.stride[0][d + 1] = stride[0][d];
    out.stride[1][d + 1] = stride[1][d];
  }
  return out;
}

StridedLayout make_strided_layout(const Shape& shape, const std::vector<int64_t>& stride_0,
                                  const std::vector<int64_t>& stride_1, const std::string& what) {
  // Walk from the innermost axis outwards, merging an axis into the one inside it when both
  // operands step over the inner one's whole extent to reach its next element.
  std::vector<int64_t> dims, s0, s1;  // innermost first
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (shape[i] == 0) return StridedLayout{1, {0}, {{0}, {0}}};
    if (!dims.empty() && stride_0[i] == s0.back() * dims.back() &&
        stride_1[i] == s1.back() * dims.back()) {
      dims.back() *= shape[i];
      continue;
    }
    dims.push_back(shape[i]);
    s0.push_back(stride_0[i]);
    s1.push_back(stride_1[i]);
  }
  if (dims.size() > static_cast<size_t>(kMaxStridedRank - 1))
    throw ValueError(what + ": broadcasting alternates over " + std::to_string(dims.size()) +
                     " axes; at most " + std::to_string(kMaxStridedRank - 1) + " are supported");
  StridedLayout out;
  out.rank = static_cast<int>(dims.size());
  for (int d = 0; d < out.rank; ++d) {
    const auto k = dims.size() - 1 - static_cast<size_t>(d);
    out.shape[d] = dims[k];
    out.stride[0][d] = s0[k];
    out.stride[1][d] = s1[k];
  }
  return out;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> st(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) st[i - 1] = st[i] * shape[i];
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& message) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) throw ValueError(message);
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  const auto own = contiguous_strides(shape);
  const size_t lead = out.size() - shape.size();
  std::vector<int64_t> st(out.size(), 0);
  for (size_t d = 0; d < shape.size(); ++d)
    st[lead + d] = shape[d] == 1 && out[lead + d] != 1 ? 0 : own[d];
  return st;
}

}  // namespace ember
