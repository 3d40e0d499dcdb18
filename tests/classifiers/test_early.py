"""The early operating threshold: alert views, object-level flag rates, the manifest value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from broker.cli.models import app
from broker.core.config import REPO_ROOT
from classifiers import early, registry
from classifiers.evaluate_real import evaluate_curves
from classifiers.features import LightCurve

REAL = REPO_ROOT.parent / "shared" / "data" / "labeled-real"


def _rising(t0: float, n: int) -> LightCurve:
    t = t0 + np.arange(n) * 2.0
    return t, np.array(list("gr" * n))[:n], 100.0 * (1 + np.arange(n)), np.full(n, 5.0)


def test_views_of_transients_and_variables() -> None:
    sn = _rising(0.0, 8)  # detections at 0, 2, ..., 14 d
    star = (np.r_[0.0, 50, 51, 52, 53], np.array(list("grgrg")), np.full(5, 80.0), np.ones(5))
    views, owner = early.filter_views([sn, star], [True, False], days=10.0)
    sizes = [v[0].size for v in views]
    assert owner.tolist() == [0] * 6 + [1] * 4  # SN: 0..10 d; star: its densest window
    assert sizes[:6] == [1, 2, 3, 4, 5, 6] and sizes[6:] == [1, 2, 3, 4]
    # with a packet's history the star's first alert in the window sees its past
    hist, _ = early.filter_views([star], [False], days=10.0, history_days=60.0)
    assert hist[0][0].tolist() == [0.0, 50.0]


def test_choose_early_threshold_keeps_both_caps() -> None:
    rng = np.random.default_rng(0)
    kind = np.array(["Ia"] * 50 + ["SN"] * 50 + ["variable:RRL"] * 100)
    owner = np.repeat(np.arange(kind.size), 3)
    base = {"Ia": 0.7, "SN": 0.3, "variable:RRL": 0.1}
    p = np.array([base[k] for k in kind[owner]]) + rng.normal(0, 0.1, owner.size)
    t, rates = early.choose_early_threshold(p, owner, kind, 0.02, 0.25)
    hit = early.flagged_objects(p, owner, kind.size, t)
    assert hit[kind == "variable:RRL"].mean() <= 0.02 and hit[kind == "SN"].mean() <= 0.25
    assert rates["Ia"] == round(float(hit[kind == "Ia"].mean()), 4) and rates["Ia"] > 0.8
    lower = early.flagged_objects(p, owner, kind.size, t - 0.01)
    assert lower[kind == "variable:RRL"].mean() > 0.02 or lower[kind == "SN"].mean() > 0.25
    nan_only = early.flagged_objects(np.full(3, np.nan), np.zeros(3, int), 1, 0.0)
    assert not nan_only.any()


def test_early_threshold_read_from_manifest(tmp_path: Path) -> None:
    registry.write_model("m", "1", b"x", {"threshold": 0.5, "early_threshold": 0.3}, tmp_path)
    registry.promote("m", "1", tmp_path)
    assert registry.operating_threshold("m", tmp_path) == 0.5
    assert registry.operating_threshold("m", tmp_path, early=True) == 0.3
    for name in ("snia", "snia_ztf"):  # the shipped binary models carry both
        assert 0.0 < registry.operating_threshold(name, early=True) < 1.0


def _write_unseen(root: Path) -> None:
    """A folder like labeled-real with classes and files never seen: fluxes, magnitudes."""
    ia = sorted((REAL / "SNIa" / "light-curves").glob("*.csv"))[:4]
    (root / "SNIa" / "light-curves").mkdir(parents=True)
    for k, src in enumerate(ia):
        rows = src.read_text().splitlines()
        head = rows[0].split(",")
        out = ["mjd,band,fluxerr,flux"]
        for line in rows[1:]:
            r = dict(zip(head, line.split(","), strict=True))
            flux = 10 ** (-0.4 * (float(r["mag"]) - 31.4))
            out.append(f"{r['time']},{r['band']},{flux * float(r['magerr']) / 1.0857},{flux}")
        (root / "SNIa" / "light-curves" / f"sn{k}.csv").write_text("\n".join(out) + "\n")
    star = root / "Cepheid"  # an unknown class: total magnitudes, guessed from the curves
    star.mkdir()
    for src in sorted((REAL / "RRLyrae" / "light-curves").glob("*.csv"))[:3]:
        (star / src.name).write_text(src.read_text())
    (star / "odd.csv").write_text("time,mag,magerr,band\n1.0,18.0,0.1,Ks\n2.0,18.1,0.1,g\n")


def test_evaluate_unseen_classes_from_the_cli(tmp_path: Path) -> None:
    _write_unseen(tmp_path / "curves")
    out = tmp_path / "report.json"
    args = ["evaluate", "--model", "snia_ztf", "--curves", str(tmp_path / "curves")]
    res = CliRunner().invoke(app, [*args, "--early", "10", "--output", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "unknown band 'Ks'" in res.output and "odd.csv" in res.output
    report = evaluate_curves("snia_ztf", tmp_path / "curves")
    assert report["n"] == {"Cepheid": 3, "Ia": 4}
    assert report["photometry"]["Cepheid"].startswith("total")
    assert report["photometry"]["Ia"].startswith("difference")
    assert report["skipped"]["curves"][0]["curve"] == "Cepheid/odd.csv"
    assert report["auc"]["Cepheid"]["full"] is not None
    esc = report["early_snia_candidate"]
    assert esc["threshold"] == registry.operating_threshold("snia_ztf", early=True)
    forced = evaluate_curves("snia_ztf", tmp_path / "curves", total_flux=["SNIa"], limit=2)
    assert forced["photometry"]["Ia"].startswith("total")


def test_evaluate_record_stores_the_report_in_the_manifest(tmp_path: Path) -> None:
    _write_unseen(tmp_path / "curves")
    version = registry.promoted_version("snia_ztf")
    assert version is not None
    src = registry.model_dir("snia_ztf", version)
    dst = tmp_path / "models" / "snia_ztf" / version
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    args = ["evaluate", "--model", "snia_ztf", "--curves", str(tmp_path / "curves")]
    args += ["--models-dir", str(tmp_path / "models"), "--version", version, "--record"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "--part validation" in refused.output
    res = CliRunner().invoke(app, [*args, "--part", "validation"])
    assert res.exit_code == 0, (res.output, res.exception)
    stored = registry.load_manifest("snia_ztf", version, tmp_path / "models")
    assert stored["metrics"]["real_validation"]["part"] == "validation"
    assert stored["metrics"]["real_validation"]["curves_dir"] == str(tmp_path / "curves")
    registry.verify("snia_ztf", version, tmp_path / "models")  # the model is untouched
