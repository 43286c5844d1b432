#pragma once
// Output between the ends of a step, from the step's own values: output times never change
// the steps taken. The one place the interpolation formulas are written: the solver loop and
// the gradient tapes evaluate them, backprop runs them backwards through `transpose`.
#include <array>

#include "tableau.hpp"

namespace neuralode {

// What one step of one sample leaves for output inside it. Each vector has `dim` components
// `stride` apart: stride L inside a block of L lanes, 1 on a tape.
template <class Real>
struct StepPoints {
  const Real* y0;  // y_n
  const Real* k;   // stage i (k_0 = f(t_n, y_n)) at k + i * k_step
  long k_step;
  const Real* y1;  // y_{n+1} and f(t_{n+1}, y_{n+1}): read only where uses_end()
  const Real* f1;
  long stride;
};

// The dense output of one tableau: its own continuous extension
// y(t + θh) = y + h Σ_i k_i Σ_j dense[i][j] θ^(j+1), 0 ≤ θ ≤ 1, or, for a method without one
// (dense_degree == 0), cubic Hermite interpolation on values and slopes at both ends (third
// order, the natural extension).
class DenseOutput {
 public:
  explicit DenseOutput(const ButcherTableau& tableau) : tableau_(tableau) {}

  // Whether the output reads the step's end, y_{n+1} and the slope there (Hermite).
  bool uses_end() const { return tableau_.dense_degree == 0; }

  // The state at t_n + θh into out[dim] (contiguous). The weights are formed in double and
  // rounded to Real once.
  template <class Real>
  void evaluate(double theta, double h, const StepPoints<Real>& p, int dim, Real* out) const {
    const long s = p.stride;
    if (uses_end()) {
      const Hermite<Real> w(theta, h);
      for (int d = 0; d < dim; ++d)
        out[d] = w.y0 * p.y0[d * s] + w.f0 * p.k[d * s] + w.y1 * p.y1[d * s] + w.f1 * p.f1[d * s];
      return;
    }
    for (int d = 0; d < dim; ++d) out[d] = p.y0[d * s];
    const Powers powers = powers_of(theta);
    for (int i = 0; i < tableau_.stages; ++i) {
      const double weight = stage_weight(i, powers);
      if (weight == 0) continue;
      const Real coef = static_cast<Real>(h * weight);
      const Real* k_i = p.k + i * p.k_step;
      for (int d = 0; d < dim; ++d) out[d] += coef * k_i[d * s];
    }
  }

  // The transpose of evaluate: adds an output's cotangent g[dim] to those of what it was
  // formed from, y0_bar[dim], k_bar[stages][dim] (stage-major) and, where uses_end(),
  // y1_bar[dim] and f1_bar[dim]; returns whether it touched f1_bar.
  template <class Real>
  bool transpose(double theta, double h, const Real* g, int dim, Real* y0_bar, Real* k_bar,
                 Real* y1_bar, Real* f1_bar) const {
    if (uses_end()) {
      const Hermite<Real> w(theta, h);
      for (int d = 0; d < dim; ++d) {
        y0_bar[d] += w.y0 * g[d];
        k_bar[d] += w.f0 * g[d];
        y1_bar[d] += w.y1 * g[d];
        f1_bar[d] += w.f1 * g[d];
      }
      return true;
    }
    const Powers powers = powers_of(theta);
    for (int i = 0; i < tableau_.stages; ++i) {
      const Real coef = static_cast<Real>(h * stage_weight(i, powers));
      for (int d = 0; d < dim; ++d) k_bar[i * dim + d] += coef * g[d];
    }
    for (int d = 0; d < dim; ++d) y0_bar[d] += g[d];
    return false;
  }

 private:
  // θ^(j+1) for j < dense_degree, formed once per output for every stage's weight (the
  // same products as forming them per stage: the same bits, a quarter of the work).
  using Powers = std::array<double, max_dense_degree>;
  Powers powers_of(double theta) const {
    Powers powers{};
    double power = 1;
    for (int j = 0; j < tableau_.dense_degree; ++j) powers[j] = power *= theta;
    return powers;
  }

  // Σ_j dense[i][j] θ^(j+1), the weight of stage i.
  double stage_weight(int i, const Powers& powers) const {
    double weight = 0;
    for (int j = 0; j < tableau_.dense_degree; ++j) weight += tableau_.dense[i][j] * powers[j];
    return weight;
  }

  // The cubic Hermite basis at θ, the slopes' weights scaled by h; in double, then Real.
  template <class Real>
  struct Hermite {
    Real y0, f0, y1, f1;
    Hermite(double theta, double h) {
      const double t2 = theta * theta, t3 = t2 * theta;
      y0 = static_cast<Real>(2 * t3 - 3 * t2 + 1);
      f0 = static_cast<Real>((t3 - 2 * t2 + theta) * h);
      y1 = static_cast<Real>(-2 * t3 + 3 * t2);
      f1 = static_cast<Real>((t3 - t2) * h);
    }
  };

  const ButcherTableau& tableau_;
};

}  // namespace neuralode
