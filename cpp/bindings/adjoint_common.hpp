#pragma once
// What the adjoint and the interpolated/backprop bindings share: the result of a backward
// pass and its solver options.
#include <pybind11/numpy.h>

#include <neuralode/gradients/adjoint.hpp>

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

// The core's options of a backward solve of the state s0 (B, size) over t_back (1 or B, T).
inline SolverOptions backward_options(const AdjointOptions& opts, const AdjointLayout& layout,
                                      const Array& s0, const Array& t_back) {
  const ProblemSize size = check_problem_arrays(s0, t_back);
  if (s0.ndim() != 2 || size.dim != layout.size())
    throw py::value_error("the backward state must have shape (B, " +
                          std::to_string(layout.size()) + ")");
  SolverOptions options = opts.for_dim(layout.size());
  // f reads z and a; a_θ and a_t are quadratures the seminorm leaves out.
  options.input_components = static_cast<int>(layout.theta());
  options.norm_components = opts.full_norm ? 0 : static_cast<int>(layout.theta());
  options.stop_at_outputs = true;
  return options;
}

}  // namespace neuralode::bindings
