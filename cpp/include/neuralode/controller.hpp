#pragma once
// Step-size control for the embedded pairs: the error norm, accept/reject and the next step
// (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4), and the initial step of §II.4.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

namespace neuralode {

// Tolerances and limits of one solve, shared by every sample of a batch.
struct SolverOptions {
  double rtol = 1e-7;
  std::vector<double> atol;      // one per state component
  double step_size = 0;          // fixed-step methods; 0 steps on the output grid
  double first_step = 0;         // adaptive methods; 0 picks it by Hairer II.4
  double max_step = INFINITY;
  long max_steps = 100000;
  int norm_components = 0;       // the error norm covers the first ones (0: all)
  int input_components = 0;      // f reads only the first ones (0: all); see stepper.hpp
  // Only the first ones are integrated (0: all); f's further rows are records of each
  // evaluation, kept in the stage blocks only (the adjoint's θ records, theta_records.hpp).
  int integrated_components = 0;
  bool stop_at_outputs = false;  // end a step at every output time (state jumps there)
  // Interruption: once *stop is set, every lane abandons its sample within four steps. poll,
  // when given, is called every four steps of each lane group and may ask to stop (the
  // bindings install their Ctrl-C handler with it).
  std::atomic<bool>* stop = nullptr;
  bool (*poll)(void* context) = nullptr;
  void* poll_context = nullptr;
};

namespace detail {

// RMS over components of err_d / (atol_d + rtol * max(|y_d|, |y_new_d|)), for lane l of
// component-major arrays with L lanes. The norms stay loops, not Eigen reductions: Eigen's
// vectorized sum adds in another order than this one (other bits), and which order it takes
// depends on the stride and the Eigen version.
// In double whatever the state's Real.
template <int L, class Real>
double error_norm(const Real* err, const Real* y, const Real* y_new, int dim, int l,
                  const SolverOptions& options) {
  if (options.norm_components > 0) dim = std::min(dim, options.norm_components);
  double sum = 0;
  for (int d = 0; d < dim; ++d) {
    const int i = d * L + l;
    const double scale =
        options.atol[d] + options.rtol * double(std::max(std::abs(y[i]), std::abs(y_new[i])));
    const double ratio = double(err[i]) / scale;
    sum += ratio * ratio;
  }
  return std::sqrt(sum / dim);
}

// RMS of v_d / (atol_d + rtol * |y_d|), the norm of the initial-step heuristic.
template <int L, class Real>
double scaled_rms(const Real* v, const Real* y, int dim, int l, const SolverOptions& options) {
  if (options.norm_components > 0) dim = std::min(dim, options.norm_components);
  double sum = 0;
  for (int d = 0; d < dim; ++d) {
    const int i = d * L + l;
    const double ratio = double(v[i]) / (options.atol[d] + options.rtol * double(std::abs(y[i])));
    sum += ratio * ratio;
  }
  return std::sqrt(sum / dim);
}

}  // namespace detail

struct StepController {
  static constexpr double safety = 0.9;
  static constexpr double min_factor = 0.2;
  static constexpr double max_factor = 10.0;
  double exponent;  // -1/(q+1), q the order of the embedded (lower-order) estimate
  int error_order;

  explicit StepController(int order) : exponent(-1.0 / (order + 1)), error_order(order) {}

  // The next step after an accepted step of size `taken`. Its error asks for
  // taken * safety * err^exponent, at most max_factor times the step (after a rejection
  // within the same step, no more than the step: it just failed at a larger size). A step
  // cut short to end on an output time, from the size `planned`, says little with its error
  // (small because the step is short, and at tiny sizes mostly rounding): the next step is
  // at least the planned size and may grow from it, so that an output time does not
  // restart the step-size selection.
  double next_step(double taken, double planned, double err_norm, bool rejected_before,
                   bool cut) const {
    const double wanted =
        err_norm == 0 ? INFINITY : taken * safety * std::pow(err_norm, exponent);
    const double limit = (cut ? planned : taken) * (rejected_before ? 1.0 : max_factor);
    return std::min(cut ? std::max(wanted, planned) : wanted, limit);
  }

  // Factor after a rejected step; a non-finite error shrinks as hard as allowed.
  double rejected_factor(double err_norm) const {
    if (!std::isfinite(err_norm)) return min_factor;
    return std::max(min_factor, safety * std::pow(err_norm, exponent));
  }

  // Initial step of Hairer, Nørsett & Wanner §II.4, in two halves around the one extra
  // evaluation f1 = f(t0 + h0, y0 + h0 f0) it needs. First half: h0 from d0 = |y0|, d1 = |f0|.
  static double probe_step(double d0, double d1, double interval) {
    return std::min((d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1, interval);
  }

  // Second half: d2 = |f1 - f0| / h0 estimates f's second derivative.
  double initial_step(double h0, double d1, double d2, double interval, double max_step) const {
    const double h1 = (d1 <= 1e-15 && d2 <= 1e-15)
                          ? std::max(1e-6, h0 * 1e-3)
                          : std::pow(0.01 / std::max(d1, d2), 1.0 / (error_order + 1));
    return std::min({100 * h0, h1, interval, max_step});
  }
};

}  // namespace neuralode
