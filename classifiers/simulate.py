"""Survey-matched training curves: SNPCC supernovae and variables observed like ZTF or Rubin.

* :func:`observe` - difference flux and error of a source of known true and
  reference magnitudes at epochs with 5-sigma limits: background noise
  ``lim_flux / 5`` plus source photon noise (``sigma_b**2 * F / F_lim``) and a
  0.5 % calibration floor (relative to the source flux).
* :func:`resample_sn` - an SNPCC curve smoothed per band (inverse-variance
  Gaussian kernel, 3 d), its time axis rescaled from its simulated redshift
  to a target one (``(1 + z_new) / (1 + z_sim)``), each target band taken
  from the SNPCC bands that saw the same *rest-frame* wavelength
  (:func:`rest_frame_sources`: no K-correction, the colours follow ``z_new``),
  brightened to a target peak magnitude and observed at the survey's epochs
  (:mod:`classifiers.cadence`).
* :func:`simulate_variable` - one :mod:`classifiers.negatives` source observed
  at the survey's epochs.
* Alerts without forced photometry carry detections only: :func:`detections_only`.

Target ranges per survey are in :data:`SURVEY_RANGES` (AB mag, redshift).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> lc = simulate_variable("AGN", "ZTF", rng, span_days=60.0)
>>> lc[1].dtype.kind, bool(len(lc[0]) > 10)
('U', True)
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from broker.core.errors import ConfigError
from classifiers import negatives as ng
from classifiers.cadence import sample_epochs
from classifiers.features import DETECTION_SNR, LightCurve
from classifiers.snana import SnanaCurve

SURVEY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "ZTF": {"sn_peak_mag": (16.0, 19.8), "redshift": (0.01, 0.12), "var_mag": (14.5, 20.5)},
    "LSST": {"sn_peak_mag": (19.0, 24.5), "redshift": (0.05, 0.9), "var_mag": (17.0, 24.5)},
}
SURVEY_BANDS = {"ZTF": ("g", "r"), "LSST": ("u", "g", "r", "i", "z", "y")}
SMOOTH_DAYS = 3.0
MIN_TEMPLATE_SNR = 8.0
CALIBRATION_FLOOR = 0.005
SOURCE_WAVELENGTH = {"g": 4820.0, "r": 6420.0, "i": 7830.0, "z": 9180.0}
"""Effective wavelengths of the SNPCC (DES) bands, Angstrom."""
TARGET_WAVELENGTH = {
    "ZTF": {"g": 4750.0, "r": 6370.0, "i": 7900.0},
    "LSST": {"u": 3670.0, "g": 4830.0, "r": 6220.0, "i": 7550.0, "z": 8690.0, "y": 9710.0},
}
"""Effective wavelengths of the target surveys' bands, Angstrom (ZTF: Bellm et al. 2019;
Rubin: Ivezic et al. 2019)."""
RRL_TEMPLATES = Path(__file__).resolve().parent / "rrlyrae_templates.json"


def observe(
    mag: np.ndarray, ref_mag: np.ndarray, lim: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy difference flux (nJy) and its error for true and reference AB magnitudes."""
    flux = 10 ** (-0.4 * (np.asarray(mag) - 31.4))
    ref = 10 ** (-0.4 * (np.asarray(ref_mag) - 31.4))
    f_lim = 10 ** (-0.4 * (np.asarray(lim) - 31.4))
    sigma_b = f_lim / 5.0
    err = np.sqrt(sigma_b**2 * (1.0 + flux / f_lim) + (CALIBRATION_FLOOR * flux) ** 2)
    return flux - ref + rng.normal(0.0, 1.0, flux.size) * err, err


def detections_only(lc: LightCurve, snr: float = DETECTION_SNR) -> LightCurve:
    """Keep the points with ``|S/N| >= snr`` (what a ZTF packet without forced photometry holds)."""
    t, b, f, e = lc
    keep = np.abs(f / e) >= snr
    return t[keep], b[keep], f[keep], e[keep]


def _smooth(t: np.ndarray, f: np.ndarray, e: np.ndarray, q: np.ndarray) -> np.ndarray:
    w = np.exp(-0.5 * ((q[:, None] - t[None, :]) / SMOOTH_DAYS) ** 2) / e[None, :] ** 2
    return (w * f[None, :]).sum(1) / np.maximum(w.sum(1), 1e-300)


def rest_frame_sources(
    wavelength: float, z_new: float, z_sim: float, available: list[str]
) -> list[tuple[str, float]]:
    """SNPCC bands (and linear flux weights) seeing ``wavelength`` at ``z_new`` from ``z_sim``.

    A target band of effective wavelength ``wavelength`` observing a source at
    ``z_new`` sees rest-frame ``wavelength / (1 + z_new)``; the simulated
    source at ``z_sim`` showed that rest-frame light at
    ``wavelength (1 + z_sim) / (1 + z_new)``.  The two SNPCC bands around it
    are mixed by their distance in log wavelength; outside their span the
    nearest band is used alone.

    Examples
    --------
    >>> mix = rest_frame_sources(4750.0, 0.05, 0.4, ["g", "r", "i", "z"])  # ZTF g, SN at z=0.4
    >>> [(band, round(w, 2)) for band, w in mix]
    [('g', 0.05), ('r', 0.95)]
    >>> rest_frame_sources(4750.0, 0.3, 0.05, ["g", "r"])
    [('g', 1.0)]
    """
    lam = wavelength * (1.0 + z_sim) / (1.0 + z_new)
    have = sorted((SOURCE_WAVELENGTH[b], b) for b in available if b in SOURCE_WAVELENGTH)
    if not have:
        return []
    if lam <= have[0][0]:
        return [(have[0][1], 1.0)]
    if lam >= have[-1][0]:
        return [(have[-1][1], 1.0)]
    for (l1, b1), (l2, b2) in itertools.pairwise(have):
        if l1 <= lam <= l2:
            w = float(np.log(lam / l1) / np.log(l2 / l1))
            return [(b1, 1.0 - w), (b2, w)]
    return []  # pragma: no cover - the span is covered above


