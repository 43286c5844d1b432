"""The benchmark workloads, shared by the pytest-benchmark suites and compare.py.

W1: the cubic spiral dy/dt = (y³)A, y0 = [2, 0], t ∈ [0, 25], 1000 outputs, dopri5
    rtol 1e-7 atol 1e-9.
W2: an MLP 2→64→2 tanh, B samples from N(0, 1), t ∈ [0, 1], 10 outputs, dopri5 rtol 1e-6
    atol 1e-8.
W2 float32: W2 at B=1024 (same network, weights and y0) at rtol 1e-5 atol 1e-7, tolerances
    float32 can meet, solved in float32 (y0 and θ cast) and in float64.
W3: the classic training step of the Neural ODE demo: 20 sub-trajectories of 10 consecutive
    points of W1's spiral, model Linear(50→2)(tanh(Linear(2→50)(y³))), L1 loss, forward and
    backward, dopri5 rtol 1e-7 atol 1e-9.
W6: DiffEqFlux's spiral training benchmark: W3's model trained 500 Adam steps (lr 0.05) on
    the spiral at 30 points on [0, 1.5], adjoint gradients, dopri5.
W7: wide networks (issue 14): dz/dt = MLP(z), D→H→H→D tanh, Linear weights N(0, 1)/√in × 0.5
    and zero biases (seed 0), B samples from N(0, 1) (seed 0), t ∈ [0, 1], 10 outputs, dopri5
    rtol 1e-6 atol 1e-8, float64; rows (D, H, B) in W7_ROWS.
"""
import numpy as np

import neuralode as nde

SPIRAL_A = nde.data.SPIRAL_A
W1_Y0 = np.array([2.0, 0.0])
W1_T = np.linspace(0.0, 25.0, 1000)
W1_TOL = {"rtol": 1e-7, "atol": 1e-9}

W2_T = np.linspace(0.0, 1.0, 10)
W2_TOL = {"rtol": 1e-6, "atol": 1e-8}
W2_BATCHES = (1, 64, 1024)
W2_32_BATCH = 1024
W2_32_TOL = {"rtol": 1e-5, "atol": 1e-7}  # float32 refuses rtol < 1e-6


spiral = nde.data.spiral_dynamics  # W1's Python callable: dy/dt = (y³)A


def spiral_net():
    """The spiral as a network: Power(3) then Linear(2, 2) with W = Aᵀ, b = 0."""
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 2))
    return net, np.concatenate([SPIRAL_A.T.ravel(), [0.0, 0.0]])


def w2_net():
    net = nde.nets.MLP(2, hidden=[64], activation="tanh")
    return net, net.init(seed=0)


def w2_y0(batch):
    return np.random.default_rng(batch).normal(size=(batch, 2))


def neuralode_w1_callable():
    return nde.odeint(spiral, W1_Y0, W1_T, **W1_TOL)


def neuralode_w1_net(net, theta):
    return nde.odeint(net, W1_Y0, W1_T, params=theta, **W1_TOL)


def neuralode_w2(net, theta, y0, tol=W2_TOL):
    """In the dtype of y0 and θ: float32 arrays solve in float32."""
    return nde.odeint(net, y0, W2_T, params=theta, **tol)


def scipy_w1():
    from scipy.integrate import solve_ivp
    return solve_ivp(spiral, (0.0, 25.0), W1_Y0, method="RK45", t_eval=W1_T, **W1_TOL).y.T


# W1 batch: W1's spiral from 1024 random initial states (standard normal, seed 0), every
# sample its own problem: as a batched numpy callable (one call per stage), as a per-sample
# callable, and with scipy's solve_ivp on the whole batch as one system of 2048 components.
W1B_BATCH = 1024


def w1b_y0():
    return np.random.default_rng(0).normal(size=(W1B_BATCH, 2))


def neuralode_w1_batched(y0):
    return nde.odeint(nde.batched(spiral), y0, W1_T, **W1_TOL)


def neuralode_w1_per_sample(y0):
    return nde.odeint(spiral, y0, W1_T, **W1_TOL)


def scipy_w1_batch(y0):
    from scipy.integrate import solve_ivp

    def joint(t, z):  # the whole batch as one state (2B,)
        return spiral(t, z.reshape(-1, 2)).ravel()

    sol = solve_ivp(joint, (0.0, 25.0), y0.ravel(), method="RK45", t_eval=W1_T, **W1_TOL)
    return sol.y.T.reshape(len(W1_T), -1, 2)


W3_BATCH, W3_TIME = 20, 10


def w3_net():
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 50), nde.nets.Tanh(),
                              nde.nets.Linear(50, 2))
    return net, net.init(seed=0)


