#pragma once
// The one right-hand-side concept that every solve and every gradient mode is written
// against: f(t, y; θ) and its vector-Jacobian products, evaluated on L lanes at once.
//
// A right-hand side R has
//   using Real = double or float;  // the scalar of states, parameters and cotangents
//   int dim() const;  long num_params() const;
//   static constexpr bool threads;  // may run on OpenMP threads without the GIL
//   static constexpr bool simd;     // loops over it are compiled per instruction set
//   static constexpr int max_lanes; // the widest lane group it can evaluate (1: one sample)
//   template <int L> Lanes<L> lanes() const;  // one per thread: workspaces live in it
// and R::Lanes<L> has, states component-major ([d][lane]), times double:
//   void f(const double* t /*[L]*/, const Real* y /*[dim][L]*/, Real* dy);
//   void f_one(double t, const Real* y /*[dim]*/, Real* dy /*[dim]*/);
//   void vjp(const double* t, const Real* y, const Real* c, Real* f, Real* c_y,
//            Real* c_theta /*[P][L]*/, Real* c_t /*[L]*/);  // cᵀ∂f/∂y, cᵀ∂f/∂θ, cᵀ∂f/∂t
//   void vjp_one(double t, const Real* y, const Real* c, Real* f, Real* c_y, Real* c_theta,
//                Real* c_t);
// vjp overwrites its outputs; f there may be null when the caller does not need f(t, y).
// Optional, for right-hand sides whose cᵀ∂f/∂θ has a factored form (networks: u xᵀ per
// layer, theta_records.hpp): long record_size() const on R, and on its Lanes
//   void vjp_records(const double* t, const Real* y, const Real* c, Real* f, Real* c_y,
//                    Real* records /*[record_size][L]*/, Real* c_t);  // and vjp_records_one
// which write cᵀ∂f/∂θ as that record instead of [P][L] values.
// Optional, for lane groups whose call costs the same for any number of lanes (a batched
// Python f): set_active(lane, bool), told by the integrator which lanes hold a sample, and
// masked(mask, t, y, dy), which evaluates the lanes in `mask` in one call.
// One lane's arithmetic is the same whatever L, so no result depends on how samples are
// grouped. Adapters: NetworkRhs below (C++ networks), and in the bindings the Python
// callables and neuralode.Dynamics.
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "net_vjp.hpp"
#include "nets.hpp"

namespace neuralode {

// A network of this library with its parameters θ, in double or float.
template <class Scalar>
class NetworkRhs {
 public:
  using Real = Scalar;
  static constexpr bool threads = true, simd = true;
  // Two AVX-512 vectors of lanes: 16 doubles or 32 floats, so that the Linear kernels reuse
  // each weight across a block of samples (linear.hpp, lane_block).
  static constexpr int max_lanes = 128 / sizeof(Real);

  NetworkRhs(const Network& net, const Real* theta) : net_(net), theta_(theta) {}
  int dim() const { return net_.dim(); }
  long num_params() const { return net_.num_params(); }
  const Network& network() const { return net_; }
  long record_size() const { return net_.record_size(); }
  const Real* theta() const { return theta_; }

  template <int L>
  class Lanes {
   public:
    explicit Lanes(const NetworkRhs& rhs)
        : rhs_(rhs), net_(rhs.net_), theta_(rhs.theta_), f_scratch_(static_cast<size_t>(net_.dim()) * L) {
      net_.prepare<L>(ws_);
      if constexpr (detail::lane_block<L, Real>) ws_.packed = &rhs.packed(false);
      prepare_tape<L>(net_, tape_);
      prepare_tape<1>(net_, tape_one_);
    }
    void f(const double* t, const Real* y, Real* dy) {
      // One lane: inlined into the per-instruction-set step loop, since a kernel call per
      // evaluation cost a cheap network (W1) 10%; wider lanes call their kernel.
      if constexpr (L == 1)
        net_.forward<1>(t, theta_, y, dy, ws_);
      else
        evaluate_network<L>(net_, t, theta_, y, dy, ws_);
    }
    void f_one(double t, const Real* y, Real* dy) {
      evaluate_network<1>(net_, &t, theta_, y, dy, ws_);
    }
    void vjp(const double* t, const Real* y, const Real* c, Real* f, Real* c_y, Real* c_theta,
             Real* c_t) {
      vjp_on<L>(t, y, c, f, c_y, c_theta, c_t, tape_);
    }
    void vjp_one(double t, const Real* y, const Real* c, Real* f, Real* c_y, Real* c_theta,
                 Real* c_t) {
      vjp_on<1>(&t, y, c, f, c_y, c_theta, c_t, tape_one_);
    }

