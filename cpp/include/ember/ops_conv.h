// Convolution: Keras's Conv1D / Conv2D, their transposes, DepthwiseConv2D and the two halves of
// SeparableConv2D are one op, parameterised as Keras's layers are.
#pragma once
#include <string>
#include <vector>

#include "ember/activations.h"
#include "ember/conv_geometry.h"
#include "ember/graph.h"
#include "ember/strided.h"

namespace ember {

// A convolution's arguments as Keras's layers take them (each per spatial axis, 1 or 2 axes).
struct ConvSpec {
  std::vector<int64_t> kernel_size;     // (kh, kw) or (k)
  std::vector<int64_t> strides;         // default all 1
  std::vector<int64_t> dilation_rate;   // default all 1
  std::string padding = "valid";        // "valid", "same", "causal" (1-D, not transposed)
  std::vector<int64_t> output_padding;  // transposed only; empty: None (Keras's default)
  int64_t groups = 1;                   // not transposed; depthwise: the input channels
  bool channels_first = false;
  bool transpose = false;  // Conv*DTranspose
  bool depthwise = false;  // DepthwiseConv*D: kernel (k..., in, depth_multiplier)
  // The most floats a pass's column matrix takes: a batch whose matrix would be larger runs in
  // chunks of images (the backward then rebuilds each chunk's columns), so that a chunk's
  // columns are still in cache when the GEMM reads them, and no batch allocates gigabytes.
  // 2^19 floats = 2 MiB: the MNIST convnet's second convolution in chunks of 15 images took
  // 20% less time than in one pass of 128 (one thread; 22 vs 27 ms, forward 7.3 vs 10 ms).
  int64_t col_budget = int64_t{1} << 19;
};

// y = act(conv(x, kernel) + bias), Keras's weights as they are:
//   convolution: kernel (k..., in / groups, filters); depthwise: (k..., in, multiplier), the
//   grouped convolution with one group per input channel (output channel c * multiplier + m);
//   transposed: kernel (k..., filters, in).
// Input rows are (lead..., spatial..., channels) (channels_first: (lead..., channels,
// spatial...)); the leading axes are more images. Forward: im2col over the batch (in chunks of
// images that stay in cache, ConvSpec::col_budget) and one
// GEMM per group (a 1x1 kernel at stride 1 reads x itself), bias and activation fused into one
// pass over the output as Dense does; a transposed convolution is the adjoint: one GEMM, then
// col2im. Backward: dkernel = col^T dz, dbias = sum dz, dx = col2im(dz kernel^T) (skipped when
// x needs no gradient); the transpose's mirror image. channels_first transposes x and y to
// channels-last around the same kernels.
class ConvOp final : public Op {
 public:
  ConvOp(VariablePtr kernel, VariablePtr bias, ConvSpec spec, Activation activation);
  OpKind kind() const override { return OpKind::Conv; }
  Shape build(const std::vector<Shape>& inputs) override;
  std::vector<VariablePtr> variables() const override;
  // 0: the column matrix; 1: z then dz (unless linear); channels_first: 2: x channels-last
  // (then dx), 3: y channels-last, 4: dy channels-last.
  std::vector<size_t> scratch_bytes(int64_t max_rows) const override;
  void forward(const OpForward& f) override;
  void backward(const OpBackward& b) override;

 private:
  // out(m, n) (+)= col(m, k) @ kernel(k, n) per group (the convolution's GEMM).
  void gemm_forward(const Context& ctx, const float* col, float* out, int64_t m) const;
  // Images per pass, so that the column matrix stays within spec_.col_budget.
  int64_t chunk_images(int64_t images) const;

  VariablePtr kernel_, bias_;
  ConvSpec spec_;
  Activation activation_;
  bool keep_z_ = false;
  kernels::ConvGeometry geom_;  // transposed: the output is the geometry's image
  int64_t images_ = 1;          // images per row (the leading axes)
  int64_t in_channels_ = 0, filters_ = 0;
  int64_t in_positions_ = 0, out_positions_ = 0;  // per image
  bool pointwise_ = false;                        // no im2col: the column matrix is x itself
  StridedLayout x_to_last_, y_to_first_, dy_to_last_, dx_to_first_;  // channels_first
};

// The output size of one spatial axis of a (non-transposed) convolution as Keras computes it,
// and the padding before the first input position jax puts there. ValueError when a valid
// convolution's kernel does not fit the input.
void conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                      const std::string& padding, int64_t* out, int64_t* pad_before);

// A transposed convolution's output size along one axis, and the padding before the first
// output position of the convolution it is the transpose of (Keras's jax arithmetic;
// output_padding < 0: None).
void conv_transpose_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                const std::string& padding, int64_t output_padding, int64_t* out,
                                int64_t* pad_before);

}  // namespace ember
