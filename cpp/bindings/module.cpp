// The _core extension only composes the register_* functions.
#include <pybind11/numpy.h>

#include <neuralode/batch.hpp>
#include <neuralode/fork_safety.hpp>
#include <string>

#include "bindings.hpp"
#include "interrupt.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "neuralode's C++ core: Runge-Kutta solvers, networks and batch parallelism.";
  m.attr("__version__") = NEURALODE_VERSION;
  namespace bindings = neuralode::bindings;
  bindings::register_nets(m);
  bindings::register_types(m);
  bindings::for_each_real([&](auto real, const std::string& suffix) {
    using Real = decltype(real);
    bindings::register_network_methods<Real>(m);
    bindings::register_solve<Real>(m);
    bindings::register_adjoint<Real>(m);
    bindings::register_backprop<Real>(m, suffix);
    bindings::register_python_backprop<Real>(m, suffix);
  });
  // For tests/test_threads.py: the cores this process may use, and the threads a batch gets.
  m.def("_usable_cores", &neuralode::usable_cores);
  m.def("_threads_for", &neuralode::thread_count, pybind11::arg("num_threads"),
        pybind11::arg("samples"), pybind11::arg("cost_per_sample"));
  // pybind11 looks numpy's C API up the first time an array is made (~0.1 ms): make one
  // here, at import, so that the first solve is as fast as the next.
  pybind11::array_t<double> first_array(0);
  neuralode::release_threads_before_fork();
  neuralode::bindings::main_thread_ident() = pybind11::module_::import("threading")
                                                 .attr("main_thread")()
                                                 .attr("ident")
                                                 .cast<unsigned long>();
  pthread_atfork(nullptr, nullptr, &neuralode::bindings::InterruptWatch::after_fork_in_child);
}
