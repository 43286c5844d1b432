// Network construction and evaluation; argument checking happens in python/neuralode/nets.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <neuralode/batch.hpp>
#include <neuralode/net_vjp.hpp>
#include <neuralode/nets.hpp>

#include "bindings.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

void register_nets(py::module_& m) {
  py::class_<Network>(m, "Network")
      .def(py::init([](const std::vector<std::tuple<int, int, int, long, double>>& specs, int dim,
                       long num_params) {
             std::vector<Layer> layers;
             for (const auto& [kind, in, out, offset, exponent] : specs)
               layers.push_back(Layer{static_cast<LayerKind>(kind), in, out, offset, exponent});
             return Network(std::move(layers), dim, num_params);
           }),
           py::arg("layers"), py::arg("dim"), py::arg("num_params"))
      .def_property_readonly("dim", &Network::dim)
      .def_property_readonly("num_params", &Network::num_params)
      // f(t_b, y_b) for every row b of y (B, dim); t has one entry per row.
      .def("forward",
           [](const Network& net, const Array& t, const Array& y, const Array& theta,
              int num_threads) {
             const long count = y.shape(0);
             const int dim = net.dim();
             Array out({count, static_cast<long>(dim)});
             const double *tp = t.data(), *yp = y.data(), *thetap = theta.data();
             double* outp = out.mutable_data();
             {
               py::gil_scoped_release release;
               parallel_over_samples(count, num_threads, [&](auto take) {
                 NetWorkspace ws;
                 net.prepare<1>(ws);
                 for (long b = take(); b >= 0; b = take())
                   net.forward<1>(tp + b, thetap, yp + b * dim, outp + b * dim, ws);
               });
             }
             return out;
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("num_threads") = 0)
      // Per row b: (a_b·∂f/∂y, a_b·∂f/∂θ, a_b·∂f/∂t) at (t_b, y_b), by the hand-written VJPs.
      .def("vjp",
           [](const Network& net, const Array& t, const Array& y, const Array& theta,
              const Array& a, int num_threads) {
             const long count = y.shape(0), params = net.num_params();
             const int dim = net.dim();
             Array a_y({count, static_cast<long>(dim)}), a_theta({count, params}), a_t(count);
             const double *tp = t.data(), *yp = y.data(), *thetap = theta.data(), *ap = a.data();
             double *a_yp = a_y.mutable_data(), *a_thetap = a_theta.mutable_data(),
                    *a_tp = a_t.mutable_data();
             {
               py::gil_scoped_release release;
               parallel_over_samples(count, num_threads, [&](auto take) {
                 NetWorkspace ws;
                 net.prepare<1>(ws);
                 NetTape tape;
                 prepare_tape<1>(net, tape);
                 std::vector<double> f(static_cast<size_t>(dim));
                 for (long b = take(); b >= 0; b = take()) {
                   forward_recorded<1>(net, tp + b, thetap, yp + b * dim, f.data(), tape, ws);
                   network_vjp<1>(net, thetap, tape, ap + b * dim, a_yp + b * dim,
                                  a_thetap + b * params, a_tp + b, ws);
                 }
               });
             }
             return py::make_tuple(a_y, a_theta, a_t);
           },
           py::arg("t"), py::arg("y"), py::arg("theta"), py::arg("a"), py::arg("num_threads") = 0);
}

}  // namespace neuralode::bindings
