"""Pickling, deepcopy and scikit-learn's clone of networks, optimizers, classifiers and
results: through their specs and arrays only (no C++ object, no code), so joblib and
multiprocessing can ship them to other processes."""
import copy
import io
import multiprocessing
import pickle
import warnings

import numpy as np
import pytest

import neuralode as nde
from neuralode import nets


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.globals = []

    def find_class(self, module, name):
        self.globals.append(f"{module}.{name}")
        return super().find_class(module, name)


def round_trip(obj):
    """obj pickled and unpickled, checked to name no C++ class of neuralode._core."""
    unpickler = _RecordingUnpickler(pickle.dumps(obj))
    loaded = unpickler.load()
    assert not [g for g in unpickler.globals if g.startswith("neuralode._core")], \
        unpickler.globals
    return loaded


def _relu():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ReLU warns once per process
        return nets.ReLU()


def _networks():
    for activation in ["tanh", "sigmoid", "softplus", "elu", "sin", "identity"]:
        yield f"mlp-{activation}", nets.MLP(3, hidden=[5, 4], activation=activation)
    yield "mlp-time", nets.MLP(3, hidden=[6], time_input=True)
    yield "relu", nets.Sequential(nets.Linear(3, 6), _relu(), nets.Linear(6, 3))
    yield "powers", nets.Sequential(nets.Power(3), nets.Linear(3, 4), nets.Softplus(),
                                    nets.Power(2.5), nets.ConcatTime(), nets.Linear(5, 3))


@pytest.mark.parametrize("net", [net for _, net in _networks()],
                         ids=[name for name, _ in _networks()])
def test_networks_round_trip_with_the_same_outputs(net):
    theta = net.init(seed=1)
    y = np.random.default_rng(2).uniform(0.2, 1.0, size=(4, 3))
    a = np.ones_like(y)
    for loaded in (round_trip(net), copy.deepcopy(net)):
        assert type(loaded) is type(net) and repr(loaded) == repr(net)
        assert loaded.num_params == net.num_params and loaded.dim == net.dim
        np.testing.assert_array_equal(loaded(0.3, y, theta), net(0.3, y, theta))
        for got, expected in zip(loaded.vjp(0.3, y, theta, a), net.vjp(0.3, y, theta, a)):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(
            nde.odeint(loaded, y, [0.0, 1.0], params=theta),
            nde.odeint(net, y, [0.0, 1.0], params=theta))


def test_a_network_of_any_dimension_drops_its_cached_cores():
    net = nets.Sequential(nets.Tanh())  # no Linear: one C++ network per state dimension
    net(0.0, np.ones(2), None), net(0.0, np.ones(5), None)
    loaded = round_trip(net)
    assert loaded.dim is None
    np.testing.assert_array_equal(loaded(0.0, np.ones(3), None), np.tanh(np.ones(3)))


@pytest.mark.parametrize("layer", [nets.Linear(3, 4), nets.Power(2.5), nets.ConcatTime(),
                                   nets.Tanh(), nets.ELU(), _relu()], ids=repr)
def test_layers_round_trip(layer):
    loaded = round_trip(layer)
    assert type(loaded) is type(layer) and repr(loaded) == repr(layer)
    assert vars(loaded) == vars(layer)


def _optimizers():
    yield nde.optim.SGD(lr=0.1)
    yield nde.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    yield nde.optim.Adam(lr=0.01, amsgrad=True, clip_norm=1.0)
    yield nde.optim.Adam(lr=0.01, schedule=nde.optim.CosineLR(0.01, 10))
    yield nde.optim.AdamW(lr=0.01, schedule=nde.optim.StepLR(0.01, 2, gamma=0.5))
    yield nde.optim.RMSprop(lr=0.01, momentum=0.5, centered=True)


@pytest.mark.parametrize("optimizer", list(_optimizers()), ids=lambda o: type(o).__name__)
def test_optimizers_continue_mid_training_as_they_would_have(optimizer):
    rng = np.random.default_rng(0)
    params = rng.normal(size=5)
    for _ in range(3):
        params = optimizer.step(params, rng.normal(size=5))
    grad = rng.normal(size=5)
    for loaded in (round_trip(optimizer), copy.deepcopy(optimizer)):
        assert loaded.steps_taken == 3 and loaded.lr == optimizer.lr
        np.testing.assert_array_equal(loaded.step(params, grad),
                                      copy.deepcopy(optimizer).step(params, grad))
    assert optimizer.steps_taken == 3  # the copies' steps left the original alone


