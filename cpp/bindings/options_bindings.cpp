// The objects every entry point takes: _core.SolverOptions / _core.AdjointOptions (built and
// validated in python/neuralode/options.py) and the right-hand sides _core.NetworkRhs and
// _core.PythonRhs (made in python/neuralode/solve.py); and the results they return,
// _core.SolveResult, BackwardResult and BackpropResult.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <neuralode/status.hpp>
#include <neuralode/tableau.hpp>
#include <string>
#include <utility>
#include <vector>

#include "adjoint_common.hpp"
#include "bindings.hpp"
#include "bound_rhs.hpp"
#include "options.hpp"
#include "solve_common.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

namespace {

const ButcherTableau& tableau_named(const std::string& name) {
  const ButcherTableau* tableau = find_tableau(name);
  if (!tableau) throw py::value_error("unknown method '" + name + "'");
  return *tableau;
}

py::dict tableau_as_dict(const ButcherTableau& tab) {
  const int s = tab.stages;
  py::dict d;
  d["name"] = std::string(tab.name);
  d["stages"] = s;
  d["order"] = tab.order;
  d["error_order"] = tab.error_order;
  d["fsal"] = tab.fsal();
  d["c"] = std::vector<double>(tab.c.begin(), tab.c.begin() + s);
  std::vector<std::vector<double>> a;
  for (int i = 0; i < s; ++i) a.emplace_back(tab.a[i].begin(), tab.a[i].begin() + s);
  d["a"] = a;
  d["b"] = std::vector<double>(tab.b.begin(), tab.b.begin() + s);
  d["error"] = std::vector<double>(tab.error.begin(), tab.error.begin() + s);
  std::vector<std::vector<double>> dense;
  for (int i = 0; i < s; ++i)
    dense.emplace_back(tab.dense[i].begin(), tab.dense[i].begin() + tab.dense_degree);
  d["dense"] = dense;
  return d;
}

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

// status, t_reached, stats and failed of a result class, read from the BatchResult that
// batch_of(result) gives.
template <class Class, class BatchOf>
void def_batch_fields(Class& cls, BatchOf batch_of) {
  using Result = typename Class::type;
  cls.def_property_readonly("status", [batch_of](const Result& r) { return batch_of(r).status; })
      .def_property_readonly("t_reached",
                             [batch_of](const Result& r) { return batch_of(r).t_reached; })
      .def_property_readonly("stats", [batch_of](const Result& r) { return batch_of(r).stats; })
      .def_property_readonly("failed",
                             [batch_of](const Result& r) { return batch_of(r).failed(); });
}

// The right-hand sides and results of states of type Real, named with `suffix`.
template <class Real>
void register_real_types(py::module_& m, const std::string& suffix) {
  using Network = BoundNetworkRhs<Real>;
  py::class_<Network>(m, ("NetworkRhs" + suffix).c_str())
      .def(py::init<py::object, ArrayOf<Real>>(), py::arg("net"), py::arg("theta"))
      .def_property_readonly("theta", &Network::parameters);
  py::class_<PythonRhs<Real>>(m, ("PythonRhs" + suffix).c_str())
      .def(py::init<py::object, py::object, py::object, long, long, std::string, bool>(),
           py::arg("f"), py::arg("dynamics"), py::arg("params"), py::arg("dim"),
           py::arg("num_params"), py::arg("name"), py::arg("batched"));

  using Solve = BatchResult<Real>;
  py::class_<Solve> solve(m, ("SolveResult" + suffix).c_str());
  solve.def_readonly("ys", &Solve::ys);
  def_batch_fields(solve, [](const Solve& r) -> const Solve& { return r; });
  using Backward = AdjointResult<Real>;
  py::class_<Backward> backward(m, ("BackwardResult" + suffix).c_str());
  backward.def_readonly("grad_y0", &Backward::grad_y0)
      .def_readonly("grad_theta", &Backward::grad_theta)
      .def_readonly("theta_finite", &Backward::theta_finite)
      .def_readonly("a_t", &Backward::a_t_end)
      .def_property_readonly("dots", &Backward::dots);
  def_batch_fields(backward, [](const Backward& r) -> const Solve& { return r.batch; });
  using Backprop = BackpropResult<Real>;
  py::class_<Backprop>(m, ("BackpropResult" + suffix).c_str())
      .def_readonly("grad_y0", &Backprop::grad_y0)
      .def_readonly("grad_theta", &Backprop::grad_theta)
      .def_readonly("theta_finite", &Backprop::theta_finite)
      .def_readonly("work", &Backprop::work);
}

}  // namespace

void register_types(py::module_& m) {
  py::list names;
  for (const ButcherTableau* tableau : all_tableaux) names.append(std::string(tableau->name));
  m.attr("methods") = names;
  m.def("tableau", [](const std::string& name) { return tableau_as_dict(tableau_named(name)); });
  m.def("status_names", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (Status s : {Status::success, Status::max_steps_reached, Status::step_size_underflow,
                     Status::non_finite_state, Status::interrupted})
      out.emplace_back(status_name(s), status_hint(s));
    return out;
  });

  py::class_<SolveOptions> solve(m, "SolverOptions");
  solve.def(py::init<>());
  def_solve_fields<SolveOptions>(solve);
  py::class_<AdjointOptions> adjoint(m, "AdjointOptions");
  adjoint.def(py::init<>()).def_readwrite("full_norm", &AdjointOptions::full_norm);
  def_solve_fields<AdjointOptions>(adjoint);

  for_each_real([&](auto real, const std::string& suffix) {
    register_real_types<decltype(real)>(m, suffix);
  });
}

}  // namespace neuralode::bindings
