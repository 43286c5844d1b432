"""save/load: one .npz holding the parameters and a JSON description (architecture, solver
settings, library version). Never pickle: loading runs no code from the file.

Writes are atomic (a temporary file in the same folder, then a rename), so a crash midway
leaves any previous file intact. Every problem with a file raises ValueError naming it.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from . import nets

__all__ = ["save", "load", "net_spec", "net_from_spec", "FORMAT", "FORMAT_VERSION"]

FORMAT = "neuralode-model"
FORMAT_VERSION = 1


def net_spec(net: nets.Sequential) -> list:
    """The layers of a network as JSON-ready dicts."""
    specs = []
    for layer in net.layers:
        spec = {"kind": layer.kind}
        if isinstance(layer, nets.Linear):
            spec.update(in_features=layer.in_features, out_features=layer.out_features)
        elif isinstance(layer, nets.Power):
            spec["p"] = layer.p
        specs.append(spec)
    return specs


_LAYERS = {cls.kind: cls for cls in (nets.Tanh, nets.Sigmoid, nets.Softplus, nets.ELU, nets.Sin,
                                     nets.Identity, nets.ReLU, nets.ConcatTime)}


def net_from_spec(specs) -> nets.Sequential:
    """The network described by :func:`net_spec`'s output; ValueError if it is malformed."""
    if not isinstance(specs, list) or not specs:
        raise ValueError("the network description must be a non-empty list of layers")
    layers = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError(f"layer {i} has no kind")
        kind = spec["kind"]
        if kind == "linear":
            layers.append(nets.Linear(spec.get("in_features"), spec.get("out_features")))
        elif kind == "power":
            layers.append(nets.Power(spec.get("p")))
        elif kind in _LAYERS:
            layers.append(_LAYERS[kind]())
        else:
            raise ValueError(f"layer {i} has an unknown kind {kind!r}")
    return nets.Sequential(*layers)


def _not_finite_numbers(arrays: dict):
    """The name of the first array that is not all finite numbers, or None."""
    for name, values in arrays.items():
        values = np.asarray(values)
        if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)):
            return name
    return None


def save(path, arrays: dict, metadata: dict) -> None:
    """Writes `arrays` (name -> float array) and `metadata` (JSON-ready) to `path`
    atomically. The library version and format are added to the metadata."""
    from . import __version__
    path = _path(path)
    bad = _not_finite_numbers(arrays)  # load refuses them: refuse them here first
    if bad:
        raise ValueError(f"cannot save: the {bad!r} are not all finite")
    meta = dict(metadata, format=FORMAT, format_version=FORMAT_VERSION, library_version=__version__)
    folder = os.path.dirname(os.path.abspath(path))
    text = json.dumps(meta, default=_plain)  # before the temporary file: may raise
    fd, tmp = tempfile.mkstemp(prefix=".neuralode-", suffix=".npz.tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would otherwise stay on the file
        with os.fdopen(fd, "wb") as f:
            np.savez(f, metadata=np.array(text),
                     **{name: np.asarray(a, dtype=np.float64) for name, a in arrays.items()})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _path(path) -> str:
    """os.fspath(path), or a TypeError naming the argument."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"`path` must be a file name (str or os.PathLike); got "
                        f"{type(path).__name__}") from None


def _plain(value):
    """numpy scalars and arrays in metadata as plain JSON values."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be saved in the metadata")


def _read(path):
    """(metadata dict, arrays dict) of a saved file, or ValueError naming what is wrong."""
    with open(path, "rb") as handle:  # ours to close, whatever np.load makes of it
        head = handle.read(6)
        if not head.startswith(b"PK\x03\x04"):  # else np.load would try .npy, then pickle
            what = "a single array, not" if head == b"\x93NUMPY" else "not"
            raise ValueError(f"{path}: not a readable neuralode model file ({what} an .npz "
                             "archive)")
        handle.seek(0)
        try:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            with loaded as f:
                contents = {name: f[name] for name in f.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
            raise ValueError(f"{path}: not a readable neuralode model file ({error})") from None
    if "metadata" not in contents or contents["metadata"].dtype.kind != "U":
        raise ValueError(f"{path}: not a neuralode model file (no metadata)")
    try:
        meta = json.loads(str(contents.pop("metadata")))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: corrupted metadata ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a neuralode model file (format {meta.get('format')!r})"
                         if isinstance(meta, dict) else f"{path}: corrupted metadata")
    return meta, contents


def load(path):
    """The model saved at `path` by ``model.save``. Raises ValueError naming the file for a
    truncated, corrupted or foreign file, a format or library version it cannot read, or an
    architecture that does not match the parameters."""
    from . import __version__
    from .models import _model_classes
    path = _path(path)
    meta, arrays = _read(path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: file format version {meta.get('format_version')} is not "
                         f"supported (this library reads version {FORMAT_VERSION})")
    saved = str(meta.get("library_version", "?"))
    if saved.split(".")[:2] != __version__.split(".")[:2]:
        raise ValueError(f"{path}: saved by neuralode {saved}, which this version "
                         f"({__version__}) cannot load; load it with neuralode {saved}")
    model = meta.get("model")
    cls = _model_classes().get(model) if isinstance(model, str) else None
    if cls is None:
        raise ValueError(f"{path}: unknown model {model!r}")
    bad = _not_finite_numbers(arrays)  # all saved arrays are parameters
    if bad:
        raise ValueError(f"{path}: the saved {bad!r} are not finite numbers")
    try:
        return cls.from_saved(meta, arrays)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path}: the saved architecture does not match its parameters or "
                         f"settings ({error})") from None
