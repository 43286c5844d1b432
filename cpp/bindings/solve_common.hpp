#pragma once
// What the solve and gradient bindings share: per-sample outputs, grids, options, and the
// queue that hands samples to lanes.
#include <pybind11/numpy.h>

#include <cstring>
#include <functional>
#include <type_traits>
#include <neuralode/batch.hpp>
#include <neuralode/integrate.hpp>
#include <neuralode/nets.hpp>
#include <neuralode/simd.hpp>
#include <neuralode/tableau.hpp>
#include <string>

#include "array_checks.hpp"
#include "interrupt.hpp"

namespace neuralode::bindings {

namespace py = pybind11;

const ButcherTableau& tableau_named(const std::string& name);

using LongArray = py::array_t<long>;

// Outputs of a batch solve, allocated before the GIL is released; threads write through the
// raw pointers, each to its own sample's entries. stats columns: nfe, n_steps, n_accepted,
// n_rejected.
struct BatchResult {
  Array ys;
  py::array_t<int> status;
  Array t_reached;
  py::array_t<long> stats;
  double* ys_data;
  int* status_data;
  double* t_reached_data;
  long* stats_data;

  // times == 0: no states are kept (grid rows go nowhere).
  BatchResult(long samples, long times, long dim)
      : ys({times, samples, dim}), status(samples), t_reached(samples), stats({samples, 4L}),
        ys_data(times > 0 ? ys.mutable_data() : nullptr), status_data(status.mutable_data()),
        t_reached_data(t_reached.mutable_data()), stats_data(stats.mutable_data()) {}

  void record(long b, const SampleResult& r) {
    status_data[b] = static_cast<int>(r.status);
    t_reached_data[b] = r.t_reached;
    long* row = stats_data + 4 * b;
    row[0] = r.stats.nfe;
    row[1] = r.stats.n_steps;
    row[2] = r.stats.n_accepted;
    row[3] = r.stats.n_rejected;
  }

  long failed() const {
    long count = 0;
    for (long b = 0; b < status.size(); ++b) count += status_data[b] != 0;
    return count;
  }

