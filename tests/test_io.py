"""save/load: exact round trips, every way a file can be wrong, atomic writes."""
import io as io_bytes
import json
import os
import re
import stat
import struct
import threading
import tracemalloc
import zipfile
import zlib

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


# -- crafted files: every size a file declares is checked before anything is allocated ----

def write_zip(path, members):
    """A zip written field by field, so a test can declare what zipfile would refuse to write:
    `members` is a list of (name, bytes as stored, method, declared size, crc)."""
    local, central = b"", b""
    for name, data, method, size, crc in members:
        name = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                               crc, len(data), size, len(name), 0, 0, 0, 0, 0, len(local)) + name
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data),
                             size, len(name), 0) + name + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(local), 0)
    path.write_bytes(local + central + end)


def stored(name, data, size=None):
    return name, data, zipfile.ZIP_STORED, len(data) if size is None else size, zlib.crc32(data)


def npy_header(shape, dtype="<f8"):
    out = io_bytes.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": dtype, "fortran_order": False,
                                              "shape": shape})
    return out.getvalue()


def saved_members(tmp_path, make=model):
    """name -> bytes of the members of a freshly saved model."""
    path = tmp_path / "good.npz"
    make().save(path)
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def load_within(path, megabytes=16):
    """The ValueError load raises for `path`, checked to have come without allocating more
    than `megabytes` (numpy's allocations are traced too)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=re.escape(path.name)) as info:
            nde.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < megabytes * 2**20, f"load allocated {peak / 2**20:.0f} MB"
    return str(info.value)


def classifier():
    X, y = nde.data.moons(40)
    return nde.ODENetClassifier(width=3, hidden=(4,), max_iter=2).fit(X, y)


@pytest.mark.parametrize("make,change", [
    (classifier, lambda m: m["estimator_params"].update(width=10**9)),
    (classifier, lambda m: m["estimator_params"].update(hidden=[4, 10**9])),
    (classifier, lambda m: m.update(n_features_in=10**9)),
    (classifier, lambda m: m.update(classes=list(range(10**5)))),
    (model, lambda m: (m["net"][1].update(out_features=10**9),
                       m["net"][4].update(in_features=10**9 + 1))),
], ids=["width", "hidden", "features", "classes", "net"])
def test_sizes_in_the_metadata_are_bounded_by_the_saved_parameters(tmp_path, make, change):
    # A 2 KB classifier file declaring width 10**9 made the loader allocate ~19 GB.
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    make().save(good)
    _resave(good, bad, lambda m, c: change(m))
    assert "does not match" in load_within(bad)


def _bomb(header):
    """A deflate stream of `header` then 1 GiB of zeros, in about 1 MB."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    mebibyte = deflate.compress(bytes(2**20)) + deflate.flush(zlib.Z_FULL_FLUSH)  # repeats
    return start + mebibyte * 2**10 + deflate.flush()


@pytest.mark.parametrize("declared,message", [
    (2**30, "'params.npy' inflates"),  # its true size: refused before inflating a byte
    (88, "a member is corrupted"),     # a small size: read that far, its crc does not match
], ids=["true-size", "small-size"])
def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path, declared, message):
    members = saved_members(tmp_path)
    path = tmp_path / "bomb.npz"
    header = npy_header((declared // 8,))
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     ("params.npy", _bomb(header), zipfile.ZIP_DEFLATED,
                      len(header) + declared, 0)])
    assert path.stat().st_size < 2**21
    assert message in load_within(path)


def test_a_member_declaring_a_huge_shape_is_refused_unread(tmp_path):
    members = saved_members(tmp_path)
    path = tmp_path / "huge.npz"
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     stored("params.npy", npy_header((10**12,)) + bytes(80))])
    assert "'params.npy' declares shape (1000000000000,)" in load_within(path)


def test_sizes_beyond_the_end_of_the_file_are_refused(tmp_path):
    members = saved_members(tmp_path)
    path = tmp_path / "claims.npz"
    header = npy_header((10**8,))
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     ("params.npy", header + bytes(80), zipfile.ZIP_STORED,
                      len(header) + 8 * 10**8, 0)])
    assert "'params.npy' declares" in load_within(path)


