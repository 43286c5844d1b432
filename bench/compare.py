"""Side-by-side comparison table for the forward solve: `python bench/compare.py`.

Times every implementation in one process on one machine (median over repeats after one
warm-up call) and prints ratios: the machines are shared and noisy, ratios travel better
than absolute times. Peers run when installed (`pip install ".[bench]"`).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fma_peak  # noqa: E402
import peers  # noqa: E402
import workloads as w  # noqa: E402

import neuralode as nde  # noqa: E402


# Threads of what ran before (OpenMP, OpenBLAS, torch) spin for a while after their work and
# take cores from the next timing on a small machine; a pause lets them go idle first.
SETTLE_SECONDS = 0.3


def _timed_calls(fn, budget, min_repeats, max_repeats):
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < budget
                                       and len(times) < max_repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_seconds(fn, budget, min_repeats=5, max_repeats=500):
    time.sleep(SETTLE_SECONDS)
    fn()  # warm-up
    return statistics.median(_timed_calls(fn, budget, min_repeats, max_repeats))


# Rows compared with each other are timed in turns, a block of calls each per round, so
# that a change in the machine's load over the run falls on all of them alike.
ROUNDS = 4


def median_seconds_side_by_side(fns, budget, max_repeats=500):
    """The median seconds per call of each of `fns` (None: not installed), `budget` seconds
    each, timed in ROUNDS interleaved blocks."""
    live = [i for i, fn in enumerate(fns) if fn is not None]
    for i in live:
        fns[i]()  # warm-up
    times = {i: [] for i in live}
    for _ in range(ROUNDS):
        for i in live:
            time.sleep(SETTLE_SECONDS)
            times[i] += _timed_calls(fns[i], budget / ROUNDS, 2, max_repeats // ROUNDS)
    return [statistics.median(times[i]) if i in times else None for i in range(len(fns))]


FIRST_CALLS = """
import sys, time
sys.path.insert(0, {bench!r})
import numpy as np
import workloads as w
if {workload!r} == "W1 network":
    net, theta = w.spiral_net()
    call = lambda: w.neuralode_w1_net(net, theta)
elif {workload!r} == "W2 B=1024":
    net, theta = w.w2_net()
    y0 = w.w2_y0(1024)
    call = lambda: w.neuralode_w2(net, theta, y0)
else:
    net, theta = w.w3_net()
    data = w.w3_data()
    call = lambda: w.neuralode_w3(net, theta, data, "adjoint")


def timed():
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def other_work():  # 64 MB through the caches, and some Python, as a program does between calls
    np.ones(8_000_000).sum()
    [str(i) for i in range(20_000)]


first, second = timed(), timed()
other_work()
after_work = timed()
time.sleep(0.02)  # idle: threads and cores go to sleep, the caches stay as they are
print(first, second, after_work, timed())
"""
FIRST_CALL_WORKLOADS = ("W1 network", "W2 B=1024", "W3 adjoint")


def first_and_later_call_seconds(workload, runs=5):
    """In fresh processes (medians of `runs`): the first call after import, the second right
    after it (warm caches), a third after other work has gone through the caches, and a
    fourth after 20 ms idle."""
    script = FIRST_CALLS.format(bench=os.path.dirname(os.path.abspath(__file__)),
                                workload=workload)
    # One OpenBLAS thread: numpy's spins for a while after import and would time it, not us.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    times = [tuple(map(float, subprocess.run([sys.executable, "-c", script], capture_output=True,
                                             text=True, check=True, env=env).stdout.split()))
             for _ in range(runs)]
    return tuple(statistics.median(run[i] for run in times) for i in range(4))


def python_overhead_per_call(budget):
    """Solver time per f call beyond f's own cost, for W1 with a Python callable."""
    sol = nde.solve(w.spiral, w.W1_Y0, w.W1_T, **w.W1_TOL)
    nfe = int(sol.stats.nfe)
    y = np.array(w.W1_Y0)

    def f_alone():
        for _ in range(nfe):
            w.spiral(0.5, y.copy())
    total = median_seconds(w.neuralode_w1_callable, budget)
    return (total - median_seconds(f_alone, budget)) / nfe, nfe


