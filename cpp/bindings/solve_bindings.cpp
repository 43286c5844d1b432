// odeint's forward solve, one template for every right-hand side: networks (whole batch in
// C++, GIL released, OpenMP over samples) and Python callables (GIL held; per sample, or
// batched: one call per stage for the active samples). Arguments arrive validated from
// python/neuralode/solve.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <functional>
#include <neuralode/batch.hpp>
#include <neuralode/integrate.hpp>
#include <neuralode/nets.hpp>
#include <neuralode/simd.hpp>
#include <string>

#include "bindings.hpp"
#include "bound_rhs.hpp"
#include "solve_common.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

namespace {

// The forward solve of any right-hand side.
template <class R>
BatchResult<typename R::Real> solve_with(const R& rhs, const ArrayOf<typename R::Real>& y0,
                                         const Array& t, const SolveOptions& opts) {
  const ProblemSize size = check_problem_arrays(y0, t);
  check_rhs_dim(rhs, size.dim);
  SolverOptions options = opts.for_dim(size.dim);
  BatchResult<typename R::Real> out(size.samples, t.shape(1), size.dim);
  run_on_lanes(rhs, y0.data(), size.dim, t, options, opts.num_threads, out,
               [&](auto lanes, auto& queue) {
                 constexpr int L = decltype(lanes)::value;
                 ForwardSystem<L, R> system(rhs);
                 integrate_queue<L>(system, opts.method(), options, queue, out, NoHooks{});
               },
               solve_cost(static_cast<double>(rhs.num_params())));
  return out;
}

// _core.solve for a bound right-hand side (its y0 of its Real).
template <class Bound>
void def_solve(py::module_& m) {
  m.def(
      "solve",
      [](const Bound& rhs, const ArrayOf<typename Bound::Real>& y0, const Array& t,
         const SolveOptions& options) {
        const core_rhs_t<Bound>& core = rhs;
        return with_forward_rhs(core, [&](const auto& forward) {
          return solve_with(forward, y0, t, options);
        });
      },
      py::arg("rhs"), py::arg("y0"), py::arg("t"), py::arg("options"));
}

}  // namespace

// Compiled once per scalar type (NEURALODE_REAL, CMakeLists.txt).
template <class Real>
void register_solve(py::module_& m) {
  def_solve<BoundNetworkRhs<Real>>(m);
  def_solve<PythonRhs<Real>>(m);
}
template void register_solve<NEURALODE_REAL>(py::module_& m);

}  // namespace neuralode::bindings
