"""Training sets from labelled light curves: split, truncation augmentation, early cuts.

The stream only sees a light curve up to the alert, so every training curve
is used in full *and* truncated at random alert epochs (points with
S/N >= 5, where a survey issues alerts), plus truncations in the first
40 days after the first detection, where early classification matters, and
short windows ending at a random alert with nothing before them (a source
first seen then: a variable star caught on two or three nights).

Examples
--------
>>> import numpy as np
>>> t = np.arange(6.0); lc = (t, np.array(list("grgrgr")), np.full(6, 10.0), np.ones(6))
>>> len(early_cut(lc, 2.0)[0])
3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from classifiers.features import DETECTION_SNR, LightCurve, extract
from classifiers.tasks import Task

EARLY_DAYS = 20.0
HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 20240601


class Curve(Protocol):
    """A labelled curve: ``SnanaCurve`` or :class:`classifiers.trainset.Labelled`."""

    @property
    def lightcurve(self) -> LightCurve: ...

    @property
    def sn_class(self) -> str | None: ...


@dataclass
class Rows:
    """Feature rows: labels, source curve (group), S/N >= 3 point count, full-curve flag."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    n_significant: np.ndarray
    full: np.ndarray


def first_detection(lc: LightCurve, bands: Sequence[str] | None = None) -> float:
    """Time of the first point with S/N >= 5 (in ``bands`` if given), NaN if none."""
    t, b, f, e = lc
    ok = f / e >= DETECTION_SNR
    if bands is not None:
        ok &= np.isin(b, list(bands))
    return float(t[ok].min()) if ok.any() else float("nan")


def cut(lc: LightCurve, t_max: float) -> LightCurve:
    """Keep the points with time <= ``t_max`` (curves are sorted by time)."""
    n = int(np.searchsorted(lc[0], t_max, side="right"))
    return lc[0][:n], lc[1][:n], lc[2][:n], lc[3][:n]


def early_cut(
    lc: LightCurve, days: float = EARLY_DAYS, bands: Sequence[str] | None = None
) -> LightCurve:
    """Curve cut ``days`` after its first S/N >= 5 point (unchanged if it has none)."""
    t0 = first_detection(lc, bands)
    return lc if np.isnan(t0) else cut(lc, t0 + days)


def holdout_split(
    labels: Sequence[str], fraction: float = HOLDOUT_FRACTION, seed: int = SPLIT_SEED
) -> np.ndarray:
    """Boolean mask of held-out curves: stratified by label, fixed seed, one row per object.

    Examples
    --------
    >>> m = holdout_split(["Ia"] * 10 + ["II"] * 10, 0.2)
    >>> int(m.sum()), int(m[:10].sum())
    (4, 2)
    """
    lab = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(lab.size, dtype=bool)
    for value in np.unique(lab):
        idx = np.flatnonzero(lab == value)
        n_out = round(fraction * idx.size)
        mask[rng.permutation(idx)[:n_out]] = True
    return mask


def history(lc: LightCurve, t_alert: float, days: float) -> LightCurve:
    """Points in ``[t_alert - days, t_alert]`` (what a packet with ``days`` of history holds)."""
    t = lc[0]
    a = int(np.searchsorted(t, t_alert - days, side="left"))
    z = int(np.searchsorted(t, t_alert, side="right"))
    return lc[0][a:z], lc[1][a:z], lc[2][a:z], lc[3][a:z]


WINDOW_DAYS = 20.0
"""Longest window of the window views (days)."""


def augment(
    lc: LightCurve,
    rng: np.random.Generator,
    n_random: int,
    n_early: int,
    bands: Sequence[str],
    history_days: float | None = None,
    n_window: int = 0,
) -> list[LightCurve]:
    """The full curve, ``n_random`` cuts at random S/N >= 5 epochs, ``n_early`` cuts in 0-40 d.

    Every other early cut falls in the first 10 days (early alerts).  With
    ``history_days`` (ZTF: 30), every other random cut keeps only that much
    history before the alert, as a ZTF packet does.  ``n_window`` views end at
    a random S/N >= 5 epoch and start 0-:data:`WINDOW_DAYS` days before it,
    with no earlier point.
    """
    t, b, f, e = lc
    det = np.flatnonzero((f / e >= DETECTION_SNR) & np.isin(b, list(bands)))
    out = [lc]
    if det.size == 0:
        return out
    for k, i in enumerate(rng.choice(det, size=n_random, replace=True)):
        if history_days is not None and k % 2 == 1:
            out.append(history(lc, float(t[i]), history_days))
        else:
            out.append(cut(lc, float(t[i])))
    t0 = float(t[det[0]])
    for k in range(n_early):  # every other early cut in the first 10 days
        out.append(cut(lc, t0 + float(rng.uniform(0.0, 40.0 if k % 2 == 0 else 10.0))))
    for i in rng.choice(det, size=n_window, replace=True):
        out.append(history(lc, float(t[i]), float(rng.uniform(0.0, WINDOW_DAYS))))
    return out


def build_rows(
    curves: Sequence[Curve],
    task: Task,
    *,
    n_random: int = 0,
    n_early: int = 0,
    n_window: int = 0,
    seed: int = 0,
    early_days: float | None = None,
    history_days: float | None = None,
    groups_of: Sequence[int] | None = None,
) -> Rows:
    """Feature rows of labelled ``curves`` for ``task``: as given, early-cut, or augmented.

    Parameters
    ----------
    curves
        Labelled curves (``sn_class`` set).
    task
        Gives the bands and the label of each class.
    n_random, n_early, n_window
        Augmentation (see :func:`augment`); all 0 give one row per curve.
    seed
        Seed of the augmentation.
    early_days
        If set, each curve is cut this many days after its first detection.
    history_days
        Passed to :func:`augment`.
    groups_of
        Object id of each curve (default its index).
    """
    rng = np.random.default_rng(seed)
    lcs: list[LightCurve] = []
    ys: list[int] = []
    groups: list[int] = []
    full: list[bool] = []
    for k, c in enumerate(curves):
        lc = c.lightcurve
        if early_days is not None:
            variants = [early_cut(lc, early_days, task.bands)]
        elif n_random or n_early or n_window:
            variants = augment(lc, rng, n_random, n_early, task.bands, history_days, n_window)
        else:
            variants = [lc]
        lcs.extend(variants)
        ys.extend([task.class_index(c.sn_class or "")] * len(variants))
        groups.extend([k if groups_of is None else groups_of[k]] * len(variants))
        full.extend([early_days is None] + [False] * (len(variants) - 1))
    fm = extract(lcs, task.bands)
    return Rows(
        fm.X, np.asarray(ys, dtype=np.int64), np.asarray(groups), fm.n_significant, np.asarray(full)
    )
