#pragma once
// Explicit Runge-Kutta methods as data: one ButcherTableau per method, one generic stepper
// (stepper.hpp) for all of them.
#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>

namespace neuralode {

inline constexpr int max_stages = 7;
inline constexpr int max_dense_degree = 4;

struct ButcherTableau {
  std::string_view name;
  int stages;
  int order;        // order of the propagated solution
  int error_order;  // order of the embedded estimate; 0 for fixed-step methods
  std::array<double, max_stages> c;
  std::array<std::array<double, max_stages>, max_stages> a;
  std::array<double, max_stages> b;
  std::array<double, max_stages> error;  // b - b_hat; all zero for fixed-step methods
  // Continuous extension y(t + θh) = y + h Σ_i k_i Σ_j dense[i][j] θ^(j+1). When
  // dense_degree == 0 the loop uses cubic Hermite interpolation on (y, f) at both ends.
  int dense_degree;
  std::array<std::array<double, max_dense_degree>, max_stages> dense;

  constexpr bool adaptive() const { return error_order > 0; }

  // First-same-as-last, derived rather than declared: the last stage is evaluated at
  // t + h on exactly the propagated solution, so it is f(t_{n+1}, y_{n+1}).
  constexpr bool fsal() const {
    const int last = stages - 1;
    if (c[last] != 1.0 || b[last] != 0.0) return false;
    for (int j = 0; j < last; ++j)
      if (a[last][j] != b[j]) return false;
    return true;
  }
};

namespace detail {
inline constexpr ButcherTableau euler_tableau{
    "euler", 1, 1, 0, {0}, {{{0}}}, {1}, {0}, 0, {}};

inline constexpr ButcherTableau midpoint_tableau{
    "midpoint", 2, 2, 0, {0, 0.5}, {{{0}, {0.5}}}, {0, 1}, {0}, 0, {}};

inline constexpr ButcherTableau rk4_tableau{
    "rk4", 4, 4, 0,
    {0, 0.5, 0.5, 1},
    {{{0}, {0.5}, {0, 0.5}, {0, 0, 1}}},
    {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6},
    {0}, 0, {}};

// Bogacki & Shampine (1989), the 3(2) pair; dense output is cubic Hermite (third order).
inline constexpr ButcherTableau bosh3_tableau{
    "bosh3", 4, 3, 2,
    {0, 0.5, 0.75, 1},
    {{{0}, {0.5}, {0, 0.75}, {2.0 / 9, 1.0 / 3, 4.0 / 9}}},
    {2.0 / 9, 1.0 / 3, 4.0 / 9, 0},
    {2.0 / 9 - 7.0 / 24, 1.0 / 3 - 1.0 / 4, 4.0 / 9 - 1.0 / 3, -1.0 / 8},
    0, {}};

// Dormand & Prince (1980), the 5(4) pair with FSAL; quartic continuous extension of
// Shampine (1986) with the optimal c6, the one SciPy's RK45 uses.
inline constexpr ButcherTableau dopri5_tableau{
    "dopri5", 7, 5, 4,
    {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1},
    {{{0},
      {1.0 / 5},
      {3.0 / 40, 9.0 / 40},
      {44.0 / 45, -56.0 / 15, 32.0 / 9},
      {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
      {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}}},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0},
    {-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40},
    4,
    {{{1, -8048581381.0 / 2820520608, 8663915743.0 / 2820520608, -12715105075.0 / 11282082432},
      {0, 0, 0, 0},
      {0, 131558114200.0 / 32700410799, -68118460800.0 / 10900136933, 87487479700.0 / 32700410799},
      {0, -1754552775.0 / 470086768, 14199869525.0 / 1410260304, -10690763975.0 / 1880347072},
      {0, 127303824393.0 / 49829197408, -318862633887.0 / 49829197408,
       701980252875.0 / 199316789632},
      {0, -282668133.0 / 205662961, 2019193451.0 / 616988883, -1453857185.0 / 822651844},
      {0, 40617522.0 / 29380423, -110615467.0 / 29380423, 69997945.0 / 29380423}}}};
}  // namespace detail

inline constexpr std::array<const ButcherTableau*, 5> all_tableaux{
    &detail::euler_tableau, &detail::midpoint_tableau, &detail::rk4_tableau,
    &detail::bosh3_tableau, &detail::dopri5_tableau};

// nullptr when no method has that name.
inline const ButcherTableau* find_tableau(std::string_view name) {
  for (const ButcherTableau* tableau : all_tableaux)
    if (tableau->name == name) return tableau;
  return nullptr;
}

}  // namespace neuralode
