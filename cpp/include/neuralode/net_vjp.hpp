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
    net.apply_layer<L>(i, t, theta, tape.slot(i), tape.slot(i + 1), ws);
  std::copy(tape.slot(layers.size()), tape.slot(layers.size()) + net.dim() * L, out);
}

// For cotangents a ([dim][L]) of f(t, y; θ) recorded in `tape`: a_y = aᵀ∂f/∂y ([dim][L]),
// a_t = aᵀ∂f/∂t ([L]) and aᵀ∂f/∂θ, into `theta_out`: with Records false as a_θ itself
// ([P][L], every entry written), with Records true as the network's θ record
// ([record_size][L]: each layer with parameters keeps its input x and its rest's gradient,
// whose u gives dL/dW = u xᵀ; see layer.hpp and theta_records.hpp).
template <int L, bool Records = false, class Real>
void network_vjp(const Network& net, const Real* theta, const NetTape<Real>& tape, const Real* a,
                 Real* a_y, Real* theta_out, Real* a_t, NetWorkspace<Real>& ws) {
  const auto& layers = net.layers();
  Real* g = ws.a.data();
  Real* other = ws.b.data();
  std::copy(a, a + net.dim() * L, g);
  std::fill(a_t, a_t + L, Real(0));
  for (size_t k = layers.size(); k-- > 0;) {
    const Layer& layer = layers[k];
    const ParamShape& shape = net.param_shape(k);
    const Real* x = tape.slot(k);
    Real* rest = nullptr;
    if (shape.record_offset >= 0) {
      if constexpr (Records) {
        Real* record = theta_out + shape.record_offset * L;
        std::copy(x, x + layer.in_features * L, record);
        rest = record + layer.in_features * L;
      } else {
        rest = theta_out + (layer.param_offset + shape.matrix) * L;
      }
    }
    visit_kind(layer.kind, [&](auto kind) {
      using Kind = decltype(kind);
      Real* g_in = Kind::in_place ? g : other;
      if constexpr (packs_weights<Kind>::value)
        Kind::template vjp<L>(layer, tape.t.data(), theta + layer.param_offset, x,
                              tape.slot(k + 1), g, g_in, rest, a_t, ws.scratch.data(),
                              ws.columns(k));
      else
        Kind::template vjp<L>(layer, tape.t.data(), theta + layer.param_offset, x,
                              tape.slot(k + 1), g, g_in, rest, a_t, ws.scratch.data());
      if (!Kind::in_place) std::swap(g, other);
    });
    if constexpr (!Records)
      if (shape.record_offset >= 0) {  // dL/dW = u xᵀ, u the first entries of the rest
        Real* grad_w = theta_out + layer.param_offset * L;
        for (int o = 0; o < layer.out_features; ++o) {
          Real* grad_row = grad_w + static_cast<long>(o) * layer.in_features * L;
          const Real* u = rest + o * L;
          for (int i = 0; i < layer.in_features; ++i)
#pragma omp simd
            for (int l = 0; l < L; ++l) grad_row[i * L + l] = u[l] * x[i * L + l];
        }
      }
  }
  std::copy(g, g + net.dim() * L, a_y);
}

// f = f(t, y) and the VJPs of cotangents a there (see network_vjp) for M lanes, compiled
// per instruction set (simd.hpp); the solvers reach the VJP only through it.
template <int M, bool Records = false, class Real>
NEURALODE_SIMD_CLONES void evaluate_vjp(const Network& net, const double* t, const Real* theta,
                                        const Real* y, const Real* a, Real* f, Real* a_y,
                                        Real* theta_out, Real* a_t, NetTape<Real>& tape,
                                        NetWorkspace<Real>& ws) {
  forward_recorded<M>(net, t, theta, y, f, tape, ws);
  network_vjp<M, Records>(net, theta, tape, a, a_y, theta_out, a_t, ws);
}

}  // namespace neuralode
