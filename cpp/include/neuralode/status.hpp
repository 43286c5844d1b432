#pragma once
// Per-sample outcome of a solve. Numerical failure is a value, never an exception, so that
// it can cross OpenMP regions and come back to Python as one status per sample.

namespace neuralode {

enum class Status : int {
  success = 0,
  max_steps_reached = 1,
  step_size_underflow = 2,
  non_finite_state = 3,
  interrupted = 4,
};

inline const char* status_name(Status status) {
  switch (status) {
    case Status::success: return "success";
    case Status::max_steps_reached: return "max_steps_reached";
    case Status::step_size_underflow: return "step_size_underflow";
    case Status::non_finite_state: return "non_finite_state";
    case Status::interrupted: return "interrupted";
  }
  return "unknown";
}

// What the user can do about each failure; shown in SolverError messages.
inline const char* status_hint(Status status) {
  switch (status) {
    case Status::success: return "";
    case Status::max_steps_reached:
      return "the solver took `max_steps` steps before reaching the end; increase `max_steps`, "
             "loosen `rtol`/`atol`, or check whether the problem is stiff";
    case Status::step_size_underflow:
      return "the step size fell below the floating-point resolution of t; the solution may "
             "blow up (a finite-time singularity) or the problem may be stiff";
    case Status::non_finite_state:
      return "the state or its derivative became NaN or inf; check the dynamics and the "
             "initial values, or reduce the step size";
    case Status::interrupted:
      return "the solve was interrupted (Ctrl-C)";
  }
  return "";
}

}  // namespace neuralode
