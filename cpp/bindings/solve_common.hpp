#pragma once
// What the solve and gradient bindings share: per-sample outputs and grids, the queue that
// hands samples to lanes, and the runs of a lane system over a batch.
#include <pybind11/numpy.h>

#include <cstring>
#include <functional>
#include <type_traits>
#include <neuralode/batch.hpp>
#include <neuralode/integrate.hpp>
#include <neuralode/rhs.hpp>
#include <neuralode/simd.hpp>
#include <neuralode/tableau.hpp>
#include <string>
#include <utility>

#include "array_checks.hpp"
#include "interrupt.hpp"
#include "options.hpp"

namespace neuralode::bindings {

namespace py = pybind11;

// Outputs of a batch solve, allocated before the GIL is released; threads write through the
// raw pointers, each to its own sample's entries. stats columns: nfe, n_steps, n_accepted,
// n_rejected. Bound as _core.SolveResult (ys, status, t_reached, stats, failed), and for
// float32 states as _core.SolveResult32.
template <class Real>
struct BatchResult {
  ArrayOf<Real> ys;
  py::array_t<int> status;
  Array t_reached;
  py::array_t<long> stats;
  Real* ys_data;
  int* status_data;
  double* t_reached_data;
  long* stats_data;

  // times == 0: no states are kept (grid rows go nowhere).
  BatchResult(long samples, long times, long dim)
      : ys({times, samples, dim}), status(samples), t_reached(samples), stats({samples, 4L}),
        ys_data(times > 0 ? ys.mutable_data() : nullptr), status_data(status.mutable_data()),
        t_reached_data(t_reached.mutable_data()), stats_data(stats.mutable_data()) {}

  void record(long b, const SampleResult& r) {
    status_data[b] = static_cast<int>(r.status);
    t_reached_data[b] = r.t_reached;
    long* row = stats_data + 4 * b;
    row[0] = r.stats.nfe;
    row[1] = r.stats.n_steps;
    row[2] = r.stats.n_accepted;
    row[3] = r.stats.n_rejected;
  }

