#pragma once
// Exact reverse-mode derivative of the discrete forward solution, with the accepted steps
// held fixed: the forward pass records every accepted step (its start, size, start state and
// stages); the reverse pass runs the chain rule back through the dense outputs, the update
// y_{n+1} = y_n + h Σ b_j k_j and every stage k_i = f(t_n + c_i h, y_n + h Σ_j a_ij k_j).
#include <algorithm>
#include <array>
#include <vector>

#include "dense_output.hpp"
#include "lanes.hpp"
#include "tableau.hpp"

namespace neuralode {

// A recorder's buffer of one lane's steps (see TapeRecorder): times in double, states in Real.
template <class Real>
struct StepBuffer {
  std::vector<double> times;  // t, h per step
  std::vector<Real> values;   // y (D), k (stages x D) per step
  void clear() {
    times.clear();
    values.clear();
  }
};

// One sample's accepted steps, back to back: t, h, and y (D), k (stages x D).
template <class Real>
class StepTape {
 public:
  void reset(int dim, int stages) {
    dim_ = dim;
    stages_ = stages;
    times_.clear();
    values_.clear();
  }
  // Appends one step of lane l to `steps`.
  template <int L>
  void record(StepBuffer<Real>& steps, double t, double h, const Real* y,
              const LaneBlocks<L, Real>& k, int l) const {
    steps.times.push_back(t);
    steps.times.push_back(h);
    for (int d = 0; d < dim_; ++d) steps.values.push_back(y[d * L + l]);
    for (int i = 0; i < stages_; ++i)
      for (int d = 0; d < dim_; ++d) steps.values.push_back(k.block(i)[d * L + l]);
  }
  // The sample's steps, in one allocation each of exactly their size.
  void keep(const StepBuffer<Real>& steps) {
    times_.assign(steps.times.begin(), steps.times.end());
    values_.assign(steps.values.begin(), steps.values.end());
  }
  long steps() const { return static_cast<long>(times_.size()) / 2; }

  // The state and slope at the end of the last step (the slope only for methods whose last
  // stage is not f there), for Hermite interpolation in the last step.
  std::vector<Real> end_y, end_slope;

  // The step whose interval [t_n, t_n + h_n] holds tau, searching from `hint`.
  long find_step(double tau, long hint) const {
    const long last = steps() - 1;
    long n = std::min(std::max(hint, 0L), last);
    const double direction = h(0) > 0 ? 1 : -1;
    while (n > 0 && direction * (tau - t(n)) < 0) --n;
    while (n < last && direction * (tau - t(n + 1)) > 0) ++n;
    return n;
  }

  // The forward solution at tau inside step n, by the method's own dense output.
  void interpolate(const ButcherTableau& tableau, long n, double tau, Real* out) const {
    const DenseOutput dense(tableau);
    StepPoints<Real> points{y(n), k(n, 0), dim_, nullptr, nullptr, 1};
    if (dense.uses_end()) {
      const bool last = n + 1 == steps();
      points.y1 = last ? end_y.data() : y(n + 1);
      points.f1 = tableau.fsal() ? k(n, stages_ - 1) : last ? end_slope.data() : k(n + 1, 0);
    }
    dense.evaluate((tau - t(n)) / h(n), h(n), points, dim_, out);
  }
  long stored_floats() const { return static_cast<long>(times_.size() + values_.size()); }
  double t(long n) const { return times_[2 * n]; }
  double h(long n) const { return times_[2 * n + 1]; }
  const Real* y(long n) const { return values_.data() + n * stride(); }
  const Real* k(long n, int i) const { return y(n) + dim_ + static_cast<long>(i) * dim_; }

