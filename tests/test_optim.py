"""Optimizers against straight-line transcriptions of torch.optim's documented algorithms,
convergence on a quadratic, clipping, schedules, state round trips and every error path."""
import json
import math

import numpy as np
import pytest

from neuralode import optim

RNG = np.random.default_rng(0)
P0 = RNG.normal(size=6)
# Gradient magnitudes that shrink and grow again, so AMSGrad's running max matters.
GRADS = RNG.normal(size=(5, 6)) * np.array([3.0, 1.0, 0.1, 2.0, 0.05])[:, None]
P0.flags.writeable = GRADS.flags.writeable = False  # a step that wrote to them would raise
EXACT = {"rtol": 1e-14, "atol": 0}


# ---- References: the torch.optim pseudo-code, one coordinate at a time, in Python floats.

def sgd_reference(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False):
    out = []
    for i, p in enumerate(p0):
        b = None
        for g_vec in grads:
            g = g_vec[i]
            if weight_decay != 0:
                g = g + weight_decay * p
            if momentum != 0:
                b = g if b is None else momentum * b + (1 - dampening) * g
                g = g + momentum * b if nesterov else b
            p = p - lr * g
        out.append(p)
    return np.array(out)


def adam_reference(p0, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, decoupled=False):
    beta1, beta2 = betas
    out = []
    for i, p in enumerate(p0):
        m = v = v_max = 0.0
        for t, g_vec in enumerate(grads, start=1):
            g = g_vec[i]
            if decoupled:
                p = p - lr * weight_decay * p
            elif weight_decay != 0:
                g = g + weight_decay * p
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1 ** t)
            if amsgrad:
                v_max = max(v_max, v)
                v_hat = v_max / (1 - beta2 ** t)
            else:
                v_hat = v / (1 - beta2 ** t)
            p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return np.array(out)


def rmsprop_reference(p0, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                      momentum=0.0, centered=False):
    out = []
    for i, p in enumerate(p0):
        v = g_avg = b = 0.0
        for g_vec in grads:
            g = g_vec[i]
            if weight_decay != 0:
                g = g + weight_decay * p
            v = alpha * v + (1 - alpha) * g * g
            v_tilde = v
            if centered:
                g_avg = g_avg * alpha + (1 - alpha) * g
                v_tilde = v_tilde - g_avg * g_avg
            if momentum > 0:
                b = momentum * b + g / (math.sqrt(v_tilde) + eps)
                p = p - lr * b
            else:
                p = p - lr * g / (math.sqrt(v_tilde) + eps)
        out.append(p)
    return np.array(out)


def run(opt, p=P0, grads=GRADS):
    for g in grads:
        p = opt.step(p, g)
    return p


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.2),
    dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
]
ADAM_CASES = [
    dict(),
    dict(lr=0.1, weight_decay=0.3),
    dict(lr=0.1, amsgrad=True),
    dict(lr=0.1, betas=(0.5, 0.6), eps=1e-3, weight_decay=0.1, amsgrad=True),
]
ADAMW_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.3, amsgrad=True),
    dict(lr=0.05, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.0),
]
RMSPROP_CASES = [
    dict(),
    dict(alpha=0.9, centered=True),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, alpha=0.8, eps=1e-4, weight_decay=0.2, momentum=0.5, centered=True),
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd_matches_the_documented_algorithm(kwargs):
    np.testing.assert_allclose(run(optim.SGD(**kwargs)), sgd_reference(P0, GRADS, **kwargs),
                               **EXACT)


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_matches_the_documented_algorithm(kwargs):
    np.testing.assert_allclose(run(optim.Adam(**kwargs)), adam_reference(P0, GRADS, **kwargs),
                               **EXACT)


@pytest.mark.parametrize("kwargs", ADAMW_CASES, ids=str)
def test_adamw_matches_the_documented_algorithm(kwargs):
    expected = adam_reference(P0, GRADS, decoupled=True, **{"weight_decay": 1e-2, **kwargs})
    np.testing.assert_allclose(run(optim.AdamW(**kwargs)), expected, **EXACT)


@pytest.mark.parametrize("kwargs", RMSPROP_CASES, ids=str)
def test_rmsprop_matches_the_documented_algorithm(kwargs):
    np.testing.assert_allclose(run(optim.RMSprop(**kwargs)),
                               rmsprop_reference(P0, GRADS, **kwargs), **EXACT)


def test_the_variants_change_the_result():
    """Guards the references above against cases where a variant has no effect."""
    assert not np.allclose(run(optim.Adam(lr=0.1, amsgrad=True)), run(optim.Adam(lr=0.1)))
    assert not np.allclose(run(optim.AdamW(lr=0.1)), run(optim.Adam(lr=0.1, weight_decay=1e-2)))
    assert not np.allclose(run(optim.SGD(0.1, momentum=0.9, nesterov=True)),
                           run(optim.SGD(0.1, momentum=0.9)))
    assert not np.allclose(run(optim.RMSprop(centered=True)), run(optim.RMSprop()))


