"""The command line: demo (fit + plot or CSV), check, bench, --help."""
import importlib.util
import os
import subprocess
import sys

import pytest

import neuralode
from neuralode.__main__ import main

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(neuralode.__file__)))


def _fake_checkout(folder):
    """A folder with a bench/compare.py that writes the arguments it was given."""
    (folder / "bench").mkdir()
    (folder / "bench" / "compare.py").write_text(
        "import pathlib, sys\n"
        "pathlib.Path(__file__).with_name('args.txt').write_text(' '.join(sys.argv[1:]))\n")
    return folder / "bench" / "args.txt"


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


@pytest.mark.parametrize("args", [["--only", "training"],
                                  ["--budget", "1.5", "--peer-iterations", "500"],
                                  ["--only", "gradients", "--budget", "1.5"], []])
def test_bench_passes_its_arguments_on_to_compare(tmp_path, args):
    written = _fake_checkout(tmp_path)
    assert main(["bench", "--source", str(tmp_path), *args]) == 0
    assert written.read_text() == " ".join(args)


def test_the_help_example_of_bench_runs_from_a_checkout(tmp_path):
    """`python -m neuralode bench --only training`, as the help and the README show it."""
    written = _fake_checkout(tmp_path)
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    help_text = subprocess.run([sys.executable, "-m", "neuralode", "bench", "--help"],
                               capture_output=True, text=True, check=True, env=env).stdout
    assert "bench --only training" in " ".join(help_text.split())  # however it wraps
    subprocess.run([sys.executable, "-m", "neuralode", "bench", "--only", "training"],
                   cwd=tmp_path, env=env, check=True)
    assert written.read_text() == "--only training"


def test_unknown_arguments_of_other_commands_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--only", "training"])
    assert "unrecognized arguments: --only training" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args):
    out = subprocess.run([sys.executable, "-m", "neuralode", *args], capture_output=True,
                         text=True, check=True).stdout
    assert "usage: python -m neuralode" in out


def test_bad_iterations_are_refused():
    with pytest.raises(SystemExit):
        main(["demo", "--iterations", "0"])
