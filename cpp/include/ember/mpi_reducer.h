// ember::Reducer on an MPI communicator, for C++ programs built with MPI (issue 16):
//
//   MPI_Init(&argc, &argv);
//   model.set_reducer(std::make_shared<ember::MpiReducer>(MPI_COMM_WORLD));
//   model.broadcast_weights();  // every rank starts from rank 0's weights
//   model.train_batches(...);    // batch_size is the global batch
//
// Header-only and included by no engine source: ember builds without MPI, and a program
// that has MPI compiles this against its own mpi.h. The communicator must outlive the
// reducer; every rank of it must train the same model.
#pragma once
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "ember/error.h"
#include "ember/reducer.h"

namespace ember {

class MpiReducer final : public Reducer {
 public:
  explicit MpiReducer(MPI_Comm comm) : comm_(comm) {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, int64_t count) override { sum(data, count, MPI_FLOAT); }
  void allreduce_sum(double* data, int64_t count) override { sum(data, count, MPI_DOUBLE); }

 private:
  template <class T>
  void sum(T* data, int64_t count, MPI_Datatype type) {
    // MPI counts are int: a buffer of more than INT_MAX values goes in pieces.
    for (int64_t at = 0; at < count; at += INT_MAX) {
      const int n = static_cast<int>(std::min<int64_t>(count - at, INT_MAX));
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, n, type, MPI_SUM, comm_), "MPI_Allreduce");
    }
  }
  static void check(int code, const char* call) {
    if (code != MPI_SUCCESS)
      throw IOError(std::string(call) + " failed with MPI error code " + std::to_string(code));
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace ember
