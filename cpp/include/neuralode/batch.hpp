#pragma once
// The OpenMP driver: threads take samples one at a time from a shared counter and solve
// each on their own workspace. A sample's result depends on nothing but the sample, so it is
// the same for any number of threads and any schedule.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>

namespace neuralode {

// The threads a solve runs on: num_threads (<= 0: OpenMP's default), never more than the
// cores this process may run on nor than there are samples. More threads than cores would
// only wait for each other, and where the process limit is low, asking OpenMP for them
// ends the process ("libgomp: Thread creation failed").
inline int thread_count(int num_threads, long count) {
  const long wanted = num_threads > 0 ? num_threads : omp_get_max_threads();
  // Read once: libgomp asks the kernel for the affinity mask on every call (~130 ns, as
  // much as a third of a small solve).
  static const long cores = std::max(1, omp_get_num_procs());
  return static_cast<int>(std::max(1L, std::min({wanted, cores, count})));
}

// Runs thread_work(take) on each of thread_count(num_threads, count) threads, where
// take() returns the next unclaimed sample index in [0, count), or -1 when none is left.
// An exception thrown on a thread (only ever std::bad_alloc) is rethrown after the region.
template <class ThreadWork>
void parallel_over_samples(long count, int num_threads, ThreadWork&& thread_work) {
  const int threads = thread_count(num_threads, count);
  std::atomic<long> next{0};
  auto take = [&]() -> long {
    const long b = next.fetch_add(1, std::memory_order_relaxed);
    return b < count ? b : -1;
  };
  if (threads == 1) {  // no parallel region: nothing to start or join
    thread_work(take);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    try {
      thread_work(take);
    } catch (...) {
#pragma omp critical(neuralode_error)
      if (!error) error = std::current_exception();
      next.store(count);  // the other threads stop taking work
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace neuralode
