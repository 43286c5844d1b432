#pragma once
// The recorded solve behind odeint_vjp's gradient="backprop" and "interpolated", and
// solve(..., dense=True): the forward solve records every accepted step, and the backward
// passes go back through the records. One template for every right-hand side, registered by
// backprop_bindings.cpp (networks) and backprop_python_bindings.cpp (Python dynamics), one
// object each per scalar type. Arguments arrive validated from python/neuralode/grad.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>
#include <neuralode/backprop.hpp>
#include <neuralode/batch.hpp>
#include <neuralode/gradients/adjoint.hpp>
#include <neuralode/gradients/backprop_lanes.hpp>
#include <neuralode/gradients/backprop_vjp.hpp>
#include <neuralode/gradients/interpolated.hpp>

#include "adjoint_common.hpp"
#include "bound_rhs.hpp"
#include "solve_common.hpp"

namespace neuralode::bindings {


// A forward solve that kept every sample's accepted steps (backprop.hpp), with what it was
// solved with: Bound is the right-hand side as Python made it (kept alive here), R the
// right-hand side the numerics run on.
template <class Bound, class R>
class RecordedSolve {
  using Real = typename R::Real;
  using RealArray = ArrayOf<Real>;

 public:
  RecordedSolve(const Bound& rhs, const RealArray& y0, const Array& t, const SolveOptions& opts)
      : rhs_(rhs), t_(t), tableau_(opts.method()),
        size_(check_problem_arrays(y0, t)), dim_(static_cast<int>(size_.dim)),
        out_(size_.samples, t.shape(1), size_.dim), tapes_(static_cast<size_t>(size_.samples)) {
    check_rhs_dim(this->rhs(), size_.dim);
    for (StepTape<Real>& tape : tapes_) tape.reset(dim_, tableau_.stages);
    SolverOptions options = opts.for_dim(size_.dim);
    with_forward_rhs(this->rhs(), [&](const auto& forward) {
      record(forward, y0, options, opts.num_threads);
    });
  }

  BatchResult<Real> result() const { return out_; }

  long stored_floats() const {
    long total = 0;
    for (const StepTape<Real>& tape : tapes_) total += tape.stored_floats();
    return total;
  }

  // The solution at the times tq (1 or B rows of M) by the method's own dense output, as
  // (M, B, D): what the forward solve would have output there. NaN past where a sample
  // stopped. solve.py has checked that every time lies in its sample's interval.
  RealArray evaluate(const Array& tq) const {
    const long times = tq.shape(1), count = samples(), last_output = t_.shape(1) - 1;
    RealArray result({times, count, static_cast<long>(dim_)});
    Real* out = result.mutable_data();
    for (long b = 0; b < count; ++b) {
      const StepTape<Real>& tape = tapes_[static_cast<size_t>(b)];
      const double* row = tq.data() + (tq.shape(0) == 1 ? 0 : b) * times;
      const double t0 = t_row(b)[0], direction = t_row(b)[last_output] >= t0 ? 1 : -1;
      const bool success = out_.status_data[b] == 0;
      long hint = 0;
      for (long i = 0; i < times; ++i) {
        Real* dst = out + (i * count + b) * dim_;
        const double tau = row[i];
        if (tau == t0 || tape.steps() == 0) {  // y0 itself (a solve of one time has no steps)
          const Real* y0 = out_.ys_data + b * dim_;
          std::copy(y0, y0 + dim_, dst);
          continue;
        }
        hint = tape.find_step(tau, hint);
        // A failed sample's tape is not closed: the Hermite output of its last step has no end.
        const bool open_end = !success && hint + 1 == tape.steps() && tableau_.dense_degree == 0;
        if (direction * (tau - out_.t_reached_data[b]) > 0 || open_end)
          std::fill(dst, dst + dim_, std::numeric_limits<Real>::quiet_NaN());
        else
          tape.interpolate(tableau_, hint, tau, dst);
      }
    }
    return result;
  }

