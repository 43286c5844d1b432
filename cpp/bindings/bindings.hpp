#pragma once
#include <pybind11/pybind11.h>

namespace neuralode::bindings {
void register_nets(pybind11::module_& m);
void register_types(pybind11::module_& m);
void register_solve(pybind11::module_& m);
void register_adjoint(pybind11::module_& m);
void register_backprop(pybind11::module_& m);
}  // namespace neuralode::bindings
