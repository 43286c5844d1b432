#pragma once
// One explicit Runge-Kutta step, generic over the tableau.
#include <Eigen/Core>

#include "tableau.hpp"

namespace neuralode {

// Buffers of one sample's solve, sized once per thread so the step loop never allocates.
struct StepWorkspace {
  Eigen::MatrixXd k;  // stage derivatives, one column per stage
  Eigen::VectorXd y, y_new, stage, error, f_end;

  void resize(Eigen::Index dim, int stages) {
    k.resize(dim, stages);
    y.resize(dim);
    y_new.resize(dim);
    stage.resize(dim);
    error.resize(dim);
    f_end.resize(dim);
  }
};

// Advances ws.y from t by the signed step h into ws.y_new, given ws.k.col(0) = f(t, y).
// Fills the remaining stages, and ws.error with the embedded estimate for adaptive methods.
// For FSAL methods the last stage is f(t + h, y_new).
template <class Rhs>
void runge_kutta_step(Rhs& rhs, const ButcherTableau& tableau, double t, double h,
                      StepWorkspace& ws) {
  const int stages = tableau.stages;
  for (int i = 1; i < stages; ++i) {
    ws.stage = ws.y;
    for (int j = 0; j < i; ++j)
      if (tableau.a[i][j] != 0) ws.stage.noalias() += (h * tableau.a[i][j]) * ws.k.col(j);
    rhs(t + tableau.c[i] * h, ws.stage.data(), ws.k.col(i).data());
  }
  if (tableau.fsal()) {
    ws.y_new = ws.stage;  // the last stage was evaluated on exactly y_new
  } else {
    ws.y_new = ws.y;
    for (int j = 0; j < stages; ++j)
      if (tableau.b[j] != 0) ws.y_new.noalias() += (h * tableau.b[j]) * ws.k.col(j);
  }
  if (tableau.adaptive()) {
    ws.error.setZero();
    for (int j = 0; j < stages; ++j)
      if (tableau.error[j] != 0) ws.error.noalias() += (h * tableau.error[j]) * ws.k.col(j);
  }
}

}  // namespace neuralode
