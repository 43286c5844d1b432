// Every instruction-set clone computes the same bits (cpp/include/neuralode/simd.hpp): the
// forward pass and the VJPs of small networks, in double and in float, compiled for x86-64-v4,
// x86-64-v3 and baseline x86-64, must agree exactly, and in each a sample alone must match it
// among 16 lanes and in a lane block (16 doubles, 32 floats, packed matrices). Built
// and run by test_isa_determinism.py; prints the clones it compared, the values checked and
// a hash of them, or the first difference (exit status 1). Also checks that lane buffers
// start on cache lines, and that the activation kernels of activations.hpp alone (tanh_array
// for double and float, and the float sigmoid, softplus, SiLU and power) give the same bits
// in every clone, whole arrays (vector body and remainder) and one element at a time alike.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <neuralode/activations.hpp>
#include <neuralode/net_jvp.hpp>
#include <neuralode/net_vjp.hpp>
#include <neuralode/nets.hpp>

using namespace neuralode;

namespace {

// y and t hold kMaxLanes lanes; the lane blocks (16 doubles, 32 floats) take linear.hpp's
// lane-block kernels over packed matrices.
constexpr int kMaxLanes = 32;

// f, every VJP output and a JVP on L lanes (the first L of y's kMaxLanes), appended to `out`
// (floats exactly as doubles); returns false if any lane evaluated alone gives other bits
// than it does among L.
template <int L, class Real>
bool evaluate_on(const Network& net, const double* t, const Real* theta, const Real* y_all,
                 std::vector<double>& out) {
  const int dim = net.dim();
  const long params = net.num_params();
  std::vector<Real> y(static_cast<size_t>(dim) * L);
  for (int d = 0; d < dim; ++d)
    for (int l = 0; l < L; ++l) y[d * L + l] = y_all[d * kMaxLanes + l];
  NetWorkspace<Real> wide, one;
  net.prepare<L>(wide);
  net.prepare<1>(one);
  PackedMatrices<Real> packed;
  net.pack(theta, false, packed);
  net.pack(theta, true, packed);
  if (detail::lane_block<L, Real>) wide.packed = &packed;
  NetTape<Real> tape, tape_one;
  prepare_tape<L>(net, tape);
  prepare_tape<1>(net, tape_one);
  std::vector<Real> f(static_cast<size_t>(dim) * L), a_y(f.size()),
      a_theta(static_cast<size_t>(params) * L), a_t(L);
  forward_recorded<L>(net, t, theta, y.data(), f.data(), tape, wide);
  network_vjp<L>(net, theta, tape, y.data(), a_y.data(), a_theta.data(), a_t.data(), wide);
  std::vector<Real> f_jvp(f.size()), jv(f.size());  // the tangent: a_y, any vector
  network_jvp<L>(net, t, theta, y.data(), a_y.data(), f_jvp.data(), jv.data(), wide);
  if (std::memcmp(f.data(), f_jvp.data(), f.size() * sizeof(Real)) != 0) return false;
  for (const std::vector<Real>* v : {&f, &a_y, &a_theta, &a_t, &jv})
    out.insert(out.end(), v->begin(), v->end());
  std::vector<Real> y_one(dim), f_one(dim), a_y_one(dim), a_theta_one(params), v_one(dim),
      jv_one(dim);
  Real a_t_one = 0;
  for (int l = 0; l < L; ++l) {  // the same sample alone (its cotangent is its state)
    for (int d = 0; d < dim; ++d) y_one[d] = y[d * L + l];
    for (int d = 0; d < dim; ++d) v_one[d] = a_y[d * L + l];
    forward_recorded<1>(net, t + l, theta, y_one.data(), f_one.data(), tape_one, one);
    network_vjp<1>(net, theta, tape_one, y_one.data(), a_y_one.data(), a_theta_one.data(),
                   &a_t_one, one);
    network_jvp<1>(net, t + l, theta, y_one.data(), v_one.data(), f_one.data(), jv_one.data(),
                   one);
    bool same = std::memcmp(&a_t_one, &a_t[l], sizeof(Real)) == 0;
    for (int d = 0; d < dim; ++d)
      same = same && std::memcmp(&f_one[d], &f[d * L + l], sizeof(Real)) == 0 &&
             std::memcmp(&a_y_one[d], &a_y[d * L + l], sizeof(Real)) == 0 &&
             std::memcmp(&jv_one[d], &jv[d * L + l], sizeof(Real)) == 0;
    for (long p = 0; p < params; ++p)
      same = same && std::memcmp(&a_theta_one[p], &a_theta[p * L + l], sizeof(Real)) == 0;
    if (!same) return false;
  }
  return true;
}

// 16 lanes: a lane block of doubles, and the float lane groups of 16 (one vector) that
// net(...) uses; and a float lane block of 32.
template <class Real>
bool evaluate(const Network& net, const double* t, const Real* theta, const Real* y,
              std::vector<double>& out) {
  if constexpr (sizeof(Real) == sizeof(float))
    if (!evaluate_on<32>(net, t, theta, y, out)) return false;
  return evaluate_on<16>(net, t, theta, y, out);
}

// The activation kernels over `x` (one scalar type), appended to `out`; false if tanh_array on
// one element gives other bits than the same element within the whole array.
template <class T>
inline bool evaluate_kernels(const std::vector<T>& x, std::vector<T>& out) {
  const int n = static_cast<int>(x.size());
  std::vector<T> whole(x.size()), in_place(x);
  detail::tanh_array(x.data(), whole.data(), n);
  detail::tanh_array(in_place.data(), in_place.data(), n);  // in == out
  if (std::memcmp(whole.data(), in_place.data(), whole.size() * sizeof(T)) != 0) return false;
  for (int i = 0; i < n; ++i) {
    T one;
    detail::tanh_array(&x[i], &one, 1);
    if (std::memcmp(&one, &whole[i], sizeof(T)) != 0) return false;
  }
  out.insert(out.end(), whole.begin(), whole.end());
  for (const T v : x) {
    out.push_back(detail::sigmoid(v));
    out.push_back(detail::softplus(v));
    out.push_back(detail::silu(v));
    out.push_back(detail::integer_or_real_power(v, 3.0));
    out.push_back(detail::integer_or_real_power(v, 2.5));
  }
  return true;
}

}  // namespace

