#pragma once
// Right-hand sides written in Python (the concept of rhs.hpp), run on one thread with the
// GIL held; their exceptions propagate unchanged, and Ctrl-C is checked after every call.
//  - PythonRhs: f(t, y) one sample per call, y of shape (D,); for gradients a
//    neuralode.Dynamics' vjp(t, y, params, a), also per sample.
//  - BatchedPythonRhs: f(t, y) with t of shape (n,) and y of shape (n, D) for the n samples
//    that are active at that stage: one call per stage for a whole lane group.
#include <pybind11/numpy.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "array_checks.hpp"

namespace neuralode::bindings {

namespace py = pybind11;

// The type of a Python object, for error messages.
inline std::string type_name(const py::handle& object) {
  std::string name = py::str(py::type::of(object).attr("__name__"));
  if (py::isinstance<py::array>(object)) name += " of " + std::string(py::str(object.attr("dtype")));
  return name;
}

inline void check_signals() {
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C
}

inline std::string shape_text(const std::vector<long>& shape) {
  return py::str(py::tuple(py::cast(shape)));
}

// What f returned, as Real of the shape of its input y, or the error naming `name`.
template <class Real>
ArrayOf<Real> checked_f_result(const py::object& result, const std::string& name,
                               const std::vector<long>& shape) {
  ArrayOf<Real> out = real_array<Real>(result);
  if (!out)
    throw py::type_error("`" + name + "` must return an array of real numbers; got " +
                         type_name(result));
  if (!std::equal(shape.begin(), shape.end(), out.shape(), out.shape() + out.ndim())) {
    const std::string given = shape.size() == 2 ? "for a batch of y of shape " : "for y of shape ";
    throw py::value_error("`" + name + "` must return an array of shape " + shape_text(shape) +
                          " " + given + shape_text(shape) + "; got shape " +
                          shape_text(std::vector<long>(out.shape(), out.shape() + out.ndim())));
  }
  return out;
}

// One call of a neuralode.Dynamics' vjp(t, y, params, a), its results checked: a_y (D),
// a_params (P) and a_t. t, y and a are what the dynamics takes (one sample or a batch of one).
template <class Real>
struct PythonVjpCall {
  ArrayOf<Real> a_y, a_params;
  double a_t;
  PythonVjpCall(const py::object& dynamics, const py::object& params, long dim, long num_params,
                const py::object& t, const py::object& y, const py::object& a) {
    const py::object returned = dynamics.attr("vjp")(t, y, params, a);
    if (!py::isinstance<py::sequence>(returned) || py::isinstance<py::str>(returned) ||
        py::len(returned) != 3)
      throw py::type_error("`vjp` must return a tuple (a_y, a_params, a_t); got " +
                           type_name(returned));
    const py::tuple v(returned);
    a_y = real_array<Real>(v[0]);
    a_params = real_array<Real>(v[1]);
    if (!a_y || !a_params)
      throw py::type_error("`vjp` must return a_y and a_params as arrays of real numbers; got " +
                           type_name(v[0]) + " and " + type_name(v[1]));
    if (a_y.size() != dim || a_params.size() != num_params)
      throw py::value_error("`vjp` must return a_y of the shape of a (" +
                            std::string(py::str(a.attr("shape"))) + ") and a_params of shape (" +
                            std::to_string(num_params) + ",)");
    a_t = PyFloat_AsDouble(v[2].ptr());  // a float or an int
    if (a_t == -1.0 && PyErr_Occurred()) {  // or an array of one real number
      PyErr_Clear();
      const Array one = real_array(v[2]);
      if (!one || one.size() != 1)
        throw py::type_error("`vjp` must return a_t as a real number (0 for an autonomous "
                             "system); got " + type_name(v[2]));
      a_t = one.data()[0];
    }
    check_signals();
  }
};

// Python f (and vjp) one sample per call, given and returning arrays of Real.
template <class Scalar>
class PythonRhs {
 public:
  using Real = Scalar;
  using RealArray = ArrayOf<Real>;
  static constexpr bool threads = false, simd = false;
  static constexpr int max_lanes = 1;

  // f(t, y) -> (D,), named `name` in messages; dynamics: the neuralode.Dynamics whose vjp
  // gives the gradients (None for solving only), params its parameters.
  PythonRhs(py::object f, py::object dynamics, py::object params, long dim, long num_params,
            std::string name, bool batched)
      : f_(std::move(f)), dynamics_(std::move(dynamics)), params_(std::move(params)),
        dim_(dim), num_params_(num_params), name_(std::move(name)), batched_(batched) {}
  int dim() const { return static_cast<int>(dim_); }
  long num_params() const { return num_params_; }
  bool batched() const { return batched_; }
  const std::string& name() const { return name_; }
  py::object call(const py::object& t, const py::object& y) const { return f_(t, y); }

  // y (dim) -> f(t, y) (dim). A batched f gets a batch of one.
  void f(double t, const Real* y, Real* dy) const {
    const long dim = dim_;
    RealArray y_arr = batched_ ? RealArray({1L, dim}) : RealArray(dim);
    std::copy(y, y + dim, y_arr.mutable_data());
    const RealArray out = checked_f_result<Real>(
        f_(time_arg(t), y_arr), name_, batched_ ? std::vector<long>{1, dim} : std::vector<long>{dim});
    std::copy(out.data(), out.data() + dim, dy);
    check_signals();
  }

