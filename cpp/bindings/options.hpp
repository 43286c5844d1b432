#pragma once
// The options objects every _core entry point takes: built and validated once in Python
// (python/neuralode/options.py), read here by name. The core's SolverOptions
// (controller.hpp) is made from them per call, for the state size of that call.
#include <pybind11/numpy.h>

#include <cmath>
#include <neuralode/controller.hpp>
#include <neuralode/tableau.hpp>
#include <string>
#include <vector>

#include "array_checks.hpp"

namespace neuralode::bindings {

namespace py = pybind11;

// Bound as _core.SolverOptions: how to solve (the method and its step control).
struct SolveOptions {
  const ButcherTableau* tableau = find_tableau("dopri5");
  double rtol = 1e-7;
  std::vector<double> atol{1e-9};  // one value, or one per state component
  double step_size = 0;            // fixed-step methods; 0 steps on the output grid
  double first_step = 0;           // adaptive methods; 0 picks it by Hairer II.4
  double max_step = INFINITY;
  long max_steps = 100000;
  int num_threads = 0;  // 0: the library decides (batch.hpp)

  const ButcherTableau& method() const { return *tableau; }
  void set_method(const std::string& name) {
    const ButcherTableau* found = find_tableau(name);
    if (!found) throw py::value_error("unknown method '" + name + "'");
    tableau = found;
  }
  std::string method_name() const { return std::string(tableau->name); }

  // The core's options for states of `dim` components.
  SolverOptions for_dim(long dim) const {
    if (atol.size() != 1 && static_cast<long>(atol.size()) != dim)
      throw py::value_error("`atol` has " + std::to_string(atol.size()) +
                            " entries for a state of " + std::to_string(dim) + " components");
    SolverOptions options;
    options.rtol = rtol;
    if (atol.size() == 1)
      options.atol.assign(static_cast<size_t>(dim), atol[0]);
    else
      options.atol = atol;
    options.step_size = step_size;
    options.first_step = first_step;
    options.max_step = max_step;
    options.max_steps = max_steps;
    return options;
  }
};

// Bound as _core.AdjointOptions: a backward solve's options. Its atol covers the backward
// state ([z,] a, a_θ, a_t) entry by entry, or is one value.
struct AdjointOptions : SolveOptions {
  bool full_norm = false;  // a_θ and a_t in the error norm ("full") or not ("seminorm")
};

// The samples and state size of y0, (D,) or (B, D), after checking its values and those of
// t (1 or B, T). solve.py has checked the shapes for users; this guards the raw pointers.
struct ProblemSize {
  long samples, dim;
};
template <class Real>
ProblemSize check_problem_arrays(const ArrayOf<Real>& y0, const Array& t) {
  const bool batched = y0.ndim() == 2;
  const long samples = batched ? y0.shape(0) : 1;
  if ((y0.ndim() != 1 && !batched) || y0.size() == 0 || t.ndim() != 2 || t.shape(1) < 1 ||
      (t.shape(0) != 1 && t.shape(0) != samples))
    throw py::value_error("the core takes y0 as (D,) or (B, D) and t as (1, T) or (B, T)");
  check_finite(y0, "y0", batched);
  check_time_grid(t, t.shape(0) > 1);
  return {samples, y0.shape(y0.ndim() - 1)};
}

}  // namespace neuralode::bindings
