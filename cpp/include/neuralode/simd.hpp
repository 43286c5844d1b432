#pragma once
// Runtime choice of vector width for the hot loops. A function marked NEURALODE_SIMD_CLONES
// is compiled once per instruction set (x86-64-v4: AVX-512; x86-64-v3: AVX2 and FMA; baseline
// x86-64), with everything it calls inlined into it (`flatten`), and the loader picks the
// widest the CPU supports. The clones run the same IEEE operations in the same order, so they
// give bit-identical results; only the speed differs. The compiler fuses nothing on its own
// (-ffp-contract=off, no fast-math); where the code asks for a fused multiply-add
// (std::fma, correctly rounded by definition) the v3/v4 clones use the instruction and the
// baseline clone libm's fma: the same bits, slower. -DNEURALODE_NO_SIMD_CLONES compiles one
// copy (ThreadSanitizer cannot follow the loader's choice).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(NEURALODE_NO_SIMD_CLONES)
#if __GNUC__ >= 12
#define NEURALODE_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), flatten, \
                 noinline))
#else  // x86-64-v3/v4 as clone targets came with GCC 12; these CPUs have the same features
#define NEURALODE_SIMD_CLONES \
  __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default"), flatten, \
                 noinline))
#endif
#else
#define NEURALODE_SIMD_CLONES
#endif
