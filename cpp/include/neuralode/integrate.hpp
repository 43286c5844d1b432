#pragma once
// The integration loops, fixed-step and adaptive, over L lanes: each lane solves one sample
// from t[0] to t[T-1] (either direction) with its own steps, writes the state at every
// requested time and counts its own work; a lane that finishes takes the next sample.
// Numerical failure ends a lane with a Status, never an exception; exceptions from `rhs`
// (a Python callable) propagate.
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "controller.hpp"
#include "dense_output.hpp"
#include "lanes.hpp"
#include "stepper.hpp"
#include "tableau.hpp"

namespace neuralode {

// With options.stop_at_outputs every step ends on or before the next output time, and
// hooks.at_output(sample id, output index, y, lane) may change lane's state there (the
// jumps of the adjoint); it returns whether it did, so that f is evaluated anew.
// hooks.accepted(sample id, t, h, y, k, lane) sees every accepted step before the lane moves
// on: y its start, k its stages (block i = stage i), both component-major (gradient tapes).
// hooks.started(sample id, lane) is told which sample a lane takes, before f is evaluated.
struct NoHooks {
  template <int L>
  bool at_output(long, long, double*, int) { return false; }
  template <int L>
  void accepted(long, double, double, const double*, const LaneBlocks<L>&, int) {}
  void started(long, int) {}
  void finished(long, int) {}
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

// Rhs: rhs(const double* t /*[L]*/, const double* y /*[dim][L]*/, double* dy /*[dim][L]*/)
// evaluates f for all L lanes at once, and rhs.one(lane, t, y /*[dim]*/, dy /*[dim]*/) for
// the sample in one lane with the same arithmetic (to start samples one lane at a time). NextProblem: bool(SampleProblem&), false when none is
// left. Record: void(long id, const SampleResult&).
template <int L, class Rhs, class NextProblem, class Record, class Hooks>
class LaneIntegrator {
 public:
  LaneIntegrator(Rhs& rhs, const ButcherTableau& tableau, const SolverOptions& options, int dim,
                 StepWorkspace<L>& ws, NextProblem& next_problem, Record& record, Hooks& hooks)
      : rhs_(rhs), tableau_(tableau), options_(options), dim_(dim), ws_(ws),
        next_problem_(next_problem), record_(record), hooks_(hooks),
        controller_(tableau.error_order),
        inputs_(options.input_components > 0 ? std::min(options.input_components, dim) : dim),
        errors_(options.norm_components > 0 ? std::min(options.norm_components, dim) : dim) {
    ws_.resize(dim, tableau.stages);
  }

  void run() {
    while (refill()) {
      if (++steps_since_check_ >= 4) {
        steps_since_check_ = 0;
        if (stop_requested(options_)) break;
      }
      if (tableau_.adaptive())
        adaptive_step();
      else
        fixed_step();
    }
    for (int l = 0; l < L; ++l)  // only after an interruption: lanes left mid-sample
      if (lanes_[l].active) finish(l, Status::interrupted);
  }

 private:
  struct Lane {
    bool active = false;
    bool fresh = false;        // just started: needs f(t0, y0) and a first step
    bool rejected = false;     // adaptive: the current step was rejected before
    bool last_failure_non_finite = false;
    long id = 0;
    OutputGrid grid;
    long next = 0;             // next output row to write
    double t = 0, t_end = 0, direction = 1;
    double h = 0;              // adaptive: size of the next step to try
    bool cut = false;          // adaptive: the step in flight was cut short to end on a stop
    long step_index = 0;       // fixed: steps taken
    SampleResult result;
  };

  Rhs& rhs_;
  const ButcherTableau& tableau_;
  const SolverOptions& options_;
  const int dim_;
  StepWorkspace<L>& ws_;
  NextProblem& next_problem_;
  Record& record_;
  Hooks& hooks_;
  const StepController controller_;
  const int inputs_, errors_;  // rows f reads, rows the error norm reads
  std::array<Lane, L> lanes_;
  // Per lane: time, signed step and end of the current attempt (idle lanes: h = 0).
  std::array<double, L> t_{}, h_{}, t_new_{};
  std::array<bool, L> reaches_grid_{};  // fixed: the step ends on the regular step_size grid
  std::array<bool, L> finite_{};        // the attempt's y_new is finite
  std::array<std::uint64_t, L> accepted_{};  // all ones for the lanes whose step is accepted
  int steps_since_check_ = 0;

  void finish(int l, Status status) {
    Lane& lane = lanes_[l];
    lane.result.status = status;
    for (long i = lane.next; status != Status::success && lane.grid.ys && i < lane.grid.count; ++i)
      std::fill(lane.grid.row(i), lane.grid.row(i) + dim_, std::numeric_limits<double>::quiet_NaN());
    record_(lane.id, lane.result);
    hooks_.finished(lane.id, l);
    lane.active = false;
  }

