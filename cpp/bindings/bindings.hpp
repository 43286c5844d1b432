#pragma once
#include <pybind11/pybind11.h>

namespace neuralode::bindings {
void register_nets(pybind11::module_& m);
void register_solve(pybind11::module_& m);
void register_grad(pybind11::module_& m);
}  // namespace neuralode::bindings
