"""The machine's double-precision FMA peak: builds bench/fma_peak.cpp with g++ (-O3
-march=native, in a temporary directory) and runs it. `python bench/fma_peak.py` prints it.

Each figure is in GFLOP/s, an FMA counting 2 flops, for each vector width this CPU has
(512-bit with AVX-512, 256-bit with FMA3) on 1 and 2 threads; `peak(threads)` is the best
width's. On a shared machine another process's work lowers the 2-thread figure.
"""
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fma_peak.cpp")
FLAGS = ["-std=c++17", "-O3", "-march=native", "-ffp-contract=fast", "-pthread"]
LINE = re.compile(r"fma_peak bits=(\d+) threads=(\d+) gflops=([\d.]+)")


@functools.lru_cache(maxsize=None)
def measure():
    """{(vector bits, threads): GFLOP/s} for 1 and 2 threads, or None without g++ or FMA
    instructions. Measured once per process."""
    if shutil.which("g++") is None:
        return None
    with tempfile.TemporaryDirectory() as build:
        binary = os.path.join(build, "fma_peak")
        subprocess.run(["g++", *FLAGS, SOURCE, "-o", binary], check=True)
        result = subprocess.run([binary, "2"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return {(int(bits), int(threads)): float(gflops)
            for bits, threads, gflops in LINE.findall(result.stdout)}


def peak(threads=2):
    """(GFLOP/s, vector bits) of the fastest width on `threads` threads (1 or 2), or None."""
    figures = measure()
    if not figures:
        return None
    return max((gflops, bits) for (bits, n), gflops in figures.items() if n == threads)


def describe():
    """One line: the peak on 1 and 2 threads, and each width's figures."""
    figures = measure()
    if not figures:
        return "FMA peak: not measured (needs g++ and a CPU with FMA instructions)"
    widths = ", ".join(f"{bits}-bit {figures[bits, 1]:.1f} / {figures[bits, 2]:.1f}"
                       for bits in sorted({bits for bits, _ in figures}, reverse=True))
    (one, bits1), (two, bits2) = peak(1), peak(2)
    return (f"double-precision FMA peak (bench/fma_peak.cpp, 2 flops per FMA): "
            f"{one:.1f} GFLOP/s on 1 thread ({bits1}-bit), {two:.1f} GFLOP/s on 2 threads "
            f"({bits2}-bit); by width, 1 / 2 threads: {widths} GFLOP/s")


if __name__ == "__main__":
    print(describe())
    sys.exit(0 if measure() else 1)
