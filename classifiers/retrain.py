"""Retrain a classifier, compare it with the promoted one, promote it only if not worse.

Steps (run by the ``faucon_retrain`` DAG, one call per model):

1. **Training set.** The labelled SNANA curves (``data``: a directory or
   tar archive, its first ``limit`` curves) plus every ``*.DAT`` of the
   ``extra`` directories (e.g. spectroscopically confirmed follow-up targets)
   are copied into ``<work>/trainset/`` (base curves first, in order).
2. **Candidate.** :func:`classifiers.train.train` on that set: a new,
   unpromoted registry version, exported to ONNX and checked.
3. **Same held-out set for both.** The curves :func:`classifiers.train.train`
   held out (same split function, seed and order) are copied to
   ``<work>/holdout/``; the candidate and the promoted version are evaluated
   on them, full and early (cut 20 d after the first S/N >= 5 point).  The
   candidate never saw them; the promoted model may have (if its training set
   differed), which can only favour the promoted model: the gate is conservative.
4. **Gate.** Promote when there is no promoted version, or when both
   ``candidate[metric] >= promoted[metric] - tolerance`` on the SNPCC held-out
   set (default metric ``roc_auc_early``, tolerance 0.005) *and* the same holds
   on the validation half of the real labelled curves
   (:func:`classifiers.evaluate_real.evaluate_curves`, ``part="validation"``;
   metric :data:`classifiers.gate_real.REAL_METRICS`: the smallest SN Ia vs negative ROC AUC in the
   negatives' densest 20-day window for binary models, the fraction of real
   SN Ia labelled Ia for multi-class ones).  The real curves are
   ``real_dir``, else ``$FAUCON_REAL_CURVES``, else
   ``../shared/data/labeled-real`` beside the repository; when none exists a
   promoted model is never replaced (the report says why).  Their training
   half is added to the candidate's training set (ZTF tasks).
5. **Report** ``retrain-report.json`` is saved in the candidate's registry
   directory, whatever the decision.  The running stream's scorers reload a
   changed ``PROMOTED`` file within 5 s (:mod:`classifiers.inference`).

Examples
--------
>>> decide({"roc_auc_early": 0.950}, {"roc_auc_early": 0.953}, "roc_auc_early", 0.005)
(True, 'candidate roc_auc_early 0.95 >= promoted 0.953 - tolerance 0.005')
>>> decide({"roc_auc_early": 0.9}, {"roc_auc_early": 0.953}, "roc_auc_early", 0.005)[0]
False
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from broker.core.errors import ConfigError
from classifiers import registry
from classifiers.dataset import EARLY_DAYS, HOLDOUT_FRACTION, SPLIT_SEED, holdout_split
from classifiers.gate_real import REAL_METRICS, decide_real, evaluate_real, real_dir_of
from classifiers.snana import dataset_sha256, parse_dat

REPORT_FILE = "retrain-report.json"
METRICS = ("roc_auc", "accuracy", "purity", "efficiency")
DEFAULT_METRIC = "roc_auc_early"
DEFAULT_TOLERANCE = 0.005


def _split_metric(metric: str) -> tuple[str, str]:
    base, _, which = metric.rpartition("_")
    if base not in METRICS or which not in ("full", "early"):
        choices = ", ".join(f"{m}_{w}" for m in METRICS for w in ("full", "early"))
        raise ConfigError(f"unknown retrain metric {metric!r}; choose one of {choices}")
    return base, which


def build_training_set(
    data: str | Path, extra: Sequence[str | Path], out_dir: Path, limit: int | None = None
) -> dict[str, Any]:
    """Copy the base curves (first ``limit``) and the extra labelled curves into ``out_dir``."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "base").mkdir(parents=True)
    n_base = 0
    for n_base, (name, text) in enumerate(_texts(data, limit), start=1):
        (out_dir / "base" / f"{n_base:06d}_{name}").write_text(text)
    n_extra = 0
    for k, directory in enumerate(extra):
        path = Path(directory)
        if not path.is_dir():
            raise ConfigError(f"extra labels {path} is not a directory of SNANA .DAT files")
        target = out_dir / f"extra{k:02d}"
        target.mkdir()
        for file in sorted(path.rglob("*.DAT")):
            shutil.copyfile(file, target / file.name)
            n_extra += 1
    if n_base == 0:
        raise ConfigError(f"no SNANA light curve in {data}")
    return {
        "source": str(data),
        "limit": limit,
        "extra": [str(e) for e in extra],
        "n_base": n_base,
        "n_extra": n_extra,
        "sha256": dataset_sha256(out_dir),
    }


def _texts(data: str | Path, limit: int | None) -> Iterator[tuple[str, str]]:
    """(name, text) of the first ``limit`` ``.DAT`` files, in :mod:`classifiers.snana` order."""
    path = Path(data)
    if path.is_dir():
        files = sorted(path.rglob("*.DAT"))[:limit]
        yield from ((f.name, f.read_text(errors="replace")) for f in files)
        return
    if not path.is_file():
        raise ConfigError(f"SNANA data {path} does not exist (give a directory or a .tar.xz)")
    with tarfile.open(path, "r:*") as archive:
        count = 0
        for member in archive:
            if limit is not None and count >= limit:
                return
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None and member.name.endswith(".DAT"):
                count += 1
                yield Path(member.name).name, handle.read().decode(errors="replace")


