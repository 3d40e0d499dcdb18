"""Read SNANA ``.DAT`` light curves (SNPCC / DES simulations) for training.

A file holds a header of ``KEY: value`` lines and one ``OBS:`` line per
epoch, with the columns named by ``VARLIST``.  Fluxes are ``FLUXCAL`` with
zero point 27.5; they are converted to nJy (AB zero point 31.4)::

    nJy = FLUXCAL * 10**(-0.4 * (27.5 - 31.4)) = FLUXCAL * 36.31

The true type comes from ``SIM_COMMENT: SN Type = X , MODEL = ...`` (SNPCC),
else ``SIM_GENTYPE`` / ``SIM_TYPE_INDEX``, else ``SNTYPE`` when positive, and
is mapped to three classes (:data:`TYPE_MAP`):

* ``Ia``  <- Ia (SNANA tag 1)
* ``II``  <- II, IIP, IIn, IIL (tags 2, 21, 22, 23)
* ``Ibc`` <- Ib, Ic, Ibc, Ib/c (tags 3, 32, 33)

Examples
--------
>>> curves = load_snana("/work/shared/data/labeled-snpcc-train.tar.xz", limit=2)
>>> len(curves), curves[0].sn_class in CLASSES
(2, True)
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from broker.core.errors import ConfigError, ProcessError

FLUXCAL_TO_NJY = 10 ** (-0.4 * (27.5 - 31.4))
CLASSES = ("Ia", "II", "Ibc")
TYPE_MAP = {
    "Ia": "Ia",
    "II": "II",
    "IIP": "II",
    "IIn": "II",
    "IIL": "II",
    "Ib": "Ibc",
    "Ic": "Ibc",
    "Ibc": "Ibc",
    "Ib/c": "Ibc",
}
TAG_MAP = {1: "Ia", 2: "II", 21: "II", 22: "II", 23: "II", 3: "Ibc", 32: "Ibc", 33: "Ibc"}
_COMMENT_RE = re.compile(r"SN\s*Type\s*=\s*([A-Za-z/]+)")


@dataclass
class SnanaCurve:
    """One SNANA light curve, fluxes in nJy.

    Attributes
    ----------
    snid : str
        SNANA ``SNID``.
    sim_type : str
        Simulated sub-type as written in the file (``IIP``, ``Ic``...), or ``""``.
    sn_class : str or None
        One of :data:`CLASSES`, None when the type is unknown.
    redshift : float
        ``SIM_REDSHIFT`` (NaN when absent); never used as a feature.
    mjd, band, flux_njy, flux_err_njy : numpy.ndarray
        Photometry sorted by time; ``band`` holds one-letter strings.
    """

    snid: str
    sim_type: str
    sn_class: str | None
    redshift: float
    mjd: np.ndarray
    band: np.ndarray
    flux_njy: np.ndarray
    flux_err_njy: np.ndarray
    header: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def lightcurve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(mjd, band, flux_njy, flux_err_njy)`` as used by :mod:`classifiers.features`."""
        return self.mjd, self.band, self.flux_njy, self.flux_err_njy


def _class_of(header: dict[str, str]) -> tuple[str, str | None]:
    match = _COMMENT_RE.search(header.get("SIM_COMMENT", ""))
    if match:
        sim_type = match.group(1)
        return sim_type, TYPE_MAP.get(sim_type)
    for key in ("SIM_GENTYPE", "SIM_TYPE_INDEX", "SNTYPE"):
        try:
            tag = int(header.get(key, "-9").split()[0])
        except ValueError:
            continue
        if tag in TAG_MAP:
            return str(tag), TAG_MAP[tag]
    return "", None


