// The objects every entry point takes: _core.SolverOptions / _core.AdjointOptions (built and
// validated in python/neuralode/options.py) and the right-hand sides _core.NetworkRhs and
// _core.PythonRhs (made in python/neuralode/solve.py); and the results they return,
// _core.SolveResult, BackwardResult and BackpropResult.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "adjoint_common.hpp"
#include "bindings.hpp"
#include "bound_rhs.hpp"
#include "options.hpp"
#include "solve_common.hpp"

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

void register_types(py::module_& m) {
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

  py::class_<BatchResult>(m, "SolveResult")
      .def_readonly("ys", &BatchResult::ys)
      .def_readonly("status", &BatchResult::status)
      .def_readonly("t_reached", &BatchResult::t_reached)
      .def_readonly("stats", &BatchResult::stats)
      .def_property_readonly("failed", &BatchResult::failed);
  py::class_<AdjointResult>(m, "BackwardResult")
      .def_readonly("grad_y0", &AdjointResult::grad_y0)
      .def_readonly("grad_theta", &AdjointResult::grad_theta)
      .def_readonly("a_t", &AdjointResult::a_t_end)
      .def_property_readonly("dots", &AdjointResult::dots)
      .def_property_readonly("status", [](const AdjointResult& r) { return r.batch.status; })
      .def_property_readonly("t_reached",
                             [](const AdjointResult& r) { return r.batch.t_reached; })
      .def_property_readonly("stats", [](const AdjointResult& r) { return r.batch.stats; })
      .def_property_readonly("failed", [](const AdjointResult& r) { return r.batch.failed(); });
  py::class_<BackpropResult>(m, "BackpropResult")
      .def_readonly("grad_y0", &BackpropResult::grad_y0)
      .def_readonly("grad_theta", &BackpropResult::grad_theta)
      .def_readonly("work", &BackpropResult::work);
}

}  // namespace neuralode::bindings
