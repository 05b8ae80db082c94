#include "ember/runtime_mpi_reducer.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>

#include "ember/error.h"

namespace ember {
namespace {

// The loaded shared objects whose file name starts "libmpi" (libmpi.so.40, libmpich.so.12),
// from the process's memory map.
std::vector<std::string> mapped_mpi_libraries() {
  std::vector<std::string> found;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.rfind("libmpi", 0) == 0 && name.find(".so") != std::string::npos &&
        std::find(found.begin(), found.end(), path) == found.end())
      found.push_back(path);
  }
  return found;
}

void* symbol(void* handle, const char* name) { return handle ? dlsym(handle, name) : nullptr; }

}  // namespace

RuntimeMpiReducer::RuntimeMpiReducer(uintptr_t comm, uintptr_t float_type, uintptr_t double_type,
                                     uintptr_t sum_op, const std::string& library)
    : comm_(comm), float_type_(float_type), double_type_(double_type), sum_op_(sum_op) {
  // Handles to already loaded libraries (RTLD_NOLOAD): nothing is loaded twice, and the
  // reference each holds lasts as long as the process, as MPI does.
  void* handle = nullptr;
  if (!library.empty()) {
    handle = dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle)
      throw IOError("MpiReducer: cannot open the MPI library '" + library + "': " + dlerror());
    library_ = library;
  } else if (dlsym(RTLD_DEFAULT, "MPI_Allreduce")) {
    handle = RTLD_DEFAULT;
    library_ = "the process";
  } else {
    for (const std::string& path : mapped_mpi_libraries()) {
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
      if (symbol(handle, "MPI_Allreduce")) {
        library_ = path;
        break;
      }
      handle = nullptr;
    }
  }
  allreduce_ = reinterpret_cast<Allreduce>(symbol(handle, "MPI_Allreduce"));
  using RankOrSize = int (*)(uintptr_t, int*);
  const auto comm_rank = reinterpret_cast<RankOrSize>(symbol(handle, "MPI_Comm_rank"));
  const auto comm_size = reinterpret_cast<RankOrSize>(symbol(handle, "MPI_Comm_size"));
  if (!allreduce_ || !comm_rank || !comm_size)
    throw IOError(
        "MpiReducer: no MPI library with MPI_Allreduce, MPI_Comm_rank and MPI_Comm_size is "
        "loaded in this process (" +
        (library.empty()
             ? std::string("import mpi4py.MPI first, or pass library=") + "the path of its libmpi"
             : "in '" + library + "'") +
        ")");
  if (const int code = comm_rank(comm_, &rank_))
    throw IOError("MpiReducer: MPI_Comm_rank failed with MPI error code " + std::to_string(code));
  if (const int code = comm_size(comm_, &size_))
    throw IOError("MpiReducer: MPI_Comm_size failed with MPI error code " + std::to_string(code));
}

void RuntimeMpiReducer::allreduce_sum(float* data, int64_t count) {
  sum(data, count, sizeof(float), float_type_);
}

void RuntimeMpiReducer::allreduce_sum(double* data, int64_t count) {
  sum(data, count, sizeof(double), double_type_);
}

void RuntimeMpiReducer::sum(void* data, int64_t count, size_t width, uintptr_t type) {
  if (count < 0) throw ValueError("MpiReducer: a negative count " + std::to_string(count));
  auto* bytes = static_cast<unsigned char*>(data);
  // MPI counts are int: a buffer of more than INT_MAX values goes in pieces.
  for (int64_t at = 0; at < count; at += INT_MAX) {
    const int n = static_cast<int>(std::min<int64_t>(count - at, INT_MAX));
    const size_t size = static_cast<size_t>(n) * width;
    send_.resize(std::max(send_.size(), size));
    unsigned char* piece = bytes + static_cast<size_t>(at) * width;
    std::memcpy(send_.data(), piece, size);
    if (const int code = allreduce_(send_.data(), piece, n, type, sum_op_, comm_))
      throw IOError("MpiReducer: MPI_Allreduce failed with MPI error code " + std::to_string(code));
  }
}

}  // namespace ember
