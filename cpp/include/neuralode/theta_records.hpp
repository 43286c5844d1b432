#pragma once
// The adjoint's a_θ as a quadrature. a_θ never feeds back into z or a, and the seminorm
// leaves it out of the error norm, so it needs no stage vectors: with the network's VJP
// written as a θ record per evaluation (net_vjp.hpp: per layer with parameters its input x
// and its rest's gradient, whose first entries u give dL/dW = u xᵀ), an accepted step adds
//   a_θ += Σ_i (h b_i) · record_i,   for W: Σ_i (h b_i u_i) x_iᵀ,
// at once. Each entry of W is read and written once per step, with the step's stages summed
// in registers: carrying a_θ (P values a lane) through every stage and forming the step's
// sums from the stage blocks streamed P values a lane several times per stage.
// The order of every sum is fixed per sample (stages in order, steps in order), whatever
// the lanes around it or the thread.
#include <cmath>
#include <vector>

#include "lanes.hpp"
#include "nets.hpp"
#include "simd.hpp"
#include "tableau.hpp"

namespace neuralode {

// add_combination's entries i .. in blocks of Block held in registers over all j; returns
// where the whole blocks end.
template <int Block, class Real>
inline long add_combination_blocks(Real* dst, long n, long i, const Real* c, int count,
                                   const Real* v0, long stride) {
  for (; i + Block <= n; i += Block) {
    Real acc[Block];
#pragma omp simd
    for (int b = 0; b < Block; ++b) acc[b] = dst[i + b];
    for (int j = 0; j < count; ++j) {
      const Real cj = c[j];
      const Real* v = v0 + j * stride + i;
#pragma omp simd
      for (int b = 0; b < Block; ++b) acc[b] = std::fma(cj, v[b], acc[b]);
    }
#pragma omp simd
    for (int b = 0; b < Block; ++b) dst[i + b] = acc[b];
  }
  return i;
}

// dst[i] += Σ_j c[j] v_j[i] for i < n, v_j = v0 + j * stride, each sum in order of j: many
// entries at a time held in registers over all j (a loop over j inside one entry ran as
// scalar fused multiply-adds), the rest sixteen at a time, then one by one, in the same
// order. Eight vectors of accumulators (AVX-512; four with AVX2's narrower registers) keep
// both FMA units busy: with two, each waited on the latency of the one before (a quarter of
// the peak: the W7 adjoint's hottest loop).
template <class Real>
inline void add_combination(Real* dst, long n, const Real* c, int count, const Real* v0,
                            long stride) {
  constexpr int wide = 512 / sizeof(Real);  // 64 doubles, 128 floats
  long i = detail::block_tile() == 8
               ? add_combination_blocks<wide>(dst, n, 0, c, count, v0, stride)
               : add_combination_blocks<wide / 2>(dst, n, 0, c, count, v0, stride);
  i = add_combination_blocks<16>(dst, n, i, c, count, v0, stride);
  for (; i < n; ++i) {
    Real acc = dst[i];
    for (int j = 0; j < count; ++j) acc = std::fma(c[j], v0[j * stride + i], acc);
    dst[i] = acc;
  }
}

// a_theta (P values) += Σ_j w[j] · record j, for `count` records of `net` back to back
// (record j at records + j * record_size). wu: `count` values of scratch.
template <class Real>
NEURALODE_SIMD_CLONES void add_theta_records(const Network& net, const Real* records,
                                             const Real* w, int count, Real* wu,
                                             Real* a_theta) {
  const long size = net.record_size();
  const auto& layers = net.layers();
  for (size_t k = 0; k < layers.size(); ++k) {
    const ParamShape& shape = net.param_shape(k);
    if (shape.record_offset < 0) continue;
    const int n_in = layers[k].in_features, n_out = layers[k].out_features;
    const Real* x0 = records + shape.record_offset;  // record j's x at x0 + j * size
    const Real* rest0 = x0 + n_in;                   // and its rest's gradient; u first
    Real* grad_w = a_theta + layers[k].param_offset;
    for (int o = 0; o < n_out; ++o) {  // W's row o += Σ_j (w_j u_j[o]) x_j
      for (int j = 0; j < count; ++j) wu[j] = w[j] * rest0[j * size + o];
      add_combination(grad_w + static_cast<long>(o) * n_in, n_in, wu, count, x0, size);
    }
    add_combination(grad_w + shape.matrix, shape.rest, w, count, rest0, size);
  }
}

// Weighted records waiting to be added to one a_θ, `capacity` at a time: each entry of W is
// then read and written once per `capacity` records, not once per record (backprop adds
// every VJP of a sample's steps, weight 1).
template <class Real>
class RecordPanel {
 public:
  RecordPanel(const Network& net, int capacity)
      : net_(net), capacity_(capacity),
        records_(static_cast<size_t>(net.record_size()) * capacity),
        w_(static_cast<size_t>(capacity)), wu_(w_.size()) {}

  // Where the next record goes (record_size values); full() says when to add_to.
  Real* next(Real weight) {
    w_[count_] = weight;
    return records_.data() + static_cast<long>(count_++) * net_.record_size();
  }
  bool full() const { return count_ == capacity_; }
  // Adds the records held to a_theta and lets go of them.
  void add_to(Real* a_theta) {
    if (count_ > 0)
      add_theta_records(net_, records_.data(), w_.data(), count_, wu_.data(), a_theta);
    count_ = 0;
  }

 private:
  const Network& net_;
  int capacity_, count_ = 0;
  std::vector<Real> records_, w_, wu_;
};

// One thread's quadrature over L lanes: each lane's accepted steps, their stages' records in
// the rows from `first` of the stage blocks, go to the lane's panel with weights h b_i, and
// the panel into the a_θ of the lane's sample every few steps and when the sample ends. The
// panel holds six steps of records whatever the lanes, so each sample's sums are the same.
template <class Real>
class ThetaQuadrature {
 public:
  ThetaQuadrature(const Network& net, const ButcherTableau& tableau, int lanes)
      : tableau_(tableau), size_(net.record_size()), a_theta_(static_cast<size_t>(lanes)) {
    int weighted = 0;  // stages with b_i != 0
    for (int i = 0; i < tableau.stages; ++i) weighted += tableau.b[i] != 0;
    panels_.reserve(static_cast<size_t>(lanes));
    for (int l = 0; l < lanes; ++l) panels_.emplace_back(net, 6 * weighted);
  }

  // Lane l takes a sample whose a_θ, zero so far, is `a_theta` (P values).
  void start(int l, Real* a_theta) { a_theta_[l] = a_theta; }

  template <int L>
  void add_step(double h, const LaneBlocks<L, Real>& k, long first, int l) {
    RecordPanel<Real>& panel = panels_[l];
    for (int i = 0; i < tableau_.stages; ++i) {
      if (tableau_.b[i] == 0) continue;
      Real* dst = panel.next(static_cast<Real>(h * tableau_.b[i]));  // as the step rounded it
      const Real* src = k.block(i) + first * L + l;
      for (long r = 0; r < size_; ++r) dst[r] = src[r * L];
      if (panel.full()) panel.add_to(a_theta_[l]);
    }
  }

  // Lane l's sample ended: the rest of its panel into its a_θ.
  void finish(int l) { panels_[l].add_to(a_theta_[l]); }

 private:
  const ButcherTableau& tableau_;
  long size_;
  std::vector<RecordPanel<Real>> panels_;
  std::vector<Real*> a_theta_;
};

}  // namespace neuralode
