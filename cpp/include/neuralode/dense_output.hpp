#pragma once
// Output between the ends of a step, from the step's own values: output times never change
// the steps taken. The one place the interpolation formulas are written: the solver loop and
// the gradient tapes evaluate them, backprop runs them backwards through `transpose`.
#include <algorithm>
#include <array>

#include "lanes.hpp"
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
  explicit DenseOutput(const ButcherTableau& tableau) : tableau_(tableau) {
    for (int i = 0; i < max_stages; ++i)
      for (int j = 0; j < max_dense_degree; ++j) {
        by_power_[j][i] = tableau.dense[i][j];
        stage_used_[i] = stage_used_[i] || tableau.dense[i][j] != 0;
      }
  }

  // Whether the output reads the step's end, y_{n+1} and the slope there (Hermite).
  bool uses_end() const { return tableau_.dense_degree == 0; }

  // Continuous extensions are evaluated as polynomials in θ: per step the coefficients
  // q_j = h Σ_i dense[i][j] k_i (each h·dense[i][j] rounded to Real once; the stages with a
  // dense coefficient summed in order), then y + θ(q_0 + θ(q_1 + ...)) per output by Horner's
  // rule. A step with many outputs in it (dense time grids) costs a few operations per output
  // and component. Every path below does the same operations per component: the same bits.
  int degree() const { return tableau_.dense_degree; }

  // A step's coefficients for lane l of a block of L lanes into q[d * max_dense_degree + j],
  // all powers of a component at once.
  template <int L, class Real>
  void polynomial(double h, const LaneBlocks<L, Real>& k, int dim, int l, Real* q) const {
    std::array<std::array<Real, max_dense_degree>, max_stages> coef;
    for (int i = 0; i < tableau_.stages; ++i)
      for (int j = 0; j < max_dense_degree; ++j)
        coef[i][j] = static_cast<Real>(h * tableau_.dense[i][j]);
    for (int d = 0; d < dim; ++d) {
      std::array<Real, max_dense_degree> sum{};
      for (int i = 0; i < tableau_.stages; ++i) {
        if (!stage_used_[i]) continue;
        const Real k_i = k.block(i)[static_cast<long>(d) * L + l];
        for (int j = 0; j < max_dense_degree; ++j) sum[j] += coef[i][j] * k_i;
      }
      std::copy(sum.begin(), sum.end(), q + d * max_dense_degree);
    }
  }

  // The outputs first..last-1 of `grid`, at times inside the step from t of size h, from
  // the step's start y0 (component d at y0[d * y_stride]) and its coefficients q (polynomial).
  template <class Real>
  void outputs(const OutputGrid<Real>& grid, long first, long last, double t, double h,
               const Real* y0, long y_stride, const Real* q, int dim) const {
    for (long i = first; i < last; ++i) {
      const Real x = static_cast<Real>((grid.time(i) - t) / h);
      Real* row = grid.row(i);
      for (int d = 0; d < dim; ++d) {
        const Real* q_d = q + d * max_dense_degree;
        Real acc = q_d[degree() - 1];
        for (int j = degree() - 2; j >= 0; --j) acc = q_d[j] + x * acc;
        row[d] = y0[d * y_stride] + x * acc;
      }
    }
  }

  // The state at t_n + θh into out[dim] (contiguous): the lanes' arithmetic for one step of
  // one sample (the same bits), or the Hermite basis formed in double and rounded to Real once.
  template <class Real>
  void evaluate(double theta, double h, const StepPoints<Real>& p, int dim, Real* out) const {
    const long s = p.stride;
    if (uses_end()) {
      const Hermite<Real> w(theta, h);
      for (int d = 0; d < dim; ++d)
        out[d] = w.y0 * p.y0[d * s] + w.f0 * p.k[d * s] + w.y1 * p.y1[d * s] + w.f1 * p.f1[d * s];
      return;
    }
    if (theta == 1) {  // the step's end as the step formed it: y + Σ_i (h b_i) k_i
      for (int d = 0; d < dim; ++d) {
        Real sum = p.y0[d * s];
        for (int i = 0; i < tableau_.stages; ++i)
          if (tableau_.b[i] != 0)
            sum += static_cast<Real>(h * tableau_.b[i]) * p.k[i * p.k_step + d * s];
        out[d] = sum;
      }
      return;
    }
    const Real x = static_cast<Real>(theta);
    for (int d = 0; d < dim; ++d) {
      std::array<Real, max_dense_degree> q{};
      for (int i = 0; i < tableau_.stages; ++i)
        if (stage_used_[i])
          for (int j = 0; j < degree(); ++j)
            q[j] += static_cast<Real>(h * tableau_.dense[i][j]) * p.k[i * p.k_step + d * s];
      Real acc = q[degree() - 1];
      for (int j = degree() - 2; j >= 0; --j) acc = q[j] + x * acc;
      out[d] = p.y0[d * s] + x * acc;
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
    StageCoefficients<Real> coef;
    const int stages = step_coefficients(theta, h, coef);
    for (int i = 0; i < stages; ++i)
      for (int d = 0; d < dim; ++d) k_bar[i * dim + d] += coef.value[i] * g[d];
    for (int d = 0; d < dim; ++d) y0_bar[d] += g[d];
    return false;
  }

 private:
  // Each stage's coefficient h Σ_j dense[i][j] θ^(j+1), rounded to Real, and whether its
  // weight is nonzero; returns the number of stages. The weights of all stages are formed
  // together, power by power (vectorized across stages), each in the order j = 0, 1, ...
  // that one stage alone takes: the same bits.
  // (Arrays of 8 rather than max_stages = 7: one vector of doubles.)
  static constexpr int padded_stages = 8;
  static_assert(max_stages <= padded_stages);
  template <class Real>
  struct StageCoefficients {
    std::array<Real, padded_stages> value;
    std::array<bool, padded_stages> used;
  };
  template <class Real>
  int step_coefficients(double theta, double h, StageCoefficients<Real>& coef) const {
    alignas(64) std::array<double, padded_stages> weight{};
    double power = 1;
    for (int j = 0; j < tableau_.dense_degree; ++j) {
      power *= theta;
#pragma omp simd
      for (int i = 0; i < padded_stages; ++i) weight[i] += by_power_[j][i] * power;
    }
    for (int i = 0; i < padded_stages; ++i) {  // scalar: a vector load of what the loop
      coef.value[i] = static_cast<Real>(h * weight[i]);  // above stored in halves stalls
      coef.used[i] = weight[i] != 0;
    }
    return tableau_.stages;
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
  std::array<bool, max_stages> stage_used_{};  // the stage has a nonzero dense coefficient
  // The tableau's dense coefficients transposed: by_power_[j][i] = dense[i][j].
  alignas(64) std::array<std::array<double, padded_stages>, max_dense_degree> by_power_{};
};

}  // namespace neuralode
