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

// The reverse pass of one sample, step by step, with the VJPs of f left to the caller: so
// that one sample alone (backprop_sample) and lanes of samples side by side (BackpropLanes,
// gradients/backprop_lanes.hpp) run the same arithmetic. Per step, last step first:
//   if (c.begin_step()) vjp at (c.end_t(), c.end_y()) of c.end_c(), added to c.end_out();
//   c.begin_stages();
//   for i = stages-1 .. 0: if (c.stage(i)) { vjp at (c.stage_t(i), c.stage_y()) of
//                                            c.stage_c(i), added to c.stage_out();
//                                            c.after_stage(i); }
//   c.end_step();
// until c.done(); then c.finish(). Each step coefficient h b_i, h a_ij is rounded to Real as
// the forward step rounded it.
template <class Real>
class BackpropCursor {
 public:
  // dL_dy: the cotangents of the outputs, row i at dL_dy + i * dL_stride; y_bar (dim values)
  // holds dL/dy0 after finish().
  void start(const ButcherTableau& tableau, const StepTape<Real>& tape,
             const OutputGrid<Real>& grid, const Real* dL_dy, long dL_stride, int dim,
             Real* y_bar) {
    tableau_ = &tableau;
    tape_ = &tape;
    grid_ = grid;
    dL_dy_ = dL_dy;
    dL_stride_ = dL_stride;
    dim_ = dim;
    y_bar_ = y_bar;
    const int s = tableau.stages;
    work_.assign(static_cast<size_t>(dim) * (s + 4), Real(0));
    k_bar_ = work_.data();  // s x D
    y_bar_n_ = k_bar_ + static_cast<long>(s) * dim;
    y_next_ = y_bar_n_ + dim;
    f_end_bar_ = y_next_ + dim;
    stage_ = f_end_bar_ + dim;
    std::fill(y_bar, y_bar + dim, Real(0));  // ȳ of the state after the current step
    t_final_ = grid.time(grid.count - 1);
    direction_ = t_final_ < grid.time(0) ? -1 : 1;
    j_ = grid.count - 1;  // the latest output not yet taken in
    n_ = tape.steps() - 1;
  }
  bool done() const { return n_ < 0; }

  // Takes in the outputs of step n; returns whether f's VJP at the step's end is wanted.
  bool begin_step() {
    const int s = tableau_->stages;
    t_ = tape_->t(n_);
    h_ = tape_->h(n_);
    const bool last = n_ + 1 == tape_->steps();
    t_end_ = last ? t_final_ : tape_->t(n_ + 1);
    y_ = tape_->y(n_);
    if (last) {  // y_{n+1} as the forward step computed it
      std::copy(y_, y_ + dim_, y_next_);
      for (int i = 0; i < s; ++i)
        if (tableau_->b[i] != 0)
          for (int d = 0; d < dim_; ++d)
            y_next_[d] += times_h(tableau_->b[i]) * tape_->k(n_, i)[d];
    } else {
      std::copy(tape_->y(n_ + 1), tape_->y(n_ + 1) + dim_, y_next_);
    }
    std::fill(k_bar_, k_bar_ + static_cast<long>(s) * dim_, Real(0));
    std::fill(y_bar_n_, y_bar_n_ + dim_, Real(0));
    std::fill(f_end_bar_, f_end_bar_ + dim_, Real(0));
    bool end_slope_used = false;
    // Outputs in (t, t_end]: at the end they weigh on y_{n+1}, inside on the dense output.
    const DenseOutput dense(*tableau_);
    for (; j_ >= 1 && direction_ * (grid_.time(j_) - t_) > 0; --j_) {
      const Real* g = dL_dy_ + j_ * dL_stride_;
      if (grid_.time(j_) == t_end_) {
        for (int d = 0; d < dim_; ++d) y_bar_[d] += g[d];
        continue;
      }
      end_slope_used |= dense.transpose((grid_.time(j_) - t_) / h_, h_, g, dim_, y_bar_n_,
                                        k_bar_, y_bar_, f_end_bar_);
    }
    if (!end_slope_used) return false;  // the slope f(t_end, y_{n+1}) of Hermite output
    if (!tableau_->fsal()) return true;
    for (int d = 0; d < dim_; ++d) k_bar_[(s - 1) * dim_ + d] += f_end_bar_[d];
    return false;
  }
  double end_t() const { return t_end_; }
  const Real* end_y() const { return y_next_; }
  const Real* end_c() const { return f_end_bar_; }
  Real* end_out() { return y_bar_; }

