#pragma once
// The one right-hand-side concept that every solve and every gradient mode is written
// against: f(t, y; θ) and its vector-Jacobian products, evaluated on L lanes at once.
//
// A right-hand side R has
//   int dim() const;  long num_params() const;
//   static constexpr bool threads;  // may run on OpenMP threads without the GIL
//   static constexpr bool simd;     // loops over it are compiled per instruction set
//   static constexpr int max_lanes; // the widest lane group it can evaluate (1: one sample)
//   template <int L> Lanes<L> lanes() const;  // one per thread: workspaces live in it
// and R::Lanes<L> has, states component-major ([d][lane]):
//   void f(const double* t /*[L]*/, const double* y /*[dim][L]*/, double* dy);
//   void f_one(double t, const double* y /*[dim]*/, double* dy /*[dim]*/);
//   void vjp(const double* t, const double* y, const double* c, double* f, double* c_y,
//            double* c_theta /*[P][L]*/, double* c_t /*[L]*/);  // cᵀ∂f/∂y, cᵀ∂f/∂θ, cᵀ∂f/∂t
//   void vjp_one(double t, const double* y, const double* c, double* f, double* c_y,
//                double* c_theta, double* c_t);
// vjp overwrites its outputs; f there may be null when the caller does not need f(t, y).
// Optional, for lane groups whose call costs the same for any number of lanes (a batched
// Python f): set_active(lane, bool), told by the integrator which lanes hold a sample, and
// masked(mask, t, y, dy), which evaluates the lanes in `mask` in one call.
// One lane's arithmetic is the same whatever L, so no result depends on how samples are
// grouped. Adapters: NetworkRhs below (C++ networks), and in the bindings the Python
// callables and neuralode.Dynamics.
#include <cstdint>
#include <utility>
#include <vector>

#include "net_vjp.hpp"
#include "nets.hpp"

namespace neuralode {

// A network of this library with its parameters θ.
class NetworkRhs {
 public:
  static constexpr bool threads = true, simd = true;
  static constexpr int max_lanes = 8;

  NetworkRhs(const Network& net, const double* theta) : net_(net), theta_(theta) {}
  int dim() const { return net_.dim(); }
  long num_params() const { return net_.num_params(); }
  const Network& network() const { return net_; }
  const double* theta() const { return theta_; }

  template <int L>
  class Lanes {
   public:
    explicit Lanes(const NetworkRhs& rhs)
        : net_(rhs.net_), theta_(rhs.theta_), f_scratch_(static_cast<size_t>(net_.dim()) * L) {
      net_.prepare<L>(ws_);
      prepare_tape<L>(net_, tape_);
      prepare_tape<1>(net_, tape_one_);
    }
    void f(const double* t, const double* y, double* dy) {
      // One lane: inlined into the per-instruction-set step loop, since a kernel call per
      // evaluation cost a cheap network (W1) 10%; wider lanes call their kernel.
      if constexpr (L == 1)
        net_.forward<1>(t, theta_, y, dy, ws_);
      else
        evaluate_network<L>(net_, t, theta_, y, dy, ws_);
    }
    void f_one(double t, const double* y, double* dy) {
      evaluate_network<1>(net_, &t, theta_, y, dy, ws_);
    }
    void vjp(const double* t, const double* y, const double* c, double* f, double* c_y,
             double* c_theta, double* c_t) {
      vjp_on<L>(t, y, c, f, c_y, c_theta, c_t, tape_);
    }
    void vjp_one(double t, const double* y, const double* c, double* f, double* c_y,
                 double* c_theta, double* c_t) {
      vjp_on<1>(&t, y, c, f, c_y, c_theta, c_t, tape_one_);
    }

   private:
    template <int M>
    void vjp_on(const double* t, const double* y, const double* c, double* f, double* c_y,
                double* c_theta, double* c_t, NetTape& tape) {
      if (!f) f = f_scratch_.data();  // the forward pass runs anyway: its output goes here
      evaluate_vjp<M>(net_, t, theta_, y, c, f, c_y, c_theta, c_t, tape, ws_);
    }

    const Network& net_;
    const double* theta_;
    NetWorkspace ws_;
    NetTape tape_, tape_one_;
    std::vector<double> f_scratch_;
  };

  template <int L>
  Lanes<L> lanes() const {
    return Lanes<L>(*this);
  }

 private:
  const Network& net_;
  const double* theta_;
};

// f of a right-hand side as the integrator's system (integrate.hpp): the forward solve.
template <int L, class R>
struct ForwardSystem {
  static constexpr bool simd = R::simd;
  typename R::template Lanes<L> lanes;
  explicit ForwardSystem(const R& rhs) : lanes(rhs.template lanes<L>()) {}
  void operator()(const double* t, const double* y, double* dy) { lanes.f(t, y, dy); }
  void one(int, double t, const double* y, double* dy) { lanes.f_one(t, y, dy); }
  // Only for lanes that evaluate a chosen subset in one call (see evaluates_masked).
  template <class Lanes = typename R::template Lanes<L>>
  auto masked(const std::uint64_t* mask, const double* t, const double* y, double* dy)
      -> decltype(std::declval<Lanes&>().masked(mask, t, y, dy)) {
    return lanes.masked(mask, t, y, dy);
  }
};

}  // namespace neuralode
