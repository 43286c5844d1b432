#pragma once
// The forward solve of gradient="backprop" and "interpolated" for networks, recording every
// accepted step. In a file of its own so that the build compiles it beside the pullbacks
// (each is compiled once per instruction set) instead of after them.
#include <neuralode/backprop.hpp>

#include "solve_common.hpp"

namespace neuralode::bindings {

// solve_network_batch, with sample b's accepted steps recorded in tapes[b]. Call without
// the GIL.
void solve_network_recorded(const Network& net, const double* theta, const double* y0,
                            const Array& t, const ButcherTableau& tableau,
                            const SolverOptions& options, int num_threads, BatchResult& out,
                            StepTape* tapes);

}  // namespace neuralode::bindings
