// ember::Reducer on an MPI communicator whose library is found at run time (issue 16): the
// Python binding's MpiReducer. ember is built without MPI; a Python program that runs
// under mpiexec has mpi4py load its libmpi, and this resolves MPI_Allreduce,
// MPI_Comm_rank and MPI_Comm_size from it with dlopen/dlsym. The handles (communicator,
// MPI_FLOAT, MPI_DOUBLE, MPI_SUM) come as integers, as mpi4py's MPI._handleof gives
// them: pointers in Open MPI's ABI, ints in MPICH's, passed on either way. No MPI_IN_PLACE
// (whose value differs between ABIs): each call sends from a copy of the buffer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/reducer.h"

namespace ember {

class RuntimeMpiReducer final : public Reducer {
 public:
  // library: the path of the libmpi already loaded, or "" to search the process (its
  // global symbols, then the shared objects it has mapped whose name starts "libmpi").
  // Throws IOError when no MPI library is found or a call fails.
  RuntimeMpiReducer(uintptr_t comm, uintptr_t float_type, uintptr_t double_type, uintptr_t sum_op,
                    const std::string& library = "");
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, int64_t count) override;
  void allreduce_sum(double* data, int64_t count) override;
  // Where MPI_Allreduce was found (the library's path, or "the process").
  const std::string& library() const { return library_; }

 private:
  using Allreduce = int (*)(const void*, void*, int, uintptr_t, uintptr_t, uintptr_t);
  void sum(void* data, int64_t count, size_t width, uintptr_t type);

  uintptr_t comm_, float_type_, double_type_, sum_op_;
  Allreduce allreduce_ = nullptr;
  int rank_ = 0, size_ = 1;
  std::string library_;
  std::vector<unsigned char> send_;  // the copy each call sends from
};

}  // namespace ember
