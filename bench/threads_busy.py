"""Does the default thread count ever make a solve slower than one thread? (issue 13 §4)

One W3 training step (bench/workloads.py: 20 samples, forward and gradient) timed STEPS times
with num_threads=None and with num_threads=1, alternated, on an idle machine and with BUSY
busy-loop processes alongside (started here); the same for W2 at B=1024 (STEPS/4 calls), whose
default should keep the speed-up of its threads on an idle machine. Prints median, p90 and the
ratio default/single, and W2 on two threads alone (not alternated with the default: a team of
threads that does not pay pauses the default's threads, see cpp/include/neuralode/batch.hpp).

    python bench/threads_busy.py                 # idle, then with 2 busy processes
    python bench/threads_busy.py --busy 2        # one condition only
    python bench/threads_busy.py --gradient backprop --steps 500
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as w  # noqa: E402

import neuralode as nde  # noqa: E402


def timed(call, steps, settings):
    """{label: (wall times, CPU times)} over steps calls per setting, the settings alternated."""
    times = {label: ([], []) for label in settings}
    for _ in range(steps):
        for label, kwargs in settings.items():
            wall, cpu = time.perf_counter(), time.process_time()
            call(**kwargs)
            times[label][0].append(time.perf_counter() - wall)
            times[label][1].append(time.process_time() - cpu)
    return times


def report(title, times):
    print(f"\n{title}")
    print("| threads | median ms | p90 ms | CPU ms per call (median) |")
    print("|---|---|---|---|")
    stats = {}
    for label, (wall, cpu) in times.items():
        stats[label] = np.median(wall) * 1e3, np.percentile(wall, 90) * 1e3
        print(f"| {label} | {stats[label][0]:.3f} | {stats[label][1]:.3f} | "
              f"{np.median(cpu) * 1e3:.3f} |")
    if "default" in stats:
        (m_d, p_d), (m_1, p_1) = stats["default"], stats["1"]
        print(f"default / single: median {m_d / m_1:.2f}x, p90 {p_d / p_1:.2f}x")


def busy_processes(count):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def threads_allowed():
    """Whether the default would give a large batch threads now (False: paused, see batch.hpp)."""
    return nde._core._threads_for(0, 10**6, 1e6) > 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=None,
                        help="busy-loop processes alongside (default: 0, then 2)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--gradient", default="adjoint", choices=nde.GRADIENT_MODES)
    args = parser.parse_args()
    print(f"cores usable: {nde._core._usable_cores()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    net, theta = w.w3_net()
    data = w.w3_data()
    step = lambda num_threads: w.neuralode_w3(net, theta, data, args.gradient,  # noqa: E731
                                              num_threads=num_threads)
    w2_net, w2_theta = w.w2_net()
    y0 = w.w2_y0(1024)
    allowed = []

    def w2(num_threads):
        if num_threads is None:
            allowed.append(threads_allowed())
        nde.odeint(w2_net, y0, w.W2_T, params=w2_theta, num_threads=num_threads, **w.W2_TOL)

    settings = {"default": {"num_threads": None}, "1": {"num_threads": 1}}
    timed(step, 20, settings)  # warm up
    timed(w2, 3, settings)
    for busy in ([0, 2] if args.busy is None else [args.busy]):
        loops = busy_processes(busy)
        try:
            time.sleep(0.2 if busy else 0)
            report(f"W3 step ({args.gradient}), {args.steps} steps, {busy} busy processes",
                   timed(step, args.steps, settings))
            allowed.clear()
            report(f"W2 B=1024 forward solve, {args.steps // 4} calls, {busy} busy processes",
                   timed(w2, args.steps // 4, settings))
            print(f"the default allowed threads before {sum(allowed)} of {len(allowed)} calls")
            if not busy:  # what two threads do, alone (a team that does not pay pauses them)
                report("W2 B=1024, num_threads=2 alone", timed(w2, args.steps // 4,
                                                                {"2": {"num_threads": 2}}))
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