W4_SCRIPT = """
import sys
sys.path.insert(0, {bench!r})
import numpy as np, neuralode as nde, workloads as w
net, theta = w.w3_net()
t = np.linspace(0, {t_final}, {outputs})
ys, pullback = nde.odeint_vjp(net, w.W1_Y0, t, params=theta, gradient={gradient!r})
g = pullback(np.ones_like(ys))
forward = nde.solve(net, w.W1_Y0, t, params=theta).stats.nfe
# VmHWM, not ru_maxrss: after fork + exec the latter still holds the parent's peak.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmHWM"))
print(peak_kb, g.stats.stored_floats, forward, g.stats.nfe_backward)
"""


def w4_rows():
    """Peak RSS (fresh process each), stored floats and NFE of one forward+backward."""
    rows = []
    for gradient in ("adjoint", "interpolated", "backprop"):
        for outputs in (10, 50):
            for t_final in (5, 25, 100):
                script = W4_SCRIPT.format(bench=os.path.dirname(os.path.abspath(__file__)),
                                          t_final=t_final, gradient=gradient, outputs=outputs)
                out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                     text=True, check=True).stdout.split()
                rows.append((gradient, outputs, t_final, *map(int, out)))
    return rows


# diffrax 0.7.2 starts every adaptive solve with a step of 0.01: diffeqsolve wraps the term
# (WrapTerm) before PIDController.init, whose Hairer initial-step rule runs only for a bare
# ODETerm and otherwise returns 0.01. Rows with this first step compare gradients on the
# same steps.
DIFFRAX_FIRST_STEP = 0.01


def w5_problem():
    """(net, theta, data, error): W3's model and data, and error(grad), the relative L2 error
    of a dL/dθ against neuralode backprop at rtol 1e-12."""
    net, theta = w.w3_net()
    data = w.w3_data()
    _, reference = w.neuralode_w3(net, theta, data, "backprop", rtol=1e-12, atol=1e-12)
    return net, theta, data, lambda g: np.linalg.norm(g - reference) / np.linalg.norm(reference)


def w5_rows(problem):
    """Error of dL/dθ on W3 at rtol 1e-6, atol 1e-8, for each mode and peer."""
    net, theta, data, error = problem
    rows = []
    for gradient in nde.GRADIENT_MODES:
        _, grad = w.neuralode_w3(net, theta, data, gradient, rtol=1e-6, atol=1e-8)
        rows.append((f"neuralode {gradient}", grad))
    for gradient in nde.GRADIENT_MODES:
        _, grad = w.neuralode_w3(net, theta, data, gradient, rtol=1e-6, atol=1e-8,
                                 first_step=DIFFRAX_FIRST_STEP)
        rows.append((f"neuralode {gradient}, first_step {DIFFRAX_FIRST_STEP} as diffrax", grad))
    for name, factory in peers.W3.items():
        run = factory(net, theta, data, rtol=1e-6, atol=1e-8)
        if run is not None:
            rows.append((name, run()[1]))
    return [(name, error(g)) for name, g in rows]


