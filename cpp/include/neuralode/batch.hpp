#pragma once
// The OpenMP driver: threads take samples one at a time from a shared counter and solve
// each on their own workspace. A sample's result depends on nothing but the sample, so it is
// the same for any number of threads and any schedule.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>

#include "cores.hpp"

namespace neuralode {

// Multiply-adds of work a thread must have to itself before starting it pays, on an idle
// machine: a team's start and join cost ~20 us when the helpers spin briefly (GOMP_SPINCOUNT,
// set in __init__.py), and 1e5 is ~30-100 us of work. W3's adjoint (20 samples) gets two
// threads: 0.33 ms against 0.41 ms on one. On a busy machine a helper that is not scheduled
// in time makes the caller wait a scheduler slice (ms) at the join: the pause after a team
// that did not pay (ThreadsPaid below) keeps that from repeating.
constexpr double min_work_per_thread = 1e5;

// A guess at one sample's right-hand-side evaluations, for estimates before a solve: W2's and
// W3's forward solves take 20-24, W3's adjoint 70. Low rather than high: too few threads cost
// at most the parallel speed-up, too many on a busy machine cost many times the solve.
constexpr double guessed_evaluations = 24;

// One sample's work, estimated, in a solve whose right-hand side costs `per_evaluation`
// multiply-adds (a network's: about its number of parameters; with its VJP: 3 times that).
inline double solve_cost(double per_evaluation) { return guessed_evaluations * per_evaluation; }

// Where the caller gives no estimate: a sample is a few small network evaluations.
constexpr double unknown_cost_per_sample = 2000;

namespace detail {

inline long clock_ns(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return now.tv_sec * 1000000000L + now.tv_nsec;
}

// Whether threads have paid lately on this machine, measured on every team: after a team that
// did not (a busy machine), the default runs on one thread until `until` (monotonic clock,
// ns): for 50 ms, then twice as long each time up to 2 s; a team that pays resets the pause.
// So under lasting load one solve every 2 s tries threads again and may lose to one thread.
struct ThreadsPaid {
  static constexpr long first_pause = 50000000, longest_pause = 2000000000;
  std::atomic<long> until{0}, pause{first_pause};

  bool now() const { return clock_ns(CLOCK_MONOTONIC) >= until.load(std::memory_order_relaxed); }

  // A team of threads took `wall` ns for work that took its threads `cpu` ns of CPU time in
  // all: the time one thread running undisturbed would have taken. A team pays when it is
  // clearly faster. (On a busy 2-core machine the helper's wake-up often preempts the caller,
  // which then waits a scheduler slice to run again: in a probe the helper did all 1.2 ms of
  // the work while the caller was off the CPU, 5.5 ms in all; one thread took 1.2 ms mostly.)
  void record(long wall, long cpu) {
    if (wall <= 0.8 * static_cast<double>(cpu)) {
      pause.store(first_pause, std::memory_order_relaxed);
      return;
    }
    const long p = pause.load(std::memory_order_relaxed);
    until.store(clock_ns(CLOCK_MONOTONIC) + p, std::memory_order_relaxed);
    pause.store(std::min(2 * p, longest_pause), std::memory_order_relaxed);
  }
};

inline ThreadsPaid& threads_paid() {
  static ThreadsPaid record;
  return record;
}

}  // namespace detail

// The threads a solve of `count` samples runs on. num_threads > 0 is the caller's choice;
// otherwise (the default) as many as the work pays for: one per min_work_per_thread of
// count * cost_per_sample (multiply-adds), at most omp_get_max_threads() (OMP_NUM_THREADS),
// and one while the last teams did not pay (detail::ThreadsPaid).
// Never more than the cores this process may run on (affinity and cgroup quota, cores.hpp)
// nor than there are samples: more threads than cores would only wait for each other, and
// where the process limit is low, asking OpenMP for them ends the process ("libgomp: Thread
// creation failed"). Which threads solve which samples never changes a result.
inline int thread_count(int num_threads, long count,
                        double cost_per_sample = unknown_cost_per_sample) {
  long wanted = num_threads;
  if (num_threads <= 0) {
    const double work = static_cast<double>(count) * cost_per_sample;
    const double pays = std::floor(work / min_work_per_thread);
    wanted = pays < 2 || !detail::threads_paid().now()
                 ? 1
                 : std::min(static_cast<long>(omp_get_max_threads()),
                            static_cast<long>(std::min(pays, 1e6)));
  }
  wanted = std::min(wanted, count);
  if (wanted <= 1) return 1;  // the single-thread path asks the kernel nothing
  return static_cast<int>(std::max(1L, std::min(wanted, static_cast<long>(usable_cores()))));
}

// Runs thread_work(take) on each of thread_count(num_threads, count, cost_per_sample)
// threads, where take() returns the next unclaimed sample index in [0, count), or -1 when
// none is left. A team's times go to detail::threads_paid(). An exception thrown on a thread
// (only ever std::bad_alloc) is rethrown after the region.
template <class ThreadWork>
void parallel_over_samples(long count, int num_threads, ThreadWork&& thread_work,
                           double cost_per_sample = unknown_cost_per_sample) {
  const int threads = thread_count(num_threads, count, cost_per_sample);
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
  long cpu = 0;
  const long start = detail::clock_ns(CLOCK_MONOTONIC);
#pragma omp parallel num_threads(threads)
  {
    const long cpu_start = detail::clock_ns(CLOCK_THREAD_CPUTIME_ID);
    try {
      thread_work(take);
    } catch (...) {
#pragma omp critical(neuralode_error)
      if (!error) error = std::current_exception();
      next.store(count);  // the other threads stop taking work
    }
    const long used = detail::clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
#pragma omp atomic
    cpu += used;
  }
  detail::threads_paid().record(detail::clock_ns(CLOCK_MONOTONIC) - start, cpu);
  if (error) std::rethrow_exception(error);
}

}  // namespace neuralode
