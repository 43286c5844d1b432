// odeint_vjp's backward passes. Arguments arrive validated from python/neuralode/grad.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <functional>
#include <neuralode/adjoint.hpp>
#include <neuralode/batch.hpp>
#include <neuralode/simd.hpp>

#include "bindings.hpp"
#include "solve_common.hpp"

namespace neuralode::bindings {
namespace {

// Per-sample gradients of a backward pass, plus its BatchResult (statuses and statistics).
struct AdjointResult {
  Array grad_y0, grad_theta, a_t_end;
  BatchResult batch;
  AdjointResult(long samples, long dim, long params)
      : grad_y0({samples, dim}), grad_theta({samples, params}), a_t_end(samples),
        batch(samples, 0, 2 * dim + params + 1) {}
  AdjointJumps jumps(const AdjointLayout& layout, long times, const Array& ys,
                     const Array& dL_dys) {
    return AdjointJumps{layout,           times,
                        ys.shape(1),      ys.data(),
                        dL_dys.data(),    grad_y0.mutable_data(),
                        grad_theta.mutable_data(), a_t_end.mutable_data()};
  }
  // (grad_y0, grad_theta per sample, a_t(t_0), status, t_reached, stats, failed)
  py::tuple to_tuple() const {
    py::tuple b = batch.to_tuple();
    return py::make_tuple(grad_y0, grad_theta, a_t_end, b[1], b[2], b[3], b[4]);
  }
};

SolverOptions adjoint_options(const AdjointLayout& layout, const Array& s0, const Array& t_back,
                              double rtol, double atol, double step_size, double first_step,
                              double max_step, long max_steps, bool full_norm) {
  SolverOptions options = options_of(s0, t_back, true, t_back.shape(0) > 1, rtol,
                                     Array(py::float_(atol)), step_size, first_step, max_step,
                                     max_steps);
  options.norm_components = full_norm ? 0 : 2 * layout.dim;
  options.stop_at_outputs = true;
  return options;
}

template <int L, class Take>
NEURALODE_SIMD_CLONES void network_adjoint_thread_work(const Network& net, const double* theta,
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
                          const std::string& method, double rtol, double atol, double step_size,
                          double first_step, double max_step, long max_steps, bool full_norm,
                          int num_threads) {
  const ButcherTableau& tableau = tableau_named(method);
  const AdjointLayout layout{net.dim(), net.num_params()};
  const long samples = s0.shape(0), times = t_back.shape(1), t_rows = t_back.shape(0);
  const SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size,
                                                first_step, max_step, max_steps, full_norm);
  AdjointResult result(samples, layout.dim, layout.params);
  AdjointJumps jumps = result.jumps(layout, times, ys, dL_dys);
  const double *theta_p = theta.data(), *s0_p = s0.data(), *t_p = t_back.data();
  {
    py::gil_scoped_release release;
    parallel_over_samples(samples, num_threads, [&](auto take) {
      using Take = std::function<long()>;
      Take take_fn = take;
      ProblemQueue<Take> queue{take_fn, s0_p, t_p, t_rows, times, samples, layout.size(),
                               result.batch};
      const int threads = num_threads > 0 ? num_threads : omp_get_max_threads();
      if (samples >= 8L * threads)
        network_adjoint_thread_work<8>(net, theta_p, tableau, options, queue, jumps, result.batch);
      else
        network_adjoint_thread_work<1>(net, theta_p, tableau, options, queue, jumps, result.batch);
    });
  }
  return result.to_tuple();
}

// The augmented dynamics of a neuralode.Dynamics: its f and vjp, one sample per call.
struct PythonAdjointRhs {
  const py::object& dynamics;
  const py::object& params;
  AdjointLayout layout;
  void operator()(const double* t, const double* s, double* ds) { one(*t, s, ds); }
  void one(double t, const double* s, double* ds) {
    const long D = layout.dim;
    Array z(D), a(D);
    std::copy(s, s + D, z.mutable_data());
    std::copy(s + D, s + 2 * D, a.mutable_data());
    Array f = Array::ensure(dynamics.attr("f")(t, z, params));
    if (!f || f.size() != D)
      throw py::value_error("`f` must return an array of shape (" + std::to_string(D) + ",)");
    py::tuple v = dynamics.attr("vjp")(t, z, params, a);
    if (v.size() != 3) throw py::value_error("`vjp` must return (a_y, a_params, a_t)");
    Array a_y = Array::ensure(v[0]), a_p = Array::ensure(v[1]);
    if (!a_y || a_y.size() != D || !a_p || a_p.size() != layout.params)
      throw py::value_error("`vjp` must return a_y of shape (" + std::to_string(D) +
                            ",) and a_params of shape (" + std::to_string(layout.params) + ",)");
    std::copy(f.data(), f.data() + D, ds);
    for (long i = 0; i < D; ++i) ds[D + i] = -a_y.data()[i];
    for (long p = 0; p < layout.params; ++p) ds[2 * D + p] = -a_p.data()[p];
    ds[layout.time()] = -v[2].cast<double>();
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
};

py::tuple adjoint_dynamics(const py::object& dynamics, const py::object& params, long dim,
                           long num_params, const Array& s0, const Array& t_back, const Array& ys,
                           const Array& dL_dys, const std::string& method, double rtol,
                           double atol, double step_size, double first_step, double max_step,
                           long max_steps, bool full_norm) {
  const ButcherTableau& tableau = tableau_named(method);
  const AdjointLayout layout{static_cast<int>(dim), num_params};
  const long samples = s0.shape(0), times = t_back.shape(1), t_rows = t_back.shape(0);
  const SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size,
                                                first_step, max_step, max_steps, full_norm);
  AdjointResult result(samples, layout.dim, layout.params);
  AdjointJumps jumps = result.jumps(layout, times, ys, dL_dys);
  StepWorkspace<1> ws;
  PythonAdjointRhs rhs{dynamics, params, layout};
  long next = 0;
  auto take = [&]() -> long { return next < samples ? next++ : -1; };
  ProblemQueue<decltype(take)> queue{take, s0.data(), t_back.data(), t_rows, times, samples,
                                     layout.size(), result.batch};
  auto record = [&](long id, const SampleResult& r) { result.batch.record(id, r); };
  integrate_lanes<1>(rhs, tableau, options, static_cast<int>(layout.size()), ws, queue, record,
                     jumps);
  return result.to_tuple();
}

}  // namespace

void register_grad(py::module_& m) {
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