@pytest.mark.parametrize("offset,value,message", [
    (10, 1, "compression method 1"),     # a bit flip in the central directory's method field
    (10, 12, "compression method 12"),   # bzip2: zipfile would decompress it
    (8, 1, "encrypted"),                 # the general purpose flags: encrypted
    (20, 2**31, "outside the file"),     # the compressed size
    (42, 2**31, "outside the file"),     # the offset of the member
], ids=["shrunk", "bzip2", "encrypted", "compressed-size", "offset"])
def test_flipped_bits_in_the_directory_are_refused(tmp_path, offset, value, message):
    path = tmp_path / "flipped.npz"
    model().save(path)
    raw = bytearray(path.read_bytes())
    size = 2 if offset < 12 else 4
    for start in [m.start() for m in re.finditer(b"PK\x01\x02", raw)]:
        raw[start + offset:start + offset + size] = value.to_bytes(size, "little")
    path.write_bytes(raw)
    assert message in load_within(path)


def deflated(data, size=None, crc=None, cut=0):
    """A member deflated, its declared size and crc those of `data` unless given, its
    compressed stream `cut` bytes short."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = compressor.compress(data) + compressor.flush()
    return ("params.npy", stream[:len(stream) - cut], zipfile.ZIP_DEFLATED,
            len(data) if size is None else size, zlib.crc32(data) if crc is None else crc)


def _params_member():
    buffer = io_bytes.BytesIO()
    np.save(buffer, np.arange(44.0))
    return buffer.getvalue()


@pytest.mark.parametrize("member,message", [
    (lambda p: stored("params.npy", p[:-1] + b"x", size=len(p))[:4] + (zlib.crc32(p),),
     "a member is corrupted"),                              # its crc does not match
    (lambda p: ("params.npy", b"\xff" * 64, zipfile.ZIP_DEFLATED, len(p), zlib.crc32(p)),
     "compressed data is corrupted"),                       # not a deflate stream
    (lambda p: deflated(p, cut=8), "a member is corrupted"),  # the stream cut short
    (lambda p: deflated(p[:-8], size=len(p)), "'params.npy' is truncated"),  # ends early
], ids=["crc", "not-deflate", "cut", "ends-early"])
def test_corrupted_member_data_is_refused(tmp_path, member, message):
    members = saved_members(tmp_path)
    path = tmp_path / "data.npz"
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]), member(_params_member())])
    assert message in load_within(path)


def test_a_local_header_pointing_past_the_end_is_refused(tmp_path):
    path = tmp_path / "local.npz"
    model().save(path)
    raw = bytearray(path.read_bytes())
    start = raw.rindex(b"PK\x03\x04")  # the params member's local header
    raw[start + 28:start + 30] = b"\xff\xff"  # its extra field's length
    path.write_bytes(raw)
    assert "data lies past the end of the file" in load_within(path)


def _with_metadata(tmp_path, name, text):
    members = saved_members(tmp_path)
    path = tmp_path / name
    buffer = io_bytes.BytesIO()
    np.save(buffer, np.array(text))
    write_zip(path, [stored("metadata.npy", buffer.getvalue()),
                     stored("params.npy", members["params.npy"])])
    return path


@pytest.mark.parametrize("text,message", [
    ('{"format": ', "invalid JSON at line 1 column 12"),
    ('{"format": ' + "1" * 5000 + "}", "not valid text or numbers"),  # past int's digit limit
], ids=["invalid", "long-int"])
def test_corrupted_metadata_is_refused(tmp_path, text, message):
    assert message in load_within(_with_metadata(tmp_path, "meta.npz", text))


def test_deeply_nested_metadata_is_refused(tmp_path):
    path = _with_metadata(tmp_path, "deep.npz", "[" * 100_000 + "]" * 100_000)
    assert "nested" in load_within(path)
    meta = {"format": io.FORMAT, "x": json.loads("[" * 40 + "]" * 40)}
    path = _with_metadata(tmp_path, "deep2.npz", json.dumps(meta))
    assert "nested" in load_within(path)


def _load_in_a_thread(path, seconds=10):
    """The exception load raises for `path`; fails instead of hanging if load blocks."""
    outcome = []

    def run():
        try:
            nde.load(path)
        except BaseException as error:  # noqa: B902 - handed to the test thread
            outcome.append(error)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load({path}) blocked"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    error = _load_in_a_thread(fifo)
    assert isinstance(error, ValueError) and "model.npz: not a regular file" in str(error)


def test_directories_and_devices_are_refused(tmp_path):
    with pytest.raises(ValueError, match="model.npz: not a regular file"):
        (tmp_path / "model.npz").mkdir()
        nde.load(tmp_path / "model.npz")
    if os.path.exists(os.devnull) and stat.S_ISCHR(os.stat(os.devnull).st_mode):
        with pytest.raises(ValueError, match=f"{os.devnull}: not a regular file"):
            nde.load(os.devnull)


def test_a_file_turned_into_a_fifo_after_the_check_is_not_read(tmp_path, monkeypatch):
    # The path is checked, then opened without blocking and checked again on the handle.
    fifo = tmp_path / "swapped.npz"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(__file__)
                        if os.fspath(p) == os.fspath(fifo) else real_stat(p, *a, **k))
    error = _load_in_a_thread(fifo)
    assert isinstance(error, ValueError) and "swapped.npz: not a regular file" in str(error)


def test_unexpected_and_repeated_members_are_refused_unread(tmp_path):
    members = saved_members(tmp_path)
    pickled = io_bytes.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path = tmp_path / "extra.npz"
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     stored("params.npy", members["params.npy"]),
                     stored("payload.npy", pickled.getvalue())])
    assert "unexpected member 'payload.npy'" in load_within(path)
    path = tmp_path / "twice.npz"
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     stored("params.npy", members["params.npy"]),
                     stored("params.npy", members["params.npy"])])
    assert "'params.npy' appears twice" in load_within(path)


@pytest.mark.parametrize("header,data,message", [
    (npy_header((3,), "|O"), b"", "holds objects"),
    (npy_header((3,), [("a", "<f8")]), bytes(24), "holds records"),
    (npy_header((3,)), bytes(16), "declares shape (3,)"),     # too few bytes
    (npy_header((3,)), bytes(32), "declares shape (3,)"),     # trailing bytes
    (b"\x93NUMPY\x09\x00" + bytes(8), b"", "not a .npy array"),  # unknown format version
], ids=["objects", "records", "short", "long", "version"])
def test_member_headers_are_checked_before_their_data(tmp_path, header, data, message):
    members = saved_members(tmp_path)
    path = tmp_path / "member.npz"
    write_zip(path, [stored("metadata.npy", members["metadata.npy"]),
                     stored("params.npy", header + data)])
    assert message in load_within(path)


def test_a_deflated_file_is_read(tmp_path):
    # np.savez_compressed writes what save does, deflated: within the ratio it is accepted.
    good = tmp_path / "good.npz"
    model().save(good)
    with np.load(good) as f:
        np.savez_compressed(tmp_path / "small.npz", **{k: f[k] for k in f.files})
    np.testing.assert_array_equal(nde.load(tmp_path / "small.npz").params, nde.load(good).params)


def test_every_corrupted_byte_gives_a_value_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    model().save(bad)
    raw = bad.read_bytes()
    with open(bad, "r+b") as f:  # bytes rewritten in place: truncating is slow on some disks
        for i in range(len(raw)):
            for flip in (0x01, 0x80, 0xFF):
                f.seek(i)
                f.write(bytes([raw[i] ^ flip]))
                f.flush()
                try:
                    nde.load(bad)
                except ValueError as error:
                    assert str(error).startswith(f"{bad}: "), (i, flip, error)
            f.seek(i)
            f.write(raw[i:i + 1])
