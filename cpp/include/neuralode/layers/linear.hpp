#pragma once
// Linear(in, out): y = W x + b, W (out x in, row-major) then b in θ, as torch.nn.Linear.
// The kernels here also serve ConcatSquashLinear.
#include <algorithm>
#include <cmath>

#include "layer.hpp"

namespace neuralode {
namespace detail {

// out = W x + b for L lanes, W (n_out x n_in, row-major) then b at `params` (without b when
// Bias is false: the JVP's W v). Wide inputs sum in four interleaved chains (input i feeds
// chain i mod 4), combined as ((c0 + c1) + (c2 + c3)) + b; narrow ones in one chain. A chain
// starts with a product and takes each further term by a fused multiply-add. The order
// depends only on n_in: every lane and every L computes an output with the same operations.
inline int linear_chains(int n_in) { return n_in >= 16 ? 4 : 1; }

// Outputs o0 .. o0 + Tile - 1 for L lanes, accumulators in registers, vectorized across
// lanes. A tile of several outputs loads each input's lane vector once for all of them
// (one load per Tile fused multiply-adds, where one output alone needs a load per product);
// each output's sum is the same either way. `omp simd` asks for the lane loops to be
// vectorized whole: without it GCC's cost model picks narrow shuffles for them under some
// instruction sets (lanes are independent, so nothing is reordered).
template <int L, int Chains, int Tile, bool Bias, class Real>
inline void linear_tile(const Real* params, int n_in, int n_out, int o0, const Real* x,
                        Real* out) {
  const int n_blocked = n_in - n_in % Chains;
  const Real* w[Tile];
  for (int t = 0; t < Tile; ++t) w[t] = params + static_cast<long>(o0 + t) * n_in;
  Real acc[Tile][Chains][L];
  for (int c = 0; c < Chains; ++c)
    for (int t = 0; t < Tile; ++t)
#pragma omp simd
      for (int l = 0; l < L; ++l) acc[t][c][l] = w[t][c] * x[c * L + l];
  for (int i = Chains; i < n_blocked; i += Chains)
    for (int c = 0; c < Chains; ++c)
      for (int t = 0; t < Tile; ++t)
#pragma omp simd
        for (int l = 0; l < L; ++l)
          acc[t][c][l] = std::fma(w[t][i + c], x[(i + c) * L + l], acc[t][c][l]);
  for (int i = n_blocked; i < n_in; ++i)
    for (int t = 0; t < Tile; ++t)
#pragma omp simd
      for (int l = 0; l < L; ++l)
        acc[t][i - n_blocked][l] = std::fma(w[t][i], x[i * L + l], acc[t][i - n_blocked][l]);
  const Real* bias = params + static_cast<long>(n_out) * n_in;
  for (int t = 0; t < Tile; ++t)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      Real sum;
      if constexpr (Chains == 1)
        sum = acc[t][0][l];
      else
        sum = (acc[t][0][l] + acc[t][1][l]) + (acc[t][2][l] + acc[t][3][l]);
      if constexpr (Bias)
        out[(o0 + t) * L + l] = sum + bias[o0 + t];
      else
        out[(o0 + t) * L + l] = sum;
    }
}

// All outputs, `Tile` at a time (the rest one by one).
template <int L, int Chains, int Tile, bool Bias, class Real>
inline void linear_lanes(const Real* params, int n_in, int n_out, const Real* x, Real* out) {
  int o = 0;
  for (; o + Tile <= n_out; o += Tile)
    linear_tile<L, Chains, Tile, Bias>(params, n_in, n_out, o, x, out);
  for (; o < n_out; ++o) linear_tile<L, Chains, 1, Bias>(params, n_in, n_out, o, x, out);
}

// Tiles of four outputs pay on wide layers under every instruction set (one layer, 8 double
// lanes, in x out from 128 x 128 to 1024 x 1024: 1.7-1.9x with AVX-512, 1.2-1.3x with AVX2;
// 16 float lanes alike); on narrower ones AVX2 lost up to 20% (64 x 64, 256 x 32), so those
// keep one output at a time.
inline bool linear_tiles(int n_in, int n_out) { return n_in >= 128 && n_out >= 64; }

// One lane and a few inputs (one chain): the same sums across outputs, vectorized, with the
// weight rows' stride known at compile time (loads and shuffles, not gathers).
template <int NIn, bool Bias, class Real>
inline void linear_single_narrow(const Real* params, int n_out, const Real* x, Real* out) {
  const Real* bias = params + static_cast<long>(n_out) * NIn;
  for (int o = 0; o < n_out; ++o) {
    const Real* w_row = params + static_cast<long>(o) * NIn;
    Real acc = w_row[0] * x[0];
    for (int i = 1; i < NIn; ++i) acc = std::fma(w_row[i], x[i], acc);
    if constexpr (Bias)
      out[o] = acc + bias[o];
    else
      out[o] = acc;
  }
}

// One lane and four chains (n_in >= 16): outputs o0 .. o0 + Tile - 1, each output's four
// chains one short vector running along W's row (chain c, inputs c, c + 4, ..., in its
// entry c): linear_tile's sums, with contiguous loads.
template <int Tile, bool Bias, class Real>
inline void linear_single_rows(const Real* params, int n_in, int n_out, int o0, const Real* x,
                               Real* out) {
  const int n_blocked = n_in - n_in % 4;
  const Real* w[Tile];
  for (int t = 0; t < Tile; ++t) w[t] = params + static_cast<long>(o0 + t) * n_in;
  Real acc[Tile][4];
  for (int t = 0; t < Tile; ++t)
#pragma omp simd
    for (int c = 0; c < 4; ++c) acc[t][c] = w[t][c] * x[c];
  for (int i = 4; i < n_blocked; i += 4)
    for (int t = 0; t < Tile; ++t)
#pragma omp simd
      for (int c = 0; c < 4; ++c) acc[t][c] = std::fma(w[t][i + c], x[i + c], acc[t][c]);
  for (int i = n_blocked; i < n_in; ++i)
    for (int t = 0; t < Tile; ++t)
      acc[t][i - n_blocked] = std::fma(w[t][i], x[i], acc[t][i - n_blocked]);
  const Real* bias = params + static_cast<long>(n_out) * n_in;
  for (int t = 0; t < Tile; ++t) {
    const Real sum = (acc[t][0] + acc[t][1]) + (acc[t][2] + acc[t][3]);
    if constexpr (Bias)
      out[o0 + t] = sum + bias[o0 + t];
    else
      out[o0 + t] = sum;
  }
}

// One lane: the same sums with the loops turned around, so that they run across outputs
// (vectorized) with the chains in `scratch` (4 * n_out values); with four chains along W's
// rows instead (a column at a time loaded a cache line per weight).
template <bool Bias, class Real>
inline void linear_single(const Real* params, int n_in, int n_out, const Real* x, Real* out,
                          Real* scratch) {
  switch (n_in) {
    case 1: return linear_single_narrow<1, Bias>(params, n_out, x, out);
    case 2: return linear_single_narrow<2, Bias>(params, n_out, x, out);
    case 3: return linear_single_narrow<3, Bias>(params, n_out, x, out);
    case 4: return linear_single_narrow<4, Bias>(params, n_out, x, out);
    default: break;
  }
  const int chains = linear_chains(n_in);
  if (chains == 4) {
    int o = 0;
    for (; o + 4 <= n_out; o += 4) linear_single_rows<4, Bias>(params, n_in, n_out, o, x, out);
    for (; o < n_out; ++o) linear_single_rows<1, Bias>(params, n_in, n_out, o, x, out);
    return;
  }
  const Real* bias = params + static_cast<long>(n_out) * n_in;
  for (int i = 0; i < n_in; ++i) {
    Real* acc = scratch + static_cast<long>(i % chains) * n_out;
    const Real xi = x[i];
    const Real* w_col = params + i;
    if (i < chains)
      for (int o = 0; o < n_out; ++o) acc[o] = w_col[static_cast<long>(o) * n_in] * xi;
    else
      for (int o = 0; o < n_out; ++o)
        acc[o] = std::fma(w_col[static_cast<long>(o) * n_in], xi, acc[o]);
  }
  const Real *c0 = scratch, *c1 = c0 + n_out, *c2 = c1 + n_out, *c3 = c2 + n_out;
  if constexpr (Bias) {
    if (chains == 1)
      for (int o = 0; o < n_out; ++o) out[o] = c0[o] + bias[o];
    else
      for (int o = 0; o < n_out; ++o) out[o] = ((c0[o] + c1[o]) + (c2[o] + c3[o])) + bias[o];
  } else {
    if (chains == 1)
      std::copy(c0, c0 + n_out, out);
    else
      for (int o = 0; o < n_out; ++o) out[o] = (c0[o] + c1[o]) + (c2[o] + c3[o]);
  }
}

// Lane blocks of two vectors (16 doubles, 32 floats) hold too many lanes for linear_tile's
// chains to stay in registers beside a tile of outputs. Here each of the four chains is summed
// on its own over `Tile` outputs x L lanes (Tile x L / vector accumulators, each weight loaded
// once for all L lanes and each input vector once for all Tile outputs), kept in `part` and
// combined as linear_tile combines them: per output and lane the same operations in the same
// order. `weights.at(c, t)` points at the weight of chain c's first term for the tile's output
// t, the chain's next weights `weights.step` apart: along W's rows for W x, down its columns
// for Wᵀ g (whose outputs are W's inputs), or packed (pack_chains) so that they are adjacent.
template <int L, int Tile, class Real, class Weights>
inline void chains_block(const Weights& weights, int n_sum, int j0, const Real* x,
                         const Real* bias, Real* out) {
  alignas(64) Real part[4][Tile][L];
  const long step = weights.step;
  for (int c = 0; c < 4; ++c) {
    const Real* w[Tile];
    for (int t = 0; t < Tile; ++t) w[t] = weights.at(c, t);
    Real acc[Tile][L];
    for (int t = 0; t < Tile; ++t)
#pragma omp simd
      for (int l = 0; l < L; ++l) acc[t][l] = w[t][0] * x[c * L + l];
    long k = step;
    for (int i = c + 4; i < n_sum; i += 4, k += step)
      for (int t = 0; t < Tile; ++t) {
        const Real w_it = w[t][k];
#pragma omp simd
        for (int l = 0; l < L; ++l) acc[t][l] = std::fma(w_it, x[i * L + l], acc[t][l]);
      }
    for (int t = 0; t < Tile; ++t)
#pragma omp simd
      for (int l = 0; l < L; ++l) part[c][t][l] = acc[t][l];
  }
  for (int t = 0; t < Tile; ++t)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const Real sum = (part[0][t][l] + part[1][t][l]) + (part[2][t][l] + part[3][t][l]);
      out[(j0 + t) * L + l] = bias ? sum + bias[j0 + t] : sum;
    }
}

