#pragma once
// The adjoint method (Chen et al. 2018): the augmented state s = [z, a, a_θ, a_t] integrated
// backwards from t_N to t_0 with
//   dz/dt = f(t, z),  da/dt = -aᵀ∂f/∂z,  da_θ/dt = -aᵀ∂f/∂θ,  da_t/dt = -aᵀ∂f/∂t,
// and at every earlier output time t_i a jump: z is reset to the stored forward value and
// dL/dz(t_i) is added to a. a_t starts at 0 and takes no jumps; the caller adds the
// jump terms -Σ dL/dz(t_i)·f(t_i, z_i) for dL/dt_0. Written once for every right-hand side
// (rhs.hpp).
#include <array>
#include <algorithm>
#include <type_traits>
#include <vector>

#include "../lanes.hpp"
#include "../theta_records.hpp"
#include "theta_sum.hpp"

namespace neuralode {

// Where the parts of the augmented state sit (rows of the component-major lane arrays):
// [z, a, a_θ, a_t], or [a, a_θ, a_t] when z comes from elsewhere (the interpolated adjoint).
// With θ records (records > 0, theta_records.hpp) a_θ leaves the state, which ends with
// the rows where f writes each evaluation's record instead: [z, a, a_t, record].
struct AdjointLayout {
  int dim;              // D
  long params;          // P
  bool with_z = true;
  long records = 0;     // values in one θ record; 0: a_θ integrated in the state
  bool theta_in_state() const { return records == 0; }
  int z() const { return 0; }
  int a() const { return with_z ? dim : 0; }
  long theta() const { return a() + dim; }  // where a_θ sits when in the state
  long time() const { return theta() + (theta_in_state() ? params : 0); }
  long record() const { return time() + 1; }
  long integrated() const { return time() + 1; }
  long size() const { return time() + 1 + records; }
};

// The widest lane group the adjoint systems take (AdjointJumps keeps a few values per lane).
constexpr int adjoint_max_lanes = 32;

// The augmented dynamics of a right-hand side R on L lanes (and on one sample, for starting
// lanes). The VJP is linear in a and negation is exact, so it runs on -a and writes the
// negated parts directly. With Records, -aᵀ∂f/∂θ goes out as a θ record (see AdjointLayout).
template <int L, class R, bool Records = false>
class AdjointSystem {
  static_assert(L <= adjoint_max_lanes, "AdjointJumps tracks 32 lanes");

 public:
  using Real = typename R::Real;
  static constexpr bool simd = R::simd;
  AdjointSystem(const R& rhs, const AdjointLayout& layout)
      : lanes_(rhs.template lanes<L>()), layout_(layout),
        neg_a_(static_cast<size_t>(rhs.dim()) * L) {}

  void operator()(const double* t, const Real* s, Real* ds) { evaluate<L>(t, s, ds); }
  void one(int, double t, const Real* s, Real* ds) { evaluate<1>(&t, s, ds); }

 private:
  template <int M>
  void evaluate(const double* t, const Real* s, Real* ds) {
    const AdjointLayout& lay = layout_;
    const Real* a = s + lay.a() * M;
    for (int i = 0; i < lay.dim * M; ++i) neg_a_[i] = -a[i];
    Real *dz = ds + lay.z() * M, *da = ds + lay.a() * M;
    Real *da_theta = ds + lay.theta() * M, *da_t = ds + lay.time() * M;
    if constexpr (Records) {
      Real* record = ds + lay.record() * M;
      if constexpr (M == L)
        lanes_.vjp_records(t, s + lay.z() * M, neg_a_.data(), dz, da, record, da_t);
      else
        lanes_.vjp_records_one(*t, s + lay.z() * M, neg_a_.data(), dz, da, record, da_t);
    } else if constexpr (M == L) {
      lanes_.vjp(t, s + lay.z() * M, neg_a_.data(), dz, da, da_theta, da_t);
    } else {
      lanes_.vjp_one(*t, s + lay.z() * M, neg_a_.data(), dz, da, da_theta, da_t);
    }
  }

