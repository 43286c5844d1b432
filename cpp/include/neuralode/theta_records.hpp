#pragma once
// The adjoint's a_θ as a quadrature. a_θ never feeds back into z or a, and the seminorm
// leaves it out of the error norm, so it needs no stage vectors: with the network's VJP
// written as a θ record per evaluation (net_vjp.hpp: per layer with parameters its input x
// and its rest's gradient, whose first entries u give dL/dW = u xᵀ), an accepted step adds
//   a_θ += Σ_i (h b_i) · record_i,   for W: Σ_i (h b_i u_i) x_iᵀ,
// at once. Each entry of W is read and written once per step, with the step's stages summed
// in registers: carrying a_θ (P values a lane) through every stage and forming the step's
// sums from the stage blocks streamed P values a lane several times per stage.
// The order of every sum is fixed per sample (stages in order, steps in order), whatever
// the lanes around it or the thread.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <type_traits>
#include <vector>

#include "lanes.hpp"
#include "nets.hpp"
#include "simd.hpp"
#include "tableau.hpp"

namespace neuralode {

// add_combination's entries i .. in blocks of Block held in registers over all j; returns
// where the whole blocks end.
template <int Block, class Real>
inline long add_combination_blocks(Real* dst, long n, long i, const Real* c, int count,
                                   const Real* v0, long stride, bool fresh) {
  for (; i + Block <= n; i += Block) {
    Real acc[Block];
#pragma omp simd
    for (int b = 0; b < Block; ++b) acc[b] = fresh ? Real(0) : dst[i + b];
    for (int j = 0; j < count; ++j) {
      const Real cj = c[j];
      const Real* v = v0 + j * stride + i;
#pragma omp simd
      for (int b = 0; b < Block; ++b) acc[b] = std::fma(cj, v[b], acc[b]);
    }
#pragma omp simd
    for (int b = 0; b < Block; ++b) dst[i + b] = acc[b];
  }
  return i;
}

// dst[i] += Σ_j c[j] v_j[i] for i < n, v_j = v0 + j * stride, each sum in order of j: many
// entries at a time held in registers over all j (a loop over j inside one entry ran as
// scalar fused multiply-adds), the rest sixteen at a time, then one by one, in the same
// order. fresh: dst holds nothing yet, and the sums start from +0 (as from zeros, the same
// bits) without reading it. Eight vectors of accumulators (AVX-512; four with AVX2's
// narrower registers) keep both FMA units busy: with two, each waited on the latency of the
// one before (a quarter of the peak).
template <class Real>
inline void add_combination(Real* dst, long n, const Real* c, int count, const Real* v0,
                            long stride, bool fresh = false) {
  constexpr int wide = 512 / sizeof(Real);  // 64 doubles, 128 floats
  long i = detail::block_tile() == 8
               ? add_combination_blocks<wide>(dst, n, 0, c, count, v0, stride, fresh)
               : add_combination_blocks<wide / 2>(dst, n, 0, c, count, v0, stride, fresh);
  i = add_combination_blocks<16>(dst, n, i, c, count, v0, stride, fresh);
  for (; i < n; ++i) {
    Real acc = fresh ? Real(0) : dst[i];
    for (int j = 0; j < count; ++j) acc = std::fma(c[j], v0[j * stride + i], acc);
    dst[i] = acc;
  }
}

// dst (rows x n, row r at dst + r * ld) += U V: U (rows x count, row-major), V's row j at
// v0 + j * stride; a tile of Rows rows x Block entries held in registers over all j, each
// entry's sum in order of j as add_combination's. The row of V read at j serves Rows rows of
// dst: one load per Rows fused multiply-adds where add_combination needs one per FMA, and
// those loads came from L2 (a panel's V is larger than L1), which capped it near a quarter
// of the peak.
template <int Rows, int Block, class Real>
inline void add_product_tile(Real* dst, long ld, const Real* u, int count, const Real* v0,
                             long stride, bool fresh) {
  Real acc[Rows][Block];
  for (int r = 0; r < Rows; ++r)
#pragma omp simd
    for (int b = 0; b < Block; ++b) acc[r][b] = fresh ? Real(0) : dst[r * ld + b];
  for (int j = 0; j < count; ++j) {
    const Real* v = v0 + j * stride;
    for (int r = 0; r < Rows; ++r) {
      const Real c = u[r * count + j];
#pragma omp simd
      for (int b = 0; b < Block; ++b) acc[r][b] = std::fma(c, v[b], acc[r][b]);
    }
  }
  for (int r = 0; r < Rows; ++r)
#pragma omp simd
    for (int b = 0; b < Block; ++b) dst[r * ld + b] = acc[r][b];
}

// Asks for rows x length values at `at` (rows `ld` apart) to be brought into cache for
// writing: the next tile's part of dst, fetched while this tile computes (each tile waited
// on its rows from L3 otherwise, a third of add_product's time).
template <class Real>
inline void prefetch_rows(const Real* at, int rows, long ld, long length) {
#if defined(__GNUC__)
  constexpr long line = 64 / sizeof(Real);
  for (int r = 0; r < rows; ++r)
    for (long i = 0; i < length; i += line) __builtin_prefetch(at + r * ld + i, 1);
#else
  (void)at, (void)rows, (void)ld, (void)length;
#endif
}

// dst (rows x n, row-major) += U V as add_product_tile, over the whole matrix; the entries
// past the last whole block by add_combination. Same bits as add_combination row by row.
template <class Real>
inline void add_product(Real* dst, int rows, long n, const Real* u, int count, const Real* v0,
                        long stride, bool fresh) {
  constexpr int block = 128 / sizeof(Real);  // 16 doubles, 32 floats: two AVX-512 vectors
  // Columns of V taken together: count x chunk values stay in L1 while the rows of dst pass,
  // each row's chunk read in one sweep (dst, a sample's whole dL/dθ, lives in L3).
  constexpr long chunk = 4 * block;
  auto tiles = [&](auto tile) {
    constexpr int T = decltype(tile)::value;
    const long whole = n - n % block;
    for (long start = 0; start < whole; start += chunk) {
      const long end = std::min(whole, start + chunk);
      int o = 0;
      for (; o + T <= rows; o += T) {
        if (o + T < rows)
          prefetch_rows(dst + (o + T) * n + start, std::min(T, rows - o - T), n, end - start);
        for (long i = start; i < end; i += block)
          add_product_tile<T, block>(dst + o * n + i, n, u + o * count, count, v0 + i, stride,
                                     fresh);
      }
      for (; o < rows; ++o)
        for (long i = start; i < end; i += block)
          add_product_tile<1, block>(dst + o * n + i, n, u + o * count, count, v0 + i, stride,
                                     fresh);
    }
    if (whole < n)
      for (int o = 0; o < rows; ++o)
        add_combination(dst + o * n + whole, n - whole, u + o * count, count, v0 + whole,
                        stride, fresh);
  };
  // Register tiles as the Linear kernels' (layers/linear.hpp): 8 x 2 vectors with AVX-512's
  // 32 registers, 3 x 4 with AVX2's 16.
  if (detail::block_tile() == 8)
    tiles(std::integral_constant<int, 8>{});
  else
    tiles(std::integral_constant<int, 3>{});
}

// a_theta (P values) += Σ_j w[j] · record j, for `count` records of `net` back to back
// (record j at records + j * record_size). wu: count x (widest layer) values of scratch.
// fresh: a_theta holds nothing yet and is written, not read (the records cover every
// parameter): a pass over P values per sample saved, which live in L3 or memory.
template <class Real>
NEURALODE_SIMD_CLONES void add_theta_records(const Network& net, const Real* records,
                                             const Real* w, int count, Real* wu,
                                             Real* a_theta, bool fresh) {
  const long size = net.record_size();
  const auto& layers = net.layers();
  for (size_t k = 0; k < layers.size(); ++k) {
    const ParamShape& shape = net.param_shape(k);
    if (shape.record_offset < 0) continue;
    const int n_in = layers[k].in_features, n_out = layers[k].out_features;
    const Real* x0 = records + shape.record_offset;  // record j's x at x0 + j * size
    const Real* rest0 = x0 + n_in;                   // and its rest's gradient; u first
    Real* grad_w = a_theta + layers[k].param_offset;
    for (int o = 0; o < n_out; ++o)  // U[o][j] = w_j u_j[o]: W += U Xᵀ
      for (int j = 0; j < count; ++j) wu[o * count + j] = w[j] * rest0[j * size + o];
    add_product(grad_w, n_out, n_in, wu, count, x0, size, fresh);
    add_combination(grad_w + shape.matrix, shape.rest, w, count, rest0, size, fresh);
  }
}

// Lane lanes[m]'s record (size values) out of records laid out [size][L], into dst[m], for
// the n lanes listed: eight rows at a time across the lanes, so each cache line of the block
// is read once for all of them (lane by lane read a line per value).
template <int L, class Real>
inline void gather_lane_records(const Real* src, long size, const int* lanes, int n,
                                Real* const* dst) {
  constexpr long rows = 8;
  long r = 0;
  for (; r + rows <= size; r += rows)
    for (int m = 0; m < n; ++m)
      for (long q = r; q < r + rows; ++q) dst[m][q] = src[q * L + lanes[m]];
  for (int m = 0; m < n; ++m)
    for (long q = r; q < size; ++q) dst[m][q] = src[q * L + lanes[m]];
}

// Weighted records waiting to be added to one a_θ, `capacity` at a time: each entry of W is
// then read and written once per `capacity` records, not once per record (backprop adds
// every VJP of a sample's steps, weight 1).
template <class Real>
class RecordPanel {
 public:
  RecordPanel(const Network& net, int capacity)
      : net_(net), capacity_(capacity),
        records_(static_cast<size_t>(net.record_size()) * capacity),
        w_(static_cast<size_t>(capacity)),
        wu_(static_cast<size_t>(capacity) * widest_output(net)) {}

