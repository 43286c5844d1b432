#pragma once
// Power(p): elementwise x^p, p the layer's setting (Power(3): the cubic-spiral model).
#include <cmath>

#include "elementwise.hpp"

namespace neuralode::layers {

struct Power : Elementwise<Power> {
  static constexpr const char* name = "power";
  template <class Real>
  static Real value(const Layer& layer, Real x) {
    return detail::integer_or_real_power(x, layer.setting);
  }
  template <class Real>
  static Real derivative(const Layer& layer, Real x, Real) {
    const double p = layer.setting;
    if (p == 0) return 0;  // x^0 = 1 everywhere, 0^0 included: pow(0, -1) would give 0·inf
    if (p == 2) return 2 * x;
    if (p == 3) return 3 * (x * x);
    return static_cast<Real>(p) * std::pow(x, static_cast<Real>(p - 1));
  }
};

}  // namespace neuralode::layers
