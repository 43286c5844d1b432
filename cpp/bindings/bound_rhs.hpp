#pragma once
// The right-hand sides as Python sees them: _core.NetworkRhs(net, theta) and
// _core.PythonRhs(...), each made once per call in python/neuralode/solve.py and passed to
// every entry point as its first argument.
#include <pybind11/numpy.h>

#include <neuralode/rhs.hpp>
#include <string>
#include <utility>

#include "array_checks.hpp"
#include "python_rhs.hpp"

namespace neuralode::bindings {

// What a BoundNetworkRhs keeps alive: the Python network object and the parameter array.
struct ParameterArray {
  py::object net;
  Array theta;
};

// A network with its parameters, checked once. Copies (a recorded solve keeps one) keep the
// network and the parameters alive.
class BoundNetworkRhs : private ParameterArray, public NetworkRhs {
 public:
  BoundNetworkRhs(py::object net, Array theta)
      : ParameterArray{std::move(net), std::move(theta)},
        NetworkRhs(ParameterArray::net.cast<const Network&>(), ParameterArray::theta.data()) {
    const Array& params = ParameterArray::theta;
    if (params.ndim() != 1 || params.shape(0) != num_params())
      throw py::value_error("`params` must have shape (" + std::to_string(num_params()) +
                            ",) for this network");
    check_finite(params, "params", false);
  }
  const Array& parameters() const { return ParameterArray::theta; }
};

// The state size y0 has against the one the right-hand side takes.
inline void check_states(int expected, long dim, const char* who) {
  if (dim != expected)
    throw py::value_error(std::string(who) + " takes states of " + std::to_string(expected) +
                          " components, not " + std::to_string(dim));
}
inline void check_rhs_dim(const NetworkRhs& rhs, long dim) {
  check_states(rhs.dim(), dim, "the network");
}
template <class R>
void check_rhs_dim(const R& rhs, long dim) {
  check_states(rhs.dim(), dim, "the dynamics");
}

}  // namespace neuralode::bindings
