#include "ember/ops_merging.h"

#include <algorithm>
#include <string>
#include <utility>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

const char* merge_name(MergeKind kind) {
  switch (kind) {
    case MergeKind::Add: return "Add";
    case MergeKind::Subtract: return "Subtract";
    case MergeKind::Multiply: return "Multiply";
    case MergeKind::Average: return "Average";
    case MergeKind::Maximum: return "Maximum";
    case MergeKind::Minimum: return "Minimum";
  }
  return "?";
}

// n elements, a read at stride a_stride (1, or 0 for one scalar), b at b_stride.
StridedLayout flat(int64_t n, int64_t a_stride, int64_t b_stride) {
  StridedLayout l;
  l.rank = 1;
  l.shape[0] = n;
  l.stride[0][0] = a_stride;
  l.stride[1][0] = b_stride;
  return l;
}

}  // namespace

std::string MergeOp::type() const { return merge_name(kind_); }

BinaryKind MergeOp::step() const {
  switch (kind_) {
    case MergeKind::Add:
    case MergeKind::Average: return BinaryKind::Add;
    case MergeKind::Subtract: return BinaryKind::Subtract;
    case MergeKind::Multiply: return BinaryKind::Multiply;
    case MergeKind::Maximum: return BinaryKind::Maximum;
    case MergeKind::Minimum: return BinaryKind::Minimum;
  }
  return BinaryKind::Add;
}

bool MergeOp::keeps_values() const { return element::binary_grad_reads_values(step()); }

std::vector<size_t> MergeOp::scratch_bytes(int64_t max_rows) const {
  const auto value = static_cast<size_t>(max_rows * row_size_) * sizeof(float);
  const bool average = kind_ == MergeKind::Average;
  return {average ? sizeof(float) : 0,
          keeps_values() && inputs_ > 2 ? static_cast<size_t>(inputs_ - 2) * value : 0,
          inputs_ > 2 || average ? 2 * value : 0};
}

Shape MergeOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() < 2)
    throw ValueError(std::string("A `") + merge_name(kind_) +
                     "` layer should be called on a list of at least 2 inputs. Received: " +
                     std::to_string(inputs.size()) + " input(s)");
  if (kind_ == MergeKind::Subtract && inputs.size() != 2)
    throw ValueError("A `Subtract` layer should be called on exactly 2 inputs. Received: " +
                     std::to_string(inputs.size()) + " inputs");
  for (const Shape& s : inputs)
    if (s != inputs[0])
      throw ValueError("inputs must have the same shape; got " + shape_to_string(inputs[0]) +
                       " and " + shape_to_string(s) + " (shapes without the batch axis)");
  row_size_ = num_elements(inputs[0]);
  inputs_ = static_cast<int64_t>(inputs.size());
  return inputs[0];
}

void MergeOp::forward(const OpForward& f) {
  const int64_t n = f.rows * row_size_;
  const size_t k = f.in.size();
  Backend& be = f.ctx->be();
  float* values = f.scratch_as<float>(1);  // m_1 .. m_{k-2}, when backward reads them
  const float* acc = f.in[0];
  for (size_t j = 1; j < k; ++j) {
    float* dst = keeps_values() && j + 1 < k ? values + static_cast<int64_t>(j - 1) * n : f.out;
    be.binary_forward(*f.ctx, step(), flat(n, 1, 1), acc, f.in[j], dst);
    acc = dst;
  }
  if (kind_ == MergeKind::Average) {
    float* inv = f.scratch_as<float>(0);
    be.fill(*f.ctx, inv, 1, 1.0f / static_cast<float>(k));
    be.binary_forward(*f.ctx, BinaryKind::Multiply, flat(n, 1, 0), f.out, inv, f.out);
  }
}