# ---- Convergence on 0.5 xᵀAx − bᵀx, A SPD with eigenvalues 1..10.

def _quadratic():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    a = q @ np.diag(np.linspace(1.0, 10.0, 5)) @ q.T
    b = rng.normal(size=5)
    return a, b, np.linalg.solve(a, b)


@pytest.mark.parametrize("make", [
    lambda: optim.SGD(0.15),
    lambda: optim.SGD(0.05, momentum=0.7, nesterov=True),
    lambda: optim.SGD(0.05, momentum=0.5, dampening=0.2),
    lambda: optim.Adam(0.05),
    lambda: optim.Adam(0.05, amsgrad=True, schedule=optim.StepLR(0.05, 100, gamma=0.3)),
    lambda: optim.AdamW(0.05, weight_decay=0.0, schedule=optim.CosineLR(0.05, 1000)),
    lambda: optim.RMSprop(0.01, schedule=optim.StepLR(0.01, 100, gamma=0.3)),
    lambda: optim.RMSprop(0.01, momentum=0.5, centered=True,
                          schedule=optim.CosineLR(0.01, 1000, min_lr=1e-5)),
], ids=["sgd", "nesterov", "momentum", "adam", "amsgrad", "adamw", "rmsprop", "rmsprop-centered"])
def test_convergence_on_a_quadratic(make):
    a, b, x_star = _quadratic()
    opt, x = make(), np.zeros(5)
    for _ in range(1000):
        x = opt.step(x, a @ x - b)
        if np.linalg.norm(x - x_star) < 1e-3:
            break
    assert np.linalg.norm(x - x_star) < 1e-3


# ---- Clipping.

def test_clip_grad_norm_under_the_limit_keeps_the_gradient():
    g = np.array([3.0, -4.0])
    clipped, norm = optim.clip_grad_norm(g, 5.5)
    assert norm == 5.0
    np.testing.assert_array_equal(clipped, g)
    assert clipped is not g


@pytest.mark.parametrize("max_norm", [2.0, 12.9])
def test_clip_grad_norm_over_the_limit_scales_to_max_norm(max_norm):
    g = np.array([3.0, -4.0, 12.0])
    before = g.copy()
    clipped, norm = optim.clip_grad_norm(g, max_norm)
    assert norm == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_allclose(clipped, g * max_norm / (13.0 + 1e-6), **EXACT)
    assert np.linalg.norm(clipped) == pytest.approx(max_norm, rel=1e-6)
    np.testing.assert_array_equal(g, before)


def test_clip_norm_option_clips_before_the_update():
    grads = GRADS * 10
    clipped = [optim.clip_grad_norm(g, 1.5)[0] for g in grads]
    np.testing.assert_allclose(run(optim.Adam(0.1, weight_decay=0.2, clip_norm=1.5), grads=grads),
                               adam_reference(P0, clipped, lr=0.1, weight_decay=0.2), **EXACT)


# ---- Schedules.

def test_step_lr_values():
    schedule = optim.StepLR(0.1, step_size=3, gamma=0.5)
    for step, lr in [(0, 0.1), (2, 0.1), (3, 0.05), (5, 0.05), (6, 0.025), (10, 0.1 * 0.5 ** 3)]:
        assert schedule(step) == pytest.approx(lr, rel=1e-15)


def test_cosine_lr_values():
    schedule = optim.CosineLR(1.0, total_steps=10, min_lr=0.1)
    assert schedule(0) == 1.0
    assert schedule(5) == pytest.approx(0.55, rel=1e-15)
    assert schedule(2) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 0.2)) / 2, rel=1e-15)
    assert schedule(10) == schedule(25) == 0.1


def test_schedule_gives_the_lr_of_each_step():
    schedule = optim.StepLR(0.2, step_size=2, gamma=0.5)
    opt, p = optim.SGD(1.0, schedule=schedule), P0
    for k, g in enumerate(GRADS):
        p_next = opt.step(p, g)
        np.testing.assert_allclose(p_next, p - schedule(k) * g, **EXACT)
        assert opt.lr == schedule(k)
        p = p_next


def test_lr_may_change_between_steps():
    opt = optim.SGD(0.1)
    p = opt.step(P0, GRADS[0])
    opt.lr = 0.01
    np.testing.assert_allclose(opt.step(p, GRADS[1]), p - 0.01 * GRADS[1], **EXACT)


# ---- State.

