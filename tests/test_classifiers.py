"""ODE-Net and ResNet classifiers: accuracy on two moons, gradients of the whole model
against finite differences, scikit-learn estimator conventions, errors."""
import numpy as np
import pytest

import neuralode as nde
from finite_differences import central_differences
from neuralode.classifiers import NotFittedError


@pytest.fixture(scope="module")
def moons():
    X, y = nde.data.moons(600, noise=0.1, seed=0)
    return X[:400], y[:400], X[400:], y[400:]


def test_odenet_classifier_separates_two_moons(moons):
    X, y, X_test, y_test = moons
    clf = nde.ODENetClassifier().fit(X, y)
    assert clf.score(X_test, y_test) >= 0.97
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.history_.nfe_forward[-1] > 0 and clf.history_.nfe_backward[-1] > 0


def test_resnet_baseline_trains_too(moons):
    X, y, X_test, y_test = moons
    assert nde.ResNetClassifier(depth=4).fit(X, y).score(X_test, y_test) >= 0.95


def test_labels_keep_their_own_values():
    X, y = nde.data.circles(200, noise=0.05, seed=1)
    names = np.array(["outer", "inner"])[y]
    clf = nde.ODENetClassifier(max_iter=200).fit(X, names)
    assert set(clf.classes_) == {"inner", "outer"} and clf.score(X, names) >= 0.9


@pytest.mark.parametrize("make", [
    lambda: nde.ODENetClassifier(width=3, hidden=(4,), rtol=1e-10, atol=1e-12),
    lambda: nde.ResNetClassifier(width=3, hidden=(4,), depth=3),
])
def test_model_gradient_matches_finite_differences(make):
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(5, 2)), np.array([0, 2, 1, 1, 0])
    clf = make()
    clf.classes_, clf.n_features_in_ = np.arange(3), 2
    params = clf._build(2, 3)
    _, grad, _, _ = clf._loss_and_gradient(params, X, labels)
    fd = central_differences(lambda p: clf._loss_and_gradient(p, X, labels)[0], params)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_estimator_conventions():
    clf = nde.ODENetClassifier(width=4)
    params = clf.get_params()
    assert params["width"] == 4 and set(params) == set(nde.ODENetClassifier()._param_names)
    assert clf.set_params(width=6, max_iter=10) is clf and clf.width == 6
    with pytest.raises(ValueError, match="unknown parameter 'depth'"):
        clf.set_params(depth=3)
    assert "ODENetClassifier(width=6" in repr(clf)


def test_scikit_learn_clone_and_cross_validation():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    clf = nde.ODENetClassifier(max_iter=50)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    X, y = nde.data.moons(90, seed=2)
    scores = cross_val_score(clf, X, y, cv=3)
    assert len(scores) == 3 and np.all((scores >= 0) & (scores <= 1))


def test_classifier_errors(moons):
    X, y, _, _ = moons
    clf = nde.ODENetClassifier(max_iter=5)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clf.predict(X)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clf.save("never-written.npz")
    with pytest.raises(ValueError, match="`X` must have shape"):
        clf.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="`y` must have shape"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least two classes"):
        clf.fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="`X` contains NaN"):
        clf.fit(np.full_like(X, np.nan), y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="`X` has 3 features; the model was fitted with 2"):
        clf.predict(np.zeros((4, 3)))


@pytest.mark.parametrize("params,message", [
    ({"width": 0}, "`width` must be an int >= 1"),
    ({"hidden": 5}, "`hidden` must be a sequence"),
    ({"batch_size": 0}, "`batch_size` must be an int >= 1"),
    ({"max_iter": 0}, "`max_iter` must be an int >= 1"),
    ({"learning_rate": -1}, "`learning_rate` must be a positive number"),
    ({"method": "rk45"}, "`method` must be one of"),
    ({"gradient": "magic"}, "`gradient` must be one of"),
    ({"activation": "swish"}, "`activation` must be one of"),
])
def test_hyperparameters_are_checked_before_any_work(params, message):
    X, y = nde.data.moons(40)
    with pytest.raises(ValueError, match=message):
        nde.ODENetClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="`depth` must be an int >= 1"):
        nde.ResNetClassifier(depth=0).fit(X, y)


def test_a_failed_refit_leaves_the_previous_fit():
    X, y = nde.data.moons(60, seed=1)
    clf = nde.ODENetClassifier(max_iter=20).fit(X, y)
    before = clf.predict_proba(X)
    three = np.arange(60) % 3
    with pytest.raises(ValueError, match="`learning_rate`"):
        clf.set_params(learning_rate=-1).fit(X, three)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert len(clf.classes_) == 2
    # This one fails after the refit has set classes_ (to one class): it must be undone.
    with pytest.raises(ValueError, match="at least two classes"):
        clf.set_params(learning_rate=0.01).fit(X, np.zeros(60, dtype=int))
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert len(clf.classes_) == 2
