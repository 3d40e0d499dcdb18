"""Band aliases, calibration, thresholds, negatives generators and the real-curve evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from broker.core.config import REPO_ROOT
from broker.core.errors import ConfigError, ProcessError
from classifiers import calibration, features, negatives, registry, simulate
from classifiers.bands import UnknownBandError, canonical, canonical_array
from classifiers.cadence import sample_epochs
from classifiers.evaluate_real import densest_window, evaluate_curves
from classifiers.inference import context_veto, score_alerts
from classifiers.realdata import is_validation, load_labelled, read_curve
from classifiers.retrain import decide_real

REAL = REPO_ROOT.parent / "shared" / "data" / "labeled-real"


@pytest.mark.parametrize(
    ("alias", "band"),
    [("g", "g"), ("R", "r"), ("r", "r"), ("ZTF_g", "g"), ("ztfr", "r"), ("i", "i"),
     ("lsst_y", "y"), ("u", "u"), ("sdss_z", "z"), ("Y", "y")],
)  # fmt: skip
def test_band_aliases(alias: str, band: str) -> None:
    assert canonical(alias) == band


def test_unknown_band_raises_naming_band_and_curve(tmp_path: Path) -> None:
    with pytest.raises(UnknownBandError, match=r"obj7: unknown band 'H'"):
        canonical("H", curve="obj7")
    assert issubclass(UnknownBandError, ProcessError)
    csv = tmp_path / "weird.csv"
    csv.write_text("mag,band,time,magerr\n18.0,Ks,1.0,0.1\n18.1,g,2.0,0.1\n")
    with pytest.raises(UnknownBandError, match=r"weird.csv: unknown band 'Ks'") as info:
        read_curve(csv)
    assert info.value.band == "Ks"
    good = (np.arange(4.0), np.array(["g", "R", "g", "R"]), np.full(4, 50.0), np.ones(4))
    bad = (np.arange(2.0), np.array(["g", "Q"]), np.full(2, 50.0), np.ones(2))
    # ZTF "R" is r: same features as "r"
    same = (good[0], np.array(["g", "r", "g", "r"]), good[2], good[3])
    a, b = features.extract([good, same], ("g", "r")).X
    np.testing.assert_array_equal(a, b)
    with pytest.raises(UnknownBandError, match=r"light curve #1 of the batch"):
        features.extract([good, bad], ("g", "r"))
    assert canonical_array(np.array(["ztfg", "R"])).tolist() == ["g", "r"]


def test_real_csv_columns_any_order_and_flux(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("band,fluxerr,time,flux\nR,10,2.0,100\ng,10,1.0,200\n")
    t, b, f, e = read_curve(csv)
    assert t.tolist() == [1.0, 2.0] and b.tolist() == ["g", "r"] and f.tolist() == [200, 100]
    mag = tmp_path / "m.csv"
    mag.write_text("time,mag,magerr,band\n1.0,31.4,0.10857,g\n")
    _t, _b, f, e = read_curve(mag)
    assert f[0] == pytest.approx(1.0) and e[0] == pytest.approx(0.1, rel=1e-3)


def test_isotonic_calibration_is_monotone() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=3000)
    y = rng.uniform(size=3000) < p**2  # raw scores overconfident at low p
    table = calibration.fit_isotonic(y, p)
    assert np.all(np.diff(table["y"]) >= 0) and np.all(np.diff(table["x"]) >= 0)
    grid = np.linspace(0, 1, 101)
    cal = calibration.apply_table(table, grid)
    assert np.all(np.diff(cal) >= 0) and cal[50] == pytest.approx(0.25, abs=0.06)
    proba = np.stack([1 - grid, grid], 1)
    out = calibration.calibrate({"tables": {"Ia": table}}, proba, ("non-Ia", "Ia"), "Ia")
    np.testing.assert_allclose(out.sum(1), 1.0)
    multi = rng.dirichlet(np.ones(3), size=50)
    tables = {c: calibration.fit_isotonic(rng.uniform(size=50) < 0.3, multi[:, 0]) for c in "abc"}
    np.testing.assert_allclose(
        calibration.calibrate({"tables": tables}, multi, ("a", "b", "c"), None).sum(1), 1.0
    )


def test_threshold_read_from_promoted_manifest(tmp_path: Path) -> None:
    registry.write_model("m", "1", b"x", {"threshold": 0.37}, tmp_path)
    with pytest.raises(ConfigError, match="no promoted version"):
        registry.operating_threshold("m", tmp_path)
    registry.promote("m", "1", tmp_path)
    assert registry.operating_threshold("m", tmp_path) == 0.37
    registry.write_model("m", "2", b"y", {"threshold": None}, tmp_path)
    registry.promote("m", "2", tmp_path)
    with pytest.raises(ConfigError, match="no operating threshold"):
        registry.operating_threshold("m", tmp_path)
    for name in ("snia", "snia_ztf"):  # the shipped models carry one
        assert 0.0 < registry.operating_threshold(name) < 1.0


def test_rr_lyrae_generator_has_the_template_period() -> None:
    rng = np.random.default_rng(2)
    template = simulate.load_rrl_templates()[0]
    t = np.sort(rng.uniform(0, 60, 600))
    b = np.full(t.size, "r")
    mag, ref = negatives.rr_lyrae(t, b, rng, 17.0, template)
    freq, power = LombScargle(t, mag).autopower(minimum_frequency=0.5, maximum_frequency=5)
    assert 1 / freq[np.argmax(power)] == pytest.approx(template["period"], rel=0.01)
    assert 0.2 < np.ptp(mag) < 2.0 and abs(ref["r"] - 17.0) < 0.3


def test_periodic_and_stochastic_generators() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 2000, 3000))
    b = np.full(t.size, "g")
    mag, _ = negatives.long_period_variable(t, b, rng, 18.0)
    freq, power = LombScargle(t, mag).autopower(minimum_frequency=1 / 600, maximum_frequency=0.1)
    assert 30 <= 1 / freq[np.argmax(power)] <= 500
    mag, ref = negatives.eclipsing_binary(t, b, rng, 16.0)
    assert mag.min() >= ref["g"] - 0.2 and mag.max() > ref["g"] + 0.04  # dips only
    # DRW: red noise, variance bounded by SF_inf / sqrt(2) = 0.07-0.25 mag
    dense = np.arange(0.0, 20000.0, 1.0)
    mag, ref = negatives.damped_random_walk(dense, np.full(dense.size, "g"), rng, 19.0)
    x = mag - ref["g"]
    assert 0.03 < x.std() < 0.4
    assert np.corrcoef(x[:-1], x[1:])[0, 1] > 0.9  # 1-day lag: strongly correlated
    far = np.corrcoef(x[:-5000], x[5000:])[0, 1]  # 5000 d >> tau
    assert abs(far) < 0.3
    mag, ref = negatives.flare_star(t, b, rng, 17.0)
    assert (mag <= ref["g"] + 1e-9).all() and (ref["g"] - mag).max() > 0.05


def test_simulated_variables_are_difference_fluxes() -> None:
    rng = np.random.default_rng(4)
    for kind in ("RRL", "EB", "AGN", "LPV", "CV", "flare"):
        t, b, f, e = simulate.simulate_variable(kind, "ZTF", rng, 100.0)
        assert set(b.tolist()) <= {"g", "r"} and (e > 0).all() and t.size > 20
    t, b, f, e = simulate.simulate_variable("RRL", "ZTF", rng, 200.0)
    assert (f < 0).mean() > 0.2  # below the template half the time
    t, b, lim = sample_epochs("LSST", rng, 0.0, 365.0)
    assert set(b.tolist()) <= set("ugrizy") and 20 < lim.mean() < 26


def test_real_split_and_densest_window() -> None:
    names = [f"obj{k}" for k in range(400)]
    frac = np.mean([is_validation(n) for n in names])
    assert 0.4 < frac < 0.6 and is_validation("obj1") == is_validation("obj1")
    t = np.array([0.0, 1, 30, 31, 32, 33, 60])
    lc = (t, np.full(7, "g"), np.ones(7), np.ones(7))
    assert densest_window(lc, 20.0)[0].tolist() == [30, 31, 32, 33]


def test_rr_lyrae_become_difference_fluxes() -> None:
    rs = load_labelled(REAL, part="validation", limit=3)
    assert set(rs.curves) == {"Ia", "RRL"} and not rs.skipped
    for _name, (_t, b, f, _e) in rs.curves["RRL"]:
        assert abs(np.median(f[b == "g"])) < 1e-6


def test_evaluate_curves_on_real_subset() -> None:
    out = evaluate_curves("snia_ztf", REAL, part="validation", limit=40)
    assert {"auc", "at_threshold", "early_snia_candidate", "skipped", "n"} <= set(out)
    assert out["n"] == {"Ia": 40, "RRL": 40}
    assert set(out["auc"]["RRL"]) == {"full", "d20", "window20"}
    assert out["auc"]["RRL"]["full"] > 0.9 and out["auc"]["RRL"]["window20"] > 0.85
    assert 0.0 < out["threshold"] < 1.0
    assert set(out["early_snia_candidate"]["flagged_fraction"]) == {"Ia", "RRL"}
    multi = evaluate_curves("sntype_ztf", REAL, part="validation", limit=20)
    assert multi["threshold"] is None and multi["fraction_labelled_ia"]["Ia"]["full"] > 0.5


def test_context_veto_and_real_gate() -> None:
    assert context_veto("agn_blazar") == "context_veto: agn_blazar"
    assert context_veto("hostless") is None
    t = np.arange(0.0, 12.0, 1.5)
    flux = 5000 * np.exp(-(((t - 9) / 6) ** 2)) + 500
    hist = [
        {"mjd_tai": 60000 + x, "band": "gr"[k % 2], "kind": "detection", "flux_njy": float(f),
         "flux_err_njy": 50.0} for k, (x, f) in enumerate(zip(t, flux, strict=True))
    ]  # fmt: skip
    alert = {"survey": "ZTF", "mjd_tai": 60012.0, "band": "r", "flux_njy": 6000.0,
             "flux_err_njy": 50.0, "history": hist}  # fmt: skip
    plain, vetoed = score_alerts([alert, dict(alert, context="variable_star")])
    assert plain[0]["probability"] is not None
    assert vetoed[0]["probability"] is None and vetoed[0]["reason"] == "context_veto: variable_star"
    ok, reason = decide_real({"a": 0.9}, {"a": 0.95}, "a", 0.005)
    assert not ok and "0.9 < promoted 0.95" in reason
    assert decide_real(None, {"a": 0.9}, "a", 0.005)[0] is False
