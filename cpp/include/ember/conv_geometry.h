// The geometry of one 2-D convolution, as the im2col / col2im kernels see it (a 1-D
// convolution is a 2-D one of height 1). Images are channels-last (in_h, in_w, channels);
// the columns of one output position are (groups, kernel_h, kernel_w, channels / groups), so
// that group g's columns are one contiguous block that meets the kernel's rows
// (kernel_h, kernel_w, channels / groups) of that group as they lie in memory.
#pragma once
#include <cstdint>

namespace ember::kernels {

struct ConvGeometry {
  int64_t in_h = 1, in_w = 1, channels = 1;  // the image
  int64_t out_h = 1, out_w = 1;              // the output positions
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // positions before the image's first (read as zeros)
  int64_t groups = 1;

  int64_t image_size() const { return in_h * in_w * channels; }
  int64_t positions() const { return out_h * out_w; }
  // Columns of one output position: kernel_h * kernel_w * channels.
  int64_t col_width() const { return kernel_h * kernel_w * channels; }
  // Whether im2col is the identity: a 1x1 kernel at stride 1 with no padding.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 &&
           pad_left == 0 && out_h == in_h && out_w == in_w;
  }
};

}  // namespace ember::kernels
