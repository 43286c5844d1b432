#pragma once
// The adjoint method (Chen et al. 2018): the augmented state s = [z, a, a_θ, a_t] integrated
// backwards from t_N to t_0 with
//   dz/dt = f(t, z),  da/dt = -aᵀ∂f/∂z,  da_θ/dt = -aᵀ∂f/∂θ,  da_t/dt = -aᵀ∂f/∂t,
// and at every earlier output time t_i a jump: z is reset to the stored forward value and
// dL/dz(t_i) is added to a. a_t starts at 0 and takes no jumps; the caller adds the
// jump terms -Σ dL/dz(t_i)·f(t_i, z_i) for dL/dt_0.
#include <algorithm>
#include <array>
#include <vector>

#include "backprop.hpp"
#include "lanes.hpp"
#include "net_vjp.hpp"

namespace neuralode {

// Where the parts of the augmented state sit (rows of the component-major lane arrays):
// [z, a, a_θ, a_t], or [a, a_θ, a_t] when z comes from elsewhere (the interpolated adjoint).
struct AdjointLayout {
  int dim;              // D
  long params;          // P
  bool with_z = true;
  int z() const { return 0; }
  int a() const { return with_z ? dim : 0; }
  long theta() const { return a() + dim; }
  long time() const { return theta() + params; }
  long size() const { return time() + 1; }
};

// The adjoint part of the augmented dynamics for M lanes: with the network evaluated at z
// (f into dz), da = -aᵀ∂f/∂z, da_θ = -aᵀ∂f/∂θ, da_t = -aᵀ∂f/∂t into ds. The VJP is linear in
// a and negation is exact, so it runs on -a and writes the negated parts directly.
// neg_a: scratch of dim * M doubles.
template <int M>
void adjoint_dynamics(const Network& net, const double* theta, const AdjointLayout& lay,
                      const double* t, const double* z, double* dz, const double* s, double* ds,
                      NetTape& tape, NetWorkspace& ws, double* neg_a) {
  const double* a = s + lay.a() * M;
  for (int i = 0; i < lay.dim * M; ++i) neg_a[i] = -a[i];
  evaluate_vjp<M>(net, t, theta, z, neg_a, dz, ds + lay.a() * M, ds + lay.theta() * M,
                  ds + lay.time() * M, tape, ws);
}

// The augmented dynamics of a Network on L lanes (and on one sample, for starting lanes).
template <int L>
class NetworkAdjointRhs {
 public:
  static constexpr bool simd = true;
  NetworkAdjointRhs(const Network& net, const double* theta)
      : net_(net), theta_(theta), layout_{net.dim(), net.num_params()} {
    net.prepare<L>(ws_);
    prepare_tape<L>(net, tape_);
    prepare_tape<1>(net, tape_one_);
    neg_a_.resize(static_cast<size_t>(net.dim()) * L);
  }

  void operator()(const double* t, const double* s, double* ds) { evaluate<L>(t, s, ds, tape_); }
  void one(int, double t, const double* s, double* ds) { evaluate<1>(&t, s, ds, tape_one_); }

 private:
  template <int M>
  void evaluate(const double* t, const double* s, double* ds, NetTape& tape) {
    const AdjointLayout& lay = layout_;
    adjoint_dynamics<M>(net_, theta_, lay, t, s + lay.z() * M, ds + lay.z() * M, s, ds, tape,
                        ws_, neg_a_.data());
  }

  const Network& net_;
  const double* theta_;
  AdjointLayout layout_;
  NetWorkspace ws_;
  NetTape tape_, tape_one_;
  std::vector<double> neg_a_;
};

// The jumps at output times and the gradients read off at t_0. The backward grid runs
// t_N..t_0, so its index i is the forward index T-1-i. ys and dL_dys are (T, B, D).
struct AdjointJumps {
  AdjointLayout layout;
  long times, samples;
  const double* ys;
  const double* dL_dys;
  double* grad_y0;      // (B, D)
  double* grad_theta;   // (B, P), one row per sample
  double* a_t_end;      // (B,)
  // (B, T) or null: dL/dz(t_k)·f(t_k, z_k) for k >= 1, from the f the backward pass evaluates
  // at t_k anyway (with z in the state: stage block 0 of the first step after the jump).
  double* f_dot = nullptr;
  // Per lane: the forward index whose f is still to be dotted, or -1.
  long pending[8] = {-1, -1, -1, -1, -1, -1, -1, -1};

  void record_dot(long sample, int l, const double* f, int stride) {
    const double* g = at(dL_dys, pending[l], sample);
    double dot = 0;
    for (int d = 0; d < layout.dim; ++d) dot += g[d] * f[d * stride];
    f_dot[sample * times + pending[l]] = dot;
    pending[l] = -1;
  }

  const double* at(const double* base, long forward_index, long sample) const {
    return base + (forward_index * samples + sample) * layout.dim;
  }

