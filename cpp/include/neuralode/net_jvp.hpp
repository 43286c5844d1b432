#pragma once
// Jacobian-vector products of a Network in forward mode: each layer's output and, beside
// it, the tangent of its output, by each kind's hand-written JVP (layers/). t and θ are held
// fixed, so f and v ↦ (∂f/∂y) v at (t, y); D of them give the Jacobian that implicit
// solvers' Newton iterations need.
#include "nets.hpp"

namespace neuralode {

// f = f(t, y; θ) and jv = (∂f/∂y) v for L lanes ([dim][L] each; t one per lane); `ws` must
// have been prepared for L, and f and jv must not overlap y or v. f has the bits of
// Network::forward.
template <int L, class Real>
void network_jvp(const Network& net, const double* t, const Real* theta, const Real* y,
                 const Real* v, Real* f, Real* jv, NetWorkspace<Real>& ws) {
  const auto& layers = net.layers();
  const Real* x = y;    // the layer's input
  const Real* dx = v;   // and its tangent
  for (size_t k = 0; k < layers.size(); ++k) {
    const Layer& layer = layers[k];
    const bool last = k + 1 == layers.size();
    visit_kind(layer.kind, [&](auto kind) {
      using Kind = decltype(kind);
      // The JVP reads the layer's input and output, so values never work in place here.
      Real* out = last ? f : x == ws.a.data() ? ws.b.data() : ws.a.data();
      Real* d_out = last                               ? jv
                      : Kind::in_place && dx != v        ? const_cast<Real*>(dx)
                      : dx == ws.tangent_a.data()        ? ws.tangent_b.data()
                                                         : ws.tangent_a.data();
      const Real* own = theta + layer.param_offset;
      net.apply_layer<L>(k, t, theta, x, out, ws);
      Kind::template jvp<L>(layer, t, own, x, out, dx, d_out, ws.scratch.data());
      x = out;
      dx = d_out;
    });
  }
}

// network_jvp for M lanes, compiled per instruction set (simd.hpp).
template <int M, class Real>
NEURALODE_SIMD_CLONES void evaluate_jvp(const Network& net, const double* t, const Real* theta,
                                        const Real* y, const Real* v, Real* f, Real* jv,
                                        NetWorkspace<Real>& ws) {
  network_jvp<M>(net, t, theta, y, v, f, jv, ws);
}

}  // namespace neuralode
