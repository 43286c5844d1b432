#pragma once
// One layer of a Network, as the interpreter (nets.hpp) and the layer kinds see it.
//
// A layer kind is a struct of static members only (linear.hpp, elementwise.hpp, ...), listed
// once in layer_kinds.hpp, from which the interpreter's dispatch is generated:
//
//   static constexpr const char* name;  // as Python's layer classes and saved files spell it
//   static constexpr bool in_place;     // forward may write y over x; the VJP and JVP get
//                                       // g_in == g and v_out == v
//   static bool fits(const Layer&);     // whether the widths suit the kind
//   static long num_params(const Layer&);
//   template <int L, class Real> static void forward(const Layer&, const double* t,
//       const Real* theta, const Real* x, Real* y, Real* scratch);
//   template <int L, class Real> static void vjp(const Layer&, const double* t,
//       const Real* theta, const Real* x, const Real* y, const Real* g, Real* g_in,
//       Real* a_rest, Real* a_t, Real* scratch);
//   template <int L, class Real> static void jvp(const Layer&, const double* t,
//       const Real* theta, const Real* x, const Real* y, const Real* v, Real* v_out,
//       Real* scratch);
//
// A kind whose parameters begin with a matrix W may also declare
//   static constexpr bool packs = true;
// and then forward and vjp take one more argument, `const Real* packed`: W (forward) or Wᵀ
// (vjp) packed for the lane-block kernels (linear.hpp, pack_chains), or null.
//
// Real is the scalar type of states and parameters (double or float); times are always
// double (an input t is rounded to Real where a layer uses it as a feature).
// All arrays hold L lanes, component-major ([feature][lane]); t is one time per lane. theta
// points at the layer's own parameters. x is the layer's input and y its output (as forward
// computed it), g the cotangent of y and g_in that of x; a_t[l] gets the lane's aᵀ∂y/∂t
// added. v is a tangent of x and v_out the tangent of y it gives, at fixed t and θ.
// `scratch` holds 4 * max_width values. Each lane's arithmetic must not depend on L, nor on the instruction set.
//
// Parameters, where a kind has them, begin with a matrix W (out x in, row-major) followed by
// the rest (b, ...), and dL/dW is u xᵀ for the first `out` entries u of the rest's gradient
// (dL/db = g for Linear). vjp writes only the rest's gradient, a_rest ([num_params - out *
// in][L], every entry written); the caller forms u xᵀ where it wants dL/dW as such, or keeps
// u and x (the adjoint sums a step's u xᵀ over its stages at once: theta_records.hpp).
#include <type_traits>

namespace neuralode {

template <class Kind, class = void>
struct packs_weights : std::false_type {};
template <class Kind>
struct packs_weights<Kind, std::void_t<decltype(Kind::packs)>> : std::bool_constant<Kind::packs> {};

struct Layer {
  int kind;           // the kind's index in LayerKinds (layer_kinds.hpp): kind_index<K>
  int in_features;    // width of the layer's input
  int out_features;   // width of its output
  long param_offset;  // where its parameters start in θ (kinds with parameters)
  double setting;     // the kind's one real-valued setting (Power: the exponent)
};

}  // namespace neuralode
