"""save/load: one .npz holding the parameters and a JSON description (architecture, solver
settings, library version). Never pickle: loading runs no code from the file.

Writes are atomic (a temporary file in the same folder, then a rename), so a crash midway
leaves any previous file intact. Every problem with a file raises ValueError naming it.
"""
from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from . import nets

__all__ = ["save", "load", "net_spec", "net_from_spec", "register_model", "FORMAT",
           "FORMAT_VERSION"]

FORMAT = "neuralode-model"
FORMAT_VERSION = 1

# The classes `load` rebuilds, by the name their files give under "model". Each model module
# registers its classes when imported (the package imports them all), so this module imports
# none of them.
_MODELS: dict = {}


def register_model(cls):
    """Lets :func:`load` rebuild files whose metadata says ``"model": cls.__name__``, by
    ``cls.from_saved(metadata, arrays)``. Returns `cls` (usable as a class decorator)."""
    _MODELS[cls.__name__] = cls
    return cls


def net_spec(net: nets.Sequential) -> list:
    """The layers of a network as JSON-ready dicts."""
    return net.spec()


net_from_spec = nets.network_from_spec  # the network net_spec describes; ValueError if malformed


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


# What a model file may hold, and how far a crafted one may go before it is refused.
_MEMBERS = ("metadata.npy", "params.npy")  # what save writes
_MAX_INFLATION = 50  # deflate gains ~1.1x on float parameters, ~10x on the JSON text
_INFLATION_SLACK = 2**16  # tiny members may inflate more than large ones
_MAX_DEPTH = 16  # the metadata nests 2 levels deep


def _open_regular(path):
    """A binary handle on `path` if it is a regular file: opening a FIFO would block, and a
    device or a directory is no model file. The path is checked before it is opened, the
    handle again after (opened non-blocking), in case the path changed in between."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path}: not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise ValueError(f"{path}: not a regular file")
    return handle


def _check_names(path, names):
    """Refuses members a model file never holds (they are not read) and repeated ones."""
    for name in names:
        if name not in _MEMBERS:
            raise ValueError(f"{path}: not a neuralode model file (unexpected member {name!r})")
    for name in set(names):
        if names.count(name) > 1:
            raise ValueError(f"{path}: not a readable neuralode model file (member {name!r} "
                             "appears twice)")


def _check_member(info, file_size):
    """Refuses what zipfile would read unsafely or not at all: other compression methods,
    encryption, sizes past the end of the file, and inflation past any real model file's."""
    name = info.filename
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(f"member {name!r} uses compression method {info.compress_type}; only "
                         "stored (0) and deflated (8) are read")
    if info.flag_bits & 0x61:  # bits 0, 5, 6: encrypted, patched, strongly encrypted
        raise ValueError(f"member {name!r} is encrypted")
    if not 0 <= info.header_offset <= file_size - info.compress_size:
        raise ValueError(f"member {name!r} declares {info.compress_size} bytes at offset "
                         f"{info.header_offset}, outside the file's {file_size}")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(f"member {name!r} declares {info.file_size} bytes but stores "
                         f"{info.compress_size}")
    if info.file_size > _MAX_INFLATION * info.compress_size + _INFLATION_SLACK:
        raise ValueError(f"member {name!r} inflates {info.compress_size} bytes to "
                         f"{info.file_size}, more than a model file ever does")


def _read_npy(archive, info) -> np.ndarray:
    """The array in member `info`: its .npy header is read and its shape checked against the
    member's size before any data is read; arrays of objects or records are refused."""
    name = info.filename
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, fortran_order, dtype = read_header(stream)
        except (ValueError, TypeError, KeyError, SyntaxError, RecursionError):
            raise ValueError(f"member {name!r} is not a .npy array") from None
        if dtype.hasobject:
            raise ValueError(f"member {name!r} holds objects")
        if dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
            raise ValueError(f"member {name!r} holds records, not numbers or text")
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - stream.tell()
        if min(shape, default=0) < 0 or nbytes != held:
            raise ValueError(f"member {name!r} declares shape {shape} of {dtype}, "
                             f"{nbytes} bytes, but holds {held}")
        data = stream.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"member {name!r} is truncated")
    order = "F" if fortran_order else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()


def _read_arrays(path, handle) -> dict:
    """name -> array of the file's members; ValueError naming the file for anything that is
    not a well-formed zip of .npy members of sizes the file can hold."""
    if handle.read(6) == b"\x93NUMPY":
        raise ValueError(f"{path}: not a readable neuralode model file (a single array, not "
                         "an .npz archive)")
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, NotImplementedError, ValueError):  # ValueError: bad UTF-8
        raise ValueError(f"{path}: not a readable neuralode model file (not a zip archive, a "
                         "corrupted one or one of a newer zip version)") from None
    with archive:
        _check_names(path, archive.namelist())
        file_size = os.fstat(handle.fileno()).st_size
        try:
            for info in archive.infolist():
                _check_member(info, file_size)
            return {info.filename[:-len(".npy")]: _read_npy(archive, info)
                    for info in archive.infolist()}
        except zipfile.BadZipFile:
            reason = "a member is corrupted"
        except zlib.error:
            reason = "compressed data is corrupted"
        except EOFError:  # its local header put its data past the end
            reason = "a member's data lies past the end of the file"
        except ValueError as error:  # raised above, in our words
            reason = str(error)
    raise ValueError(f"{path}: not a readable neuralode model file ({reason})")


def _too_deep(value, limit=_MAX_DEPTH) -> bool:
    """Whether the JSON `value` nests more than `limit` levels (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else \
            item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse_metadata(path, array) -> dict:
    """The metadata dict from its saved text, or ValueError naming the file."""
    if array is None or array.dtype.kind != "U" or array.shape != ():
        raise ValueError(f"{path}: not a neuralode model file (no metadata)")
    try:
        meta = json.loads(str(array[()]))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: corrupted metadata (invalid JSON at line {error.lineno} "
                         f"column {error.colno})") from None
    except RecursionError:
        raise ValueError(f"{path}: corrupted metadata (nested too deeply)") from None
    except ValueError:  # a character out of range, or an int of more digits than allowed
        raise ValueError(f"{path}: corrupted metadata (not valid text or numbers)") from None
    if _too_deep(meta):
        raise ValueError(f"{path}: corrupted metadata (nested more than {_MAX_DEPTH} levels)")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a neuralode model file (format {meta.get('format')!r})"
                         if isinstance(meta, dict) else f"{path}: corrupted metadata")
    return meta


def _read(path):
    """(metadata dict, arrays dict) of a saved file, or ValueError naming what is wrong."""
    with _open_regular(path) as handle:
        arrays = _read_arrays(path, handle)
    return _parse_metadata(path, arrays.pop("metadata", None)), arrays


def load(path):
    """The model saved at `path` by ``model.save``. Raises ValueError naming the file for a
    truncated, corrupted or foreign file, a format or library version it cannot read, or an
    architecture that does not match the parameters."""
    from . import __version__
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
    cls = _MODELS.get(model) if isinstance(model, str) else None
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
