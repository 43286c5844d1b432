#pragma once
// Output between the ends of a step, from the step's own stages, for one lane: output times
// never change the steps taken.
#include "tableau.hpp"

namespace neuralode {

// The tableau's continuous extension: y + h Σ_i k_i Σ_j dense[i][j] θ^(j+1), 0 ≤ θ ≤ 1.
// k holds the stages block by block, component-major over L lanes.
template <int L>
void dense_polynomial(const ButcherTableau& tableau, double theta, double h, const double* y,
                      const double* k, int dim, int l, double* out) {
  for (int d = 0; d < dim; ++d) out[d] = y[d * L + l];
  for (int i = 0; i < tableau.stages; ++i) {
    double weight = 0, power = 1;
    for (int j = 0; j < tableau.dense_degree; ++j) {
      power *= theta;
      weight += tableau.dense[i][j] * power;
    }
    if (weight == 0) continue;
    const double coef = h * weight;
    const double* k_i = k + static_cast<long>(i) * dim * L;
    for (int d = 0; d < dim; ++d) out[d] += coef * k_i[d * L + l];
  }
}

// Cubic Hermite interpolation on values and derivatives at both ends: third order, the
// natural extension for methods without one of their own.
template <int L>
void dense_hermite(double theta, double h, const double* y0, const double* y1, const double* f0,
                   const double* f1, int dim, int l, double* out) {
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = (t3 - 2 * t2 + theta) * h;
  const double h01 = -2 * t3 + 3 * t2, h11 = (t3 - t2) * h;
  for (int d = 0; d < dim; ++d) {
    const int i = d * L + l;
    out[d] = h00 * y0[i] + h10 * f0[i] + h01 * y1[i] + h11 * f1[i];
  }
}

}  // namespace neuralode
