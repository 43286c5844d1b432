#pragma once
// The integration loop over L lanes: each lane solves one sample from t[0] to t[T-1] (either
// direction) with its own steps, writes the state at every requested time and counts its own
// work. Three parts, as Boost.Odeint and diffrax split it: the scheduler (scheduler.hpp)
// says which sample each lane works on, a step policy (step_policy.hpp) how long its steps
// are and whether they stand, the tableau's DenseOutput (dense_output.hpp) what lies between
// the ends of a step. One loop body serves fixed and adaptive steps:
//   propose -> step -> decide -> hooks -> commit.
// Numerical failure ends a lane with a Status, never an exception; exceptions from `rhs`
// (a Python callable) propagate.
#include <array>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "controller.hpp"
#include "dense_output.hpp"
#include "lanes.hpp"
#include "scheduler.hpp"
#include "step_policy.hpp"
#include "stepper.hpp"
#include "tableau.hpp"

namespace neuralode {

// An accepted step of one lane, as after_accept sees it: its start, size and dense output.
template <class Real>
struct AcceptedStep {
  double t, h;
  int dim;
  const DenseOutput& dense;
  StepPoints<Real> points;
  // The state at t + θh, 0 ≤ θ ≤ 1, into out[dim].
  void evaluate(double theta, Real* out) const { dense.evaluate(theta, h, points, dim, out); }
};

// With options.stop_at_outputs every step ends on or before the next output time, and
// hooks.at_output(sample id, output index, y, lane) may change lane's state there (the
// jumps of the adjoint); it returns whether it did, so that f is evaluated anew.
// hooks.accepted(sample id, t, h, y, k, lane) sees every accepted step before the lane moves
// on: y its start, k its stages (block i = stage i), both component-major (gradient tapes).
// hooks.after_accept(sample id, const AcceptedStep&, lane), optional, comes next, before the
// step's outputs are written (for events: they look inside the step by its dense output).
// hooks.started(sample id, lane) is told which sample a lane takes, before f is evaluated.
struct NoHooks {
  template <int L, class Real>
  bool at_output(long, long, Real*, int) { return false; }
  template <int L, class Real>
  void accepted(long, double, double, const Real*, const LaneBlocks<L, Real>&, int) {}
  template <class Real>
  void after_accept(long, const AcceptedStep<Real>&, int) {}
  void started(long, int) {}
  void finished(long, int) {}
};

// Hooks written before after_accept existed need not declare it.
template <class Hooks, class Real, class = void>
struct has_after_accept : std::false_type {};
template <class Hooks, class Real>
struct has_after_accept<Hooks, Real, std::void_t<decltype(std::declval<Hooks&>().after_accept(
                                         0L, std::declval<const AcceptedStep<Real>&>(), 0))>>
    : std::true_type {};

// hooks.accepted_lanes(mask, h, k), optional, sees a step's accepted lanes together (mask
// all ones for them, h per lane), before the accepted calls: work over all of them at once
// reads the stage blocks once, where lane by lane read a cache line per value.
template <class Hooks, int L, class Real, class = void>
struct has_accepted_lanes : std::false_type {};
template <class Hooks, int L, class Real>
struct has_accepted_lanes<
    Hooks, L, Real,
    std::void_t<decltype(std::declval<Hooks&>().template accepted_lanes<L, Real>(
        std::declval<const std::array<std::uint64_t, L>&>(), std::declval<const double*>(),
        std::declval<const LaneBlocks<L, Real>&>()))>> : std::true_type {};

// A right-hand side whose call costs the same for one lane as for all (a batched Python f:
// one call for the whole group) has rhs.masked(mask, t, y, dy), which evaluates the lanes in
// `mask` in one call and leaves the other lanes' dy as they are.
template <class Rhs, class Real, class = void>
struct evaluates_masked : std::false_type {};
template <class Rhs, class Real>
struct evaluates_masked<Rhs, Real, std::void_t<decltype(std::declval<Rhs&>().masked(
                                       std::declval<const std::uint64_t*>(),
                                       std::declval<const double*>(), std::declval<const Real*>(),
                                       std::declval<Real*>()))>>
    : std::true_type {};

// Rhs: rhs(const double* t /*[L]*/, const Real* y /*[dim][L]*/, Real* dy /*[dim][L]*/)
// evaluates f for all L lanes at once, and rhs.one(lane, t, y /*[dim]*/, dy /*[dim]*/) for
// the sample in one lane with the same arithmetic (to start samples one lane at a time).
// Real, the states' scalar type, is double or float; times are double.
template <int L, class Real, class Rhs, class NextProblem, class Record, class Hooks>
class LaneIntegrator {
  using Mask = std::array<std::uint64_t, L>;  // all ones for the lanes concerned
  static constexpr std::uint64_t all = ~std::uint64_t{0};

