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

// s0 (B, 2D+P+1): the augmented state at t_N; t_back (1 or B, T): the grid from t_N to t_0;
// ys, dL_dys (T, B, D) in forward order.
template <class R>
AdjointResult adjoint_with(const R& rhs, const Array& s0, const Array& t_back, const Array& ys,
                       const Array& dL_dys, const AdjointOptions& opts) {
  const AdjointLayout layout{rhs.dim(), rhs.num_params()};
  SolverOptions options = backward_options(opts, layout, s0, t_back);
  const long samples = s0.shape(0), times = t_back.shape(1);
  AdjointResult result(samples, layout.dim, layout.params, layout.size(), times);
  const AdjointJumps jumps = result.jumps(layout, times, ys, dL_dys, true);
  run_on_lanes(rhs, s0.data(), layout.size(), t_back, options, opts.num_threads, result.batch,
               [&](auto lanes, auto& queue) {
                 constexpr int L = decltype(lanes)::value;
                 AdjointSystem<L, R> system(rhs);
                 AdjointJumps lane_jumps = jumps;  // per thread: it tracks its lanes
                 integrate_queue<L>(system, opts.method(), options, queue, result.batch,
                                    lane_jumps);
               });
  return result;
}

AdjointResult adjoint_network(const BoundNetworkRhs& rhs, const Array& s0, const Array& t_back,
                          const Array& ys, const Array& dL_dys, const AdjointOptions& options) {
  return adjoint_with<NetworkRhs>(rhs, s0, t_back, ys, dL_dys, options);
}

AdjointResult adjoint_python(const PythonRhs& rhs, const Array& s0, const Array& t_back,
                         const Array& ys, const Array& dL_dys, const AdjointOptions& options) {
  return adjoint_with(rhs, s0, t_back, ys, dL_dys, options);
}

}  // namespace

void register_adjoint(py::module_& m) {
  m.def("adjoint", &adjoint_network, py::arg("rhs"), py::arg("s0"), py::arg("t_back"),
        py::arg("ys"), py::arg("dL_dys"), py::arg("options"));
  m.def("adjoint", &adjoint_python, py::arg("rhs"), py::arg("s0"), py::arg("t_back"),
        py::arg("ys"), py::arg("dL_dys"), py::arg("options"));
}

}  // namespace neuralode::bindings