  // Gives idle lanes new samples; false once every lane is idle and no sample is left.
  bool refill() {
    bool any_active = false, any_fresh = false;
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      SampleProblem problem;
      while (!lane.active && next_problem_(problem)) {
        lane = Lane{};
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
        lane.fresh = true;
        any_fresh = true;
      }
      any_active = any_active || lane.active;
      t_[l] = lane.t;
      h_[l] = 0;
    }
    if (any_fresh) start_fresh_lanes();
    return any_active;
  }

  // Evaluates f for lane l alone (only the components f reads are gathered).
  void evaluate_lane(int l, double t, const double* y, double* dy) {
    for (int d = 0; d < inputs_; ++d) ws_.one_y[d] = y[d * L + l];
    rhs_.one(l, t, ws_.one_y.data(), ws_.one_f.data());
    for (int d = 0; d < dim_; ++d) dy[d * L + l] = ws_.one_f[d];
  }

  // dy = f(t, y) for the lanes in `mask`, other lanes' dy untouched (the same arithmetic per
  // lane either way). Up to half the lanes are evaluated one by one: a one-lane network
  // evaluation costs a fifth of an all-lane one or less, and in a large batch lanes finish
  // and take new samples (two evaluations each) one to four at a time. More go all at once.
  void evaluate_masked(const std::array<std::uint64_t, L>& mask, const std::array<double, L>& t,
                       const double* y, double* dy) {
    int count = 0;
    for (int l = 0; l < L; ++l) count += mask[l] != 0;
    if (count <= std::max(1, L / 2)) {
      for (int l = 0; l < L; ++l)
        if (mask[l]) evaluate_lane(l, t[l], y, dy);
    } else {
      rhs_(t.data(), y, ws_.stage);
      lane::copy_masked<L>(mask, ws_.stage, dy, dim_);
    }
  }

  // f(t0, y0) into stage block 0 for each fresh lane and, for adaptive methods, its first
  // step (Hairer's probe needs f at a second point).
  void start_fresh_lanes() {
    double* f0 = ws_.k.block(0);
    std::array<std::uint64_t, L> fresh{}, probe{};
    std::array<double, L> t_probe = t_, h0{}, d1{};
    for (int l = 0; l < L; ++l) {
      if (!lanes_[l].fresh) continue;
      lanes_[l].fresh = false;
      ++lanes_[l].result.stats.nfe;
      fresh[l] = ~std::uint64_t{0};
    }
    evaluate_masked(fresh, t_, ws_.y, f0);
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      if (!fresh[l]) continue;
      if (!lane::lane_finite<L>(f0, dim_, l)) {
        finish(l, Status::non_finite_state);
        continue;
      }
      if (!tableau_.adaptive()) continue;
      const double interval = std::abs(lane.t_end - lane.t);
      if (options_.first_step > 0) {
        lane.h = std::min(options_.first_step, interval);
        continue;
      }
      d1[l] = detail::scaled_rms<L>(f0, ws_.y, dim_, l, options_);
      h0[l] = StepController::probe_step(detail::scaled_rms<L>(ws_.y, ws_.y, dim_, l, options_),
                                         d1[l], interval);
      const double step = h0[l] * lane.direction;
      for (int d = 0; d < dim_; ++d) {
        const int i = d * L + l;
        ws_.scratch_y[i] = ws_.y[i] + step * f0[i];
      }
      ++lane.result.stats.nfe;
      t_probe[l] = lane.t + step;
      probe[l] = ~std::uint64_t{0};
    }
    evaluate_masked(probe, t_probe, ws_.scratch_y, ws_.scratch_f);
    for (int l = 0; l < L; ++l) {
      if (!probe[l]) continue;
      Lane& lane = lanes_[l];
      for (int d = 0; d < dim_; ++d) {
        const int i = d * L + l;
        ws_.scratch_f[i] -= f0[i];
      }
      const double d2 = detail::scaled_rms<L>(ws_.scratch_f, ws_.y, dim_, l, options_) / h0[l];
      lane.h = controller_.initial_step(h0[l], d1[l], d2, std::abs(lane.t_end - lane.t),
                                        options_.max_step);
    }
  }

