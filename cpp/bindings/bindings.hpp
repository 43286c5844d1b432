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

void register_nets(pybind11::module_& m);
void register_types(pybind11::module_& m);
void register_solve(pybind11::module_& m);
void register_adjoint(pybind11::module_& m);
void register_backprop(pybind11::module_& m);
}  // namespace neuralode::bindings
