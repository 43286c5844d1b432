// The activations' kernels: scalar sigmoid, softplus, SiLU and powers over libm (the same
// calls in every instruction-set clone, so the clones agree), and below them a fast,
// deterministic elementwise tanh for double arrays.
//
// Why: std::tanh is an opaque libm call (~6-8 ns/element) that keeps the MLP
// hidden-layer loop scalar. tanh_array is a branch-free loop body that GCC
// auto-vectorizes (SSE2, AVX2, AVX-512 clones): both branches are computed
// and selected, which -fno-trapping-math lets GCC turn into vector blends.
//
// Determinism: only IEEE +,-,*,/, fused multiply-adds written as std::fma
// (correctly rounded, so the FMA instruction and libm's fma agree), compares
// and bit operations, so a lane of the vector body, the scalar remainder and
// every instruction set give bit-identical results. Compile without
// -ffast-math; -ffp-contract=off stops the compiler fusing other a*b+c. The
// fused Horner steps and range reduction take a quarter of the operations out
// (simd.hpp compiles the hot paths with FMA where the CPU has it).
//
// Accuracy (dense sweeps vs long double tanhl): max error 1.57 ulp, just
// above |x| = 0.625. +-0 keep their sign, +-inf -> +-1, NaN -> NaN,
// subnormals map to themselves, |x| >= 19.0615... gives exactly +-1.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace neuralode::detail {

inline double softplus(double x) {
  // log(1 + e^x) without overflow for large x or loss of digits for very negative x.
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

inline double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

// x * sigmoid(x): the SiLU of Elfwing et al. (2018), swish with beta = 1. -0 for very
// negative x, where the sigmoid underflows; x itself for large x.
inline double silu(double x) { return x * sigmoid(x); }

inline double integer_or_real_power(double x, double p) {
  if (p == 2) return x * x;
  if (p == 3) return x * x * x;
  return std::pow(x, p);
}

// Bit-pattern helpers for the exponent and sign tricks below.
inline std::uint64_t tanh_bits_(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline double tanh_double_(std::uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

// out[i] = tanh(in[i]); in and out may be the same array.
inline void tanh_array(const double* in, double* out, int n) {
  // |x| < 0.625: tanh(a) = a + a*z*P(z)/Q(z), z = a^2: the Cody & Waite form
  // with the coefficients of Cephes tanh.c (S. L. Moshier); the correction
  // term is small, so its rounding errors barely reach the result.
  constexpr double kP0 = -9.64399179425052238628e-1;
  constexpr double kP1 = -9.92877231001918586564e1;
  constexpr double kP2 = -1.61468768441708447952e3;
  constexpr double kQ0 = 1.12811678491632931402e2;  // Q is monic
  constexpr double kQ1 = 2.23548839060100448583e3;
  constexpr double kQ2 = 4.84406305325125486048e3;
  // |x| >= 0.625: tanh(a) = 1 - 2/(e^y + 1), y = 2a. e^y = 2^k e^r with
  // k = round(y/ln2), r = y - k*ln2 (Cody-Waite split: kLn2Hi has few
  // mantissa bits, so k*kLn2Hi is exact). e^r = N/D, N = Q + rP, D = Q - rP,
  // the Pade form and coefficients of Cephes exp.c. Then
  // 2/(e^y + 1) = 2D/(2^k N + D): one division, shared with the small branch.
  constexpr double kLog2e = 1.4426950408889634073599;
  constexpr double kLn2Hi = 6.93145751953125e-1;
  constexpr double kLn2Lo = 1.42860682030941723212e-6;
  constexpr double kEP0 = 1.26177193074810590878e-4;
  constexpr double kEP1 = 3.02994407707441961300e-2;
  constexpr double kEP2 = 9.99999999999999999910e-1;
  constexpr double kEQ0 = 3.00198505138664455042e-6;
  constexpr double kEQ1 = 2.52448340349684104192e-3;
  constexpr double kEQ2 = 2.27265548208155028766e-1;
  constexpr double kEQ3 = 2.00000000000000000009e0;
  // Adding 1.5*2^52 rounds y*log2e to an integer (round-to-nearest) and
  // leaves it in the low mantissa bits; valid while |k| < 2^51.
  constexpr double kMagic = 6755399441055744.0;
  // 1 - tanh(a) < 2^-54 for a > 19.07, so the result already rounds to 1;
  // clamping keeps k <= 58 (2^k finite, magic trick valid) and maps inf to 1.
  constexpr double kClamp = 20.0;
  constexpr std::uint64_t kSign = std::uint64_t{1} << 63;

  for (int i = 0; i < n; ++i) {
    const std::uint64_t ux = tanh_bits_(in[i]);
    const std::uint64_t ua = ux & ~kSign;  // |x|; tanh is odd, sign reapplied
    const double ax = tanh_double_(ua);

    // Small branch: A + B/C with A = a, B = a*z*P(z), C = Q(z).
    const double z = ax * ax;
    const double zp = std::fma(std::fma(kP0, z, kP1), z, kP2) * z;
    const double q = std::fma(std::fma(z + kQ0, z, kQ1), z, kQ2);

    // Large branch: A = 1, B = -2D, C = 2^k N + D. NaN is clamped here too;
    // it takes the small branch below, which propagates it.
    const double a = ax < kClamp ? ax : kClamp;
    const double y = a + a;
    const double t = std::fma(y, kLog2e, kMagic);
    const double kd = t - kMagic;
    const double r = std::fma(-kd, kLn2Lo, std::fma(-kd, kLn2Hi, y));
    const double r2 = r * r;
    const double rp = std::fma(std::fma(kEP0, r2, kEP1), r2, kEP2) * r;
    const double eq = std::fma(std::fma(std::fma(kEQ0, r2, kEQ1), r2, kEQ2), r2, kEQ3);
    const double num = eq + rp;
    const double den = eq - rp;
    // 2^k from k in the low bits of t: the shift drops the magic's bits and
    // leaves k in the exponent field; adding 1023 << 52 biases it.
    const double p2k =
        tanh_double_((tanh_bits_(t) << 52) + (std::uint64_t{1023} << 52));

    // Both branches are always computed; select operands, divide once.
    const bool small = !(ax >= 0.625);  // or NaN
    const double A = small ? ax : 1.0;
    const double B = small ? ax * zp : -2.0 * den;
    const double C = small ? q : std::fma(p2k, num, den);
    out[i] = tanh_double_(tanh_bits_(A + B / C) | (ux & kSign));
  }
}

}  // namespace neuralode::detail
