"""Physical models of the non-supernova variables a real alert stream carries.

Each generator returns the *total* AB magnitude of one source at times ``t``
(days) in canonical bands ``b``, and its reference magnitude per band (what
a difference-imaging template holds: the median or quiescent level).
:func:`classifiers.simulate.observe` turns them into difference fluxes.
Parameters are drawn from the ranges below (sources in ``docs/classifiers.md``):

==========  ==========  ==============================================================
kind        class       model
==========  ==========  ==============================================================
``RRL``     periodic    Fourier templates (order 4, per band) fitted to the training
                        half of the SDSS Stripe 82 RR Lyrae with their own periods
                        (Sesar et al. 2010), :func:`fit_fourier`
``EB``      periodic    detached/contact binaries: Gaussian primary and secondary
                        eclipses (depth 0.05-1 mag, secondary 0-100 % of it, phase
                        half-width 0.02-0.1) + ellipsoidal term (0-0.15 mag),
                        period log-uniform 0.25-20 d (Prsa et al. 2011)
``LPV``     periodic    Mira (period 150-500 d, g semi-amplitude 1-3 mag) or
                        semi-regular (30-200 d, 0.1-0.6 mag), red colours (g-r 1.2-1.8)
                        (Soszynski et al. 2009)
``AGN``     agn         damped random walk, tau 50-600 d, SF_inf 0.1-0.35 mag in g,
                        smaller in redder bands (MacLeod et al. 2010, ApJ 721, 1014)
``flare``   flare       M-dwarf flares on a red quiescent star: Davenport et al. (2014)
                        template, half-width 5-60 min, g amplitude 0.5-4 mag,
                        weaker in red bands
``CV``      flare       dwarf-nova outbursts: 2-5 mag, rise 0.5-2 d, plateau 0-12 d,
                        decline 0.2-1 mag/d, recurrence 20-200 d (Warner 1995)
==========  ==========  ==============================================================

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> t = np.linspace(0, 5, 400); b = np.full(400, "g")
>>> m, ref = eclipsing_binary(t, b, rng, ref_mag=17.0)
>>> bool(m.max() > ref["g"] + 0.04), bool(17.0 <= ref["g"] < 17.5)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

KIND_CLASS = {
    "RRL": "periodic",
    "EB": "periodic",
    "LPV": "periodic",
    "AGN": "agn",
    "flare": "flare",
    "CV": "flare",
}
"""Variable kind -> classifier class (real folders such as ``RRLyrae`` map to a kind)."""
FOURIER_ORDER = 4
# colours of each kind relative to r (mag): {band: (low, high)}
_RED_STAR = {"u": (2.5, 3.5), "g": (1.2, 1.8), "r": (0.0, 0.0), "i": (-0.9, -0.5),
             "z": (-1.4, -0.8), "y": (-1.6, -1.0)}  # fmt: skip
_BLUE = {"u": (0.2, 0.8), "g": (0.0, 0.4), "r": (0.0, 0.0), "i": (-0.3, 0.0),
         "z": (-0.4, 0.0), "y": (-0.5, 0.0)}  # fmt: skip
# amplitude of each band relative to g (Balmer-dominated flares are blue)
_FLARE_SCALE = {"u": 2.5, "g": 1.0, "r": 0.45, "i": 0.25, "z": 0.15, "y": 0.1}
_DRW_SCALE = {"u": 1.2, "g": 1.0, "r": 0.8, "i": 0.7, "z": 0.65, "y": 0.6}
Generator = Callable[..., tuple[np.ndarray, dict[str, float]]]


def _colours(
    rng: np.random.Generator, table: Mapping[str, tuple[float, float]]
) -> dict[str, float]:
    return {b: float(rng.uniform(*lo_hi)) for b, lo_hi in table.items()}


def fit_fourier(t: np.ndarray, mag: np.ndarray, period: float, order: int = FOURIER_ORDER) -> list:
    """Least-squares Fourier series of a folded light curve: ``[m0, a1, b1, ..., ak, bk]``.

    Examples
    --------
    >>> t = np.linspace(0, 10, 300); m = 15 + 0.3 * np.cos(2 * np.pi * t / 0.5)
    >>> [round(x, 3) + 0.0 for x in fit_fourier(t, m, 0.5, order=1)]
    [15.0, 0.3, 0.0]
    """
    phase = 2 * np.pi * np.asarray(t) / period
    cols = [np.ones_like(phase)]
    for k in range(1, order + 1):
        cols += [np.cos(k * phase), np.sin(k * phase)]
    coef, *_ = np.linalg.lstsq(np.stack(cols, 1), np.asarray(mag), rcond=None)
    return [float(c) for c in coef]


def fourier_mag(coef: Sequence[float], phase: np.ndarray) -> np.ndarray:
    """Magnitude of a Fourier series at ``phase`` (cycles)."""
    out = np.full(np.shape(phase), coef[0], dtype=np.float64)
    for k in range(1, (len(coef) - 1) // 2 + 1):
        out += coef[2 * k - 1] * np.cos(2 * np.pi * k * phase)
        out += coef[2 * k] * np.sin(2 * np.pi * k * phase)
    return out


def rr_lyrae(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float, template: dict[str, Any]
) -> tuple[np.ndarray, dict[str, float]]:
    """RR Lyrae from a Fourier template ``{"period": d, "bands": {band: coef}}``, random phase.

    The template's r-band mean is moved to ``ref_mag``; missing bands borrow
    the nearest fitted band (y from z).
    """
    period = float(template["period"])
    coefs: dict[str, list[float]] = template["bands"]
    shift = ref_mag - coefs["r"][0]
    phase = (t / period + rng.uniform()) % 1.0
    grid = np.linspace(0.0, 1.0, 200, endpoint=False)
    mag = np.zeros(t.size)
    ref: dict[str, float] = {}
    for band in np.unique(b):
        coef = coefs.get(str(band)) or coefs.get({"y": "z", "u": "g"}.get(str(band), "r")) or []
        coef = coef or coefs["r"]
        sel = b == band
        mag[sel] = fourier_mag(coef, phase[sel]) + shift
        ref[str(band)] = float(_median_mag(fourier_mag(coef, grid) + shift))
    return mag, ref


def _median_mag(mag: np.ndarray) -> float:
    return float(-2.5 * np.log10(np.median(10 ** (-0.4 * mag))))


def eclipsing_binary(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Eclipsing binary (see module table); reference = median over one period."""
    period = float(np.exp(rng.uniform(np.log(0.25), np.log(20.0))))
    depth1 = float(rng.uniform(0.05, 1.0))
    depth2 = depth1 * float(rng.uniform(0.0, 1.0))
    width = float(rng.uniform(0.02, 0.1))
    ell = float(rng.uniform(0.0, 0.15)) if period < 3 else 0.0
    colour = _colours(rng, _BLUE)
    chroma = {band: float(rng.uniform(0.85, 1.15)) for band in colour}
    t0 = rng.uniform(0.0, period)

    def shape(phase: np.ndarray, band: str) -> np.ndarray:
        d1 = np.minimum(phase, 1.0 - phase)
        d2 = np.abs(phase - 0.5)
        dip = depth1 * np.exp(-0.5 * (d1 / width) ** 2) + depth2 * np.exp(-0.5 * (d2 / width) ** 2)
        return (
            ref_mag + colour[band] + chroma[band] * dip + ell * (1 - np.cos(4 * np.pi * phase)) / 2
        )

    return _periodic(t, b, lambda ph, band: shape(ph, band), period, t0)


