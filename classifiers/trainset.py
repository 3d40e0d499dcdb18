"""The labelled curves a task is trained on: SNPCC native and survey-matched, variables, real.

For a task whose survey is ZTF or LSST (:mod:`classifiers.tasks`):

1. every SNPCC curve as simulated (DES cadence and depth);
2. :data:`MIX` ``["resampled"]`` survey-matched copies of it
   (:func:`classifiers.simulate.resample_sn`);
3. simulated variables (:mod:`classifiers.negatives`), ``MIX["variables"]``
   per SNPCC curve, kinds in the proportions of :data:`KIND_SHARE`, each
   observed for 20-200 days;
4. optionally the *training half* of real labelled curves (``labeled-real``
   layout, :func:`classifiers.realdata.is_validation` false), repeated
   ``MIX["real_copies"]`` times, for ZTF tasks: supernovae (ZTF photometry)
   and variable stars (RR Lyrae, as difference fluxes, labelled by
   :data:`classifiers.negatives.KIND_CLASS`: their own survey's cadence, the
   few-night windows that look like a young supernova);
5. for ZTF, a fraction ``MIX["detections_only"]`` of the simulated curves keep
   only their ``|S/N| >= 5`` points (packets without forced photometry).

Examples
--------
>>> import numpy as np
>>> from classifiers.tasks import get_task
>>> c = variables(get_task("snia_ztf"), 3, np.random.default_rng(0), first_id=0)
>>> len(c), c[0].sn_class in ("periodic", "agn", "flare")
(3, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers import simulate
from classifiers.features import LightCurve
from classifiers.negatives import KIND_CLASS
from classifiers.realdata import load_labelled
from classifiers.snana import SnanaCurve
from classifiers.tasks import Task

MIX = {"resampled": 1, "variables": 0.5, "real_copies": 6, "detections_only": 0.3}
KIND_SHARE = {"RRL": 0.3, "EB": 0.2, "LPV": 0.15, "AGN": 0.2, "flare": 0.08, "CV": 0.07}
SPAN_DAYS = (20.0, 200.0)


@dataclass
class Labelled:
    """One training curve: light curve, class, source tag and the object it derives from."""

    lightcurve: LightCurve
    sn_class: str
    source: str
    group: int


def _maybe_detections(lc: LightCurve, task: Task, rng: np.random.Generator) -> LightCurve:
    if "ZTF" in task.surveys and rng.uniform() < MIX["detections_only"]:
        return simulate.detections_only(lc)
    return lc


def survey_of(task: Task) -> str:
    """The survey whose cadence the task's simulated curves follow."""
    return task.surveys[0]


def supernovae(
    curves: Sequence[SnanaCurve], task: Task, rng: np.random.Generator, first_id: int
) -> list[Labelled]:
    """SNPCC curves as simulated plus their survey-matched copies (same ``group`` per object)."""
    out = []
    for k, c in enumerate(curves):
        out.append(Labelled(c.lightcurve, c.sn_class or "", "snpcc", first_id + k))
        for _ in range(int(MIX["resampled"])):
            lc = simulate.resample_sn(c, survey_of(task), rng, task.bands)
            if lc is not None:
                lc = _maybe_detections(lc, task, rng)
                out.append(Labelled(lc, c.sn_class or "", f"snpcc_{survey_of(task)}", first_id + k))
    return out


def variables(task: Task, n: int, rng: np.random.Generator, first_id: int) -> list[Labelled]:
    """``n`` simulated variables (one object each) observed by the task's survey."""
    kinds = list(KIND_SHARE)
    share = np.asarray(list(KIND_SHARE.values()))
    templates = simulate.load_rrl_templates()
    out = []
    for k in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=share / share.sum()))]
        lc = simulate.simulate_variable(
            kind, survey_of(task), rng, float(rng.uniform(*SPAN_DAYS)), templates
        )
        out.append(Labelled(_maybe_detections(lc, task, rng), KIND_CLASS[kind], kind, first_id + k))
    return out


def real_training(
    real_dir: str | Path, task: Task, first_id: int
) -> tuple[list[Labelled], dict[str, int]]:
    """The training half of real labelled curves (none for non-ZTF tasks: they are ZTF/SDSS).

    Supernova classes and variable kinds of :data:`classifiers.negatives.KIND_CLASS`
    are used; other classes are left out.
    """
    if "ZTF" not in task.surveys:
        return [], {}
    rs = load_labelled(real_dir, part="train")
    out: list[Labelled] = []
    counts: dict[str, int] = {}
    gid = first_id
    for cls, items in rs.curves.items():
        label = KIND_CLASS.get(cls, cls)
        if cls not in ("Ia", "II", "Ibc") and cls not in KIND_CLASS:
            continue
        counts[cls] = len(items)
        for _name, lc in items:
            out += [Labelled(lc, label, f"real_{cls}", gid)] * int(MIX["real_copies"])
            gid += 1
    return out, counts
