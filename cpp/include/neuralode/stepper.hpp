#pragma once
// One explicit Runge-Kutta step for L lanes at once, generic over the tableau.
#include <array>
#include <type_traits>
#include <vector>

#include "lanes.hpp"
#include "simd.hpp"
#include "tableau.hpp"

namespace neuralode {

// Buffers of one thread's lanes, sized once so the step loop never allocates.
template <int L, class Real>
struct StepWorkspace {
  int dim = 0;
  LaneBlocks<L, Real> k;  // stage derivatives, block i = stage i
  LaneBlocks<L, Real> vectors;
  Real *y, *y_new, *stage, *error, *scratch_y, *scratch_f;
  std::vector<Real> one_y, one_f;  // one sample, contiguous
  std::vector<Real> dense;  // one lane's dense output coefficients (DenseOutput::polynomial)

  void resize(int d, int stages) {
    dim = d;
    k.resize(d, stages);
    vectors.resize(d, 6);
    y = vectors.block(0);
    y_new = vectors.block(1);
    stage = vectors.block(2);
    error = vectors.block(3);
    scratch_y = vectors.block(4);
    scratch_f = vectors.block(5);
    one_y.resize(d);
    one_f.resize(d);
    dense.resize(static_cast<size_t>(d) * max_dense_degree);
  }
};

// Advances every lane's y from t by its signed step h into y_new, given k block 0 = f(t, y).
// Fills the remaining stages and, for adaptive methods, `error` with the embedded estimate.
// For FSAL methods the last stage is f(t + h, y_new). Lanes with h = 0 just idle.
// Only the first `inputs` components are read by f (the rest, like the adjoint's a_θ and
// a_t, are quadratures), so stage values are formed for those alone; the error estimate is
// formed for the first `errors` components, the ones the error norm reads; y_new for the
// first `integrated` (f's later rows are records of the evaluation, not derivatives). Times
// and step sizes are double; each stage coefficient h a_ij is rounded to Real once.
template <int L, class Rhs, class Real>
void runge_kutta_step(Rhs& rhs, const ButcherTableau& tableau, const std::array<double, L>& t,
                      const std::array<double, L>& h, StepWorkspace<L, Real>& ws, int inputs,
                      int errors, int integrated) {
  const int stages = tableau.stages;
  std::array<Real, L> coef;
  std::array<double, L> t_stage;
  // dst = y + h Σ_j coefs[j] k_j over `count` rows from row `first`: the first term added to
  // y straight into dst (small copies cost a call each), the others added in place.
  auto combine = [&](const std::array<double, max_stages>& coefs, int terms, Real* dst,
                     int first, int count) {
    const Real* base = ws.y + first * L;
    Real* out = dst + first * L;
    for (int j = 0; j < terms; ++j) {
      if (coefs[j] == 0) continue;
      for (int l = 0; l < L; ++l) coef[l] = static_cast<Real>(h[l] * coefs[j]);
      if (base == out)
        lane::axpy<L>(coef, ws.k.block(j) + first * L, out, count);
      else
        lane::axpy_into<L>(coef, ws.k.block(j) + first * L, base, out, count);
      base = out;
    }
    if (base != out) std::copy(base, base + count * L, out);
  };
  for (int i = 1; i < stages; ++i) {
    combine(tableau.a[i], i, ws.stage, 0, inputs);
    for (int l = 0; l < L; ++l) t_stage[l] = t[l] + tableau.c[i] * h[l];
    rhs(t_stage.data(), ws.stage, ws.k.block(i));
  }
  // y_new = y + h Σ_j b_j k_j. With FSAL the last stage was formed on y_new (a_s = b): its
  // buffer becomes y_new, and only the rows f does not read are left to form.
  if (tableau.fsal()) {
    std::swap(ws.stage, ws.y_new);
    if (inputs < integrated) combine(tableau.b, stages, ws.y_new, inputs, integrated - inputs);
  } else {
    combine(tableau.b, stages, ws.y_new, 0, integrated);
  }
  if (tableau.adaptive()) {
    std::fill(ws.error, ws.error + errors * L, Real(0));
    for (int j = 0; j < stages; ++j) {
      if (tableau.error[j] == 0) continue;
      for (int l = 0; l < L; ++l) coef[l] = static_cast<Real>(h[l] * tableau.error[j]);
      lane::axpy<L>(coef, ws.k.block(j), ws.error, errors);
    }
  }
}

// Right-hand sides evaluated in C++ (the networks) declare `static constexpr bool simd =
// true`: their steps are compiled per instruction set, so that the stage sums over long
// states (the adjoint's a_θ) run at the machine's vector width. The solver loops that call
// this are per-instruction-set clones too, but as a kernel of its own (one call per step) the
// step is compiled once per clone target rather than inlined into every loop: the build's
// compile time was 74 s with it and 110 s without (2 cores). The network itself is its own
// kernel (evaluate_network, evaluate_vjp); a step holds calls to it.
template <class Rhs, class = void>
struct is_simd_rhs : std::false_type {};
template <class Rhs>
struct is_simd_rhs<Rhs, std::void_t<decltype(Rhs::simd)>> : std::bool_constant<Rhs::simd> {};

template <int L, class Rhs, class Real>
NEURALODE_SIMD_CLONES void runge_kutta_step_simd(Rhs& rhs, const ButcherTableau& tableau,
                                                 const std::array<double, L>& t,
                                                 const std::array<double, L>& h,
                                                 StepWorkspace<L, Real>& ws, int inputs,
                                                 int errors, int integrated) {
  runge_kutta_step<L>(rhs, tableau, t, h, ws, inputs, errors, integrated);
}

// One step (see runge_kutta_step), per instruction set where the right-hand side allows.
template <int L, class Rhs, class Real>
void take_step(Rhs& rhs, const ButcherTableau& tableau, const std::array<double, L>& t,
               const std::array<double, L>& h, StepWorkspace<L, Real>& ws, int inputs,
               int errors, int integrated) {
  if constexpr (is_simd_rhs<Rhs>::value)
    runge_kutta_step_simd<L>(rhs, tableau, t, h, ws, inputs, errors, integrated);
  else
    runge_kutta_step<L>(rhs, tableau, t, h, ws, inputs, errors, integrated);
}

}  // namespace neuralode
