"""The scripts in examples/ run as they are and reach what they claim."""
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _numbers(pattern, text):
    return [float(x) for x in re.findall(pattern, text)]


def _spiral_fit_learns(out):
    (first, last), = re.findall(r"loss (\S+) -> (\S+) in", out)
    rms, = _numbers(r"RMS error over the whole trajectory (\S+)", out)
    assert float(last) < float(first) / 100  # the training loss falls by orders of magnitude
    assert rms < 0.6  # whole trajectories from y0; the spiral's radius is about 2


def _irregular_series_validates(out):
    val, = _numbers(r"validation loss (\d\S*)", out)
    assert val < 0.05  # MSE on held-out trajectories of a signal of size about 1


def _classifiers_separate_the_moons(out):
    accuracies = _numbers(r"test accuracy (\S+),", out)
    assert len(accuracies) == 2 and min(accuracies) >= 0.9


def _lynx_hare_rates_match_least_squares(out):
    rates = dict(re.findall(r"^  (alpha|beta|gamma|delta) +(\S+)", out, flags=re.M))
    assert len(rates) == 4, out
    # least squares on the same counts with the initial state fitted as well (scipy
    # least_squares, as in the PyMC case study): the windows give the same rates within 10%
    reference = {"alpha": 0.481, "beta": 0.0248, "gamma": 0.926, "delta": 0.0275}
    for name, value in reference.items():
        assert float(rates[name]) == pytest.approx(value, rel=0.1), name
    factor, = _numbers(r"(\d+)x lower", out)
    assert factor >= 10
    (hare, lynx), = re.findall(r"RMSE hare (\S+), lynx (\S+) thousand", out)
    assert float(hare) < 10 and float(lynx) < 10  # the counts peak at 77 and 59 (thousands)


@pytest.mark.parametrize("name,expect,check", [
    ("spiral_fit.py", "RMS error over the whole trajectory", _spiral_fit_learns),
    ("irregular_series.py", "predicted at new times", _irregular_series_validates),
    ("classifier_vs_resnet.py", "ResNetClassifier: test accuracy", _classifiers_separate_the_moons),
    ("lynx_hare.py", "whole series predicted", _lynx_hare_rates_match_least_squares),
])
def test_example_runs(name, expect, check):
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout
    check(out.stdout)