  // (ys, status, t_reached, stats, number of failed samples)
  py::tuple to_tuple() const { return py::make_tuple(ys, status, t_reached, stats, failed()); }
};

// Where sample b's times and states live: t is (1, T) shared or (B, T) per sample.
inline OutputGrid grid_of(const double* t, long t_rows, long times, const BatchResult& out, long b,
                   long samples, long dim) {
  const long t_row = t_rows == 1 ? 0 : b;
  return OutputGrid{t + t_row * times, 1, times, out.ys_data ? out.ys_data + b * dim : nullptr,
                    samples * dim};
}

// Checks the values of y0 and t and gathers the options. atol is a float, or an array of one
// entry or one per component (a float is read directly: making an array of it costs more
// than a small solve's arithmetic).
inline SolverOptions options_of(const Array& y0, const Array& t, bool batched, bool per_sample_t,
                         double rtol, const py::object& atol, double step_size, double first_step,
                         double max_step, long max_steps) {
  // solve.py checks the shapes with messages for users; these guard the raw pointers.
  if (y0.ndim() != 2 || t.ndim() != 2 || t.shape(1) < 1 ||
      (t.shape(0) != 1 && t.shape(0) != y0.shape(0)))
    throw py::value_error("the core takes y0 as (B, D) and t as (1, T) or (B, T)");
  check_finite(y0, "y0", batched);
  check_time_grid(t, per_sample_t);
  const long dim = y0.shape(1);
  SolverOptions options;
  options.rtol = rtol;
  if (PyFloat_Check(atol.ptr())) {
    options.atol.assign(static_cast<size_t>(dim), PyFloat_AS_DOUBLE(atol.ptr()));
  } else {
    const Array values = py::cast<Array>(atol);
    if (values.size() != 1 && values.size() != dim)
      throw py::value_error("`atol` has the wrong length");
    options.atol.assign(static_cast<size_t>(dim), values.data()[0]);
    if (values.size() == dim) options.atol.assign(values.data(), values.data() + dim);
  }
  options.step_size = step_size;
  options.first_step = first_step;
  options.max_step = max_step;
  options.max_steps = max_steps;
  return options;
}

// A network's parameters and state width against the arrays given for them.
inline void check_network_arguments(const Network& net, const Array& theta, const Array& y0) {
  if (theta.ndim() != 1 || theta.shape(0) != net.num_params())
    throw py::value_error("`params` must have shape (" + std::to_string(net.num_params()) +
                          ",) for this network");
  if (y0.shape(1) != net.dim())
    throw py::value_error("the network takes states of " + std::to_string(net.dim()) +
                          " components, not " + std::to_string(y0.shape(1)));
}

// The type of a Python object, for error messages.
inline std::string type_name(const py::handle& object) {
  std::string name = py::str(py::type::of(object).attr("__name__"));
  if (py::isinstance<py::array>(object)) name += " of " + std::string(py::str(object.attr("dtype")));
  return name;
}

// One sample per call of a Python f(t, y) -> (D,); its exceptions propagate unchanged.
struct PythonRhs {
  const py::function& f;
  long dim;
  void operator()(const double* t, const double* y, double* dy) {
    Array y_arr(dim);
    std::memcpy(y_arr.mutable_data(), y, sizeof(double) * static_cast<size_t>(dim));
    py::object result = f(*t, y_arr);
    Array dy_arr = real_array(result);
    if (!dy_arr)
      throw py::type_error("`func` must return an array of real numbers; got " +
                           type_name(result));
    if (dy_arr.ndim() != 1 || dy_arr.shape(0) != dim)
      throw py::value_error("`func` must return an array of shape (" + std::to_string(dim) +
                            ",) for a state of shape (" + std::to_string(dim) + ",); got shape " +
                            std::string(py::str(py::tuple(py::cast(std::vector<long>(
                                dy_arr.shape(), dy_arr.shape() + dy_arr.ndim()))))));
    std::memcpy(dy, dy_arr.data(), sizeof(double) * static_cast<size_t>(dim));
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C
  }
  void one(int, double t, const double* y, double* dy) { (*this)(&t, y, dy); }
};

// Hands out samples [0, count) through `take`, with their initial values and output rows.
template <class Take>
struct ProblemQueue {
  Take& take;
  const double* y0;
  const double* t;
  long t_rows, times, samples, dim;
  const BatchResult& out;
  bool operator()(SampleProblem& problem) {
    const long b = take();
    if (b < 0) return false;
    problem = SampleProblem{b, y0 + b * dim, grid_of(t, t_rows, times, out, b, samples, dim)};
    return true;
  }
};

// Lanes per thread for networks: wide enough to vectorize the layers across samples.
constexpr int network_lanes = 8;

template <int L>
struct NetworkRhs {
  static constexpr bool simd = true;
  const Network& net;
  const double* theta;
  NetWorkspace& ws;
  void operator()(const double* t, const double* y, double* dy) {
    // One lane: inlined into the per-instruction-set step loop, since a kernel call per
    // evaluation cost a cheap network (W1) 10%; wider lanes call their kernel.
    if constexpr (L == 1)
      net.forward<1>(t, theta, y, dy, ws);
    else
      evaluate_network<L>(net, t, theta, y, dy, ws);
  }
  void one(int, double t, const double* y, double* dy) {
    evaluate_network<1>(net, &t, theta, y, dy, ws);
  }
};

// One thread's share of a network solve: its lanes take samples from `take` until none is
// left. Compiled per instruction set (simd.hpp).
template <int L, class Take, class Hooks = NoHooks>
NEURALODE_SIMD_CLONES void network_thread_work(const Network& net, const double* theta,
                                               const ButcherTableau& tableau,
                                               const SolverOptions& options,
                                               ProblemQueue<Take>& queue, BatchResult& out,
                                               Hooks hooks = Hooks{}) {
  StepWorkspace<L> ws;
  NetWorkspace net_ws;
  net.prepare<L>(net_ws);
  NetworkRhs<L> rhs{net, theta, net_ws};
  auto record = [&](long id, const SampleResult& r) { out.record(id, r); };
  integrate_lanes<L>(rhs, tableau, options, static_cast<int>(queue.dim), ws, queue, record,
                     hooks);
}

// Hands the rows of y0 (B, state) with their grids t (1 or B, T) to OpenMP threads; each
// thread calls work(lanes, queue), lanes a std::integral_constant: 8 lanes when every thread
// gets two rounds of them or more, 4 when it gets a few samples, else 1, so that lanes are
// seldom idle and threads finish together. Results do not depend on the choice. Call without
// the GIL.
template <class Work>
void solve_on_lanes(const double* y0, long state, const Array& t, int num_threads,
                    BatchResult& out, Work&& work, double cost = 0) {  // 0: guess from state
  const long samples = out.status.size(), t_rows = t.shape(0), times = t.shape(1);
  const double* t_p = t.data();
  const long threads = thread_count(num_threads, samples, cost > 0 ? cost : 3 * solve_cost(state));
  const long per_thread = (samples + threads - 1) / threads;
  parallel_over_samples(samples, static_cast<int>(threads), [&](auto take) {
    using Take = std::function<long()>;
    Take take_fn = take;
    ProblemQueue<Take> queue{take_fn, y0, t_p, t_rows, times, samples, state, out};
    if (per_thread >= 2 * network_lanes)
      work(std::integral_constant<int, network_lanes>{}, queue);
    else if (per_thread >= 4)
      work(std::integral_constant<int, 4>{}, queue);
    else
      work(std::integral_constant<int, 1>{}, queue);
  });
}

// Solves every row of y0 (B, dim) with a network. Call without the GIL.
template <class Hooks = NoHooks>
void solve_network_batch(const Network& net, const double* theta, const double* y0,
                         const Array& t, const ButcherTableau& tableau,
                         const SolverOptions& options, int num_threads, BatchResult& out,
                         Hooks hooks = Hooks{}) {
  solve_on_lanes(y0, net.dim(), t, num_threads, out, [&](auto lanes, auto& queue) {
    network_thread_work<decltype(lanes)::value>(net, theta, tableau, options, queue, out, hooks);
  }, solve_cost(net.num_params()));
}

}  // namespace neuralode::bindings
