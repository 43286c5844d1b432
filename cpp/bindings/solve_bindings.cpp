// odeint's forward solve, one template for every right-hand side: networks (whole batch in
// C++, GIL released, OpenMP over samples) and Python callables (GIL held; per sample, or
// batched: one call per stage for the active samples). Arguments arrive validated from
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
#include "bound_rhs.hpp"
#include "solve_common.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

const ButcherTableau& tableau_named(const std::string& name) {
  const ButcherTableau* tableau = find_tableau(name);
  if (!tableau) throw py::value_error("unknown method '" + name + "'");
  return *tableau;
}

namespace {

// The forward solve of any right-hand side.
template <class R>
BatchResult<typename R::Real> solve_with(const R& rhs, const ArrayOf<typename R::Real>& y0,
                                         const Array& t, const SolveOptions& opts) {
  const ProblemSize size = check_problem_arrays(y0, t);
  check_rhs_dim(rhs, size.dim);
  SolverOptions options = opts.for_dim(size.dim);
  BatchResult<typename R::Real> out(size.samples, t.shape(1), size.dim);
  run_on_lanes(rhs, y0.data(), size.dim, t, options, opts.num_threads, out,
               [&](auto lanes, auto& queue) {
                 constexpr int L = decltype(lanes)::value;
                 ForwardSystem<L, R> system(rhs);
                 integrate_queue<L>(system, opts.method(), options, queue, out, NoHooks{});
               },
               solve_cost(static_cast<double>(rhs.num_params())));
  return out;
}

// _core.solve for a bound right-hand side (its y0 of its Real).
template <class Bound>
void def_solve(py::module_& m) {
  m.def(
      "solve",
      [](const Bound& rhs, const ArrayOf<typename Bound::Real>& y0, const Array& t,
         const SolveOptions& options) {
        const core_rhs_t<Bound>& core = rhs;
        return with_forward_rhs(core, [&](const auto& forward) {
          return solve_with(forward, y0, t, options);
        });
      },
      py::arg("rhs"), py::arg("y0"), py::arg("t"), py::arg("options"));
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
  for_each_real([&](auto real, const std::string&) {
    using Real = decltype(real);
    def_solve<BoundNetworkRhs<Real>>(m);
    def_solve<PythonRhs<Real>>(m);
  });
}

}  // namespace neuralode::bindings