 public:
  LaneIntegrator(Rhs& rhs, const ButcherTableau& tableau, const SolverOptions& options, int dim,
                 StepWorkspace<L, Real>& ws, NextProblem& next_problem, Record& record, Hooks& hooks)
      : rhs_(rhs), tableau_(tableau), options_(options), dim_(dim), ws_(ws), hooks_(hooks),
        lanes_(options, dim, ws, next_problem, record, hooks), dense_(tableau),
        inputs_(options.input_components > 0 ? std::min(options.input_components, dim) : dim),
        errors_(options.norm_components > 0 ? std::min(options.norm_components, dim) : dim),
        integrated_(options.integrated_components > 0
                        ? std::min(options.integrated_components, dim) : dim) {
    ws_.resize(dim, tableau.stages);
  }

  void run() {
    StepPolicy<L, Real> policy(tableau_, options_);
    Mask fresh;
    while (lanes_.refill(fresh)) {
      for (int l = 0; l < L; ++l) {
        t_[l] = lanes_[l].t;
        h_[l] = 0;
      }
      start(policy, fresh);
      if (lanes_.interrupted()) break;
      attempt(policy);
    }
    lanes_.abandon();  // only after an interruption: lanes left mid-sample
  }

 private:
  Rhs& rhs_;
  const ButcherTableau& tableau_;
  const SolverOptions& options_;
  const int dim_;
  StepWorkspace<L, Real>& ws_;
  Hooks& hooks_;
  LaneScheduler<L, Real, NextProblem, Record, Hooks> lanes_;
  const DenseOutput dense_;
  const int inputs_, errors_;  // rows f reads, rows the error norm reads
  const int integrated_;       // rows integrated (the rest: f's records, in k only)
  // Per lane: time, signed step and end of the current attempt (idle lanes: h = 0).
  std::array<double, L> t_{}, h_{}, t_new_{};
  std::array<bool, L> finite_{};  // the attempt's y_new is finite
  Mask accepted_{};

  // Evaluates f for lane l alone (only the components f reads are gathered).
  void evaluate_lane(int l, double t, const Real* y, Real* dy) {
    for (int d = 0; d < inputs_; ++d) ws_.one_y[d] = y[d * L + l];
    rhs_.one(l, t, ws_.one_y.data(), ws_.one_f.data());
    for (int d = 0; d < dim_; ++d) dy[d * L + l] = ws_.one_f[d];
  }

  // dy = f(t, y) for the lanes in `mask`, other lanes' dy untouched (the same arithmetic per
  // lane either way). Up to four lanes (half of 8) are evaluated one by one: a one-lane
  // network evaluation costs a fifth of an all-lane one or less (one vector of lanes, 8
  // doubles or 16 floats, costs about the same either way), and in a large batch lanes
  // finish and take new samples (two evaluations each) one to four at a time. More go all
  // at once.
  void evaluate_masked(const Mask& mask, const std::array<double, L>& t, const Real* y,
                       Real* dy) {
    int count = 0;
    for (int l = 0; l < L; ++l) count += mask[l] != 0;
    if constexpr (evaluates_masked<Rhs, Real>::value) {
      if (count > 0) rhs_.masked(mask.data(), t.data(), y, dy);
      return;
    }
    if (count <= std::max(1, std::min(L / 2, 4))) {
      for (int l = 0; l < L; ++l)
        if (mask[l]) evaluate_lane(l, t[l], y, dy);
    } else {
      rhs_(t.data(), y, ws_.stage);
      lane::copy_masked<L>(mask, ws_.stage, dy, dim_);
    }
  }

