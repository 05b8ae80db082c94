// Pooling and upsampling kernels on the CPU (backend.h's pool_* and resize_*).
//
// Every kernel walks images (in_h, in_w, C) channels last, one image per parallel task, with
// the channel axis innermost: a window's pixels are C contiguous floats each, so the loops
// over channels vectorize, and a thread's gradient scatter stays inside its own image (no
// atomics; the result does not depend on the thread count).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/cpu_backend.h"
#include "cpu/parallel.h"

namespace ember::cpu {
namespace {

constexpr int64_t kChunk = 64;  // channels a max-pool window tracks at once (stack arrays)

// The window of output (oh, ow), clipped to the image: rows [h0, h1), columns [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};

inline Window window_at(const kernels::PoolLayout& l, int64_t oh, int64_t ow) {
  const int64_t h = oh * l.stride_h - l.pad_top, w = ow * l.stride_w - l.pad_left;
  return {std::max<int64_t>(h, 0), std::min(h + l.pool_h, l.in_h), std::max<int64_t>(w, 0),
          std::min(w + l.pool_w, l.in_w)};
}

// Whether v replaces the current maximum m: larger, or the first NaN (lax.max propagates NaN).
inline bool beats(float v, float m) { return v > m || (v != v && m == m); }

// The max of one window over channels [c0, c0 + cn): values into best, and each one's offset
// in the image (pixel * C) into at. The first maximum in row-major order wins.
inline void window_max(const kernels::PoolLayout& l, const Window& win, const float* x, int64_t c0,
                       int64_t cn, float* best, int32_t* at) {
  const int64_t C = l.channels;
  // int32 offsets (PoolOp checks an image has fewer than 2^31 elements): the same width as
  // the float comparisons, so the selects vectorize.
  const auto first = static_cast<int32_t>((win.h0 * l.in_w + win.w0) * C);
  for (int64_t c = 0; c < cn; ++c) {
    best[c] = x[first + c0 + c];
    at[c] = first;
  }
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w) {
      const auto off = static_cast<int32_t>((h * l.in_w + w) * C);
      if (off == first) continue;
      const float* xp = x + off + c0;
      for (int64_t c = 0; c < cn; ++c) {
        const bool take = beats(xp[c], best[c]);
        best[c] = take ? xp[c] : best[c];
        at[c] = take ? off : at[c];
      }
    }
}

// where (or null): each output's window index of its maximum, row-major in the clipped
// window, as max_pool_backward_where reads it.
void max_pool_image(const kernels::PoolLayout& l, const float* x, float* y, uint8_t* where) {
  const int64_t C = l.channels;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const Window win = window_at(l, oh, ow);
      float* yo = y + (oh * l.out_w + ow) * C;
      std::memcpy(yo, x + (win.h0 * l.in_w + win.w0) * C, static_cast<size_t>(C) * sizeof(float));
      if (where) {
        uint8_t* wo = where + (oh * l.out_w + ow) * C;
        std::memset(wo, 0, static_cast<size_t>(C));
        uint8_t p = 0;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w, ++p) {
            if (p == 0) continue;
            const float* xp = x + (h * l.in_w + w) * C;
            for (int64_t c = 0; c < C; ++c) {
              const bool take = beats(xp[c], yo[c]);
              yo[c] = take ? xp[c] : yo[c];
              wo[c] = take ? p : wo[c];
            }
          }
        continue;
      }
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w) {
          const float* xp = x + (h * l.in_w + w) * C;
          for (int64_t c = 0; c < C; ++c) yo[c] = beats(xp[c], yo[c]) ? xp[c] : yo[c];
        }
    }
}

void average_pool_image(const kernels::PoolLayout& l, const float* x, float* y) {
  const int64_t C = l.channels;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const Window win = window_at(l, oh, ow);
      float* yo = y + (oh * l.out_w + ow) * C;
      std::fill(yo, yo + C, 0.0f);
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w) {
          const float* xp = x + (h * l.in_w + w) * C;
          for (int64_t c = 0; c < C; ++c) yo[c] += xp[c];
        }
      // A division, not a product with the reciprocal: what Keras on jax computes.
      const auto count = static_cast<float>(win.count());
      for (int64_t c = 0; c < C; ++c) yo[c] /= count;
    }
}

