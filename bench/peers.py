"""Peer libraries on the same workloads, each optional: a factory returns None when its
library is not installed, else a zero-argument callable returning the outputs as numpy.

Factories do their one-time work (jit compilation for diffrax) before returning, so the
callables time steady-state solves; `COMPILE_SECONDS` records what compilation cost.
"""
import time

import numpy as np

import workloads as w

COMPILE_SECONDS = {}


def _torch():
    try:
        import torch
        import torchdiffeq  # noqa: F401
        return torch
    except ImportError:
        return None


def _torch_mlp(torch, net, theta, dtype):
    """The W2 network in torch with the same weights (same layout as torch.nn.Linear)."""
    views = net.unflatten(theta)
    w1, b1, w2, b2 = (torch.tensor(views[k], dtype=dtype)
                      for k in ("0.weight", "0.bias", "2.weight", "2.bias"))
    return lambda y: torch.tanh(y @ w1.T + b1) @ w2.T + b2


def torchdiffeq_w1():
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    A, y0, t = (torch.tensor(x) for x in (w.SPIRAL_A, w.W1_Y0, w.W1_T))

    def run():
        with torch.no_grad():
            return torchdiffeq.odeint(lambda t, y: (y ** 3) @ A, y0, t, method="dopri5",
                                      **w.W1_TOL).numpy()
    return run


# The W2 factories solve in y0's dtype (the weights cast to it): float32 y0, float32 solve.
# The torch peers keep times in float64, as neuralode does; diffrax takes them in y0's dtype.


def torchdiffeq_w2(net, theta, y0, tol=w.W2_TOL):
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    y0_t, t = torch.tensor(y0), torch.tensor(w.W2_T)
    f = _torch_mlp(torch, net, theta, y0_t.dtype)

    def run():  # one joint state: the batch shares its steps
        with torch.no_grad():
            return torchdiffeq.odeint(lambda t, y: f(y), y0_t, t, method="dopri5",
                                      **tol).numpy()
    return run


def torch_one_thread(run):
    """run with torch on one thread: on a loaded 2-core machine torch's two threads wait for
    each other (W2 float32 B=1024 torchdiffeq: 20-400 ms on two threads, 8.5-10 ms on one)."""
    torch = _torch()
    if torch is None or run is None:
        return None

    def call():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run()
        finally:
            torch.set_num_threads(threads)
    return call


def _torchode():
    try:
        import torch
        import torchode
        return torch, torchode
    except ImportError:
        return None, None


def _torchode_solver(to, f, tol):
    term = to.ODETerm(f)
    controller = to.IntegralController(atol=tol["atol"], rtol=tol["rtol"], term=term)
    return to.AutoDiffAdjoint(to.Dopri5(term=term), controller, max_steps=1_000_000)


def torchode_w1():
    torch, to = _torchode()
    if to is None:
        return None
    A = torch.tensor(w.SPIRAL_A)
    solver = _torchode_solver(to, lambda t, y: (y ** 3) @ A, w.W1_TOL)
    problem = to.InitialValueProblem(y0=torch.tensor(w.W1_Y0)[None],
                                     t_eval=torch.tensor(w.W1_T)[None])

    def run():
        with torch.no_grad():
            return solver.solve(problem).ys[0].numpy()
    return run


def torchode_w2(net, theta, y0, tol=w.W2_TOL):
    torch, to = _torchode()
    if to is None:
        return None
    y0_t = torch.tensor(y0)
    f = _torch_mlp(torch, net, theta, y0_t.dtype)
    solver = _torchode_solver(to, lambda t, y: f(y), tol)
    t = torch.tensor(w.W2_T)[None].expand(len(y0), -1)
    problem = to.InitialValueProblem(y0=y0_t, t_eval=t)

    def run():  # per-sample steps; ys is (B, T, D)
        with torch.no_grad():
            return solver.solve(problem).ys.numpy().transpose(1, 0, 2)
    return run


def _diffrax():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import diffrax
        import jax.numpy as jnp
        return jax, jnp, diffrax
    except ImportError:
        return None, None, None


def _diffrax_solve(diffrax, jnp, vector_field, t, tol, y0):
    # The output times in y0's dtype: diffrax promotes y0 to the times' dtype (it has no
    # mixed precision), so a float32 solve takes float32 times.
    return diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field), diffrax.Dopri5(), t0=float(t[0]), t1=float(t[-1]),
        dt0=None, y0=y0, saveat=diffrax.SaveAt(ts=jnp.asarray(t, dtype=y0.dtype)),
        stepsize_controller=diffrax.PIDController(**tol), max_steps=1_000_000).ys