  // The lanes that took a sample: f(t0, y0) into stage block 0 and their first step (for
  // which the policy may want f at one more point).
  void start(StepPolicy<L, Real>& policy, const Mask& fresh) {
    bool any = false;
    for (int l = 0; l < L; ++l) {
      if (!fresh[l]) continue;
      any = true;
      policy.start(l);
      ++lanes_[l].result.stats.nfe;
    }
    if (!any) return;
    Real* f0 = ws_.k.block(0);
    evaluate_masked(fresh, t_, ws_.y, f0);
    Mask probe{};
    std::array<double, L> t_probe = t_;
    for (int l = 0; l < L; ++l) {
      if (!fresh[l]) continue;
      LaneState<Real>& lane = lanes_[l];
      if (!lane::lane_finite<L>(f0, dim_, l)) {
        lanes_.finish(l, Status::non_finite_state);
        continue;
      }
      if (policy.begin(l, lane, ws_, t_probe[l])) {
        ++lane.result.stats.nfe;
        probe[l] = all;
      }
    }
    evaluate_masked(probe, t_probe, ws_.scratch_y, ws_.scratch_f);
    for (int l = 0; l < L; ++l)
      if (probe[l]) policy.after_probe(l, lanes_[l], ws_);
  }

  // One attempted step of every active lane.
  void attempt(StepPolicy<L, Real>& policy) {
    for (int l = 0; l < L; ++l) {  // propose
      LaneState<Real>& lane = lanes_[l];
      if (!lane.active) continue;
      double t_new = 0;
      const Status status = policy.propose(l, lane, t_new);
      if (status != Status::success) {
        lanes_.finish(l, status);
        continue;
      }
      h_[l] = t_new - lane.t;
      t_new_[l] = t_new;
    }
    take_step<L>(rhs_, tableau_, t_, h_, ws_, inputs_, errors_, integrated_);  // step
    lane::lanes_finite<L>(ws_.y_new, integrated_, finite_);
    accepted_.fill(0);
    for (int l = 0; l < L; ++l) {  // decide
      LaneState<Real>& lane = lanes_[l];
      if (!lane.active) continue;
      SampleStats& stats = lane.result.stats;
      stats.nfe += tableau_.stages - 1;
      ++stats.n_steps;
      const Verdict verdict = policy.decide(l, lane, h_[l], finite_[l], ws_);
      if (verdict == Verdict::reject) {
        ++stats.n_rejected;
        continue;
      }
      ++stats.n_accepted;
      if (verdict == Verdict::fail) {
        lanes_.finish(l, Status::non_finite_state);
        continue;
      }
      accepted_[l] = all;
    }
    const Real* f_new = end_slope();
    if constexpr (has_accepted_lanes<Hooks, L, Real>::value)
      hooks_.template accepted_lanes<L, Real>(accepted_, h_.data(), ws_.k);
    for (int l = 0; l < L; ++l) {  // hooks and outputs
      if (!accepted_[l]) continue;
      const long id = lanes_[l].id;
      hooks_.template accepted<L, Real>(id, lanes_[l].t, h_[l], ws_.y, ws_.k, l);
      const StepPoints<Real> points{ws_.y + l, ws_.k.block(0) + l, static_cast<long>(dim_) * L,
                              ws_.y_new + l, f_new + l, L};
      if constexpr (has_after_accept<Hooks, Real>::value)
        hooks_.after_accept(id, AcceptedStep<Real>{lanes_[l].t, h_[l], dim_, dense_, points}, l);
      write_outputs(l, points);
    }
    commit(f_new);
  }

