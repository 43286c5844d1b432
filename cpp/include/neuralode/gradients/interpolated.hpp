#pragma once
// The interpolated adjoint: only [a, a_θ, a_t] is integrated backwards; z(t) comes from the
// forward pass's recorded steps and dense output, so no backward reconstruction of z.
// Written once for every right-hand side (rhs.hpp).
#include <array>
#include <vector>

#include "../backprop.hpp"
#include "adjoint.hpp"

namespace neuralode {

// Serves as the integrator's system and as its hooks (it needs to know which sample each
// lane holds). With jumps.f_dot, the first evaluation of a lane after it started or jumped
// is at that output time t_k: its f(t_k, z_k) gives the lane's pending dL/dt_k term.
template <int L, class R, bool Records = false>
class InterpolatedAdjointSystem {
  static_assert(L <= adjoint_max_lanes, "AdjointJumps tracks 32 lanes");

 public:
  using Real = typename R::Real;
  static constexpr bool simd = R::simd;
  InterpolatedAdjointSystem(const R& rhs, const ButcherTableau& tableau,
                            const StepTape<Real>* tapes, AdjointJumps<Real> jumps)
      : lanes_(rhs.template lanes<L>()), tableau_(tableau), tapes_(tapes), jumps_(jumps),
        dim_(rhs.dim()), z_(static_cast<size_t>(dim_) * L), f_(z_.size()), neg_a_(z_.size()),
        one_z_(static_cast<size_t>(dim_)) {
    sample_.fill(-1);
    hint_.fill(0);
  }

  void operator()(const double* t, const Real* s, Real* ds) {
    for (int l = 0; l < L; ++l) state_at<L>(l, t[l], z_.data(), l);
    evaluate<L>(t, s, ds);
    for (int l = 0; l < L; ++l)
      if (jumps_.f_dot && jumps_.pending[l] >= 0) jumps_.record_dot(sample_[l], l, &f_[l], L);
  }
  void one(int l, double t, const Real* s, Real* ds) {
    state_at<1>(l, t, z_.data(), 0);
    evaluate<1>(&t, s, ds);
    if (jumps_.f_dot && jumps_.pending[l] >= 0) jumps_.record_dot(sample_[l], l, f_.data(), 1);
  }

  void started(long sample, int l) {
    sample_[l] = sample;
    hint_[l] = tapes_[sample].steps() - 1;
    jumps_.started(sample, l);
  }
  void finished(long sample, int l) {  // the lane is idle until it takes a sample again
    jumps_.finished(sample, l);
    sample_[l] = -1;
    jumps_.pending[l] = -1;
  }
  template <int M, class S>
  bool at_output(long sample, long i, S* s, int l) {
    jumps_.template at_output<M>(sample, i, s, l);
    return true;
  }
  template <int M, class S>
  void accepted(long sample, double t, double h, const S* y, const LaneBlocks<M, S>& k, int l) {
    jumps_.template accepted<M>(sample, t, h, y, k, l);  // f_dot is taken in operator()
  }
  template <int M, class S>
  void accepted_lanes(const std::array<std::uint64_t, M>& mask, const double* h,
                      const LaneBlocks<M, S>& k) {
    jumps_.template accepted_lanes<M>(mask, h, k);
  }

 private:
  // z of the sample in lane l at time tau, into lane `slot` of a block of M lanes.
  template <int M>
  void state_at(int l, double tau, Real* z, int slot) {
    if (sample_[l] < 0) {  // an idle lane: any finite state will do
      for (int d = 0; d < dim_; ++d) z[d * M + slot] = 0;
      return;
    }
    const StepTape<Real>& tape = tapes_[sample_[l]];
    hint_[l] = tape.find_step(tau, hint_[l]);
    tape.interpolate(tableau_, hint_[l], tau, one_z_.data());
    for (int d = 0; d < dim_; ++d) z[d * M + slot] = one_z_[d];
  }

  // The VJP is linear in a and negation is exact: it runs on -a (see AdjointSystem). f is
  // asked for only when its dot products are wanted (a Python f is a call of its own).
  template <int M>
  void evaluate(const double* t, const Real* s, Real* ds) {
    const AdjointLayout& lay = jumps_.layout;
    const Real* a = s + lay.a() * M;
    for (int i = 0; i < dim_ * M; ++i) neg_a_[i] = -a[i];
    Real* f = jumps_.f_dot ? f_.data() : nullptr;
    Real *da = ds + lay.a() * M, *da_theta = ds + lay.theta() * M, *da_t = ds + lay.time() * M;
    if constexpr (Records) {
      Real* record = ds + lay.record() * M;
      if constexpr (M == L)
        lanes_.vjp_records(t, z_.data(), neg_a_.data(), f, da, record, da_t);
      else
        lanes_.vjp_records_one(*t, z_.data(), neg_a_.data(), f, da, record, da_t);
    } else if constexpr (M == L) {
      lanes_.vjp(t, z_.data(), neg_a_.data(), f, da, da_theta, da_t);
    } else {
      lanes_.vjp_one(*t, z_.data(), neg_a_.data(), f, da, da_theta, da_t);
    }
  }

  typename R::template Lanes<L> lanes_;
  const ButcherTableau& tableau_;
  const StepTape<Real>* tapes_;
  AdjointJumps<Real> jumps_;
  int dim_;
  std::vector<Real> z_, f_, neg_a_, one_z_;
  std::array<long, L> sample_, hint_;
};

}  // namespace neuralode
