// Sequence ops over integer token ids (issue 11): the Embedding lookup, the casts between
// int32 ids and floats, and the masks Keras derives from a sequence (Embedding's mask_zero,
// Masking).
//
// Graph values are float32 buffers; an int32 value (an `Input(dtype="int32")`, or a CastOp's
// output with to_ids) holds int32 BIT PATTERNS in them, never a float round trip, so an id
// past 2^24 arrives exact. Only the ops here read such a value; the Python emitter inserts a
// CastOp before any other op an int value feeds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/graph.h"

namespace ember {

// out(rows, ids row..., dim) = table[ids] with ids int32 bit patterns (rows, ids row...).
// Before any lookup every id is checked against [0, input_dim): a bad one raises ValueError
// naming the layer, the id and its position in the batch (Keras-jax would return NaN for an
// id past the vocabulary and wrap -1 to the last row). Backward scatter-adds dy into the rows
// of the table the batch touched: its cost is the batch's, apart from zeroing the gradient
// when nothing accumulates into it.
class EmbeddingOp final : public Op {
 public:
  EmbeddingOp(VariablePtr table, std::string layer_name);
  OpKind kind() const override { return OpKind::Embedding; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override { return {table_}; }
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  VariablePtr table_;
  std::string layer_name_;
  Shape ids_shape_;
  int64_t ids_per_row_ = 0, vocab_ = 0, dim_ = 0;
};

// Between int32 ids and floats, elementwise. to_ids: float -> int32 bits, truncating toward
// zero as Keras's cast does (a NaN, an infinity or a value outside int32's range raises
// ValueError naming it); otherwise int32 bits -> the nearest float. Neither direction has a
// gradient (ids are not differentiable): din is zero.
class CastOp final : public Op {
 public:
  CastOp(bool to_ids, std::string layer_name);
  OpKind kind() const override { return OpKind::Cast; }
  std::string type() const override { return to_ids ? "Cast(float->int32)" : "Cast(int32->float)"; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  bool to_ids;
  std::string layer_name_;
  int64_t row_size_ = 0;
};

// A Keras mask as a float value: 1 keep, 0 masked. ids: the input holds int32 ids and
// mask = (id != 0), of the input's row shape (Embedding's mask_zero). Otherwise the input is
// float (T, ..., F) and mask(T, ...) = any over the last axis of (x != value) (Masking). No
// gradient flows through a mask.
class MaskOp final : public Op {
 public:
  MaskOp(bool ids, float value);
  OpKind kind() const override { return OpKind::Mask; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  bool ids_;
  float value_;
  int64_t groups_ = 0, group_size_ = 0;  // per row: mask entries, values each reads
};

}  // namespace ember
