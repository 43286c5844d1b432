"""The helper that builds the C++ test programs (cpp_programs.py): a program is compiled
from its parts and kept by the hash of its inputs, built anew when one of them changes, and
a compiler error fails with the compiler's message."""
import shutil

import pytest

from cpp_programs import build_programs, run_programs

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")

PARTS_SOURCE = """
int part_one();
#if NEURALODE_ISA_PART == 0
#include <cstdio>
int main() { std::printf("%d\\n", part_one() + VALUE); }
#else
int part_one() { return 40; }
#endif
"""


def test_parts_link_into_one_program_kept_until_an_input_changes(tmp_path):
    source = tmp_path / "two_parts.cpp"
    source.write_text(PARTS_SOURCE)
    cache = tmp_path / "cache"

    def build(value):
        return build_programs({"two": (source, ["-O1", f"-DVALUE={value}"], [0, 1])},
                              cache=cache)["two"]

    first = build(2)
    assert run_programs([first])[0].stdout == "42\n"
    assert list(first.parent.glob("*.o")) == []  # only the program is kept
    stamp = first.stat().st_mtime_ns
    assert build(2) == first and first.stat().st_mtime_ns == stamp  # not compiled again
    other = build(3)  # other flags: another program
    assert other != first and run_programs([other])[0].stdout == "43\n"
    source.write_text(PARTS_SOURCE.replace("40", "50"))  # another source
    assert run_programs([build(2)])[0].stdout == "52\n"


def test_a_compiler_error_fails_with_the_compilers_message(tmp_path):
    source = tmp_path / "broken.cpp"
    source.write_text("int main() { return undeclared_name; }\n")
    with pytest.raises(AssertionError, match="undeclared_name"):
        build_programs({"broken": (source, [], [None])}, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
