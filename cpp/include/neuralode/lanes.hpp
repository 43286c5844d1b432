#pragma once
// Lanes: L samples advanced side by side, each with its own time, step size and
// accept/reject decisions. States are stored component-major, [d][lane], so that every
// elementwise operation runs over contiguous lanes and vectorizes; nothing ever mixes two
// lanes, so a sample's result is the same bit for bit whatever L and whatever its neighbours.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "aligned.hpp"
#include "status.hpp"

namespace neuralode {

struct SampleStats {
  long nfe = 0, n_steps = 0, n_accepted = 0, n_rejected = 0;
};

struct SampleResult {
  Status status = Status::success;
  double t_reached = 0;  // the last time the solution is valid at
  SampleStats stats;
};

// One sample's output times and where its states go: row i (dim values) at ys + i*ys_stride.
// Times are double whatever the state's scalar type Real (double or float).
template <class Real>
struct OutputGrid {
  const double* t = nullptr;
  long t_stride = 1;
  long count = 0;
  Real* ys = nullptr;
  long ys_stride = 0;

  double time(long i) const { return t[i * t_stride]; }
  Real* row(long i) const { return ys + i * ys_stride; }
};

// What a lane needs to start a sample.
template <class Real>
struct SampleProblem {
  long id;
  const Real* y0;
  OutputGrid<Real> grid;
};

// Component-major storage of `blocks` vectors of `dim` components for L lanes.
template <int L, class Real>
class LaneBlocks {
 public:
  void resize(int dim, int blocks) {
    dim_ = dim;
    data_.assign(static_cast<size_t>(dim) * blocks * L, Real(0));
  }
  Real* block(int i) { return data_.data() + static_cast<size_t>(i) * dim_ * L; }
  const Real* block(int i) const { return data_.data() + static_cast<size_t>(i) * dim_ * L; }

 private:
  int dim_ = 0;
  aligned_vector<Real> data_;
};

namespace lane {

// A block of `dim` components for L lanes as an L x dim Eigen array: column d is component d
// of every lane. Elementwise expressions over it are one IEEE operation per element, like the
// loops they replace (same bits); measured as fast as those loops in every clone.
template <int L, class Real>
using LaneArray = Eigen::Map<Eigen::Array<Real, L, Eigen::Dynamic>>;
template <int L, class Real>
using ConstLaneArray = Eigen::Map<const Eigen::Array<Real, L, Eigen::Dynamic>>;
template <int L, class Real>
using LaneCoefficients = Eigen::Map<const Eigen::Array<Real, L, 1>>;

// dst[d][l] += coef[l] * src[d][l] for every lane.
template <int L, class Real>
inline void axpy(const std::array<Real, L>& coef, const Real* src, Real* dst, int dim) {
  LaneArray<L, Real>(dst, L, dim) += ConstLaneArray<L, Real>(src, L, dim).colwise() *
                                     LaneCoefficients<L, Real>(coef.data());
}

// dst[d][l] = base[d][l] + coef[l] * src[d][l]: the same operation as copying base into dst
// and then axpy, without the copy.
template <int L, class Real>
inline void axpy_into(const std::array<Real, L>& coef, const Real* src, const Real* base,
                      Real* dst, int dim) {
  LaneArray<L, Real>(dst, L, dim) = ConstLaneArray<L, Real>(base, L, dim) +
                                    ConstLaneArray<L, Real>(src, L, dim).colwise() *
                                        LaneCoefficients<L, Real>(coef.data());
}

// dst[d][l] = src[d][l] for the lanes whose mask is all ones (others: all zeros). A bit
// select rather than a branch, so that it runs across lanes as vector code.
template <int L, class Real>
inline void copy_masked(const std::array<std::uint64_t, L>& mask, const Real* src, Real* dst,
                        int dim) {
  using Bits = std::conditional_t<sizeof(Real) == 8, std::uint64_t, std::uint32_t>;
  static_assert(sizeof(Bits) == sizeof(Real));
  for (int d = 0; d < dim; ++d)
    for (int l = 0; l < L; ++l) {
      const Bits m = static_cast<Bits>(mask[l]);
      Bits s, t;
      std::memcpy(&s, src + d * L + l, sizeof s);
      std::memcpy(&t, dst + d * L + l, sizeof t);
      t = (s & m) | (t & ~m);
      std::memcpy(dst + d * L + l, &t, sizeof t);
    }
}

// finite[l]: every component of lane l is finite. x - x is 0, or NaN for NaN and inf, and
// a sum of zeros stays 0, so one pass over all lanes at once settles it.
template <int L, class Real>
inline void lanes_finite(const Real* v, int dim, std::array<bool, L>& finite) {
  std::array<Real, L> sum{};
  for (int d = 0; d < dim; ++d)
    for (int l = 0; l < L; ++l) sum[l] += v[d * L + l] - v[d * L + l];
  for (int l = 0; l < L; ++l) finite[l] = sum[l] == 0;
}

template <int L, class Real>
inline bool lane_finite(const Real* v, int dim, int l) {
  for (int d = 0; d < dim; ++d) {
    const Real x = v[d * L + l];
    if (!(x - x == 0)) return false;  // NaN or inf
  }
  return true;
}

}  // namespace lane
}  // namespace neuralode
