#pragma once
// What the adjoint and the interpolated/backprop bindings share: the result of a backward
// pass, its solver options, and one checked call of a Python Dynamics' vjp.
#include <pybind11/numpy.h>

#include <neuralode/adjoint.hpp>

#include "solve_common.hpp"

namespace neuralode::bindings {

// Per-sample gradients of a backward pass, plus its BatchResult (statuses and statistics).
struct AdjointResult {
  Array grad_y0, grad_theta, a_t_end, f_dot;
  BatchResult batch;
  AdjointResult(long samples, long dim, long params, long state_size, long times)
      : grad_y0({samples, dim}), grad_theta({samples, params}), a_t_end(samples),
        f_dot({samples, times}), batch(samples, 0, state_size) {
    std::fill(f_dot.mutable_data(), f_dot.mutable_data() + f_dot.size(), 0.0);
  }
  // with_dots: the backward pass fills f_dot (see AdjointJumps).
  AdjointJumps jumps(const AdjointLayout& layout, long times, const Array& ys,
                     const Array& dL_dys, bool with_dots) {
    AdjointJumps jumps{layout,           times,
                       ys.shape(1),      ys.data(),
                       dL_dys.data(),    grad_y0.mutable_data(),
                       grad_theta.mutable_data(), a_t_end.mutable_data()};
    if (with_dots) jumps.f_dot = f_dot.mutable_data();
    has_dots = with_dots;
    return jumps;
  }
  // (grad_y0, grad_theta per sample, a_t(t_0), status, t_reached, stats, failed,
  // dL/dz(t_k)·f(t_k, z_k) (B, T) with its column 0 unused, or None when not computed)
  py::tuple to_tuple() const {
    py::tuple b = batch.to_tuple();
    return py::make_tuple(grad_y0, grad_theta, a_t_end, b[1], b[2], b[3], b[4],
                          has_dots ? py::object(f_dot) : py::object(py::none()));
  }
  bool has_dots = false;
};

inline SolverOptions adjoint_options(const AdjointLayout& layout, const Array& s0, const Array& t_back,
                              double rtol, const py::object& atol, double step_size,
                              double first_step, double max_step, long max_steps,
                              bool full_norm) {
  // atol: a float, or one entry per component of the backward state (grad.py builds it).
  SolverOptions options = options_of(s0, t_back, true, t_back.shape(0) > 1, rtol, atol,
                                     step_size, first_step, max_step, max_steps);
  // f reads z and a; a_θ and a_t are quadratures the seminorm leaves out.
  options.input_components = static_cast<int>(layout.theta());
  options.norm_components = full_norm ? 0 : static_cast<int>(layout.theta());
  options.stop_at_outputs = true;
  return options;
}

// One call of a neuralode.Dynamics' vjp(t, z, params, a), its results checked:
// a_y (D), a_params (P) and a_t.
struct PythonVjpCall {
  Array a_y, a_params;
  double a_t;
  PythonVjpCall(const py::object& dynamics, const py::object& params, long dim, long num_params,
                double t, const double* z, const double* a) {
    Array z_arr(dim), a_arr(dim);
    std::copy(z, z + dim, z_arr.mutable_data());
    std::copy(a, a + dim, a_arr.mutable_data());
    const py::object returned = dynamics.attr("vjp")(t, z_arr, params, a_arr);
    if (!py::isinstance<py::sequence>(returned) || py::isinstance<py::str>(returned) ||
        py::len(returned) != 3)
      throw py::type_error("`vjp` must return a tuple (a_y, a_params, a_t); got " +
                           type_name(returned));
    const py::tuple v(returned);
    a_y = returned_array(v[0]);
    a_params = returned_array(v[1]);
    if (!a_y || !a_params)
      throw py::type_error("`vjp` must return a_y and a_params as arrays of real numbers; got " +
                           type_name(v[0]) + " and " + type_name(v[1]));
    if (a_y.size() != dim || a_params.size() != num_params)
      throw py::value_error("`vjp` must return a_y of shape (" + std::to_string(dim) +
                            ",) and a_params of shape (" + std::to_string(num_params) + ",)");
    a_t = PyFloat_AsDouble(v[2].ptr());  // a float, an int or a one-element array
    if (a_t == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      throw py::type_error("`vjp` must return a_t as a real number (0 for an autonomous "
                           "system); got " + type_name(v[2]));
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
};

}  // namespace neuralode::bindings
