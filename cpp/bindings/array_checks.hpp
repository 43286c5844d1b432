#pragma once
// Value checks on arrays that are too slow to do element by element in Python: NaN/inf and
// monotone time grids. Shapes are checked in python/neuralode/solve.py before this.
#include <pybind11/numpy.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace neuralode::bindings {

// Arrays of the states' scalar type (double or float; times are always double).
template <class Real>
using ArrayOf = pybind11::array_t<Real, pybind11::array::c_style | pybind11::array::forcecast>;
using Array = ArrayOf<double>;

inline std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// What a Python function returned, as Real, if it holds real numbers (integers or floats);
// an empty handle otherwise. A forced cast alone would drop imaginary parts, turn booleans
// into 0 and 1 and parse strings of digits.
template <class Real = double>
ArrayOf<Real> real_array(const pybind11::handle& returned) {
  using A = ArrayOf<Real>;
  if (pybind11::isinstance<A>(returned))  // the right dtype, C-contiguous: the common case
    return pybind11::reinterpret_borrow<A>(returned);
  const pybind11::array any = pybind11::array::ensure(returned);
  const char kind = any ? any.dtype().kind() : 'O';
  if (kind != 'f' && kind != 'i' && kind != 'u')
    return pybind11::reinterpret_steal<A>(pybind11::handle());  // empty: not an A()
  return A::ensure(any);
}

// "name[i]" for a one-dimensional argument, "name[row, i]" for a two-dimensional one.
inline std::string element_name(const char* name, bool two_dimensional, long row, long i) {
  return std::string(name) + "[" + (two_dimensional ? std::to_string(row) + ", " : "") +
         std::to_string(i) + "]";
}

// values is (rows, n); raises ValueError naming the first NaN or inf.
template <class Real>
void check_finite(const ArrayOf<Real>& values, const char* name, bool two_dimensional) {
  const long rows = values.ndim() == 2 ? values.shape(0) : 1;
  const long n = values.ndim() == 2 ? values.shape(1) : values.size();
  const Real* v = values.data();
  // x - x is 0 for finite x and NaN otherwise, and a sum of zeros stays 0: one pass that
  // vectorizes (params can be long), then the slow search only when something is wrong.
  Real sum = 0;
#pragma omp simd reduction(+ : sum)
  for (long i = 0; i < rows * n; ++i) sum += v[i] - v[i];
  if (sum == 0) return;
  for (long r = 0; r < rows; ++r)
    for (long i = 0; i < n; ++i)
      if (!std::isfinite(v[r * n + i]))
        throw pybind11::value_error(std::string("`") + name + "` must be finite; " +
                                    element_name(name, two_dimensional, r, i) + " = " +
                                    format_number(v[r * n + i]));
}

// t is (rows, T); each row strictly increasing or strictly decreasing.
inline void check_time_grid(const Array& t, bool per_sample) {
  check_finite(t, "t", per_sample);
  const long rows = t.shape(0), times = t.shape(1);
  const double* v = t.data();
  for (long r = 0; r < rows; ++r) {
    const double* row = v + r * times;
    if (times < 2) continue;
    const double direction = row[1] > row[0] ? 1.0 : -1.0;
    for (long i = 1; i < times; ++i)
      if (!(direction * (row[i] - row[i - 1]) > 0))
        throw pybind11::value_error(
            "`t` must be strictly monotone (all increasing or all decreasing); " +
            element_name("t", per_sample, r, i) + " = " + format_number(row[i]) + " follows " +
            element_name("t", per_sample, r, i - 1) + " = " + format_number(row[i - 1]));
  }
}

}  // namespace neuralode::bindings
