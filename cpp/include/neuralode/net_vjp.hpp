#pragma once
// Hand-written vector-Jacobian products of a Network: a forward pass that records what
// every layer received, then the chain rule layer by layer in reverse (backpropagation).
// Per lane throughout: a lane's a_θ is its own, so sums over samples can be taken later in
// a fixed order.
#include <cmath>
#include <vector>

#include "nets.hpp"

namespace neuralode {

// The input of every layer and the network's output, for L lanes, component-major.
struct NetTape {
  aligned_vector<double> values;
  std::vector<size_t> offset;  // offset[i]: input of layer i; offset.back(): the output
  const double* slot(size_t i) const { return values.data() + offset[i]; }
  double* slot(size_t i) { return values.data() + offset[i]; }
};

template <int L>
void prepare_tape(const Network& net, NetTape& tape) {
  tape.offset.assign(1, 0);
  size_t size = static_cast<size_t>(net.dim()) * L;
  for (const Layer& layer : net.layers()) {
    tape.offset.push_back(size);
    size += static_cast<size_t>(layer.out_features) * L;
  }
  tape.values.resize(size);
}

// out = f(t, y; θ) exactly as Network::forward computes it, keeping every layer's input.
template <int L>
void forward_recorded(const Network& net, const double* t, const double* theta, const double* y,
                      double* out, NetTape& tape, NetWorkspace& ws) {
  const auto& layers = net.layers();
  std::copy(y, y + net.dim() * L, tape.slot(0));
  for (size_t i = 0; i < layers.size(); ++i)
    net.apply_layer<L>(layers[i], t, theta, tape.slot(i), tape.slot(i + 1), ws.scratch.data());
  std::copy(tape.slot(layers.size()), tape.slot(layers.size()) + net.dim() * L, out);
}

namespace detail {

// g_in = Wᵀ g for L lanes: for each input, the sum over outputs runs in Chains interleaved
// chains (output o feeds chain o mod Chains; a product, then fused multiply-adds) combined as
// ((c0 + c1) + (c2 + c3)), the order depending only on n_out. `omp simd`: see linear_lanes.
template <int L, int Chains>
void linear_vjp_inputs(const double* params, int n_in, int n_out, const double* g,
                       double* g_in) {
  const int n_blocked = n_out - n_out % Chains;
  for (int i = 0; i < n_in; ++i) {
    double acc[Chains][L];
    for (int c = 0; c < Chains; ++c) {
      const double w = params[static_cast<long>(c) * n_in + i];
#pragma omp simd
      for (int l = 0; l < L; ++l) acc[c][l] = w * g[c * L + l];
    }
    for (int o = Chains; o < n_blocked; o += Chains)
      for (int c = 0; c < Chains; ++c) {
        const double w = params[static_cast<long>(o + c) * n_in + i];
#pragma omp simd
        for (int l = 0; l < L; ++l) acc[c][l] = std::fma(w, g[(o + c) * L + l], acc[c][l]);
      }
    for (int o = n_blocked; o < n_out; ++o) {
      const double w = params[static_cast<long>(o) * n_in + i];
#pragma omp simd
      for (int l = 0; l < L; ++l)
        acc[o - n_blocked][l] = std::fma(w, g[o * L + l], acc[o - n_blocked][l]);
    }
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      if constexpr (Chains == 1)
        g_in[i * L + l] = acc[0][l];
      else
        g_in[i * L + l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    }
  }
}

// The VJP of a Linear layer for L lanes: g_in = Wᵀ g, and every lane's dL/dW = g xᵀ and
// dL/db = g written to grad.
template <int L>
void linear_vjp(const double* params, int n_in, int n_out, const double* x, const double* g,
                double* g_in, double* grad) {
  if (linear_chains(n_out) == 4)
    linear_vjp_inputs<L, 4>(params, n_in, n_out, g, g_in);
  else
    linear_vjp_inputs<L, 1>(params, n_in, n_out, g, g_in);
  for (int o = 0; o < n_out; ++o) {
    double* grad_w = grad + static_cast<long>(o) * n_in * L;
    for (int i = 0; i < n_in; ++i)
#pragma omp simd
      for (int l = 0; l < L; ++l) grad_w[i * L + l] = g[o * L + l] * x[i * L + l];
  }
  double* grad_b = grad + static_cast<long>(n_out) * n_in * L;
  std::copy(g, g + n_out * L, grad_b);
}

// g *= f'(x) for an elementwise layer, from its input x and output y.
template <class Derivative>
void scale_by_derivative(const double* x, const double* y, double* g, int n, Derivative df) {
  for (int i = 0; i < n; ++i) g[i] *= df(x[i], y[i]);
}

}  // namespace detail

// For cotangents a ([dim][L]) of f(t, y; θ) recorded in `tape`: a_y = aᵀ∂f/∂y ([dim][L]),
// a_theta = aᵀ∂f/∂θ ([P][L], every entry written) and a_t = aᵀ∂f/∂t ([L]).
template <int L>
void network_vjp(const Network& net, const double* theta, const NetTape& tape, const double* a,
                 double* a_y, double* a_theta, double* a_t, NetWorkspace& ws) {
  const auto& layers = net.layers();
  double* g = ws.a.data();
  double* other = ws.b.data();
  std::copy(a, a + net.dim() * L, g);
  std::fill(a_t, a_t + L, 0.0);
  for (size_t k = layers.size(); k-- > 0;) {
    const Layer& layer = layers[k];
    const double* x = tape.slot(k);
    const double* y = tape.slot(k + 1);
    const int n = layer.in_features * L;
    switch (layer.kind) {
      case LayerKind::linear:
        detail::linear_vjp<L>(theta + layer.param_offset, layer.in_features, layer.out_features,
                              x, g, other, a_theta + layer.param_offset * L);
        std::swap(g, other);
        break;
      case LayerKind::tanh:
        detail::scale_by_derivative(x, y, g, n, [](double, double v) { return 1 - v * v; });
        break;
      case LayerKind::sigmoid:
        detail::scale_by_derivative(x, y, g, n, [](double, double v) { return v * (1 - v); });
        break;
      case LayerKind::softplus:
        detail::scale_by_derivative(x, y, g, n, [](double u, double) { return detail::sigmoid(u); });
        break;
      case LayerKind::elu:
        detail::scale_by_derivative(x, y, g, n,
                                    [](double u, double v) { return u > 0 ? 1.0 : v + 1; });
        break;
      case LayerKind::sin:
        detail::scale_by_derivative(x, y, g, n, [](double u, double) { return std::cos(u); });
        break;
      case LayerKind::identity:
        break;
      case LayerKind::relu:
        detail::scale_by_derivative(x, y, g, n, [](double u, double) { return u > 0 ? 1.0 : 0.0; });
        break;
      case LayerKind::power: {
        const double p = layer.exponent;
        detail::scale_by_derivative(x, y, g, n, [p](double u, double) {
          if (p == 0) return 0.0;  // u^0 = 1 everywhere, 0^0 included: pow(0, -1) would give 0·inf
          if (p == 2) return 2 * u;
          if (p == 3) return 3 * (u * u);
          return p * std::pow(u, p - 1);
        });
        break;
      }
      case LayerKind::concat_time:
        for (int l = 0; l < L; ++l) a_t[l] += g[n + l];
        break;
    }
  }
  std::copy(g, g + net.dim() * L, a_y);
}

// f = f(t, y) and the VJPs of cotangents a there (see network_vjp) for M lanes, compiled
// per instruction set (simd.hpp); the solvers reach the VJP only through it.
template <int M>
NEURALODE_SIMD_CLONES void evaluate_vjp(const Network& net, const double* t, const double* theta,
                                        const double* y, const double* a, double* f, double* a_y,
                                        double* a_theta, double* a_t, NetTape& tape,
                                        NetWorkspace& ws) {
  forward_recorded<M>(net, t, theta, y, f, tape, ws);
  network_vjp<M>(net, theta, tape, a, a_y, a_theta, a_t, ws);
}

}  // namespace neuralode
