#pragma once
// Lanes: L samples advanced side by side, each with its own time, step size and
// accept/reject decisions. States are stored component-major, [d][lane], so that every
// elementwise operation runs over contiguous lanes and vectorizes; nothing ever mixes two
// lanes, so a sample's result is the same bit for bit whatever L and whatever its neighbours.
#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

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

// One sample's output times and where its states go: row i (dim doubles) at ys + i*ys_stride.
struct OutputGrid {
  const double* t = nullptr;
  long t_stride = 1;
  long count = 0;
  double* ys = nullptr;
  long ys_stride = 0;

  double time(long i) const { return t[i * t_stride]; }
  double* row(long i) const { return ys + i * ys_stride; }
};

// What a lane needs to start a sample.
struct SampleProblem {
  long id;
  const double* y0;
  OutputGrid grid;
};

// Component-major storage of `blocks` vectors of `dim` components for L lanes.
template <int L>
class LaneBlocks {
 public:
  void resize(int dim, int blocks) {
    dim_ = dim;
    data_.assign(static_cast<size_t>(dim) * blocks * L, 0.0);
  }
  double* block(int i) { return data_.data() + static_cast<size_t>(i) * dim_ * L; }
  const double* block(int i) const { return data_.data() + static_cast<size_t>(i) * dim_ * L; }

 private:
  int dim_ = 0;
  std::vector<double> data_;
};

namespace lane {

// dst[d][l] = src[d][l] for one lane.
template <int L>
inline void copy_lane(const double* src, double* dst, int dim, int l) {
  for (int d = 0; d < dim; ++d) dst[d * L + l] = src[d * L + l];
}

// dst[d][l] += coef[l] * src[d][l] for every lane.
template <int L>
inline void axpy(const std::array<double, L>& coef, const double* src, double* dst, int dim) {
  for (int d = 0; d < dim; ++d)
    for (int l = 0; l < L; ++l) dst[d * L + l] += coef[l] * src[d * L + l];
}

template <int L>
inline bool lane_finite(const double* v, int dim, int l) {
  for (int d = 0; d < dim; ++d) {
    const double x = v[d * L + l];
    if (!(x - x == 0)) return false;  // NaN or inf
  }
  return true;
}

}  // namespace lane
}  // namespace neuralode