STATEFUL = [
    lambda: optim.SGD(0.1),
    lambda: optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda: optim.Adam(0.1, amsgrad=True),
    lambda: optim.AdamW(0.1, schedule=optim.CosineLR(0.1, 4)),
    lambda: optim.RMSprop(momentum=0.5, centered=True, clip_norm=1.0),
]


@pytest.mark.parametrize("make", STATEFUL)
def test_state_dict_round_trip_through_npz_and_json(make, tmp_path):
    uninterrupted = run(make())
    first = make()
    p = run(first, grads=GRADS[:2])
    state = first.state_dict()
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in state.items() if k not in arrays}
    np.savez(tmp_path / "state.npz", **arrays)
    (tmp_path / "state.json").write_text(json.dumps(scalars))
    with np.load(tmp_path / "state.npz") as saved:
        restored = {**dict(saved), **json.loads((tmp_path / "state.json").read_text())}
    second = make()
    second.load_state_dict(restored)
    np.testing.assert_array_equal(run(second, p=p, grads=GRADS[2:]), uninterrupted)


def test_state_dict_is_a_copy():
    opt = optim.Adam(0.1)
    p = opt.step(P0, GRADS[0])
    opt.state_dict()["exp_avg"][:] = 1e9
    expected = run(optim.Adam(0.1), grads=GRADS[:2])
    np.testing.assert_array_equal(opt.step(p, GRADS[1]), expected)


def test_reset_starts_over():
    opt = optim.SGD(0.1, momentum=0.9)
    run(opt)
    opt.reset()
    assert opt.steps_taken == 0 and opt.state_dict() == {"step": 0, "lr": 0.1}
    np.testing.assert_array_equal(run(opt), run(optim.SGD(0.1, momentum=0.9)))
    opt.reset()
    opt.step(np.zeros(3), np.ones(3))  # a new shape is fine after reset


@pytest.mark.parametrize("make", STATEFUL)
def test_step_does_not_modify_its_inputs(make):
    opt, p, grads = make(), P0.copy(), GRADS.copy()
    for g in grads:
        p_next = opt.step(p, g)
        assert p_next is not p
        p = p_next
    np.testing.assert_array_equal(grads, GRADS)
    np.testing.assert_array_equal(run(make()), p)


def test_state_does_not_alias_the_callers_gradient():
    """SGD's first momentum buffer is the gradient itself; it must be a copy."""
    opt, g = optim.SGD(0.1, momentum=0.9), GRADS[0].copy()
    p = opt.step(P0, g)
    g[:] = 1e6
    p = opt.step(p, GRADS[1])
    np.testing.assert_allclose(p, sgd_reference(P0, GRADS[:2], 0.1, momentum=0.9), **EXACT)


# ---- Errors.

