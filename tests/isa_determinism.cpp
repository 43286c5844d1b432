// Every instruction-set clone computes the same bits (cpp/include/neuralode/simd.hpp): the
// forward pass and the VJPs of small networks, compiled for x86-64-v4, x86-64-v3 and baseline
// x86-64, must agree exactly, and in each a sample alone must match it among 8 lanes. Built
// and run by test_isa_determinism.py; prints the clones it compared, the values checked and
// a hash of them, or the first difference (exit status 1). Also checks that lane buffers
// start on cache lines.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <neuralode/net_jvp.hpp>
#include <neuralode/net_vjp.hpp>
#include <neuralode/nets.hpp>

using namespace neuralode;

namespace {

constexpr int kLanes = 8;

// f, every VJP output and a JVP on 8 lanes, appended to `out`; returns false if any lane
// evaluated alone gives other bits than it does among 8.
inline bool evaluate(const Network& net, const double* t, const double* theta, const double* y,
                     std::vector<double>& out) {
  const int dim = net.dim();
  const long params = net.num_params();
  NetWorkspace wide, one;
  net.prepare<kLanes>(wide);
  net.prepare<1>(one);
  NetTape tape, tape_one;
  prepare_tape<kLanes>(net, tape);
  prepare_tape<1>(net, tape_one);
  std::vector<double> f(static_cast<size_t>(dim) * kLanes), a_y(f.size()),
      a_theta(static_cast<size_t>(params) * kLanes), a_t(kLanes);
  forward_recorded<kLanes>(net, t, theta, y, f.data(), tape, wide);
  network_vjp<kLanes>(net, theta, tape, y, a_y.data(), a_theta.data(), a_t.data(), wide);
  std::vector<double> f_jvp(f.size()), jv(f.size());  // the tangent: a_y, any vector
  network_jvp<kLanes>(net, t, theta, y, a_y.data(), f_jvp.data(), jv.data(), wide);
  if (std::memcmp(f.data(), f_jvp.data(), f.size() * sizeof(double)) != 0) return false;
  for (const std::vector<double>* v : {&f, &a_y, &a_theta, &a_t, &jv})
    out.insert(out.end(), v->begin(), v->end());
  std::vector<double> y_one(dim), f_one(dim), a_y_one(dim), a_theta_one(params), v_one(dim),
      jv_one(dim);
  double a_t_one = 0;
  for (int l = 0; l < kLanes; ++l) {  // the same sample alone (its cotangent is its state)
    for (int d = 0; d < dim; ++d) y_one[d] = y[d * kLanes + l];
    for (int d = 0; d < dim; ++d) v_one[d] = a_y[d * kLanes + l];
    forward_recorded<1>(net, t + l, theta, y_one.data(), f_one.data(), tape_one, one);
    network_vjp<1>(net, theta, tape_one, y_one.data(), a_y_one.data(), a_theta_one.data(),
                   &a_t_one, one);
    network_jvp<1>(net, t + l, theta, y_one.data(), v_one.data(), f_one.data(), jv_one.data(),
                   one);
    bool same = std::memcmp(&a_t_one, &a_t[l], sizeof(double)) == 0;
    for (int d = 0; d < dim; ++d)
      same = same && std::memcmp(&f_one[d], &f[d * kLanes + l], sizeof(double)) == 0 &&
             std::memcmp(&a_y_one[d], &a_y[d * kLanes + l], sizeof(double)) == 0 &&
             std::memcmp(&jv_one[d], &jv[d * kLanes + l], sizeof(double)) == 0;
    for (long p = 0; p < params; ++p)
      same = same && std::memcmp(&a_theta_one[p], &a_theta[p * kLanes + l], sizeof(double)) == 0;
    if (!same) return false;
  }
  return true;
}

#define NEURALODE_CLONE(name, attributes)                                                 \
  attributes bool name(const Network& net, const double* t, const double* theta,          \
                       const double* y, std::vector<double>& out) {                       \
    return evaluate(net, t, theta, y, out);                                               \
  }
NEURALODE_CLONE(evaluate_baseline, __attribute__((flatten, noinline)))
#if defined(__x86_64__)
NEURALODE_CLONE(evaluate_v3, __attribute__((target("arch=x86-64-v3"), flatten, noinline)))
NEURALODE_CLONE(evaluate_v4, __attribute__((target("arch=x86-64-v4"), flatten, noinline)))
#endif

// Power(3), then Linear + Tanh for each hidden width, then Linear back to dim; with
// `squash`, ConcatSquashLinear + SiLU instead of Linear + Tanh.
Network make_network(int dim, const std::vector<int>& hidden, bool time_input,
                     bool squash = false) {
  std::vector<Layer> layers{Layer{kind_index<layers::Power>, dim, dim, 0, 3.0}};
  int width = dim;
  long offset = 0;
  if (time_input) {
    layers.push_back(Layer{kind_index<layers::ConcatTime>, width, width + 1, 0, 0});
    ++width;
  }
  for (int h : hidden) {
    const Layer hidden_layer = squash
        ? Layer{kind_index<layers::ConcatSquashLinear>, width, h, offset, 0}
        : Layer{kind_index<layers::Linear>, width, h, offset, 0};
    layers.push_back(hidden_layer);
    offset += squash ? layers::ConcatSquashLinear::num_params(hidden_layer)
                     : layers::Linear::num_params(hidden_layer);
    layers.push_back(squash ? Layer{kind_index<layers::SiLU>, h, h, 0, 0}
                            : Layer{kind_index<layers::Tanh>, h, h, 0, 0});
    width = h;
  }
  layers.push_back(Layer{kind_index<layers::Linear>, width, dim, offset, 0});
  offset += static_cast<long>(dim) * (width + 1);
  return Network(layers, dim, offset);
}

}  // namespace