// W's entries for outputs j0.. of W x (rows, `transposed` false) or of Wᵀ g (columns).
template <class Real>
struct StridedWeights {
  const Real* w;
  long n_in;
  int j0;
  bool transposed;
  long step = transposed ? 4 * n_in : 4;
  const Real* at(int c, int t) const {
    return transposed ? w + c * n_in + j0 + t : w + (j0 + t) * n_in + c;
  }
};

// The entries chains_block reads for a tile, in the order it reads them: chain by chain, each
// chain's terms one after the other, a term's `tile` weights side by side.
template <class Real>
struct PackedWeights {
  const Real* tile_start;
  int n_sum, tile;
  long step = tile;
  // Where chain c starts: after the terms of chains 0 .. c - 1 (the sum's indices below n_sum
  // that are < c modulo 4), `tile` weights each.
  long chain_offset(int c) const {
    long before = 0;
    for (int b = 0; b < c; ++b) before += (n_sum - b + 3) / 4;
    return before * tile;
  }
  const Real* at(int c, int t) const { return tile_start + chain_offset(c) + t; }
};

// Whether the CPU has 32 vector registers of 64 bytes (AVX-512): a tile of 8 outputs x two
// vectors of lanes then keeps its 16 accumulators in registers; with AVX2's 16 registers of 32
// bytes, a tile of 3 (12 registers). Tiles never change a sum's order, so not the bits either.
// NEURALODE_BLOCK_TILE fixes the tile at compile time (tests/test_isa_determinism.py).
inline int block_tile() {
#if defined(NEURALODE_BLOCK_TILE)
  static_assert(NEURALODE_BLOCK_TILE == 3 || NEURALODE_BLOCK_TILE == 8, "tiles of 3 or 8");
  return NEURALODE_BLOCK_TILE;
#elif defined(__GNUC__) && defined(__x86_64__)
  return __builtin_cpu_supports("avx512f") ? 8 : 3;
#else
  return 8;
#endif
}