    void vjp_records(const double* t, const Real* y, const Real* c, Real* f, Real* c_y,
                     Real* records, Real* c_t) {
      vjp_on<L, true>(t, y, c, f, c_y, records, c_t, tape_);
    }
    void vjp_records_one(double t, const Real* y, const Real* c, Real* f, Real* c_y,
                         Real* records, Real* c_t) {
      vjp_on<1, true>(&t, y, c, f, c_y, records, c_t, tape_one_);
    }

   private:
    template <int M, bool Records = false>
    void vjp_on(const double* t, const Real* y, const Real* c, Real* f, Real* c_y,
                Real* c_theta, Real* c_t, NetTape<Real>& tape) {
      if (!f) f = f_scratch_.data();  // the forward pass runs anyway: its output goes here
      if constexpr (detail::lane_block<M, Real>)
        if (!columns_packed_) columns_packed_ = &rhs_.packed(true);  // Wᵀ, once per solve
      evaluate_vjp<M, Records>(net_, t, theta_, y, c, f, c_y, c_theta, c_t, tape, ws_);
    }

    const NetworkRhs& rhs_;
    const Network& net_;
    const Real* theta_;
    const PackedMatrices<Real>* columns_packed_ = nullptr;
    NetWorkspace<Real> ws_;
    NetTape<Real> tape_, tape_one_;
    std::vector<Real> f_scratch_;
  };

  template <int L>
  Lanes<L> lanes() const {
    return Lanes<L>(*this);
  }

  // The network's matrices packed for lane blocks, W (for f) or Wᵀ (for VJPs, `transposed`),
  // each made by the first lane group that asks and shared by the others (and by copies of
  // this right-hand side).
  const PackedMatrices<Real>& packed(bool transposed) const {
    std::call_once(transposed ? packing_->columns : packing_->rows,
                   [&] { net_.pack(theta_, transposed, packing_->matrices); });
    return packing_->matrices;
  }

 private:
  struct Packing {
    std::once_flag rows, columns;
    PackedMatrices<Real> matrices;
  };
  const Network& net_;
  const Real* theta_;
  std::shared_ptr<Packing> packing_ = std::make_shared<Packing>();
};

// Whether R has vjp_records (see above).
template <class R, class = void>
struct has_theta_records : std::false_type {};
template <class R>
struct has_theta_records<R, std::void_t<decltype(std::declval<const R&>().record_size())>>
    : std::true_type {};

// f of a right-hand side as the integrator's system (integrate.hpp): the forward solve.
template <int L, class R>
struct ForwardSystem {
  using Real = typename R::Real;
  static constexpr bool simd = R::simd;
  typename R::template Lanes<L> lanes;
  explicit ForwardSystem(const R& rhs) : lanes(rhs.template lanes<L>()) {}
  void operator()(const double* t, const Real* y, Real* dy) { lanes.f(t, y, dy); }
  void one(int, double t, const Real* y, Real* dy) { lanes.f_one(t, y, dy); }
  // Only for lanes that evaluate a chosen subset in one call (see evaluates_masked).
  template <class Lanes = typename R::template Lanes<L>>
  auto masked(const std::uint64_t* mask, const double* t, const Real* y, Real* dy)
      -> decltype(std::declval<Lanes&>().masked(mask, t, y, dy)) {
    return lanes.masked(mask, t, y, dy);
  }
};

}  // namespace neuralode