def w3_data(seed=0):
    """(y0 (20, 2), t (10,), targets (10, 20, 2)) from the true spiral."""
    true_y = nde.odeint(spiral, W1_Y0, W1_T, rtol=1e-10, atol=1e-12)
    starts = np.random.default_rng(seed).choice(len(W1_T) - W3_TIME, W3_BATCH, replace=False)
    targets = np.stack([true_y[starts + k] for k in range(W3_TIME)])
    return true_y[starts], W1_T[:W3_TIME], targets


def neuralode_w3(net, theta, data, gradient, rtol=1e-7, atol=1e-9, **options):
    """One training step: L1 loss and its gradient with respect to θ."""
    y0, t, targets = data
    ys, pullback = nde.odeint_vjp(net, y0, t, params=theta, gradient=gradient, rtol=rtol,
                                  atol=atol, **options)
    loss = np.abs(ys - targets).mean()
    return loss, pullback(np.sign(ys - targets) / ys.size).params


# W6: DiffEqFlux's published spiral training benchmark: the 2-50-2 tanh network on y³, the
# spiral at 30 points on [0, 1.5], 500 full-trajectory Adam steps (lr 0.05), sum-of-squares
# loss, adjoint gradients, dopri5.
W6_ITERATIONS, W6_LR = 500, 0.05


def w6_data():
    return nde.data.spiral(30, 1.5)


def sum_of_squares(pred, target):
    diff = pred - target
    return float(np.sum(diff * diff)), 2.0 * diff


def neuralode_w6(gradient="adjoint", iterations=W6_ITERATIONS):
    """A fresh model trained as DiffEqFlux's benchmark does; returns the final loss."""
    t, y = w6_data()
    net, theta = w3_net()
    model = nde.NeuralODE(net, params=theta, gradient=gradient, **W1_TOL)
    history = model.fit(t, y, optimizer=nde.optim.Adam(lr=W6_LR), loss=sum_of_squares,
                        iterations=iterations, batch_size=1, batch_time=len(t), progress=False)
    return history.loss[-1]


# W7: wide networks, where the time goes to the matrix products (issue 14).
W7_T = np.linspace(0.0, 1.0, 10)
W7_TOL = {"rtol": 1e-6, "atol": 1e-8}
W7_ROWS = ((2, 64, 1024), (2, 256, 1024), (8, 256, 512), (32, 256, 512), (32, 512, 256),
           (64, 1024, 128))  # (D, H, B)
W7_SMALL = (8, 256, 64)  # the pytest-benchmark row


def w7_net(dim, hidden):
    """MLP(dim, [hidden, hidden], tanh) and θ: every Linear's W ~ N(0, 1)/√in × 0.5, b = 0,
    drawn layer by layer from one generator (seed 0). The peers take the same θ through
    net.unflatten (torch.nn.Linear's layout)."""
    net = nde.nets.MLP(dim, hidden=[hidden, hidden], activation="tanh")
    rng = np.random.default_rng(0)
    theta = np.zeros(net.num_params)
    views = net.unflatten(theta)
    for name in w7_linear_names(net):
        weight = views[name]
        weight[...] = rng.normal(size=weight.shape) / np.sqrt(weight.shape[1]) * 0.5
    return net, theta


def w7_linear_names(net):
    """The "{i}.weight" views of the network's Linear layers, in order."""
    return [f"{i}.weight" for i, layer in enumerate(net.layers)
            if isinstance(layer, nde.nets.Linear)]


def w7_y0(dim, batch):
    return np.random.default_rng(0).normal(size=(batch, dim))


def w7_flops_per_eval(net):
    """Multiply-adds of the Linear layers' matrix products, 2 flops each, for one sample's
    evaluation of f (biases and activations not counted)."""
    return sum(2 * layer.in_features * layer.out_features for layer in net.layers
               if isinstance(layer, nde.nets.Linear))


def neuralode_w7(net, theta, y0):
    return nde.odeint(net, y0, W7_T, params=theta, **W7_TOL)


def neuralode_w7_nfe(net, theta, y0):
    """f evaluations summed over the samples."""
    return int(nde.solve(net, y0, W7_T, params=theta, **W7_TOL).stats.nfe.sum())


# W7 gradients (issue 14): L = sum of all outputs, so dL/dys = ones.
W7_GRAD = (32, 256)  # (D, H)
W7_GRAD_BATCH = 512  # as the issue asks


def neuralode_w7_grad(net, theta, y0, gradient):
    """odeint_vjp + pullback of L = sum(ys): the Gradients (y0, params, t, stats)."""
    ys, pullback = nde.odeint_vjp(net, y0, W7_T, params=theta, gradient=gradient, **W7_TOL)
    return pullback(np.ones_like(ys))