void MergeOp::backward(const OpBackward& b) {
  const int64_t n = b.rows * row_size_;
  const size_t k = b.in.size();
  Backend& be = b.ctx->be();
  const float* values = b.scratch_as<float>(1);
  float* flow = b.scratch_as<float>(2);  // two values: the gradient of m_j, alternating
  // m_j, the fold's result after input j (kinds whose gradients read no values get any).
  auto m = [&](size_t j) -> const float* {
    if (j == 0) return b.in[0];
    return keeps_values() && j + 1 < k ? values + static_cast<int64_t>(j - 1) * n : b.out;
  };
  // The gradients are written in the order din[k-1], ..., din[2], din[0], din[1] (the last
  // step writes its left side first). An input listed twice gets the executor's flag at its
  // first write and adds at the later ones.
  auto position = [&](size_t j) { return j >= 2 ? k - 1 - j : (j == 0 ? k - 2 : k - 1); };
  auto accumulate = [&](size_t j) -> bool {
    size_t first = j;
    for (size_t i = 0; i < k; ++i) {
      if (i == j || b.din[i] != b.din[j]) continue;
      if (position(i) < position(j)) return true;
      first = std::min(first, i);
    }
    return b.din_accumulate[first];
  };
  const float* g = b.dout;  // d loss / d m_{k-1}
  if (kind_ == MergeKind::Average) {
    float* inv = b.scratch_as<float>(0);
    float* dsum = flow + static_cast<int64_t>((k - 1) % 2) * n;
    be.fill(*b.ctx, inv, 1, 1.0f / static_cast<float>(k));
    be.binary_backward(*b.ctx, BinaryKind::Multiply, flat(n, 1, 0), b.out, inv, b.out, b.dout,
                       dsum, false, nullptr, false);
    g = dsum;
  }
  for (size_t j = k - 1; j >= 1; --j) {
    bool left_needed = false;  // whether an input before j takes a gradient
    for (size_t i = 0; i < j; ++i) left_needed = left_needed || b.din[i] != nullptr;
    float* left = nullptr;
    if (j == 1)
      left = b.din[0];
    else if (left_needed)
      left = flow + static_cast<int64_t>((j - 1) % 2) * n;
    if (left || b.din[j])
      be.binary_backward(*b.ctx, step(), flat(n, 1, 1), m(j - 1), b.in[j], m(j), g, left,
                         j == 1 ? accumulate(0) : false, b.din[j], b.din[j] && accumulate(j));
    if (!left_needed) break;
    g = left;
  }
}

Shape ConcatenateOp::build(const std::vector<Shape>& inputs) {
  if (inputs.size() < 2)
    throw ValueError(
        "A `Concatenate` layer should be called on a list of at least 2 inputs. "
        "Received: " +
        std::to_string(inputs.size()) + " input(s)");
  const auto rank = static_cast<int>(inputs[0].size()) + 1;  // with the batch axis
  const int axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis <= 0 || axis >= rank)
    throw ValueError("Concatenate: axis " + std::to_string(axis_) +
                     " is out of range for inputs of rank " + std::to_string(rank) +
                     " (the batch axis 0 cannot be concatenated)");
  const auto a = static_cast<size_t>(axis - 1);  // index into the row shape
  Shape out = inputs[0];
  out[a] = 0;
  for (const Shape& s : inputs) {
    bool ok = s.size() == inputs[0].size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == a || s[d] == inputs[0][d];
    if (!ok)
      throw ValueError(
          "A `Concatenate` layer requires inputs with matching shapes except for "
          "the concatenation axis. Received: " +
          shape_to_string(inputs[0]) + " and " + shape_to_string(s) +
          " (shapes without the batch axis)");
    out[a] += s[a];
  }
  outer_ = 1;
  for (size_t d = 0; d < a; ++d) outer_ *= out[d];
  int64_t inner = 1;
  for (size_t d = a + 1; d < out.size(); ++d) inner *= out[d];
  block_sizes_.clear();
  offsets_.clear();
  int64_t offset = 0;
  for (const Shape& s : inputs) {
    block_sizes_.push_back(s[a] * inner);
    offsets_.push_back(offset);
    offset += s[a] * inner;
  }
  out_block_ = out[a] * inner;
  return out;
}

StridedLayout ConcatenateOp::input_layout(int64_t rows, size_t j) const {
  StridedLayout l;
  l.rank = 2;
  l.shape[0] = rows * outer_;
  l.shape[1] = block_sizes_[j];
  l.stride[0][0] = block_sizes_[j];  // the input's (rows * outer, block) values
  l.stride[0][1] = 1;
  l.stride[1][0] = out_block_;  // columns of the output's (rows * outer, out_block)
  l.stride[1][1] = 1;
  return l;
}

void ConcatenateOp::forward(const OpForward& f) {
  for (size_t j = 0; j < f.in.size(); ++j)
    f.ctx->be().strided_copy(*f.ctx, input_layout(f.rows, j), f.in[j], f.out + offsets_[j],
                             false);
}

void ConcatenateOp::backward(const OpBackward& b) {
  for (size_t j = 0; j < b.in.size(); ++j) {
    if (!b.din[j]) continue;
    // The same copy read the other way: the output's columns into the input's values.
    StridedLayout l = input_layout(b.rows, j);
    std::swap(l.stride[0][0], l.stride[1][0]);
    b.ctx->be().strided_copy(*b.ctx, l, b.dout + offsets_[j], b.din[j], b.din_accumulate[j]);
  }
}

}  // namespace ember
