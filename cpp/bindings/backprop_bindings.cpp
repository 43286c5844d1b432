// odeint_vjp's gradient="backprop" and "interpolated": the forward solve records every
// accepted step, and the backward passes go back through the records. Arguments arrive
// validated from python/neuralode/grad.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <functional>
#include <limits>
#include <neuralode/adjoint.hpp>
#include <neuralode/backprop.hpp>
#include <neuralode/batch.hpp>
#include <neuralode/simd.hpp>

#include "adjoint_common.hpp"
#include "bindings.hpp"
#include "recorded_solve.hpp"
#include "solve_common.hpp"

namespace neuralode::bindings {
namespace {

// cᵀ∂f/∂y and cᵀ∂f/∂θ of a network at one point, added to the caller's accumulators.
struct NetworkVjp {
  const Network& net;
  const double* theta;
  double* theta_bar;  // this sample's dL/dθ
  NetWorkspace ws;
  NetTape tape;
  std::vector<double> f, a_y, a_theta;
  double a_t = 0;
  long calls = 0;

  NetworkVjp(const Network& n, const double* th) : net(n), theta(th), theta_bar(nullptr) {
    net.prepare<1>(ws);
    prepare_tape<1>(net, tape);
    f.resize(net.dim());
    a_y.resize(net.dim());
    a_theta.resize(net.num_params());
  }
  void operator()(double t, const double* y, const double* c, double* y_bar) {
    ++calls;
    evaluate_vjp<1>(net, &t, theta, y, c, f.data(), a_y.data(), a_theta.data(), &a_t, tape, ws);
    for (int d = 0; d < net.dim(); ++d) y_bar[d] += a_y[d];
    for (long p = 0; p < net.num_params(); ++p) theta_bar[p] += a_theta[p];
  }
};

// What backprop and the interpolated adjoint keep of a forward solve: the outputs and every
// sample's accepted steps (backprop.hpp), shared by networks and Python dynamics.
class RecordedForward {
 public:
  RecordedForward(const Array& y0, const Array& t, const std::string& method, int dim)
      : t_(t), tableau_(tableau_named(method)), dim_(dim),
        out_(y0.shape(0), t.shape(1), y0.shape(1)), tapes_(static_cast<size_t>(y0.shape(0))) {
    for (StepTape& tape : tapes_) tape.reset(dim, tableau_.stages);
  }

  py::tuple result() const { return out_.to_tuple(); }

  long stored_floats() const {
    long total = 0;
    for (const StepTape& tape : tapes_) total += tape.stored_floats();
    return total;
  }

  // The solution at the times tq (1 or B rows of M) by the method's own dense output, as
  // (M, B, D): what the forward solve would have output there. NaN past where a sample
  // stopped. solve.py has checked that every time lies in its sample's interval.
  Array evaluate(const Array& tq) const {
    const long times = tq.shape(1), count = samples(), last_output = t_.shape(1) - 1;
    Array result({times, count, static_cast<long>(dim_)});
    double* out = result.mutable_data();
    for (long b = 0; b < count; ++b) {
      const StepTape& tape = tapes_[static_cast<size_t>(b)];
      const double* row = tq.data() + (tq.shape(0) == 1 ? 0 : b) * times;
      const double t0 = t_row(b)[0], direction = t_row(b)[last_output] >= t0 ? 1 : -1;
      const bool success = out_.status_data[b] == 0;
      long hint = 0;
      for (long i = 0; i < times; ++i) {
        double* dst = out + (i * count + b) * dim_;
        const double tau = row[i];
        if (tau == t0 || tape.steps() == 0) {  // y0 itself (a solve of one time has no steps)
          const double* y0 = out_.ys_data + b * dim_;
          std::copy(y0, y0 + dim_, dst);
          continue;
        }
        hint = tape.find_step(tau, hint);
        // A failed sample's tape is not closed: the Hermite output of its last step has no end.
        const bool open_end = !success && hint + 1 == tape.steps() && tableau_.dense_degree == 0;
        if (direction * (tau - out_.t_reached_data[b]) > 0 || open_end)
          std::fill(dst, dst + dim_, std::numeric_limits<double>::quiet_NaN());
        else
          tape.interpolate(tableau_, hint, tau, dst);
      }
    }
    return result;
  }

 protected:
  long samples() const { return static_cast<long>(tapes_.size()); }
  const double* t_row(long b) const {
    return t_.data() + (t_.shape(0) == 1 ? 0 : b) * t_.shape(1);
  }

