#pragma once
// ConcatTime: appends t as one more feature, [x; t] (t rounded to Real) (torchdiffeq's ConcatLinear puts one
// before a Linear).
#include <algorithm>

#include "layer.hpp"

namespace neuralode::layers {

struct ConcatTime {
  static constexpr const char* name = "concat_time";
  static constexpr bool in_place = true;
  static bool fits(const Layer& layer) { return layer.out_features == layer.in_features + 1; }
  static long num_params(const Layer&) { return 0; }

  template <int L, class Real>
  static void forward(const Layer& layer, const double* t, const Real*, const Real* x, Real* y,
                      Real*) {
    const int n = layer.in_features * L;
    if (y != x) std::copy(x, x + n, y);
    for (int l = 0; l < L; ++l) y[n + l] = static_cast<Real>(t[l]);
  }

  // The cotangent of the appended t goes to a_t; the rest passes through.
  template <int L, class Real>
  static void vjp(const Layer& layer, const double*, const Real*, const Real*, const Real*,
                  const Real* g, Real* g_in, Real*, Real* a_t, Real*) {
    const int n = layer.in_features * L;
    for (int l = 0; l < L; ++l) a_t[l] += g[n + l];
    if (g_in != g) std::copy(g, g + n, g_in);
  }

  // t is held fixed: its component of the tangent is 0.
  template <int L, class Real>
  static void jvp(const Layer& layer, const double*, const Real*, const Real*, const Real*,
                  const Real* v, Real* v_out, Real*) {
    const int n = layer.in_features * L;
    if (v_out != v) std::copy(v, v + n, v_out);
    std::fill(v_out + n, v_out + n + L, Real(0));
  }
};

}  // namespace neuralode::layers
