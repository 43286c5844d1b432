"""The command line: demo (fit + plot or CSV), check, bench, --help."""
import importlib.util
import subprocess
import sys

import pytest

from neuralode.__main__ import main


def test_demo_writes_its_outputs(tmp_path, capsys):
    assert main(["demo", "--iterations", "30", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "RMSE vs the noise-free truth" in printed
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "out" / "neuralode-demo.png").stat().st_size > 10_000
    else:
        assert "pip install" in printed
        rows = (tmp_path / "out" / "neuralode-demo.csv").read_text().splitlines()
        assert rows[0].startswith("trajectory,t,observed_x") and len(rows) == 1 + 16 * 150
        assert len((tmp_path / "out" / "neuralode-demo-loss.csv").read_text().splitlines()) == 31


def test_check_solves_known_problems(capsys):
    assert main(["check", "--batch", "8"]) == 0
    assert "max |x - e^t|" in capsys.readouterr().out


def test_bench_outside_a_checkout_says_where_to_run_it(tmp_path, capsys):
    assert main(["bench", "--source", str(tmp_path)]) == 2
    assert "bench/compare.py not found" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args):
    out = subprocess.run([sys.executable, "-m", "neuralode", *args], capture_output=True,
                         text=True, check=True).stdout
    assert "usage: python -m neuralode" in out


def test_bad_iterations_are_refused():
    with pytest.raises(SystemExit):
        main(["demo", "--iterations", "0"])