  template <int L>
  bool at_output(long sample, long i, double* s, int l) {
    const long k = times - 1 - i;
    const double* z = at(ys, k, sample);
    const double* g = at(dL_dys, k, sample);
    for (int d = 0; d < layout.dim; ++d) {
      if (layout.with_z) s[(layout.z() + d) * L + l] = z[d];
      s[(layout.a() + d) * L + l] += g[d];
    }
    if (k == 0) {
      for (int d = 0; d < layout.dim; ++d)
        grad_y0[sample * layout.dim + d] = s[(layout.a() + d) * L + l];
      for (long p = 0; p < layout.params; ++p)
        grad_theta[sample * layout.params + p] = s[(layout.theta() + p) * L + l];
      a_t_end[sample] = s[layout.time() * L + l];
    }
    pending[l] = k >= 1 ? k : -1;
    return true;
  }

  template <int L>
  void accepted(long sample, double, double, const double*, const LaneBlocks<L>& k, int l) {
    static_assert(L <= 8, "pending holds 8 lanes");
    if (f_dot && layout.with_z && pending[l] >= 0)
      record_dot(sample, l, k.block(0) + layout.z() * L + l, L);
  }
  void started(long, int l) { pending[l] = times - 1; }
  void finished(long, int) {}
};

// The interpolated adjoint: only [a, a_θ, a_t] is integrated backwards; z(t) comes from the
// forward pass's recorded steps and dense output, so no backward reconstruction of z.
// Serves as the right-hand side and as the integrator's hooks (it needs to know which
// sample each lane holds).
template <int L>
class NetworkInterpolatedAdjoint {
 public:
  static constexpr bool simd = true;
  NetworkInterpolatedAdjoint(const Network& net, const double* theta,
                             const ButcherTableau& tableau, const StepTape* tapes,
                             AdjointJumps jumps)
      : net_(net), theta_(theta), tableau_(tableau), tapes_(tapes), jumps_(jumps) {
    net.prepare<L>(ws_);
    prepare_tape<L>(net, tape_);
    prepare_tape<1>(net, tape_one_);
    z_.resize(static_cast<size_t>(net.dim()) * L);
    f_.resize(z_.size());
    neg_a_.resize(z_.size());
    one_z_.resize(static_cast<size_t>(net.dim()));
    sample_.fill(-1);
    hint_.fill(0);
  }

  // The first evaluation of a lane after it started or jumped is at that output time t_k:
  // its f(t_k, z_k) gives the lane's pending dL/dt_k term.
  void operator()(const double* t, const double* s, double* ds) {
    for (int l = 0; l < L; ++l) state_at<L>(l, t[l], z_.data(), l);
    evaluate<L>(t, s, ds, tape_);
    for (int l = 0; l < L; ++l)
      if (jumps_.f_dot && jumps_.pending[l] >= 0) jumps_.record_dot(sample_[l], l, &f_[l], L);
  }
  void one(int l, double t, const double* s, double* ds) {
    state_at<1>(l, t, z_.data(), 0);
    evaluate<1>(&t, s, ds, tape_one_);
    if (jumps_.f_dot && jumps_.pending[l] >= 0) jumps_.record_dot(sample_[l], l, f_.data(), 1);
  }

  void started(long sample, int l) {
    sample_[l] = sample;
    hint_[l] = tapes_[sample].steps() - 1;
    jumps_.started(sample, l);
  }
  void finished(long, int) {}
  template <int M>
  bool at_output(long sample, long i, double* s, int l) {
    jumps_.template at_output<M>(sample, i, s, l);
    return true;
  }
  template <int M>
  void accepted(long, double, double, const double*, const LaneBlocks<M>&, int) {}

 private:
  // z of the sample in lane l at time tau, into lane `slot` of a block of M lanes.
  template <int M>
  void state_at(int l, double tau, double* z, int slot) {
    const int dim = net_.dim();
    if (sample_[l] < 0) {  // an idle lane: any finite state will do
      for (int d = 0; d < dim; ++d) z[d * M + slot] = 0;
      return;
    }
    const StepTape& tape = tapes_[sample_[l]];
    hint_[l] = tape.find_step(tau, hint_[l]);
    tape.interpolate(tableau_, hint_[l], tau, one_z_.data());
    for (int d = 0; d < dim; ++d) z[d * M + slot] = one_z_[d];
  }

  template <int M>
  void evaluate(const double* t, const double* s, double* ds, NetTape& tape) {
    adjoint_dynamics<M>(net_, theta_, jumps_.layout, t, z_.data(), f_.data(), s, ds, tape, ws_,
                        neg_a_.data());
  }

  const Network& net_;
  const double* theta_;
  const ButcherTableau& tableau_;
  const StepTape* tapes_;
  AdjointJumps jumps_;
  NetWorkspace ws_;
  NetTape tape_, tape_one_;
  std::vector<double> z_, f_, neg_a_;
  std::vector<double> one_z_;
  std::array<long, L> sample_, hint_;
};

}  // namespace neuralode
