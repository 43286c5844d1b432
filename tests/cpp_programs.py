"""Builds and runs the C++ test programs of tests/ (isa_determinism.cpp,
tanh_float_accuracy.cpp) against the library's headers.

A program's parts compile side by side, one per core, as the extension's objects do, and
the binaries are kept under build/test-programs/, named by a hash of everything they are
built from (the compiler's version, the flags, the source and every header of cpp/include):
the same inputs give the same program, so a second run of the suite (CI runs it twice, the
second time against the sanitized extension) does not compile them again.

The compiler and these programs are not the extension under test: they run without the ASan
runtime that .ci/sanitize preloads, which slowed g++ about twofold and checks nothing of
ours there."""
import concurrent.futures
import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
INCLUDE = ROOT / "cpp" / "include"
CACHE = ROOT / "build" / "test-programs"
SANITIZER_VARIABLES = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")


def plain_environment():
    return {k: v for k, v in os.environ.items() if k not in SANITIZER_VARIABLES}


def _run_compiler(command):
    done = subprocess.run(command, env=plain_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} failed:\n{done.stdout}")


@functools.lru_cache(maxsize=None)
def _compiler_version():
    return subprocess.run(["g++", "--version"], capture_output=True, text=True,
                          env=plain_environment()).stdout


def _inputs_hash(source, flags, parts):
    digest = hashlib.sha256()
    for text in (_compiler_version(), repr(flags), repr(parts), source.name):
        digest.update(text.encode())
    digest.update(source.read_bytes())
    for path in sorted(INCLUDE.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(INCLUDE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def build_programs(programs, cache=CACHE):
    """programs: {name: (source, flags, parts)}; parts is the list of values of
    NEURALODE_ISA_PART to compile as objects of their own (None: the source whole). Returns
    {name: path of the binary}, kept under `cache` where it can be written. Every
    compilation of every program runs in one pool."""
    existing = cache
    while not existing.exists():
        existing = existing.parent
    writable = os.access(existing, os.W_OK)
    scratch = pathlib.Path(tempfile.mkdtemp())
    binaries, compiles, links = {}, [], []
    for name, (source, flags, parts) in programs.items():
        home = cache / f"{name}-{_inputs_hash(source, flags, parts)}" if writable \
            else scratch / name
        binaries[name] = home / name
        if binaries[name].exists():
            continue
        work = scratch / f"{name}-build"
        work.mkdir()
        objects = [work / f"part{part}.o" for part in parts]
        for part, obj in zip(parts, objects):
            define = [] if part is None else [f"-DNEURALODE_ISA_PART={part}"]
            compiles.append(["g++", *flags, *define, "-c", str(source), "-o", str(obj)])
        links.append((["g++", *flags, *map(str, objects), "-o", str(work / name)], work, binaries[name]))
    try:
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(_run_compiler, compiles))  # in order: the first error is raised
        for command, work, binary in links:
            _run_compiler(command)
            for obj in work.glob("*.o"):
                obj.unlink()
            binary.parent.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(work, binary.parent)  # whole or not at all
            except OSError:  # another run put it there first
                if not binary.exists():
                    raise
    finally:
        if writable:
            shutil.rmtree(scratch, ignore_errors=True)
    return binaries


def run_program(binary, *args):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                          env=plain_environment())


def run_programs(binaries):
    """Runs the binaries side by side; returns their CompletedProcess results in order."""
    with concurrent.futures.ThreadPoolExecutor(len(binaries)) as pool:
        return list(pool.map(run_program, binaries))
