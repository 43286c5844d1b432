#pragma once
// A small layer interpreter: a network is a list of layers over one flat parameter vector,
// evaluated per sample with no Python in the loop.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "activations.hpp"
#include "aligned.hpp"
#include "simd.hpp"

namespace neuralode {

enum class LayerKind : int {
  linear = 0,
  tanh = 1,
  sigmoid = 2,
  softplus = 3,
  elu = 4,
  sin = 5,
  identity = 6,
  relu = 7,
  power = 8,
  concat_time = 9,
};

struct Layer {
  LayerKind kind;
  int in_features;   // width of the layer's input
  int out_features;  // width of its output
  long param_offset; // Linear only: W (out x in, row-major) then b
  double exponent;   // Power only
};

// Per-thread scratch for one evaluation: two ping-pong buffers of the widest layer, for
// L lanes each.
struct NetWorkspace {
  aligned_vector<double> a, b, scratch;
};

namespace detail {

inline double softplus(double x) {
  // log(1 + e^x) without overflow for large x or loss of digits for very negative x.
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

inline double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

inline double integer_or_real_power(double x, double p) {
  if (p == 2) return x * x;
  if (p == 3) return x * x * x;
  return std::pow(x, p);
}

template <class Fn>
inline void apply_elementwise(const double* in, double* out, int n, Fn fn) {
  for (int i = 0; i < n; ++i) out[i] = fn(in[i]);
}

// out = W x + b for L lanes, W (n_out x n_in, row-major) then b at `params`. Wide inputs
// sum in four interleaved chains (input i feeds chain i mod 4), combined as
// ((c0 + c1) + (c2 + c3)) + b; narrow ones in one chain. A chain starts with a product and
// takes each further term by a fused multiply-add. The order depends only on n_in: every
// lane and every L computes an output with the same operations.
inline int linear_chains(int n_in) { return n_in >= 16 ? 4 : 1; }

// Accumulators in registers, vectorized across lanes (or, for one lane, a plain dot product).
// `omp simd` asks for the lane loops to be vectorized whole: without it GCC's cost model
// picks narrow shuffles for them under some instruction sets (lanes are independent, so
// nothing is reordered).
template <int L, int Chains>
inline void linear_lanes(const double* params, int n_in, int n_out, const double* x, double* out) {
  const double* bias = params + static_cast<long>(n_out) * n_in;
  const int n_blocked = n_in - n_in % Chains;
  for (int o = 0; o < n_out; ++o) {
    const double* w_row = params + static_cast<long>(o) * n_in;
    double acc[Chains][L];
    for (int c = 0; c < Chains; ++c)
#pragma omp simd
      for (int l = 0; l < L; ++l) acc[c][l] = w_row[c] * x[c * L + l];
    for (int i = Chains; i < n_blocked; i += Chains)
      for (int c = 0; c < Chains; ++c)
#pragma omp simd
        for (int l = 0; l < L; ++l)
          acc[c][l] = std::fma(w_row[i + c], x[(i + c) * L + l], acc[c][l]);
    for (int i = n_blocked; i < n_in; ++i)
#pragma omp simd
      for (int l = 0; l < L; ++l)
        acc[i - n_blocked][l] = std::fma(w_row[i], x[i * L + l], acc[i - n_blocked][l]);
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      if constexpr (Chains == 1)
        out[o * L + l] = acc[0][l] + bias[o];
      else
        out[o * L + l] = ((acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l])) + bias[o];
    }
  }
}

// One lane and a few inputs (one chain): the same sums across outputs, vectorized, with the
// weight rows' stride known at compile time (loads and shuffles, not gathers).
template <int NIn>
inline void linear_single_narrow(const double* params, int n_out, const double* x, double* out) {
  const double* bias = params + static_cast<long>(n_out) * NIn;
  for (int o = 0; o < n_out; ++o) {
    const double* w_row = params + static_cast<long>(o) * NIn;
    double acc = w_row[0] * x[0];
    for (int i = 1; i < NIn; ++i) acc = std::fma(w_row[i], x[i], acc);
    out[o] = acc + bias[o];
  }
}

// One lane: the same sums with the loops turned around, so that they run across outputs
// (vectorized) with the chains in `scratch` (4 * n_out doubles).
inline void linear_single(const double* params, int n_in, int n_out, const double* x, double* out,
                          double* scratch) {
  switch (n_in) {
    case 1: return linear_single_narrow<1>(params, n_out, x, out);
    case 2: return linear_single_narrow<2>(params, n_out, x, out);
    case 3: return linear_single_narrow<3>(params, n_out, x, out);
    case 4: return linear_single_narrow<4>(params, n_out, x, out);
    default: break;
  }
  const int chains = linear_chains(n_in);
  const double* bias = params + static_cast<long>(n_out) * n_in;
  for (int i = 0; i < n_in; ++i) {
    double* acc = scratch + static_cast<long>(i % chains) * n_out;
    const double xi = x[i];
    const double* w_col = params + i;
    if (i < chains)
      for (int o = 0; o < n_out; ++o) acc[o] = w_col[static_cast<long>(o) * n_in] * xi;
    else
      for (int o = 0; o < n_out; ++o)
        acc[o] = std::fma(w_col[static_cast<long>(o) * n_in], xi, acc[o]);
  }
  const double *c0 = scratch, *c1 = c0 + n_out, *c2 = c1 + n_out, *c3 = c2 + n_out;
  if (chains == 1)
    for (int o = 0; o < n_out; ++o) out[o] = c0[o] + bias[o];
  else
    for (int o = 0; o < n_out; ++o) out[o] = ((c0[o] + c1[o]) + (c2[o] + c3[o])) + bias[o];
}

template <int L>
inline void linear(const double* params, int n_in, int n_out, const double* x, double* out,
                   double* scratch) {
  // One lane and many outputs: vectorize across outputs instead of lanes.
  if (L == 1 && n_out >= 8) return linear_single(params, n_in, n_out, x, out, scratch);
  if (linear_chains(n_in) == 4)
    linear_lanes<L, 4>(params, n_in, n_out, x, out);
  else
    linear_lanes<L, 1>(params, n_in, n_out, x, out);
}

}  // namespace detail

