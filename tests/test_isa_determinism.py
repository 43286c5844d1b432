"""The instruction-set clones of the hot loops give the same bits (simd.hpp): builds
isa_determinism.cpp against the headers with the extension's flags and runs it, and checks
that an unoptimized build without OpenMP computes the very same values: the networks' and
those of the activation kernels alone (tanh_array for double and float, the float sigmoid,
softplus, SiLU and power)."""
import pathlib
import platform
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "isa_determinism.cpp"
FLAGS = ["-std=c++17", "-ffp-contract=off", "-Wall", "-Wextra", f"-I{ROOT / 'cpp' / 'include'}"]


def build_and_run(tmp_path, name, flags):
    binary = tmp_path / name
    subprocess.run(["g++", *FLAGS, *flags, str(SOURCE), "-o", str(binary)], check=True)
    result = subprocess.run([str(binary)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    clones, networks, kernels = result.stdout.splitlines()
    assert kernels.startswith("kernels: ")
    return clones.split(), (networks, kernels)


@pytest.mark.skipif(shutil.which("g++") is None or platform.machine() != "x86_64",
                    reason="needs g++ on x86-64 (the platform the clones are built for)")
def test_every_clone_and_build_gives_the_same_bits(tmp_path):
    clones, optimized = build_and_run(tmp_path, "optimized",
                                      ["-O3", "-fopenmp", "-fno-trapping-math"])
    assert clones[0] == "baseline"
    # The plain build's lane blocks take tiles of 3 outputs (AVX2's), the optimized one's the
    # CPU's (8 with AVX-512): tiles must not change a sum either.
    _, plain = build_and_run(tmp_path, "plain",
                             ["-O0", "-Wno-unknown-pragmas", "-DNEURALODE_BLOCK_TILE=3"])
    assert optimized == plain  # same count and hash of every value
