#pragma once
// Step policies: how long each lane's next step is and whether the step just taken stands.
// The loop (integrate.hpp) asks every policy the same questions:
//   start(l)                  lane l took a new sample: forget the last one's steps.
//   begin(l, lane, ws, t1)    f(t0, y0) is in k block 0: pick the first step, or ask for f at
//                             one more point (t1, scratch_y) by returning true; then
//   after_probe(l, lane, ws)  with f there in scratch_f, pick it.
//   propose(l, lane, t_new)   the end of the next step, or a Status that ends the sample.
//   decide(l, lane, h, finite, ws)  accept, reject (retry from the same point) or fail.
// A new policy (a PI controller, say) is one more class here and a case in StepPolicy.
#include <algorithm>
#include <array>
#include <cmath>

#include "controller.hpp"
#include "scheduler.hpp"
#include "stepper.hpp"
#include "tableau.hpp"

namespace neuralode {

enum class Verdict { accept, reject, fail };  // fail: the state is no longer finite

// Embedded pairs: the step from the error estimate (controller.hpp), the first step by
// Hairer, Nørsett & Wanner §II.4 unless the user gave one.
template <int L, class Real>
class EmbeddedPairSteps {
 public:
  using State = LaneState<Real>;
  EmbeddedPairSteps(const ButcherTableau& tableau, const SolverOptions& options)
      : options_(options), controller_(tableau.error_order) {}

  void start(int l) { lanes_[l] = Lane{}; }

  bool begin(int l, const State& lane, StepWorkspace<L, Real>& ws, double& t_probe) {
    Lane& my = lanes_[l];
    const double interval = std::abs(lane.t_end - lane.t);
    if (options_.first_step > 0) {
      my.h = std::min(options_.first_step, interval);
      return false;
    }
    const Real* f0 = ws.k.block(0);
    const int dim = ws.dim;
    my.d1 = detail::scaled_rms<L>(f0, ws.y, dim, l, options_);
    my.h0 = StepController::probe_step(detail::scaled_rms<L>(ws.y, ws.y, dim, l, options_),
                                       my.d1, interval);
    const double step = my.h0 * lane.direction;
    const Real step_real = static_cast<Real>(step);
    for (int d = 0; d < dim; ++d) {
      const int i = d * L + l;
      ws.scratch_y[i] = ws.y[i] + step_real * f0[i];
    }
    t_probe = lane.t + step;
    return true;
  }

  // d2 = |f1 - f0| / h0 estimates f's second derivative.
  void after_probe(int l, const State& lane, StepWorkspace<L, Real>& ws) {
    Lane& my = lanes_[l];
    const Real* f0 = ws.k.block(0);
    for (int d = 0; d < ws.dim; ++d) {
      const int i = d * L + l;
      ws.scratch_f[i] -= f0[i];
    }
    const double d2 = detail::scaled_rms<L>(ws.scratch_f, ws.y, ws.dim, l, options_) / my.h0;
    my.h = controller_.initial_step(my.h0, my.d1, d2, std::abs(lane.t_end - lane.t),
                                    options_.max_step);
  }

  Status propose(int l, const State& lane, double& t_new) {
    Lane& my = lanes_[l];
    my.h = std::min(my.h, options_.max_step);
    const double target = lane.target(options_.stop_at_outputs);
    const double remaining = std::abs(target - lane.t);
    // Where |t| is large an interval may itself be shorter than smallest_step: a target
    // closer than that is tried once in one step. smallest_step is a libm call per lane and
    // step (a tenth of a float32 W2 solve): a step above its cheap bound needs none.
    if (my.h < lane.smallest_step_bound()) {
      const double min_step = lane.smallest_step();
      if (my.h < min_step && remaining <= min_step && !my.rejected) my.h = remaining;
      if (my.h < min_step && my.h < remaining)
        return my.last_failure_non_finite ? Status::non_finite_state
                                          : Status::step_size_underflow;
    }
    if (lane.result.stats.n_steps >= options_.max_steps) return Status::max_steps_reached;
    t_new = lane.t + lane.direction * my.h;
    my.cut = lane.direction * (t_new - target) > 0;
    if (my.cut) t_new = target;
    return Status::success;
  }

  Verdict decide(int l, const State&, double h, bool finite_state,
                 const StepWorkspace<L, Real>& ws) {
    Lane& my = lanes_[l];
    const double err = detail::error_norm<L>(ws.error, ws.y, ws.y_new, ws.dim, l, options_);
    const bool finite = std::isfinite(err) && finite_state;
    if (!(finite && err <= 1)) {
      my.h = std::abs(h) * controller_.rejected_factor(finite ? err : INFINITY);
      my.rejected = true;
      my.last_failure_non_finite = !finite;
      return Verdict::reject;
    }
    my.h = controller_.next_step(std::abs(h), my.h, err, my.rejected, my.cut);
    my.rejected = my.last_failure_non_finite = false;
    return Verdict::accept;
  }

