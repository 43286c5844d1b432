#pragma once
#include <pybind11/pybind11.h>

#include <string>

namespace neuralode::bindings {

// The one place the scalar types are listed: fn(Real{}, suffix) registers what takes states
// of that type, under the Python name + suffix (float64: no suffix; float32: "32").
template <class Fn>
void for_each_real(Fn&& fn) {
  fn(double{}, std::string());
  fn(float{}, std::string("32"));
}

// Compiled once: the Network class; the options classes, the methods and status names, and
// the right-hand-side and result classes of every scalar type.
void register_nets(pybind11::module_& m);
void register_types(pybind11::module_& m);

// Compiled once per scalar type, each in its own object (CMakeLists.txt sets NEURALODE_REAL),
// so that a two-core build compiles the float64 and float32 halves side by side.
template <class Real>
void register_solve(pybind11::module_& m);
template <class Real>
void register_adjoint(pybind11::module_& m);
template <class Real>
void register_backprop(pybind11::module_& m, const std::string& suffix);
template <class Real>
void register_python_backprop(pybind11::module_& m, const std::string& suffix);
template <class Real>
void register_network_methods(pybind11::module_& m);
}  // namespace neuralode::bindings
