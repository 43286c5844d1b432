#pragma once
// The adjoint method (Chen et al. 2018): the augmented state s = [z, a, a_θ, a_t] integrated
// backwards from t_N to t_0 with
//   dz/dt = f(t, z),  da/dt = -aᵀ∂f/∂z,  da_θ/dt = -aᵀ∂f/∂θ,  da_t/dt = -aᵀ∂f/∂t,
// and at every earlier output time t_i a jump: z is reset to the stored forward value and
// dL/dz(t_i) is added to a. a_t starts at 0 and takes no jumps; the caller adds the
// jump terms -Σ dL/dz(t_i)·f(t_i, z_i) for dL/dt_0.
#include <algorithm>
#include <vector>

#include "lanes.hpp"
#include "net_vjp.hpp"

namespace neuralode {

// Where the parts of the augmented state sit (rows of the component-major lane arrays).
struct AdjointLayout {
  int dim;         // D
  long params;     // P
  int z() const { return 0; }
  int a() const { return dim; }
  int theta() const { return 2 * dim; }
  long time() const { return 2 * dim + params; }
  long size() const { return 2 * dim + params + 1; }
};

// The augmented dynamics of a Network on L lanes (and on one sample, for starting lanes).
template <int L>
class NetworkAdjointRhs {
 public:
  NetworkAdjointRhs(const Network& net, const double* theta)
      : net_(net), theta_(theta), layout_{net.dim(), net.num_params()} {
    net.prepare<L>(ws_);
    prepare_tape<L>(net, tape_);
    prepare_tape<1>(net, tape_one_);
    a_y_.resize(static_cast<size_t>(net.dim()) * L);
  }

  void operator()(const double* t, const double* s, double* ds) { evaluate<L>(t, s, ds, tape_); }
  void one(double t, const double* s, double* ds) { evaluate<1>(&t, s, ds, tape_one_); }

 private:
  template <int M>
  void evaluate(const double* t, const double* s, double* ds, NetTape& tape) {
    const AdjointLayout& lay = layout_;
    forward_recorded<M>(net_, t, theta_, s + lay.z() * M, ds + lay.z() * M, tape, ws_);
    network_vjp<M>(net_, theta_, tape, s + lay.a() * M, a_y_.data(), ds + lay.theta() * M,
                   ds + lay.time() * M, ws_);
    double* da = ds + lay.a() * M;
    for (int i = 0; i < lay.dim * M; ++i) da[i] = -a_y_[i];
    double* rest = ds + lay.theta() * M;
    for (long i = 0; i < (lay.params + 1) * M; ++i) rest[i] = -rest[i];
  }

  const Network& net_;
  const double* theta_;
  AdjointLayout layout_;
  NetWorkspace ws_;
  NetTape tape_, tape_one_;
  std::vector<double> a_y_;
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

  const double* at(const double* base, long forward_index, long sample) const {
    return base + (forward_index * samples + sample) * layout.dim;
  }

  template <int L>
  bool at_output(long sample, long i, double* s, int l) {
    const long k = times - 1 - i;
    const double* z = at(ys, k, sample);
    const double* g = at(dL_dys, k, sample);
    for (int d = 0; d < layout.dim; ++d) {
      s[(layout.z() + d) * L + l] = z[d];
      s[(layout.a() + d) * L + l] += g[d];
    }
    if (k == 0) {
      for (int d = 0; d < layout.dim; ++d)
        grad_y0[sample * layout.dim + d] = s[(layout.a() + d) * L + l];
      for (long p = 0; p < layout.params; ++p)
        grad_theta[sample * layout.params + p] = s[(layout.theta() + p) * L + l];
      a_t_end[sample] = s[layout.time() * L + l];
    }
    return true;
  }

  template <int L>
  void accepted(long, double, double, const double*, const LaneBlocks<L>&, int) {}
};

}  // namespace neuralode
