#pragma once
// Elementwise layers y_i = f(x_i): a kind gives f (`value`, or `values` for a whole array)
// and f' (`derivative`, from x_i and y_i); Elementwise<Kind> derives the forward pass, the
// VJP (g_in = g f') and the JVP (v_out = v f') from them. All work in place.
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
  static void values(const Layer& layer, const double* x, double* y, int n) {
    const Layer own = layer;
    for (int i = 0; i < n; ++i) y[i] = Kind::value(own, x[i]);
  }

  template <int L>
  static void forward(const Layer& layer, const double*, const double*, const double* x,
                      double* y, double*) {
    Kind::values(layer, x, y, layer.in_features * L);
  }

  template <int L>
  static void vjp(const Layer& layer, const double*, const double*, const double* x,
                  const double* y, const double* g, double* g_in, double*, double*) {
    const Layer own = layer;
    const int n = own.in_features * L;
    for (int i = 0; i < n; ++i) g_in[i] = g[i] * Kind::derivative(own, x[i], y[i]);
  }

  template <int L>
  static void jvp(const Layer& layer, const double*, const double*, const double* x,
                  const double* y, const double* v, double* v_out, double*) {
    const Layer own = layer;
    const int n = own.in_features * L;
    for (int i = 0; i < n; ++i) v_out[i] = v[i] * Kind::derivative(own, x[i], y[i]);
  }
};

struct Tanh : Elementwise<Tanh> {
  static constexpr const char* name = "tanh";
  static void values(const Layer&, const double* x, double* y, int n) {
    detail::tanh_array(x, y, n);
  }
  static double derivative(const Layer&, double, double y) { return 1 - y * y; }
};

struct Sigmoid : Elementwise<Sigmoid> {
  static constexpr const char* name = "sigmoid";
  static double value(const Layer&, double x) { return detail::sigmoid(x); }
  static double derivative(const Layer&, double, double y) { return y * (1 - y); }
};

// log(1 + eˣ).
struct Softplus : Elementwise<Softplus> {
  static constexpr const char* name = "softplus";
  static double value(const Layer&, double x) { return detail::softplus(x); }
  static double derivative(const Layer&, double x, double) { return detail::sigmoid(x); }
};

// x for x > 0, eˣ - 1 otherwise (α = 1).
struct ELU : Elementwise<ELU> {
  static constexpr const char* name = "elu";
  static double value(const Layer&, double x) { return x > 0 ? x : std::expm1(x); }
  static double derivative(const Layer&, double x, double y) { return x > 0 ? 1.0 : y + 1; }
};

struct Sin : Elementwise<Sin> {
  static constexpr const char* name = "sin";
  static double value(const Layer&, double x) { return std::sin(x); }
  static double derivative(const Layer&, double x, double) { return std::cos(x); }
};

struct ReLU : Elementwise<ReLU> {
  static constexpr const char* name = "relu";
  static double value(const Layer&, double x) { return x > 0 ? x : 0.0; }
  static double derivative(const Layer&, double x, double) { return x > 0 ? 1.0 : 0.0; }
};

// x σ(x), with derivative σ(x) (1 + x (1 - σ(x))).
struct SiLU : Elementwise<SiLU> {
  static constexpr const char* name = "silu";
  static double value(const Layer&, double x) { return detail::silu(x); }
  static double derivative(const Layer&, double x, double) {
    const double s = detail::sigmoid(x);
    return s * (1 + x * (1 - s));
  }
};

// Copies only where it is not in place; its derivative is 1, so nothing to multiply.
struct Identity : Elementwise<Identity> {
  static constexpr const char* name = "identity";
  template <int L>
  static void forward(const Layer& layer, const double*, const double*, const double* x,
                      double* y, double*) {
    if (y != x) std::copy(x, x + layer.in_features * L, y);
  }
  template <int L>
  static void vjp(const Layer& layer, const double*, const double*, const double*, const double*,
                  const double* g, double* g_in, double*, double*) {
    if (g_in != g) std::copy(g, g + layer.in_features * L, g_in);
  }
  template <int L>
  static void jvp(const Layer& layer, const double*, const double*, const double*, const double*,
                  const double* v, double* v_out, double*) {
    if (v_out != v) std::copy(v, v + layer.in_features * L, v_out);
  }
};

}  // namespace neuralode::layers