  // f(t_new, y_new), the next step's first stage and the Hermite output's slope: the last
  // stage of FSAL methods; otherwise evaluated for the accepted lanes that go on or have
  // output inside the step.
  const Real* end_slope() {
    if (tableau_.fsal()) return ws_.k.block(tableau_.stages - 1);
    Mask needed{};
    for (int l = 0; l < L; ++l) {
      LaneState<Real>& lane = lanes_[l];
      if (accepted_[l] && (t_new_[l] != lane.t_end || lane.output_before(t_new_[l]))) {
        needed[l] = all;
        ++lane.result.stats.nfe;
      }
    }
    evaluate_masked(needed, t_new_, ws_.y_new, ws_.scratch_f);
    return ws_.scratch_f;
  }

  // Writes lane l's states at output times in (t, t_new] from the step just taken: inside
  // by the dense output, at t_new y_new itself.
  void write_outputs(int l, const StepPoints<Real>& points) {
    LaneState<Real>& lane = lanes_[l];
    const OutputGrid<Real> grid = lane.grid;  // copies: the rows written alias no lane state
    const double t = lane.t, t_new = t_new_[l], h = h_[l], direction = lane.direction;
    const long first = lane.next;
    long last = first;
    while (last < grid.count && direction * (grid.time(last) - t_new) <= 0) ++last;
    lane.next = last;
    if (!grid.ys || last == first) return;  // nothing to write: only move past the outputs
    const bool at_end = grid.time(last - 1) == t_new;  // output times strictly monotone
    if (dense_.uses_end())
      for (long i = first; i < last - at_end; ++i)
        dense_.evaluate((grid.time(i) - t) / h, h, points, dim_, grid.row(i));
    else if (first < last - at_end) {  // the polynomial's coefficients, once for the step
      dense_.polynomial<L>(h, ws_.k, dim_, l, ws_.dense.data());
      dense_.outputs(grid, first, last - at_end, t, h, ws_.y + l, L, ws_.dense.data(), dim_);
    }
    if (at_end)
      for (int d = 0; d < dim_; ++d) grid.row(last - 1)[d] = ws_.y_new[d * L + l];
  }

  // Moves the accepted lanes to the end of their steps: y_new into y and f there into stage
  // block 0, all lanes at once; then each lane's time, the hooks at an output time it
  // stopped on (f anew where they changed the state), and the end of the lane.
  void commit(const Real* f_new) {
    lane::copy_masked<L>(accepted_, ws_.y_new, ws_.y, integrated_);
    lane::copy_masked<L>(accepted_, f_new, ws_.k.block(0), dim_);
    Mask jumped{};
    for (int l = 0; l < L; ++l) {
      if (!accepted_[l]) continue;
      LaneState<Real>& lane = lanes_[l];
      const double t_new = lane.t = lane.result.t_reached = t_new_[l];
      if (options_.stop_at_outputs && t_new == lane.grid.time(lane.next - 1) &&
          hooks_.template at_output<L, Real>(lane.id, lane.next - 1, ws_.y, l) &&
          lane.next < lane.grid.count) {
        ++lane.result.stats.nfe;  // the state jumped: f there is new
        jumped[l] = all;
      }
      if (lane.next >= lane.grid.count) lanes_.finish(l, Status::success);
    }
    evaluate_masked(jumped, t_new_, ws_.y, ws_.k.block(0));
  }
};

// Solves every problem `next_problem` hands out on L lanes, recording each result.
template <int L, class Real, class Rhs, class NextProblem, class Record, class Hooks = NoHooks>
void integrate_lanes(Rhs& rhs, const ButcherTableau& tableau, const SolverOptions& options,
                     int dim, StepWorkspace<L, Real>& ws, NextProblem& next_problem, Record& record,
                     Hooks&& hooks = Hooks{}) {
  using Integrator =
      LaneIntegrator<L, Real, Rhs, NextProblem, Record, std::remove_reference_t<Hooks>>;
  if constexpr (L <= 64) {
    Integrator(rhs, tableau, options, dim, ws, next_problem, record, hooks).run();
  } else {  // wide lane groups (batched Python f) hold ~200 bytes a lane: not on the stack
    const auto integrator =  // of a thread that may have a small one
        std::make_unique<Integrator>(rhs, tableau, options, dim, ws, next_problem, record, hooks);
    integrator->run();
  }
}

}  // namespace neuralode
