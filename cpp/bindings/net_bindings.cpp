// Network construction and evaluation; argument checking happens in python/neuralode/nets.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <neuralode/batch.hpp>
#include <neuralode/jacobian.hpp>
#include <neuralode/net_jvp.hpp>
#include <neuralode/net_vjp.hpp>
#include <neuralode/nets.hpp>
#include <neuralode/simd.hpp>

#include "array_checks.hpp"
#include "bindings.hpp"

namespace py = pybind11;

namespace neuralode::bindings {

void register_nets(py::module_& m) {
  // The layer kinds' names, in the order of LayerKinds (layers/layer_kinds.hpp).
  m.def("_layer_kinds", [] {
    std::vector<std::string> names;
    for (int kind = 0; kind < num_layer_kinds; ++kind) names.push_back(kind_name(kind));
    return names;
  });
  py::class_<Network>(m, "Network")
      // One (kind name, in_features, out_features, parameter offset, setting) per layer.
      .def(py::init([](const std::vector<std::tuple<std::string, int, int, long, double>>& specs,
                       int dim, long num_params) {
             std::vector<Layer> layers;
             for (const auto& [name, in, out, offset, setting] : specs) {
               const int kind = kind_from_name(name);
               if (kind < 0) throw std::invalid_argument("unknown layer kind '" + name + "'");
               layers.push_back(Layer{kind, in, out, offset, setting});
             }
             return Network(std::move(layers), dim, num_params);
           }),
           py::arg("layers"), py::arg("dim"), py::arg("num_params"))
      .def_property_readonly("dim", &Network::dim)
      .def_property_readonly("num_params", &Network::num_params);
}

}  // namespace neuralode::bindings