  // dL_dys (T, B, D) -> dL/dy0, dL/dθ and the work per sample: backpropagation through
  // every sample's recorded steps.
  BackpropResult<Real> pullback(const RealArray& dL_dys, int num_threads) const {
    const long params = rhs().num_params();
    RealArray grad_y0({samples(), static_cast<long>(dim_)});
    Array grad_theta(params);
    py::array_t<bool> theta_finite(samples());
    ThetaSum<Real> gt(samples(), params, grad_theta.mutable_data(), finite_flags(theta_finite));
    py::array_t<long> work_done({samples(), 3L});
    long* wd = work_done.mutable_data();
    Real* gy = grad_y0.mutable_data();
    const Real* g = dL_dys.data();
    if constexpr (R::threads) {
      run_interruptibly(nullptr, [&](InterruptWatch& watch) {
        parallel_over_samples(
            samples(), num_threads,
            [&](auto take) {
              backprop_thread_work(take, g, gy, gt, wd, [&] { return watch.requested(); });
            },
            3.0 * params * stored_floats() / (samples() * dim_ + 1.0));  // VJPs: 3x f
      });
    } else {
      long next = 0;
      auto take = [&]() -> long { return next < samples() ? next++ : -1; };
      backprop_samples(take, g, gy, gt, wd, [] { return false; });
    }
    return BackpropResult<Real>{grad_y0, grad_theta, theta_finite, work_done};
  }

  // The interpolated adjoint over the recorded steps: t_back (1 or B, T) runs t_N..t_0,
  // s0 (B, D) is dL/dy(t_N) (a_θ and a_t start at zero). Returns what adjoint returns. The
  // dot products of dL/dt_k come from the f that a C++ VJP computes anyway; a Python f would
  // be a call of its own, and grad.py takes them afterwards instead.
  AdjointResult<Real> interpolated_pullback(const RealArray& s0, const Array& t_back,
                                            const RealArray& dL_dys,
                                            const AdjointOptions& opts) const {
    const AdjointLayout given{dim_, rhs().num_params(), false};
    SolverOptions options = backward_options(opts, given, s0, t_back);
    AdjointResult<Real> result(samples(), given.dim, given.params, given.size(),
                               t_back.shape(1));
    ThetaSum<Real> theta_sum = result.theta_sum();
    const AdjointJumps<Real> jumps =
        result.jumps(given, t_back.shape(1), out_.ys, dL_dys, R::threads, theta_sum);
    const double cost = 3 * solve_cost(static_cast<double>(given.size()));  // as adjoint's
    const AdjointLayout layout = backward_layout(rhs(), false, opts.full_norm);
    if (layout.theta_in_state()) {
      const std::vector<Real> state = initial_states(s0, given);
      run_on_lanes(rhs(), state.data(), given.size(), t_back, options, opts.num_threads,
                   result.batch, [&](auto lanes, auto& queue) {
                     constexpr int L = decltype(lanes)::value;
                     InterpolatedAdjointSystem<L, R> system(rhs(), tableau_, tapes_.data(), jumps);
                     integrate_queue<L>(system, tableau_, options, queue, result.batch, system);
                   }, cost);
      return result;
    }
    if constexpr (has_theta_records<R>::value) {
      to_layout(given, layout, options);
      const std::vector<Real> state = initial_states(s0, layout);
      run_on_lanes(rhs(), state.data(), layout.size(), t_back, options, opts.num_threads,
                   result.batch, [&](auto lanes, auto& queue) {
                     constexpr int L = decltype(lanes)::value;
                     ThetaQuadrature<Real> quadrature(rhs().network(), tableau_, L);
                     AdjointJumps<Real> lane_jumps = jumps;
                     lane_jumps.layout = layout;
                     lane_jumps.quadrature = &quadrature;
                     InterpolatedAdjointSystem<L, R, true> system(rhs(), tableau_, tapes_.data(),
                                                                  lane_jumps);
                     integrate_queue<L>(system, tableau_, options, queue, result.batch, system);
                   }, cost);
    }
    return result;
  }

 private:
  const R& rhs() const { return rhs_; }
  long samples() const { return static_cast<long>(tapes_.size()); }
  const double* t_row(long b) const {
    return t_.data() + (t_.shape(0) == 1 ? 0 : b) * t_.shape(1);
  }

  // The forward solve with a tape recorder per thread, then the tapes' ends.
  template <class Forward>
  void record(const Forward& forward, const RealArray& y0, SolverOptions& options,
              int num_threads) {
    run_on_lanes(forward, y0.data(), dim_, t_, options, num_threads, out_,
                 [&](auto lanes, auto& queue) {
                   constexpr int L = decltype(lanes)::value;
                   ForwardSystem<L, Forward> system(forward);
                   TapeRecorder<Real> recorder;  // per thread: it buffers its lanes' steps
                   recorder.tapes = tapes_.data();
                   integrate_queue<L>(system, tableau_, options, queue, out_, recorder);
                 });
    auto lanes = rhs().template lanes<1>();
    close_tapes([&](double t_end, const Real* y, Real* out) { lanes.f_one(t_end, y, out); });
  }

