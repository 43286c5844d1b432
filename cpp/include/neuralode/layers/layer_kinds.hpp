#pragma once
// The one list of layer kinds. The interpreter's dispatch (visit_kind), the kinds' numbers
// (kind_index) and their names (kind_from_name) are generated from it: a new kind is its
// header (see layer.hpp for what a kind provides) and one entry here. Python knows the kinds
// by name only (python/neuralode/_layers.py), so the order here is free.
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "concat_squash_linear.hpp"
#include "concat_time.hpp"
#include "elementwise.hpp"
#include "linear.hpp"
#include "power.hpp"

namespace neuralode {

using LayerKinds = std::tuple<layers::Linear, layers::Tanh, layers::Sigmoid, layers::Softplus,
                              layers::ELU, layers::Sin, layers::Identity, layers::ReLU,
                              layers::Power, layers::ConcatTime, layers::SiLU,
                              layers::ConcatSquashLinear>;

constexpr int num_layer_kinds = static_cast<int>(std::tuple_size_v<LayerKinds>);

namespace detail {

template <class Kind, class Tuple>
struct kind_position;
template <class Kind, class... Kinds>
struct kind_position<Kind, std::tuple<Kinds...>> {
  static constexpr int value = [] {
    constexpr bool same[] = {std::is_same_v<Kind, Kinds>...};
    for (int i = 0; i < static_cast<int>(sizeof...(Kinds)); ++i)
      if (same[i]) return i;
    return -1;
  }();
  static_assert(value >= 0, "not a kind listed in LayerKinds");
};

template <class Fn, std::size_t... I>
inline void visit_kind(int kind, Fn& fn, std::index_sequence<I...>) {
  // A chain of comparisons, which GCC turns into a jump table as it does a switch.
  (void)((kind == static_cast<int>(I) ? (fn(std::tuple_element_t<I, LayerKinds>{}), true)
                                      : false) ||
         ...);
}

}  // namespace detail

// The number of kind K in LayerKinds, for Layer::kind.
template <class Kind>
constexpr int kind_index = detail::kind_position<Kind, LayerKinds>::value;

// fn(K{}) for the kind K numbered `kind`; nothing for a number outside the list.
template <class Fn>
inline void visit_kind(int kind, Fn&& fn) {
  detail::visit_kind(kind, fn, std::make_index_sequence<std::tuple_size_v<LayerKinds>>{});
}

// The number of the kind called `name`, or -1.
inline int kind_from_name(const std::string& name) {
  int found = -1;
  for (int kind = 0; kind < num_layer_kinds; ++kind)
    visit_kind(kind, [&](auto k) {
      if (name == decltype(k)::name) found = kind;
    });
  return found;
}

inline std::string kind_name(int kind) {
  std::string name = "?";
  visit_kind(kind, [&](auto k) { name = decltype(k)::name; });
  return name;
}

}  // namespace neuralode