def w5_tolerance_rows(problem, budget):
    """Error of dL/dθ (as in w5_rows) and time of a W3 step at rtol 1e-6 with diffrax's first
    step, and at rtol 1e-7 and 1e-8 (atol 100x smaller): what accuracy costs, next to the
    peers' errors at rtol 1e-6."""
    net, theta, data, error = problem
    rows = []
    for rtol, first_step in ((1e-6, DIFFRAX_FIRST_STEP), (1e-7, None), (1e-8, None)):
        for gradient in nde.GRADIENT_MODES:
            def step():
                return w.neuralode_w3(net, theta, data, gradient, rtol=rtol, atol=rtol / 100,
                                      first_step=first_step)
            rows.append((gradient, rtol, first_step, error(step()[1]),
                         median_seconds(step, budget)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per row")
    parser.add_argument("--only", choices=["forward", "float32", "w7", "w7grad", "gradients",
                                           "training"],
                        default=None, help="run one part of the comparison (float32: only "
                        "the W2 float32 group of the forward table; w7: the wide networks; "
                        "w7grad: W7 gradients, about a minute, not part of the full run)")
    parser.add_argument("--peer-iterations", type=int, default=20,
                        help="W6 iterations timed for torchdiffeq (its time is scaled to 500)")
    args = parser.parse_args()
    if args.only in (None, "forward"):
        forward_tables(args)
    if args.only == "float32":
        rows, notes = float32_group(args.budget)
        print_forward_rows(rows)
        print("\n" + "\n".join(notes))
    if args.only in (None, "w7"):
        w7_table(args)
    if args.only == "w7grad":  # minutes on 2 cores: only when asked for
        w7_gradient_table(args)
    if args.only in (None, "gradients"):
        gradient_tables(args)
    if args.only in (None, "training"):
        training_table(args)


def _network_alone_seconds(net, theta, ys, evaluations, budget):
    """Seconds of `evaluations` network evaluations alone, as one batched net(t, y, θ) call
    over the solution's states (the same kernels, lane blocks and threads as the solve, with
    no solver around them): what the solve would take if its loop cost nothing."""
    states = ys.reshape(-1, ys.shape[-1])
    rows = np.resize(states, (evaluations, states.shape[1]))
    return median_seconds(lambda: net(0.5, rows, theta), budget)


def w7_table(args):
    """W7: wide networks, one block of rows per (D, H, B), with what neuralode's solve reaches
    in GFLOP/s (the Linear layers' matrix products over all samples' f evaluations) and as a
    fraction of the machine's 2-thread FMA peak; then the same evaluations by the network
    alone (one batched call) and the solve's time over theirs: what the solver loop adds."""
    print(f"\nW7: dz/dt = MLP(z), D→H→H→D tanh, t ∈ [0, 1], 10 outputs, dopri5 rtol "
          f"{w.W7_TOL['rtol']:g} atol {w.W7_TOL['atol']:g}, float64; neuralode {nde.__version__}, "
          f"{os.cpu_count()} cores, median of repeats, each block timed in {ROUNDS} interleaved "
          "rounds")
    print(fma_peak.describe())
    peak = fma_peak.peak(2)
    print("\n| workload | implementation | median | neuralode faster by | GFLOP/s | "
          "of 2-thread FMA peak | network alone: GFLOP/s, of peak | solve / network alone |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    notes = []
    for dim, hidden, batch in w.W7_ROWS:
        net, theta = w.w7_net(dim, hidden)
        y0 = w.w7_y0(dim, batch)
        ours = "neuralode"
        entries = [(ours, lambda: w.neuralode_w7(net, theta, y0), None)]
        entries += [(PEER_LABELS.get(name, name), factory(net, theta, y0), ours)
                    for name, factory in peers.W7.items()]
        workload = f"W7 D={dim} H={hidden} B={batch}"
        rows = side_by_side(workload, entries, args.budget)
        solution = nde.solve(net, y0, w.W7_T, params=theta, **w.W7_TOL)
        nfe = solution.stats.nfe
        flops = w.w7_flops_per_eval(net) * int(nfe.sum())
        network_seconds = _network_alone_seconds(net, theta, solution.ys, int(nfe.sum()),
                                                 args.budget)
        for _, name, seconds, ours_seconds in rows:
            if seconds is None:
                print(f"| {workload} | {name} | not installed | | | | | |")
                continue
            ratio = f"{seconds / ours_seconds:.1f}×" if ours_seconds else ""
            rate = fraction = alone = share = ""
            if name == ours:
                rate = f"{flops / seconds * 1e-9:.1f}"
                fraction = f"{flops / seconds * 1e-9 / peak[0]:.1%}" if peak else ""
                alone = f"{flops / network_seconds * 1e-9:.1f}"
                if peak:
                    alone += f", {flops / network_seconds * 1e-9 / peak[0]:.1%}"
                share = f"{seconds / network_seconds:.2f}"
            print(f"| {workload} | {name} | {seconds * 1e3:.4g} ms | {ratio} | {rate} | "
                  f"{fraction} | {alone} | {share} |")
        notes.append(f"{workload}: neuralode NFE per sample {nfe.mean():.1f} (min {nfe.min()}, "
                     f"max {nfe.max()}), {flops * 1e-9:.3g} GFLOP of matrix products per solve")
    print("\n" + "\n".join(notes))
    for name, seconds in peers.COMPILE_SECONDS.items():
        if "W7" in name:
            print(f"{name}: compiled in {seconds:.2f} s before timing")


def _relative_difference(a, b):
    """max |a - b| / max |b|."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def _pullback_seconds(net, theta, y0, gradient, budget, min_repeats=3, max_repeats=50):
    """Median seconds of the pullback alone (a fresh odeint_vjp before each, not timed)."""
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < budget
                                       and len(times) < max_repeats):
        ys, pullback = nde.odeint_vjp(net, y0, w.W7_T, params=theta, gradient=gradient,
                                      **w.W7_TOL)
        ones = np.ones_like(ys)
        t0 = time.perf_counter()
        pullback(ones)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def w7_gradient_table(args):
    """W7 gradients: L = sum of all outputs of MLP(32, [256, 256]) at B = W7_GRAD_BATCH,
    odeint_vjp + pullback per gradient mode against torchdiffeq odeint_adjoint and diffrax
    RecursiveCheckpointAdjoint; then each mode's backward cost per f evaluation against the
    forward solve's."""
    dim, hidden = w.W7_GRAD
    batch = w.W7_GRAD_BATCH
    net, theta = w.w7_net(dim, hidden)
    y0 = w.w7_y0(dim, batch)
    print(f"\nW7 gradients: L = sum of ys, dz/dt = MLP(z), D={dim} H={hidden} B={batch} tanh, "
          f"t ∈ [0, 1], 10 outputs, dopri5 rtol {w.W7_TOL['rtol']:g} atol "
          f"{w.W7_TOL['atol']:g} (forward and backward), float64; neuralode {nde.__version__}, "
          f"{os.cpu_count()} cores, median of repeats timed in {ROUNDS} interleaved rounds")
    entries = [(f"neuralode {g}", lambda g=g: w.neuralode_w7_grad(net, theta, y0, g))
               for g in nde.GRADIENT_MODES]
    entries += [(name, factory(net, theta, y0)) for name, factory in peers.W7_GRAD.items()]
    grads = {}
    for name, fn in entries:
        if fn is not None:
            out = fn()
            grads[name] = (out.y0, out.params) if name.startswith("neuralode") else out
    seconds = median_seconds_side_by_side([fn for _, fn in entries], args.budget,
                                          max_repeats=100)
    ref_y0, ref_theta = grads["neuralode adjoint"]
    ours = seconds[0]
    print("\n| W7 gradient, odeint_vjp + pullback | median | vs neuralode adjoint | "
          "dL/dy0 max rel. diff vs adjoint | dL/dθ max rel. diff vs adjoint |")
    print("|---|---:|---:|---:|---:|")
    for (name, _), sec in zip(entries, seconds):
        if sec is None:
            print(f"| {name} | not installed | | | |")
            continue
        g_y0, g_theta = grads[name]
        print(f"| {name} | {sec * 1e3:.4g} ms | {sec / ours:.2f}× | "
              f"{_relative_difference(g_y0, ref_y0):.1e} | "
              f"{_relative_difference(g_theta, ref_theta):.1e} |")
    for name, sec in peers.COMPILE_SECONDS.items():
        if "W7 grad" in name:
            print(f"{name}: compiled in {sec:.2f} s before timing")
    forward = lambda: nde.solve(net, y0, w.W7_T, params=theta, **w.W7_TOL)  # noqa: E731
    nfe_forward = int(forward().stats.nfe.sum())
    forward_seconds = median_seconds(forward, args.budget)
    print("\nBackward cost ratio = (pullback time / backward NFE) / (forward solve time / "
          "forward NFE), NFE summed over the batch; forward: nde.solve, "
          f"{forward_seconds * 1e3:.4g} ms, {nfe_forward} NFE "
          f"({forward_seconds / nfe_forward * 1e6:.3g} µs per f evaluation)")
    print("\n| mode | pullback median | backward NFE | µs per backward NFE | ratio |")
    print("|---|---:|---:|---:|---:|")
    for g in nde.GRADIENT_MODES:
        nfe_backward = int(np.sum(w.neuralode_w7_grad(net, theta, y0, g).stats.nfe_backward))
        pull = _pullback_seconds(net, theta, y0, g, args.budget)
        ratio = (pull / nfe_backward) / (forward_seconds / nfe_forward)
        print(f"| {g} | {pull * 1e3:.4g} ms | {nfe_backward} | "
              f"{pull / nfe_backward * 1e6:.3g} | {ratio:.2f} |")


def training_table(args):
    """W6: the whole 500-step training run, timed once per gradient mode (after one warm-up
    run), against torchdiffeq odeint_adjoint timed over --peer-iterations steps and scaled."""
    rows = []
    for gradient in nde.GRADIENT_MODES:
        w.neuralode_w6(gradient, iterations=5)  # warm-up: imports, caches
        start = time.perf_counter()
        loss = w.neuralode_w6(gradient)
        rows.append((f"neuralode {gradient}", time.perf_counter() - start, loss, ""))
    net, theta = w.w3_net()
    run = peers.torchdiffeq_w6(net, theta, args.peer_iterations)
    if run is not None:
        start = time.perf_counter()
        loss = run()
        seconds = (time.perf_counter() - start) * w.W6_ITERATIONS / args.peer_iterations
        note = f"(timed {args.peer_iterations} steps, scaled to {w.W6_ITERATIONS})"
        if args.peer_iterations == w.W6_ITERATIONS:
            note = ""
        rows.append(("torchdiffeq odeint_adjoint", seconds,
                     loss if not note else float("nan"), note))
    ours = rows[0][1]
    print(f"\n| W6: spiral training, {w.W6_ITERATIONS} Adam steps | total | final loss | "
          "vs neuralode adjoint |")
    print("|---|---:|---:|---:|")
    for name, seconds, loss, note in rows:
        shown = "" if np.isnan(loss) else f"{loss:.4f}"
        print(f"| {name} | {seconds:.3f} s {note} | {shown} | {seconds / ours:.1f}x |")


def gradient_tables(args):
    net, theta = w.w3_net()
    data = w.w3_data()
    entries = [(f"neuralode {gradient}",
                lambda gradient=gradient: w.neuralode_w3(net, theta, data, gradient))
               for gradient in nde.GRADIENT_MODES]
    entries += [(name, factory(net, theta, data)) for name, factory in peers.W3.items()]
    rows = list(zip((name for name, _ in entries),
                    median_seconds_side_by_side([fn for _, fn in entries], args.budget)))
    ours = {name: s for name, s in rows if name.startswith("neuralode")}
    print("\n| W3: one training step | median | vs neuralode adjoint | vs backprop |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        if seconds is None:
            print(f"| {name} | not installed | | |")
            continue
        print(f"| {name} | {seconds * 1e3:.3f} ms | {seconds / ours['neuralode adjoint']:.1f}x | "
              f"{seconds / ours['neuralode backprop']:.1f}x |")
    print("\n| W4: spiral, 2-50-2 net | outputs | t_final | peak RSS | stored floats | "
          "forward NFE | backward NFE | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for gradient, outputs, t_final, rss_kb, stored, nfe_f, nfe_b in w4_rows():
        print(f"| {gradient} | {outputs} | {t_final} | {rss_kb / 1024:.1f} MiB | {stored} | "
              f"{nfe_f} | {nfe_b} | {nfe_b / nfe_f:.2f} |")
    print("\n| W5: dL/dθ at rtol 1e-6, atol 1e-8 | relative error vs rtol 1e-12 |")
    print("|---|---:|")
    problem = w5_problem()
    for name, error in w5_rows(problem):
        print(f"| {name} | {error:.2e} |")
    print("\n| W5 at other settings | rtol | first step | relative error | median W3 step |")
    print("|---|---:|---:|---:|---:|")
    for gradient, rtol, first_step, error, seconds in w5_tolerance_rows(problem, args.budget):
        first = "Hairer" if first_step is None else f"{first_step}"
        print(f"| neuralode {gradient} | {rtol:.0e} | {first} | {error:.2e} | "
              f"{seconds * 1e3:.3f} ms |")
    for name, seconds in peers.COMPILE_SECONDS.items():
        if "W3" in name:
            print(f"{name}: compiled in {seconds:.2f} s before timing")


# Table names of the peers' variants (peers.W1 and peers.W2 keys).
PEER_LABELS = {"diffrax": "diffrax (jit)", "diffrax-vmap": "diffrax, vmap (jit)",
               "diffrax-joint": "diffrax, one joint state (jit)"}


def side_by_side(workload, entries, budget):
    """Table rows (workload, name, seconds, seconds of the row it is compared with) of
    entries (name, callable or None, name of the neuralode row it is compared with)."""
    seconds = median_seconds_side_by_side([fn for _, fn, _ in entries], budget)
    by_name = dict(zip((name for name, _, _ in entries), seconds))
    return [(workload, name, secs, by_name[ours] if ours else None)
            for (name, _, ours), secs in zip(entries, seconds)]


def float32_group(budget):
    """W2 float32: neuralode in float32 against itself in float64 and the peers in float32,
    all at W2_32_TOL; returns the rows and notes on the float32 results' accuracy."""
    net, theta = w.w2_net()
    y0 = w.w2_y0(w.W2_32_BATCH)
    theta32, y032 = theta.astype(np.float32), y0.astype(np.float32)
    ours, tol = "neuralode float32", w.W2_32_TOL
    entries = [(ours, lambda: w.neuralode_w2(net, theta32, y032, tol), None),
               ("neuralode float64", lambda: w.neuralode_w2(net, theta, y0, tol), ours)]
    entries += [(f"{PEER_LABELS.get(name, name)} float32", factory(net, theta32, y032, tol),
                 ours) for name, factory in peers.W2.items()]
    entries.append(("torchdiffeq float32, 1 torch thread", peers.torch_one_thread(
        peers.torchdiffeq_w2(net, theta32, y032, tol)), ours))
    rows = side_by_side(f"W2 float32 B={w.W2_32_BATCH}", entries, budget)
    reference = w.neuralode_w2(net, theta, y0, tol)
    notes = []
    for name, fn, _ in entries:
        if fn is not None and name.endswith("float32"):
            ys = fn()
            notes.append(f"W2 float32: {name} returns {ys.dtype}, max |difference| from "
                         f"neuralode float64 {np.abs(ys - reference).max():.2e}")
    nfe = [nde.solve(net, y, w.W2_T, params=p, **tol).stats.nfe.mean()
           for y, p in ((y032, theta32), (y0, theta))]
    notes.append(f"W2 float32: neuralode NFE per sample {nfe[0]:.1f} in float32, "
                 f"{nfe[1]:.1f} in float64")
    seconds = {name: secs for _, name, secs, _ in rows}
    faster = [f"{other} by {seconds[other] / seconds[ours]:.2f}× (asked: {asked}×)"
              for other, asked in (("neuralode float64", 1.6), ("torchdiffeq float32", 8),
                                   ("torchdiffeq float32, 1 torch thread", 8))
              if seconds[other] is not None]
    notes.append(f"W2 float32: neuralode float32 faster than {', than '.join(faster)}")
    return rows, notes


def print_forward_rows(rows):
    print(f"neuralode {nde.__version__}, {os.cpu_count()} cores, median of repeats, each "
          f"workload's rows timed in {ROUNDS} interleaved rounds\n")
    print("| workload | implementation | median | neuralode faster by |")
    print("|---|---|---:|---:|")
    for workload, name, seconds, ours in rows:
        if seconds is None:
            print(f"| {workload} | {name} | not installed | |")
            continue
        ratio = f"{seconds / ours:.1f}×" if ours else ""
        if name.startswith("scipy") and workload == "W1":
            ratio += " (vs the callable)"
        print(f"| {workload} | {name} | {seconds * 1e3:.4g} ms | {ratio} |")


def forward_tables(args):
    rows = []

    def add_group(workload, entries):
        rows.extend(side_by_side(workload, entries, args.budget))

    net1, theta1 = w.spiral_net()
    ours_net, ours_callable = "neuralode, network", "neuralode, Python callable"
    add_group("W1", [(ours_net, lambda: w.neuralode_w1_net(net1, theta1), None),
                     (ours_callable, w.neuralode_w1_callable, None),
                     ("scipy solve_ivp RK45", w.scipy_w1, ours_callable)] +
              [(PEER_LABELS.get(name, name), factory(), ours_net)
               for name, factory in peers.W1.items()])

    y0b, ours_batched = w.w1b_y0(), "neuralode, batched callable"
    add_group(f"W1 B={w.W1B_BATCH}",
              [(ours_batched, lambda: w.neuralode_w1_batched(y0b), None),
               ("neuralode, per-sample callable", lambda: w.neuralode_w1_per_sample(y0b),
                ours_batched),
               ("scipy solve_ivp RK45, one joint system", lambda: w.scipy_w1_batch(y0b),
                ours_batched)])

    net2, theta2 = w.w2_net()
    for batch in w.W2_BATCHES:
        y0 = w.w2_y0(batch)
        add_group(f"W2 B={batch}",
                  [("neuralode", lambda: w.neuralode_w2(net2, theta2, y0), None)] +
                  [(PEER_LABELS.get(name, name), factory(net2, theta2, y0), "neuralode")
                   for name, factory in peers.W2.items()])
    float32_rows, float32_notes = float32_group(args.budget)
    print_forward_rows(rows + float32_rows)

    print("\n" + "\n".join(float32_notes))
    overhead, nfe = python_overhead_per_call(args.budget)
    print(f"W1 Python callable: {nfe} calls of f; the solver adds {overhead * 1e6:.2f} us per "
          "call beyond f's own cost")
    for workload in FIRST_CALL_WORKLOADS:
        first, second, after_work, after_idle = first_and_later_call_seconds(workload)
        print(f"{workload} in a fresh process (median of 5): first call {first * 1e3:.3f} ms, "
              f"second {second * 1e3:.3f} ms, a call after other work {after_work * 1e3:.3f} "
              f"ms, a call after 20 ms idle {after_idle * 1e3:.3f} ms (no compilation step)")
    for name, seconds in peers.COMPILE_SECONDS.items():
        print(f"{name}: compiled in {seconds:.2f} s before timing")


if __name__ == "__main__":
    main()
