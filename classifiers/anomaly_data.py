"""Light curves for the anomaly model: alert-like snapshots of real and simulated curves.

An alert sees its object's light curve up to the alert, over the survey's
packet history (ZTF 30 days, Rubin 12 months).  :func:`snapshot` cuts a full
curve that way at a random detection; :func:`labelled_snapshots` does it for
the real labelled curves (``labeled-real`` layout: ZTF BTS SN Ia, SDSS RR
Lyrae as difference fluxes); :func:`simulated` gives survey-matched
variables (:mod:`classifiers.negatives`) and SNPCC supernovae
(:func:`classifiers.simulate.resample_sn`) for the surveys whose real alerts
carry too little history (Rubin commissioning alerts: a point or two).

Examples
--------
>>> t = np.arange(0.0, 90.0, 3.0)
>>> lc = (t, np.array(["g", "r"] * 15), 100 + 50 * np.sin(t / 5), np.full(30, 5.0))
>>> s = snapshot(lc, np.random.default_rng(0), ("g", "r"), 30.0)
>>> float(s[0].max() - s[0].min()) <= 30.0, int((np.abs(s[2] / s[3]) >= 3).sum()) >= 3
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classifiers import simulate
from classifiers.dataset import history
from classifiers.features import DETECTION_SNR, MIN_POINTS, SIGNIFICANT_SNR, LightCurve
from classifiers.realdata import is_validation, load_labelled

HISTORY_DAYS = {"ZTF": 30.0, "LSST": 365.0}
VARIABLE_SHARE = {"RRL": 0.3, "EB": 0.2, "LPV": 0.15, "AGN": 0.2, "flare": 0.08, "CV": 0.07}
SPAN_DAYS = (20.0, 200.0)


def in_bands(lc: LightCurve, bands: Sequence[str]) -> LightCurve:
    """The points of ``lc`` in ``bands``."""
    keep = np.isin(lc[1], list(bands))
    return lc[0][keep], lc[1][keep], lc[2][keep], lc[3][keep]


def snapshot(
    lc: LightCurve,
    rng: np.random.Generator,
    bands: Sequence[str],
    history_days: float,
    tries: int = 20,
) -> LightCurve | None:
    """``lc`` as an alert at a random detection sees it (None: no such alert is scorable).

    The alert is a point of S/N >= 5 in ``bands``; the snapshot keeps the
    points of the ``history_days`` before it, and must hold at least
    :data:`~classifiers.features.MIN_POINTS` points of S/N >= 3.
    """
    lc = in_bands(lc, bands)
    t, _b, f, e = lc
    det = np.flatnonzero(np.abs(f / e) >= DETECTION_SNR)
    for i in rng.permutation(det)[:tries]:
        s = history(lc, float(t[i]), history_days)
        if int((np.abs(s[2] / s[3]) >= SIGNIFICANT_SNR).sum()) >= MIN_POINTS:
            return s
    return None


def labelled_snapshots(
    curves_dir: str | Path,
    survey: str,
    bands: Sequence[str],
    part: str = "all",
    per_curve: int = 1,
    seed: int = 0,
) -> dict[str, list[tuple[str, LightCurve]]]:
    """Alert-like snapshots of real labelled curves, by class: ``{class: [(name, curve)]}``.

    ``part`` is ``train``, ``validation`` (:func:`classifiers.realdata.is_validation`)
    or ``all``; ``per_curve`` snapshots are drawn per curve (one seed for all).
    """
    rng = np.random.default_rng(seed)
    real = load_labelled(curves_dir, part="all")
    out: dict[str, list[tuple[str, LightCurve]]] = {}
    for cls, items in sorted(real.curves.items()):
        for name, lc in items:
            if part != "all" and is_validation(name) != (part == "validation"):
                continue
            for _ in range(per_curve):
                s = snapshot(lc, rng, bands, HISTORY_DAYS[survey])
                if s is not None:
                    out.setdefault(cls, []).append((name, s))
    return out


def simulated(
    survey: str,
    n: int,
    rng: np.random.Generator,
    bands: Sequence[str],
    snana: Sequence[object] = (),
) -> list[tuple[str, LightCurve]]:
    """``n`` alert-like snapshots of simulated variables and, given SNPCC curves, supernovae.

    Half are variables of the kinds and shares of :data:`VARIABLE_SHARE`
    (observed 20-200 days at the survey's cadence and depth), half are the
    SNPCC curves ``snana`` resampled to the survey (all variables without
    them).  Returns ``(kind, curve)`` pairs.
    """
    templates = simulate.load_rrl_templates()
    kinds = list(VARIABLE_SHARE)
    share = np.array(list(VARIABLE_SHARE.values()))
    out: list[tuple[str, LightCurve]] = []
    n_sn = n // 2 if snana else 0
    attempts = 0
    while len(out) < n - n_sn and attempts < 20 * n:
        attempts += 1
        kind = kinds[int(rng.choice(len(kinds), p=share / share.sum()))]
        lc = simulate.simulate_variable(
            kind, survey, rng, float(rng.uniform(*SPAN_DAYS)), templates
        )
        s = snapshot(lc, rng, bands, HISTORY_DAYS[survey])
        if s is not None:
            out.append((kind, s))
    curves = list(snana)
    for k in range(20 * n_sn):
        if len(out) >= n or not curves:
            break
        c = curves[k % len(curves)]
        full = simulate.resample_sn(c, survey, rng, tuple(bands))  # type: ignore[arg-type]
        s = None if full is None else snapshot(full, rng, bands, HISTORY_DAYS[survey])
        if s is not None:
            out.append((f"SN {getattr(c, 'sn_class', '')}".strip(), s))
    return out