  // The records from now on go to a_theta (P values), which holds nothing yet, not even
  // zeros: the first flush writes it without reading it (a pass over P values per sample
  // saved, which live in L3 or memory), zeros where there are no records.
  void start(Real* a_theta) {
    a_theta_ = a_theta;
    fresh_ = true;
  }
  // Where the next record goes (record_size values); full() says when to flush.
  Real* next(Real weight) {
    w_[count_] = weight;
    return records_.data() + static_cast<long>(count_++) * net_.record_size();
  }
  bool full() const { return count_ == capacity_; }
  // Adds the records held to the a_θ of start() and lets go of them.
  void flush() {
    if (count_ > 0)
      add_theta_records(net_, records_.data(), w_.data(), count_, wu_.data(), a_theta_, fresh_);
    else if (fresh_)
      std::fill_n(a_theta_, net_.num_params(), Real(0));
    count_ = 0;
    fresh_ = false;
  }

 private:
  static size_t widest_output(const Network& net) {
    int widest = 1;
    for (const Layer& layer : net.layers()) widest = std::max(widest, layer.out_features);
    return static_cast<size_t>(widest);
  }

  const Network& net_;
  int capacity_, count_ = 0;
  std::vector<Real> records_, w_, wu_;
  Real* a_theta_ = nullptr;
  bool fresh_ = false;
};

// One thread's quadrature over L lanes: each lane's accepted steps, their stages' records in
// the rows from `first` of the stage blocks, go to the lane's panel with weights h b_i, and
// the panel into the a_θ of the lane's sample every few steps and when the sample ends. The
// panel holds six steps of records whatever the lanes, so each sample's sums are the same.
template <class Real>
class ThetaQuadrature {
 public:
  ThetaQuadrature(const Network& net, const ButcherTableau& tableau, int lanes)
      : tableau_(tableau), size_(net.record_size()) {
    int weighted = 0;  // stages with b_i != 0
    for (int i = 0; i < tableau.stages; ++i) weighted += tableau.b[i] != 0;
    panels_.reserve(static_cast<size_t>(lanes));
    for (int l = 0; l < lanes; ++l) panels_.emplace_back(net, 6 * weighted);
  }