  // Each successful sample's end state and, for methods without an FSAL stage, f there (for
  // Hermite interpolation in the last step): slope(t, y, out). A failed sample has no end.
  template <class Slope>
  void close_tapes(Slope&& slope) {
    const long times = t_.shape(1);
    for (long b = 0; b < samples(); ++b) {
      if (out_.status_data[b] != 0) continue;
      StepTape& tape = tapes_[static_cast<size_t>(b)];
      const double* y_end = out_.ys_data + ((times - 1) * samples() + b) * dim_;
      tape.end_y.assign(y_end, y_end + dim_);
      tape.end_slope.assign(static_cast<size_t>(dim_), 0.0);
      if (!tableau_.fsal()) slope(t_row(b)[times - 1], y_end, tape.end_slope.data());
    }
  }

  // Backpropagation through sample b's steps; vjp.theta_bar must point at its dL/dθ row.
  // work_done row: VJP evaluations, steps gone back through, 0.
  template <class Vjp>
  void backprop_one(Vjp& vjp, long b, const double* dL_dys, double* grad_y0, long* work_done,
                    std::vector<double>& work) const {
    const long calls_before = vjp.calls;
    const OutputGrid grid{t_row(b), 1, t_.shape(1), nullptr, 0};
    backprop_sample(vjp, tableau_, tapes_[static_cast<size_t>(b)], grid, dL_dys + b * dim_,
                    samples() * dim_, dim_, grad_y0 + b * dim_, work);
    work_done[3 * b] = vjp.calls - calls_before;
    work_done[3 * b + 1] = tapes_[static_cast<size_t>(b)].steps();
    work_done[3 * b + 2] = 0;
  }

  Array t_;
  const ButcherTableau& tableau_;
  int dim_;
  BatchResult out_;
  std::vector<StepTape> tapes_;
};

// gradient="backprop" and "interpolated" for networks: the forward solve records every
// accepted step; the pullbacks go back through them in parallel over samples.
class NetworkBackprop : public RecordedForward {
 public:
  NetworkBackprop(const Network& net, const Array& theta, const Array& y0, const Array& t,
                  bool batched, const std::string& method, double rtol, const py::object& atol,
                  double step_size, double first_step, double max_step, long max_steps,
                  int num_threads)
      : RecordedForward(y0, t, method, net.dim()), net_(net), theta_(theta) {
    check_finite(theta, "params", false);
    SolverOptions options = options_of(y0, t, batched, t.shape(0) > 1, rtol, atol, step_size,
                                       first_step, max_step, max_steps);
    check_network_arguments(net, theta, y0);
    run_interruptibly(&options, [&](InterruptWatch&) {
      solve_network_recorded(net, theta_.data(), y0.data(), t_, tableau_, options, num_threads,
                             out_, tapes_.data());
    });
    py::gil_scoped_release release;
    NetWorkspace ws;
    net.prepare<1>(ws);
    close_tapes([&](double t_end, const double* y, double* out) {
      evaluate_network<1>(net, &t_end, theta_.data(), y, out, ws);
    });
  }

  // dL_dys (T, B, D) -> (dL/dy0 (B, D), dL/dθ (B, P) one row per sample, work (B, 3))
  py::tuple pullback(const Array& dL_dys, int num_threads) const {
    const long params = net_.num_params();
    Array grad_y0({samples(), static_cast<long>(dim_)}), grad_theta({samples(), params});
    py::array_t<long> work_done({samples(), 3L});
    long* wd = work_done.mutable_data();
    double *gy = grad_y0.mutable_data(), *gt = grad_theta.mutable_data();
    const double* g = dL_dys.data();
    run_interruptibly(nullptr, [&](InterruptWatch& watch) {
      parallel_over_samples(samples(), num_threads, [&](auto take) {
        backprop_thread_work(take, g, gy, gt, wd, watch);
      }, 3.0 * params * stored_floats() / (samples() * dim_ + 1.0));  // VJPs: 3x f
    });
    return py::make_tuple(grad_y0, grad_theta, work_done);
  }

  // The interpolated adjoint over the recorded steps: t_back (1 or B, T) runs t_N..t_0,
  // s0 (B, D + P + 1) is [dL/dy(t_N), 0, 0]. Returns what adjoint_network returns.
  py::tuple interpolated_pullback(const Array& s0, const Array& t_back, const Array& dL_dys,
                                  double rtol, const py::object& atol, double step_size,
                                  double first_step, double max_step, long max_steps,
                                  bool full_norm, int num_threads) const {
    const AdjointLayout layout{net_.dim(), net_.num_params(), false};
    SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size,
                                            first_step, max_step, max_steps, full_norm);
    AdjointResult result(samples(), layout.dim, layout.params, layout.size(),
                         t_back.shape(1));
    AdjointJumps jumps = result.jumps(layout, t_back.shape(1), out_.ys, dL_dys, true);
    run_interruptibly(&options, [&](InterruptWatch&) {
      solve_on_lanes(s0.data(), layout.size(), t_back, num_threads, result.batch,
                     [&](auto lanes, auto& queue) {
                       interpolated_thread_work<decltype(lanes)::value>(queue, jumps, options,
                                                                         result.batch);
                     });
    });
    return result.to_tuple();
  }