// Per instruction set (`suffix`): evaluate_<suffix>, the network in double, then in float
// (its parameters and states rounded to float); kernels_<suffix>, the activation kernels.
// Each is compiled in a part of its own (NEURALODE_ISA_PART 0: baseline and main, 1:
// x86-64-v3, 2: x86-64-v4), so that the test builds the three side by side.
#define NEURALODE_CLONES(suffix, attributes)                                              \
  attributes bool evaluate_##suffix(const Network& net, const double* t,                  \
                                    const double* theta, const double* y,                 \
                                    std::vector<double>& out) {                           \
    const std::vector<float> theta_f(theta, theta + net.num_params()),                    \
        y_f(y, y + static_cast<long>(net.dim()) * kMaxLanes);                            \
    return evaluate(net, t, theta, y, out) &&                                            \
           evaluate(net, t, theta_f.data(), y_f.data(), out);                            \
  }                                                                                       \
  attributes bool kernels_##suffix(const std::vector<double>& xd,                         \
                                   const std::vector<float>& xf, std::vector<double>& outd, \
                                   std::vector<float>& outf) {                            \
    return evaluate_kernels(xd, outd) && evaluate_kernels(xf, outf);                      \
  }
#define NEURALODE_DECLARE_CLONES(suffix)                                                   \
  bool evaluate_##suffix(const Network&, const double*, const double*, const double*,     \
                         std::vector<double>&);                                           \
  bool kernels_##suffix(const std::vector<double>&, const std::vector<float>&,             \
                        std::vector<double>&, std::vector<float>&);
NEURALODE_DECLARE_CLONES(baseline)
NEURALODE_DECLARE_CLONES(v3)
NEURALODE_DECLARE_CLONES(v4)

#if !defined(NEURALODE_ISA_PART) || NEURALODE_ISA_PART == 0
NEURALODE_CLONES(baseline, __attribute__((flatten, noinline)))
#endif
#if defined(__x86_64__) && (!defined(NEURALODE_ISA_PART) || NEURALODE_ISA_PART == 1)
NEURALODE_CLONES(v3, __attribute__((target("arch=x86-64-v3"), flatten, noinline)))
#endif
#if defined(__x86_64__) && (!defined(NEURALODE_ISA_PART) || NEURALODE_ISA_PART == 2)
NEURALODE_CLONES(v4, __attribute__((target("arch=x86-64-v4"), flatten, noinline)))
#endif