  typename R::template Lanes<L> lanes_;
  AdjointLayout layout_;
  std::vector<Real> neg_a_;
};

// The jumps at output times and the gradients read off at t_0. The backward grid runs
// t_N..t_0, so its index i is the forward index T-1-i. ys and dL_dys are (T, B, D).
template <class Real>
struct AdjointJumps {
  static constexpr int max_lanes = adjoint_max_lanes;
  AdjointLayout layout;
  long times, samples;
  const Real* ys;
  const Real* dL_dys;
  Real* grad_y0;      // (B, D)
  Real* a_t_end;      // (B,)
  ThetaSum<Real>* theta_sum;  // dL/dθ: a row per sample in flight, summed over samples
  // (B, T) or null: dL/dz(t_k)·f(t_k, z_k) for k >= 1, from the f the backward pass evaluates
  // at t_k anyway (with z in the state: stage block 0 of the first step after the jump).
  Real* f_dot = nullptr;
  // With θ records: this thread's quadrature, which adds the accepted steps to the sample's
  // dL/dθ row.
  ThetaQuadrature<Real>* quadrature = nullptr;
  // Per lane: its sample's dL/dθ row (from theta_sum).
  Real* theta_row[max_lanes] = {};
  // Per lane: the forward index whose f is still to be dotted, or -1.
  std::array<long, max_lanes> pending = none_pending();

  static constexpr std::array<long, max_lanes> none_pending() {
    std::array<long, max_lanes> none{};
    for (long& p : none) p = -1;
    return none;
  }

  // The dot in double (the same bits as before for double states).
  void record_dot(long sample, int l, const Real* f, int stride) {
    const Real* g = at(dL_dys, pending[l], sample);
    double dot = 0;
    for (int d = 0; d < layout.dim; ++d) dot += double(g[d]) * double(f[d * stride]);
    f_dot[sample * times + pending[l]] = static_cast<Real>(dot);
    pending[l] = -1;
  }

  const Real* at(const Real* base, long forward_index, long sample) const {
    return base + (forward_index * samples + sample) * layout.dim;
  }

  // The integrator names the state's scalar type too (R, always Real here).
  template <int L, class R>
  bool at_output(long sample, long i, R* s, int l) {
    static_assert(std::is_same_v<R, Real>);
    const long k = times - 1 - i;
    const Real* z = at(ys, k, sample);
    const Real* g = at(dL_dys, k, sample);
    for (int d = 0; d < layout.dim; ++d) {
      if (layout.with_z) s[(layout.z() + d) * L + l] = z[d];
      s[(layout.a() + d) * L + l] += g[d];
    }
    if (k == 0) {
      for (int d = 0; d < layout.dim; ++d)
        grad_y0[sample * layout.dim + d] = s[(layout.a() + d) * L + l];
      for (long p = 0; layout.theta_in_state() && p < layout.params; ++p)
        theta_row[l][p] = s[(layout.theta() + p) * L + l];
      a_t_end[sample] = s[layout.time() * L + l];
    }
    pending[l] = k >= 1 ? k : -1;
    return true;
  }

  template <int L, class R>
  void accepted(long sample, double, double, const R*, const LaneBlocks<L, R>& k, int l) {
    static_assert(L <= max_lanes, "pending holds 32 lanes");
    if (f_dot && layout.with_z && pending[l] >= 0)
      record_dot(sample, l, k.block(0) + layout.z() * L + l, L);
  }
  template <int L, class R>
  void accepted_lanes(const std::array<std::uint64_t, L>& mask, const double* h,
                      const LaneBlocks<L, R>& k) {
    if (quadrature) quadrature->template add_steps<L>(mask, h, k, layout.record());
  }
  void started(long sample, int l) {
    pending[l] = times - 1;
    theta_row[l] = theta_sum->take(sample, /*zeroed=*/!quadrature);  // it writes the row
    if (quadrature) quadrature->start(l, theta_row[l]);
  }
  void finished(long sample, int l) {
    if (quadrature) quadrature->finish(l);
    theta_sum->done(sample);
  }
};

}  // namespace neuralode