def _compiled(name, jitted, *args):
    start = time.perf_counter()
    jitted(*args).block_until_ready()
    COMPILE_SECONDS[name] = time.perf_counter() - start
    return lambda: np.asarray(jitted(*args).block_until_ready())


def diffrax_w1():
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    A = jnp.asarray(w.SPIRAL_A)
    solve = jax.jit(lambda y0: _diffrax_solve(diffrax, jnp, lambda t, y, args: (y ** 3) @ A,
                                              w.W1_T, w.W1_TOL, y0))
    return _compiled("diffrax W1", solve, jnp.asarray(w.W1_Y0))


def _jax_mlp(jnp, net, theta, dtype):
    views = {k: jnp.asarray(v, dtype=dtype) for k, v in net.unflatten(theta).items()}
    return lambda t, y, args: (views["2.weight"] @ jnp.tanh(views["0.weight"] @ y + views["0.bias"])
                               + views["2.bias"])


def diffrax_w2_vmap(net, theta, y0, tol=w.W2_TOL):
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    f = _jax_mlp(jnp, net, theta, y0.dtype)
    one = lambda y: _diffrax_solve(diffrax, jnp, f, w.W2_T, tol, y)  # noqa: E731
    solve = jax.jit(jax.vmap(one))
    run = _compiled(f"diffrax W2 vmap B={len(y0)} {y0.dtype}", solve, jnp.asarray(y0))
    return lambda: run().transpose(1, 0, 2)


def diffrax_w2_joint(net, theta, y0, tol=w.W2_TOL):
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    f = _jax_mlp(jnp, net, theta, y0.dtype)
    joint = lambda t, y, args: jax.vmap(lambda row: f(t, row, args))(y)  # noqa: E731
    solve = jax.jit(lambda y: _diffrax_solve(diffrax, jnp, joint, w.W2_T, tol, y))
    return _compiled(f"diffrax W2 joint B={len(y0)} {y0.dtype}", solve, jnp.asarray(y0))


# W7: the wide MLP D→H→H→D (workloads.w7_net), float64, with the network's own weights.


def _w7_layers(net, theta):
    """[(W (out, in), b)] of the network's Linear layers, in order (tanh between them)."""
    views = net.unflatten(theta)
    return [(views[name], views[name[:-len("weight")] + "bias"])
            for name in w.w7_linear_names(net)]


def _torch_w7_linears(torch, net, theta):
    """The network's Linear layers as float64 torch.nn.Linear modules with the same weights."""
    linears = []
    for weight, bias in _w7_layers(net, theta):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        linears.append(linear)
    return linears


def torchdiffeq_w7(net, theta, y0):
    """torchdiffeq dopri5 on the batch as one (B, D) state (the batch shares its steps), f a
    torch.nn.Sequential of Linear and Tanh holding the same weights."""
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    modules = [m for linear in _torch_w7_linears(torch, net, theta)
               for m in (linear, torch.nn.Tanh())]
    model = torch.nn.Sequential(*modules[:-1])
    y0_t, t = torch.tensor(y0), torch.tensor(w.W7_T)

    def run():
        with torch.no_grad():
            return torchdiffeq.odeint(lambda t, y: model(y), y0_t, t, method="dopri5",
                                      **w.W7_TOL).numpy()
    return run


def _jax_w7_mlp(jnp, net, theta):
    layers = [(jnp.asarray(weight), jnp.asarray(bias)) for weight, bias in _w7_layers(net, theta)]

    def f(t, y, args):  # one sample's state (D,)
        for weight, bias in layers[:-1]:
            y = jnp.tanh(weight @ y + bias)
        weight, bias = layers[-1]
        return weight @ y + bias
    return f


def diffrax_w7_vmap(net, theta, y0):
    """diffrax Dopri5 per sample (its own adaptive steps), vmapped over the batch, jit."""
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    f = _jax_w7_mlp(jnp, net, theta)
    one = lambda y: _diffrax_solve(diffrax, jnp, f, w.W7_T, w.W7_TOL, y)  # noqa: E731
    solve = jax.jit(jax.vmap(one))
    batch, dim = y0.shape
    run = _compiled(f"diffrax W7 vmap D={dim} H={_w7_hidden(net)} B={batch}", solve,
                    jnp.asarray(y0))
    return lambda: run().transpose(1, 0, 2)


