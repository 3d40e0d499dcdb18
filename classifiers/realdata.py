"""Real labelled light curves laid out like ``labeled-real``: reading, difference fluxes, split.

A curves directory holds one folder per class, each with ``light-curves/*.csv``
(or the CSV files directly).  A CSV has a time column (``time``/``mjd``, days),
a band column and either magnitudes ``mag,magerr`` (AB) or fluxes
``flux,fluxerr`` (nJy), in any column order; other columns are ignored.
Magnitudes become fluxes with ``flux_njy = 10**(-0.4 * (mag - 31.4))`` and
``err = flux * magerr / 1.0857``.

Folder names map to classes by :data:`CLASS_DIRS` (``SNIa`` -> ``Ia``,
``RRLyrae`` -> ``RRL``...).  Classes in :data:`TOTAL_FLUX_CLASSES` (variable
stars, AGN) are catalogue photometry of the *total* brightness: a per-band
reference flux (the median) is subtracted, as difference imaging against a
template would.  Supernova curves (ZTF BTS from alert photometry, and every
class of :data:`DIFFERENCE_CLASSES`) are already difference photometry.  A
folder of another name (a class never seen here) is treated as total
photometry when most of its curves look like a steady source
(:func:`looks_total`), or when named in ``total_flux``; the choice made for
each class is reported (:attr:`RealSet.photometry`).

:func:`is_validation` splits curves by a hash of their file name (stable
whatever else is in the folder): the validation half is used for every
reported figure, the other half may be used for training.

Examples
--------
>>> from pathlib import Path
>>> d = Path("/work/shared/data/labeled-real/RRLyrae/light-curves")
>>> lc = read_curve(sorted(d.glob("*.csv"))[0], difference=True)
>>> sorted(set(lc[1].tolist())), bool(abs(np.median(lc[2][lc[1] == "r"])) < 1e-6)
(['g', 'i', 'r', 'u', 'z'], True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from broker.core.errors import ConfigError, ProcessError
from classifiers.bands import canonical_array
from classifiers.features import LightCurve

CLASS_DIRS = {
    "snia": "Ia",
    "ia": "Ia",
    "snii": "II",
    "ii": "II",
    "snibc": "Ibc",
    "ibc": "Ibc",
    "rrlyrae": "RRL",
    "rrl": "RRL",
    "eb": "EB",
    "eclipsingbinary": "EB",
    "lpv": "LPV",
    "agn": "AGN",
    "flare": "flare",
}
TOTAL_FLUX_CLASSES = frozenset({"RRL", "EB", "LPV", "AGN"})
DIFFERENCE_CLASSES = frozenset({"Ia", "II", "Ibc", "flare"})
STEADY_FRACTION = 0.4
"""A curve looks like total photometry when, in its best band, its 5th-percentile flux is
at least this fraction of its 95th percentile (never fades to the template)."""
VALIDATION_FRACTION = 0.5
_TIME = ("time", "mjd", "mjd_tai", "jd")
_MAG_PER_FLUX = 2.5 / np.log(10.0)


@dataclass
class RealSet:
    """Curves by class (``name``, light curve) and the files skipped with their reason."""

    curves: dict[str, list[tuple[str, LightCurve]]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    photometry: dict[str, str] = field(default_factory=dict)


def class_of_dir(name: str) -> str:
    """Class of a folder name (:data:`CLASS_DIRS`, case-insensitive); the name itself if unknown."""
    return CLASS_DIRS.get(name.lower().replace("_", "").replace("-", ""), name)


def is_validation(name: str, fraction: float = VALIDATION_FRACTION) -> bool:
    """Whether curve ``name`` (file stem) belongs to the validation part (hash split).

    Examples
    --------
    >>> is_validation("ZTF18aadlaxo"), is_validation("ZTF18aadzfso")
    (True, False)
    """
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


def read_curve(path: Path, difference: bool = False) -> LightCurve:
    """One CSV light curve as ``(mjd, band, flux_njy, flux_err_njy)``, sorted by time.

    Raises
    ------
    ProcessError
        Missing columns or no usable row.
    classifiers.bands.UnknownBandError
        A band name that is not a known alias (the message names the file).
    """
    frame = pd.read_csv(path)
    cols = {c.lower().strip(): c for c in frame.columns}
    tcol = next((cols[c] for c in _TIME if c in cols), None)
    if tcol is None or "band" not in cols:
        raise ProcessError(f"{path}: needs a time column ({'/'.join(_TIME)}) and a band column")
    t = pd.to_numeric(frame[tcol], errors="coerce").to_numpy(np.float64)
    if "flux" in cols and "fluxerr" in cols:
        f = pd.to_numeric(frame[cols["flux"]], errors="coerce").to_numpy(np.float64)
        e = pd.to_numeric(frame[cols["fluxerr"]], errors="coerce").to_numpy(np.float64)
    elif "mag" in cols and "magerr" in cols:
        m = pd.to_numeric(frame[cols["mag"]], errors="coerce").to_numpy(np.float64)
        me = pd.to_numeric(frame[cols["magerr"]], errors="coerce").to_numpy(np.float64)
        f = 10 ** (-0.4 * (m - 31.4))
        e = f * me / _MAG_PER_FLUX
    else:
        raise ProcessError(f"{path}: needs columns mag,magerr or flux,fluxerr")
    band = canonical_array(frame[cols["band"]].astype(str).to_numpy(), curve=str(path))
    ok = np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0)
    if not ok.any():
        raise ProcessError(f"{path}: no row with finite time, flux and positive error")
    order = np.argsort(t[ok], kind="stable")
    lc = (t[ok][order], band[ok][order], f[ok][order], e[ok][order])
    return difference_flux(lc) if difference else lc


def looks_total(lc: LightCurve) -> bool:
    """Whether a curve looks like total photometry of a steady source (see :data:`STEADY_FRACTION`).

    Judged in its band with the most points (the others may be noisy).

    Examples
    --------
    >>> t = np.arange(6.0); b = np.array(list("gggrrr")); e = np.ones(6)
    >>> looks_total((t, b, np.array([90.0, 100, 95, 50, 55, 52]), e))
    True
    >>> looks_total((t, b, np.array([5.0, 100, 40, 3, 60, 20]), e))
    False
    """
    _t, b, f, _e = lc
    bands, counts = np.unique(b, return_counts=True)
    lo, hi = np.percentile(f[b == bands[np.argmax(counts)]], [5, 95])
    return bool(lo > 0 and lo >= STEADY_FRACTION * hi)


def difference_flux(lc: LightCurve) -> LightCurve:
    """Subtract each band's median flux (the reference a difference-imaging template gives)."""
    t, b, f, e = lc
    out = f.copy()
    for band in np.unique(b):
        sel = b == band
        out[sel] -= np.median(f[sel])
    return t, b, out, e


