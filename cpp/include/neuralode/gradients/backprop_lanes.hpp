#pragma once
// Backpropagation through the recorded steps of L samples side by side, for networks: each
// lane holds a sample and a BackpropCursor (backprop.hpp), and every VJP the cursors ask for
// at the same point of their steps (the end slope, then stage s-1 .. 0) runs as one lane
// group, with the lane-block kernels: one sample at a time streamed every weight matrix
// twice per VJP for a single sample, ten forward evaluations' time per backward one on W7.
// A lane whose cotangent is zero skips the VJP as a sample alone does, and each sample's θ
// records reach its own panel in its own order: results are those of backprop_sample.
#include <algorithm>
#include <memory>
#include <vector>

#include "../backprop.hpp"
#include "../theta_records.hpp"

namespace neuralode {

template <int L, class R>
class BackpropLanes {
 public:
  using Real = typename R::Real;
  static constexpr int panel_size = 32;  // θ records per panel, as BackpropVjp's

  BackpropLanes(const R& rhs, const ButcherTableau& tableau)
      : lanes_(rhs.template lanes<L>()), tableau_(tableau), dim_(rhs.dim()),
        record_size_(rhs.record_size()), y_(static_cast<size_t>(dim_) * L),
        c_(y_.size()), c_y_(y_.size()), records_(static_cast<size_t>(record_size_) * L) {
    for (int l = 0; l < L; ++l)
      panels_.push_back(std::make_unique<RecordPanel<Real>>(rhs.network(), panel_size));
  }

  // Runs the samples next() hands out (-1: no more) until all are done. start(b, cursor)
  // starts the cursor on sample b and returns its dL/dθ row (P values, written here whole:
  // it need not be zeroed); end(b, vjps) follows
  // the sample's cursor.finish() and the last of its records.
  template <class Next, class Start, class End>
  void run(Next&& next, Start&& start, End&& end) {
    int running = 0;
    for (int l = 0; l < L; ++l) running += take(l, next, start, end);
    while (running > 0) {
      for (int l = 0; l < L; ++l) want_[l] = sample_[l] >= 0 && cursor_[l].begin_step();
      batch([&](int l, double& t, const Real*& y, const Real*& c, Real*& out) {
        t = cursor_[l].end_t(), y = cursor_[l].end_y(), c = cursor_[l].end_c();
        out = cursor_[l].end_out();
      });
      for (int l = 0; l < L; ++l)
        if (sample_[l] >= 0) cursor_[l].begin_stages();
      for (int i = tableau_.stages - 1; i >= 0; --i) {
        for (int l = 0; l < L; ++l) want_[l] = sample_[l] >= 0 && cursor_[l].stage(i);
        batch([&](int l, double& t, const Real*& y, const Real*& c, Real*& out) {
          t = cursor_[l].stage_t(i), y = cursor_[l].stage_y(), c = cursor_[l].stage_c(i);
          out = cursor_[l].stage_out();
        });
        for (int l = 0; l < L; ++l)
          if (want_[l]) cursor_[l].after_stage(i);
      }
      for (int l = 0; l < L; ++l) {
        if (sample_[l] < 0) continue;
        cursor_[l].end_step();
        if (cursor_[l].done()) {
          finish(l, end);
          running -= 1 - take(l, next, start, end);
        }
      }
    }
  }

 private:
  // Lane l takes the next sample with steps to go back through (those without finish at
  // once); returns whether it holds one.
  template <class Next, class Start, class End>
  int take(int l, Next& next, Start& start, End& end) {
    sample_[l] = -1;
    for (long b = next(); b >= 0; b = next()) {
      sample_[l] = b;
      vjps_[l] = 0;
      panels_[l]->start(start(b, cursor_[l]));
      if (!cursor_[l].done()) return 1;
      finish(l, end);
    }
    return 0;
  }

  template <class End>
  void finish(int l, End& end) {
    cursor_[l].finish();
    panels_[l]->flush();
    end(sample_[l], vjps_[l]);
    sample_[l] = -1;
  }

  // The VJPs of the lanes in want_, inputs(l, t, y, c, out) naming each one's point,
  // cotangent and where its cᵀ∂f/∂y is added; the other lanes evaluate at zeros.
  template <class Inputs>
  void batch(Inputs&& inputs) {
    int lanes[L] = {}, n = 0;
    Real* out[L] = {};
    std::fill(t_, t_ + L, 0.0);
    std::fill(y_.begin(), y_.end(), Real(0));
    std::fill(c_.begin(), c_.end(), Real(0));
    for (int l = 0; l < L; ++l) {
      if (!want_[l]) continue;
      const Real *y = nullptr, *c = nullptr;
      inputs(l, t_[l], y, c, out[n]);
      for (int d = 0; d < dim_; ++d) {
        y_[d * L + l] = y[d];
        c_[d * L + l] = c[d];
      }
      lanes[n++] = l;
    }
    if (n == 0) return;
    lanes_.vjp_records(t_, y_.data(), c_.data(), nullptr, c_y_.data(), records_.data(), c_t_);
    Real* dst[L] = {};
    for (int m = 0; m < n; ++m) {
      const int l = lanes[m];
      for (int d = 0; d < dim_; ++d) out[m][d] += c_y_[d * L + l];
      ++vjps_[l];
      dst[m] = panels_[l]->next(Real(1));
    }
    gather_lane_records<L>(records_.data(), record_size_, lanes, n, dst);
    for (int m = 0; m < n; ++m)
      if (panels_[lanes[m]]->full()) panels_[lanes[m]]->flush();
  }

  typename R::template Lanes<L> lanes_;
  const ButcherTableau& tableau_;
  int dim_;
  long record_size_;
  BackpropCursor<Real> cursor_[L];
  std::vector<std::unique_ptr<RecordPanel<Real>>> panels_;
  long sample_[L] = {}, vjps_[L] = {};
  bool want_[L] = {};
  double t_[L] = {};
  std::vector<Real> y_, c_, c_y_, records_;
  Real c_t_[L] = {};
};

}  // namespace neuralode
