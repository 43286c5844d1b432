#pragma once
// GNU OpenMP's thread pool does not survive fork(): a child that opens a parallel region
// waits forever for worker threads that exist only in the parent (gcc bug 60035), which
// hangs e.g. multiprocessing or DataLoader workers after a batch solve in the parent. So
// before every fork the forking thread's pool is released (OpenMP 5.0's
// omp_pause_resource_all), and parent and child each start a fresh one at their next
// parallel region.
#include <omp.h>
#include <pthread.h>

namespace neuralode {

namespace detail {
extern "C" inline void release_openmp_threads() { omp_pause_resource_all(omp_pause_soft); }
}  // namespace detail

// Call once, at load.
inline void release_threads_before_fork() {
  pthread_atfork(detail::release_openmp_threads, nullptr, nullptr);
}

}  // namespace neuralode