  // y_{n+1} = y_n + h Σ_j b_j k_j
  void begin_stages() {
    for (int d = 0; d < dim_; ++d) y_bar_n_[d] += y_bar_[d];
    for (int i = 0; i < tableau_->stages; ++i)
      if (tableau_->b[i] != 0)
        for (int d = 0; d < dim_; ++d)
          k_bar_[i * dim_ + d] += times_h(tableau_->b[i]) * y_bar_[d];
  }

  // k_i = f(t + c_i h, Y_i), Y_i = y_n + h Σ_{j<i} a_ij k_j: whether stage i's cotangent is
  // nonzero, and if so Y_i formed and the VJP's output zeroed.
  bool stage(int i) {
    const Real* c = stage_c(i);
    if (std::all_of(c, c + dim_, [](Real v) { return v == 0; })) return false;
    std::copy(y_, y_ + dim_, stage_);
    for (int jj = 0; jj < i; ++jj)
      if (tableau_->a[i][jj] != 0)
        for (int d = 0; d < dim_; ++d)
          stage_[d] += times_h(tableau_->a[i][jj]) * tape_->k(n_, jj)[d];
    std::fill(y_next_, y_next_ + dim_, Real(0));  // reused: Ȳ_i
    return true;
  }
  double stage_t(int i) const { return t_ + tableau_->c[i] * h_; }
  const Real* stage_y() const { return stage_; }
  const Real* stage_c(int i) const { return k_bar_ + static_cast<long>(i) * dim_; }
  Real* stage_out() { return y_next_; }
  void after_stage(int i) {
    for (int d = 0; d < dim_; ++d) y_bar_n_[d] += y_next_[d];
    for (int jj = 0; jj < i; ++jj)
      if (tableau_->a[i][jj] != 0)
        for (int d = 0; d < dim_; ++d)
          k_bar_[jj * dim_ + d] += times_h(tableau_->a[i][jj]) * y_next_[d];
  }

  void end_step() {
    std::copy(y_bar_n_, y_bar_n_ + dim_, y_bar_);
    --n_;
  }
  void finish() {
    for (int d = 0; d < dim_; ++d) y_bar_[d] += dL_dy_[d];  // the output at t_0 is y0 itself
  }

 private:
  Real times_h(double coef) const { return static_cast<Real>(h_ * coef); }

  const ButcherTableau* tableau_ = nullptr;
  const StepTape<Real>* tape_ = nullptr;
  OutputGrid<Real> grid_{};
  const Real* dL_dy_ = nullptr;
  long dL_stride_ = 0;
  int dim_ = 0;
  Real* y_bar_ = nullptr;
  std::vector<Real> work_;
  Real *k_bar_ = nullptr, *y_bar_n_ = nullptr, *y_next_ = nullptr, *f_end_bar_ = nullptr,
       *stage_ = nullptr;
  double t_final_ = 0, direction_ = 1, t_ = 0, h_ = 0, t_end_ = 0;
  const Real* y_ = nullptr;
  long j_ = 0, n_ = -1;
};

// The reverse pass of one sample. vjp(t, y, c, y_bar) adds cᵀ∂f/∂y to y_bar and cᵀ∂f/∂θ to
// the sample's θ accumulator. On return y_bar holds dL/dy0.
template <class Vjp, class Real>
void backprop_sample(Vjp& vjp, const ButcherTableau& tableau, const StepTape<Real>& tape,
                     const OutputGrid<Real>& grid, const Real* dL_dy, long dL_stride, int dim,
                     Real* y_bar, BackpropCursor<Real>& cursor) {
  cursor.start(tableau, tape, grid, dL_dy, dL_stride, dim, y_bar);
  for (; !cursor.done(); cursor.end_step()) {
    if (cursor.begin_step())
      vjp(cursor.end_t(), cursor.end_y(), cursor.end_c(), cursor.end_out());
    cursor.begin_stages();
    for (int i = tableau.stages - 1; i >= 0; --i)
      if (cursor.stage(i)) {
        vjp(cursor.stage_t(i), cursor.stage_y(), cursor.stage_c(i), cursor.stage_out());
        cursor.after_stage(i);
      }
  }
  cursor.finish();
}

}  // namespace neuralode
