// The objects every entry point takes: _core.SolverOptions / _core.AdjointOptions (built and
// validated in python/neuralode/options.py) and the right-hand sides _core.NetworkRhs and
// _core.PythonRhs (made in python/neuralode/solve.py).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "bound_rhs.hpp"
#include "options.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

namespace {

// The fields both options classes have, by name.
template <class Options, class Class>
void def_solve_fields(Class& cls) {
  cls.def_property("method", &Options::method_name, &Options::set_method)
      .def_readwrite("rtol", &Options::rtol)
      .def_readwrite("atol", &Options::atol)
      .def_readwrite("step_size", &Options::step_size)
      .def_readwrite("first_step", &Options::first_step)
      .def_readwrite("max_step", &Options::max_step)
      .def_readwrite("max_steps", &Options::max_steps)
      .def_readwrite("num_threads", &Options::num_threads);
}

}  // namespace

void register_options(py::module_& m) {
  py::class_<SolveOptions> solve(m, "SolverOptions");
  solve.def(py::init<>());
  def_solve_fields<SolveOptions>(solve);
  py::class_<AdjointOptions> adjoint(m, "AdjointOptions");
  adjoint.def(py::init<>()).def_readwrite("full_norm", &AdjointOptions::full_norm);
  def_solve_fields<AdjointOptions>(adjoint);

  py::class_<BoundNetworkRhs>(m, "NetworkRhs")
      .def(py::init<py::object, Array>(), py::arg("net"), py::arg("theta"))
      .def_property_readonly("theta", &BoundNetworkRhs::parameters);
  py::class_<PythonRhs>(m, "PythonRhs")
      .def(py::init<py::object, py::object, py::object, long, long, std::string, bool>(),
           py::arg("f"), py::arg("dynamics"), py::arg("params"), py::arg("dim"),
           py::arg("num_params"), py::arg("name"), py::arg("batched"));
}

}  // namespace neuralode::bindings