def _periodic(
    t: np.ndarray, b: np.ndarray, shape: Callable[[np.ndarray, str], np.ndarray], period: float,
    t0: float,
) -> tuple[np.ndarray, dict[str, float]]:  # fmt: skip
    mag = np.zeros(t.size)
    ref: dict[str, float] = {}
    grid = np.linspace(0.0, 1.0, 400, endpoint=False)
    for band in np.unique(b):
        sel = b == band
        mag[sel] = shape(((t[sel] - t0) / period) % 1.0, str(band))
        ref[str(band)] = _median_mag(shape(grid, str(band)))
    return mag, ref


def long_period_variable(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Mira (40 %) or semi-regular variable, sinusoidal with a slightly skewed rise."""
    mira = rng.uniform() < 0.4
    period = float(rng.uniform(150, 500) if mira else rng.uniform(30, 200))
    amp_g = float(rng.uniform(1.0, 3.0) if mira else rng.uniform(0.1, 0.6))
    colour = _colours(rng, _RED_STAR)
    scale = {"u": 1.1, "g": 1.0, "r": 0.75, "i": 0.55, "z": 0.45, "y": 0.4}

    def shape(phase: np.ndarray, band: str) -> np.ndarray:
        wave = np.sin(2 * np.pi * phase) + 0.2 * np.sin(4 * np.pi * phase)
        return ref_mag + colour[band] + amp_g * scale[band] * wave

    return _periodic(t, b, shape, period, float(rng.uniform(0, period)))


def damped_random_walk(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float
) -> tuple[np.ndarray, dict[str, float]]:
    """AGN: one Ornstein-Uhlenbeck process (exact update) scaled per band; ref = mean level."""
    tau = float(rng.uniform(50.0, 600.0))
    sigma = float(rng.uniform(0.1, 0.35)) / np.sqrt(2.0)
    colour = _colours(rng, _BLUE)
    order = np.argsort(t, kind="stable")
    x = np.zeros(t.size)
    prev_t, prev_x = None, float(rng.normal(0.0, sigma))
    for i in order:
        if prev_t is not None:
            a = np.exp(-(t[i] - prev_t) / tau)
            prev_x = a * prev_x + float(rng.normal(0.0, sigma * np.sqrt(1 - a * a)))
        x[i], prev_t = prev_x, t[i]
    scale = np.array([_DRW_SCALE.get(str(v), 0.8) for v in b])
    offs = np.array([colour.get(str(v), 0.0) for v in b])
    return ref_mag + offs + scale * x, {band: ref_mag + c for band, c in colour.items()}


def flare_star(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float
) -> tuple[np.ndarray, dict[str, float]]:
    """M dwarf with 1-3 flares placed on observed epochs (Davenport et al. 2014 template)."""
    colour = _colours(rng, _RED_STAR)
    base = np.array([ref_mag + colour.get(str(v), 0.0) for v in b])
    boost = np.zeros(t.size)
    for _ in range(int(rng.integers(1, 4)) if t.size else 0):
        half = float(rng.uniform(5.0, 60.0)) / 1440.0
        peak = float(rng.choice(t)) - float(rng.uniform(0.0, 2.0)) * half
        amp = 10 ** (0.4 * float(rng.uniform(0.5, 4.0))) - 1.0
        x = (t - peak) / half
        rise = np.clip(1 + 1.941 * x - 0.175 * x**2 - 2.246 * x**3 - 1.125 * x**4, 0, None)
        xp = np.maximum(x, 0.0)
        decay = 0.6890 * np.exp(-1.600 * xp) + 0.3030 * np.exp(-0.2783 * xp)
        prof = np.where(x < 0, np.where(x > -1, rise, 0.0), decay)
        boost += amp * prof * np.array([_FLARE_SCALE.get(str(v), 0.3) for v in b])
    ref = {band: ref_mag + c for band, c in colour.items()}
    return base - 2.5 * np.log10(1.0 + boost), ref


def dwarf_nova(
    t: np.ndarray, b: np.ndarray, rng: np.random.Generator, ref_mag: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Cataclysmic variable: quiescence at ``ref_mag`` with recurrent outbursts."""
    colour = _colours(rng, _BLUE)
    recur = float(rng.uniform(20.0, 200.0))
    amp, rise = float(rng.uniform(2.0, 5.0)), float(rng.uniform(0.5, 2.0))
    plateau, decline = float(rng.uniform(0.0, 12.0)), float(rng.uniform(0.2, 1.0))
    start = float(t.min() if t.size else 0.0) + rng.uniform(-recur, recur)
    dm = np.zeros(t.size)
    for k in range(-2, int((np.ptp(t) if t.size else 0) / recur) + 3):
        dt = t - (start + k * recur)
        up = np.where((dt > -rise) & (dt <= 0), amp * (1 + dt / rise), 0.0)
        top = np.where((dt > 0) & (dt <= plateau), amp, 0.0)
        down = np.where(dt > plateau, np.maximum(amp - decline * (dt - plateau), 0.0), 0.0)
        dm = np.maximum(dm, up + top + down)
    offs = np.array([colour.get(str(v), 0.0) for v in b])
    return ref_mag + offs - dm, {band: ref_mag + c for band, c in colour.items()}


GENERATORS: dict[str, Generator] = {
    "EB": eclipsing_binary,
    "LPV": long_period_variable,
    "AGN": damped_random_walk,
    "flare": flare_star,
    "CV": dwarf_nova,
}