  // Lane l takes a sample whose a_θ is `a_theta` (P values, written by the first flush).
  void start(int l, Real* a_theta) { panels_[l].start(a_theta); }

  // The accepted lanes' steps (mask all ones for them, h per lane), records from row
  // `first` of the stage blocks.
  template <int L>
  void add_steps(const std::array<std::uint64_t, L>& mask, const double* h,
                 const LaneBlocks<L, Real>& k, long first) {
    int lanes[L] = {}, n = 0;
    for (int l = 0; l < L; ++l)
      if (mask[l]) lanes[n++] = l;
    Real* dst[L] = {};
    for (int i = 0; i < tableau_.stages; ++i) {
      if (tableau_.b[i] == 0) continue;
      for (int m = 0; m < n; ++m)  // the weight as the step rounded it
        dst[m] = panels_[lanes[m]].next(static_cast<Real>(h[lanes[m]] * tableau_.b[i]));
      gather_lane_records<L>(k.block(i) + first * L, size_, lanes, n, dst);
    }
    // A panel holds whole steps: it fills at a step's end.
    for (int m = 0; m < n; ++m)
      if (panels_[lanes[m]].full()) panels_[lanes[m]].flush();
  }

  // Lane l's sample ended: the rest of its panel into its a_θ.
  void finish(int l) { panels_[l].flush(); }

 private:
  const ButcherTableau& tableau_;
  long size_;
  std::vector<RecordPanel<Real>> panels_;
};

}  // namespace neuralode