def class_dirs(curves_dir: Path) -> Iterator[tuple[str, list[Path]]]:
    """(class, CSV files) of every class folder of ``curves_dir``, folders in name order."""
    if not curves_dir.is_dir():
        raise ConfigError(f"curves directory {curves_dir} does not exist")
    for folder in sorted(p for p in curves_dir.iterdir() if p.is_dir()):
        sub = folder / "light-curves"
        files = sorted((sub if sub.is_dir() else folder).glob("*.csv"))
        if files:
            yield class_of_dir(folder.name), files


def _read_class(
    cls: str, files: list[Path], total_flux: Collection[str], out: RealSet
) -> list[tuple[str, LightCurve]]:
    raw = []
    for file in files:
        try:
            raw.append((file.stem, read_curve(file)))
        except (ProcessError, ValueError, OSError) as exc:
            out.skipped.append({"curve": f"{cls}/{file.name}", "reason": str(exc)})
    if cls in TOTAL_FLUX_CLASSES or cls in total_flux:
        total, why = True, "known"
    elif cls in DIFFERENCE_CLASSES:
        total, why = False, "known"
    else:
        total = bool(raw) and bool(np.mean([looks_total(lc) for _n, lc in raw]) > 0.5)
        why = "guessed: most curves look steady" if total else "guessed: most curves do not"
    kind = "total, per-band median subtracted" if total else "difference"
    out.photometry[cls] = f"{kind} ({why})"
    return [(n, difference_flux(lc)) for n, lc in raw] if total else raw


def load_labelled(
    curves_dir: str | Path,
    part: str = "all",
    limit: int | None = None,
    total_flux: Collection[str] = (),
) -> RealSet:
    """Read every class folder of ``curves_dir``; unreadable files are skipped with a reason.

    Parameters
    ----------
    curves_dir
        Directory laid out like ``labeled-real``.
    part
        ``"all"``, ``"validation"`` or ``"train"`` (see :func:`is_validation`).
    limit
        At most this many curves per class (after the split), in file-name order.
    total_flux
        More classes (folder classes, e.g. ``Cepheid``) whose curves are total
        photometry; other unknown classes are guessed (:func:`looks_total`).
    """
    if part not in ("all", "validation", "train"):
        raise ConfigError(f"part must be all, validation or train, not {part!r}")
    out = RealSet()
    for cls, files in class_dirs(Path(curves_dir)):
        if part != "all":
            files = [f for f in files if is_validation(f.stem) == (part == "validation")]
        got = _read_class(cls, files[:limit], {class_of_dir(c) for c in total_flux}, out)
        out.curves.setdefault(cls, []).extend(got)
    if not out.curves:
        raise ConfigError(f"{curves_dir}: no class folder with CSV light curves")
    return out
