#pragma once
// The right-hand sides as Python sees them: _core.NetworkRhs(net, theta) and
// _core.PythonRhs(...), each made once per call in python/neuralode/solve.py and passed to
// every entry point as its first argument.
#include <pybind11/numpy.h>

#include <neuralode/rhs.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "array_checks.hpp"
#include "python_rhs.hpp"

namespace neuralode::bindings {

// What a BoundNetworkRhs keeps alive: the Python network object and the parameter array.
template <class Real>
struct ParameterArray {
  py::object net;
  ArrayOf<Real> theta;
};

// A network with its parameters (of the states' type Real), checked once. Copies (a recorded
// solve keeps one) keep the network and the parameters alive.
template <class Real>
class BoundNetworkRhs : private ParameterArray<Real>, public NetworkRhs<Real> {
  using Held = ParameterArray<Real>;

 public:
  using Core = NetworkRhs<Real>;
  BoundNetworkRhs(py::object net, ArrayOf<Real> theta)
      : Held{std::move(net), std::move(theta)},
        Core(Held::net.template cast<const Network&>(), Held::theta.data()) {
    const ArrayOf<Real>& params = Held::theta;
    if (params.ndim() != 1 || params.shape(0) != this->num_params())
      throw py::value_error("`params` must have shape (" + std::to_string(this->num_params()) +
                            ",) for this network");
    check_finite(params, "params", false);
  }
  const ArrayOf<Real>& parameters() const { return Held::theta; }
};

// The core's right-hand side a bound one runs as: NetworkRhs for a bound network, the Python
// adapters as they are.
template <class Bound, class = void>
struct core_rhs {
  using type = Bound;
};
template <class Bound>
struct core_rhs<Bound, std::void_t<typename Bound::Core>> {
  using type = typename Bound::Core;
};
template <class Bound>
using core_rhs_t = typename core_rhs<Bound>::type;

// The state size y0 has against the one the right-hand side takes.
inline void check_states(int expected, long dim, const char* who) {
  if (dim != expected)
    throw py::value_error(std::string(who) + " takes states of " + std::to_string(expected) +
                          " components, not " + std::to_string(dim));
}
template <class R>
void check_rhs_dim(const R& rhs, long dim) {
  constexpr bool network = std::is_same_v<R, NetworkRhs<typename R::Real>>;
  check_states(rhs.dim(), dim, network ? "the network" : "the dynamics");
}

}  // namespace neuralode::bindings
