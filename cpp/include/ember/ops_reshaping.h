// Reshaping ops: Reshape and Flatten. Values are row-major, so both are a copy
// of each row (Flatten of channels-first data also moves the channel axis last).
#pragma once
#include "ember/graph.h"
#include "ember/strided.h"

namespace ember {

// y = x with each row reshaped to `target` (one entry may be -1: inferred). Throws ValueError
// naming both shapes when the sizes differ.
class ReshapeOp final : public Op {
 public:
  explicit ReshapeOp(Shape target) : target_(std::move(target)) {}
  OpKind kind() const override { return OpKind::Reshape; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  Shape target_;
  int64_t row_size_ = 0;
};

// Each row flattened to (row size,). channels_first (rank >= 2 rows): the row (C, rest...) is
// first transposed to (rest..., C), as Keras's Flatten(data_format="channels_first") does.
class FlattenOp final : public Op {
 public:
  explicit FlattenOp(bool channels_first) : channels_first_(channels_first) {}
  OpKind kind() const override { return OpKind::Flatten; }
  Shape build(const std::vector<Shape>& inputs) override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  bool channels_first_;
  bool transpose_ = false;
  int64_t channels_ = 1, spatial_ = 1;  // the row as (channels, spatial) when transposing
  // The transposing copy of one row as (spatial, channels) from (channels, spatial), and back.
  StridedLayout to_channels_last_, to_channels_first_;
};

}  // namespace ember
