#pragma once
// Dense Jacobians ∂f/∂y of a network, exact, by forward mode through the layers (net_jvp.hpp):
// the columns are JVPs with unit vectors, eight columns at a time side by side in the lanes
// (the state copied into each lane), so a D-dimensional Jacobian costs D/8 lane passes. The
// result is an Eigen matrix: what the Newton iterations of implicit solvers factorize.
#include <Eigen/Dense>
#include <algorithm>
#include <vector>

#include "net_jvp.hpp"
#include "nets.hpp"

namespace neuralode {

// Workspace of one thread's Jacobians: lane buffers and the network's own.
template <class Real>
struct JacobianWorkspace {
  static constexpr int lanes = 8;
  NetWorkspace<Real> net;
  std::vector<double> t;
  std::vector<Real> y, v, f, jv;  // component-major, `lanes` wide

  void prepare(const Network& network) {
    network.prepare<lanes>(net);
    const size_t size = static_cast<size_t>(network.dim()) * lanes;
    t.assign(lanes, 0.0);
    for (auto* buffer : {&y, &v, &f, &jv}) buffer->assign(size, Real(0));
  }
};

// J = ∂f/∂y at (t, y) into `jacobian` (dim x dim, any Eigen storage order): column j is
// (∂f/∂y) e_j. Each column's arithmetic is that of a JVP alone, so J does not depend on how
// columns are grouped.
template <class Real, class Derived>
void network_jacobian(const Network& net, double t, const Real* theta, const Real* y,
                      Eigen::MatrixBase<Derived>& jacobian, JacobianWorkspace<Real>& ws) {
  constexpr int L = JacobianWorkspace<Real>::lanes;
  const int dim = net.dim();
  std::fill(ws.t.begin(), ws.t.end(), t);
  for (int d = 0; d < dim; ++d) std::fill_n(ws.y.begin() + d * L, L, y[d]);
  for (int first = 0; first < dim; first += L) {
    const int columns = std::min(L, dim - first);
    std::fill(ws.v.begin(), ws.v.end(), Real(0));
    for (int l = 0; l < columns; ++l) ws.v[(first + l) * L + l] = 1;
    evaluate_jvp<L>(net, ws.t.data(), theta, ws.y.data(), ws.v.data(), ws.f.data(),
                    ws.jv.data(), ws.net);
    // jv is component-major, [d][lane]: row-major (dim x L), lane l being column first + l.
    const Eigen::Map<const Eigen::Matrix<Real, Eigen::Dynamic, L, Eigen::RowMajor>> block(
        ws.jv.data(), dim, L);
    jacobian.middleCols(first, columns) = block.leftCols(columns);
  }
}

}  // namespace neuralode