  long failed() const {
    long count = 0;
    for (long b = 0; b < status.size(); ++b) count += status_data[b] != 0;
    return count;
  }

};

// Where sample b's times and states live: t is (1, T) shared or (B, T) per sample.
template <class Real>
OutputGrid<Real> grid_of(const double* t, long t_rows, long times, const BatchResult<Real>& out,
                         long b, long samples, long dim) {
  const long t_row = t_rows == 1 ? 0 : b;
  return OutputGrid<Real>{t + t_row * times, 1, times,
                          out.ys_data ? out.ys_data + b * dim : nullptr, samples * dim};
}

// Hands out samples [0, count) through `take`, with their initial values and output rows.
template <class Take, class Real>
struct ProblemQueue {
  Take& take;
  const Real* y0;
  const double* t;
  long t_rows, times, samples, dim;
  const BatchResult<Real>& out;
  bool operator()(SampleProblem<Real>& problem) {
    const long b = take();
    if (b < 0) return false;
    problem = SampleProblem<Real>{b, y0 + b * dim, grid_of(t, t_rows, times, out, b, samples, dim)};
    return true;
  }
};

// Hands the rows of y0 (B, state) with their grids t (1 or B, T) to OpenMP threads; each
// thread calls work(lanes, queue), lanes a std::integral_constant: Widest lanes (a vector of
// them: 8 doubles, 16 floats) when every thread gets two rounds of them or more, 4 when it
// gets a few samples, else 1, so that lanes are seldom idle and threads finish together.
// Results do not depend on the choice. Call without the GIL.
template <int Widest, class Real, class Work>
void solve_on_lanes(const Real* y0, long state, const Array& t, int num_threads,
                    BatchResult<Real>& out, Work&& work, double cost = 0) {  // 0: from state
  const long samples = out.status.size(), t_rows = t.shape(0), times = t.shape(1);
  const double* t_p = t.data();
  const long threads = thread_count(num_threads, samples, cost > 0 ? cost : 3 * solve_cost(state));
  const long per_thread = (samples + threads - 1) / threads;
  parallel_over_samples(samples, static_cast<int>(threads), [&](auto take) {
    using Take = std::function<long()>;
    Take take_fn = take;
    ProblemQueue<Take, Real> queue{take_fn, y0, t_p, t_rows, times, samples, state, out};
    if (per_thread >= 2 * Widest)
      work(std::integral_constant<int, Widest>{}, queue);
    else if (per_thread >= 4)
      work(std::integral_constant<int, 4>{}, queue);
    else
      work(std::integral_constant<int, 1>{}, queue);
  });
}

// Lanes that must know which lanes hold a sample (a batched Python f is given the active
// samples only) have set_active(lane, bool); the integrator's started and finished hooks
// tell them, beside the hooks of the gradient mode.
template <class System, class = void>
struct tracks_lanes : std::false_type {};
template <class System>
struct tracks_lanes<System,
                    std::void_t<decltype(std::declval<System&>().lanes.set_active(0, true))>>
    : std::true_type {};

template <class Hooks, class System>
struct LaneTracking {
  using Real = typename System::Real;
  Hooks& hooks;
  System& system;
  template <int L, class R>
  bool at_output(long id, long i, R* s, int l) {
    return hooks.template at_output<L, R>(id, i, s, l);
  }
  template <int L, class R>
  void accepted(long id, double t, double h, const R* y, const LaneBlocks<L, R>& k, int l) {
    hooks.template accepted<L, R>(id, t, h, y, k, l);
  }
  template <int L, class R, class H = Hooks,
            std::enable_if_t<has_accepted_lanes<H, L, R>::value, int> = 0>
  void accepted_lanes(const std::array<std::uint64_t, L>& mask, const double* h,
                      const LaneBlocks<L, R>& k) {
    hooks.template accepted_lanes<L, R>(mask, h, k);
  }
  template <class H = Hooks, std::enable_if_t<has_after_accept<H, Real>::value, int> = 0>
  void after_accept(long id, const AcceptedStep<Real>& step, int l) {
    hooks.after_accept(id, step, l);
  }
  void started(long id, int l) {
    system.lanes.set_active(l, true);
    hooks.started(id, l);
  }
  void finished(long id, int l) {
    system.lanes.set_active(l, false);
    hooks.finished(id, l);
  }
};

template <int L, class System, class Queue, class Out, class Hooks>
void integrate_queue_here(System& system, const ButcherTableau& tableau,
                          const SolverOptions& options, Queue& queue, Out& out, Hooks& hooks) {
  StepWorkspace<L, typename System::Real> ws;
  auto record = [&](long id, const SampleResult& r) { out.record(id, r); };
  const int dim = static_cast<int>(queue.dim);
  if constexpr (tracks_lanes<System>::value) {
    LaneTracking<Hooks, System> tracking{hooks, system};
    integrate_lanes<L>(system, tableau, options, dim, ws, queue, record, tracking);
  } else {
    integrate_lanes<L>(system, tableau, options, dim, ws, queue, record, hooks);
  }
}

template <int L, class System, class Queue, class Out, class Hooks>
NEURALODE_SIMD_CLONES void integrate_queue_simd(System& system, const ButcherTableau& tableau,
                                                const SolverOptions& options, Queue& queue,
                                                Out& out, Hooks& hooks) {
  integrate_queue_here<L>(system, tableau, options, queue, out, hooks);
}

// Integrates `system` over the samples `queue` hands out, on L lanes, with `hooks`; compiled
// per instruction set for systems that ask for it (stepper.hpp, is_simd_rhs).
template <int L, class System, class Queue, class Out, class Hooks>
void integrate_queue(System& system, const ButcherTableau& tableau, const SolverOptions& options,
                     Queue& queue, Out& out, Hooks&& hooks) {
  if constexpr (is_simd_rhs<System>::value)
    integrate_queue_simd<L>(system, tableau, options, queue, out, hooks);
  else
    integrate_queue_here<L>(system, tableau, options, queue, out, hooks);
}

// Runs work(lanes, queue) over the samples of `out` (initial states s0, rows of `state`
// values; grids t): for a right-hand side R that allows it, on OpenMP threads without the
// GIL, Ctrl-C watched (solve_on_lanes); otherwise on this thread, in a lane group as wide
// as R takes and the batch needs (a batched Python f is called once per stage for it).
// cost: one sample's estimated work (batch.hpp), 0 to guess it from the state size.
template <class R, class Work>
void run_on_lanes(const R&, const typename R::Real* s0, long state, const Array& t,
                  SolverOptions& options, int num_threads, BatchResult<typename R::Real>& out,
                  Work&& work, double cost = 0) {
  using Real = typename R::Real;
  if constexpr (R::threads) {
    run_interruptibly(&options, [&](InterruptWatch&) {
      solve_on_lanes<R::max_lanes>(s0, state, t, num_threads, out, work, cost);
    });
  } else {
    const long samples = out.status.size();
    long next = 0;
    std::function<long()> take = [&]() -> long { return next < samples ? next++ : -1; };
    ProblemQueue<std::function<long()>, Real> queue{take,       s0,      t.data(), t.shape(0),
                                                    t.shape(1), samples, state,    out};
    constexpr int widest = R::max_lanes;
    if constexpr (widest == 1)
      work(std::integral_constant<int, 1>{}, queue);
    else if (samples <= 16)
      work(std::integral_constant<int, std::min(16, widest)>{}, queue);
    else if (samples <= 128)
      work(std::integral_constant<int, std::min(128, widest)>{}, queue);
    else
      work(std::integral_constant<int, widest>{}, queue);
  }
}

}  // namespace neuralode::bindings
