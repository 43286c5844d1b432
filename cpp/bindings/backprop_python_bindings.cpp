// The recorded solve (recorded_solve.hpp) of Python dynamics, compiled once per scalar type
// (NEURALODE_REAL, CMakeLists.txt).
#include <string>

#include "bindings.hpp"
#include "recorded_solve.hpp"

namespace neuralode::bindings {

template <class Real>
void register_python_backprop(py::module_& m, const std::string& suffix) {
  def_recorded<PythonRhs<Real>>(m, "PythonRecordedSolve" + suffix);
}
template void register_python_backprop<NEURALODE_REAL>(py::module_& m,
                                                       const std::string& suffix);

}  // namespace neuralode::bindings
