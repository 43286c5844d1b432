import tomllib
from pathlib import Path

import neuralode as nde


def test_version_is_written_once_and_agrees():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.exists():  # source checkout; an installed wheel has no pyproject beside it
        assert tomllib.loads(pyproject.read_text())["project"]["version"] == nde.__version__
    assert nde._core.__version__ == nde.__version__


def test_public_names():
    for name in nde.__all__:
        assert hasattr(nde, name)
    assert set(nde.METHODS) == {"euler", "midpoint", "rk4", "bosh3", "dopri5"}