  void vjp(double t, const Real* y, const Real* c, Real* f_out, Real* c_y, Real* c_theta,
           Real* c_t) const {
    if (f_out) f(t, y, f_out);
    RealArray y_arr = batched_ ? RealArray({1L, dim_}) : RealArray(dim_);
    RealArray c_arr = batched_ ? RealArray({1L, dim_}) : RealArray(dim_);
    std::copy(y, y + dim_, y_arr.mutable_data());
    std::copy(c, c + dim_, c_arr.mutable_data());
    const PythonVjpCall<Real> v(dynamics_, params_, dim_, num_params_, time_arg(t), y_arr, c_arr);
    std::copy(v.a_y.data(), v.a_y.data() + dim_, c_y);
    std::copy(v.a_params.data(), v.a_params.data() + num_params_, c_theta);
    *c_t = static_cast<Real>(v.a_t);
  }

  template <int L>
  class Lanes {
    static_assert(L == 1, "a Python right-hand side runs one sample at a time");

   public:
    explicit Lanes(const PythonRhs& rhs) : rhs_(rhs) {}
    void f(const double* t, const Real* y, Real* dy) { rhs_.f(*t, y, dy); }
    void f_one(double t, const Real* y, Real* dy) { rhs_.f(t, y, dy); }
    void vjp(const double* t, const Real* y, const Real* c, Real* f, Real* c_y, Real* c_theta,
             Real* c_t) {
      rhs_.vjp(*t, y, c, f, c_y, c_theta, c_t);
    }
    void vjp_one(double t, const Real* y, const Real* c, Real* f, Real* c_y, Real* c_theta,
                 Real* c_t) {
      rhs_.vjp(t, y, c, f, c_y, c_theta, c_t);
    }

   private:
    const PythonRhs& rhs_;
  };

  template <int L>
  Lanes<L> lanes() const {
    return Lanes<L>(*this);
  }

 private:
  py::object time_arg(double t) const {
    if (!batched_) return py::float_(t);
    Array ts(1);
    ts.mutable_data()[0] = t;
    return std::move(ts);
  }

  py::object f_, dynamics_, params_;
  long dim_, num_params_;
  std::string name_;
  bool batched_;
};

// A batched Python f(t (n,), y (n, D)) -> (n, D), given the samples active in a lane group
// all at once. Lanes learn which lanes hold a sample from the integrator's started and
// finished hooks (set_active).
template <class Scalar>
class BatchedPythonRhs {
 public:
  using Real = Scalar;
  static constexpr bool threads = false, simd = false;
  static constexpr int max_lanes = 1024;

  explicit BatchedPythonRhs(const PythonRhs<Real>& one) : one_(one) {}
  int dim() const { return one_.dim(); }
  long num_params() const { return one_.num_params(); }

  template <int L>
  class Lanes {
   public:
    explicit Lanes(const BatchedPythonRhs& rhs) : one_(rhs.one_), dim_(rhs.dim()) {
      active_.fill(false);
    }
    void set_active(int l, bool active) { active_[l] = active; }

    // dy = f(t, y) for the active lanes, in one call; idle lanes get 0.
    void f(const double* t, const Real* y, Real* dy) {
      std::fill(dy, dy + static_cast<long>(dim_) * L, Real(0));
      evaluate(active_.data(), t, y, dy);
    }
    // The same for the active lanes in `mask` (the integrator's masked evaluations: lanes
    // that start, and ends of steps), other lanes' dy untouched.
    void masked(const std::uint64_t* mask, const double* t, const Real* y, Real* dy) {
      for (int l = 0; l < L; ++l) chosen_[l] = active_[l] && mask[l] != 0;
      evaluate(chosen_.data(), t, y, dy);
    }
    void f_one(double t, const Real* y, Real* dy) { one_.f(t, y, dy); }

   private:
    void evaluate(const bool* lanes, const double* t, const Real* y, Real* dy) {
      long n = 0;
      for (int l = 0; l < L; ++l) n += lanes[l];
      if (n == 0) return;
      Array ts(n);
      ArrayOf<Real> ys({n, static_cast<long>(dim_)});
      double* tp = ts.mutable_data();
      Real* yp = ys.mutable_data();
      for (int l = 0, i = 0; l < L; ++l) {
        if (!lanes[l]) continue;
        tp[i] = t[l];
        for (int d = 0; d < dim_; ++d) yp[i * dim_ + d] = y[d * L + l];
        ++i;
      }
      const ArrayOf<Real> out = checked_f_result<Real>(one_.call(ts, ys), one_.name(), {n, dim_});
      const Real* op = out.data();
      for (int l = 0, i = 0; l < L; ++l) {
        if (!lanes[l]) continue;
        for (int d = 0; d < dim_; ++d) dy[d * L + l] = op[i * dim_ + d];
        ++i;
      }
      check_signals();
    }

    const PythonRhs<Real>& one_;
    int dim_;
    std::array<bool, L> active_, chosen_;
  };

  template <int L>
  Lanes<L> lanes() const {
    return Lanes<L>(*this);
  }

 private:
  const PythonRhs<Real>& one_;
};

// forward(r) with the right-hand side a forward solve of `rhs` runs on: a batched Python f as
// a BatchedPythonRhs (one call per stage for a lane group), anything else as it is.
template <class R, class Forward>
decltype(auto) with_forward_rhs(const R& rhs, Forward&& forward) {
  using Real = typename R::Real;
  if constexpr (std::is_same_v<R, PythonRhs<Real>>)
    if (rhs.batched()) return forward(BatchedPythonRhs<Real>(rhs));
  return forward(rhs);
}

}  // namespace neuralode::bindings
