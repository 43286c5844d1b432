"""Fit the classic Neural ODE demo: one long spiral trajectory, mini-batches of
sub-trajectories, the 2-50-2 tanh network on y³ (Chen et al. 2018's example)."""
import numpy as np

import neuralode as nde

t, y = nde.data.spiral(1000, 25.0)          # one trajectory: t (1000,), y (1000, 2)
net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 50), nde.nets.Tanh(),
                          nde.nets.Linear(50, 2))
model = nde.NeuralODE(net, method="dopri5", rtol=1e-7, atol=1e-9, gradient="adjoint")
adam = nde.optim.Adam(lr=0.01, schedule=nde.optim.CosineLR(0.01, 2000))
history = model.fit(t, y, optimizer=adam, loss="mse", iterations=2000, batch_size=20,
                    batch_time=10, progress=False)
pred = model.predict(y[0], t)
print(f"loss {history.loss[0]:.3g} -> {history.loss[-1]:.3g} in {history.time[-1]:.2f} s; "
      f"RMS error over the whole trajectory {np.sqrt(np.mean((pred - y) ** 2)):.3f}")
