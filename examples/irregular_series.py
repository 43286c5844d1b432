"""Irregularly sampled time series: every trajectory has its own random time stamps (no
resampling to a grid), noisy observations, and a held-out trajectory for validation with
early stopping. Predict at any times afterwards, with a looser tolerance for speed."""
import numpy as np

import neuralode as nde

t, y = nde.data.spiral(100, 5.0, n_trajectories=9, noise=0.02, irregular=True, seed=1)
train = (t[:8], y[:, :8])                   # t (8, 100): one grid per trajectory
valid = (t[8:], y[:, 8:])
net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 50), nde.nets.Tanh(),
                          nde.nets.Linear(50, 2))
model = nde.NeuralODE(net, rtol=1e-6, atol=1e-8)
schedule = nde.optim.CosineLR(0.02, 800)
history = model.fit(*train, optimizer=nde.optim.Adam(lr=0.02, schedule=schedule),
                    iterations=800, batch_size=16, batch_time=10, validation=valid,
                    validate_every=20, patience=10, progress=False)
print(f"trained {len(history.loss)} iterations; validation loss {np.nanmin(history.val_loss):.4f}"
      + (f" (stopped: {history.stopped})" if history.stopped else ""))
fine = np.linspace(0, 5, 11)
print("predicted at new times with rtol 1e-3:", model.predict(y[0, 8], fine, rtol=1e-3)[-1])
