"""ONNX export agrees with scikit-learn on 1,000 real curves."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from classifiers.dataset import early_cut
from classifiers.export import make_session, max_abs_difference, predict_proba, to_onnx
from classifiers.features import extract
from classifiers.snana import SnanaCurve

GRIZ = ("g", "r", "i", "z")


def test_onnx_matches_sklearn_on_1000_curves(curves: list[SnanaCurve]) -> None:
    assert len(curves) == 1000
    train_lcs = [c.lightcurve for c in curves[:500]] + [
        early_cut(c.lightcurve) for c in curves[:500]
    ]
    X = extract(train_lcs, GRIZ).X
    y3 = np.array([("Ia", "II", "Ibc").index(c.sn_class or "") for c in curves[:500]] * 2)
    # 500 full curves the models never saw and 500 early cuts (many NaN features)
    check = extract(
        [c.lightcurve for c in curves[500:]] + [early_cut(c.lightcurve) for c in curves[:500]], GRIZ
    ).X
    assert check.dtype == np.float32 and check.shape[0] == 1000 and np.isnan(check).any()
    for y in (y3 == 0, y3):  # binary and 3-class
        with threadpool_limits(limits=1):  # OpenMP threads thrash on a shared machine
            model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(X, y)
        onnx_bytes = to_onnx(model, X.shape[1])
        assert max_abs_difference(model, onnx_bytes, check) < 1e-5
        proba = predict_proba(make_session(onnx_bytes), check)
        assert proba.shape == (1000, len(np.unique(y))) and proba.dtype == np.float32
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
