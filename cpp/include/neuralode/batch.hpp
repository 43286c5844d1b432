#pragma once
// The OpenMP driver: every sample is its own problem, solved by one thread with that
// thread's workspace. Nothing is shared between samples, so results do not depend on the
// number of threads or on the schedule.
#include <omp.h>

#include <vector>

namespace neuralode {

// Calls solve_sample(b, workspace) for b in [0, count) on `num_threads` threads (<= 0:
// OpenMP's default). solve_sample must not throw: failures travel as per-sample statuses.
template <class Workspace, class SolveSample>
void for_each_sample(long count, int num_threads, SolveSample&& solve_sample) {
  const int threads = num_threads > 0 ? num_threads : omp_get_max_threads();
  std::vector<Workspace> workspaces(static_cast<size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
  for (long b = 0; b < count; ++b) solve_sample(b, workspaces[static_cast<size_t>(omp_get_thread_num())]);
}

}  // namespace neuralode