def resample_sn(
    curve: SnanaCurve, survey: str, rng: np.random.Generator, bands: tuple[str, ...]
) -> LightCurve | None:
    """An SNPCC supernova as ``survey`` would see it (None when its template is too noisy).

    Parameters
    ----------
    curve
        SNPCC curve (fluxes in nJy, simulated redshift in ``curve.redshift``).
    survey
        ``"ZTF"`` or ``"LSST"`` (cadence, depth and target ranges).
    rng
        Random generator.
    bands
        Bands of the target model; each is built from the SNPCC bands of the same
        rest-frame wavelength (Rubin u and y from the bluest and reddest when beyond).
    """
    t, b, f, e = curve.lightcurve
    ranges = SURVEY_RANGES[survey]
    snr = f / e
    if not (snr >= MIN_TEMPLATE_SNR).any():
        return None
    t_peak = float(t[np.argmax(np.where(snr >= 3, f, -np.inf))])
    z_sim = curve.redshift if np.isfinite(curve.redshift) else 0.3
    z_new = float(rng.uniform(*ranges["redshift"]))
    stretch = (1.0 + z_new) / (1.0 + z_sim)
    t_new = t_peak + (t - t_peak) * stretch
    obs_t, obs_b, lim = sample_epochs(survey, rng, t_new.min(), t_new.max())
    usable = [str(x) for x in np.unique(b) if (b == x).sum() >= 3]
    noisy = {x for x in usable if not (snr[b == x] >= DETECTION_SNR).any()}
    model = np.full(obs_t.size, np.nan)
    for band in set(obs_b.tolist()) & set(bands):
        sel = obs_b == band
        mix = rest_frame_sources(TARGET_WAVELENGTH[survey][band], z_new, z_sim, usable)
        if not mix or any(w > 0.25 and src in noisy for src, w in mix):
            continue  # no SNPCC band saw that light clearly enough
        q = obs_t[sel]
        value = np.zeros(q.size)
        inside = np.ones(q.size, dtype=bool)
        for src_band, weight in mix:
            src = b == src_band
            inside &= (q >= t_new[src].min()) & (q <= t_new[src].max())
            value += weight * _smooth(t_new[src], f[src], e[src], q)
        idx = np.flatnonzero(sel)[inside]
        model[idx] = value[inside]
    ok = np.isfinite(model)
    if ok.sum() < 3 or not (model[ok] > 0).any():
        return None
    peak_mag = rng.uniform(*ranges["sn_peak_mag"])
    scale = 10 ** (-0.4 * (peak_mag - 31.4)) / model[ok].max()
    true = np.maximum(model[ok] * scale, 1e-3)
    # reference of a transient: no source flux (template before explosion)
    flux, err = observe(-2.5 * np.log10(true) + 31.4, np.full(true.size, 99.0), lim[ok], rng)
    return obs_t[ok], obs_b[ok], flux, err


def load_rrl_templates(path: Path = RRL_TEMPLATES) -> list[dict[str, Any]]:
    """RR Lyrae Fourier templates written by :func:`fit_rrl_templates`."""
    try:
        data: list[dict[str, Any]] = json.loads(path.read_text())["templates"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read RR Lyrae templates {path}: {exc}") from exc
    return data


def fit_rrl_templates(
    curves: list[tuple[str, LightCurve]], periods: dict[str, float], out: Path = RRL_TEMPLATES
) -> list[dict[str, Any]]:
    """Fit order-4 Fourier series per band to total-flux RR Lyrae curves with known periods."""
    templates = []
    for name, (t, b, f, _e) in curves:
        if name not in periods or not (f > 0).all():
            continue
        mag = -2.5 * np.log10(f) + 31.4
        coefs = {}
        for band in np.unique(b):
            sel = b == band
            if sel.sum() >= 30:
                coefs[str(band)] = [
                    round(c, 5) for c in ng.fit_fourier(t[sel], mag[sel], periods[name])
                ]
        if "r" in coefs and "g" in coefs:
            templates.append({"name": name, "period": periods[name], "bands": coefs})
    out.write_text(
        json.dumps({"source": "Stripe 82 RR Lyrae, training half", "templates": templates})
    )
    return templates


def simulate_variable(
    kind: str,
    survey: str,
    rng: np.random.Generator,
    span_days: float,
    rrl_templates: list[dict[str, Any]] | None = None,
) -> LightCurve:
    """One variable of ``kind`` (:data:`classifiers.negatives.KIND_CLASS`) seen by ``survey``."""
    t, b, lim = sample_epochs(survey, rng, 0.0, span_days)
    ref_mag = float(rng.uniform(*SURVEY_RANGES[survey]["var_mag"]))
    if kind == "RRL":
        templates = rrl_templates if rrl_templates is not None else load_rrl_templates()
        tmpl = templates[int(rng.integers(len(templates)))]
        mag, ref = ng.rr_lyrae(t, b, rng, ref_mag, tmpl)
    elif kind in ng.GENERATORS:
        mag, ref = ng.GENERATORS[kind](t, b, rng, ref_mag)
    else:
        raise ConfigError(f"unknown variable kind {kind!r}; choose one of {list(ng.KIND_CLASS)}")
    ref_arr = np.array([ref.get(str(x), ref_mag) for x in b])
    flux, err = observe(mag, ref_arr, lim, rng)
    return t, b, flux, err
