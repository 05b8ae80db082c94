// Sequence layers that make masks: Embedding (reads int32 ids; mask_zero masks id 0) and
// Masking (masks the steps whose features all equal mask_value, and zeroes them).
#include <cmath>

#include "builders/builder.h"
#include "ember/ops_embedding.h"
#include "ember/ops_math.h"
#include "ember/ops_reshaping.h"

namespace ember::builders {

void register_embedding(Registry& r) {
  LayerBuilder embedding;
  embedding.reads_ids = [](const Config&) { return true; };
  embedding.weights = [](const Config& c, const std::vector<Shape>&) {
    const int64_t input_dim = c.get_int("input_dim"), output_dim = c.get_int("output_dim");
    if (input_dim <= 0 || input_dim >= kMaxDim)
      c.fail("'input_dim' must be a positive integer below 2**31, got " +
             std::to_string(input_dim));
    if (output_dim <= 0 || output_dim > kMaxDim)
      c.fail("'output_dim' must be a positive integer, got " + std::to_string(output_dim));
    return WeightSpecs{{"embeddings", {input_dim, output_dim}}};
  };
  embedding.build = [](BuildCall& call) {
    int node = call.add(std::make_shared<EmbeddingOp>(call.weights[0], call.name()),
                        {call.nodes[0]}, call.name());
    node = add_activity_regularizer(call, node);
    if (!call.config.get_bool("mask_zero", false)) return one(node, -1);
    return one(node, call.add(std::make_shared<MaskOp>(true, 0.0f), {call.nodes[0]},
                              call.name() + "/mask"));
  };
  r["Embedding"] = embedding;

  LayerBuilder masking;
  masking.build = [](BuildCall& call) {
    const Config& c = call.config;
    const double value = c.get_float("mask_value", 0.0);
    Shape keep_shape = call.row();
    if (keep_shape.empty())
      c.fail("needs inputs of rank >= 2 (a batch of feature vectors or sequences)");
    const int mask = call.add(std::make_shared<MaskOp>(false, static_cast<float>(value)),
                              {call.nodes[0]}, call.name() + "/mask");
    // Keras: x * any(x != mask_value, axis=-1, keepdims=True).
    keep_shape.back() = 1;
    const int keep =
        call.add(std::make_shared<ReshapeOp>(keep_shape), {mask}, call.name() + "/keep");
    const int node = call.add(std::make_shared<BinaryOp>(BinaryKind::Multiply, nullptr, nullptr),
                              {call.nodes[0], keep}, call.name());
    return one(node, mask);
  };
  r["Masking"] = masking;
}

}  // namespace ember::builders
