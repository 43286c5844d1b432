#pragma once
// Step-size control for the embedded pairs: the error norm, accept/reject and the next step
// (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4), and the initial step of §II.4.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace neuralode {

using Vector = Eigen::VectorXd;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXd>;
using VectorMap = Eigen::Map<Eigen::VectorXd>;

// Tolerances and limits of one solve, shared by every sample of a batch.
struct SolverOptions {
  double rtol = 1e-7;
  const double* atol = nullptr;  // one per state component
  double step_size = 0;          // fixed-step methods; 0 steps on the output grid
  double first_step = 0;         // adaptive methods; 0 picks it by Hairer II.4
  double max_step = INFINITY;
  long max_steps = 100000;
};

namespace detail {

// RMS over components of err_i / (atol_i + rtol * max(|y_i|, |y_new_i|)).
inline double error_norm(const Vector& err, const Vector& y, const Vector& y_new,
                         const SolverOptions& options) {
  const Eigen::Index n = err.size();
  double sum = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double scale =
        options.atol[i] + options.rtol * std::max(std::abs(y[i]), std::abs(y_new[i]));
    const double ratio = err[i] / scale;
    sum += ratio * ratio;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

// RMS of v_i / (atol_i + rtol * |y_i|), the norm of the initial-step heuristic.
inline double scaled_rms(Eigen::Ref<const Vector> v, const Vector& y, const SolverOptions& options) {
  const Eigen::Index n = v.size();
  double sum = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double ratio = v[i] / (options.atol[i] + options.rtol * std::abs(y[i]));
    sum += ratio * ratio;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

}  // namespace detail

struct StepController {
  static constexpr double safety = 0.9;
  static constexpr double min_factor = 0.2;
  static constexpr double max_factor = 10.0;
  double exponent;  // -1/(q+1), q the order of the embedded (lower-order) estimate

  explicit StepController(int error_order) : exponent(-1.0 / (error_order + 1)) {}

  // Factor for the next step after an accepted one; after a rejection within the same
  // step the step may not grow again (it just failed at a larger size).
  double accepted_factor(double err_norm, bool rejected_before) const {
    double factor = err_norm == 0 ? max_factor
                                  : std::min(max_factor, safety * std::pow(err_norm, exponent));
    return rejected_before ? std::min(1.0, factor) : factor;
  }

  // Factor after a rejected step; a non-finite error shrinks as hard as allowed.
  double rejected_factor(double err_norm) const {
    if (!std::isfinite(err_norm)) return min_factor;
    return std::max(min_factor, safety * std::pow(err_norm, exponent));
  }
};

// Initial step of Hairer, Nørsett & Wanner §II.4: balances the size of y, f(y) and an
// estimate of f's second derivative. Costs one evaluation of f, written to f1.
template <class Rhs>
double initial_step(Rhs& rhs, double t0, const Vector& y0, Eigen::Ref<const Vector> f0,
                    double direction,
                    double interval, int error_order, const SolverOptions& options, Vector& y1,
                    Vector& f1) {
  const double d0 = detail::scaled_rms(y0, y0, options);
  const double d1 = detail::scaled_rms(f0, y0, options);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, interval);
  y1 = y0 + (h0 * direction) * f0;
  rhs(t0 + h0 * direction, y1.data(), f1.data());
  y1 = f1 - f0;  // reuse y1 as scratch for the difference
  const double d2 = detail::scaled_rms(y1, y0, options) / h0;
  const double h1 = (d1 <= 1e-15 && d2 <= 1e-15)
                        ? std::max(1e-6, h0 * 1e-3)
                        : std::pow(0.01 / std::max(d1, d2), 1.0 / (error_order + 1));
  return std::min({100 * h0, h1, interval, options.max_step});
}

}  // namespace neuralode
