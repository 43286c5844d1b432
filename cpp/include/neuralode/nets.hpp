#pragma once
// A small layer interpreter: a network is a list of layers over one flat parameter vector,
// evaluated per sample with no Python in the loop. The layer kinds and their kernels live in
// layers/ (one struct each, listed in layers/layer_kinds.hpp); this file only runs them in
// order.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "aligned.hpp"
#include "layers/layer.hpp"
#include "layers/layer_kinds.hpp"
#include "simd.hpp"

namespace neuralode {

// The matrices of a network's layers packed for the lane-block kernels (linear.hpp,
// pack_chains), per layer: W for W x (`rows`) and Wᵀ for the VJP's Wᵀ g (`columns`); empty
// where a layer has no matrix or its kernels take no packed one. Made once per solve and
// shared by its threads (NetworkRhs::packed): the parameters do not change during a solve.
template <class Real>
struct PackedMatrices {
  std::vector<aligned_vector<Real>> rows, columns;
  static const Real* at(const std::vector<aligned_vector<Real>>& m, size_t layer) {
    return layer < m.size() && !m[layer].empty() ? m[layer].data() : nullptr;
  }
};

// Per-thread scratch for one evaluation: two ping-pong buffers of the widest layer, for
// L lanes each, the layers' scratch, and two more buffers for tangents (evaluate_jvp); and
// the packed matrices, where the lane group is a lane block (null otherwise).
template <class Real>
struct NetWorkspace {
  aligned_vector<Real> a, b, scratch, tangent_a, tangent_b;
  const PackedMatrices<Real>* packed = nullptr;
  const Real* rows(size_t layer) const {
    return packed ? PackedMatrices<Real>::at(packed->rows, layer) : nullptr;
  }
  const Real* columns(size_t layer) const {
    return packed ? PackedMatrices<Real>::at(packed->columns, layer) : nullptr;
  }
};

// Where a layer's parameters and its θ record sit (layer.hpp, theta_records.hpp): W's
// out x in entries (`matrix`, 0 for kinds without parameters), the `rest` after it, and the
// record [x (in) | rest's gradient] at `record_offset` among a network's records (-1: none).
struct ParamShape {
  long matrix = 0, rest = 0, record_offset = -1;
};

class Network {
 public:
  Network(std::vector<Layer> layers, int dim, long num_params)
      : layers_(std::move(layers)), dim_(dim), num_params_(num_params) {
    if (layers_.empty()) throw std::invalid_argument("a network needs at least one layer");
    int width = dim;
    max_width_ = dim;
    long expected_offset = 0;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Layer& layer = layers_[i];
      const std::string where = "layer " + std::to_string(i);
      if (layer.kind < 0 || layer.kind >= num_layer_kinds)
        throw std::invalid_argument(where + " has an unknown kind " + std::to_string(layer.kind));
      if (layer.in_features != width)
        throw std::invalid_argument(where + " expects " + std::to_string(layer.in_features) +
                                    " inputs but receives " + std::to_string(width));
      bool fits = layer.in_features >= 1 && layer.out_features >= 1;
      long count = 0;
      visit_kind(layer.kind, [&](auto kind) {
        using Kind = decltype(kind);
        fits = fits && Kind::fits(layer);
        if (fits) count = Kind::num_params(layer);  // < 2^63 for widths below 2^31
      });
      if (!fits)
        throw std::invalid_argument(where + " (" + kind_name(layer.kind) + ") cannot map " +
                                    std::to_string(layer.in_features) + " inputs to " +
                                    std::to_string(layer.out_features) + " outputs");
      ParamShape shape;
      if (count > 0) {
        shape.matrix = static_cast<long>(layer.out_features) * layer.in_features;
        shape.rest = count - shape.matrix;
        shape.record_offset = record_size_;
        record_size_ += layer.in_features + shape.rest;
        if (layer.param_offset != expected_offset)
          throw std::invalid_argument(where + " has a bad parameter offset");
        // Checked: Linear(2**31 - 1, 2**31 - 1) twice overflows 64 bits.
        if (__builtin_add_overflow(expected_offset, count, &expected_offset))
          throw std::invalid_argument("the network's parameter count overflows 64 bits");
      }
      param_shapes_.push_back(shape);
      width = layer.out_features;
      max_width_ = std::max(max_width_, width);
    }
    if (width != dim)
      throw std::invalid_argument("the network maps " + std::to_string(dim) + " inputs to " +
                                  std::to_string(width) + " outputs; an ODE needs as many");
    if (expected_offset != num_params)
      throw std::invalid_argument("the layers hold " + std::to_string(expected_offset) +
                                  " parameters, not " + std::to_string(num_params));
  }

