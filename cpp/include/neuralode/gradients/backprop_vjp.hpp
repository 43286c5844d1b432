#pragma once
// The VJP that backprop_sample (backprop.hpp) runs through the recorded steps, one sample at a
// time, for right-hand sides without θ records (Python callables, Dynamics): cᵀ∂f/∂y added
// to the caller's ȳ and cᵀ∂f/∂θ to the sample's θ accumulator. Networks take lane groups of
// samples instead (backprop_lanes.hpp).
#include <vector>

#include "../rhs.hpp"

namespace neuralode {

template <class R>
class BackpropVjp {
  static_assert(!has_theta_records<R>::value, "networks go through BackpropLanes");

 public:
  using Real = typename R::Real;
  explicit BackpropVjp(const R& rhs)
      : lanes_(rhs.template lanes<1>()), dim_(rhs.dim()), params_(rhs.num_params()),
        c_y_(static_cast<size_t>(dim_)), c_theta_(static_cast<size_t>(params_)) {}

  Real* theta_bar = nullptr;  // the current sample's dL/dθ
  long calls = 0;

  void operator()(double t, const Real* y, const Real* c, Real* y_bar) {
    ++calls;
    lanes_.vjp_one(t, y, c, nullptr, c_y_.data(), c_theta_.data(), &c_t_);
    for (long p = 0; p < params_; ++p) theta_bar[p] += c_theta_[p];
    for (int d = 0; d < dim_; ++d) y_bar[d] += c_y_[d];
  }

 private:
  typename R::template Lanes<1> lanes_;
  int dim_;
  long params_;
  std::vector<Real> c_y_, c_theta_;
  Real c_t_ = 0;
};

}  // namespace neuralode
