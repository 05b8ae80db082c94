#include "ember/ops_embedding.h"

#include <cmath>
#include <cstring>

#include "ember/backend.h"
#include "ember/error.h"

namespace ember {
namespace {

const Shape& single_input(const std::vector<Shape>& inputs, const char* op) {
  if (inputs.size() != 1) throw ValueError(std::string(op) + " op takes exactly one input");
  return inputs[0];
}

// "(3, 17)": where flat element `flat` of a batch of rows of shape `row` sits.
std::string batch_position(int64_t flat, const Shape& row) {
  const int64_t per_row = num_elements(row);
  std::vector<int64_t> index{per_row ? flat / per_row : 0};
  int64_t rest = per_row ? flat % per_row : 0;
  std::vector<int64_t> within(row.size());
  for (size_t a = row.size(); a-- > 0;) {
    within[a] = row[a] ? rest % row[a] : 0;
    rest = row[a] ? rest / row[a] : 0;
  }
  index.insert(index.end(), within.begin(), within.end());
  std::string s = "(";
  for (size_t i = 0; i < index.size(); ++i) s += (i ? ", " : "") + std::to_string(index[i]);
  return s + ")";
}

// Zeroes d input where a gradient buffer was given and nothing accumulates into it: ids and
// masks are not differentiable.
void no_input_gradient(const OpBackward& b, int64_t row_size) {
  if (b.din.empty() || !b.din[0] || b.din_accumulate[0]) return;
  b.ctx->be().fill(*b.ctx, b.din[0], b.rows * row_size, 0.0f);
}

}  // namespace

// ---- Embedding ------------------------------------------------------------------------------

EmbeddingOp::EmbeddingOp(VariablePtr table, std::string layer_name)
    : table_(std::move(table)), layer_name_(std::move(layer_name)) {
  if (!table_) throw ValueError("Embedding op needs a table variable");
  const Shape& t = table_->value.shape();
  if (t.size() != 2 || t[0] <= 0 || t[1] <= 0)
    throw ValueError("Embedding '" + layer_name_ +
                     "': the table must be 2-D (input_dim, output_dim), got shape " +
                     shape_to_string(t));
  vocab_ = t[0];
  dim_ = t[1];
}

Shape EmbeddingOp::build(const std::vector<Shape>& inputs) {
  ids_shape_ = single_input(inputs, "Embedding");
  ids_per_row_ = num_elements(ids_shape_);
  Shape out = ids_shape_;
  out.push_back(dim_);
  return out;
}

void EmbeddingOp::forward(const OpForward& f) {
  Backend& be = f.ctx->be();
  const auto* ids = reinterpret_cast<const int32_t*>(f.in[0]);
  const int64_t n = f.rows * ids_per_row_;
  const int64_t bad = be.first_id_out_of_range(*f.ctx, ids, n, vocab_);
  if (bad >= 0) {
    int32_t id = 0;
    be.copy_to_host(*f.ctx, &id, ids + bad, sizeof id);
    throw ValueError("Embedding '" + layer_name_ + "': token id " + std::to_string(id) +
                     " at position " + batch_position(bad, ids_shape_) +
                     " of the batch is out of range: ids must be in [0, input_dim=" +
                     std::to_string(vocab_) + ")");
  }
  be.embedding_forward(*f.ctx, table_->value.data(), ids, n, dim_, f.out);
}

void EmbeddingOp::backward(const OpBackward& b) {
  no_input_gradient(b, ids_per_row_);
  if (b.dvar.empty() || !b.dvar[0]) return;
  b.ctx->be().embedding_backward(*b.ctx, b.dout, reinterpret_cast<const int32_t*>(b.in[0]),
                                 b.rows * ids_per_row_, dim_, b.dvar[0], vocab_,
                                 b.dvar_accumulate[0]);
}

// ---- Cast -----------------------------------------------------------------------------------

CastOp::CastOp(bool to_ids_, std::string layer_name)
    : to_ids(to_ids_), layer_name_(std::move(layer_name)) {}

Shape CastOp::build(const std::vector<Shape>& inputs) {
  const Shape& row = single_input(inputs, "Cast");
  row_size_ = num_elements(row);
  return row;
}

void CastOp::forward(const OpForward& f) {
  Backend& be = f.ctx->be();
  const int64_t n = f.rows * row_size_;
  if (!to_ids) {
    be.ids_to_float(*f.ctx, reinterpret_cast<const int32_t*>(f.in[0]), n, f.out);
    return;
  }
  const int64_t bad = be.float_to_ids(*f.ctx, f.in[0], n, reinterpret_cast<int32_t*>(f.out));
  if (bad >= 0) {
    float v = 0.0f;
    be.copy_to_host(*f.ctx, &v, f.in[0] + bad, sizeof v);
    throw ValueError("'" + layer_name_ + "': the value " + std::to_string(v) + " at position " +
                     std::to_string(bad / row_size_) + " (sample), " +
                     std::to_string(bad % row_size_) + " (element) cannot be cast to an int32 id");
  }
}

void CastOp::backward(const OpBackward& b) { no_input_gradient(b, row_size_); }

// ---- Mask -----------------------------------------------------------------------------------

MaskOp::MaskOp(bool ids, float value) : ids_(ids), value_(value) {}

Shape MaskOp::build(const std::vector<Shape>& inputs) {
  const Shape& row = single_input(inputs, "Mask");
  if (ids_) {
    groups_ = num_elements(row);
    group_size_ = 1;
    return row;
  }
  if (row.empty())
    throw ValueError(
        "Mask op: a mask over the last axis needs inputs of rank >= 2, got rows of "
        "shape " +
        shape_to_string(row));
  group_size_ = row.back();
  const Shape out(row.begin(), row.end() - 1);
  groups_ = num_elements(out);
  return out;
}

void MaskOp::forward(const OpForward& f) {
  f.ctx->be().not_equal_mask(*f.ctx, f.in[0], f.rows * groups_, group_size_, value_, ids_, f.out);
}

void MaskOp::backward(const OpBackward& b) { no_input_gradient(b, groups_ * group_size_); }

}  // namespace ember