  int dim() const { return dim_; }
  long num_params() const { return num_params_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const ParamShape& param_shape(size_t layer) const { return param_shapes_[layer]; }
  // Values in one evaluation's θ record (the layers' records back to back).
  long record_size() const { return record_size_; }

  template <int L, class Real>
  void prepare(NetWorkspace<Real>& ws) const {
    const size_t lanes = static_cast<size_t>(max_width_) * L;
    for (auto* buffer : {&ws.a, &ws.b, &ws.tangent_a, &ws.tangent_b}) buffer->resize(lanes);
    ws.scratch.resize(static_cast<size_t>(max_width_) * 4);
  }

  // W (or Wᵀ, `transposed`) of every layer whose kind packs it and whose lane-block kernels
  // would read it (linear.hpp: four chains over the sum, at least a tile of outputs), into
  // packed.rows (packed.columns).
  template <class Real>
  void pack(const Real* theta, bool transposed, PackedMatrices<Real>& packed) const {
    auto& to = transposed ? packed.columns : packed.rows;
    to.assign(layers_.size(), {});
    for (size_t k = 0; k < layers_.size(); ++k) {
      const Layer& layer = layers_[k];
      visit_kind(layer.kind, [&](auto kind) {
        if constexpr (packs_weights<decltype(kind)>::value) {
          const int n_in = layer.in_features, n_out = layer.out_features;
          if (detail::linear_chains(transposed ? n_out : n_in) != 4) return;
          to[k].resize(detail::packed_chains_size(n_in, n_out, transposed));
          if (!to[k].empty())
            detail::pack_chains(theta + layer.param_offset, n_in, n_out, transposed,
                                to[k].data());
        }
      });
    }
  }

  // Layer k of the network on L lanes: in (its input) -> out (its output), both
  // component-major. out may be in itself for kinds that work in place. `ws.scratch` holds
  // 4 * max_width values.
  template <int L, class Real>
  void apply_layer(size_t k, const double* t, const Real* theta, const Real* in, Real* out,
                   NetWorkspace<Real>& ws) const {
    const Layer& layer = layers_[k];
    visit_kind(layer.kind, [&](auto kind) {
      using Kind = decltype(kind);
      if constexpr (packs_weights<Kind>::value)
        Kind::template forward<L>(layer, t, theta + layer.param_offset, in, out,
                                  ws.scratch.data(), ws.rows(k));
      else
        Kind::template forward<L>(layer, t, theta + layer.param_offset, in, out,
                                  ws.scratch.data());
    });
  }

  // out = f(t, y; theta) for L samples at once, y and out component-major ([d][lane]) and
  // t one per lane; `ws` must have been prepared for L, and out must not overlap y. Each
  // lane's arithmetic is the same whatever L, so results never depend on how samples are
  // grouped.
  template <int L, class Real>
  void forward(const double* t, const Real* theta, const Real* y, Real* out,
               NetWorkspace<Real>& ws) const {
    // The first layer reads y and the last writes out, with no copies: at a few hundred
    // nanoseconds per call, two small memmoves are a tenth of a single-sample evaluation.
    // In between, kinds that cannot work in place alternate between the two buffers and the
    // others work in place.
    const Real* in = y;
    Real* held = nullptr;  // the buffer `in` is in, once a layer has written one
    for (size_t k = 0; k < layers_.size(); ++k) {
      bool in_place = false;
      visit_kind(layers_[k].kind, [&](auto kind) { in_place = decltype(kind)::in_place; });
      Real* dst = k + 1 == layers_.size() ? out
                  : held && in_place      ? held
                  : held == ws.a.data()   ? ws.b.data()
                                          : ws.a.data();
      apply_layer<L>(k, t, theta, in, dst, ws);
      in = held = dst;
    }
  }

 private:
  std::vector<Layer> layers_;
  std::vector<ParamShape> param_shapes_;
  int dim_;
  long num_params_, record_size_ = 0;
  int max_width_ = 0;
};

// net.forward<M>, compiled per instruction set (simd.hpp). The solvers call the network
// only through this kernel (and evaluate_vjp), so their loops hold a call, not one inlined
// copy of every layer per call site and per clone: that kept the build to minutes.
template <int M, class Real>
NEURALODE_SIMD_CLONES void evaluate_network(const Network& net, const double* t,
                                            const Real* theta, const Real* y, Real* out,
                                            NetWorkspace<Real>& ws) {
  net.forward<M>(t, theta, y, out, ws);
}

}  // namespace neuralode
