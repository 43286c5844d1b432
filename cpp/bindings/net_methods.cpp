// Network.forward, vjp, _jvp and jacobian, compiled once per scalar type (NEURALODE_REAL,
// CMakeLists.txt): float32 arrays take the float overloads, other arrays are converted to
// float64. The class itself is registered in net_bindings.cpp.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <neuralode/batch.hpp>
#include <neuralode/jacobian.hpp>
#include <neuralode/net_jvp.hpp>
#include <neuralode/net_vjp.hpp>
#include <neuralode/nets.hpp>
#include <neuralode/simd.hpp>
#include <string>
#include <vector>

#include "array_checks.hpp"
#include "bindings.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

namespace {

constexpr int kRowLanes = 16;

// out = f(t, y) for the rows of block `block` of y (rows, dim): kRowLanes rows side by side
// (component-major), or one at a time for a last, partial block. Each row's arithmetic is the
// same either way.
template <class Real>
NEURALODE_SIMD_CLONES void forward_block(const Network& net, const double* t, const Real* theta,
                                         const Real* y, Real* out, long rows, long block,
                                         NetWorkspace<Real>& wide, NetWorkspace<Real>& one,
                                         std::vector<Real>& in_lanes,
                                         std::vector<Real>& out_lanes) {
  const int dim = net.dim();
  const long first = block * kRowLanes;
  if (first + kRowLanes > rows) {
    for (long b = first; b < rows; ++b)
      net.forward<1>(t + b, theta, y + b * dim, out + b * dim, one);
    return;
  }
  for (int l = 0; l < kRowLanes; ++l)
    for (int d = 0; d < dim; ++d) in_lanes[d * kRowLanes + l] = y[(first + l) * dim + d];
  net.forward<kRowLanes>(t + first, theta, in_lanes.data(), out_lanes.data(), wide);
  for (int l = 0; l < kRowLanes; ++l)
    for (int d = 0; d < dim; ++d) out[(first + l) * dim + d] = out_lanes[d * kRowLanes + l];
}

// The VJPs of the rows `take` hands out: (a·∂f/∂y, a·∂f/∂θ, a·∂f/∂t) at (t_b, y_b) into
// a_y (rows, dim), a_theta (rows, P) and a_t (rows).
template <class Take, class Real>
NEURALODE_SIMD_CLONES void vjp_rows(const Network& net, Take& take, const double* t,
                                    const Real* y, const Real* theta, const Real* a, Real* a_y,
                                    Real* a_theta, Real* a_t) {
  const int dim = net.dim();
  const long params = net.num_params();
  NetWorkspace<Real> ws;
  net.prepare<1>(ws);
  NetTape<Real> tape;
  prepare_tape<1>(net, tape);
  std::vector<Real> f(static_cast<size_t>(dim));
  for (long b = take(); b >= 0; b = take()) {
    forward_recorded<1>(net, t + b, theta, y + b * dim, f.data(), tape, ws);
    network_vjp<1>(net, theta, tape, a + b * dim, a_y + b * dim, a_theta + b * params, a_t + b,
                   ws);
  }
}

// f(t_b, y_b) and (∂f/∂y) v_b for the rows of block `block` (as forward_block groups them).
template <class Real>
NEURALODE_SIMD_CLONES void jvp_block(const Network& net, const double* t, const Real* theta,
                                     const Real* y, const Real* v, Real* f, Real* jv, long rows,
                                     long block, NetWorkspace<Real>& wide,
                                     NetWorkspace<Real>& one, std::vector<Real>& lanes) {
  const int dim = net.dim();
  const long first = block * kRowLanes;
  if (first + kRowLanes > rows) {
    for (long b = first; b < rows; ++b)
      network_jvp<1>(net, t + b, theta, y + b * dim, v + b * dim, f + b * dim, jv + b * dim, one);
    return;
  }
  const size_t width = static_cast<size_t>(dim) * kRowLanes;
  Real *y_lanes = lanes.data(), *v_lanes = y_lanes + width, *f_lanes = v_lanes + width,
         *jv_lanes = f_lanes + width;
  for (int l = 0; l < kRowLanes; ++l)
    for (int d = 0; d < dim; ++d) {
      y_lanes[d * kRowLanes + l] = y[(first + l) * dim + d];
      v_lanes[d * kRowLanes + l] = v[(first + l) * dim + d];
    }
  network_jvp<kRowLanes>(net, t + first, theta, y_lanes, v_lanes, f_lanes, jv_lanes, wide);
  for (int l = 0; l < kRowLanes; ++l)
    for (int d = 0; d < dim; ++d) {
      f[(first + l) * dim + d] = f_lanes[d * kRowLanes + l];
      jv[(first + l) * dim + d] = jv_lanes[d * kRowLanes + l];
    }
}

}  // namespace

