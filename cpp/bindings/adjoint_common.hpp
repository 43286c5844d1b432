#pragma once
// What the adjoint and the interpolated/backprop bindings share: the result of a backward
// pass and its solver options.
#include <pybind11/numpy.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <neuralode/gradients/adjoint.hpp>
#include <neuralode/gradients/theta_sum.hpp>
#include <neuralode/rhs.hpp>

#include "solve_common.hpp"

namespace neuralode::bindings {

// A bool array's flags as bytes (numpy's bool is one byte, 0 or 1).
inline std::uint8_t* finite_flags(py::array_t<bool>& flags) {
  static_assert(sizeof(bool) == 1);
  return reinterpret_cast<std::uint8_t*>(flags.mutable_data());
}

// Per-sample gradients of a backward pass, plus its BatchResult (statuses and statistics).
// Bound as _core.BackwardResult.
template <class Real>
struct AdjointResult {
  ArrayOf<Real> grad_y0, a_t_end, f_dot;
  Array grad_theta;                     // (P,): dL/dθ summed over samples, in double
  py::array_t<bool> theta_finite;       // (B,): whether each sample's dL/dθ is finite
  BatchResult<Real> batch;
  AdjointResult(long samples, long dim, long params, long state_size, long times)
      : grad_y0({samples, dim}), a_t_end(samples), f_dot({samples, times}), grad_theta(params),
        theta_finite(samples), batch(samples, 0, state_size) {
    std::fill(f_dot.mutable_data(), f_dot.mutable_data() + f_dot.size(), Real(0));
  }
  // What sums dL/dθ into grad_theta (kept by the caller while the backward pass runs).
  ThetaSum<Real> theta_sum() {
    return ThetaSum<Real>(theta_finite.size(), grad_theta.size(), grad_theta.mutable_data(),
                          finite_flags(theta_finite));
  }
  // with_dots: the backward pass fills f_dot (see AdjointJumps).
  AdjointJumps<Real> jumps(const AdjointLayout& layout, long times, const ArrayOf<Real>& ys,
                           const ArrayOf<Real>& dL_dys, bool with_dots, ThetaSum<Real>& sum) {
    AdjointJumps<Real> jumps{layout,          times,
                             ys.shape(1),     ys.data(),
                             dL_dys.data(),   grad_y0.mutable_data(),
                             a_t_end.mutable_data(), &sum};
    if (with_dots) jumps.f_dot = f_dot.mutable_data();
    has_dots = with_dots;
    return jumps;
  }
  // dL/dz(t_k)·f(t_k, z_k) (B, T) with its column 0 unused, or None when not computed.
  py::object dots() const { return has_dots ? py::object(f_dot) : py::object(py::none()); }
  bool has_dots = false;
};

// What backprop's reverse sweep gives: dL/dy0 (B, D), dL/dθ (P,) summed over samples in
// double with whether each sample's was finite (B,), and per sample (VJP evaluations, steps
// gone back through, 0). Bound as _core.BackpropResult.
template <class Real>
struct BackpropResult {
  ArrayOf<Real> grad_y0;
  Array grad_theta;
  py::array_t<bool> theta_finite;
  py::array_t<long> work;
};

// The core's options of a backward solve over t_back (1 or B, T) from s0 (B, layout.theta()):
// the state's z and a at t_N (a alone without z); a_θ and a_t start at zero.
template <class Real>
SolverOptions backward_options(const AdjointOptions& opts, const AdjointLayout& layout,
                               const ArrayOf<Real>& s0, const Array& t_back) {
  const ProblemSize size = check_problem_arrays(s0, t_back);
  if (s0.ndim() != 2 || size.dim != layout.theta())
    throw py::value_error("the backward state must have shape (B, " +
                          std::to_string(layout.theta()) + ")");
  SolverOptions options = opts.for_dim(layout.size());
  // f reads z and a; a_θ and a_t are quadratures the seminorm leaves out.
  options.input_components = static_cast<int>(layout.theta());
  options.norm_components = opts.full_norm ? 0 : static_cast<int>(layout.theta());
  options.stop_at_outputs = true;
  return options;
}

// The layout of a backward pass of R: with θ records (theta_records.hpp) where R has them,
// the seminorm leaves a_θ out of the error norm and a record is small beside θ, else with
// a_θ in the state. Below P = 4 R a record's bookkeeping costs more than carrying a_θ
// (one thread, pullback: MLP(2, [64]), P = 2.4 R, 1.42 -> 1.73 ms with records;
// MLP(2, [32, 32]), P = 9.2 R, 4.23 -> 2.79 ms).
template <class R>
AdjointLayout backward_layout(const R& rhs, bool with_z, bool full_norm) {
  AdjointLayout layout{rhs.dim(), rhs.num_params(), with_z};
  if constexpr (has_theta_records<R>::value)
    if (!full_norm && rhs.num_params() >= 4 * rhs.record_size())
      layout.records = rhs.record_size();
  return layout;
}

// The backward states at t_N in `layout` from s0 (B, layout.theta(), see backward_options):
// a_θ (where in the state), a_t and the record rows (never read) zero. A (B, P) block of
// zeros made in Python cost a page fault per 4 KiB on every pullback (338 MB at W7's B = 512).
template <class Real>
std::vector<Real> initial_states(const ArrayOf<Real>& s0, const AdjointLayout& layout) {
  const long samples = s0.shape(0), size = layout.size(), given = layout.theta();
  std::vector<Real> state(static_cast<size_t>(samples * size), Real(0));
  for (long b = 0; b < samples; ++b)
    std::copy(s0.data() + b * given, s0.data() + (b + 1) * given, state.data() + b * size);
  return state;
}

// options, made for `given` (a_θ in the state), for `layout` (with θ records): a_θ's
// tolerances dropped, the records' added (never read).
inline void to_layout(const AdjointLayout& given, const AdjointLayout& layout,
                      SolverOptions& options) {
  std::vector<double> atol(static_cast<size_t>(layout.size()), options.atol[given.time()]);
  std::copy(options.atol.begin(), options.atol.begin() + given.theta(), atol.begin());
  options.atol = std::move(atol);
  options.integrated_components = static_cast<int>(layout.integrated());
}

}  // namespace neuralode::bindings