// The whole tiles of outputs of a four-chain product over n_sum terms (see chains_block),
// from `packed` (pack_chains) where given; returns the outputs done (the rest are fewer than
// a tile).
template <int L, class Real>
inline int chains_tiles(const Real* w, int n_in, int n_out, bool transposed, const Real* packed,
                        const Real* x, const Real* bias, Real* out) {
  const int n_sum = transposed ? n_out : n_in, n_tiled = transposed ? n_in : n_out;
  auto tiles = [&](auto tile) {
    constexpr int T = decltype(tile)::value;
    int j = 0;
    for (; j + T <= n_tiled; j += T) {
      if (packed)
        chains_block<L, T>(PackedWeights<Real>{packed + static_cast<long>(j) * n_sum, n_sum, T},
                           n_sum, j, x, bias, out);
      else
        chains_block<L, T>(StridedWeights<Real>{w, n_in, j, transposed}, n_sum, j, x, bias, out);
    }
    return j;
  };
  return block_tile() == 8 ? tiles(std::integral_constant<int, 8>{})
                           : tiles(std::integral_constant<int, 3>{});
}

// W (n_out x n_in, row-major), or Wᵀ where `transposed`, packed for chains_tiles: its whole
// tiles only. `packed` holds packed_chains_size values.
inline long packed_chains_size(int n_in, int n_out, bool transposed) {
  const int n_tiled = transposed ? n_in : n_out;
  return static_cast<long>(n_tiled - n_tiled % block_tile()) * (transposed ? n_out : n_in);
}
template <class Real>
inline void pack_chains(const Real* w, int n_in, int n_out, bool transposed, Real* packed) {
  const int tile = block_tile();
  const int n_sum = transposed ? n_out : n_in, n_tiled = transposed ? n_in : n_out;
  const int n_whole = n_tiled - n_tiled % tile;
  if (transposed) {  // along W's rows: each row's tiles go to their places whole
    for (int o = 0; o < n_out; ++o) {
      const long before = PackedWeights<Real>{nullptr, n_sum, tile}.chain_offset(o % 4);
      const Real* row = w + static_cast<long>(o) * n_in;
      for (int j = 0; j < n_whole; j += tile)
        std::copy(row + j, row + j + tile,
                  packed + static_cast<long>(j) * n_sum + before + (o / 4) * tile);
    }
    return;
  }
  for (int j = 0; j < n_whole; j += tile) {
    const StridedWeights<Real> from{w, n_in, j, false};
    for (int c = 0; c < 4; ++c)
      for (int i = c, k = 0; i < n_sum; i += 4, ++k)
        for (int t = 0; t < tile; ++t) *packed++ = from.at(c, t)[k * from.step];
  }
}

