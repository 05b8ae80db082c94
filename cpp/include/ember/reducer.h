// The collectives data-parallel training needs (issue 16), behind one small interface so
// that the engine knows nothing of the transport: MPI (mpi_reducer.h, or the Python
// binding's MpiReducer) implements it across processes and hosts, a test's threads within
// one process, NCCL on GPUs later. Every rank holds the whole model and a contiguous shard
// of each global batch; Model::set_reducer hands one to the training step.
//
// Every call is a collective: all ranks make the same calls, in the same order, with the
// same counts (the Model checks a signature first so that a mismatch is an error, not a
// hang). Buffers are host memory.
#pragma once
#include <cstdint>

namespace ember {

class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data[i] = the sum over ranks of data[i], in place, on every rank.
  virtual void allreduce_sum(float* data, int64_t count) = 0;
  virtual void allreduce_sum(double* data, int64_t count) = 0;
};

// The global batch's rows [shard_begin, shard_end) that rank `rank` of `ranks` takes: a
// contiguous shard of floor(rows * r / N) .. floor(rows * (r + 1) / N), possibly empty.
inline int64_t shard_begin(int64_t rows, int rank, int ranks) { return rows * rank / ranks; }
inline int64_t shard_end(int64_t rows, int rank, int ranks) { return rows * (rank + 1) / ranks; }

// A random op's key on this rank: unchanged in one process (and on rank 0), mixed with the
// rank elsewhere so that dropout masks and noise differ per rank.
inline uint64_t key_for_rank(uint64_t key, const Reducer* reducer) {
  if (!reducer || reducer->rank() == 0) return key;
  return key ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(reducer->rank()));
}

}  // namespace ember