@pytest.mark.parametrize("make,error,match", [
    (lambda: optim.SGD(-1), ValueError, r"`lr` must be positive; got -1"),
    (lambda: optim.SGD(0), ValueError, r"`lr` must be positive; got 0"),
    (lambda: optim.SGD("0.1"), TypeError, r"`lr` must be a real number; got str"),
    (lambda: optim.SGD(float("nan")), ValueError, r"`lr` must be finite"),
    (lambda: optim.SGD(0.1, momentum=-0.5), ValueError, r"`momentum` must be non-negative"),
    (lambda: optim.SGD(0.1, weight_decay=-1), ValueError, r"`weight_decay` must be non-neg"),
    (lambda: optim.SGD(0.1, dampening=1.5), ValueError, r"`dampening` must lie in \[0, 1\]"),
    (lambda: optim.SGD(0.1, nesterov=True), ValueError, r"`nesterov` requires `momentum` > 0"),
    (lambda: optim.SGD(0.1, momentum=0.9, nesterov=True, dampening=0.1), ValueError,
     r"`nesterov` requires .* `dampening` = 0"),
    (lambda: optim.SGD(0.1, nesterov="yes"), TypeError, r"`nesterov` must be a bool"),
    (lambda: optim.SGD(0.1, momentun=0.9), TypeError, r"momentun"),
    (lambda: optim.SGD(0.1, clip_norm=0), ValueError, r"`clip_norm` must be positive"),
    (lambda: optim.SGD(0.1, schedule=3), TypeError, r"`schedule` must be callable"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), ValueError, r"`betas\[0\]` must lie in \[0, 1\)"),
    (lambda: optim.Adam(betas=(0.9, -0.1)), ValueError, r"`betas\[1\]` must lie in \[0, 1\)"),
    (lambda: optim.Adam(betas=0.9), TypeError, r"`betas` must be a pair"),
    (lambda: optim.Adam(eps=-1e-8), ValueError, r"`eps` must be non-negative"),
    (lambda: optim.Adam(weight_decay=-1), ValueError, r"`weight_decay` must be non-negative"),
    (lambda: optim.Adam(amsgrad=1), TypeError, r"`amsgrad` must be a bool"),
    (lambda: optim.AdamW(lr=0), ValueError, r"`lr` must be positive"),
    (lambda: optim.AdamW(weight_decay=-0.1), ValueError, r"`weight_decay` must be non-neg"),
    (lambda: optim.AdamW(betas=(0.9, 1.0)), ValueError, r"`betas\[1\]` must lie in \[0, 1\)"),
    (lambda: optim.RMSprop(alpha=1.0), ValueError, r"`alpha` must lie in \[0, 1\)"),
    (lambda: optim.RMSprop(alpha=-0.1), ValueError, r"`alpha` must lie in \[0, 1\)"),
    (lambda: optim.RMSprop(eps=-1), ValueError, r"`eps` must be non-negative"),
    (lambda: optim.RMSprop(momentum=-1), ValueError, r"`momentum` must be non-negative"),
    (lambda: optim.RMSprop(weight_decay=-1), ValueError, r"`weight_decay` must be non-neg"),
    (lambda: optim.RMSprop(centered=None), TypeError, r"`centered` must be a bool"),
    (lambda: optim.StepLR(0, 3), ValueError, r"`base_lr` must be positive"),
    (lambda: optim.StepLR(0.1, 0), ValueError, r"`step_size` must be at least 1"),
    (lambda: optim.StepLR(0.1, 2.5), TypeError, r"`step_size` must be an integer"),
    (lambda: optim.StepLR(0.1, 3, gamma=0), ValueError, r"`gamma` must be positive"),
    (lambda: optim.StepLR(0.1, 3)(-1), ValueError, r"`step` must be at least 0"),
    (lambda: optim.CosineLR(0.1, 0), ValueError, r"`total_steps` must be at least 1"),
    (lambda: optim.CosineLR(0.1, 10, min_lr=-1), ValueError, r"`min_lr` must be non-negative"),
    (lambda: optim.CosineLR(0.1, 10, min_lr=0.2), ValueError, r"`min_lr` must not exceed"),
    (lambda: optim.CosineLR(0.1, 10)(1.5), TypeError, r"`step` must be an integer"),
    (lambda: optim.clip_grad_norm(np.ones(3), 0), ValueError, r"`max_norm` must be positive"),
    (lambda: optim.clip_grad_norm([1.0, np.inf], 1), ValueError, r"`grad` contains NaN or inf"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("params,grad,error,match", [
    (P0, np.where(np.arange(6) == 2, np.nan, 1.0), ValueError, r"`grad` contains NaN or inf"),
    (P0, np.full(6, -np.inf), ValueError, r"`grad` contains NaN or inf"),
    (P0, np.ones(5), ValueError, r"`grad` has shape \(5,\) but `params` has shape \(6,\)"),
    (P0, ["a"] * 6, TypeError, r"`grad` must be an array of real numbers"),
    (P0 * 1j, np.ones(6), TypeError, r"`params` must be an array of real numbers"),
])
def test_bad_step_arguments(params, grad, error, match):
    with pytest.raises(error, match=match):
        optim.Adam().step(params, grad)


def test_params_of_another_shape_after_the_first_step():
    opt = optim.RMSprop()
    opt.step(P0, GRADS[0])
    with pytest.raises(ValueError, match=r"`params` has shape \(3,\) but .* shape \(6,\)"):
        opt.step(np.zeros(3), np.zeros(3))


def test_bad_lr_assignment_and_schedule_output():
    opt = optim.SGD(0.1)
    with pytest.raises(ValueError, match=r"`lr` must be positive; got -1"):
        opt.lr = -1
    assert opt.lr == 0.1
    with pytest.raises(ValueError, match=r"`schedule` must return a finite lr >= 0; got -0.5"):
        optim.SGD(0.1, schedule=lambda k: -0.5).step(P0, GRADS[0])


def test_bad_state_dicts():
    opt = optim.Adam(0.1)
    run(opt, grads=GRADS[:2])
    good = opt.state_dict()
    fresh = optim.Adam(0.1)
    with pytest.raises(ValueError, match=r"`state_dict` lacks the key 'step'"):
        fresh.load_state_dict({k: v for k, v in good.items() if k != "step"})
    with pytest.raises(ValueError, match=r"`state_dict` has buffers .* expects .*max_exp_avg_sq"):
        optim.Adam(0.1, amsgrad=True).load_state_dict(good)
    with pytest.raises(ValueError, match=r"`state_dict` buffers have differing shapes"):
        fresh.load_state_dict({**good, "exp_avg": np.zeros(2)})
    with pytest.raises(ValueError, match=r"`state_dict\['lr'\]` must be positive"):
        fresh.load_state_dict({**good, "lr": 0.0})