// Whether the windows tile the image (strides equal to the pool): every input element then
// lies in at most one window, so the backward writes dx once instead of zeroing it first.
inline bool tiles(const kernels::PoolLayout& l) {
  return l.stride_h == l.pool_h && l.stride_w == l.pool_w;
}

// dx (images' one image) for max pooling. Tiling windows (the common 2x2 / 2x2 case) write
// each element once: the gradient where the window's maximum was, else 0 (or add it), and
// zero what no window covers; otherwise dx is zeroed by the caller and gradients are added.
void max_pool_backward_image(const kernels::PoolLayout& l, const float* x, const float* dy,
                             float* dx, bool write) {
  const int64_t C = l.channels;
  float best[kChunk];
  int32_t at[kChunk];
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const Window win = window_at(l, oh, ow);
      const float* g = dy + (oh * l.out_w + ow) * C;
      for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
        const int64_t cn = std::min(kChunk, C - c0);
        window_max(l, win, x, c0, cn, best, at);
        if (!write) {
          for (int64_t c = 0; c < cn; ++c) dx[at[c] + c0 + c] += g[c0 + c];
          continue;
        }
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const auto off = static_cast<int32_t>((h * l.in_w + w) * C);
            float* d = dx + off + c0;
            for (int64_t c = 0; c < cn; ++c) d[c] = at[c] == off ? g[c0 + c] : 0.0f;
          }
      }
    }
  if (!write) return;
  // What the tiling leaves uncovered (valid padding's last rows and columns): zeros.
  const int64_t rows = std::min(l.in_h, l.out_h * l.pool_h - l.pad_top);
  const int64_t cols = std::min(l.in_w, l.out_w * l.pool_w - l.pad_left);
  for (int64_t h = 0; h < l.in_h; ++h) {
    const int64_t from = h < rows ? cols : 0;
    std::fill(dx + (h * l.in_w + from) * C, dx + (h + 1) * l.in_w * C, 0.0f);
  }
}

// dx for max pooling from the forward's choices (tiling windows, which write every element
// once, or add to it).
void max_pool_backward_where(const kernels::PoolLayout& l, const uint8_t* where, const float* dy,
                             float* dx, bool accumulate) {
  const int64_t C = l.channels;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const Window win = window_at(l, oh, ow);
      const int64_t o = (oh * l.out_w + ow) * C;
      const float* g = dy + o;
      const uint8_t* wo = where + o;
      uint8_t p = 0;
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w, ++p) {
          float* d = dx + (h * l.in_w + w) * C;
          if (accumulate)
            for (int64_t c = 0; c < C; ++c) d[c] += wo[c] == p ? g[c] : 0.0f;
          else
            for (int64_t c = 0; c < C; ++c) d[c] = wo[c] == p ? g[c] : 0.0f;
        }
    }
  if (accumulate) return;
  // What the tiling leaves uncovered (valid padding's last rows and columns): zeros.
  const int64_t rows = std::min(l.in_h, l.out_h * l.pool_h - l.pad_top);
  const int64_t cols = std::min(l.in_w, l.out_w * l.pool_w - l.pad_left);
  for (int64_t h = 0; h < l.in_h; ++h) {
    const int64_t from = h < rows ? cols : 0;
    std::fill(dx + (h * l.in_w + from) * C, dx + (h + 1) * l.in_w * C, 0.0f);
  }
}

void average_pool_backward_image(const kernels::PoolLayout& l, const float* dy, float* dx) {
  const int64_t C = l.channels;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const Window win = window_at(l, oh, ow);
      const float* g = dy + (oh * l.out_w + ow) * C;
      const auto count = static_cast<float>(win.count());
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w) {
          float* d = dx + (h * l.in_w + w) * C;
          for (int64_t c = 0; c < C; ++c) d[c] += g[c] / count;
        }
    }
}

