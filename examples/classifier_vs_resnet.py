"""An ODE block as an implicit layer: ODE-Net vs its discrete counterpart, a weight-tied
ResNet, on two moons. Both follow scikit-learn's estimator conventions."""
import time

import neuralode as nde

X, y = nde.data.moons(600, noise=0.1, seed=0)
X_train, y_train, X_test, y_test = X[:400], y[:400], X[400:], y[400:]
for clf in (nde.ODENetClassifier(width=8, hidden=(32,), gradient="adjoint"),
            nde.ResNetClassifier(width=8, hidden=(32,), depth=4)):
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    print(f"{type(clf).__name__}: test accuracy {clf.score(X_test, y_test):.3f}, "
          f"trained in {time.perf_counter() - start:.2f} s")