// Lane groups this wide or wider take the lane-block kernels.
template <int L, class Real>
constexpr bool lane_block = L * sizeof(Real) >= 128;

template <int L, bool Bias = true, class Real>
inline void linear(const Real* params, int n_in, int n_out, const Real* x, Real* out,
                   Real* scratch, const Real* packed = nullptr) {
  // One lane and many outputs: vectorize across outputs instead of lanes.
  if (L == 1 && n_out >= 8) return linear_single<Bias>(params, n_in, n_out, x, out, scratch);
  if constexpr (lane_block<L, Real>) {
    if (linear_chains(n_in) == 4) {  // whole tiles, then the rest one output at a time
      const Real* bias = Bias ? params + static_cast<long>(n_out) * n_in : nullptr;
      int o = chains_tiles<L>(params, n_in, n_out, false, packed, x, bias, out);
      for (; o < n_out; ++o) linear_tile<L, 4, 1, Bias>(params, n_in, n_out, o, x, out);
      return;
    }
  }
  if (linear_tiles(n_in, n_out))
    linear_lanes<L, 4, 4, Bias>(params, n_in, n_out, x, out);
  else if (linear_chains(n_in) == 4)
    linear_lanes<L, 4, 1, Bias>(params, n_in, n_out, x, out);
  else
    linear_lanes<L, 1, 1, Bias>(params, n_in, n_out, x, out);
}