 private:
  // One thread's share of the pullback: the samples `take` hands out.
  template <class Take>
  NEURALODE_SIMD_CLONES void backprop_thread_work(Take& take, const double* dL_dys,
                                                  double* grad_y0, double* grad_theta,
                                                  long* work_done, InterruptWatch& watch) const {
    const long params = net_.num_params();
    NetworkVjp vjp(net_, theta_.data());
    std::vector<double> work;
    for (long b = take(); b >= 0 && !watch.requested(); b = take()) {
      std::fill(grad_theta + b * params, grad_theta + (b + 1) * params, 0.0);
      vjp.theta_bar = grad_theta + b * params;
      backprop_one(vjp, b, dL_dys, grad_y0, work_done, work);
    }
  }

  template <int L, class Take>
  NEURALODE_SIMD_CLONES void interpolated_thread_work(ProblemQueue<Take>& queue,
                                                      AdjointJumps jumps,
                                                      const SolverOptions& options,
                                                      BatchResult& out) const {
    StepWorkspace<L> ws;
    NetworkInterpolatedAdjoint<L> rhs(net_, theta_.data(), tableau_, tapes_.data(), jumps);
    auto record = [&](long id, const SampleResult& r) { out.record(id, r); };
    integrate_lanes<L>(rhs, tableau_, options, static_cast<int>(queue.dim), ws, queue, record,
                       rhs);
  }

  const Network& net_;
  Array theta_;
};

// cᵀ∂f/∂y and cᵀ∂f/∂θ of a Python Dynamics, added to the caller's accumulators.
struct DynamicsVjp {
  const py::object& dynamics;
  const py::object& params;
  long dim, num_params;
  double* theta_bar = nullptr;
  long calls = 0;
  void operator()(double t, const double* y, const double* c, double* y_bar) {
    ++calls;
    const PythonVjpCall v(dynamics, params, dim, num_params, t, y, c);
    for (long d = 0; d < dim; ++d) y_bar[d] += v.a_y.data()[d];
    for (long p = 0; p < num_params; ++p) theta_bar[p] += v.a_params.data()[p];
  }
};

// The interpolated adjoint of a Python Dynamics: [a, a_θ, a_t] with z from the tapes.
struct DynamicsInterpolatedAdjoint {
  const py::object& dynamics;
  const py::object& params;
  const ButcherTableau& tableau;
  const StepTape* tapes;
  AdjointJumps jumps;
  long sample = -1, hint = 0;
  std::vector<double> z;

  void operator()(const double* t, const double* s, double* ds) { one(0, *t, s, ds); }
  void one(int, double t, const double* s, double* ds) {
    const AdjointLayout& lay = jumps.layout;
    hint = tapes[sample].find_step(t, hint);
    tapes[sample].interpolate(tableau, hint, t, z.data());
    const PythonVjpCall v(dynamics, params, lay.dim, lay.params, t, z.data(), s + lay.a());
    for (long d = 0; d < lay.dim; ++d) ds[lay.a() + d] = -v.a_y.data()[d];
    for (long p = 0; p < lay.params; ++p) ds[lay.theta() + p] = -v.a_params.data()[p];
    ds[lay.time()] = -v.a_t;
  }
  void started(long id, int) {
    sample = id;
    hint = tapes[id].steps() - 1;
  }
  void finished(long, int) {}
  template <int L>
  bool at_output(long id, long i, double* s, int l) {
    return jumps.template at_output<L>(id, i, s, l);
  }
  template <int L>
  void accepted(long, double, double, const double*, const LaneBlocks<L>&, int) {}
};

// gradient="backprop" and "interpolated" for a neuralode.Dynamics, one sample at a time with
// the GIL held: f(t, y) is the dynamics' f with its parameters bound.
class DynamicsBackprop : public RecordedForward {
 public:
  DynamicsBackprop(const py::function& f, const py::object& dynamics, const Array& params,
                   const Array& y0, const Array& t, bool batched, const std::string& method,
                   double rtol, const py::object& atol, double step_size, double first_step,
                   double max_step, long max_steps)
      : RecordedForward(y0, t, method, static_cast<int>(y0.shape(1))), dynamics_(dynamics),
        params_(params) {
    const SolverOptions options = options_of(y0, t, batched, t.shape(0) > 1, rtol, atol,
                                             step_size, first_step, max_step, max_steps);
    StepWorkspace<1> ws;
    PythonRhs rhs{f, dim_};
    long next = 0;
    auto take = [&]() -> long { return next < samples() ? next++ : -1; };
    ProblemQueue<decltype(take)> queue{take, y0.data(), t.data(), t.shape(0), t.shape(1),
                                       samples(), dim_, out_};
    auto record = [&](long id, const SampleResult& r) { out_.record(id, r); };
    integrate_lanes<1>(rhs, tableau_, options, dim_, ws, queue, record,
                       TapeRecorder{tapes_.data()});
    close_tapes([&](double t_end, const double* y, double* out) { rhs.one(0, t_end, y, out); });
  }

