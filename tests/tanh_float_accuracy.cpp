// The float tanh_array of activations.hpp against the double tanh: built and run by
// test_tanh_float.py. Samples: every float in [0.5, 1) and its negative (the branch point
// 0.625 and the largest errors lie there), 10^7 evenly spaced points across [-20, 20], 10^6
// random values of every scale from 2^-149 to 2^7, and the special values. Usage:
//   tanh_float_accuracy MAX_ULP
// checks that every result is within MAX_ULP ulp of the exact value (the double tanh, whose
// error is ~2^-29 float ulp) and within 1 ulp of the correctly rounded float, and that the
// special values come out as documented; prints the largest error found and where, or the
// first failure (exit status 1).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <neuralode/activations.hpp>
#include <neuralode/simd.hpp>

namespace {

// The library's way: one copy per instruction set, the widest the CPU has picked at load.
NEURALODE_SIMD_CLONES void tanh_float(const float* in, float* out, int n) {
  neuralode::detail::tanh_array(in, out, n);
}

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Position on the number line of floats (..., -0 and +0 both 0, ...).
std::int64_t ordinal(float f) {
  const std::uint32_t u = bits(f);
  const std::int64_t magnitude = u & 0x7fffffffu;
  return (u >> 31) ? -magnitude : magnitude;
}

// The spacing of floats around v (a double): 2^(e-24) for |v| in [2^(e-1), 2^e).
double float_ulp(double v) {
  v = std::fabs(v);
  if (v < std::numeric_limits<float>::min()) return std::numeric_limits<float>::denorm_min();
  int e;
  std::frexp(v, &e);
  return std::ldexp(1.0, e - 24);
}

double max_ulp_error = 0;
float worst_x = 0;
long checked = 0;

// Checks finite x, prints and returns false on a failure.
bool check(const std::vector<float>& x, double bound) {
  std::vector<float> y(x);
  tanh_float(y.data(), y.data(), static_cast<int>(y.size()));  // in place, as the layers do
  for (size_t i = 0; i < x.size(); ++i) {
    const double exact = std::tanh(static_cast<double>(x[i]));
    const float rounded = static_cast<float>(exact);
    const double error = std::fabs(static_cast<double>(y[i]) - exact) / float_ulp(exact);
    const std::int64_t distance = std::llabs(ordinal(y[i]) - ordinal(rounded));
    if (!(error <= bound) || distance > 1 || std::signbit(y[i]) != std::signbit(x[i])) {
      std::printf("tanh(%a) = %a, the correctly rounded float is %a: %.4f ulp from the exact "
                  "value, %lld ulp from the correctly rounded one (bound %.4f)\n",
                  x[i], y[i], rounded, error, static_cast<long long>(distance), bound);
      return false;
    }
    if (error > max_ulp_error) {
      max_ulp_error = error;
      worst_x = x[i];
    }
  }
  checked += static_cast<long>(x.size());
  return true;
}

bool special_values() {
  using limits = std::numeric_limits<float>;
  struct Case {
    float x, expected;
  };
  std::vector<Case> cases{{0.0f, 0.0f},
                          {-0.0f, -0.0f},
                          {limits::infinity(), 1.0f},
                          {-limits::infinity(), -1.0f},
                          {limits::max(), 1.0f},
                          {-limits::max(), -1.0f},
                          {20.0f, 1.0f},
                          {-10.0f, -1.0f},
                          {9.02f, 1.0f},
                          {limits::min(), limits::min()},
                          {-limits::min(), -limits::min()},
                          {1e-20f, 1e-20f},
                          {-0x1p-13f, -0x1p-13f}};
  for (std::uint32_t u = 1; u < (1u << 23); u += 4099) {  // subnormals: tanh(x) = x
    float d;
    std::memcpy(&d, &u, sizeof d);
    cases.push_back({d, d});
    cases.push_back({-d, -d});
  }
  std::vector<float> x, y;
  for (const Case& c : cases) x.push_back(c.x);
  x.push_back(limits::quiet_NaN());
  x.push_back(-limits::quiet_NaN());
  y.resize(x.size());
  tanh_float(x.data(), y.data(), static_cast<int>(x.size()));
  for (size_t i = 0; i < cases.size(); ++i)
    if (bits(y[i]) != bits(cases[i].expected)) {  // bits: the sign of zero counts
      std::printf("tanh(%a) = %a, expected %a\n", cases[i].x, y[i], cases[i].expected);
      return false;
    }
  for (size_t i = cases.size(); i < x.size(); ++i)
    if (!std::isnan(y[i])) {
      std::printf("tanh(NaN) = %a, expected NaN\n", y[i]);
      return false;
    }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::printf("usage: %s MAX_ULP\n", argv[0]);
    return 2;
  }
  const double bound = std::atof(argv[1]);
  if (!special_values()) return 1;
  std::vector<float> x;
  for (float v = 0.5f; v < 1.0f; v = std::nextafter(v, 2.0f)) {  // 2^23 floats, both signs
    x.push_back(v);
    x.push_back(-v);
  }
  if (!check(x, bound)) return 1;
  x.clear();
  const int points = 10000000;
  for (int i = 0; i <= points; ++i)
    x.push_back(static_cast<float>(-20.0 + 40.0 * i / points));
  if (!check(x, bound)) return 1;
  x.clear();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> exponent(-149.0, 7.0);
  std::bernoulli_distribution negative(0.5);
  for (int i = 0; i < 1000000; ++i) {
    const float v = static_cast<float>(std::exp2(exponent(rng)));
    x.push_back(negative(rng) ? -v : v);
  }
  if (!check(x, bound)) return 1;
  std::printf("checked %ld values: max error %.4f ulp at x = %a\n", checked, max_ulp_error,
              worst_x);
  return 0;
}