template <class Real>
void register_network_methods(py::module_& m) {
  using RealArray = ArrayOf<Real>;
  auto cls = py::reinterpret_borrow<py::class_<Network>>(m.attr("Network"));
      // f(t_b, y_b) for every row b of y (B, dim); t has one entry per row.
  cls.def("forward",
           [](const Network& net, const Array& t, const RealArray& y, const RealArray& theta,
              int num_threads) {
             const long count = y.shape(0);
             const int dim = net.dim();
             RealArray out({count, static_cast<long>(dim)});
             const double* tp = t.data();
             const Real *yp = y.data(), *thetap = theta.data();
             Real* outp = out.mutable_data();
             {
               py::gil_scoped_release release;
               const long blocks = (count + kRowLanes - 1) / kRowLanes;
               // Whole lane blocks take W packed, once for the call, as solves do (a copy of
               // θ's matrices: about one row's evaluation).
               PackedMatrices<Real> packed;
               const bool packs = detail::lane_block<kRowLanes, Real> && count >= kRowLanes;
               if (packs) net.pack(thetap, false, packed);
               parallel_over_samples(blocks, num_threads, [&](auto take) {
                 NetWorkspace<Real> wide, one;
                 net.prepare<kRowLanes>(wide);
                 if (packs) wide.packed = &packed;
                 net.prepare<1>(one);
                 std::vector<Real> in_lanes(static_cast<size_t>(dim) * kRowLanes),
                     out_lanes(in_lanes.size());
                 for (long block = take(); block >= 0; block = take())
                   forward_block(net, tp, thetap, yp, outp, count, block, wide, one, in_lanes,
                                 out_lanes);
               }, static_cast<double>(kRowLanes) * net.num_params());  // one evaluation a row
             }
             return out;
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("num_threads") = 0)
      // Per row b: (a_b·∂f/∂y, a_b·∂f/∂θ, a_b·∂f/∂t) at (t_b, y_b), by the hand-written VJPs.
      .def("vjp",
           [](const Network& net, const Array& t, const RealArray& y, const RealArray& theta,
              const RealArray& a, int num_threads) {
             const long count = y.shape(0), params = net.num_params();
             RealArray a_y({count, static_cast<long>(net.dim())}), a_theta({count, params}),
                 a_t(count);
             const double* tp = t.data();
             const Real *yp = y.data(), *thetap = theta.data(), *ap = a.data();
             Real *a_yp = a_y.mutable_data(), *a_thetap = a_theta.mutable_data(),
                    *a_tp = a_t.mutable_data();
             {
               py::gil_scoped_release release;
               parallel_over_samples(count, num_threads, [&](auto take) {
                 vjp_rows(net, take, tp, yp, thetap, ap, a_yp, a_thetap, a_tp);
               }, 3.0 * static_cast<double>(params));  // a VJP: about 3 evaluations
             }
             return py::make_tuple(a_y, a_theta, a_t);
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("a"), py::arg("num_threads") = 0)
      // For tests: per row b, (f(t_b, y_b), (∂f/∂y) v_b) by the forward-mode JVPs, rows
      // grouped in lanes as forward groups them. No checks: t (B,), y and v (B, dim).
      .def("_jvp",
           [](const Network& net, const Array& t, const RealArray& y, const RealArray& theta,
              const RealArray& v) {
             const long count = y.shape(0);
             const int dim = net.dim();
             RealArray f({count, static_cast<long>(dim)}), jv({count, static_cast<long>(dim)});
             const double* tp = t.data();
             const Real *yp = y.data(), *thetap = theta.data(), *vp = v.data();
             Real *fp = f.mutable_data(), *jvp = jv.mutable_data();
             {
               py::gil_scoped_release release;
               NetWorkspace<Real> wide, one;
               net.prepare<kRowLanes>(wide);
               net.prepare<1>(one);
               std::vector<Real> lanes(static_cast<size_t>(dim) * kRowLanes * 4);
               for (long block = 0; block * kRowLanes < count; ++block)
                 jvp_block(net, tp, thetap, yp, vp, fp, jvp, count, block, wide, one, lanes);
             }
             return py::make_tuple(f, jv);
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("v"))
      // ∂f/∂y at (t_b, y_b) for every row b of y (B, dim): (B, dim, dim), row-major, exact
      // (forward mode, jacobian.hpp). nets.py checks for users; this guards the pointers.
      .def("jacobian",
           [](const Network& net, const Array& t, const RealArray& y, const RealArray& theta,
              int num_threads) {
             const long dim = net.dim();
             if (y.ndim() != 2 || y.shape(1) != dim || t.size() != y.shape(0) ||
                 theta.size() != net.num_params())
               throw py::value_error("jacobian takes t (B,), y (B, " + std::to_string(dim) +
                                     ") and theta (" + std::to_string(net.num_params()) + ",)");
             const long count = y.shape(0);
             RealArray out({count, dim, dim});
             const double* tp = t.data();
             const Real *yp = y.data(), *thetap = theta.data();
             Real* outp = out.mutable_data();
             {
               py::gil_scoped_release release;
               parallel_over_samples(count, num_threads, [&](auto take) {
                 JacobianWorkspace<Real> ws;
                 ws.prepare(net);
                 using RowMajor = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic,
                                                Eigen::RowMajor>;
                 for (long b = take(); b >= 0; b = take()) {
                   Eigen::Map<RowMajor> jacobian(outp + b * dim * dim, dim, dim);
                   network_jacobian(net, tp[b], thetap, yp + b * dim, jacobian, ws);
                 }
               }, static_cast<double>(dim) * net.num_params());  // dim JVPs a row
             }
             return out;
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("num_threads") = 0);
}

template void register_network_methods<NEURALODE_REAL>(py::module_& m);

}  // namespace neuralode::bindings
