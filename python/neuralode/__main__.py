"""Command line: ``python -m neuralode demo`` fits a Neural ODE to irregularly sampled
spiral data and plots what it learned; ``check`` solves problems with known solutions and
prints errors, work and time; ``bench`` runs the benchmark comparison of a source checkout."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from . import __version__, nets, solve


def _timed(fn, repeats=5):
    """Result of fn and its best wall time over a few runs (the first run included)."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def _demo_exponential():
    t = np.linspace(0, 2, 21)
    sol, seconds = _timed(lambda: solve(lambda t, y: y, [1.0], t, rtol=1e-10, atol=1e-10))
    error = np.abs(sol.ys[:, 0] - np.exp(t)).max()
    print("1. dx/dt = x, x(0) = 1 on [0, 2] (a Python callable), dopri5 rtol = atol = 1e-10")
    print(f"   max |x - e^t| = {error:.2e}   steps {sol.stats.n_accepted} accepted, "
          f"{sol.stats.n_rejected} rejected   nfe {sol.stats.nfe}   {seconds * 1e3:.2f} ms")


def _demo_linear_batch(batch):
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    net = nets.Sequential(nets.Linear(2, 2))
    theta = np.concatenate([A.ravel(), [0.0, 0.0]])
    y0 = np.random.default_rng(0).normal(size=(batch, 2))
    t = np.linspace(0, 10, 50)
    sol, seconds = _timed(lambda: solve(net, y0, t, params=theta, rtol=1e-8, atol=1e-10))
    # exp(At) for this A: a rotation by 2t shrinking like e^(-0.1 t).
    c, s, decay = np.cos(2 * t), np.sin(2 * t), np.exp(-0.1 * t)
    exact = decay[:, None, None] * np.stack([c[:, None] * y0[:, 0] + s[:, None] * y0[:, 1],
                                             -s[:, None] * y0[:, 0] + c[:, None] * y0[:, 1]], -1)
    error = np.abs(sol.ys - exact).max()
    print(f"2. dy/dt = A y, a damped rotation, as a Linear(2, 2) network; {batch} initial values, "
          "each with its own steps, dopri5 rtol 1e-8 atol 1e-10")
    print(f"   max |y - exp(At) y0| = {error:.2e}   steps per sample {sol.stats.n_steps.min()}"
          f"..{sol.stats.n_steps.max()}   {seconds * 1e3:.2f} ms for the batch")


def _demo_spiral_net():
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    net = nets.Sequential(nets.Power(3), nets.Linear(2, 2))
    theta = np.concatenate([A.T.ravel(), [0.0, 0.0]])
    t = np.linspace(0, 25, 1000)
    sol, seconds = _timed(lambda: solve(net, [2.0, 0.0], t, params=theta, rtol=1e-7, atol=1e-9))
    reference = solve(net, [2.0, 0.0], t, params=theta, rtol=1e-12, atol=1e-14).ys
    error = np.abs(sol.ys - reference).max()
    print("3. The cubic spiral dy/dt = (y^3) A of the Neural ODE demo, as a network, 1000 outputs "
          "on [0, 25], dopri5 rtol 1e-7 atol 1e-9")
    print(f"   max error vs rtol 1e-12 = {error:.2e}   steps {sol.stats.n_accepted} accepted, "
          f"{sol.stats.n_rejected} rejected   nfe {sol.stats.nfe}   {seconds * 1e3:.2f} ms")


def check(args) -> int:
    print(f"neuralode {__version__}: solves with known answers\n")
    _demo_exponential()
    _demo_linear_batch(args.batch)
    _demo_spiral_net()
    return 0


def demo(args) -> int:
    from . import demo as fit_demo
    fit_demo.run(iterations=args.iterations, seed=args.seed, out=args.out,
                 gradient=args.gradient, progress=not args.quiet)
    return 0


def bench(args) -> int:
    """Runs bench/compare.py of the source checkout in the current folder (or --source)."""
    script = os.path.join(args.source, "bench", "compare.py")
    if not os.path.isfile(script):
        print(f"bench/compare.py not found under {os.path.abspath(args.source)}: run this "
              "from a source checkout of neuralode (or pass --source DIR); the peers compared "
              "come with `pip install \".[bench]\"`", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, script, *args.compare_args])


def main(argv=None) -> int:
    from .grad import GRADIENT_MODES
    parser = argparse.ArgumentParser(prog="python -m neuralode",
                                     description="neuralode: Neural ODEs with a C++ core.")
    parser.add_argument("--version", action="version", version=f"neuralode {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="fit a Neural ODE to noisy, irregularly sampled spiral trajectories and "
                     "plot what it learned (neuralode-demo.png; CSV without matplotlib)")
    demo_parser.add_argument("--iterations", type=int, default=3000,
                             help="Adam steps (default 3000)")
    demo_parser.add_argument("--seed", type=int, default=0, help="data and weights seed")
    demo_parser.add_argument("--out", default=".", help="folder for the output files")
    demo_parser.add_argument("--gradient", choices=GRADIENT_MODES, default="adjoint",
                             help="how gradients are computed (default adjoint)")
    demo_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    check_parser = commands.add_parser("check", help="solve problems with known solutions and "
                                                     "print errors, steps and timings")
    check_parser.add_argument("--batch", type=int, default=1024,
                              help="initial values in the batch problem (default 1024)")
    bench_parser = commands.add_parser(
        "bench", help="run the benchmark comparison (bench/compare.py of a source checkout)",
        usage="%(prog)s [-h] [--source SOURCE] [compare.py arguments ...]",
        epilog="Other arguments are passed on to compare.py, e.g. "
               "`python -m neuralode bench --only training`.")
    bench_parser.add_argument("--source", default=".", help="the source checkout (default .)")
    # compare.py's options are its own: argparse.REMAINDER after an optional refused them
    # ("unrecognized arguments: --only"), so bench takes whatever the parser does not know.
    args, unknown = parser.parse_known_args(argv)
    if args.command == "bench":
        args.compare_args = unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "demo" and args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.command == "check" and args.batch < 1:
        parser.error("--batch must be at least 1")
    return {"demo": demo, "check": check, "bench": bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
