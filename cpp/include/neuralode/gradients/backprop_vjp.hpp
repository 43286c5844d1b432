#pragma once
// The VJP that backprop_sample (backprop.hpp) runs through the recorded steps, for any
// right-hand side (rhs.hpp): cᵀ∂f/∂y added to the caller's ȳ and cᵀ∂f/∂θ to the sample's
// θ accumulator. Networks write θ records (theta_records.hpp), added to the accumulator
// `panel_size` at a time; finish() adds the rest.
#include <memory>
#include <type_traits>
#include <vector>

#include "../rhs.hpp"
#include "../theta_records.hpp"

namespace neuralode {

template <class R>
class BackpropVjp {
  static constexpr bool records = has_theta_records<R>::value;
  static constexpr int panel_size = 32;

 public:
  using Real = typename R::Real;
  explicit BackpropVjp(const R& rhs)
      : lanes_(rhs.template lanes<1>()), dim_(rhs.dim()), params_(rhs.num_params()),
        c_y_(static_cast<size_t>(dim_)), c_theta_(records ? 0 : static_cast<size_t>(params_)) {
    if constexpr (records)
      panel_ = std::make_unique<RecordPanel<Real>>(rhs.network(), panel_size);
  }

  Real* theta_bar = nullptr;  // the current sample's dL/dθ
  long calls = 0;

  void operator()(double t, const Real* y, const Real* c, Real* y_bar) {
    ++calls;
    if constexpr (records) {
      lanes_.vjp_records_one(t, y, c, nullptr, c_y_.data(), panel_->next(Real(1)), &c_t_);
      if (panel_->full()) panel_->add_to(theta_bar);
    } else {
      lanes_.vjp_one(t, y, c, nullptr, c_y_.data(), c_theta_.data(), &c_t_);
      for (long p = 0; p < params_; ++p) theta_bar[p] += c_theta_[p];
    }
    for (int d = 0; d < dim_; ++d) y_bar[d] += c_y_[d];
  }
  // After the sample's last VJP.
  void finish() {
    if constexpr (records) panel_->add_to(theta_bar);
  }

 private:
  typename R::template Lanes<1> lanes_;
  int dim_;
  long params_;
  std::vector<Real> c_y_, c_theta_;
  std::unique_ptr<RecordPanel<Real>> panel_;
  Real c_t_ = 0;
};

}  // namespace neuralode