@pytest.fixture(scope="module")
def moons():
    return nde.data.moons(60, seed=3)


CLASSIFIERS = [nde.ODENetClassifier, nde.ResNetClassifier]


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifiers_round_trip_fitted_and_unfitted(cls, moons):
    X, y = moons
    clf = cls(width=3, hidden=(4,), max_iter=10)
    loaded = round_trip(clf)
    assert type(loaded) is cls and loaded.get_params() == clf.get_params()
    assert not hasattr(loaded, "params_")
    clf.fit(X, np.array(["a", "b"])[y])
    for loaded in (round_trip(clf), copy.deepcopy(clf)):
        assert loaded.get_params() == clf.get_params()
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, clf.classes_)
        assert repr(loaded.history_) == repr(clf.history_)  # repr: NaN == NaN, floats exact
        assert loaded.n_features_in_ == 2
    copied = copy.deepcopy(clf)
    copied.params_[:] = 0  # a deep copy shares no array with the original
    assert np.any(clf.params_ != 0)


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_clone_gives_an_unfitted_copy_with_the_same_settings(cls, moons):
    clone = pytest.importorskip("sklearn.base").clone
    X, y = moons
    clf = cls(width=3, hidden=(4,), max_iter=5).fit(X, y)
    copy_ = clone(clf)
    assert copy_.get_params() == clf.get_params() and not hasattr(copy_, "params_")
    np.testing.assert_array_equal(copy_.fit(X, y).predict_proba(X), clf.predict_proba(X))


def test_solutions_and_gradients_round_trip(spiral_net):
    net, theta = spiral_net
    y0 = np.array([[2.0, 0.0], [1.0, 1.0]])
    sol = nde.solve(net, y0, np.linspace(0, 1, 4), params=theta)
    ys, pullback = nde.odeint_vjp(net, y0, np.linspace(0, 1, 4), params=theta)
    grads = pullback(np.ones_like(ys))
    for obj in (sol, grads):
        for loaded in (round_trip(obj), copy.deepcopy(obj)):
            assert type(loaded) is type(obj) and type(loaded.stats) is type(obj.stats)
            for field in set(obj.__dataclass_fields__) - {"stats"}:
                np.testing.assert_array_equal(getattr(loaded, field), getattr(obj, field))
            for field in obj.stats.__dataclass_fields__:
                np.testing.assert_array_equal(getattr(loaded.stats, field),
                                              getattr(obj.stats, field))
    assert round_trip(sol).success


def test_cross_validation_in_worker_processes_returns_fitted_classifiers(moons):
    # Fitted classifiers come back from joblib's workers pickled: this raised TypeError.
    cross_validate = pytest.importorskip("sklearn.model_selection").cross_validate
    X, y = moons
    clf = nde.ODENetClassifier(width=3, hidden=(4,), max_iter=5)
    result = cross_validate(clf, X, y, cv=2, n_jobs=2, return_estimator=True)
    serial = cross_validate(clf, X, y, cv=2, n_jobs=1, return_estimator=True)
    np.testing.assert_array_equal(result["test_score"], serial["test_score"])
    for fitted, expected in zip(result["estimator"], serial["estimator"]):
        np.testing.assert_array_equal(fitted.predict_proba(X), expected.predict_proba(X))


def test_grid_search_over_a_pipeline_in_two_processes(moons):
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = moons
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("clf", nde.ODENetClassifier(width=3, hidden=(4,), max_iter=10))])
    grid = {"clf__width": [2, 3], "clf__learning_rate": [0.02, 0.05]}
    parallel = GridSearchCV(pipeline, grid, n_jobs=2, cv=2).fit(X, y)
    serial = GridSearchCV(pipeline, grid, n_jobs=1, cv=2).fit(X, y)
    assert parallel.best_score_ == serial.best_score_
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))


def test_a_spawned_process_fits_and_predicts_like_this_one(moons):
    X, y = moons
    clf = nde.ResNetClassifier(width=3, hidden=(4,), max_iter=10)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        fitted = pool.apply(clf.fit, (X, y))  # the classifier there and back
        proba = pool.apply(fitted.predict_proba, (X,))
    expected = clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(fitted.predict_proba(X), expected)
    np.testing.assert_array_equal(proba, expected)
