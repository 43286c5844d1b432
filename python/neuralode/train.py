"""The fit loop shared by the models: iterations of (loss, gradient) -> optimizer step, with
a progress bar, history, callbacks, validation and early stopping.

Ctrl-C stops the loop cleanly and keeps the parameters trained so far; a NaN/inf loss or a
SolverError stops it with a warning that says why, and keeps the last good parameters.
"""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .solve import SolverError

__all__ = ["History", "fit_loop", "TrainingStopped"]


class TrainingStopped(RuntimeWarning):
    """Training ended early: a non-finite loss or a failed solve (the message says which)."""


@dataclass
class History:
    """Per-iteration records of a fit; ``stopped`` says why it ended early (None if it ran
    all iterations)."""

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)  # NaN where not evaluated
    nfe_forward: list = field(default_factory=list)
    nfe_backward: list = field(default_factory=list)
    time: list = field(default_factory=list)  # seconds since the start of the fit
    stopped: str | None = None
    best_iteration: int | None = None


class _Progress:
    """tqdm when it is installed, else a line rewritten on stderr a few times a second."""

    def __init__(self, total, enabled):
        self.enabled, self.total, self.bar, self.last = enabled, total, None, 0.0
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, unit="it", leave=True)
            except ImportError:
                pass

    def update(self, i, info, rate):
        """`info` for the postfix; tqdm shows the rate itself, the plain line needs it."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(info, refresh=False)
        elif time.perf_counter() - self.last > 0.25 or i + 1 == self.total:
            self.last = time.perf_counter()
            sys.stderr.write(f"\r{i + 1}/{self.total} {info} {rate:.0f} it/s")
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


def _drop_last(history):
    """Forgets the iteration whose update led to a failed validation."""
    for name in ("loss", "nfe_forward", "nfe_backward", "time"):
        getattr(history, name).pop()


def fit_loop(step, params, optimizer, iterations, *, validate=None, validate_every=10,
             patience=None, callbacks=(), progress=True):
    """Runs ``iterations`` optimizer steps and returns (params, History).

    Args:
        step: ``step(params, iteration) -> (loss, grad, nfe_forward, nfe_backward)``.
        validate: optional ``validate(params) -> loss``, every ``validate_every`` iterations.
        patience: stop when the validation loss has not improved for this many
            evaluations, and return the best parameters seen.
        callbacks: functions ``cb(iteration, params, history)``; returning True stops.
    """
    history = History()
    best = (np.inf, params, None)
    good = params  # the last parameters whose loss and gradient were finite
    start = time.perf_counter()
    bar = _Progress(iterations, progress)
    stale = 0
    failed = False  # a step or validation failed: the last good parameters are kept
    try:
        for i in range(iterations):
            try:
                loss, grad, nfe_f, nfe_b = step(params, i)
            except SolverError as error:
                history.stopped = f"iteration {i}: the solve failed: {error}"
                failed = True
                break
            if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
                history.stopped = (f"iteration {i}: the loss or its gradient is not finite "
                                   f"(loss = {loss}); try a smaller learning rate")
                failed = True
                break
            good = params
            params = optimizer.step(params, grad)
            history.loss.append(float(loss))
            history.nfe_forward.append(int(nfe_f))
            history.nfe_backward.append(int(nfe_b))
            history.time.append(time.perf_counter() - start)
            val = np.nan
            if validate is not None and (i % validate_every == 0 or i + 1 == iterations):
                try:
                    val = float(validate(params))
                except SolverError as error:
                    val = np.nan
                    history.stopped = f"iteration {i}: the validation solve failed: {error}"
                if not np.isfinite(val):
                    history.stopped = history.stopped or (
                        f"iteration {i}: the validation loss is not finite")
                    _drop_last(history)
                    failed = True
                    break
                if val < best[0]:
                    best, stale = (val, params, i), 0
                else:
                    stale += 1
            history.val_loss.append(val)
            rate = (i + 1) / max(history.time[-1], 1e-9)
            bar.update(i, f"loss {loss:.4g} nfe {nfe_f}/{nfe_b}", rate)
            if any(cb(i, params, history) for cb in callbacks):
                history.stopped = f"iteration {i}: a callback stopped the fit"
                break
            if patience is not None and stale >= patience:
                history.stopped = (f"iteration {i}: early stopping, no better validation loss "
                                   f"in {patience} evaluations")
                break
    except KeyboardInterrupt:
        history.stopped = f"interrupted after {len(history.loss)} iterations"
    finally:
        bar.close()
    if failed:
        params = good
    if patience is not None and best[2] is not None:
        params, history.best_iteration = best[1], best[2]
    if failed:
        warnings.warn(f"training stopped at {history.stopped}; the model keeps the last good "
                      "parameters", TrainingStopped, stacklevel=3)
    return params, history
