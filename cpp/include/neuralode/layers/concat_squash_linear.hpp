#pragma once
// ConcatSquashLinear(in, out) of FFJORD (Grathwohl et al. 2019):
//   y = (W x + b) ⊙ σ(a t + c) + d t,
// in torch `_layer(x) * sigmoid(_hyper_gate(t)) + _hyper_bias(t)`. θ holds, in the order of
// FFJORD's state dict: W (out x in, row-major) and b (`_layer`), d (`_hyper_bias.weight`),
// a (`_hyper_gate.weight`) and c (`_hyper_gate.bias`), each of the last three one per output.
#include <algorithm>

#include "../activations.hpp"
#include "layer.hpp"
#include "linear.hpp"

namespace neuralode::layers {

struct ConcatSquashLinear {
  static constexpr const char* name = "concat_squash_linear";
  static constexpr bool in_place = false, packs = true;
  static bool fits(const Layer&) { return true; }
  static long num_params(const Layer& layer) {
    return static_cast<long>(layer.out_features) * (static_cast<long>(layer.in_features) + 4);
  }

  // The parameters after W and b: d, a, c.
  template <class Real>
  struct Hyper {
    const Real *d, *a, *c;
    Hyper(const Layer& layer, const Real* theta) {
      d = theta + static_cast<long>(layer.out_features) * (layer.in_features + 1);
      a = d + layer.out_features;
      c = a + layer.out_features;
    }
  };

  template <int L, class Real>
  static void forward(const Layer& layer, const double* t, const Real* theta, const Real* x,
                      Real* y, Real* scratch, const Real* packed) {
    const int n_out = layer.out_features;
    detail::linear<L>(theta, layer.in_features, n_out, x, y, scratch, packed);
    const Hyper<Real> h(layer, theta);
    for (int o = 0; o < n_out; ++o)
      for (int l = 0; l < L; ++l) {
        const Real gate = detail::sigmoid(h.a[o] * Real(t[l]) + h.c[o]);
        y[o * L + l] = y[o * L + l] * gate + h.d[o] * Real(t[l]);
      }
  }

  // With s = σ(a t + c) and u = W x + b: g_in = Wᵀ(g s), dL/db = g s, dL/dd = g t,
  // dL/dc = g u s (1 - s), dL/da = dL/dc t, and a_t += Σ_o g (d + a u s (1 - s)); dL/dW is
  // (g s) xᵀ (see layer.hpp).
  // u s is taken as y - d t, the forward's output less the hyper bias: no second W x.
  template <int L, class Real>
  static void vjp(const Layer& layer, const double* t, const Real* theta, const Real*,
                  const Real* y, const Real* g, Real* g_in, Real* a_rest, Real* a_t,
                  Real* scratch, const Real* packed) {
    const int n_in = layer.in_features, n_out = layer.out_features;
    const Hyper<Real> h(layer, theta);
    Real* grad_b = a_rest;
    Real* grad_d = grad_b + static_cast<long>(n_out) * L;
    Real* grad_a = grad_d + static_cast<long>(n_out) * L;
    Real* grad_c = grad_a + static_cast<long>(n_out) * L;
    for (int o = 0; o < n_out; ++o)
      for (int l = 0; l < L; ++l) {
        const int k = o * L + l;
        const Real gate = detail::sigmoid(h.a[o] * Real(t[l]) + h.c[o]);
        const Real u_gate = y[k] - h.d[o] * Real(t[l]);
        grad_b[k] = g[k] * gate;
        grad_d[k] = g[k] * Real(t[l]);
        grad_c[k] = g[k] * u_gate * (1 - gate);
        grad_a[k] = grad_c[k] * Real(t[l]);
      }
    for (int o = 0; o < n_out; ++o)
      for (int l = 0; l < L; ++l) {
        const int k = o * L + l;
        a_t[l] += g[k] * h.d[o] + grad_c[k] * h.a[o];
      }
    detail::linear_transpose<L>(theta, n_in, n_out, grad_b, g_in, scratch, packed);
  }

  // v_out = s ⊙ (W v).
  template <int L, class Real>
  static void jvp(const Layer& layer, const double* t, const Real* theta, const Real*,
                  const Real*, const Real* v, Real* v_out, Real* scratch) {
    const int n_out = layer.out_features;
    detail::linear<L, false>(theta, layer.in_features, n_out, v, v_out, scratch);
    const Hyper<Real> h(layer, theta);
    for (int o = 0; o < n_out; ++o)
      for (int l = 0; l < L; ++l) v_out[o * L + l] *= detail::sigmoid(h.a[o] * Real(t[l]) + h.c[o]);
  }
};

}  // namespace neuralode::layers