int main() {
  // The lane buffers start on cache lines (aligned.hpp), whatever their size.
  for (std::size_t n = 1; n < 200; ++n) {
    aligned_vector<double> buffer(n);
    if (reinterpret_cast<std::uintptr_t>(buffer.data()) % 64 != 0) {
      std::printf("aligned_vector<double>(%zu) is not on a 64-byte boundary\n", n);
      return 1;
    }
  }
  using Evaluate = bool (*)(const Network&, const double*, const double*, const double*,
                            std::vector<double>&);
  std::vector<std::pair<const char*, Evaluate>> clones{{"baseline", evaluate_baseline}};
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    clones.emplace_back("x86-64-v3", evaluate_v3);
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    clones.emplace_back("x86-64-v4", evaluate_v4);
#endif
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const Network networks[] = {make_network(2, {50}, false), make_network(3, {20, 33}, true),
                              make_network(5, {17}, false), make_network(3, {9, 21}, true, true)};
  long checked = 0;
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the bits
  for (const Network& net : networks) {
    std::vector<double> theta(net.num_params()), y(static_cast<size_t>(net.dim()) * kLanes),
        t(kLanes);
    for (int rep = 0; rep < 500; ++rep) {
      for (double& v : theta) v = 0.7 * normal(rng);
      for (double& v : y) v = 1.5 * normal(rng);
      for (double& v : t) v = normal(rng);
      std::vector<double> reference;
      for (size_t c = 0; c < clones.size(); ++c) {
        std::vector<double> other;
        if (!clones[c].second(net, t.data(), theta.data(), y.data(), c ? other : reference)) {
          std::printf("%s: a sample alone differs from the same sample among %d lanes\n",
                      clones[c].first, kLanes);
          return 1;
        }
        if (c == 0) continue;
        for (size_t i = 0; i < reference.size(); ++i)
          if (std::memcmp(&reference[i], &other[i], sizeof(double)) != 0) {
            std::printf("%s differs from baseline at value %zu: %.17g vs %.17g\n", clones[c].first,
                        i, other[i], reference[i]);
            return 1;
          }
      }
      for (double v : reference) {
        std::uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        hash = (hash ^ bits) * 1099511628211ULL;
      }
      checked += static_cast<long>(reference.size());
    }
  }
  for (const auto& clone : clones) std::printf("%s ", clone.first);
  std::printf("\nchecked %ld values, hash %016llx\n", checked, static_cast<unsigned long long>(hash));
  return 0;
}
