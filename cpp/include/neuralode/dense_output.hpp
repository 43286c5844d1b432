#pragma once
// Output between the ends of a step, from the step's own stages: output times never
// change the steps taken.
#include <Eigen/Core>

#include "tableau.hpp"

namespace neuralode {

// The tableau's continuous extension: y + h Σ_i k_i Σ_j dense[i][j] θ^(j+1), 0 ≤ θ ≤ 1.
inline void dense_polynomial(const ButcherTableau& tableau, double theta, double h,
                             const Eigen::VectorXd& y, const Eigen::MatrixXd& k, double* out) {
  Eigen::Map<Eigen::VectorXd> result(out, y.size());
  result = y;
  for (int i = 0; i < tableau.stages; ++i) {
    double weight = 0, power = 1;
    for (int j = 0; j < tableau.dense_degree; ++j) {
      power *= theta;
      weight += tableau.dense[i][j] * power;
    }
    if (weight != 0) result.noalias() += (h * weight) * k.col(i);
  }
}

// Cubic Hermite interpolation on values and derivatives at both ends: third order, the
// natural extension for methods without one of their own.
inline void dense_hermite(double theta, double h, const Eigen::VectorXd& y0,
                          const Eigen::VectorXd& y1, const Eigen::VectorXd& f0,
                          const Eigen::VectorXd& f1, double* out) {
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta;
  const double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
  Eigen::Map<Eigen::VectorXd> result(out, y0.size());
  result = h00 * y0 + (h * h10) * f0 + h01 * y1 + (h * h11) * f1;
}

}  // namespace neuralode