 private:
  struct Lane {
    double h = 0;      // size of the next step to try
    double h0 = 0, d1 = 0;  // the initial step's probe
    bool rejected = false;  // the current step was rejected before
    bool last_failure_non_finite = false;
    bool cut = false;  // the step in flight was cut short to end on a stop
  };
  const SolverOptions& options_;
  const StepController controller_;
  std::array<Lane, L> lanes_;
};

// Fixed steps as a policy that accepts every finite step: by `step_size` on a regular grid
// from t0 (the last step clipped to the end), or from output time to output time.
template <int L, class Real>
class FixedSteps {
 public:
  using State = LaneState<Real>;
  explicit FixedSteps(const SolverOptions& options) : options_(options) {}

  void start(int l) { lanes_[l] = Lane{}; }
  bool begin(int, const State&, StepWorkspace<L, Real>&, double&) { return false; }
  void after_probe(int, const State&, StepWorkspace<L, Real>&) {}

  Status propose(int l, const State& lane, double& t_new) {
    Lane& my = lanes_[l];
    if (lane.result.stats.n_steps >= options_.max_steps) return Status::max_steps_reached;
    // A step under smallest_step is rounded to 0 or to a multiple of the ulp of t, and the
    // method no longer solves the problem it was given.
    if (options_.step_size > 0 && options_.step_size < lane.smallest_step())
      return Status::step_size_underflow;
    my.reaches_grid = true;
    if (options_.step_size == 0) {
      t_new = lane.grid.time(lane.next);
      return Status::success;
    }
    const double h_fixed = lane.direction * options_.step_size;
    t_new = lane.grid.time(0) + static_cast<double>(my.step_index + 1) * h_fixed;
    // Land exactly on the end (or a stop) instead of leaving a sliver step to rounding; a
    // step cut short at a stop leaves the regular grid point still to reach.
    const double target = lane.target(options_.stop_at_outputs);
    const double ahead = lane.direction * (t_new - target);
    if (ahead >= -1e-10 * options_.step_size) {
      my.reaches_grid = ahead <= 1e-10 * options_.step_size;
      t_new = target;
    }
    return Status::success;
  }

  Verdict decide(int l, const State&, double, bool finite_state, const StepWorkspace<L, Real>&) {
    if (lanes_[l].reaches_grid) ++lanes_[l].step_index;
    return finite_state ? Verdict::accept : Verdict::fail;
  }

 private:
  struct Lane {
    long step_index = 0;  // steps taken on the regular grid
    bool reaches_grid = false;  // the step in flight ends on the regular grid
  };
  const SolverOptions& options_;
  std::array<Lane, L> lanes_;
};

// The tableau's policy, picked at run time: one instantiation of the loop serves both (as a
// template parameter the loop was compiled twice over, +15% compile time for the same speed).
template <int L, class Real>
class StepPolicy {
 public:
  using State = LaneState<Real>;
  StepPolicy(const ButcherTableau& tableau, const SolverOptions& options)
      : adaptive_(tableau.adaptive()), embedded_(tableau, options), fixed_(options) {}

  void start(int l) { adaptive_ ? embedded_.start(l) : fixed_.start(l); }
  bool begin(int l, const State& lane, StepWorkspace<L, Real>& ws, double& t_probe) {
    return adaptive_ ? embedded_.begin(l, lane, ws, t_probe) : fixed_.begin(l, lane, ws, t_probe);
  }
  void after_probe(int l, const State& lane, StepWorkspace<L, Real>& ws) {
    adaptive_ ? embedded_.after_probe(l, lane, ws) : fixed_.after_probe(l, lane, ws);
  }
  Status propose(int l, const State& lane, double& t_new) {
    return adaptive_ ? embedded_.propose(l, lane, t_new) : fixed_.propose(l, lane, t_new);
  }
  Verdict decide(int l, const State& lane, double h, bool finite,
                 const StepWorkspace<L, Real>& ws) {
    return adaptive_ ? embedded_.decide(l, lane, h, finite, ws)
                     : fixed_.decide(l, lane, h, finite, ws);
  }

 private:
  const bool adaptive_;
  EmbeddedPairSteps<L, Real> embedded_;
  FixedSteps<L, Real> fixed_;
};

}  // namespace neuralode
