// Convolution on the CPU as im2col + SGEMM (the ops in ops_conv.cpp call these through the
// Backend): im2col copies every output position's receptive field into one row of a column
// matrix, so that a whole batch's convolution is one GEMM against the kernel; col2im adds such
// rows back onto the image (the input gradient, and a transposed convolution's forward).
//
// Images are channels-last (in_h, in_w, channels); a position's row is (groups, kernel_h,
// kernel_w, channels / groups) (conv_geometry.h). Both loops copy whole runs of channels at a
// time (a kernel row at once when it lies inside the image), and run on the pool's threads:
// im2col over output rows, col2im over images (two images never share a pixel).
//
// A convolution with few columns per position (a first layer: 3x3 over one channel is 9) is a
// GEMM that BLAS runs poorly: each pass over its long, thin operands is memory traffic, and the
// threaded GEMM's synchronisation costs more than its nine multiply-adds per output. Its
// forward instead runs in blocks of output rows, one block per thread at a time: im2col, a GEMM
// small enough that BLAS runs it on the calling thread, and the bias and activation, while the
// block is in cache.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"
#include "ember/kernels.h"

namespace ember::cpu {
namespace {

using kernels::ConvGeometry;

// n floats from src to dst: runs of a few floats (a kernel row of one channel) are cheaper
// inline than as a call to memcpy.
inline void copy_run(const float* __restrict src, float* __restrict dst, int64_t n) {
  if (n <= 16) {
    for (int64_t c = 0; c < n; ++c) dst[c] = src[c];
  } else {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  }
}

// The columns of output row `oh` of one image: out_w rows of g.col_width() floats.
void im2col_row(const ConvGeometry& g, const float* image, int64_t oh, float* dst) {
  const int64_t cg = g.channels / g.groups, kw_run = g.kernel_w * g.channels;
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    const int64_t iw0 = ow * g.stride_w - g.pad_left;
    const bool row_inside = iw0 >= 0 && iw0 + (g.kernel_w - 1) * g.dilation_w < g.in_w;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t i = 0; i < g.kernel_h; ++i) {
        const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
        if (ih < 0 || ih >= g.in_h) {
          std::memset(dst, 0, static_cast<size_t>(g.kernel_w * cg) * sizeof(float));
          dst += g.kernel_w * cg;
          continue;
        }
        const float* src = image + (ih * g.in_w) * g.channels + grp * cg;
        if (g.groups == 1 && g.dilation_w == 1 && row_inside) {
          // The kernel row's pixels are neighbours: one run of kernel_w * channels floats.
          copy_run(src + iw0 * g.channels, dst, kw_run);
          dst += kw_run;
          continue;
        }
        for (int64_t j = 0; j < g.kernel_w; ++j, dst += cg) {
          const int64_t iw = iw0 + j * g.dilation_w;
          if (iw < 0 || iw >= g.in_w)
            std::memset(dst, 0, static_cast<size_t>(cg) * sizeof(float));
          else
            copy_run(src + iw * g.channels, dst, cg);
        }
      }
    }
  }
}

// dst(n) += src(n).
inline void add_run(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t c = 0; c < n; ++c) dst[c] += src[c];
}

// One image's col2im: its positions' rows added back onto image (already zeroed or holding
// what they accumulate onto).
void col2im_image(const ConvGeometry& g, const float* col, float* image) {
  const int64_t cg = g.channels / g.groups, kw_run = g.kernel_w * g.channels;
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const bool row_inside = iw0 >= 0 && iw0 + (g.kernel_w - 1) * g.dilation_w < g.in_w;
      for (int64_t grp = 0; grp < g.groups; ++grp)
        for (int64_t i = 0; i < g.kernel_h; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) {
            col += g.kernel_w * cg;
            continue;
          }
          float* dst = image + (ih * g.in_w) * g.channels + grp * cg;
          if (g.groups == 1 && g.dilation_w == 1 && row_inside) {
            add_run(col, dst + iw0 * g.channels, kw_run);
            col += kw_run;
            continue;
          }
          for (int64_t j = 0; j < g.kernel_w; ++j, col += cg) {
            const int64_t iw = iw0 + j * g.dilation_w;
            if (iw >= 0 && iw < g.in_w) add_run(col, dst + iw * g.channels, cg);
          }
        }
    }
}

// OpenBLAS runs a GEMM of m * n * k <= 65536 * 4 on the calling thread (SMP_THRESHOLD_MIN times
// GEMM_MULTITHREAD_THRESHOLD); the blocked forward keeps its GEMMs under half of that.
constexpr int64_t kSerialGemmWork = 65536 * 2;
// Columns per position below which the blocked forward pays (measured on the MNIST convnet's
// first layer, 9 columns; its second, 288, runs faster as one threaded GEMM).
constexpr int64_t kBlockedMaxColumns = 64;

}  // namespace

