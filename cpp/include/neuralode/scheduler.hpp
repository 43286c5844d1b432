#pragma once
// The lane scheduler: which sample each of L lanes works on. It hands idle lanes new samples,
// ends a lane's sample with a Status (NaN outputs past a failure, the result recorded) and
// stops every lane when the solve is interrupted. It knows nothing of steps.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>

#include "controller.hpp"
#include "lanes.hpp"
#include "stepper.hpp"

namespace neuralode {

// One lane's sample: where it is and where its outputs go.
template <class Real>
struct LaneState {
  bool active = false;
  long id = 0;
  OutputGrid<Real> grid;
  long next = 0;  // next output row to write
  double t = 0, t_end = 0, direction = 1;
  SampleResult result;

  // The end of the next step: t_end, or the next output time when stopping there.
  double target(bool stop_at_outputs) const { return stop_at_outputs ? grid.time(next) : t_end; }

  // Steps under ten units in the last place of t make no progress: below it the step size
  // has underflowed (adaptive) or is rounded away (fixed).
  double smallest_step() const {
    return 10 * std::abs(std::nextafter(t, direction * INFINITY) - t);
  }
  // At least smallest_step(), without its libm call: an ulp of t is at most |t| 2^-52 above
  // the subnormals (11 rather than 10 of them covers the rounding of the product).
  double smallest_step_bound() const { return 11 * (std::abs(t) * 0x1p-52) + 1e-300; }

  // Whether an output time lies strictly before t_new (dense output is needed for it).
  bool output_before(double t_new) const { return direction * (grid.time(next) - t_new) < 0; }
};

// Whether the solve is to stop (options.poll is asked first). Out of line on purpose:
// inlined into the step loop, its atomic operations made GCC compile that loop twice over
// (twice the code, 5% slower).
__attribute__((noinline)) inline bool stop_requested(const SolverOptions& options) {
  if (!options.stop) return false;
  if (options.poll && options.poll(options.poll_context))
    options.stop->store(true, std::memory_order_relaxed);
  return options.stop->load(std::memory_order_relaxed);
}

// NextProblem: bool(SampleProblem&), false when none is left. Record: void(long id, const
// SampleResult&). Hooks: started(id, lane) and finished(id, lane), see integrate.hpp.
template <int L, class Real, class NextProblem, class Record, class Hooks>
class LaneScheduler {
 public:
  using Mask = std::array<std::uint64_t, L>;  // all ones for the lanes concerned

  LaneScheduler(const SolverOptions& options, int dim, StepWorkspace<L, Real>& ws,
                NextProblem& next_problem, Record& record, Hooks& hooks)
      : options_(options), dim_(dim), ws_(ws), next_problem_(next_problem), record_(record),
        hooks_(hooks) {}

  LaneState<Real>& operator[](int l) { return lanes_[l]; }
  const LaneState<Real>& operator[](int l) const { return lanes_[l]; }

  // Gives idle lanes new samples, their y0 into ws.y and output row 0; `fresh` marks the lanes
  // that took one (f(t0, y0) and a first step still to find). False once every lane is idle
  // and no sample is left.
  bool refill(Mask& fresh) {
    bool any_active = false;
    fresh.fill(0);
    for (int l = 0; l < L; ++l) {
      LaneState<Real>& lane = lanes_[l];
      SampleProblem<Real> problem;
      while (!lane.active && next_problem_(problem)) {
        lane = LaneState<Real>{};
        lane.id = problem.id;
        hooks_.started(problem.id, l);
        lane.grid = problem.grid;
        lane.t = lane.result.t_reached = problem.grid.time(0);
        for (int d = 0; d < dim_; ++d) ws_.y[d * L + l] = problem.y0[d];
        if (lane.grid.ys) std::copy(problem.y0, problem.y0 + dim_, lane.grid.row(0));
        lane.next = 1;
        lane.active = true;
        if (lane.grid.count == 1) {
          finish(l, Status::success);
          continue;
        }
        lane.t_end = lane.grid.time(lane.grid.count - 1);
        lane.direction = lane.t_end > lane.t ? 1.0 : -1.0;
        fresh[l] = ~std::uint64_t{0};
      }
      any_active = any_active || lane.active;
    }
    return any_active;
  }

  // Ends lane l's sample: outputs not reached are NaN unless it succeeded.
  void finish(int l, Status status) {
    LaneState<Real>& lane = lanes_[l];
    lane.result.status = status;
    for (long i = lane.next; status != Status::success && lane.grid.ys && i < lane.grid.count; ++i)
      std::fill(lane.grid.row(i), lane.grid.row(i) + dim_, std::numeric_limits<Real>::quiet_NaN());
    record_(lane.id, lane.result);
    hooks_.finished(lane.id, l);
    lane.active = false;
  }

  // Asked once per round of steps; looks at the stop flag every fourth time.
  bool interrupted() {
    if (++rounds_since_check_ < 4) return false;
    rounds_since_check_ = 0;
    return stop_requested(options_);
  }

  // After an interruption: the lanes left mid-sample end as interrupted.
  void abandon() {
    for (int l = 0; l < L; ++l)
      if (lanes_[l].active) finish(l, Status::interrupted);
  }

 private:
  const SolverOptions& options_;
  const int dim_;
  StepWorkspace<L, Real>& ws_;
  NextProblem& next_problem_;
  Record& record_;
  Hooks& hooks_;
  std::array<LaneState<Real>, L> lanes_;
  int rounds_since_check_ = 0;
};

}  // namespace neuralode
