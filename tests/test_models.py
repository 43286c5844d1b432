"""NeuralODE: fitting the spiral (regular and irregular samples) and the fit loop's
stopping rules."""
import numpy as np
import pytest

import neuralode as nde
from neuralode import data, optim
from neuralode.train import TrainingStopped


def spiral_model(**kw):
    net = nde.nets.Sequential(nde.nets.Power(3), nde.nets.Linear(2, 16), nde.nets.Tanh(),
                              nde.nets.Linear(16, 2))
    return nde.NeuralODE(net, rtol=1e-5, atol=1e-7, **kw)


def initial_loss(model, t, y):
    t_rows = np.broadcast_to(t, (y.shape[1], y.shape[0])) if t.ndim == 1 else t
    return nde.losses.mse(model.predict(y[0], t_rows), y)[0]


@pytest.mark.parametrize("irregular", [False, True])
def test_spiral_fit_lowers_the_loss_tenfold(irregular):
    t, y = data.spiral(60, 6.0, n_trajectories=8, irregular=irregular, noise=0.01, seed=1)
    model = spiral_model(seed=0)
    before = initial_loss(model, t, y)
    schedule = optim.CosineLR(0.03, 500)
    history = model.fit(t, y, optimizer=optim.Adam(lr=0.03, schedule=schedule), iterations=500,
                        batch_size=16, batch_time=8, progress=False, seed=0)
    after = initial_loss(model, t, y)  # whole trajectories, not only the training windows
    assert after < before / 10, (before, after)
    assert len(history.loss) == 500 and history.stopped is None
    assert min(history.nfe_forward) > 0 and min(history.nfe_backward) > 0
    assert model.nfe["forward"] == np.mean(history.nfe_forward) > 0
    assert model.parameters is model.params and model.params.shape == (model.net.num_params,)


def test_fit_is_reproducible_for_a_seed():
    t, y = data.spiral(30, 3.0, n_trajectories=3)
    runs = []
    for _ in range(2):
        model = spiral_model(seed=3)
        model.fit(t, y, iterations=5, batch_size=4, batch_time=5, seed=7, progress=False)
        runs.append(model.params)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_nan_loss_stops_and_keeps_the_last_good_parameters():
    t, y = data.spiral(20, 2.0)
    model = spiral_model()
    calls = []

    def loss(pred, target):
        calls.append(1)
        value, grad = nde.losses.mse(pred, target)
        return (np.nan if len(calls) == 4 else value), grad

    kept = []
    with pytest.warns(TrainingStopped, match="not finite"):
        model.fit(t, y, loss=loss, iterations=10, batch_size=2, progress=False,
                  callbacks=[lambda i, p, h: kept.append(p.copy())])
    assert len(model.history.loss) == 3
    # kept[-1] gave the NaN; kept[-2] was the last to give a finite loss
    np.testing.assert_array_equal(model.params, kept[-2])


def test_ctrl_c_stops_cleanly_and_keeps_the_training_so_far():
    t, y = data.spiral(20, 2.0)
    model = spiral_model()
    start = model.params.copy()

    def interrupt(i, params, history):
        if i == 2:
            raise KeyboardInterrupt

    history = model.fit(t, y, iterations=50, batch_size=2, progress=False, callbacks=[interrupt])
    assert history.stopped.startswith("interrupted") and len(history.loss) == 3
    assert not np.array_equal(model.params, start)


def test_early_stopping_returns_the_best_validation_parameters():
    t, y = data.spiral(20, 2.0, n_trajectories=2)
    model = spiral_model()
    history = model.fit(t, y, optimizer=optim.SGD(lr=5.0), iterations=200, batch_size=2,
                        validation=(t, y), validate_every=1, patience=3, progress=False)
    assert "early stopping" in history.stopped
    val = np.array(history.val_loss)
    assert history.best_iteration == int(np.nanargmin(val))


