// odeint's two engines: networks (whole batch in C++, GIL released, OpenMP over samples)
// and Python callables (one sample per call, GIL held). Arguments arrive validated from
// python/neuralode/solve.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <functional>
#include <neuralode/batch.hpp>
#include <neuralode/integrate.hpp>
#include <neuralode/nets.hpp>
#include <neuralode/simd.hpp>
#include <neuralode/tableau.hpp>
#include <string>

#include "bindings.hpp"
#include "solve_common.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

const ButcherTableau& tableau_named(const std::string& name) {
  const ButcherTableau* tableau = find_tableau(name);
  if (!tableau) throw py::value_error("unknown method '" + name + "'");
  return *tableau;
}

namespace {

py::tuple solve_network(const Network& net, const Array& theta, const Array& y0, const Array& t,
                       bool batched, const std::string& method, double rtol, const py::object& atol,
                       double step_size, double first_step, double max_step, long max_steps,
                       int num_threads) {
  const ButcherTableau& tableau = tableau_named(method);
  const long samples = y0.shape(0), dim = y0.shape(1);
  check_finite(theta, "params", false);
  SolverOptions options = options_of(y0, t, batched, t.shape(0) > 1, rtol, atol, step_size,
                                     first_step, max_step, max_steps);
  check_network_arguments(net, theta, y0);
  BatchResult out(samples, t.shape(1), dim);
  run_interruptibly(&options, [&](InterruptWatch&) {
    solve_network_batch(net, theta.data(), y0.data(), t, tableau, options, num_threads, out);
  });
  return out.to_tuple();
}

py::tuple solve_callable(const py::function& f, const Array& y0, const Array& t, bool batched,
                        const std::string& method, double rtol, const py::object& atol,
                        double step_size, double first_step, double max_step, long max_steps) {
  const ButcherTableau& tableau = tableau_named(method);
  const long samples = y0.shape(0), dim = y0.shape(1);
  const SolverOptions options = options_of(y0, t, batched, t.shape(0) > 1, rtol, atol, step_size,
                                           first_step, max_step, max_steps);
  BatchResult out(samples, t.shape(1), dim);
  StepWorkspace<1> ws;
  PythonRhs rhs{f, dim};
  long next = 0;
  auto take = [&]() -> long { return next < samples ? next++ : -1; };
  ProblemQueue<decltype(take)> queue{take, y0.data(), t.data(), t.shape(0), t.shape(1), samples,
                                     dim, out};
  auto record = [&](long id, const SampleResult& r) { out.record(id, r); };
  integrate_lanes<1>(rhs, tableau, options, static_cast<int>(dim), ws, queue, record);
  return out.to_tuple();
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

}  // namespace

void register_solve(py::module_& m) {
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
  m.def("solve_network", &solve_network, py::arg("net"), py::arg("theta"), py::arg("y0"),
        py::arg("t"), py::arg("batched"), py::arg("method"), py::arg("rtol"), py::arg("atol"), py::arg("step_size"),
        py::arg("first_step"), py::arg("max_step"), py::arg("max_steps"), py::arg("num_threads"));
  m.def("solve_callable", &solve_callable, py::arg("f"), py::arg("y0"), py::arg("t"),
        py::arg("batched"), py::arg("method"), py::arg("rtol"), py::arg("atol"), py::arg("step_size"),
        py::arg("first_step"), py::arg("max_step"), py::arg("max_steps"));
}

}  // namespace neuralode::bindings