void CpuBackend::conv_forward(const Context& ctx, const ConvGeometry& g, int64_t images,
                              const float* x, const float* kernel, const float* bias,
                              const Activation& act, int64_t filters, float* col, float* y,
                              float* z) {
  const int64_t k = g.col_width(), row_work = g.out_w * k * filters;
  if (g.groups != 1 || k > kBlockedMaxColumns || row_work > kSerialGemmWork ||
      act.is_normalization()) {
    Backend::conv_forward(ctx, g, images, x, kernel, bias, act, filters, col, y, z);
    return;
  }
  const int64_t rows = images * g.out_h;  // output rows, all images
  const int64_t per_block = std::max<int64_t>(1, kSerialGemmWork / row_work);
  const int64_t blocks = (rows + per_block - 1) / per_block;
  const int64_t row_floats = g.out_w * k, row_out = g.out_w * filters;
  parallel_for(blocks, rows * row_work, [&](int64_t b) {
    const int64_t r0 = b * per_block, r1 = std::min(rows, r0 + per_block);
    for (int64_t r = r0; r < r1; ++r)
      im2col_row(g, x + (r / g.out_h) * g.image_size(), r % g.out_h, col + r * row_floats);
    const int64_t m = (r1 - r0) * g.out_w;
    kernels::gemm(false, false, m, filters, k, 1.0f, col + r0 * row_floats, kernel, 0.0f,
                  y + r0 * row_out);
    ember::bias_activation_forward(act, y + r0 * row_out, bias, z ? z + r0 * row_out : nullptr, m,
                                   filters);
  });
}

// The blocked forward's backward for a first layer: per block of output rows, the columns,
// dz, the block's dkernel by a serial GEMM and its bias sums, while the block is in cache,
// instead of whole-batch passes (the activation's, the bias sums', im2col's and a threaded
// GEMM of nine rows whose long operands stream from memory). Each block's partial sums go to
// a slot of their own and are added in block order, so the result does not depend on the
// thread count.
void CpuBackend::conv_backward_filter(const Context& ctx, const ConvGeometry& g, int64_t images,
                                      const float* x, const float* z, const float* y,
                                      const float* dy, const Activation& act, int64_t filters,
                                      float* col, bool col_filled, float* dz, float* dkernel,
                                      bool kernel_accumulate, float* dbias, bool bias_accumulate) {
  const int64_t k = g.col_width(), row_work = g.out_w * k * filters;
  if (g.groups != 1 || k > kBlockedMaxColumns || row_work > kSerialGemmWork ||
      act.is_normalization()) {
    Backend::conv_backward_filter(ctx, g, images, x, z, y, dy, act, filters, col, col_filled, dz,
                                  dkernel, kernel_accumulate, dbias, bias_accumulate);
    return;
  }
  const int64_t rows = images * g.out_h;
  const int64_t per_block = std::max<int64_t>(1, kSerialGemmWork / row_work);
  const int64_t blocks = (rows + per_block - 1) / per_block;
  const int64_t row_floats = g.out_w * k, row_out = g.out_w * filters;
  const int64_t kf = k * filters, slot = kf + (dbias ? filters : 0);
  std::vector<float> partial(static_cast<size_t>(blocks * slot));
  parallel_for(blocks, rows * row_work, [&](int64_t b) {
    const int64_t r0 = b * per_block, r1 = std::min(rows, r0 + per_block);
    if (!col_filled)
      for (int64_t r = r0; r < r1; ++r)
        im2col_row(g, x + (r / g.out_h) * g.image_size(), r % g.out_h, col + r * row_floats);
    const int64_t m = (r1 - r0) * g.out_w;
    const float* d = dy + r0 * row_out;
    if (!act.is_linear()) {
      ember::activation_backward(act, z ? z + r0 * row_out : nullptr, y + r0 * row_out, d,
                                 dz + r0 * row_out, m, filters);
      d = dz + r0 * row_out;
    }
    float* p = partial.data() + b * slot;
    kernels::gemm(true, false, k, filters, m, 1.0f, col + r0 * row_floats, d, 0.0f, p);
    if (dbias) kernels::column_sums(d, p + kf, m, filters, false);
  });
  const auto reduce = [&](float* out, int64_t offset, int64_t n, bool accumulate) {
    if (!accumulate) std::fill(out, out + n, 0.0f);
    for (int64_t b = 0; b < blocks; ++b) {
      const float* p = partial.data() + b * slot + offset;
      for (int64_t i = 0; i < n; ++i) out[i] += p[i];
    }
  };
  reduce(dkernel, 0, kf, kernel_accumulate);
  if (dbias) reduce(dbias, kf, filters, bias_accumulate);
}

void CpuBackend::im2col(const Context&, const ConvGeometry& g, int64_t images, const float* x,
                        float* col) {
  const int64_t row_floats = g.out_w * g.col_width();
  parallel_for(images * g.out_h, images * g.out_h * row_floats, [&](int64_t r) {
    const int64_t img = r / g.out_h, oh = r % g.out_h;
    im2col_row(g, x + img * g.image_size(), oh, col + r * row_floats);
  });
}

void CpuBackend::col2im(const Context&, const ConvGeometry& g, int64_t images, const float* col,
                        float* x, bool accumulate) {
  const int64_t col_floats = g.positions() * g.col_width();
  parallel_for(images, images * col_floats, [&](int64_t img) {
    float* image = x + img * g.image_size();
    if (!accumulate) std::memset(image, 0, static_cast<size_t>(g.image_size()) * sizeof(float));
    col2im_image(g, col + img * col_floats, image);
  });
}

}  // namespace ember::cpu
