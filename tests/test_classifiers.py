"""ODE-Net and ResNet classifiers: accuracy on two moons, gradients of the whole model
against finite differences, scikit-learn estimator conventions, errors."""
import pickle
import sys
import warnings

import numpy as np
import pytest

import neuralode as nde
from finite_differences import central_differences
from neuralode import classifiers
from neuralode.classifiers import DataConversionWarning, NotFittedError


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
    with pytest.raises(ValueError, match="X has 3 features, but ODENetClassifier is expecting 2"):
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


# -- scikit-learn conformance ----------------------------------------------------------------

FAST = {"width": 4, "hidden": (8,), "max_iter": 30, "learning_rate": 0.05}
ESTIMATORS = [nde.ODENetClassifier(**FAST), nde.ResNetClassifier(depth=2, **FAST)]


def _estimator_checks():
    """scikit-learn's check_estimator, one test per check (scikit-learn >= 1.6)."""
    try:
        from sklearn.utils.estimator_checks import parametrize_with_checks
        with warnings.catch_warnings():  # by design they do not inherit BaseEstimator
            warnings.filterwarnings("ignore", "Estimator .* does not inherit from", UserWarning)
            return parametrize_with_checks(ESTIMATORS)
    except (ImportError, TypeError):
        return pytest.mark.parametrize("estimator,check", [pytest.param(
            None, None, marks=pytest.mark.skip(reason="needs scikit-learn >= 1.6"))])


@_estimator_checks()
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def three_classes():
    X, y = nde.data.moons(60, seed=5)
    return X, np.arange(60) % 3


@pytest.mark.parametrize("cls", [nde.ODENetClassifier, nde.ResNetClassifier])
def test_continuous_and_non_finite_targets_are_refused(cls, three_classes):
    X, _ = three_classes
    clf = cls(max_iter=2)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, X[:, 0])  # was taken as 60 classes
    with pytest.raises(ValueError, match="`y` contains NaN or inf"):
        clf.fit(X, np.where(np.arange(60) % 2, 1.0, np.nan))
    with pytest.raises(ValueError, match="Unknown label type: complex"):
        clf.fit(X, np.arange(60) % 2 + 1j)
    with pytest.raises(ValueError, match=r"Unknown label type: .*\(int, str\)"):
        clf.fit(X, np.array([1, "a"] * 30, dtype=object))
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="at least two classes; got 1 class"):
        clf.fit(X[:1], [0])
    clf.fit(X, (np.arange(60) % 2).astype(float))  # integral floats are labels


@pytest.mark.parametrize("cls", [nde.ODENetClassifier, nde.ResNetClassifier])
def test_a_column_of_labels_is_taken_with_a_warning(cls, three_classes):
    X, y = three_classes
    expected = cls(max_iter=5).fit(X, y)
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        clf = cls(max_iter=5).fit(X, y[:, None])  # was refused
    np.testing.assert_array_equal(clf.predict_proba(X), expected.predict_proba(X))
    with pytest.warns(DataConversionWarning):
        assert clf.score(X, y[:, None]) == expected.score(X, y)
    with pytest.raises(ValueError, match=r"`y` must have shape \(60,\); got \(60, 2\)"):
        cls(max_iter=5).fit(X, np.stack([y, y], axis=1))


@pytest.mark.parametrize("X,error,message", [
    (np.zeros(5), ValueError, "Reshape your data"),
    (np.zeros((0, 2)), ValueError, r"0 sample\(s\) \(shape=\(0, 2\)\) while a minimum of 1"),
    (np.zeros((5, 0)), ValueError, r"0 feature\(s\) \(shape=\(5, 0\)\) while a minimum of 1"),
    (np.ones((5, 2)) + 1j, ValueError, "Complex data not supported"),
    (np.array([[1.0, {"a": 1}]] * 5, dtype=object), TypeError,
     "`X` must hold real numbers .*argument must be a string"),
    (np.array([["a", "b"]] * 5), ValueError, "`X` must hold real numbers"),
], ids=["1d", "no-samples", "no-features", "complex", "object", "strings"])
def test_malformed_features_are_refused_in_scikit_learn_words(X, error, message):
    with pytest.raises(error, match=message):
        nde.ODENetClassifier(max_iter=2).fit(X, np.arange(len(X)) % 2)


def test_sparse_features_are_refused_by_name():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse matrix.*X.toarray()"):
        nde.ODENetClassifier(max_iter=2).fit(sparse.csr_matrix(np.eye(4)), [0, 1, 0, 1])


def test_predicting_before_fit_raises_scikit_learns_not_fitted_error():
    SklearnNotFittedError = pytest.importorskip("sklearn.exceptions").NotFittedError
    clf = nde.ODENetClassifier()
    with pytest.raises(SklearnNotFittedError) as info:
        clf.predict(np.zeros((2, 2)))
    assert isinstance(info.value, NotFittedError)  # ours too, whichever is caught
    assert type(pickle.loads(pickle.dumps(info.value))) is NotFittedError


def test_errors_and_warnings_are_our_own_while_scikit_learn_is_not_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "sklearn.exceptions", raising=False)
    with pytest.raises(NotFittedError) as info:
        nde.ResNetClassifier().predict_proba(np.zeros((2, 2)))
    assert type(info.value) is NotFittedError
    X, y = nde.data.moons(20)
    with pytest.warns(DataConversionWarning) as record:
        nde.ResNetClassifier(max_iter=2).fit(X, y[:, None])
    assert type(record[0].message) is DataConversionWarning
    warning = pickle.loads(pickle.dumps(record[0].message))
    assert type(warning) is DataConversionWarning and "column-vector" in str(warning)


@pytest.mark.parametrize("cls", [nde.ODENetClassifier, nde.ResNetClassifier])
def test_num_threads_reaches_the_solves_and_does_not_change_results(cls, three_classes,
                                                                   monkeypatch):
    X, y = three_classes
    clf = cls(max_iter=5, num_threads=2)
    assert clf.get_params()["num_threads"] == 2 and cls().num_threads is None
    seen = []
    for name in ("odeint", "odeint_vjp"):
        solve = getattr(classifiers, name)
        monkeypatch.setattr(classifiers, name, lambda *a, _solve=solve, **k:
                            seen.append(k["num_threads"]) or _solve(*a, **k))
    proba = clf.fit(X, y).predict_proba(X)
    assert set(seen) == {2}
    np.testing.assert_array_equal(proba, clf.set_params(num_threads=1).fit(X, y).predict_proba(X))
    clone = pytest.importorskip("sklearn.base").clone
    assert clone(clf.set_params(num_threads=3)).num_threads == 3


@pytest.mark.parametrize("value,error", [(0, ValueError), (2.0, TypeError), ("2", TypeError)])
def test_num_threads_is_checked_before_any_work(value, error):
    X, y = nde.data.moons(20)
    with pytest.raises(error, match="`num_threads`"):
        nde.ODENetClassifier(num_threads=value).fit(X, y)


def test_n_iter_counts_the_iterations_run(three_classes):
    X, y = three_classes
    assert nde.ResNetClassifier(max_iter=7).fit(X, y).n_iter_ == 7