def parse_dat(text: str, name: str = "<string>") -> SnanaCurve:
    """Parse the text of one SNANA ``.DAT`` file.

    Parameters
    ----------
    text
        File content.
    name
        File name, used in error messages.

    Returns
    -------
    SnanaCurve
        The light curve with fluxes converted to nJy, sorted by time.

    Raises
    ------
    ProcessError
        When ``VARLIST`` lacks MJD/FLT/FLUXCAL/FLUXCALERR or a line is malformed.

    Examples
    --------
    >>> txt = "SNID: 7\\nSIM_COMMENT: SN Type = IIP , MODEL = x\\n"
    >>> txt += "VARLIST: MJD FLT FIELD FLUXCAL FLUXCALERR\\nOBS: 1.0 g NULL 1.0 0.5\\n"
    >>> c = parse_dat(txt)
    >>> c.sn_class, round(float(c.flux_njy[0]), 2)
    ('II', 36.31)
    """
    header: dict[str, str] = {}
    columns: list[str] = []
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("OBS:"):
            rows.append(line.split()[1:])
            continue
        key, sep, value = line.partition(":")
        if not sep or " " in key.strip():
            continue
        key = key.strip()
        if key == "VARLIST":
            columns = value.split()
        elif key not in header:
            header[key] = value.strip()
    try:
        i_t, i_b = columns.index("MJD"), columns.index("FLT")
        i_f, i_e = columns.index("FLUXCAL"), columns.index("FLUXCALERR")
    except ValueError as exc:
        raise ProcessError(f"{name}: VARLIST {columns} lacks MJD/FLT/FLUXCAL/FLUXCALERR") from exc
    try:
        mjd = np.array([float(r[i_t]) for r in rows])
        band = np.array([r[i_b] for r in rows], dtype="<U8")
        flux = np.array([float(r[i_f]) for r in rows]) * FLUXCAL_TO_NJY
        err = np.array([float(r[i_e]) for r in rows]) * FLUXCAL_TO_NJY
    except (IndexError, ValueError) as exc:
        raise ProcessError(f"{name}: malformed OBS line ({exc})") from exc
    order = np.argsort(mjd, kind="stable")
    sim_type, sn_class = _class_of(header)
    try:
        redshift = float(header.get("SIM_REDSHIFT", "nan").split()[0])
    except ValueError:
        redshift = float("nan")
    return SnanaCurve(
        snid=header.get("SNID", Path(name).stem).split()[0],
        sim_type=sim_type,
        sn_class=sn_class,
        redshift=redshift,
        mjd=mjd[order],
        band=band[order],
        flux_njy=flux[order],
        flux_err_njy=err[order],
        header=header,
    )


def _iter_texts(path: Path) -> Iterator[tuple[str, str]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.DAT")):
            yield file.name, file.read_text(errors="replace")
        return
    if not path.is_file():
        raise ConfigError(f"SNANA data {path} does not exist (give a directory or a .tar.xz)")
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".DAT"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read().decode(errors="replace")
    except tarfile.TarError as exc:
        raise ConfigError(f"{path} is not a readable tar archive of SNANA .DAT files") from exc


def iter_snana(path: str | Path, limit: int | None = None) -> Iterator[SnanaCurve]:
    """Yield the light curves of a directory (name order) or a tar archive (archive order).

    Parameters
    ----------
    path
        Directory searched recursively for ``*.DAT``, or a ``.tar``/``.tar.gz``/``.tar.xz``.
    limit
        Stop after this many curves.

    Yields
    ------
    SnanaCurve
    """
    for count, (name, text) in enumerate(_iter_texts(Path(path))):
        if limit is not None and count >= limit:
            return
        yield parse_dat(text, name)


def load_snana(path: str | Path, limit: int | None = None) -> list[SnanaCurve]:
    """Read every curve of ``path`` (see :func:`iter_snana`); fail if none.

    Examples
    --------
    >>> c = load_snana("/work/shared/data/labeled-snpcc-train.tar.xz", limit=1)[0]
    >>> sorted(set(c.band.tolist()))
    ['g', 'i', 'r', 'z']
    """
    curves = list(iter_snana(path, limit))
    if not curves:
        raise ConfigError(f"no SNANA .DAT light curve found in {path}")
    return curves


def dataset_sha256(path: str | Path) -> str:
    """SHA-256 of a data file, or of a directory's sorted ``*.DAT`` names and contents."""
    digest = hashlib.sha256()
    p = Path(path)
    files = sorted(p.rglob("*.DAT")) if p.is_dir() else [p]
    for file in files:
        if p.is_dir():
            digest.update(str(file.relative_to(p)).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
