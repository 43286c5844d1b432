// The machine's double-precision FMA peak, in GFLOP/s (an FMA counts 2 flops), on 1 and on
// 2 threads, for each vector width the build supports (512-bit with AVX-512, 256-bit with
// FMA3): ACCUMULATORS independent chains acc = acc * a + b per thread, all in registers,
// enough to cover the FMA latency (4 cycles) on both FMA ports. Each figure is the best of
// REPETITIONS timed runs. Not part of the build; bench/fma_peak.py compiles and runs it:
//   g++ -std=c++17 -O3 -march=native -ffp-contract=fast -pthread bench/fma_peak.cpp -o fma_peak
// Prints one line per width and thread count:
//   fma_peak bits=512 threads=2 gflops=123.4
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int ACCUMULATORS = 12;  // 4-cycle latency x 2 ports = 8 chains in flight, and spare
constexpr int REPETITIONS = 7;
constexpr long ITERATIONS = 20'000'000;  // per thread and run: 0.1-0.2 s at a few GHz

// One vector width: a GCC vector of doubles. acc * a + b on it is one FMA instruction per
// vector (-ffp-contract=fast, as bench/fma_peak.py builds it).
typedef double Doubles4 __attribute__((vector_size(32)));
typedef double Doubles8 __attribute__((vector_size(64)));

template <class Reg>
struct Width {
  using reg = Reg;
  static constexpr int lanes = sizeof(Reg) / sizeof(double), bits = 8 * sizeof(Reg);
  static reg set(double x) {
    reg r;
    for (int i = 0; i < lanes; ++i) r[i] = x;
    return r;
  }
  static double sum(reg a) {
    double total = 0.0;
    for (int i = 0; i < lanes; ++i) total += a[i];
    return total;
  }
};

// acc = acc * a + b converges to b / (1 - a): no overflow, no subnormals.
template <class V>
__attribute__((noinline)) double chains(long iterations, double seed) {
  typename V::reg acc[ACCUMULATORS];
  for (int j = 0; j < ACCUMULATORS; ++j) acc[j] = V::set(seed + j);
  const typename V::reg a = V::set(0.999999), b = V::set(1e-6);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < ACCUMULATORS; ++j) acc[j] = acc[j] * a + b;
  }
  double total = 0.0;
  for (int j = 0; j < ACCUMULATORS; ++j) total += V::sum(acc[j]);
  return total;
}

template <class V>
double gflops(int threads) {
  double best = 1e300, sink = 0.0;
  for (int rep = 0; rep < REPETITIONS; ++rep) {
    std::vector<double> results(threads);
    std::vector<std::thread> team;
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < threads; ++k)
      team.emplace_back([&results, k] { results[k] = chains<V>(ITERATIONS, 1.0 + k); });
    for (auto& thread : team) thread.join();
    const std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
    best = std::min(best, spent.count());
    for (double r : results) sink += r;
  }
  if (sink == 42.0) std::puts("");  // keeps the results live
  const double flops = 2.0 * V::lanes * ACCUMULATORS * static_cast<double>(ITERATIONS) * threads;
  return flops / best * 1e-9;
}

template <class V>
void report(int max_threads) {
  for (int threads = 1; threads <= max_threads; ++threads)
    std::printf("fma_peak bits=%d threads=%d gflops=%.2f\n", V::bits, threads,
                gflops<V>(threads));
}

}  // namespace

int main(int argc, char** argv) {
  const int max_threads = argc > 1 ? std::atoi(argv[1]) : 2;
#ifdef __AVX512F__
  report<Width<Doubles8>>(max_threads);
#endif
#ifdef __FMA__
  report<Width<Doubles4>>(max_threads);
#endif
#if !defined(__AVX512F__) && !defined(__FMA__)
  std::puts("fma_peak: this CPU (or -march) has no FMA instructions");
  return 1;
#endif
  return 0;
}
