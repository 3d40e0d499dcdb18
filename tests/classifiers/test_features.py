"""Feature set fsv2: names, determinism, alert conversion, band aliases."""

from __future__ import annotations

import numpy as np

from classifiers import features
from classifiers.dataset import augment, early_cut, first_detection
from classifiers.snana import SnanaCurve

GRIZ = ("g", "r", "i", "z")


def test_names_are_explicit_and_ordered() -> None:
    names = features.feature_names(GRIZ)
    assert len(names) == len(set(names))
    assert names[0] == "g_mean" and names[-1] == "neg_frac"
    assert "peak_mag" not in names  # no apparent-brightness feature in fsv2
    assert "r_bazin_fit_rise_time" in names and "i_bazin_fit_rise_time" not in names
    assert "iz_color_b3" in names
    assert features.feature_names(("g", "r"))[-11] == "r_bazin_fit_amplitude"
    assert features.FEATURE_SET == "fsv2"


def test_matrix_shape_and_dtype(curves: list[SnanaCurve]) -> None:
    fm = features.extract([c.lightcurve for c in curves[:50]], GRIZ)
    assert fm.X.shape == (50, len(features.feature_names(GRIZ)))
    assert fm.X.dtype == np.float32
    assert not np.isinf(fm.X).any()
    assert (fm.n_significant >= 3).all()


def test_deterministic_batch_and_order_independent(curves: list[SnanaCurve]) -> None:
    lcs = [c.lightcurve for c in curves[:40]]
    a = features.extract(lcs, GRIZ).X
    b = features.extract(lcs, GRIZ).X
    np.testing.assert_array_equal(a, b)
    # one curve at a time gives the same rows as the batch
    for k in (0, 7, 39):
        np.testing.assert_array_equal(features.extract([lcs[k]], GRIZ).X[0], a[k])
    # shuffled points and extra bands change nothing
    rng = np.random.default_rng(3)
    t, band, f, e = lcs[5]
    perm = rng.permutation(len(t))
    extra = (
        np.append(t[perm], 56200.0),
        np.append(band[perm], "u"),
        np.append(f[perm], 9e9),
        np.append(e[perm], 1.0),
    )
    np.testing.assert_array_equal(features.extract([extra], GRIZ).X[0], a[5])


def test_missing_band_and_empty_curve(curves: list[SnanaCurve]) -> None:
    t, band, f, e = curves[0].lightcurve
    keep = band != "z"
    lc = (t[keep], band[keep], f[keep], e[keep])
    names = features.feature_names(GRIZ)
    empty = (np.zeros(0), np.zeros(0, dtype=str), np.zeros(0), np.zeros(0))
    fm = features.extract([lc, empty], GRIZ)
    row = dict(zip(names, fm.X[0], strict=True))
    assert np.isnan(row["z_mean"]) and np.isnan(row["iz_color_peak"])
    assert np.isfinite(row["g_mean"]) and np.isfinite(row["time_since_first"])
    assert np.isnan(fm.X[1]).all() and fm.n_significant[1] == 0
    assert features.extract([], GRIZ).X.shape == (0, len(names))


def test_scale_invariance(curves: list[SnanaCurve]) -> None:
    """fsv2 does not depend on distance: scaling fluxes and errors changes nothing."""
    t, band, f, e = curves[3].lightcurve
    names = features.feature_names(GRIZ)
    x1, x2 = features.extract([(t, band, f, e), (t, band, 10 * f, 10 * e)], GRIZ).X
    others = [k for k in range(len(names)) if "bazin" not in names[k]]
    np.testing.assert_allclose(x1[others], x2[others], rtol=1e-4, atol=1e-6)


def test_lightcurve_from_alert_dedup_and_kinds() -> None:
    hist = [
        {
            "mjd_tai": 10.0,
            "band": "g",
            "kind": "detection",
            "flux_njy": 500.0,
            "flux_err_njy": 50.0,
        },
        {
            "mjd_tai": 10.0001,
            "band": "g",
            "kind": "forced",
            "flux_njy": 480.0,
            "flux_err_njy": 50.0,
        },
        {
            "mjd_tai": 10.0001,
            "band": "r",
            "kind": "forced",
            "flux_njy": 300.0,
            "flux_err_njy": 40.0,
        },
        {"mjd_tai": 8.0, "band": "g", "kind": "forced", "flux_njy": 20.0, "flux_err_njy": 40.0},
        {"mjd_tai": 7.0, "band": "g", "kind": "upper_limit", "flux_njy": None, "limit_mag": 20.5},
        {"mjd_tai": 9.0, "band": "r", "kind": "detection", "flux_njy": None, "flux_err_njy": None},
    ]
    alert = {"mjd_tai": 12.0, "band": "r", "flux_njy": 700.0, "flux_err_njy": 60.0, "history": hist}
    t, band, f, e = features.lightcurve_from_alert(alert)
    assert t.tolist() == [8.0, 10.0, 10.0001, 12.0]
    assert band.tolist() == ["g", "g", "r", "r"]
    assert f.tolist() == [20.0, 500.0, 300.0, 700.0]  # the g detection wins over its forced twin
    assert e.dtype == np.float64
    t, *_ = features.lightcurve_from_alert(
        {"mjd_tai": 1.0, "band": "g", "flux_njy": None, "history": []}
    )
    assert t.size == 0


def test_early_cut_and_augmentation(curves: list[SnanaCurve]) -> None:
    lc = curves[1].lightcurve
    t0 = first_detection(lc)
    cut = early_cut(lc, 20.0)
    assert cut[0].max() <= t0 + 20.0 < lc[0][len(cut[0])]
    variants = augment(lc, np.random.default_rng(0), 3, 2, GRIZ)
    assert len(variants) == 6 and variants[0] is lc
    assert all(len(v[0]) <= len(lc[0]) for v in variants)
    windows = augment(lc, np.random.default_rng(1), 0, 0, GRIZ, n_window=4)[1:]
    assert len(windows) == 4
    for w in windows:  # a source first seen then: at most 20 days, ending at a detection
        assert w[0].size and w[0][-1] - w[0][0] <= 20.0
        assert (w[2] / w[3])[w[0] == w[0][-1]].max() >= 5.0
