"""save/load: exact round trips, every way a file can be wrong, atomic writes."""
import json
import os
import zipfile

import numpy as np
import pytest

import neuralode as nde
from neuralode import io


def model():
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 8), nde.nets.Tanh(),
                              nde.nets.ConcatTime(), nde.nets.Linear(9, 2))
    return nde.NeuralODE(net, method="bosh3", rtol=1e-6, atol=1e-8, gradient="backprop",
                         seed=4)


def test_round_trip_is_exact(tmp_path):
    m = model()
    path = tmp_path / "m.npz"
    m.save(path)
    loaded = nde.load(path)
    assert type(loaded) is nde.NeuralODE
    np.testing.assert_array_equal(loaded.params, m.params)
    assert (loaded.method, loaded.rtol, loaded.atol, loaded.gradient) == \
        ("bosh3", 1e-6, 1e-8, "backprop")
    assert repr(loaded.net) == repr(m.net)
    y0, t = np.array([1.0, 0.5]), np.linspace(0, 1, 5)
    np.testing.assert_array_equal(loaded.predict(y0, t), m.predict(y0, t))


def test_files_are_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, metadata=np.array([{"format": io.FORMAT}], dtype=object))
    with pytest.raises(ValueError, match="evil.npz: not a readable neuralode model file"):
        nde.load(path)


def _resave(src, dst, change):
    with np.load(src, allow_pickle=False) as f:
        contents = {k: f[k] for k in f.files}
    meta = json.loads(str(contents["metadata"]))
    change(meta, contents)
    contents["metadata"] = np.array(json.dumps(meta))
    np.savez(dst, **contents)


@pytest.mark.parametrize("change,message", [
    (lambda m, c: m.update(format="other"), "not a neuralode model file"),
    (lambda m, c: m.update(format_version=99), "format version 99 is not supported"),
    (lambda m, c: m.update(library_version="9.9.0"), "saved by neuralode 9.9.0"),
    (lambda m, c: m.update(model="Transformer"), "unknown model 'Transformer'"),
    (lambda m, c: c.update(params=c["params"][:-1]), "architecture does not match"),
    (lambda m, c: m["net"].append({"kind": "warp"}), "architecture does not match"),
    (lambda m, c: m["settings"].update(method="rk45"), "architecture does not match"),
    (lambda m, c: c.pop("params"), "architecture does not match"),
    (lambda m, c: m.update(model=["NeuralODE"]), r"unknown model \['NeuralODE'\]"),
    (lambda m, c: c["params"].__setitem__(0, np.nan), "'params' are not finite numbers"),
    (lambda m, c: c.update(params=c["params"].astype(str)), "'params' are not finite numbers"),
])
def test_wrong_files_raise_naming_the_file(tmp_path, change, message):
    good = tmp_path / "good.npz"
    model().save(good)
    bad = tmp_path / "bad.npz"
    _resave(good, bad, change)
    with pytest.raises(ValueError, match=f"bad.npz: .*{message}"):
        nde.load(bad)


def test_truncated_corrupted_and_foreign_files(tmp_path):
    good = tmp_path / "good.npz"
    model().save(good)
    raw = good.read_bytes()
    cases = {"truncated.npz": raw[:len(raw) // 2], "garbage.npz": b"\x00" * 100,
             "text.npz": b"hello"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}: not a readable neuralode model file"):
            nde.load(tmp_path / name)
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="plain.npz: not a neuralode model file"):
        nde.load(tmp_path / "plain.npz")
    corrupt = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(corrupt, "w") as z:
        z.writestr("metadata.npy", b"\x93NUMPY junk")
    with pytest.raises(ValueError, match="corrupt.npz"):
        nde.load(corrupt)
    with pytest.raises(FileNotFoundError):
        nde.load(tmp_path / "missing.npz")


def test_an_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = model()
    old.save(path)
    before = path.read_bytes()
    newer = model()
    newer.params = newer.params + 1

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        newer.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(nde.load(path).params, old.params)


def test_a_single_array_file_is_refused(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError, match="array.npz: .*a single array"):
        nde.load(path)


@pytest.mark.parametrize("cls", [nde.ODENetClassifier, nde.ResNetClassifier])
def test_classifier_round_trip(tmp_path, cls):
    X, y = nde.data.moons(60, seed=3)
    labels = np.array(["a", "b"])[y]
    clf = cls(width=4, hidden=(8,), max_iter=20).fit(X, labels)
    clf.save(tmp_path / "clf.npz")
    loaded = nde.load(tmp_path / "clf.npz")
    assert type(loaded) is cls and loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_saved_files_follow_the_umask_and_numpy_scalars_are_saved(tmp_path):
    X, y = nde.data.moons(40)
    clf = nde.ResNetClassifier(max_iter=5, random_state=np.int64(3)).fit(X, y)
    path = tmp_path / "clf.npz"
    clf.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert nde.load(path).random_state == 3


def test_a_classifier_with_bad_saved_settings_is_refused(tmp_path):
    X, y = nde.data.moons(40)
    good = tmp_path / "good.npz"
    nde.ODENetClassifier(max_iter=5).fit(X, y).save(good)
    bad = tmp_path / "bad.npz"
    _resave(good, bad, lambda m, c: m["estimator_params"].update(method="bogus"))
    with pytest.raises(ValueError, match="bad.npz: .*`method` must be one of"):
        nde.load(bad)


def test_non_finite_parameters_are_not_saved(tmp_path):
    m = model()
    m.params[0] = np.nan
    with pytest.raises(ValueError, match="cannot save: the 'params' are not all finite"):
        m.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)
