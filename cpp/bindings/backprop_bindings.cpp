// The recorded solve (recorded_solve.hpp) of networks, compiled once per scalar type
// (NEURALODE_REAL, CMakeLists.txt).
#include <string>

#include "bindings.hpp"
#include "recorded_solve.hpp"

namespace neuralode::bindings {

template <class Real>
void register_backprop(py::module_& m, const std::string& suffix) {
  def_recorded<BoundNetworkRhs<Real>>(m, "NetworkRecordedSolve" + suffix);
}
template void register_backprop<NEURALODE_REAL>(py::module_& m, const std::string& suffix);

}  // namespace neuralode::bindings
