"""The scripts in examples/ run as they are and reach what they claim."""
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name,expect", [
    ("spiral_fit.py", "RMS error over the whole trajectory"),
    ("irregular_series.py", "predicted at new times"),
    ("classifier_vs_resnet.py", "ResNetClassifier: test accuracy"),
])
def test_example_runs(name, expect):
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout
