"""The demo: fit a Neural ODE to noisy, irregularly sampled spiral trajectories (each with
its own random time stamps, the case ODE-Nets handle natively), then show what it learned:
neuralode-demo.png (trajectories, phase portrait with the learned vector field, loss curve)
with matplotlib, else CSV files with the same numbers."""
from __future__ import annotations

import csv
import os
import time

import numpy as np

from . import data, losses, nets, optim
from .models import NeuralODE
from .solve import odeint


def spiral_network():
    """The classic model of the Neural ODE demo: Linear(50→2)(tanh(Linear(2→50)(y³)))."""
    return nets.Sequential(nets.Power(3), nets.Linear(2, 50), nets.Tanh(), nets.Linear(50, 2))


def run(iterations=3000, seed=0, out=".", gradient="adjoint", progress=True) -> dict:
    """Fits, evaluates and writes the outputs into the folder `out`; returns the numbers."""
    os.makedirs(out, exist_ok=True)
    t, y = data.spiral(150, 6.0, n_trajectories=16, noise=0.02, irregular=True, seed=seed)
    _, truth = data.spiral(150, 6.0, n_trajectories=16, irregular=True, seed=seed)
    model = NeuralODE(spiral_network(), rtol=1e-6, atol=1e-8, gradient=gradient, seed=seed)
    print(f"Fitting dy/dt = net(y) to {y.shape[1]} noisy spiral trajectories of {y.shape[0]} "
          f"irregular time stamps each ({gradient} gradients, dopri5, {iterations} Adam steps)")
    start = time.perf_counter()
    schedule = optim.CosineLR(0.02, iterations, min_lr=1e-4)
    history = model.fit(t, y, optimizer=optim.Adam(lr=0.02, schedule=schedule),
                        iterations=iterations, batch_size=32, batch_time=10, seed=seed,
                        progress=progress)
    seconds = time.perf_counter() - start
    if not history.loss:
        raise SystemExit(f"training stopped before its first step: {history.stopped}")
    learned = model.predict(y[0], t)
    rmse = float(np.sqrt(losses.mse(learned, truth)[0]))
    scale = float(np.sqrt(np.mean(truth ** 2)))
    results = {"seconds": seconds, "iterations": len(history.loss), "final_loss": history.loss[-1],
               "rmse": rmse, "relative_rmse": rmse / scale,
               "nfe_forward": float(np.mean(history.nfe_forward)),
               "nfe_backward": float(np.mean(history.nfe_backward))}
    print(f"Trained in {seconds:.2f} s ({len(history.loss) / seconds:.0f} iterations/s); "
          f"mean NFE per batch forward {results['nfe_forward']:.0f}, backward "
          f"{results['nfe_backward']:.0f}")
    print(f"Whole trajectories predicted from y0: RMSE vs the noise-free truth {rmse:.4f} "
          f"({100 * rmse / scale:.1f}% of the signal); final training loss "
          f"{history.loss[-1]:.2e}")
    if history.stopped:
        print(f"Stopped early: {history.stopped}")
    try:
        import matplotlib
    except ImportError:
        paths = _write_csv(out, t, y, truth, learned, history)
        print("matplotlib is not installed, so no plot: install it with "
              "`pip install \"neuralode[plot]\"` (or `pip install matplotlib`). Wrote "
              + " and ".join(paths))
    else:
        matplotlib.use("Agg")
        path = _plot(out, model, t, y, truth, learned, history)
        print(f"Wrote {path}")
    return results


def _write_csv(out, t, y, truth, learned, history):
    trajectories = os.path.join(out, "neuralode-demo.csv")
    with open(trajectories, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trajectory", "t", "observed_x", "observed_y", "true_x", "true_y",
                         "learned_x", "learned_y"])
        for b in range(y.shape[1]):
            for i in range(y.shape[0]):
                writer.writerow([b, t[b, i], *y[i, b], *truth[i, b], *learned[i, b]])
    curve = os.path.join(out, "neuralode-demo-loss.csv")
    with open(curve, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "loss", "nfe_forward", "nfe_backward", "seconds"])
        for i, row in enumerate(zip(history.loss, history.nfe_forward, history.nfe_backward,
                                    history.time)):
            writer.writerow([i, *row])
    return trajectories, curve


def _plot(out, model, t, y, truth, learned, history):
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_phase, ax_loss) = plt.subplots(1, 3, figsize=(16, 4.8))
    b = 0
    for d, name in enumerate("xy"):
        ax_t.plot(t[b], truth[:, b, d], color=f"C{d}", label=f"true {name}")
        ax_t.plot(t[b], learned[:, b, d], "--", color=f"C{d}", label=f"learned {name}")
        ax_t.plot(t[b], y[:, b, d], ".", color=f"C{d}", alpha=0.6)
    ax_t.set(title="One trajectory (dots: irregular noisy samples)", xlabel="t")
    ax_t.legend(fontsize=8)
    grid = np.linspace(-2.6, 2.6, 21)
    gx, gy = np.meshgrid(grid, grid)
    field = model.net(0.0, np.stack([gx.ravel(), gy.ravel()], axis=1), model.params)
    ax_phase.quiver(gx, gy, field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape),
                    color="0.6", angles="xy")
    fine = np.linspace(0.0, float(t.max()), 600)  # smooth curves, not the sparse stamps
    y0 = y[0, :4]
    true_fine = odeint(data.spiral_dynamics, y0, fine, rtol=1e-10, atol=1e-12)
    learned_fine = model.predict(y0, fine)
    for k in range(y0.shape[0]):
        ax_phase.plot(*true_fine[:, k].T, color="C0", lw=1, label="true" if k == 0 else None)
        ax_phase.plot(*learned_fine[:, k].T, "--", color="C3", lw=1,
                      label="learned" if k == 0 else None)
    ax_phase.set(title="Phase portrait and learned vector field", xlabel="x", ylabel="y")
    ax_phase.set_aspect("equal")
    ax_phase.legend(fontsize=8)
    ax_loss.semilogy(history.loss, lw=0.8)
    ax_loss.set(title="Training loss (MSE per mini-batch)", xlabel="iteration")
    fig.tight_layout()
    path = os.path.join(out, "neuralode-demo.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