  // Writes lane l's states at output times in (t, t_new] from the step just taken.
  template <class Dense>
  void emit_outputs(int l, double t_new, Dense&& dense) {
    Lane& lane = lanes_[l];
    const double h = t_new - lane.t;
    if (!lane.grid.ys) {  // nothing to write: only move past the outputs
      while (lane.next < lane.grid.count &&
             lane.direction * (lane.grid.time(lane.next) - t_new) <= 0)
        ++lane.next;
      return;
    }
    for (; lane.next < lane.grid.count &&
           lane.direction * (lane.grid.time(lane.next) - t_new) <= 0;
         ++lane.next) {
      const double t_out = lane.grid.time(lane.next);
      double* row = lane.grid.row(lane.next);
      if (t_out == t_new)
        for (int d = 0; d < dim_; ++d) row[d] = ws_.y_new[d * L + l];
      else
        dense((t_out - lane.t) / h, h, row);
    }
  }

  // Moves the lanes in accepted_ to the end of their steps: y_new into y and f there into
  // stage block 0, all lanes at once; then each lane's time, the hooks at an output time
  // it stopped on (f anew where they changed the state), and the end of the lane.
  void advance_accepted(const double* f_new) {
    lane::copy_masked<L>(accepted_, ws_.y_new, ws_.y, dim_);
    lane::copy_masked<L>(accepted_, f_new, ws_.k.block(0), dim_);
    std::array<std::uint64_t, L> jumped{};
    for (int l = 0; l < L; ++l) {
      if (!accepted_[l]) continue;
      Lane& lane = lanes_[l];
      const double t_new = lane.t = lane.result.t_reached = t_new_[l];
      if (options_.stop_at_outputs && t_new == lane.grid.time(lane.next - 1) &&
          hooks_.template at_output<L>(lane.id, lane.next - 1, ws_.y, l) &&
          lane.next < lane.grid.count) {
        ++lane.result.stats.nfe;  // the state jumped: f there is new
        jumped[l] = ~std::uint64_t{0};
      }
      if (lane.next >= lane.grid.count) finish(l, Status::success);
    }
    evaluate_masked(jumped, t_new_, ws_.y, ws_.k.block(0));
  }

  // The end of lane l's next step: t_end, or the next output time when stopping there.
  double step_target(const Lane& lane) const {
    return options_.stop_at_outputs ? lane.grid.time(lane.next) : lane.t_end;
  }

  // Steps under ten units in the last place of lane l's t make no progress: below it the
  // step size has underflowed (adaptive) or is rounded away (fixed).
  static double smallest_step(const Lane& lane) {
    return 10 * std::abs(std::nextafter(lane.t, lane.direction * INFINITY) - lane.t);
  }

  // The work of one attempted step: its stages after the first (which is known on entry).
  SampleStats& count_attempt(Lane& lane) const {
    lane.result.stats.nfe += tableau_.stages - 1;
    ++lane.result.stats.n_steps;
    return lane.result.stats;
  }

