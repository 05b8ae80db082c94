// The one list of op kinds. Every Op reports its kind; every backend says which
// kinds it can run, and an executor for a device that lacks one fails when it is
// built, naming the op and the device. Add a kind here (in the list below) when
// adding an op; the name table and the count follow from the list.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ember {

// X(kind): one entry per Op subclass; the names are what Op::type() reports.
#define EMBER_OP_KINDS(X) \
  X(Dense)                \
  X(Activation)           \
  X(PReLU)                \
  X(Binary)               \
  X(Unary)                \
  X(Reduce)               \
  X(Gather)               \
  X(MatMul)               \
  X(Merge)                \
  X(Concatenate)          \
  X(Reshape)              \
  X(Flatten)              \
  X(BatchNormalization)   \
  X(LayerNormalization)   \
  X(Normalization)        \
  X(Dropout)              \
  X(GaussianNoise)        \
  X(ActivityRegularization) \
  /* pooling and shape ops (issue 11) */ \
  X(Pooling)                \
  X(Padding)                \
  X(UpSampling)             \
  /* sequences (issue 11) */  \
  X(Embedding)              \
  X(Cast)                   \
  X(Mask)                   \
  /* recurrent (issue 11) */ \
  X(SimpleRNN)              \
  X(LSTM)                   \
  X(GRU)                    \
  /* convolution (issue 11) */ \
  X(Conv)                   \
  /* EinsumDense and score attention (issue 17) */ \
  X(EinsumDense)            \
  X(BatchMatMul)            \
  X(MaskedSoftmax)          \
  X(SpectralNormScale)

enum class OpKind : uint8_t {
#define EMBER_OP_KIND_ENUM(k) k,
  EMBER_OP_KINDS(EMBER_OP_KIND_ENUM)
#undef EMBER_OP_KIND_ENUM
};

#define EMBER_OP_KIND_COUNT(k) +1
constexpr size_t kNumOpKinds = 0 EMBER_OP_KINDS(EMBER_OP_KIND_COUNT);
#undef EMBER_OP_KIND_COUNT

const char* op_kind_name(OpKind kind);

}  // namespace ember
