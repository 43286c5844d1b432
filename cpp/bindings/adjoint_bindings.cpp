// odeint_vjp's adjoint backward pass: the augmented system integrated from t_N to t_0, one
// template for every right-hand side.
// Arguments arrive validated from python/neuralode/grad.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <neuralode/gradients/adjoint.hpp>

#include "adjoint_common.hpp"
#include "bindings.hpp"
#include "bound_rhs.hpp"
#include "solve_common.hpp"

namespace neuralode::bindings {
namespace {

// s0 (B, 2D): z and a at t_N (a_θ and a_t start at zero); t_back (1 or B, T): the grid
// from t_N to t_0; ys, dL_dys (T, B, D) in forward order.
template <class R, class RealArray = ArrayOf<typename R::Real>>
AdjointResult<typename R::Real> adjoint_with(const R& rhs, const RealArray& s0,
                                             const Array& t_back, const RealArray& ys,
                                             const RealArray& dL_dys, const AdjointOptions& opts) {
  using Real = typename R::Real;
  const AdjointLayout given{rhs.dim(), rhs.num_params()};
  SolverOptions options = backward_options(opts, given, s0, t_back);
  const long samples = s0.shape(0), times = t_back.shape(1);
  AdjointResult<Real> result(samples, given.dim, given.params, given.size(), times);
  ThetaSum<Real> theta_sum = result.theta_sum();
  const AdjointJumps<Real> jumps = result.jumps(given, times, ys, dL_dys, true, theta_sum);
  // As costly per sample as with a_θ in the state (more threads for fewer samples).
  const double cost = 3 * solve_cost(static_cast<double>(given.size()));
  const AdjointLayout layout = backward_layout(rhs, true, opts.full_norm);
  if (layout.theta_in_state()) {
    const std::vector<Real> state = initial_states(s0, given);
    run_on_lanes(rhs, state.data(), given.size(), t_back, options, opts.num_threads, result.batch,
                 [&](auto lanes, auto& queue) {
                   constexpr int L = decltype(lanes)::value;
                   AdjointSystem<L, R> system(rhs, given);
                   AdjointJumps<Real> lane_jumps = jumps;  // per thread: it tracks its lanes
                   integrate_queue<L>(system, opts.method(), options, queue, result.batch,
                                      lane_jumps);
                 }, cost);
    return result;
  }
  if constexpr (has_theta_records<R>::value) {
    to_layout(given, layout, options);
    const std::vector<Real> state = initial_states(s0, layout);
    run_on_lanes(rhs, state.data(), layout.size(), t_back, options, opts.num_threads,
                 result.batch, [&](auto lanes, auto& queue) {
                   constexpr int L = decltype(lanes)::value;
                   AdjointSystem<L, R, true> system(rhs, layout);
                   ThetaQuadrature<Real> quadrature(rhs.network(), opts.method(), L);
                   AdjointJumps<Real> lane_jumps = jumps;  // per thread: it tracks its lanes
                   lane_jumps.layout = layout;
                   lane_jumps.quadrature = &quadrature;
                   integrate_queue<L>(system, opts.method(), options, queue, result.batch,
                                      lane_jumps);
                 }, cost);
  }
  return result;
}

// _core.adjoint for a bound right-hand side (its arrays of its Real).
template <class Bound>
void def_adjoint(py::module_& m) {
  using RealArray = ArrayOf<typename Bound::Real>;
  m.def(
      "adjoint",
      [](const Bound& rhs, const RealArray& s0, const Array& t_back, const RealArray& ys,
         const RealArray& dL_dys, const AdjointOptions& options) {
        return adjoint_with<core_rhs_t<Bound>>(rhs, s0, t_back, ys, dL_dys, options);
      },
      py::arg("rhs"), py::arg("s0"), py::arg("t_back"), py::arg("ys"), py::arg("dL_dys"),
      py::arg("options"));
}

}  // namespace

// Compiled once per scalar type (NEURALODE_REAL, CMakeLists.txt).
template <class Real>
void register_adjoint(py::module_& m) {
  def_adjoint<BoundNetworkRhs<Real>>(m);
  def_adjoint<PythonRhs<Real>>(m);
}
template void register_adjoint<NEURALODE_REAL>(py::module_& m);

}  // namespace neuralode::bindings
