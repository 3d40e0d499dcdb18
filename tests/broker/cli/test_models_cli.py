"""``faucon models evaluate --curves``: the real-curve report from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from broker.cli.models import app
from broker.core.config import REPO_ROOT
from classifiers.registry import operating_threshold

REAL = REPO_ROOT.parent / "shared" / "data" / "labeled-real"
runner = CliRunner()


def test_evaluate_real_curves_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "snia_ztf.json"
    args = ["evaluate", "--model", "snia_ztf", "--curves", str(REAL), "--part", "validation"]
    res = runner.invoke(app, [*args, "--limit", "25", "--early", "10", "--output", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    report = json.loads(out.read_text())
    assert report["model"] == "snia_ztf" and report["n"] == {"Ia": 25, "RRL": 25}
    assert report["threshold"] == operating_threshold("snia_ztf")
    assert set(report["auc"]["RRL"]) == {"full", "d20", "window20"}
    assert report["auc"]["RRL"]["full"] > 0.9
    assert {"recall_full", "recall_d20"} <= set(report["at_threshold"]["Ia"])
    assert {"fpr_full", "fpr_window20"} <= set(report["at_threshold"]["RRL"])
    assert report["early_snia_candidate"]["early_days"] == 10.0
    assert report["skipped"]["n"] == len(report["skipped"]["curves"])


def test_evaluate_refuses_unclear_input(tmp_path: Path) -> None:
    both = runner.invoke(app, ["evaluate", "--model", "snia_ztf"])
    assert both.exit_code == 2 and "exactly one of --snana" in both.output
    missing = runner.invoke(
        app, ["evaluate", "--model", "snia_ztf", "--curves", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output