 private:
  long stride() const { return static_cast<long>(dim_) * (1 + stages_); }
  int dim_ = 0, stages_ = 0;
  std::vector<double> times_;
  std::vector<Real> values_;
};

// Records the accepted steps of every sample into its own tape. Steps go first into a
// buffer per lane, reused from sample to sample (after the first samples the step loop
// allocates nothing), and a finished sample's tape takes exactly what it used: memory is
// what stored_floats reports, not a guess per sample. Each thread works on its own copy.
template <class Real>
struct TapeRecorder {
  StepTape<Real>* tapes;
  std::vector<StepBuffer<Real>> lane_steps;  // grows to the lanes in use, once
  template <int L, class R>
  bool at_output(long, long, R*, int) { return false; }
  template <int L, class R>
  void accepted(long sample, double t, double h, const R* y, const LaneBlocks<L, R>& k, int l) {
    tapes[sample].template record<L>(lane_steps[l], t, h, y, k, l);
  }
  void started(long, int l) {
    if (static_cast<size_t>(l) >= lane_steps.size()) lane_steps.resize(l + 1);
    lane_steps[l].clear();
  }
  void finished(long sample, int l) { tapes[sample].keep(lane_steps[l]); }
};

// The reverse pass of one sample. vjp(t, y, c, y_bar, theta_bar) adds cᵀ∂f/∂y to y_bar and
// cᵀ∂f/∂θ to the sample's θ accumulator. dL_dy: the cotangents of the outputs, row i at
// dL_dy + i * dL_stride. On return y_bar holds dL/dy0.
// Each step coefficient h b_i, h a_ij is rounded to Real as the forward step rounded it.
template <class Vjp, class Real>
void backprop_sample(Vjp& vjp, const ButcherTableau& tableau, const StepTape<Real>& tape,
                     const OutputGrid<Real>& grid, const Real* dL_dy, long dL_stride, int dim,
                     Real* y_bar, std::vector<Real>& work) {
  const int s = tableau.stages;
  const DenseOutput dense(tableau);
  work.assign(static_cast<size_t>(dim) * (s + 4), Real(0));
  Real* k_bar = work.data();                       // s x D
  Real* y_bar_n = k_bar + static_cast<long>(s) * dim;
  Real* y_next = y_bar_n + dim;
  Real* f_end_bar = y_next + dim;
  Real* stage = f_end_bar + dim;
  std::fill(y_bar, y_bar + dim, Real(0));  // ȳ of the state after the current step
  const double t_final = grid.time(grid.count - 1);
  const double direction = t_final < grid.time(0) ? -1 : 1;
  long j = grid.count - 1;  // the latest output not yet taken in
  for (long n = tape.steps() - 1; n >= 0; --n) {
    const double t = tape.t(n), h = tape.h(n);
    const bool last = n + 1 == tape.steps();
    const double t_end = last ? t_final : tape.t(n + 1);
    const Real* y = tape.y(n);
    auto times_h = [h](double coef) { return static_cast<Real>(h * coef); };
    if (last) {  // y_{n+1} as the forward step computed it
      std::copy(y, y + dim, y_next);
      for (int i = 0; i < s; ++i)
        if (tableau.b[i] != 0)
          for (int d = 0; d < dim; ++d) y_next[d] += times_h(tableau.b[i]) * tape.k(n, i)[d];
    } else {
      std::copy(tape.y(n + 1), tape.y(n + 1) + dim, y_next);
    }
    std::fill(k_bar, k_bar + static_cast<long>(s) * dim, Real(0));
    std::fill(y_bar_n, y_bar_n + dim, Real(0));
    std::fill(f_end_bar, f_end_bar + dim, Real(0));
    bool end_slope_used = false;
    // Outputs in (t, t_end]: at the end they weigh on y_{n+1}, inside on the dense output.
    for (; j >= 1 && direction * (grid.time(j) - t) > 0; --j) {
      const Real* g = dL_dy + j * dL_stride;
      if (grid.time(j) == t_end) {
        for (int d = 0; d < dim; ++d) y_bar[d] += g[d];
        continue;
      }
      end_slope_used |= dense.transpose((grid.time(j) - t) / h, h, g, dim, y_bar_n, k_bar,
                                        y_bar, f_end_bar);
    }
    if (end_slope_used) {  // the slope f(t_end, y_{n+1}) of Hermite output
      if (tableau.fsal())
        for (int d = 0; d < dim; ++d) k_bar[(s - 1) * dim + d] += f_end_bar[d];
      else
        vjp(t_end, y_next, f_end_bar, y_bar);
    }
    // y_{n+1} = y_n + h Σ_j b_j k_j
    for (int d = 0; d < dim; ++d) y_bar_n[d] += y_bar[d];
    for (int i = 0; i < s; ++i)
      if (tableau.b[i] != 0)
        for (int d = 0; d < dim; ++d) k_bar[i * dim + d] += times_h(tableau.b[i]) * y_bar[d];
    // k_i = f(t + c_i h, Y_i), Y_i = y_n + h Σ_{j<i} a_ij k_j, last stage first.
    for (int i = s - 1; i >= 0; --i) {
      const Real* c = k_bar + static_cast<long>(i) * dim;
      if (std::all_of(c, c + dim, [](Real v) { return v == 0; })) continue;
      std::copy(y, y + dim, stage);
      for (int jj = 0; jj < i; ++jj)
        if (tableau.a[i][jj] != 0)
          for (int d = 0; d < dim; ++d) stage[d] += times_h(tableau.a[i][jj]) * tape.k(n, jj)[d];
      std::fill(y_next, y_next + dim, Real(0));  // reused: Ȳ_i
      vjp(t + tableau.c[i] * h, stage, c, y_next);
      for (int d = 0; d < dim; ++d) y_bar_n[d] += y_next[d];
      for (int jj = 0; jj < i; ++jj)
        if (tableau.a[i][jj] != 0)
          for (int d = 0; d < dim; ++d) k_bar[jj * dim + d] += times_h(tableau.a[i][jj]) * y_next[d];
    }
    std::copy(y_bar_n, y_bar_n + dim, y_bar);
  }
  for (int d = 0; d < dim; ++d) y_bar[d] += dL_dy[d];  // the output at t_0 is y0 itself
}

}  // namespace neuralode
