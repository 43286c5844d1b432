// odeint_vjp's adjoint backward pass: the augmented system integrated from t_N to t_0.
// Arguments arrive validated from python/neuralode/grad.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <functional>
#include <neuralode/adjoint.hpp>
#include <neuralode/simd.hpp>

#include "adjoint_common.hpp"
#include "bindings.hpp"
#include "solve_common.hpp"

namespace neuralode::bindings {
namespace {

template <int L, class Take>
NEURALODE_LOOP_CLONES void network_adjoint_thread_work(const Network& net, const double* theta,
                                                       const ButcherTableau& tableau,
                                                       const SolverOptions& options,
                                                       ProblemQueue<Take>& queue,
                                                       AdjointJumps jumps, BatchResult& out) {
  StepWorkspace<L> ws;
  NetworkAdjointRhs<L> rhs(net, theta);
  auto record = [&](long id, const SampleResult& r) { out.record(id, r); };
  integrate_lanes<L>(rhs, tableau, options, static_cast<int>(queue.dim), ws, queue, record, jumps);
}

// s0 (B, 2D+P+1): the augmented state at t_N; t_back (1 or B, T): the grid from t_N to t_0;
// ys, dL_dys (T, B, D) in forward order.
py::tuple adjoint_network(const Network& net, const Array& theta, const Array& s0,
                          const Array& t_back, const Array& ys, const Array& dL_dys,
                          const std::string& method, double rtol, const py::object& atol,
                          double step_size, double first_step, double max_step, long max_steps,
                          bool full_norm, int num_threads) {
  const ButcherTableau& tableau = tableau_named(method);
  const AdjointLayout layout{net.dim(), net.num_params()};
  const long samples = s0.shape(0), times = t_back.shape(1);
  SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size, first_step,
                                          max_step, max_steps, full_norm);
  AdjointResult result(samples, layout.dim, layout.params, layout.size(), times);
  AdjointJumps jumps = result.jumps(layout, times, ys, dL_dys, true);
  const double* theta_p = theta.data();
  run_interruptibly(&options, [&](InterruptWatch&) {
    solve_on_lanes(s0.data(), layout.size(), t_back, num_threads, result.batch,
                   [&](auto lanes, auto& queue) {
                     network_adjoint_thread_work<decltype(lanes)::value>(
                         net, theta_p, tableau, options, queue, jumps, result.batch);
                   });
  });
  return result.to_tuple();
}

// The augmented dynamics of a neuralode.Dynamics: its f and vjp, one sample per call.
struct PythonAdjointRhs {
  const py::object& dynamics;
  const py::object& params;
  AdjointLayout layout;
  void operator()(const double* t, const double* s, double* ds) { one(0, *t, s, ds); }
  void one(int, double t, const double* s, double* ds) {
    const long D = layout.dim;
    Array z(D);
    std::copy(s, s + D, z.mutable_data());
    Array f = returned_array(dynamics.attr("f")(t, z, params));
    if (!f || f.size() != D)
      throw py::value_error("`f` must return an array of shape (" + std::to_string(D) + ",)");
    std::copy(f.data(), f.data() + D, ds);
    const PythonVjpCall v(dynamics, params, D, layout.params, t, s, s + layout.a());
    for (long i = 0; i < D; ++i) ds[layout.a() + i] = -v.a_y.data()[i];
    for (long p = 0; p < layout.params; ++p) ds[layout.theta() + p] = -v.a_params.data()[p];
    ds[layout.time()] = -v.a_t;
  }
};

py::tuple adjoint_dynamics(const py::object& dynamics, const py::object& params, long dim,
                           long num_params, const Array& s0, const Array& t_back, const Array& ys,
                           const Array& dL_dys, const std::string& method, double rtol,
                           const py::object& atol, double step_size, double first_step,
                           double max_step, long max_steps, bool full_norm) {
  const ButcherTableau& tableau = tableau_named(method);
  const AdjointLayout layout{static_cast<int>(dim), num_params};
  const long samples = s0.shape(0), times = t_back.shape(1);
  const SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size,
                                                first_step, max_step, max_steps, full_norm);
  AdjointResult result(samples, layout.dim, layout.params, layout.size(), times);
  AdjointJumps jumps = result.jumps(layout, times, ys, dL_dys, true);
  StepWorkspace<1> ws;
  PythonAdjointRhs rhs{dynamics, params, layout};
  long next = 0;
  auto take = [&]() -> long { return next < samples ? next++ : -1; };
  ProblemQueue<decltype(take)> queue{take, s0.data(), t_back.data(), t_back.shape(0), times, samples,
                                     layout.size(), result.batch};
  auto record = [&](long id, const SampleResult& r) { result.batch.record(id, r); };
  integrate_lanes<1>(rhs, tableau, options, static_cast<int>(layout.size()), ws, queue, record,
                     jumps);
  return result.to_tuple();
}

}  // namespace

void register_adjoint(py::module_& m) {
  m.def("adjoint_network", &adjoint_network, py::arg("net"), py::arg("theta"), py::arg("s0"),
        py::arg("t_back"), py::arg("ys"), py::arg("dL_dys"), py::arg("method"), py::arg("rtol"),
        py::arg("atol"), py::arg("step_size"), py::arg("first_step"), py::arg("max_step"),
        py::arg("max_steps"), py::arg("full_norm"), py::arg("num_threads"));
  m.def("adjoint_dynamics", &adjoint_dynamics, py::arg("dynamics"), py::arg("params"),
        py::arg("dim"), py::arg("num_params"), py::arg("s0"), py::arg("t_back"), py::arg("ys"),
        py::arg("dL_dys"), py::arg("method"), py::arg("rtol"), py::arg("atol"),
        py::arg("step_size"), py::arg("first_step"), py::arg("max_step"), py::arg("max_steps"),
        py::arg("full_norm"));
}

}  // namespace neuralode::bindings
