"""The instruction-set clones of the hot loops give the same bits (simd.hpp): builds
isa_determinism.cpp against the headers with the extension's flags and runs it, and checks
that an unoptimized build without OpenMP computes the very same values: the networks' and
those of the activation kernels alone (tanh_array for double and float, the float sigmoid,
softplus, SiLU and power)."""
import platform
import shutil

import pytest

from cpp_programs import INCLUDE, ROOT, build_programs, run_programs

SOURCE = ROOT / "tests" / "isa_determinism.cpp"
FLAGS = ["-std=c++17", "-ffp-contract=off", "-Wall", "-Wextra", f"-I{INCLUDE}"]
PARTS = [0, 1, 2]  # baseline and main, x86-64-v3, x86-64-v4: compiled side by side
# The plain build's lane blocks take tiles of 3 outputs (AVX2's), the optimized one's the
# CPU's (8 with AVX-512): tiles must not change a sum either.
BUILDS = {"optimized": (SOURCE, [*FLAGS, "-O3", "-fopenmp", "-fno-trapping-math"], PARTS),
          "plain": (SOURCE, [*FLAGS, "-O0", "-Wno-unknown-pragmas", "-DNEURALODE_BLOCK_TILE=3"],
                    PARTS)}


def outputs(result):
    assert result.returncode == 0, result.stdout
    clones, networks, kernels = result.stdout.splitlines()
    assert kernels.startswith("kernels: ")
    return clones.split(), (networks, kernels)


@pytest.mark.skipif(shutil.which("g++") is None or platform.machine() != "x86_64",
                    reason="needs g++ on x86-64 (the platform the clones are built for)")
def test_every_clone_and_build_gives_the_same_bits():
    binaries = build_programs(BUILDS)
    optimized_run, plain_run = run_programs([binaries["optimized"], binaries["plain"]])
    clones, optimized = outputs(optimized_run)
    assert clones[0] == "baseline"
    _, plain = outputs(plain_run)
    assert optimized == plain  # same count and hash of every value
