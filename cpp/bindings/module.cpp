// The _core extension only composes the register_* functions.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "neuralode's C++ core: Runge-Kutta solvers, networks and batch parallelism.";
  m.attr("__version__") = NEURALODE_VERSION;
  neuralode::bindings::register_nets(m);
  neuralode::bindings::register_solve(m);
  neuralode::bindings::register_grad(m);
}