#if !defined(NEURALODE_ISA_PART) || NEURALODE_ISA_PART == 0
namespace {

// Kernel inputs: special values, both sides of the branch and clamp points, a dense grid over
// [-12, 12] and random values of every scale from 2^-40 to 64; an odd count leaves a
// remainder after the vector body.
template <class T>
std::vector<T> kernel_inputs(std::mt19937_64& rng) {
  using limits = std::numeric_limits<T>;
  std::vector<T> x{T(0),           -T(0),          limits::infinity(), -limits::infinity(),
                   limits::quiet_NaN(), limits::denorm_min(), -limits::denorm_min(),
                   limits::min(),  limits::max(),  -limits::max(), T(0.625), T(9.01),
                   T(10),          T(19.0615),     T(20),          T(1e-4), T(-1e-8)};
  for (const T edge : {T(0.625), T(9.01), T(10), T(19.0615), T(20)}) {
    T up = edge, down = edge;
    for (int i = 0; i < 8; ++i) {  // neighbours on both sides, of either sign
      up = std::nextafter(up, limits::infinity());
      down = std::nextafter(down, T(0));
      x.insert(x.end(), {up, down, -up, -down});
    }
  }
  for (int i = -24000; i <= 24000; ++i) x.push_back(static_cast<T>(i * 0.0005));
  std::uniform_real_distribution<double> exponent(-40.0, 6.0);
  std::bernoulli_distribution negative(0.5);
  for (int i = 0; i < 20001; ++i) {
    const double v = std::exp2(exponent(rng));
    x.push_back(static_cast<T>(negative(rng) ? -v : v));
  }
  return x;
}

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
                              make_network(5, {17}, false), make_network(3, {9, 21}, true, true),
                              make_network(3, {130, 70}, false)};  // tiled Linear (130 x 70)
  long checked = 0;
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the bits
  for (const Network& net : networks) {
    std::vector<double> theta(net.num_params()), y(static_cast<size_t>(net.dim()) * kMaxLanes),
        t(kMaxLanes);
    for (int rep = 0; rep < 500; ++rep) {
      for (double& v : theta) v = 0.7 * normal(rng);
      for (double& v : y) v = 1.5 * normal(rng);
      for (double& v : t) v = normal(rng);
      std::vector<double> reference;
      for (size_t c = 0; c < clones.size(); ++c) {
        std::vector<double> other;
        if (!clones[c].second(net, t.data(), theta.data(), y.data(), c ? other : reference)) {
          std::printf("%s: a sample alone differs from the same sample among its lanes\n",
                      clones[c].first);
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

  // The kernels alone, for both scalar types.
  using Kernels = bool (*)(const std::vector<double>&, const std::vector<float>&,
                           std::vector<double>&, std::vector<float>&);
  std::vector<std::pair<const char*, Kernels>> kernel_clones{{"baseline", kernels_baseline}};
#if defined(__x86_64__)
  if (clones.size() > 1) kernel_clones.emplace_back("x86-64-v3", kernels_v3);
  if (clones.size() > 2) kernel_clones.emplace_back("x86-64-v4", kernels_v4);
#endif
  const std::vector<double> xd = kernel_inputs<double>(rng);
  const std::vector<float> xf = kernel_inputs<float>(rng);
  std::vector<double> ref_d;
  std::vector<float> ref_f;
  for (size_t c = 0; c < kernel_clones.size(); ++c) {
    std::vector<double> od;
    std::vector<float> of;
    if (!kernel_clones[c].second(xd, xf, c ? od : ref_d, c ? of : ref_f)) {
      std::printf("%s: tanh_array on one element differs from the whole array\n",
                  kernel_clones[c].first);
      return 1;
    }
    if (c == 0) continue;
    if (std::memcmp(od.data(), ref_d.data(), od.size() * sizeof(double)) != 0 ||
        std::memcmp(of.data(), ref_f.data(), of.size() * sizeof(float)) != 0) {
      std::printf("%s: the activation kernels differ from baseline\n", kernel_clones[c].first);
      return 1;
    }
  }
  std::uint64_t kernel_hash = 1469598103934665603ULL;
  for (double v : ref_d) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    kernel_hash = (kernel_hash ^ bits) * 1099511628211ULL;
  }
  for (float v : ref_f) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    kernel_hash = (kernel_hash ^ bits) * 1099511628211ULL;
  }
  std::printf("kernels: checked %zu double and %zu float values, hash %016llx\n", ref_d.size(),
              ref_f.size(), static_cast<unsigned long long>(kernel_hash));
  return 0;
}
#endif