// g_in = Wᵀ g for L lanes, inputs i0 .. i0 + Tile - 1: for each input, the sum over outputs
// runs in Chains interleaved chains (output o feeds chain o mod Chains; a product, then fused
// multiply-adds) combined as ((c0 + c1) + (c2 + c3)), the order depending only on n_out. A
// tile of inputs loads each output's lane vector once for all of them (see linear_tile).
template <int L, int Chains, int Tile, class Real>
void linear_vjp_tile(const Real* params, int n_in, int n_out, int i0, const Real* g,
                     Real* g_in) {
  const int n_blocked = n_out - n_out % Chains;
  auto w = [&](int o, int t) { return params[static_cast<long>(o) * n_in + i0 + t]; };
  Real acc[Tile][Chains][L];
  for (int c = 0; c < Chains; ++c)
    for (int t = 0; t < Tile; ++t) {
      const Real w_ct = w(c, t);
#pragma omp simd
      for (int l = 0; l < L; ++l) acc[t][c][l] = w_ct * g[c * L + l];
    }
  for (int o = Chains; o < n_blocked; o += Chains)
    for (int c = 0; c < Chains; ++c)
      for (int t = 0; t < Tile; ++t) {
        const Real w_ot = w(o + c, t);
#pragma omp simd
        for (int l = 0; l < L; ++l)
          acc[t][c][l] = std::fma(w_ot, g[(o + c) * L + l], acc[t][c][l]);
      }
  for (int o = n_blocked; o < n_out; ++o)
    for (int t = 0; t < Tile; ++t) {
      const Real w_ot = w(o, t);
#pragma omp simd
      for (int l = 0; l < L; ++l)
        acc[t][o - n_blocked][l] = std::fma(w_ot, g[o * L + l], acc[t][o - n_blocked][l]);
    }
  for (int t = 0; t < Tile; ++t)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      if constexpr (Chains == 1)
        g_in[(i0 + t) * L + l] = acc[t][0][l];
      else
        g_in[(i0 + t) * L + l] = (acc[t][0][l] + acc[t][1][l]) + (acc[t][2][l] + acc[t][3][l]);
    }
}

// Tiles of four inputs read four adjacent weights of a row where one input alone reads a
// column: 1.6-5x with AVX-512 and 1.4-5x with AVX2 on layers with 128 inputs or outputs or
// more (8 double lanes, 16 float lanes alike); at 64 x 64 AVX2 lost 10%.
inline bool linear_vjp_tiles(int n_in, int n_out) {
  return linear_chains(n_out) == 4 && n_in >= 4 && std::max(n_in, n_out) >= 128;
}

// All inputs, `Tile` at a time (the rest one by one). `omp simd`: see linear_tile.
template <int L, int Chains, int Tile, class Real>
void linear_vjp_inputs(const Real* params, int n_in, int n_out, const Real* g, Real* g_in) {
  int i = 0;
  for (; i + Tile <= n_in; i += Tile)
    linear_vjp_tile<L, Chains, Tile>(params, n_in, n_out, i, g, g_in);
  for (; i < n_in; ++i) linear_vjp_tile<L, Chains, 1>(params, n_in, n_out, i, g, g_in);
}

