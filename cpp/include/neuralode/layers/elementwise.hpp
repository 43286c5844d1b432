#pragma once
// Elementwise layers y_i = f(x_i): a kind gives f (`value`, or `values` for a whole array)
// and f' (`derivative`, from x_i and y_i); Elementwise<Kind> derives the forward pass, the
// VJP (g_in = g f') and the JVP (v_out = v f') from them. All work in place. Real is double
// or float; the kernels for each are in activations.hpp.
#include <algorithm>
#include <cmath>

#include "../activations.hpp"
#include "layer.hpp"

namespace neuralode::layers {

template <class Kind>
struct Elementwise {
  static constexpr bool in_place = true;
  static bool fits(const Layer& layer) { return layer.out_features == layer.in_features; }
  static long num_params(const Layer&) { return 0; }

  // The loops read a local copy of the layer: the compiler cannot know that the stores to
  // y leave the caller's Layer (its setting, say) unchanged, and would reload it per element.
  template <class Real>
  static void values(const Layer& layer, const Real* x, Real* y, int n) {
    const Layer own = layer;
    for (int i = 0; i < n; ++i) y[i] = Kind::value(own, x[i]);
  }

  template <int L, class Real>
  static void forward(const Layer& layer, const double*, const Real*, const Real* x, Real* y,
                      Real*) {
    Kind::values(layer, x, y, layer.in_features * L);
  }

  template <int L, class Real>
  static void vjp(const Layer& layer, const double*, const Real*, const Real* x, const Real* y,
                  const Real* g, Real* g_in, Real*, Real*, Real*) {
    const Layer own = layer;
    const int n = own.in_features * L;
    for (int i = 0; i < n; ++i) g_in[i] = g[i] * Kind::derivative(own, x[i], y[i]);
  }

  template <int L, class Real>
  static void jvp(const Layer& layer, const double*, const Real*, const Real* x, const Real* y,
                  const Real* v, Real* v_out, Real*) {
    const Layer own = layer;
    const int n = own.in_features * L;
    for (int i = 0; i < n; ++i) v_out[i] = v[i] * Kind::derivative(own, x[i], y[i]);
  }
};

struct Tanh : Elementwise<Tanh> {
  static constexpr const char* name = "tanh";
  template <class Real>
  static void values(const Layer&, const Real* x, Real* y, int n) {
    detail::tanh_array(x, y, n);
  }
  template <class Real>
  static Real derivative(const Layer&, Real, Real y) { return 1 - y * y; }
};

struct Sigmoid : Elementwise<Sigmoid> {
  static constexpr const char* name = "sigmoid";
  template <class Real>
  static Real value(const Layer&, Real x) { return detail::sigmoid(x); }
  template <class Real>
  static Real derivative(const Layer&, Real, Real y) { return y * (1 - y); }
};

// log(1 + eˣ).
struct Softplus : Elementwise<Softplus> {
  static constexpr const char* name = "softplus";
  template <class Real>
  static Real value(const Layer&, Real x) { return detail::softplus(x); }
  template <class Real>
  static Real derivative(const Layer&, Real x, Real) { return detail::sigmoid(x); }
};

// x for x > 0, eˣ - 1 otherwise (α = 1).
struct ELU : Elementwise<ELU> {
  static constexpr const char* name = "elu";
  template <class Real>
  static Real value(const Layer&, Real x) { return x > 0 ? x : std::expm1(x); }
  template <class Real>
  static Real derivative(const Layer&, Real x, Real y) { return x > 0 ? Real(1) : y + 1; }
};

struct Sin : Elementwise<Sin> {
  static constexpr const char* name = "sin";
  template <class Real>
  static Real value(const Layer&, Real x) { return std::sin(x); }
  template <class Real>
  static Real derivative(const Layer&, Real x, Real) { return std::cos(x); }
};

struct ReLU : Elementwise<ReLU> {
  static constexpr const char* name = "relu";
  template <class Real>
  static Real value(const Layer&, Real x) { return x > 0 ? x : Real(0); }
  template <class Real>
  static Real derivative(const Layer&, Real x, Real) { return x > 0 ? Real(1) : Real(0); }
};

// x σ(x), with derivative σ(x) (1 + x (1 - σ(x))).
struct SiLU : Elementwise<SiLU> {
  static constexpr const char* name = "silu";
  template <class Real>
  static Real value(const Layer&, Real x) { return detail::silu(x); }
  template <class Real>
  static Real derivative(const Layer&, Real x, Real) {
    const Real s = detail::sigmoid(x);
    return s * (1 + x * (1 - s));
  }
};

// Copies only where it is not in place; its derivative is 1, so nothing to multiply.
struct Identity : Elementwise<Identity> {
  static constexpr const char* name = "identity";
  template <int L, class Real>
  static void forward(const Layer& layer, const double*, const Real*, const Real* x, Real* y,
                      Real*) {
    if (y != x) std::copy(x, x + layer.in_features * L, y);
  }
  template <int L, class Real>
  static void vjp(const Layer& layer, const double*, const Real*, const Real*, const Real*,
                  const Real* g, Real* g_in, Real*, Real*, Real*) {
    if (g_in != g) std::copy(g, g + layer.in_features * L, g_in);
  }
  template <int L, class Real>
  static void jvp(const Layer& layer, const double*, const Real*, const Real*, const Real*,
                  const Real* v, Real* v_out, Real*) {
    if (v_out != v) std::copy(v, v + layer.in_features * L, v_out);
  }
};

}  // namespace neuralode::layers