  // Each successful sample's end state and, for methods without an FSAL stage, f there (for
  // Hermite interpolation in the last step): slope(t, y, out). A failed sample has no end.
  template <class Slope>
  void close_tapes(Slope&& slope) {
    const long times = t_.shape(1);
    for (long b = 0; b < samples(); ++b) {
      if (out_.status_data[b] != 0) continue;
      StepTape<Real>& tape = tapes_[static_cast<size_t>(b)];
      const Real* y_end = out_.ys_data + ((times - 1) * samples() + b) * dim_;
      tape.end_y.assign(y_end, y_end + dim_);
      tape.end_slope.assign(static_cast<size_t>(dim_), Real(0));
      if (!tableau_.fsal()) slope(t_row(b)[times - 1], y_end, tape.end_slope.data());
    }
  }

  // One thread's share of the pullback (compiled per instruction set where R allows).
  template <class Take, class Stop>
  NEURALODE_SIMD_CLONES void backprop_thread_work(Take& take, const Real* dL_dys, Real* grad_y0,
                                                  ThetaSum<Real>& grad_theta, long* work_done,
                                                  Stop&& stop) const {
    backprop_samples(take, dL_dys, grad_y0, grad_theta, work_done, stop);
  }

  // Backpropagation through the steps of the samples `take` hands out. work_done row: VJP
  // evaluations, steps gone back through, 0.
  // Networks go back through a lane group of samples at once (BackpropLanes); other
  // right-hand sides one sample at a time.
  template <class Take, class Stop>
  void backprop_samples(Take& take, const Real* dL_dys, Real* grad_y0,
                        ThetaSum<Real>& grad_theta, long* work_done, Stop&& stop) const {
    auto grid_of = [&](long b) { return OutputGrid<Real>{t_row(b), 1, t_.shape(1), nullptr, 0}; };
    auto done = [&](long b, long vjps) {
      grad_theta.done(b);
      work_done[3 * b] = vjps;
      work_done[3 * b + 1] = tapes_[static_cast<size_t>(b)].steps();
      work_done[3 * b + 2] = 0;
    };
    if constexpr (has_theta_records<R>::value) {
      BackpropLanes<R::max_lanes, R> lanes(rhs(), tableau_);
      lanes.run([&] { return stop() ? -1L : take(); },
                [&](long b, BackpropCursor<Real>& cursor) {
                  cursor.start(tableau_, tapes_[static_cast<size_t>(b)], grid_of(b),
                               dL_dys + b * dim_, samples() * dim_, dim_, grad_y0 + b * dim_);
                  return grad_theta.take(b, /*zeroed=*/false);
                },
                done);
    } else {
      BackpropVjp<R> vjp(rhs());
      BackpropCursor<Real> cursor;
      for (long b = take(); b >= 0 && !stop(); b = take()) {
        vjp.theta_bar = grad_theta.take(b);
        const long calls_before = vjp.calls;
        backprop_sample(vjp, tableau_, tapes_[static_cast<size_t>(b)], grid_of(b),
                        dL_dys + b * dim_, samples() * dim_, dim_, grad_y0 + b * dim_, cursor);
        done(b, vjp.calls - calls_before);
      }
    }
  }

  Bound rhs_;
  Array t_;
  const ButcherTableau& tableau_;
  ProblemSize size_;
  int dim_;
  BatchResult<Real> out_;
  std::vector<StepTape<Real>> tapes_;
};

// The recorded solve of a bound right-hand side, bound as _core.<name>: NetworkRecordedSolve,
// PythonRecordedSolve, and with the suffix 32 for float32 states.
template <class Bound>
void def_recorded(py::module_& m, const std::string& name) {
  using Recorded = RecordedSolve<Bound, core_rhs_t<Bound>>;
  using RealArray = ArrayOf<typename Bound::Real>;
  py::class_<Recorded>(m, name.c_str())
      .def("result", &Recorded::result)
      .def_property_readonly("stored_floats", &Recorded::stored_floats)
      .def("evaluate", &Recorded::evaluate, py::arg("t"))
      .def("pullback", &Recorded::pullback, py::arg("dL_dys"), py::arg("num_threads"))
      .def("interpolated_pullback", &Recorded::interpolated_pullback, py::arg("s0"),
           py::arg("t_back"), py::arg("dL_dys"), py::arg("options"));
  m.def(
      "record",
      [](const Bound& rhs, const RealArray& y0, const Array& t, const SolveOptions& options) {
        return std::make_unique<Recorded>(rhs, y0, t, options);
      },
      py::arg("rhs"), py::arg("y0"), py::arg("t"), py::arg("options"));
}

}  // namespace neuralode::bindings
