#include "recorded_solve.hpp"

namespace neuralode::bindings {

void solve_network_recorded(const Network& net, const double* theta, const double* y0,
                            const Array& t, const ButcherTableau& tableau,
                            const SolverOptions& options, int num_threads, BatchResult& out,
                            StepTape* tapes) {
  solve_network_batch(net, theta, y0, t, tableau, options, num_threads, out,
                      TapeRecorder{tapes});
}

}  // namespace neuralode::bindings