def holdout_set(train_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Copy the curves :func:`classifiers.train.train` holds out of ``train_dir`` to ``out_dir``."""
    files = sorted(train_dir.rglob("*.DAT"))  # the order classifiers.snana reads a directory
    labelled = []
    for file in files:
        curve = parse_dat(file.read_text(errors="replace"), file.name)
        if curve.sn_class is not None:
            labelled.append((file, curve.sn_class))
    mask = holdout_split([c for _f, c in labelled], HOLDOUT_FRACTION, SPLIT_SEED)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for (file, _c), held in zip(labelled, mask, strict=True):
        if held:
            shutil.copyfile(file, out_dir / f"{file.parent.name}_{file.name}")
    return {"n": int(mask.sum()), "sha256": dataset_sha256(out_dir), "seed": SPLIT_SEED}


def evaluate_both(
    name: str, version: str, holdout: Path, models_dir: Path | None
) -> dict[str, Any]:
    """``<metric>_full`` and ``<metric>_early`` of one version on the held-out curves."""
    from classifiers.evaluate import evaluate

    out: dict[str, Any] = {"version": version}
    for which, days in (("full", None), ("early", EARLY_DAYS)):
        result = evaluate(name, holdout, version=version, early_days=days, models_dir=models_dir)
        out["n"] = result["n"]
        for metric in METRICS:
            value = result.get(metric)
            out[f"{metric}_{which}"] = value if not isinstance(value, dict) else None
    return out


def loadable(name: str, version: str, models_dir: Path | None) -> bool:
    """Whether this code can score with ``version`` (same feature set, model file intact)."""
    from classifiers.inference import load_model

    try:
        load_model(name, version, models_dir)
    except ConfigError:
        return False
    return True


def decide(
    candidate: dict[str, Any], promoted: dict[str, Any] | None, metric: str, tolerance: float
) -> tuple[bool, str]:
    """Promotion decision and the reason (the candidate may be worse by ``tolerance`` at most)."""
    _split_metric(metric)
    if promoted is None:
        return True, "no promoted version yet"
    c, p = candidate.get(metric), promoted.get(metric)
    if c is None or p is None:
        return False, f"{metric} unavailable (candidate {c}, promoted {p})"
    ok = float(c) >= float(p) - tolerance
    sign = ">=" if ok else "<"
    return ok, f"candidate {metric} {c} {sign} promoted {p} - tolerance {tolerance}"


def retrain(
    task: str,
    data: str | Path,
    *,
    work_dir: Path,
    extra: Sequence[str | Path] = (),
    limit: int | None = None,
    metric: str = DEFAULT_METRIC,
    tolerance: float = DEFAULT_TOLERANCE,
    models_dir: Path | None = None,
    seed: int = 0,
    threads: int = 1,
    log: Callable[[str], None] = print,
    real_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train, evaluate against the promoted version, promote if not worse; returns the report.

    ``real_dir``: real labelled curves for the second half of the gate (see
    :func:`real_dir_of`); all other arguments are unchanged from before.

    Examples
    --------
    >>> r = retrain("snia", "labeled.tar.xz", work_dir=Path("/tmp/w"), limit=400)  # doctest: +SKIP
    >>> r["decision"]["promoted"], r["candidate"]["version"]  # doctest: +SKIP
    (True, '2')
    """
    from classifiers.train import train

    _split_metric(metric)
    training = build_training_set(data, extra, work_dir / "trainset", limit)
    log(f"{task}: training set {training['n_base']} + {training['n_extra']} extra curves")
    real = real_dir_of(real_dir)
    manifest = train(
        task,
        work_dir / "trainset",
        models_dir=models_dir,
        seed=seed,
        threads=threads,
        log=log,
        real_dir=real,
    )
    name, version = manifest["name"], manifest["version"]
    held = holdout_set(work_dir / "trainset", work_dir / "holdout")
    previous = registry.promoted_version(name, models_dir)
    if previous is not None and not loadable(name, previous, models_dir):
        log(f"{name}: promoted version {previous} uses another feature set; compared as absent")
        previous = None
    cand = evaluate_both(name, version, work_dir / "holdout", models_dir)
    prom = evaluate_both(name, previous, work_dir / "holdout", models_dir) if previous else None
    snpcc_ok, snpcc_reason = decide(cand, prom, metric, tolerance)
    kind = "binary" if manifest.get("positive_class") else "multiclass"
    real_metric = REAL_METRICS[kind]
    real_cand = evaluate_real(name, version, real, models_dir) if real else None
    real_prom = evaluate_real(name, previous, real, models_dir) if real and previous else None
    if previous is None:
        real_ok, real_reason = True, "real: no promoted version yet"
    else:
        real_ok, real_reason = decide_real(real_cand, real_prom, real_metric, tolerance)
    promote = snpcc_ok and real_ok
    reason = f"{snpcc_reason}; {real_reason}"
    if promote:
        registry.promote(name, version, models_dir)
    log(f"{name}: version {version} {'promoted' if promote else 'not promoted'} ({reason})")
    report = {
        "model": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training_set": training,
        "holdout": held,
        "metric": metric,
        "tolerance": tolerance,
        "candidate": cand,
        "promoted_before": prom,
        "real": {
            "dir": str(real) if real else None,
            "metric": real_metric,
            "candidate": real_cand,
            "promoted_before": real_prom,
        },
        "decision": {
            "promoted": promote,
            "reason": reason,
            "previous_version": previous,
            "served_version": version if promote else previous,
        },
    }
    path = registry.model_dir(name, version, models_dir) / REPORT_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


__all__ = ["decide", "decide_real", "evaluate_real", "real_dir_of", "retrain"]
