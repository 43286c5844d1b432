// The activations' kernels: scalar sigmoid, softplus, SiLU and powers over libm for double
// and float (the same calls in every instruction-set clone, so the clones agree), and below
// them a fast, deterministic elementwise tanh for double arrays; then the tanh for float
// arrays (at the end of the file, with its own accuracy notes).
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

// The scalar kernels, for Real = double or float: libm's exp, log1p and pow of that type
// (expf, log1pf, powf for float), the same calls in every clone, so the clones agree.

template <class Real>
inline Real softplus(Real x) {
  // log(1 + e^x) without overflow for large x or loss of digits for very negative x.
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <class Real>
inline Real sigmoid(Real x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const Real e = std::exp(x);
  return e / (1 + e);
}

// x * sigmoid(x): the SiLU of Elfwing et al. (2018), swish with beta = 1. -0 for very
// negative x, where the sigmoid underflows; x itself for large x.
template <class Real>
inline Real silu(Real x) {
  return x * sigmoid(x);
}

// The exponent stays a double (Layer::setting); a non-integer one is rounded to Real.
template <class Real>
inline Real integer_or_real_power(Real x, double p) {
  if (p == 2) return x * x;
  if (p == 3) return x * x * x;
  return std::pow(x, static_cast<Real>(p));
}

// The bits of a double or float as an unsigned integer of its size, or back: for the
// exponent and sign tricks of the tanh kernels below.
template <class To, class From>
inline To bit_copy(From value) {
  static_assert(sizeof(To) == sizeof(From));
  To out;
  std::memcpy(&out, &value, sizeof out);
  return out;
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
    const std::uint64_t ux = bit_copy<std::uint64_t>(in[i]);
    const std::uint64_t ua = ux & ~kSign;  // |x|; tanh is odd, sign reapplied
    const double ax = bit_copy<double>(ua);

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
        bit_copy<double>((bit_copy<std::uint64_t>(t) << 52) + (std::uint64_t{1023} << 52));

    // Both branches are always computed; select operands, divide once.
    const bool small = !(ax >= 0.625);  // or NaN
    const double A = small ? ax : 1.0;
    const double B = small ? ax * zp : -2.0 * den;
    const double C = small ? q : std::fma(p2k, num, den);
    out[i] = bit_copy<double>(bit_copy<std::uint64_t>(A + B / C) | (ux & kSign));
  }
}

// ---- float (single precision) ----------------------------------------------------------
// The tanh kernel for float arrays, all arithmetic in float (a conversion to double would
// halve the vector width).

// out[i] = tanh(in[i]) in single precision; in and out may be the same array. The loop body
// is branch-free and uses 32-bit lanes only, so an AVX-512 vector holds 16 elements (8 for
// the double kernel), and it has no division on the small branch.
//
// Method. |x| < 0.625: tanh(a) = a + a*z*P(z), z = a^2, P of degree 4: the minimax
// coefficients of Cephes tanhf.c (S. L. Moshier), which a weighted minimax fit reproduces;
// the term a*z*P is at most 11% of a, so its rounding errors barely reach the result.
// |x| >= 0.625: tanh(a) = 1 - 2/(e^y + 1), y = 2a. e^y = 2^k e^r with k = round(y/ln2)
// (float magic-number rounding), r = y - k*ln2 (Cody-Waite split of Cephes expf.c: k*kLn2Hi
// is exact), |r| <= ln2/2. e^r - 1 = r + r^2*E(r), E of degree 4, a weighted minimax fit
// (relative error 3e-9 on |r| <= 0.3466). e^y + 1 = 2^k (e^r - 1) + (2^k + 1) in one fma
// (2^k + 1 is exact for k <= 23; beyond, its rounding is far below the result's ulp), which
// spares the rounding of e^r itself; then one correctly rounded division and the
// subtraction from 1.
//
// Accuracy (exhaustive over all 2^32 floats, against the double tanh): max error 1.198 ulp,
// just above |x| = 0.625 (0.721 ulp below it); every result is within 1 ulp of the correctly
// rounded float, and 99.8% of them are that float. tests/test_tanh_float.py checks the bound
// on ~2.8e7 of them. Special values as in the double kernel: +-0 keep their sign,
// +-inf -> +-1, NaN -> NaN, subnormals and every |x| < 3.52e-4 map to themselves,
// |x| >= 9.0109... gives exactly +-1 (as does the correctly rounded tanh).
inline void tanh_array(const float* in, float* out, int n) {
  // Cephes tanhf: tanh(a) = a + a*z*P(z) on |a| < 0.625.
  constexpr float kP0 = -3.33332819422e-1f;
  constexpr float kP1 = 1.33314422036e-1f;
  constexpr float kP2 = -5.37397155531e-2f;
  constexpr float kP3 = 2.06390887954e-2f;
  constexpr float kP4 = -5.70498872745e-3f;
  // e^r - 1 = r + r^2*(kE0 + kE1 r + kE2 r^2 + kE3 r^3 + kE4 r^4) on |r| <= ln2/2.
  constexpr float kE0 = 0x1.fffffcp-2f;
  constexpr float kE1 = 0x1.555492p-3f;
  constexpr float kE2 = 0x1.5558f2p-5f;
  constexpr float kE3 = 0x1.1239e0p-7f;
  constexpr float kE4 = 0x1.6a2432p-10f;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 355/512: k*kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  // Adding 1.5*2^23 rounds y*log2e to an integer and leaves it in the low mantissa bits.
  constexpr float kMagic = 12582912.0f;
  // 1 - tanh(a) < 2^-25 for a > 9.01, so the result already rounds to 1; clamping keeps
  // k <= 29 (2^k finite) and maps inf to 1.
  constexpr float kClamp = 10.0f;
  constexpr std::uint32_t kSign = std::uint32_t{1} << 31;

  for (int i = 0; i < n; ++i) {
    const std::uint32_t ux = bit_copy<std::uint32_t>(in[i]);
    const float ax = bit_copy<float>(ux & ~kSign);  // |x|; tanh is odd, sign reapplied

    // Small branch. For subnormal a, z underflows to 0 and the result is a itself.
    const float z = ax * ax;
    const float p = std::fma(std::fma(std::fma(std::fma(kP4, z, kP3), z, kP2), z, kP1), z, kP0);
    const float small_value = std::fma(ax * z, p, ax);

    // Large branch; NaN is clamped here too and takes the small branch, which propagates it.
    const float a = ax < kClamp ? ax : kClamp;
    const float y = a + a;
    const float t = std::fma(y, kLog2e, kMagic);
    const float kf = t - kMagic;
    const float r = std::fma(-kf, kLn2Lo, std::fma(-kf, kLn2Hi, y));
    const float e =
        std::fma(std::fma(std::fma(std::fma(kE4, r, kE3), r, kE2), r, kE1), r, kE0);
    const float em1 = std::fma(r * r, e, r);  // e^r - 1
    // 2^k from k in the low bits of t, as in the double kernel.
    const float p2k =
        bit_copy<float>((bit_copy<std::uint32_t>(t) << 23) + (std::uint32_t{127} << 23));
    const float large_value = 1.0f - 2.0f / std::fma(p2k, em1, p2k + 1.0f);

    const bool small = !(ax >= 0.625f);  // or NaN
    const float value = small ? small_value : large_value;
    out[i] = bit_copy<float>(bit_copy<std::uint32_t>(value) | (ux & kSign));
  }
}

}  // namespace neuralode::detail