  // One attempted step of every active lane of an embedded pair.
  void adaptive_step() {
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      if (!lane.active) continue;
      lane.h = std::min(lane.h, options_.max_step);
      // Steps under ten units in the last place of t make no progress: the step size has
      // underflowed. Where |t| is large an interval may itself be that short: a target
      // closer than that is tried once in one step.
      const double min_step = smallest_step(lane);
      const double target = step_target(lane);
      const double remaining = std::abs(target - lane.t);
      if (lane.h < min_step && remaining <= min_step && !lane.rejected) lane.h = remaining;
      if (lane.h < min_step && lane.h < remaining) {
        finish(l, lane.last_failure_non_finite ? Status::non_finite_state
                                               : Status::step_size_underflow);
        continue;
      }
      if (lane.result.stats.n_steps >= options_.max_steps) {
        finish(l, Status::max_steps_reached);
        continue;
      }
      double t_new = lane.t + lane.direction * lane.h;
      lane.cut = lane.direction * (t_new - target) > 0;
      if (lane.cut) t_new = target;
      h_[l] = t_new - lane.t;
      t_new_[l] = t_new;
    }
    take_step<L>(rhs_, tableau_, t_, h_, ws_, inputs_, errors_);
    const int last = tableau_.stages - 1;
    // The next step and Hermite output need f at the new point (free for FSAL methods).
    if (!tableau_.fsal()) rhs_(t_new_.data(), ws_.y_new, ws_.k.block(last));
    const double* f_new = ws_.k.block(last);
    lane::lanes_finite<L>(ws_.y_new, dim_, finite_);
    accepted_.fill(0);
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      if (!lane.active) continue;
      SampleStats& stats = count_attempt(lane);
      const double err = detail::error_norm<L>(ws_.error, ws_.y, ws_.y_new, dim_, l, options_);
      const bool finite = std::isfinite(err) && finite_[l];
      if (!(finite && err <= 1)) {
        ++stats.n_rejected;
        lane.h = std::abs(h_[l]) * controller_.rejected_factor(finite ? err : INFINITY);
        lane.rejected = true;
        lane.last_failure_non_finite = !finite;
        continue;
      }
      ++stats.n_accepted;
      if (!tableau_.fsal()) ++stats.nfe;
      lane.h = controller_.next_step(std::abs(h_[l]), lane.h, err, lane.rejected, lane.cut);
      lane.rejected = lane.last_failure_non_finite = false;
      const double t_new = t_new_[l];
      hooks_.template accepted<L>(lane.id, lane.t, h_[l], ws_.y, ws_.k, l);
      emit_outputs(l, t_new, [&](double theta, double h, double* out) {
        if (tableau_.dense_degree > 0)
          dense_polynomial<L>(tableau_, theta, h, ws_.y, ws_.k.block(0), dim_, l, out);
        else
          dense_hermite<L>(theta, h, ws_.y, ws_.y_new, ws_.k.block(0), f_new, dim_, l, out);
      });
      accepted_[l] = ~std::uint64_t{0};
    }
    advance_accepted(f_new);
  }

  // One step of every active lane of a fixed-step method: by `step_size` (the last step
  // clipped to the end) or to the next output time. Output inside a step is cubic Hermite.
  void fixed_step() {
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      if (!lane.active) continue;
      if (lane.result.stats.n_steps >= options_.max_steps) {
        finish(l, Status::max_steps_reached);
        continue;
      }
      // A step under smallest_step is rounded to 0 or to a multiple of the ulp of t, and the
      // method no longer solves the problem it was given.
      if (options_.step_size > 0 && options_.step_size < smallest_step(lane)) {
        finish(l, Status::step_size_underflow);
        continue;
      }
      double t_new;
      reaches_grid_[l] = true;
      if (options_.step_size == 0) {
        t_new = lane.grid.time(lane.next);
      } else {
        const double h_fixed = lane.direction * options_.step_size;
        t_new = lane.grid.time(0) + static_cast<double>(lane.step_index + 1) * h_fixed;
        // Land exactly on the end (or a stop) instead of leaving a sliver step to rounding;
        // a step cut short at a stop leaves the regular grid point still to reach.
        const double target = step_target(lane);
        const double ahead = lane.direction * (t_new - target);
        if (ahead >= -1e-10 * options_.step_size) {
          reaches_grid_[l] = ahead <= 1e-10 * options_.step_size;
          t_new = target;
        }
      }
      h_[l] = t_new - lane.t;
      t_new_[l] = t_new;
    }
    take_step<L>(rhs_, tableau_, t_, h_, ws_, inputs_, errors_);
    // f at the step's end: the next step's first stage and the Hermite output's slope. A
    // sample's last step needs it only for outputs inside the step; a sample whose state is
    // no longer finite ends here.
    lane::lanes_finite<L>(ws_.y_new, dim_, finite_);
    std::array<std::uint64_t, L> needs_end{};
    for (int l = 0; l < L; ++l) {
      const Lane& lane = lanes_[l];
      if (lane.active && finite_[l] &&
          (t_new_[l] != lane.t_end ||
           lane.direction * (lane.grid.time(lane.next) - t_new_[l]) < 0))
        needs_end[l] = ~std::uint64_t{0};
    }
    evaluate_masked(needs_end, t_new_, ws_.y_new, ws_.scratch_f);
    accepted_.fill(0);
    for (int l = 0; l < L; ++l) {
      Lane& lane = lanes_[l];
      if (!lane.active) continue;
      SampleStats& stats = count_attempt(lane);
      ++stats.n_accepted;
      if (reaches_grid_[l]) ++lane.step_index;
      if (!finite_[l]) {
        finish(l, Status::non_finite_state);
        continue;
      }
      const double t_new = t_new_[l];
      hooks_.template accepted<L>(lane.id, lane.t, h_[l], ws_.y, ws_.k, l);
      if (needs_end[l]) ++stats.nfe;
      emit_outputs(l, t_new, [&](double theta, double h, double* out) {
        dense_hermite<L>(theta, h, ws_.y, ws_.y_new, ws_.k.block(0), ws_.scratch_f, dim_, l, out);
      });
      accepted_[l] = ~std::uint64_t{0};
    }
    advance_accepted(ws_.scratch_f);
  }

};

// Solves every problem `next_problem` hands out on L lanes, recording each result.
template <int L, class Rhs, class NextProblem, class Record, class Hooks = NoHooks>
void integrate_lanes(Rhs& rhs, const ButcherTableau& tableau, const SolverOptions& options,
                     int dim, StepWorkspace<L>& ws, NextProblem& next_problem, Record& record,
                     Hooks&& hooks = Hooks{}) {
  LaneIntegrator<L, Rhs, NextProblem, Record, std::remove_reference_t<Hooks>>(
      rhs, tableau, options, dim, ws, next_problem, record, hooks)
      .run();
}

}  // namespace neuralode
