"""The float tanh_array (activations.hpp) is accurate to its documented bound: builds
tanh_float_accuracy.cpp against the headers with the extension's flags (warnings are
errors) and runs it over ~2.8e7 floats and the special values. The checker is also run
with a bound below the error it finds, and must reject it: the check can fail."""
import platform
import re
import shutil

import pytest

from cpp_programs import INCLUDE, ROOT, build_programs, run_program

SOURCE = ROOT / "tests" / "tanh_float_accuracy.cpp"
FLAGS = ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-trapping-math", "-Wall", "-Wextra",
         "-Werror", f"-I{INCLUDE}"]
MAX_ULP = 1.2  # activations.hpp: max error 1.198 ulp (exhaustive sweep)


@pytest.mark.skipif(shutil.which("g++") is None or platform.machine() != "x86_64",
                    reason="needs g++ on x86-64 (the platform the clones are built for)")
def test_float_tanh_is_within_its_ulp_bound():
    binary = build_programs({"tanh_float_accuracy": (SOURCE, FLAGS, [None])})[
        "tanh_float_accuracy"]
    result = run_program(binary, MAX_ULP)
    assert result.returncode == 0, result.stdout
    found = re.fullmatch(r"checked (\d+) values: max error ([\d.]+) ulp at x = \S+\n",
                         result.stdout)
    assert found, result.stdout
    checked, max_error = int(found[1]), float(found[2])
    assert checked > 27_000_000
    assert 1.0 < max_error <= MAX_ULP  # the worst case, just above 0.625, is in the sample

    # A bound the kernel does not meet is caught, with the offending value printed.
    result = run_program(binary, "1.0")
    assert result.returncode == 1
    assert "ulp from the exact value" in result.stdout
