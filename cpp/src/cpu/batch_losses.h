// Losses whose values couple rows of the batch (see ember/losses.h): Dice and Tversky
// over groups of rows, Circle over every pair of rows, CTC over a sample's time steps.
// Same contract as loss_forward_backward.
#pragma once
#include <cstdint>

#include "ember/losses.h"

namespace ember::cpu {

inline bool is_batch_loss(LossKind kind) {
  return kind == LossKind::Dice || kind == LossKind::Tversky || kind == LossKind::Circle ||
         kind == LossKind::CTC;
}

double batch_loss_forward_backward(const LossSpec& spec, const float* pred, const float* target,
                                   const float* sample_weight, int64_t rows, int64_t cols,
                                   float grad_scale, float* dpred, float* per_sample);

}  // namespace ember::cpu
