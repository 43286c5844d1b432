#pragma once
// Vector-Jacobian products of a Network: a forward pass that records what every layer
// received, then the chain rule layer by layer in reverse (backpropagation), each kind's
// hand-written VJP (layers/). Per lane throughout: a lane's a_θ is its own, so sums over
// samples can be taken later in a fixed order.
#include <algorithm>
#include <vector>

#include "nets.hpp"

namespace neuralode {

// The input of every layer and the network's output, for L lanes, component-major, and the
// lanes' times.
template <class Real>
struct NetTape {
  aligned_vector<Real> values;
  std::vector<size_t> offset;  // offset[i]: input of layer i; offset.back(): the output
  aligned_vector<double> t;
  const Real* slot(size_t i) const { return values.data() + offset[i]; }
  Real* slot(size_t i) { return values.data() + offset[i]; }
};

template <int L, class Real>
void prepare_tape(const Network& net, NetTape<Real>& tape) {
  tape.offset.assign(1, 0);
  size_t size = static_cast<size_t>(net.dim()) * L;
  for (const Layer& layer : net.layers()) {
    tape.offset.push_back(size);
    size += static_cast<size_t>(layer.out_features) * L;
  }
  tape.values.resize(size);
  tape.t.resize(L);
}

// out = f(t, y; θ) exactly as Network::forward computes it, keeping every layer's input.
template <int L, class Real>
void forward_recorded(const Network& net, const double* t, const Real* theta, const Real* y,
                      Real* out, NetTape<Real>& tape, NetWorkspace<Real>& ws) {
  const auto& layers = net.layers();
  std::copy(y, y + net.dim() * L, tape.slot(0));
  std::copy(t, t + L, tape.t.data());
  for (size_t i = 0; i < layers.size(); ++i)
    net.apply_layer<L>(layers[i], t, theta, tape.slot(i), tape.slot(i + 1), ws.scratch.data());
  std::copy(tape.slot(layers.size()), tape.slot(layers.size()) + net.dim() * L, out);
}

// For cotangents a ([dim][L]) of f(t, y; θ) recorded in `tape`: a_y = aᵀ∂f/∂y ([dim][L]),
// a_theta = aᵀ∂f/∂θ ([P][L], every entry written) and a_t = aᵀ∂f/∂t ([L]).
template <int L, class Real>
void network_vjp(const Network& net, const Real* theta, const NetTape<Real>& tape, const Real* a,
                 Real* a_y, Real* a_theta, Real* a_t, NetWorkspace<Real>& ws) {
  const auto& layers = net.layers();
  Real* g = ws.a.data();
  Real* other = ws.b.data();
  std::copy(a, a + net.dim() * L, g);
  std::fill(a_t, a_t + L, Real(0));
  for (size_t k = layers.size(); k-- > 0;) {
    const Layer& layer = layers[k];
    visit_kind(layer.kind, [&](auto kind) {
      using Kind = decltype(kind);
      Real* g_in = Kind::in_place ? g : other;
      Kind::template vjp<L>(layer, tape.t.data(), theta + layer.param_offset, tape.slot(k),
                            tape.slot(k + 1), g, g_in, a_theta + layer.param_offset * L, a_t);
      if (!Kind::in_place) std::swap(g, other);
    });
  }
  std::copy(g, g + net.dim() * L, a_y);
}

// f = f(t, y) and the VJPs of cotangents a there (see network_vjp) for M lanes, compiled
// per instruction set (simd.hpp); the solvers reach the VJP only through it.
template <int M, class Real>
NEURALODE_SIMD_CLONES void evaluate_vjp(const Network& net, const double* t, const Real* theta,
                                        const Real* y, const Real* a, Real* f, Real* a_y,
                                        Real* a_theta, Real* a_t, NetTape<Real>& tape,
                                        NetWorkspace<Real>& ws) {
  forward_recorded<M>(net, t, theta, y, f, tape, ws);
  network_vjp<M>(net, theta, tape, a, a_y, a_theta, a_t, ws);
}

}  // namespace neuralode
