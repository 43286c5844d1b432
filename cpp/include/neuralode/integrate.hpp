#pragma once
// The integration loops, fixed-step and adaptive, for one sample: steps from t[0] to
// t[T-1] (either direction), writes the state at every requested time, counts work.
#include <cmath>
#include <limits>

#include "controller.hpp"
#include "dense_output.hpp"
#include "status.hpp"
#include "stepper.hpp"
#include "tableau.hpp"

namespace neuralode {

struct SampleStats {
  long nfe = 0, n_steps = 0, n_accepted = 0, n_rejected = 0;
};

struct SampleResult {
  Status status = Status::success;
  double t_reached = 0;  // the last time the solution is valid at
  SampleStats stats;
};

// One sample's output times and where its states go: row i (dim doubles) at ys + i*ys_stride.
struct OutputGrid {
  const double* t;
  long t_stride;
  long count;
  double* ys;
  long ys_stride;

  double time(long i) const { return t[i * t_stride]; }
  double* row(long i) const { return ys + i * ys_stride; }
};

namespace detail {

// Counts evaluations so every loop reports NFE the same way.
template <class Rhs>
struct CountingRhs {
  Rhs& rhs;
  long& nfe;
  void operator()(double t, const double* y, double* dy) {
    ++nfe;
    rhs(t, y, dy);
  }
};

// Writes the states at output times in (t, t_new] from the step just taken.
template <class DenseFn>
void emit_outputs(const OutputGrid& grid, long& next, double t, double t_new, double direction,
                  const Eigen::VectorXd& y_new, DenseFn&& dense) {
  const double h = t_new - t;
  for (; next < grid.count && direction * (grid.time(next) - t_new) <= 0; ++next) {
    const double t_out = grid.time(next);
    if (t_out == t_new)
      Eigen::Map<Eigen::VectorXd>(grid.row(next), y_new.size()) = y_new;
    else
      dense((t_out - t) / h, h, grid.row(next));
  }
}

inline void fill_nan_from(const OutputGrid& grid, long first, Eigen::Index dim) {
  for (long i = first; i < grid.count; ++i)
    Eigen::Map<Eigen::VectorXd>(grid.row(i), dim).setConstant(std::numeric_limits<double>::quiet_NaN());
}

// Fixed steps of `options.step_size` (the last one clipped to the end), or one step per
// output interval when it is 0. Output inside a step is cubic Hermite.
template <class Rhs>
Status integrate_fixed(Rhs& f, const ButcherTableau& tableau, const SolverOptions& options,
                       const OutputGrid& grid, double direction, StepWorkspace& ws,
                       SampleResult& result, long& next) {
  const double t0 = grid.time(0), t_end = grid.time(grid.count - 1);
  const bool on_grid = options.step_size == 0;
  const double h_fixed = direction * options.step_size;
  double t = t0;
  bool have_f0 = false;  // ws.k.col(0) already holds f(t, y)
  for (long n = 0; next < grid.count; ++n) {
    if (result.stats.n_steps >= options.max_steps) return Status::max_steps_reached;
    double t_new = on_grid ? grid.time(next) : t0 + static_cast<double>(n + 1) * h_fixed;
    // Land exactly on the end instead of leaving a sliver step to rounding.
    if (!on_grid && direction * (t_end - t_new) <= 1e-10 * std::abs(h_fixed)) t_new = t_end;
    const double h = t_new - t;
    if (!have_f0) f(t, ws.y.data(), ws.k.col(0).data());
    runge_kutta_step(f, tableau, t, h, ws);
    ++result.stats.n_steps;
    ++result.stats.n_accepted;
    if (!ws.y_new.allFinite()) return Status::non_finite_state;
    // Hermite output inside the step needs f at its end, which the next step reuses.
    have_f0 = next < grid.count && direction * (grid.time(next) - t_new) < 0;
    if (have_f0) f(t_new, ws.y_new.data(), ws.f_end.data());
    emit_outputs(grid, next, t, t_new, direction, ws.y_new,
                 [&](double theta, double hh, double* out) {
                   dense_hermite(theta, hh, ws.y, ws.y_new, ws.k.col(0), ws.f_end, out);
                 });
    if (have_f0) ws.k.col(0) = ws.f_end;
    ws.y.swap(ws.y_new);
    t = t_new;
    result.t_reached = t;
  }
  return Status::success;
}

// Embedded-pair control with the tableau's dense output; each sample its own steps.
template <class Rhs>
Status integrate_adaptive(Rhs& f, const ButcherTableau& tableau, const SolverOptions& options,
                          const OutputGrid& grid, double direction, StepWorkspace& ws,
                          SampleResult& result, long& next) {
  const StepController controller(tableau.error_order);
  const double t_end = grid.time(grid.count - 1);
  const int last = tableau.stages - 1;
  double t = grid.time(0);
  f(t, ws.y.data(), ws.k.col(0).data());
  if (!ws.k.col(0).allFinite()) return Status::non_finite_state;
  double h = options.first_step > 0
                 ? std::min(options.first_step, std::abs(t_end - t))
                 : initial_step(f, t, ws.y, ws.k.col(0), direction, std::abs(t_end - t),
                                tableau.error_order, options, ws.stage, ws.f_end);
  while (next < grid.count) {
    h = std::min(h, options.max_step);
    const double min_step =
        10 * std::abs(std::nextafter(t, direction * INFINITY) - t);
    bool rejected = false, last_failure_non_finite = false;
    double t_new;
    for (;;) {
      if (h < min_step)
        return last_failure_non_finite ? Status::non_finite_state : Status::step_size_underflow;
      if (result.stats.n_steps >= options.max_steps) return Status::max_steps_reached;
      t_new = t + direction * h;
      if (direction * (t_new - t_end) > 0) t_new = t_end;
      const double h_signed = t_new - t;
      runge_kutta_step(f, tableau, t, h_signed, ws);
      ++result.stats.n_steps;
      const double err = detail::error_norm(ws.error, ws.y, ws.y_new, options);
      const bool finite = std::isfinite(err) && ws.y_new.allFinite();
      if (finite && err <= 1) {
        h = std::abs(h_signed) * controller.accepted_factor(err, rejected);
        break;
      }
      ++result.stats.n_rejected;
      rejected = true;
      last_failure_non_finite = !finite;
      h = std::abs(h_signed) * controller.rejected_factor(finite ? err : INFINITY);
    }
    ++result.stats.n_accepted;
    if (!tableau.fsal()) f(t_new, ws.y_new.data(), ws.k.col(last).data());
    emit_outputs(grid, next, t, t_new, direction, ws.y_new,
                 [&](double theta, double hh, double* out) {
                   if (tableau.dense_degree > 0)
                     dense_polynomial(tableau, theta, hh, ws.y, ws.k, out);
                   else
                     dense_hermite(theta, hh, ws.y, ws.y_new, ws.k.col(0), ws.k.col(last), out);
                 });
    ws.k.col(0) = ws.k.col(last);
    ws.y.swap(ws.y_new);
    t = t_new;
    result.t_reached = t;
  }
  return Status::success;
}

}  // namespace detail

// Solves one sample from y0 over the grid. Never throws for numerical failure: the status
// says why it stopped and the rows after it are NaN. Exceptions from `rhs` propagate.
template <class Rhs>
SampleResult integrate(Rhs& rhs, const ButcherTableau& tableau, const SolverOptions& options,
                       const double* y0, Eigen::Index dim, const OutputGrid& grid,
                       StepWorkspace& ws) {
  SampleResult result;
  result.t_reached = grid.time(0);
  ws.resize(dim, tableau.stages);
  ws.y = Eigen::Map<const Eigen::VectorXd>(y0, dim);
  Eigen::Map<Eigen::VectorXd>(grid.row(0), dim) = ws.y;
  long next = 1;
  if (grid.count > 1) {
    const double direction = grid.time(grid.count - 1) > grid.time(0) ? 1.0 : -1.0;
    detail::CountingRhs<Rhs> counted{rhs, result.stats.nfe};
    result.status = tableau.adaptive()
                        ? detail::integrate_adaptive(counted, tableau, options, grid, direction,
                                                     ws, result, next)
                        : detail::integrate_fixed(counted, tableau, options, grid, direction,
                                                  ws, result, next);
  }
  if (result.status != Status::success) detail::fill_nan_from(grid, next, dim);
  return result;
}

}  // namespace neuralode
