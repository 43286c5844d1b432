#pragma once
// Runtime choice of vector width for the hot loops. A function marked NEURALODE_SIMD_CLONES
// is compiled once per instruction set (AVX-512, AVX2, baseline x86-64), with everything it
// calls inlined into it (`flatten`), and the loader picks the widest the CPU supports. The
// clones run the same IEEE operations in the same order (no FMA: -ffp-contract=off, no
// fast-math), so they give bit-identical results; only the speed differs.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NEURALODE_SIMD_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default"), flatten, noinline))
#else
#define NEURALODE_SIMD_CLONES
#endif