def test_fit_argument_errors():
    model = spiral_model()
    t, y = data.spiral(20, 2.0)
    with pytest.raises(ValueError, match="`t` must have shape"):
        model.fit(t[:5], y, progress=False)
    with pytest.raises(TypeError, match="`y` must be an array of real numbers"):
        model.fit(t, y > 0, progress=False)
    with pytest.raises(ValueError, match="`loss` must be"):
        model.fit(t, y, loss="hinge", progress=False)
    with pytest.raises(ValueError, match="`iterations` must be at least 1"):
        model.fit(t, y, iterations=0, progress=False)
    with pytest.raises(TypeError, match="`net` must be a neuralode.nets network"):
        nde.NeuralODE(lambda t, y: y)
    with pytest.raises(ValueError, match="`gradient` must be one of"):
        spiral_model(gradient="magic")
    with pytest.raises(ValueError, match="`patience` must be at least 1"):
        model.fit(t, y, validation=(t, y), patience=0, progress=False)
    with pytest.raises(ValueError, match="`patience` needs `validation`"):
        model.fit(t, y, patience=3, progress=False)
    with pytest.raises(ValueError, match="`validate_every` must be at least 1"):
        model.fit(t, y, validate_every=0, progress=False)
    with pytest.raises(TypeError, match="`callbacks` must be a list"):
        model.fit(t, y, callbacks=lambda i, p, h: False, progress=False)
    with pytest.raises(TypeError, match="`optimizer` must be a neuralode.optim optimizer"):
        model.fit(t, y, optimizer="adam", progress=False)


def test_a_failed_validation_stops_and_keeps_the_training_before_it(monkeypatch):
    import neuralode.models
    t, y = data.spiral(20, 2.0, n_trajectories=2)
    model = spiral_model()
    real, calls = neuralode.models.odeint, []

    def validation_solve(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise nde.SolverError("sample 1 stopped at t = 0.5 with status 'non_finite_state'")
        return real(*args, **kwargs)

    monkeypatch.setattr(neuralode.models, "odeint", validation_solve)
    kept = []
    with pytest.warns(TrainingStopped, match="the validation solve failed: trajectory 1"):
        model.fit(t, y, iterations=20, batch_size=2, progress=False, validation=(t, y),
                  validate_every=3, callbacks=[lambda i, p, h: kept.append(p.copy())])
    history = model.history
    assert len(history.loss) == len(history.val_loss) == 6  # iteration 6 is forgotten
    np.testing.assert_array_equal(model.params, kept[-1])  # the update before iteration 6's


def test_a_failed_solve_stops_with_a_warning_and_keeps_the_parameters():
    t, y = data.spiral(20, 2.0)
    model = spiral_model()
    real = model.loss_and_gradient
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise nde.SolverError("sample 0 stopped at t = 1 with status 'max_steps_reached'")
        return real(*args)

    model.loss_and_gradient = failing
    kept = []
    with pytest.warns(TrainingStopped, match=r"the solve failed: trajectory 0 \(the window "
                                             r"from observation \d+\) stopped"):
        model.fit(t, y, iterations=10, batch_size=2, progress=False,
                  callbacks=[lambda i, p, h: kept.append(p.copy())])
    assert len(model.history.loss) == 2
    np.testing.assert_array_equal(model.params, kept[-2])


def test_validation_split_holds_out_whole_trajectories():
    t, y = data.spiral(20, 2.0, n_trajectories=10, irregular=True, seed=2)
    model = spiral_model()
    seen = []
    real = model.loss_and_gradient

    def spy(params, y0, t_batch, targets, loss):
        seen.append(y0.copy())
        return real(params, y0, t_batch, targets, loss)

    model.loss_and_gradient = spy
    history = model.fit(t, y, iterations=30, batch_size=8, validation_split=0.3,
                        validate_every=5, progress=False, seed=4)
    held = np.random.default_rng(4).permutation(10)[:3]
    starts = np.concatenate(seen)
    for b in held:  # no observation of a held-out trajectory is ever a training start
        assert not np.any(np.all(np.isin(starts, y[:, b]), axis=1))
    assert np.isfinite(history.val_loss[0]) and np.isnan(history.val_loss[1])
    with pytest.raises(ValueError, match="`validation_split` must lie in"):
        model.fit(t, y, validation_split=1.0, progress=False)
    with pytest.raises(ValueError, match="not both"):
        model.fit(t, y, validation=(t, y), validation_split=0.2, progress=False)


def test_progress_line_shows_loss_nfe_and_rate(capsys):
    t, y = data.spiral(20, 2.0)
    history = spiral_model().fit(t, y, iterations=3, batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss" in err and "nfe" in err and "it/s" in err
    assert len(history.loss) == 3
