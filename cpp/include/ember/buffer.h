// Buffer<T>: an owned, aligned array of T on one device. It replaces
// std::vector<float> everywhere compute touches data (tensors, variables, the
// executor's values and gradients, op scratch), so that the same code can hold
// host or GPU memory. Memory comes from the device's Allocator; contents are
// copied and filled through its backend, never by a loop here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "ember/device.h"

namespace ember {

// Where a device's memory comes from. The CPU's hands out 64-byte aligned host
// memory; the CUDA backend implements a caching device allocator.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // throws on failure; 0 bytes -> nullptr
  virtual void deallocate(void* p, size_t bytes) noexcept = 0;
};

// The allocator of a device (throws ValueError for a device this build cannot use).
Allocator& allocator_for(Device device);
// The same for a device that has allocated a live buffer, so it exists: for destructors.
Allocator& allocator_of_live_buffer(Device device) noexcept;

namespace detail {
// Byte copies within a device, and zeroing: the backend's copy and fill kernels.
void copy_bytes(Device device, void* dst, const void* src, size_t bytes);
void zero_bytes(Device device, void* dst, size_t bytes);
}  // namespace detail

template <class T>
class Buffer {
  static_assert(std::is_trivially_copyable_v<T>, "Buffer holds plain values");

 public:
  Buffer() = default;
  // n zero-initialised elements on `device`.
  explicit Buffer(int64_t n, Device device = Device::cpu())
      : device_(device), size_(n < 0 ? 0 : n) {
    if (size_ > 0) {
      data_ = static_cast<T*>(allocator_for(device_).allocate(bytes()));
      detail::zero_bytes(device_, data_, bytes());
    }
  }
  ~Buffer() { release(); }

  Buffer(Buffer&& o) noexcept
      : device_(o.device_),
        data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      device_ = o.device_;
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  // A deep copy on the same device.
  Buffer(const Buffer& o) : Buffer(o.size_, o.device_) {
    if (size_ > 0) detail::copy_bytes(device_, data_, o.data_, bytes());
  }
  Buffer& operator=(const Buffer& o) {
    if (this != &o) *this = Buffer(o);
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Device device() const { return device_; }
  size_t bytes() const { return static_cast<size_t>(size_) * sizeof(T); }

  // Host buffers only (checked by the caller's device): element access for set-up code.
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }

 private:
  void release() noexcept {
    if (data_) allocator_of_live_buffer(device_).deallocate(data_, bytes());
    data_ = nullptr;
    size_ = 0;
  }
  Device device_{};
  T* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace ember