class Network {
 public:
  Network(std::vector<Layer> layers, int dim, long num_params)
      : layers_(std::move(layers)), dim_(dim), num_params_(num_params) {
    if (layers_.empty()) throw std::invalid_argument("a network needs at least one layer");
    int width = dim;
    max_width_ = dim;
    long expected_offset = 0;
    for (size_t i = 0; i < layers_.size(); ++i) {
      Layer& layer = layers_[i];
      if (layer.in_features != width)
        throw std::invalid_argument("layer " + std::to_string(i) + " expects " +
                                    std::to_string(layer.in_features) + " inputs but receives " +
                                    std::to_string(width));
      if (layer.kind == LayerKind::linear) {
        if (layer.param_offset != expected_offset)
          throw std::invalid_argument("layer " + std::to_string(i) + " has a bad parameter offset");
        // out * (in + 1) in 64 bits, checked: Linear(2**31 - 1, 2**31 - 1) overflowed int.
        long count = 0;
        if (__builtin_mul_overflow(static_cast<long>(layer.out_features),
                                   static_cast<long>(layer.in_features) + 1, &count) ||
            __builtin_add_overflow(expected_offset, count, &expected_offset))
          throw std::invalid_argument("the network's parameter count overflows 64 bits");
      }
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

  template <int L>
  void prepare(NetWorkspace& ws) const {
    ws.a.resize(static_cast<size_t>(max_width_) * L);
    ws.b.resize(static_cast<size_t>(max_width_) * L);
    ws.scratch.resize(static_cast<size_t>(max_width_) * 4);
  }

  // Layer `layer` of the network on L lanes: in (its input) -> out (its output), both
  // component-major. out may be in itself except for Linear. `scratch` holds
  // 4 * max_width doubles.
  template <int L>
  void apply_layer(const Layer& layer, const double* t, const double* theta, const double* in,
                   double* out, double* scratch) const {
    const int n = layer.in_features * L;
    switch (layer.kind) {
      case LayerKind::linear:
        detail::linear<L>(theta + layer.param_offset, layer.in_features, layer.out_features, in,
                          out, scratch);
        break;
      case LayerKind::tanh:
        detail::tanh_array(in, out, n);
        break;
      case LayerKind::sigmoid:
        detail::apply_elementwise(in, out, n, detail::sigmoid);
        break;
      case LayerKind::softplus:
        detail::apply_elementwise(in, out, n, detail::softplus);
        break;
      case LayerKind::elu:
        detail::apply_elementwise(in, out, n, [](double x) { return x > 0 ? x : std::expm1(x); });
        break;
      case LayerKind::sin:
        detail::apply_elementwise(in, out, n, [](double x) { return std::sin(x); });
        break;
      case LayerKind::identity:
        if (out != in) std::copy(in, in + n, out);
        break;
      case LayerKind::relu:
        detail::apply_elementwise(in, out, n, [](double x) { return x > 0 ? x : 0.0; });
        break;
      case LayerKind::power: {
        const double p = layer.exponent;
        detail::apply_elementwise(in, out, n,
                                  [p](double x) { return detail::integer_or_real_power(x, p); });
        break;
      }
      case LayerKind::concat_time:
        if (out != in) std::copy(in, in + n, out);
        std::copy(t, t + L, out + n);
        break;
    }
  }

  // out = f(t, y; theta) for L samples at once, y and out component-major ([d][lane]) and
  // t one per lane; `ws` must have been prepared for L, and out must not overlap y. Each
  // lane's arithmetic is the same whatever L, so results never depend on how samples are
  // grouped.
  template <int L>
  void forward(const double* t, const double* theta, const double* y, double* out,
               NetWorkspace& ws) const {
    // The first layer reads y and the last writes out, with no copies: at a few hundred
    // nanoseconds per call, two small memmoves are a tenth of a single-sample evaluation.
    // In between, Linear alternates between the two buffers and elementwise layers work in
    // place.
    const double* in = y;
    double* held = nullptr;  // the buffer `in` is in, once a layer has written one
    for (size_t k = 0; k < layers_.size(); ++k) {
      const Layer& layer = layers_[k];
      double* dst = k + 1 == layers_.size()                     ? out
                    : held && layer.kind != LayerKind::linear ? held
                    : held == ws.a.data()                       ? ws.b.data()
                                                                : ws.a.data();
      apply_layer<L>(layer, t, theta, in, dst, ws.scratch.data());
      in = held = dst;
    }
  }

 private:
  std::vector<Layer> layers_;
  int dim_;
  long num_params_;
  int max_width_ = 0;
};

// net.forward<M>, compiled per instruction set (simd.hpp). The solvers call the network
// only through this kernel (and evaluate_vjp), so their loops hold a call, not one inlined
// copy of every layer per call site and per clone: that kept the build to minutes.
template <int M>
NEURALODE_SIMD_CLONES void evaluate_network(const Network& net, const double* t,
                                            const double* theta, const double* y, double* out,
                                            NetWorkspace& ws) {
  net.forward<M>(t, theta, y, out, ws);
}

}  // namespace neuralode
