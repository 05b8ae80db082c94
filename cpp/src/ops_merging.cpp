#include "ember/ops_merging.h"

#include <algorithm>
#include <cstring>

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

// Writes or adds v into d[i] per the accumulate flag.
inline void put(float* d, int64_t i, float v, bool accumulate) { d[i] = accumulate ? d[i] + v : v; }

}  // namespace

std::string MergeOp::type() const { return merge_name(kind_); }

std::vector<size_t> MergeOp::scratch_bytes(int64_t /*max_rows*/) const {
  return {2 * static_cast<size_t>(inputs_) * sizeof(float)};
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
  float* y = f.out;
  std::memcpy(y, f.in[0], static_cast<size_t>(n) * sizeof(float));
  for (size_t j = 1; j < k; ++j) {
    const float* x = f.in[j];
    switch (kind_) {
      case MergeKind::Add:
      case MergeKind::Average:
        for (int64_t i = 0; i < n; ++i) y[i] += x[i];
        break;
      case MergeKind::Subtract:
        for (int64_t i = 0; i < n; ++i) y[i] -= x[i];
        break;
      case MergeKind::Multiply:
        for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
        break;
      case MergeKind::Maximum:
        for (int64_t i = 0; i < n; ++i) y[i] = std::max(y[i], x[i]);
        break;
      case MergeKind::Minimum:
        for (int64_t i = 0; i < n; ++i) y[i] = std::min(y[i], x[i]);
        break;
    }
  }
  if (kind_ == MergeKind::Average) {
    const float inv = 1.0f / static_cast<float>(k);
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

void MergeOp::backward(const OpBackward& b) {
  const int64_t n = b.rows * row_size_;
  const size_t k = b.in.size();
  const float* g = b.dout;
  switch (kind_) {
    case MergeKind::Add:
    case MergeKind::Average: {
      const float scale = kind_ == MergeKind::Average ? 1.0f / static_cast<float>(k) : 1.0f;
      for (size_t j = 0; j < k; ++j)
        if (b.din[j])
          for (int64_t i = 0; i < n; ++i) put(b.din[j], i, g[i] * scale, b.din_accumulate[j]);
      break;
    }
    case MergeKind::Subtract:
      if (b.din[0])
        for (int64_t i = 0; i < n; ++i) put(b.din[0], i, g[i], b.din_accumulate[0]);
      if (b.din[1])
        for (int64_t i = 0; i < n; ++i) put(b.din[1], i, -g[i], b.din_accumulate[1]);
      break;
    case MergeKind::Multiply:
      // d/dx_j of the left fold = product of the other inputs (in fold order).
      for (size_t j = 0; j < k; ++j) {
        if (!b.din[j]) continue;
        for (int64_t i = 0; i < n; ++i) {
          float others = 1.0f;
          for (size_t q = 0; q < k; ++q)
            if (q != j) others *= b.in[q][i];
          put(b.din[j], i, g[i] * others, b.din_accumulate[j]);
        }
      }
      break;
    case MergeKind::Maximum:
    case MergeKind::Minimum: {
      // Walk the fold m_j = op(m_{j-1}, x_j) backwards: at each step the gradient of
      // m_j goes to the larger (smaller) side, or half to each on a tie. The shares are
      // written in input order once all are known: an input listed twice overwrites at
      // its first slot and adds at the later ones (the executor's accumulate flags).
      const bool is_max = kind_ == MergeKind::Maximum;
      float* m = b.scratch_as<float>(0);
      float* share = m + k;
      for (int64_t i = 0; i < n; ++i) {
        float upstream = g[i];
        // Recompute the running extremes m_0..m_{k-2} of this element from the left.
        m[0] = b.in[0][i];
        for (size_t j = 1; j + 1 < k; ++j)
          m[j] = is_max ? std::max(m[j - 1], b.in[j][i]) : std::min(m[j - 1], b.in[j][i]);
        for (size_t j = k - 1; j >= 1; --j) {
          const float left = m[j - 1], right = b.in[j][i];
          const bool right_wins = is_max ? right > left : right < left;
          const float to_right = right == left ? 0.5f * upstream : (right_wins ? upstream : 0.0f);
          share[j] = to_right;
          upstream -= to_right;
        }
        share[0] = upstream;
        for (size_t j = 0; j < k; ++j)
          if (b.din[j]) put(b.din[j], i, share[j], b.din_accumulate[j]);
      }
      break;
    }
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
  for (const Shape& s : inputs) block_sizes_.push_back(s[a] * inner);
  out_block_ = out[a] * inner;
  return out;
}

void ConcatenateOp::forward(const OpForward& f) {
  const int64_t blocks = f.rows * outer_;
  for (int64_t r = 0; r < blocks; ++r) {
    float* dst = f.out + r * out_block_;
    for (size_t j = 0; j < f.in.size(); ++j) {
      const int64_t len = block_sizes_[j];
      std::memcpy(dst, f.in[j] + r * len, static_cast<size_t>(len) * sizeof(float));
      dst += len;
    }
  }
}

void ConcatenateOp::backward(const OpBackward& b) {
  const int64_t blocks = b.rows * outer_;
  for (int64_t r = 0; r < blocks; ++r) {
    const float* src = b.dout + r * out_block_;
    for (size_t j = 0; j < b.in.size(); ++j) {
      const int64_t len = block_sizes_[j];
      if (b.din[j]) {
        float* dst = b.din[j] + r * len;
        for (int64_t i = 0; i < len; ++i) put(dst, i, src[i], b.din_accumulate[j]);
      }
      src += len;
    }
  }
}

}  // namespace ember