def diffrax_w7_joint(net, theta, y0):
    """diffrax Dopri5 on the batch as one (B, D) state (shared steps), jit."""
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    f = _jax_w7_mlp(jnp, net, theta)
    joint = lambda t, y, args: jax.vmap(lambda row: f(t, row, args))(y)  # noqa: E731
    solve = jax.jit(lambda y: _diffrax_solve(diffrax, jnp, joint, w.W7_T, w.W7_TOL, y))
    batch, dim = y0.shape
    return _compiled(f"diffrax W7 joint D={dim} H={_w7_hidden(net)} B={batch}", solve,
                     jnp.asarray(y0))


def _w7_flat_grad(net, grads):
    """dL/dθ in the network's flat layout from [(dL/dW, dL/db)] of its Linear layers."""
    flat = np.zeros(net.num_params)
    views = net.unflatten(flat)
    for name, (grad_weight, grad_bias) in zip(w.w7_linear_names(net), grads):
        views[name][...] = grad_weight
        views[name[:-len("weight")] + "bias"][...] = grad_bias
    return flat


# W7 gradients: L = sum of all outputs; each callable returns (dL/dy0 (B, D), flat dL/dθ).


def torchdiffeq_w7_grad(net, theta, y0):
    """torchdiffeq odeint_adjoint, dopri5 forward and adjoint at W7_TOL, on the batch as one
    (B, D) state, f the same torch.nn.Sequential as torchdiffeq_w7; L.backward()."""
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    linears = _torch_w7_linears(torch, net, theta)
    modules = [m for linear in linears for m in (linear, torch.nn.Tanh())][:-1]
    model = torch.nn.Sequential(*modules)

    class Func(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, t, y):
            return self.model(y)
    func = Func()
    t = torch.tensor(w.W7_T)
    tol = dict(w.W7_TOL, adjoint_rtol=w.W7_TOL["rtol"], adjoint_atol=w.W7_TOL["atol"])

    def run():
        func.zero_grad()
        y0_t = torch.tensor(y0, requires_grad=True)
        ys = torchdiffeq.odeint_adjoint(func, y0_t, t, method="dopri5", **tol)
        ys.sum().backward()
        grads = [(linear.weight.grad.numpy(), linear.bias.grad.numpy()) for linear in linears]
        return y0_t.grad.numpy(), _w7_flat_grad(net, grads)
    return run


def diffrax_w7_grad_vmap(net, theta, y0):
    """diffrax Dopri5 per sample, vmapped over the batch, RecursiveCheckpointAdjoint:
    jit(grad) of L over (y0, θ), compiled before returning."""
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    layers = [(jnp.asarray(weight), jnp.asarray(bias)) for weight, bias in _w7_layers(net, theta)]

    def f(t, y, params):
        for weight, bias in params[:-1]:
            y = jnp.tanh(weight @ y + bias)
        weight, bias = params[-1]
        return weight @ y + bias

    def one(y, params):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri5(), t0=float(w.W7_T[0]), t1=float(w.W7_T[-1]),
            dt0=None, y0=y, args=params, saveat=diffrax.SaveAt(ts=jnp.asarray(w.W7_T)),
            stepsize_controller=diffrax.PIDController(**w.W7_TOL),
            adjoint=diffrax.RecursiveCheckpointAdjoint(), max_steps=1_000_000).ys

    def loss(y, params):
        return jax.vmap(one, in_axes=(0, None))(y, params).sum()

    step = jax.jit(jax.grad(loss, argnums=(0, 1)))
    y0_j = jnp.asarray(y0)
    batch, dim = y0.shape
    start = time.perf_counter()
    jax.block_until_ready(step(y0_j, layers))
    COMPILE_SECONDS[f"diffrax W7 grad vmap D={dim} H={_w7_hidden(net)} B={batch}"] = (
        time.perf_counter() - start)

    def run():
        grad_y0, grad_params = jax.block_until_ready(step(y0_j, layers))
        return np.asarray(grad_y0), _w7_flat_grad(
            net, [(np.asarray(gw), np.asarray(gb)) for gw, gb in grad_params])
    return run


def _w7_hidden(net):
    return net.layers[0].out_features


W1 = {"torchdiffeq": torchdiffeq_w1, "torchode": torchode_w1, "diffrax": diffrax_w1}
W2 = {"torchdiffeq": torchdiffeq_w2, "torchode": torchode_w2,
      "diffrax-vmap": diffrax_w2_vmap, "diffrax-joint": diffrax_w2_joint}
W7 = {"torchdiffeq": torchdiffeq_w7, "diffrax-vmap": diffrax_w7_vmap,
      "diffrax-joint": diffrax_w7_joint}