  py::tuple pullback(const Array& dL_dys, int) const {
    const long params = params_.size();
    Array grad_y0({samples(), static_cast<long>(dim_)}), grad_theta({samples(), params});
    py::array_t<long> work_done({samples(), 3L});
    double* gt = grad_theta.mutable_data();
    std::fill(gt, gt + samples() * params, 0.0);
    DynamicsVjp vjp{dynamics_, params_, dim_, params, nullptr, 0};
    std::vector<double> work;
    for (long b = 0; b < samples(); ++b) {
      vjp.theta_bar = gt + b * params;
      backprop_one(vjp, b, dL_dys.data(), grad_y0.mutable_data(), work_done.mutable_data(),
                   work);
    }
    return py::make_tuple(grad_y0, grad_theta, work_done);
  }

  py::tuple interpolated_pullback(const Array& s0, const Array& t_back, const Array& dL_dys,
                                  double rtol, const py::object& atol, double step_size,
                                  double first_step, double max_step, long max_steps,
                                  bool full_norm, int) const {
    const AdjointLayout layout{dim_, static_cast<long>(params_.size()), false};
    const SolverOptions options = adjoint_options(layout, s0, t_back, rtol, atol, step_size,
                                                  first_step, max_step, max_steps, full_norm);
    AdjointResult result(samples(), layout.dim, layout.params, layout.size(),
                         t_back.shape(1));
    DynamicsInterpolatedAdjoint rhs{dynamics_, params_, tableau_, tapes_.data(),
                                    result.jumps(layout, t_back.shape(1), out_.ys, dL_dys, false), -1, 0,
                                    std::vector<double>(static_cast<size_t>(dim_))};
    StepWorkspace<1> ws;
    long next = 0;
    const long count = samples();
    auto take = [&]() -> long { return next < count ? next++ : -1; };
    ProblemQueue<decltype(take)> queue{take, s0.data(), t_back.data(), t_back.shape(0),
                                       t_back.shape(1), count, layout.size(), result.batch};
    auto record = [&](long id, const SampleResult& r) { result.batch.record(id, r); };
    integrate_lanes<1>(rhs, tableau_, options, static_cast<int>(layout.size()), ws, queue,
                       record, rhs);
    return result.to_tuple();
  }

 private:
  py::object dynamics_;
  Array params_;
};

}  // namespace

// The methods NetworkBackprop and DynamicsBackprop share (RecordedForward and the pullbacks).
template <class Recorded>
void def_recorded_methods(py::class_<Recorded>& cls) {
  cls.def("result", &Recorded::result)
      .def_property_readonly("stored_floats", &Recorded::stored_floats)
      .def("evaluate", &Recorded::evaluate, py::arg("t"))
      .def("pullback", &Recorded::pullback, py::arg("dL_dys"), py::arg("num_threads"))
      .def("interpolated_pullback", &Recorded::interpolated_pullback, py::arg("s0"),
           py::arg("t_back"), py::arg("dL_dys"), py::arg("rtol"), py::arg("atol"),
           py::arg("step_size"), py::arg("first_step"), py::arg("max_step"), py::arg("max_steps"),
           py::arg("full_norm"), py::arg("num_threads"));
}

void register_backprop(py::module_& m) {
  py::class_<NetworkBackprop> network(m, "NetworkBackprop");
  network.def(py::init<const Network&, const Array&, const Array&, const Array&, bool,
                       const std::string&, double, const py::object&, double, double, double,
                       long, int>(),
              py::keep_alive<1, 2>(), py::arg("net"), py::arg("theta"), py::arg("y0"),
              py::arg("t"), py::arg("batched"), py::arg("method"), py::arg("rtol"),
              py::arg("atol"), py::arg("step_size"), py::arg("first_step"), py::arg("max_step"),
              py::arg("max_steps"), py::arg("num_threads"));
  def_recorded_methods(network);
  py::class_<DynamicsBackprop> dynamics(m, "DynamicsBackprop");
  dynamics.def(py::init<const py::function&, const py::object&, const Array&, const Array&,
                        const Array&, bool, const std::string&, double, const py::object&,
                        double, double, double, long>(),
               py::arg("f"), py::arg("dynamics"), py::arg("params"), py::arg("y0"), py::arg("t"),
               py::arg("batched"), py::arg("method"), py::arg("rtol"), py::arg("atol"),
               py::arg("step_size"), py::arg("first_step"), py::arg("max_step"),
               py::arg("max_steps"));
  def_recorded_methods(dynamics);
}

}  // namespace neuralode::bindings