// One lane: the same sums as linear_vjp_tile's with the loops turned around, so that they run
// along W's rows (contiguous, vectorized across inputs) with the chains in `scratch`
// (4 * n_in values): a column at a time touched a cache line per weight.
template <class Real>
void linear_transpose_single(const Real* params, int n_in, int n_out, const Real* g,
                             Real* g_in, Real* scratch) {
  const int chains = linear_chains(n_out);
  for (int o = 0; o < n_out; ++o) {
    Real* acc = scratch + static_cast<long>(o % chains) * n_in;
    const Real* w_row = params + static_cast<long>(o) * n_in;
    const Real go = g[o];
    if (o < chains)
#pragma omp simd
      for (int i = 0; i < n_in; ++i) acc[i] = w_row[i] * go;
    else
#pragma omp simd
      for (int i = 0; i < n_in; ++i) acc[i] = std::fma(w_row[i], go, acc[i]);
  }
  const Real *c0 = scratch, *c1 = c0 + n_in, *c2 = c1 + n_in, *c3 = c2 + n_in;
  if (chains == 1)
    std::copy(c0, c0 + n_in, g_in);
  else
    for (int i = 0; i < n_in; ++i) g_in[i] = (c0[i] + c1[i]) + (c2[i] + c3[i]);
}

// g_in = Wᵀ g for L lanes. dL/dW = g xᵀ is left to the caller (see layer.hpp). `scratch`
// holds 4 * n_in values.
template <int L, class Real>
void linear_transpose(const Real* params, int n_in, int n_out, const Real* g, Real* g_in,
                      Real* scratch, const Real* packed = nullptr) {
  if (L == 1 && n_in >= 8) return linear_transpose_single(params, n_in, n_out, g, g_in, scratch);
  if constexpr (lane_block<L, Real>) {
    if (linear_chains(n_out) == 4) {  // whole tiles, then the rest one input at a time
      int i = chains_tiles<L>(params, n_in, n_out, true, packed, g, static_cast<const Real*>(nullptr), g_in);
      for (; i < n_in; ++i) linear_vjp_tile<L, 4, 1>(params, n_in, n_out, i, g, g_in);
      return;
    }
  }
  if (linear_vjp_tiles(n_in, n_out))
    linear_vjp_inputs<L, 4, 4>(params, n_in, n_out, g, g_in);
  else if (linear_chains(n_out) == 4)
    linear_vjp_inputs<L, 4, 1>(params, n_in, n_out, g, g_in);
  else
    linear_vjp_inputs<L, 1, 1>(params, n_in, n_out, g, g_in);
}

}  // namespace detail

namespace layers {

struct Linear {
  static constexpr const char* name = "linear";
  static constexpr bool in_place = false, packs = true;
  static bool fits(const Layer&) { return true; }
  static long num_params(const Layer& layer) {
    return static_cast<long>(layer.out_features) * (static_cast<long>(layer.in_features) + 1);
  }

  template <int L, class Real>
  static void forward(const Layer& layer, const double*, const Real* theta, const Real* x,
                      Real* y, Real* scratch, const Real* packed) {
    detail::linear<L>(theta, layer.in_features, layer.out_features, x, y, scratch, packed);
  }

  // g_in = Wᵀ g; dL/db = g, per lane (dL/dW = g xᵀ: see layer.hpp).
  template <int L, class Real>
  static void vjp(const Layer& layer, const double*, const Real* theta, const Real*,
                  const Real*, const Real* g, Real* g_in, Real* a_rest, Real*, Real* scratch,
                  const Real* packed) {
    detail::linear_transpose<L>(theta, layer.in_features, layer.out_features, g, g_in, scratch,
                                packed);
    std::copy(g, g + layer.out_features * L, a_rest);
  }

  // v_out = W v.
  template <int L, class Real>
  static void jvp(const Layer& layer, const double*, const Real* theta, const Real*,
                  const Real*, const Real* v, Real* v_out, Real* scratch) {
    detail::linear<L, false>(theta, layer.in_features, layer.out_features, v, v_out, scratch);
  }
};

}  // namespace layers
}  // namespace neuralode