W7_GRAD = {"torchdiffeq odeint_adjoint": torchdiffeq_w7_grad,
           "diffrax RecursiveCheckpointAdjoint, vmap (jit)": diffrax_w7_grad_vmap}


def _torch_w3_model(torch, net, theta):
    views = {k: torch.tensor(v) for k, v in net.unflatten(theta).items()}

    class Func(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = torch.nn.Parameter(views["1.weight"].clone())
            self.b1 = torch.nn.Parameter(views["1.bias"].clone())
            self.w2 = torch.nn.Parameter(views["3.weight"].clone())
            self.b2 = torch.nn.Parameter(views["3.bias"].clone())

        def forward(self, t, y):
            return torch.tanh((y ** 3) @ self.w1.T + self.b1) @ self.w2.T + self.b2
    return Func()


def torchdiffeq_w3(net, theta, data, adjoint, rtol=1e-7, atol=1e-9):
    """One torchdiffeq training step; returns a callable giving (loss, flat dL/dθ)."""
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    func = _torch_w3_model(torch, net, theta)
    y0, t, targets = (torch.tensor(x) for x in data)
    solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint

    def run():
        func.zero_grad()
        loss = (solve(func, y0, t, method="dopri5", rtol=rtol, atol=atol) - targets).abs().mean()
        loss.backward()
        grads = [p.grad.numpy().ravel() for p in (func.w1, func.b1, func.w2, func.b2)]
        return loss.item(), np.concatenate(grads)
    return run


def diffrax_w3(net, theta, data, adjoint_name, rtol=1e-7, atol=1e-9):
    """One diffrax training step (jit-compiled before returning)."""
    jax, jnp, diffrax = _diffrax()
    if jax is None:
        return None
    views = {k: jnp.asarray(v) for k, v in net.unflatten(theta).items()}
    params = (views["1.weight"], views["1.bias"], views["3.weight"], views["3.bias"])
    y0, targets = jnp.asarray(data[0]), jnp.asarray(data[2])
    t_np = np.asarray(data[1])
    t, t0, t1 = jnp.asarray(t_np), float(t_np[0]), float(t_np[-1])
    adjoint = getattr(diffrax, adjoint_name)()

    def vector_field(t, y, p):
        w1, b1, w2, b2 = p
        return w2 @ jnp.tanh(w1 @ (y ** 3) + b1) + b2

    def one(p, y):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field), diffrax.Dopri5(), t0=t0, t1=t1,
            dt0=None, y0=y, args=p, saveat=diffrax.SaveAt(ts=t),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            adjoint=adjoint, max_steps=100_000).ys

    def loss(p):
        ys = jax.vmap(lambda y: one(p, y))(y0)  # (B, T, D)
        return jnp.abs(ys - jnp.transpose(targets, (1, 0, 2))).mean()

    step = jax.jit(jax.value_and_grad(loss))
    start = time.perf_counter()
    jax.block_until_ready(step(params))
    COMPILE_SECONDS[f"diffrax W3 {adjoint_name}"] = time.perf_counter() - start

    def run():
        value, grads = jax.block_until_ready(step(params))
        return float(value), np.concatenate([np.asarray(g).ravel() for g in grads])
    return run


W3 = {"torchdiffeq odeint": lambda *a, **k: torchdiffeq_w3(*a, adjoint=False, **k),
      "torchdiffeq odeint_adjoint": lambda *a, **k: torchdiffeq_w3(*a, adjoint=True, **k),
      "diffrax RecursiveCheckpointAdjoint":
          lambda *a, **k: diffrax_w3(*a, "RecursiveCheckpointAdjoint", **k),
      "diffrax BacksolveAdjoint": lambda *a, **k: diffrax_w3(*a, "BacksolveAdjoint", **k)}


def torchdiffeq_w6(net, theta, iterations):
    """DiffEqFlux's spiral training benchmark in torchdiffeq (odeint_adjoint, Adam): a callable
    running `iterations` steps from the same initial weights, returning the last loss."""
    torch = _torch()
    if torch is None:
        return None
    import torchdiffeq
    t, y = (torch.tensor(x) for x in w.w6_data())

    def run():
        func = _torch_w3_model(torch, net, theta)
        opt = torch.optim.Adam(func.parameters(), lr=w.W6_LR)
        for _ in range(iterations):
            opt.zero_grad()
            pred = torchdiffeq.odeint_adjoint(func, y[0], t, method="dopri5", **w.W1_TOL)
            loss = ((pred - y) ** 2).sum()
            loss.backward()
            opt.step()
        return loss.item()
    return run
