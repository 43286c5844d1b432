// Throughput of the float and the double tanh_array (activations.hpp) over 4096 elements, in
// elements per nanosecond, the best of 50 interleaved repetitions. Not part of the build:
//   g++ -std=c++17 -O3 -ffp-contract=off -fno-trapping-math -Icpp/include bench/tanh_array.cpp
// (add -march=native for one build tuned for this CPU instead of the library's clones).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <neuralode/activations.hpp>
#include <neuralode/simd.hpp>

template <class T>
NEURALODE_SIMD_CLONES void kernel(const T* in, T* out, int n) {
  neuralode::detail::tanh_array(in, out, n);
}

template <class T>
struct Case {
  std::vector<T> in, out;
  double best_ns = 1e300;
  explicit Case(int n) : in(n), out(n) {
    std::mt19937 rng(1);
    std::normal_distribution<double> normal(0.0, 2.0);  // both branches, as in an MLP
    for (T& v : in) v = static_cast<T>(normal(rng));
  }
  void time(int iterations) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
      kernel(in.data(), out.data(), static_cast<int>(in.size()));
      asm volatile("" : : "r"(out.data()) : "memory");
    }
    const std::chrono::duration<double, std::nano> spent = std::chrono::steady_clock::now() - start;
    best_ns = std::min(best_ns, spent.count() / iterations);
  }
  double per_ns() const { return static_cast<double>(in.size()) / best_ns; }
};

int main() {
  const int n = 4096;
  Case<float> f(n);
  Case<double> d(n);
  for (int rep = 0; rep < 50; ++rep) {
    f.time(1000);
    d.time(1000);
  }
  std::printf("tanh_array, %d elements: float %.3f elements/ns, double %.3f elements/ns, "
              "float/double %.2f\n", n, f.per_ns(), d.per_ns(), f.per_ns() / d.per_ns());
}
