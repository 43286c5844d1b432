"""Every ```python block of README.md runs, in order, in one namespace (later blocks use the
names of earlier ones, as a reader would), at the sizes the README shows; what the README
says about the results is checked afterwards. Shell blocks are not run: the
`python -m neuralode` commands they show are covered in test_cli.py."""
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    text = README.read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_the_python_blocks_this_file_checks():
    blocks = python_blocks()
    assert len(blocks) == 5
    assert "nde.odeint(lambda t, y: y" in blocks[0]
    assert "nde.odeint_vjp(" in blocks[1]
    assert "model.fit(" in blocks[2] and "ODENetClassifier" in blocks[2]
    assert "class Decay(nde.Dynamics)" in blocks[3]
    assert "sol.evaluate(" in blocks[4]


def test_readme_python_blocks_run_and_do_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the training block saves spiral.npz in the current folder
    blocks = python_blocks()
    ns = {}

    def run(i):
        exec(compile(blocks[i], f"README.md python block {i}", "exec"), ns)

    run(0)  # quickstart: a callable and a network
    np.testing.assert_allclose(ns["ys"][:, 0], np.exp(ns["t"]), rtol=1e-8)
    sol = ns["sol"]
    assert sol.ys.shape == (10, 1024, 2)
    assert sol.stats.nfe.shape == (1024,) and np.all(sol.status == "success")

    run(1)  # gradients against targets
    g, ys, targets = ns["g"], ns["ys"], ns["targets"]
    assert ns["loss"] == 0.5 * np.sum((ys - targets) ** 2)
    assert g.y0.shape == ns["y0"].shape and g.params.shape == ns["theta"].shape
    assert g.t.shape == ns["t"].shape and np.all(np.isfinite(g.params))

    run(2)  # training, saving, loading, the classifier
    assert ns["t"].shape == (8, 100) and ns["y"].shape == (100, 8, 2)
    assert len(ns["history"].loss) == 1000 and ns["pred"].shape == (100, 8, 2)
    assert (tmp_path / "spiral.npz").exists() and isinstance(ns["model"], ns["nde"].NeuralODE)
    assert ns["clf"].score(ns["X"][400:], ns["labels"][400:]) == 0.995  # "0.995 here"

    run(3)  # fitting a Dynamics recovers the rate its data were made with
    assert abs(ns["model"].params[0] - 0.7) < 1e-6  # "array([0.7]), to 1e-6"

    run(4)  # dense output: exp(-t) between the output times
    np.testing.assert_allclose(ns["sol"].evaluate([0.5, 1.5])[:, 0], np.exp([-0.5, -1.5]),
                               rtol=1e-6)
