"""A mechanistic model trained like a network: the Lotka–Volterra equations fitted to the
Hudson's Bay Company lynx and snowshoe hare pelts of 1900–1920 (thousands per year, the
series of the Stan and PyMC case studies) with NeuralODE and fit, gradients by the adjoint.

    d hare / dt = (alpha - beta * lynx) * hare      prey grow, and are eaten
    d lynx / dt = (delta * hare - gamma) * lynx     predators grow on prey, and die

The four rates are fitted as logarithms: they differ by a factor of 40, Adam's steps are
then relative changes for all of them alike, and the rates stay positive. Each mini-batch
is 8 windows of 6 consecutive years, each solved from its first year's counts; the initial
state is not a parameter, so the whole series is predicted from the counts of 1900.
"""
import time

import numpy as np

import neuralode as nde

YEARS = np.arange(1900, 1921)
HARE = [30, 47.2, 70.2, 77.4, 36.3, 20.6, 18.1, 21.4, 22, 25.4, 27.1, 40.3, 57, 76.6, 52.3,
        19.5, 11.2, 7.6, 14.6, 16.2, 24.7]
LYNX = [4, 6.1, 9.8, 35.2, 59.4, 41.7, 19, 13, 8.3, 9.1, 7.4, 8, 12.3, 19.5, 45.7, 51.1,
        29.7, 15.8, 9.7, 10.1, 8.6]
NAMES = ["alpha", "beta", "gamma", "delta"]
# Least squares on the counts with the initial state fitted too (scipy least_squares; the
# PyMC case study's starting point): 0.481, 0.0248, 0.926, 0.0275, from (34.9, 3.86).
LEAST_SQUARES = [0.481, 0.0248, 0.926, 0.0275]


class LotkaVolterra(nde.Dynamics):
    """Lotka–Volterra with params = log(alpha, beta, gamma, delta)."""

    num_params = 4

    def f(self, t, y, params):
        alpha, beta, gamma, delta = np.exp(params)
        hare, lynx = y
        return np.array([(alpha - beta * lynx) * hare, (delta * hare - gamma) * lynx])

    def vjp(self, t, y, params, a):
        rates = np.exp(params)
        alpha, beta, gamma, delta = rates
        hare, lynx = y
        a_y = np.array([a[0] * (alpha - beta * lynx) + a[1] * delta * lynx,
                        -a[0] * beta * hare + a[1] * (delta * hare - gamma)])
        a_rates = np.array([a[0] * hare, -a[0] * hare * lynx, -a[1] * lynx, a[1] * hare * lynx])
        return a_y, a_rates * rates, 0.0  # d rate / d log(rate) = rate


def main():
    t = (YEARS - YEARS[0]).astype(float)   # years since 1900
    y = np.stack([HARE, LYNX], axis=1)     # (21, 2)
    guess = [1.0, 0.1, 1.0, 0.1]           # orders of magnitude only
    model = nde.NeuralODE(LotkaVolterra(), params=np.log(guess), rtol=1e-6, atol=1e-6)
    iterations = 300
    optimizer = nde.optim.Adam(lr=0.05, schedule=nde.optim.CosineLR(0.05, iterations))
    start = time.perf_counter()
    history = model.fit(t, y, optimizer=optimizer, iterations=iterations, batch_size=8,
                        batch_time=6, seed=0, progress=False)
    seconds = time.perf_counter() - start
    rates = np.exp(model.params)
    print(f"Lotka-Volterra fitted to the lynx and hare pelts of {YEARS[0]}-{YEARS[-1]} "
          f"({len(history.loss)} Adam steps, {seconds:.1f} s)")
    for name, value, first, reference in zip(NAMES, rates, guess, LEAST_SQUARES):
        print(f"  {name:5s} {value:.4f}   (from {first}; least squares {reference})")
    first, last = np.mean(history.loss[:10]), np.mean(history.loss[-10:])
    print(f"mini-batch loss (MSE, thousands of pelts squared, mean of 10 steps) {first:.1f} -> "
          f"{last:.1f}, {first / last:.0f}x lower")
    pred = model.predict(y[0], t)          # all 21 years from the 1900 counts
    rmse = np.sqrt(np.mean((pred - y) ** 2, axis=0))
    print(f"whole series predicted from the {YEARS[0]} counts: RMSE hare {rmse[0]:.1f}, "
          f"lynx {rmse[1]:.1f} thousand pelts")


if __name__ == "__main__":
    main()