void resize_image(const kernels::ResizeLayout& l, const float* x, float* y) {
  const int64_t C = l.channels, t = l.taps;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      float* yo = y + (oh * l.out_w + ow) * C;
      if (t == 1 && l.h_weight[oh] == 1.0f && l.w_weight[ow] == 1.0f) {  // nearest: a copy
        std::memcpy(yo, x + (l.h_index[oh] * l.in_w + l.w_index[ow]) * C,
                    static_cast<size_t>(C) * sizeof(float));
        continue;
      }
      std::fill(yo, yo + C, 0.0f);
      for (int64_t a = 0; a < t; ++a)
        for (int64_t b = 0; b < t; ++b) {
          const float w = l.h_weight[oh * t + a] * l.w_weight[ow * t + b];
          if (w == 0.0f) continue;
          const float* xp = x + (l.h_index[oh * t + a] * l.in_w + l.w_index[ow * t + b]) * C;
          for (int64_t c = 0; c < C; ++c) yo[c] += w * xp[c];
        }
    }
}

void resize_backward_image(const kernels::ResizeLayout& l, const float* dy, float* dx) {
  const int64_t C = l.channels, t = l.taps;
  for (int64_t oh = 0; oh < l.out_h; ++oh)
    for (int64_t ow = 0; ow < l.out_w; ++ow) {
      const float* g = dy + (oh * l.out_w + ow) * C;
      for (int64_t a = 0; a < t; ++a)
        for (int64_t b = 0; b < t; ++b) {
          const float w = l.h_weight[oh * t + a] * l.w_weight[ow * t + b];
          if (w == 0.0f) continue;
          float* d = dx + (l.h_index[oh * t + a] * l.in_w + l.w_index[ow * t + b]) * C;
          for (int64_t c = 0; c < C; ++c) d[c] += w * g[c];
        }
    }
}

}  // namespace

void CpuBackend::pool_forward(const Context&, const kernels::PoolLayout& l, int64_t images,
                              const float* x, float* y, uint8_t* where) {
  const int64_t in = l.in_size(), out = l.out_size();
  parallel_for(images, images * in, [&](int64_t i) {
    if (l.max)
      max_pool_image(l, x + i * in, y + i * out, where ? where + i * out : nullptr);
    else
      average_pool_image(l, x + i * in, y + i * out);
  });
}

void CpuBackend::pool_backward(const Context&, const kernels::PoolLayout& l, int64_t images,
                               const float* x, const uint8_t* where, const float* dy, float* dx,
                               bool accumulate) {
  const int64_t in = l.in_size(), out = l.out_size();
  parallel_for(images, images * in, [&](int64_t i) {
    float* d = dx + i * in;
    if (l.max && where && tiles(l)) {
      max_pool_backward_where(l, where + i * out, dy + i * out, d, accumulate);
      return;
    }
    const bool write = l.max && tiles(l) && !accumulate;
    if (!accumulate && !write) std::fill(d, d + in, 0.0f);
    if (l.max)
      max_pool_backward_image(l, x + i * in, dy + i * out, d, write);
    else
      average_pool_backward_image(l, dy + i * out, d);
  });
}

void CpuBackend::resize_forward(const Context&, const kernels::ResizeLayout& l, int64_t images,
                                const float* x, float* y) {
  const int64_t in = l.in_size(), out = l.out_size();
  parallel_for(images, images * out, [&](int64_t i) { resize_image(l, x + i * in, y + i * out); });
}

void CpuBackend::resize_backward(const Context&, const kernels::ResizeLayout& l, int64_t images,
                                 const float* dy, float* dx, bool accumulate) {
  const int64_t in = l.in_size(), out = l.out_size();
  parallel_for(images, images * out, [&](int64_t i) {
    float* d = dx + i * in;
    if (!accumulate) std::fill(d, d + in, 0.0f);
    resize_backward_image(l, dy + i * out, d);
  });
}

}  // namespace ember::cpu
